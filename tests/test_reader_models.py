"""Reader models in the send path: stored, refitted only when signals change, deciding the
cut with keyword hits first and exclusions winning, with reasons, exploration and counts.

Real parts: the demo's arXiv feeds served on loopback, ingested, the send path writing its
Delivery rows to SQLite; the library goes in through LibraryService as the CLI's does.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session
from world import World

from digest_mailer import db

LLM_LIBRARY = b"""
@article{lora,
  title = {LoRA: Low-Rank Adaptation of Large Language Models},
  abstract = {We freeze the pretrained model weights and inject trainable rank decomposition
    matrices into each layer of the Transformer, greatly reducing the number of trainable
    parameters for fine-tuning large language models on downstream tasks.},
}
@article{specdec,
  title = {Fast Inference from Transformers via Speculative Decoding},
  abstract = {Speculative decoding drafts several tokens with a small language model and
    verifies them with the large model in parallel, so large language model inference
    runs faster without changing its outputs.},
}
"""
DAY = date(2026, 11, 1)


@pytest.fixture()
def lg(tmp_path, feed_server) -> World:
    """The demo's feeds ingested; digests cut at 5 papers, two of them exploring."""
    world = World.build(tmp_path, feed_server, max_papers=5, explore_slots=2)
    world.add_demo_sources()
    world.app.ingest.refresh()
    return world


def delivery_of(world: World, subscriber_id: int, day: date = DAY):
    with Session(world.app.engine) as session:
        return db.deliveries.of_day(session, subscriber_id, day)


def titles(world: World, keys: list[str]) -> list[str]:
    with Session(world.app.engine) as session:
        return [e.title for e in db.entries.by_keys(session, keys)]


def model_row(world: World, subscriber_id: int):
    with Session(world.app.engine) as session:
        return db.rankings.reader_models(session, [subscriber_id]).get(subscriber_id)


def test_a_library_decides_the_cut_and_each_paper_says_why(lg):
    reader = lg.subscribe("llm@example.org", ["cs.LG"])
    twin = lg.subscribe("twin@example.org", ["cs.LG"])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    report = lg.app.send.send()
    assert report.counts["sent"] == 2

    mine, theirs = delivery_of(lg, reader.id), delivery_of(lg, twin.id)
    shown = titles(lg, mine.entry_keys)
    # The library's topic first: the language-model papers lead the reader's digest ...
    assert {"HeteroLoRA: Federated Fine-Tuning of Language Models with Heterogeneous Adapter Ranks",
            "Draft Trees with Adaptive Depth for Faster Speculative Decoding"} <= set(shown[:3])

    papers = mine.notes["papers"]
    assert list(papers) == mine.entry_keys
    top = papers[mine.entry_keys[0]]
    assert top["why"][0] == "library" and top["why"][1] in {
        "LoRA: Low-Rank Adaptation of Large Language Models",
        "Fast Inference from Transformers via Speculative Decoding"}
    # Two exploration slots, marked, and what the cut left out is counted, not hidden.
    explored = [k for k, p in papers.items() if p["why"] == ["explore", ""]]
    assert len(explored) == 2 and set(explored) <= set(mine.entry_keys[3:])
    with Session(lg.app.engine) as session:
        day = db.entries.seen_between(session, lg.now - timedelta(days=30), lg.now)
    in_lg = [e for e in day if "cs.LG" in e.categories and not e.is_update]
    # The twin without a library keeps the feed's order (new papers before cross-lists).
    feed_order = sorted(in_lg, key=lambda e: e.announce_type != "new")
    assert theirs.entry_keys == [e.key for e in feed_order[:5]] != mine.entry_keys
    assert mine.notes["more"] == [["cs.LG", len(in_lg) - 5]]
    assert theirs.notes["more"] == [["cs.LG", len(in_lg) - 5]]
    assert all(p["score"] is None for p in theirs.notes["papers"].values())
    ranked = [papers[k]["score"] for k in mine.entry_keys[:3]]
    assert ranked == sorted(ranked, reverse=True)


def test_the_model_is_stored_and_fitted_again_only_when_the_signals_change(lg):
    reader = lg.subscribe("llm@example.org", ["cs.LG"])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    lg.app.send.send()
    first = model_row(lg, reader.id)
    assert first is not None

    models = lg.app.composer.models
    assert models is not None

    def fitted() -> object:
        with Session(lg.app.engine, expire_on_commit=False) as session:
            _, found = models.for_readers(session, [reader])
        assert set(found) == {reader.id}
        return model_row(lg, reader.id)

    lg.now += timedelta(days=1)  # the next morning: same signals, the stored model serves
    again = fitted()
    assert (again.signature, again.fitted_at) == (first.signature, first.fitted_at)

    # A vote is a new signal: the model is fitted again, once.
    with Session(lg.app.engine) as session:
        db.votes.record(session, reader.id, delivery_of(lg, reader.id).entry_keys[-1], "more")
        session.commit()
    lg.now += timedelta(days=1)
    voted = fitted()
    assert voted.signature != first.signature and voted.fitted_at == lg.now
    lg.now += timedelta(hours=1)
    assert fitted().fitted_at == voted.fitted_at


def test_keyword_hits_come_first_and_exclusions_win_over_the_model(lg):
    reader = lg.subscribe("llm@example.org", ["cs.LG"], keywords=["conformal prediction"],
                          excluded_keywords=["speculative"])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    lg.app.send.send()
    delivery = delivery_of(lg, reader.id)
    shown = titles(lg, delivery.entry_keys)
    assert shown[0] == "Conformal Prediction under Label Shift with Unlabeled Target Data"
    assert delivery.notes["papers"][delivery.entry_keys[0]]["why"] == [
        "keyword", "conformal prediction"]
    assert not any("Speculative" in t for t in shown)  # the library's own topic, excluded
    assert "HeteroLoRA: Federated Fine-Tuning of Language Models with Heterogeneous Adapter Ranks" \
        in shown[:3]


def test_a_reader_who_said_nothing_has_no_model_and_keeps_the_feed_order(lg):
    reader = lg.subscribe("quiet@example.org", ["cs.LG"])
    lg.app.send.send()
    assert model_row(lg, reader.id) is None
    delivery = delivery_of(lg, reader.id)
    assert all(p == {"score": None, "why": None} for p in delivery.notes["papers"].values())


def test_a_batch_reads_its_papers_rows_from_the_window_as_it_would_vectorise_them(lg):
    reader = lg.subscribe("llm@example.org", ["cs.LG"])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    models = lg.app.composer.models
    with Session(lg.app.engine, expire_on_commit=False) as session:
        (text_id, text_model), _ = models.for_readers(session, [reader])
        window = models.window(session, text_id, text_model)
        entries = db.entries.seen_between(session, lg.now - timedelta(days=30), lg.now)
    papers = [(e.key, f"{e.title}\n{e.abstract}") for e in entries]
    papers.insert(3, ("not-stored", "A paper no window holds, about speculative decoding"))
    rows = models.rows(text_id, text_model, papers)
    alone = text_model.vectors([t for _, t in papers])
    assert window.shape[0] == len(entries) and rows.shape == alone.shape
    assert abs(rows - alone).max() < 1e-6
