"""The reader model (domain/ranking.py) on a few real days of ../shared/relevance.

The text model is fitted on the last 20 training days; each curated reader's library is its
seeds (training-period papers); the first 8 test days are ranked, as the bench does.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import RELEVANCE, REPO, relevance_corpus

sys.path.insert(0, str(REPO / "bench"))

TRAIN_DAYS, TEST_DAYS = 20, 8


def text(paper) -> str:
    return f"{paper.title} {paper.abstract}"


@pytest.fixture(scope="module")
def world():
    corpus, train_days, test_days = relevance_corpus(TRAIN_DAYS, TEST_DAYS)
    from relevance_data import load_readers

    from digest_mailer.domain.ranking import TextModel

    train = [rows for _, rows in train_days]
    test = [rows for _, rows in test_days]
    window_papers = [corpus.papers[r] for rows in train for r in rows]
    text_model = TextModel.fit([text(p) for p in window_papers])
    window = text_model.vectors([text(p) for p in window_papers])
    days = [[corpus.papers[r] for r in rows] for rows in test]
    day_vectors = [text_model.vectors([text(p) for p in day]) for day in days]
    readers = load_readers(RELEVANCE, "curated")
    return corpus, text_model, window, days, day_vectors, readers


def library_of(corpus, reader) -> list[tuple[str, str]]:
    """The reader's seeds as (title, title+abstract), most recently listed first."""
    papers = [corpus.papers[corpus.row[s]] for s in reversed(reader.seeds)]
    return [(p.title, text(p)) for p in papers]


def model_of(world, reader, **given):
    from digest_mailer.domain.ranking import fit_reader, signals_from_texts

    corpus, text_model, window, *_ = world
    signals = signals_from_texts(text_model, seeds=given.pop("seeds", library_of(corpus, reader)),
                                 **given)
    return fit_reader(signals, window, seed=7)


def ranks(scores: np.ndarray) -> np.ndarray:
    """0 for the best-scored paper."""
    out = np.empty(len(scores), dtype=np.int64)
    out[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return out


def test_the_text_model_uses_arxiv_sanitys_settings_sized_to_the_window(world) -> None:
    from relevance_data import TFIDF_SETTINGS

    from digest_mailer.domain.ranking import TFIDF_SETTINGS as OURS
    from digest_mailer.domain.ranking import document_limits

    _, text_model, window, *_ = world
    # On the bench's 40,717-paper window the model is exactly the bench's vectoriser.
    assert {**OURS, "min_df": 5, "max_df": 0.1} == TFIDF_SETTINGS
    assert document_limits(40_717) == (5, 0.1)
    assert document_limits(len(window.indptr) - 1) == (2, 0.2)
    assert 5_000 < text_model.n_features <= 20_000
    assert window.dtype == np.float32
    assert np.allclose(np.asarray(window.multiply(window).sum(axis=1)).ravel(), 1.0, atol=1e-4)


def test_held_out_relevant_papers_rank_above_the_days_median(world) -> None:
    _corpus, _, _, days, day_vectors, readers = world
    above = total = 0
    readers_seen = set()
    for reader in readers:
        model = None
        for day, vectors in zip(days, day_vectors, strict=True):
            held = [i for i, p in enumerate(day) if p.key in reader.relevant]
            if not held:
                continue
            model = model or model_of(world, reader)
            place = ranks(model.score(vectors))
            above += sum(1 for i in held if place[i] < len(day) / 2)
            total += len(held)
            readers_seen.add(reader.name)
    assert len(readers_seen) >= 3 and total >= 10, "too few held-out papers in the slice"
    assert above / total >= 0.9, (above, total)


def test_a_more_vote_moves_similar_papers_up_and_a_less_vote_down(world) -> None:
    _corpus, _text_model, _, days, day_vectors, readers = world
    reader = next(r for r in readers if r.name == "VILA-Lab/Awesome-DLMs")
    before = model_of(world, reader)
    # Vote on a first-day paper the model ranks in the middle half, the one with the
    # closest twin among the next day's papers, and watch that twin.
    first = ranks(before.score(day_vectors[0]))
    middle = np.flatnonzero((first >= len(first) // 4) & (first < 3 * len(first) // 4))
    similar = (day_vectors[0][middle] @ day_vectors[1].T).toarray()
    pick, twin = np.unravel_index(similar.argmax(), similar.shape)
    assert similar[pick, twin] > 0.2, "the next day holds nothing like the voted paper"
    paper = days[0][int(middle[pick])]
    twin = int(twin)

    more = model_of(world, reader, more=[(paper.title, text(paper))])
    less = model_of(world, reader, less=[(paper.title, text(paper))])
    rank_before = ranks(before.score(day_vectors[1]))[twin]
    assert ranks(more.score(day_vectors[1]))[twin] < rank_before
    assert ranks(less.score(day_vectors[1]))[twin] > rank_before


def test_a_keyword_lifts_the_papers_that_carry_it(world) -> None:
    _corpus, _, _, days, day_vectors, readers = world
    reader = next(r for r in readers if r.name == "LMD0311/Awesome-World-Model")
    plain = model_of(world, reader)
    keyed = model_of(world, reader, keywords=["speculative decoding"])
    day = next(n for n, d in enumerate(days)
               if any("speculative decoding" in text(p).lower() for p in d))
    hits = [i for i, p in enumerate(days[day]) if "speculative decoding" in text(p).lower()]
    before, after = ranks(plain.score(day_vectors[day])), ranks(keyed.score(day_vectors[day]))
    assert all(after[i] < before[i] for i in hits)
    assert min(after[i] for i in hits) < 10


def test_one_product_scores_a_batch_as_each_reader_alone(world) -> None:
    from digest_mailer.domain.ranking import score_batch

    _, _, _, _, day_vectors, readers = world
    models = [model_of(world, r) for r in readers[:6]]
    batch = score_batch(models, day_vectors[0])
    assert batch.shape == (6, day_vectors[0].shape[0])
    for row, model in zip(batch, models, strict=True):
        assert np.allclose(row, model.score(day_vectors[0]), atol=1e-4)
    assert not np.allclose(batch[0], batch[1])  # the readers really differ
    # Centroid models of a few words each are mostly zeros: the sparse product, same scores.
    sparse = [model_of(world, r, seeds=[], keywords=[w]) for r, w in
              zip(readers[:4], ["language model", "diffusion", "graph", "robot"], strict=True)]
    assert sum(np.count_nonzero(m.weights) for m in sparse) < 0.05 * sparse[0].weights.size * 4
    for row, model in zip(score_batch(sparse, day_vectors[0]), sparse, strict=True):
        assert np.allclose(row, model.score(day_vectors[0]), atol=1e-4)


def test_reasons_name_the_keyword_the_seed_or_the_vote(world) -> None:
    from digest_mailer.domain.ranking import Reason, reasons

    corpus, text_model, _, days, _, readers = world
    reader = next(r for r in readers if r.name == "hemingkx/SpeculativeDecodingPapers")
    library = library_of(corpus, reader)
    voted = days[0][3]
    model = model_of(world, reader, keywords=["speculative decoding"],
                     more=[(voted.title, text(voted))])
    seed_title, seed_text = next((t, x) for t, x in library
                                 if "speculative decoding" not in x.lower())
    keyword_paper = "Faster LLM inference by speculative decoding with a tiny drafter."
    found = reasons(model, text_model.vectors([keyword_paper, seed_text, text(voted)]),
                    [keyword_paper, seed_text, text(voted)])
    assert found == [Reason("keyword", "speculative decoding"), Reason("library", seed_title),
                     Reason("more", voted.title)]
    # A paper sharing no term with any seed has no reason to be shown.
    assert reasons(model, text_model.vectors(["zzz qqq"]), ["zzz qqq"]) == [None]


def test_uncertain_picks_the_papers_nearest_the_boundary(world) -> None:
    from digest_mailer.domain.ranking import uncertain

    _, _, _, _, day_vectors, readers = world
    model = model_of(world, readers[2])
    scores = model.score(day_vectors[0])
    assert scores.max() > 0 > scores.min()  # 0 is inside the day: a real boundary
    picked = uncertain(scores, k=2)
    nearest = sorted(range(len(scores)), key=lambda i: abs(scores[i]))
    assert picked == nearest[:2]
    assert uncertain(scores, k=2, exclude=picked) == nearest[2:4]
    assert uncertain(np.array([0.5, -3.0]), k=5) == [0, 1]


def test_a_stored_model_scores_the_same_and_loading_it_runs_no_code(world) -> None:
    from digest_mailer.domain.ranking import reasons
    from digest_mailer.domain.ranking_codec import (
        reader_model_bytes,
        reader_model_from,
        text_model_bytes,
        text_model_from,
    )

    _, text_model, _, days, day_vectors, readers = world
    model = model_of(world, readers[0], keywords=["language model"])
    text_bytes, model_bytes = text_model_bytes(text_model), reader_model_bytes(model)
    assert len(model_bytes) < 200_000 and len(text_bytes) < 2_000_000
    text_again, model_again = text_model_from(text_bytes), reader_model_from(model_bytes)
    again = text_again.vectors([text(p) for p in days[0]])
    assert (abs(again - day_vectors[0]) > 1e-6).nnz == 0
    assert np.allclose(model_again.score(again), model.score(day_vectors[0]), atol=1e-5)
    texts = [text(p) for p in days[0]]
    assert reasons(model_again, again, texts) == reasons(model, day_vectors[0], texts)
    assert (model_again.keywords, model_again.uses_svm, model_again.positives) == (
        model.keywords, model.uses_svm, model.positives)
    from dataclasses import replace

    with_prior = replace(model, categories=(("cs.CL", 0.5), ("cs.LG", 0.25)))
    assert reader_model_from(reader_model_bytes(with_prior)).categories == with_prior.categories
    # A tampered row holds data or is refused: no object (pickle) array, no size mismatch.
    for tampered in (b"\x80\x04pickle", forged("object", [1], b"x"),
                     forged("float32", [4], b"\0" * 8)):
        with pytest.raises(ValueError):
            reader_model_from(tampered)


def forged(dtype: str, shape: list[int], body: bytes) -> bytes:
    import json
    import zlib

    from digest_mailer.domain.ranking_codec import MAGIC

    head = json.dumps({"meta": {}, "arrays": [["weights", dtype, shape]]}).encode()
    return MAGIC + len(head).to_bytes(4, "big") + head + zlib.compress(body)


def test_a_reader_with_no_signals_keeps_listing_order(world) -> None:
    from digest_mailer.domain.ranking import Evidence, Signals, fit_reader

    _, text_model, window, _, day_vectors, _ = world
    nothing = Evidence.none(text_model.n_features)
    model = fit_reader(Signals(nothing, nothing, nothing), window)
    assert not model.score(day_vectors[0]).any()
    assert model.anchors is None and not model.uses_svm


def test_the_category_prior_adds_the_seeds_category_shares(world) -> None:
    from digest_mailer.domain.ranking import category_weights, score_batch

    corpus, _, _, days, day_vectors, readers = world
    assert category_weights([("cs.CV", "cs.AI"), ("cs.CV",), ("cs.CL",), ("cs.CV",)], 2.0) == (
        ("cs.CV", 1.5), ("cs.AI", 0.5), ("cs.CL", 0.5))
    assert category_weights([("cs.CV",)], 0.0) == ()
    reader = next(r for r in readers if r.name == "LMD0311/Awesome-World-Model")
    seed_categories = [corpus.papers[corpus.row[s]].categories for s in reversed(reader.seeds)]
    plain = model_of(world, reader)
    assert plain.categories == ()  # no seed categories given: no prior
    from digest_mailer.domain.ranking import fit_reader, signals_from_texts

    _, text_model, window, *_ = world
    signals = signals_from_texts(text_model, seeds=library_of(corpus, reader),
                                 seed_categories=seed_categories)
    boosted = fit_reader(signals, window, seed=7, category_prior=1.0)
    assert np.allclose(boosted.weights, plain.weights, atol=1e-3)  # the same fit (liblinear)
    top = dict(boosted.categories)
    day = [p.categories for p in days[0]]
    text_only = boosted.score(day_vectors[0])
    assert np.allclose(text_only, np.asarray(day_vectors[0] @ boosted.weights).ravel()
                       + boosted.bias, atol=1e-5)  # without the day's categories: no prior
    expected = text_only + np.array(
        [sum(top.get(c, 0.0) for c in set(cats)) for cats in day], dtype=np.float32)
    assert np.allclose(boosted.score(day_vectors[0], day), expected, atol=1e-5)
    assert not np.allclose(boosted.score(day_vectors[0], day), text_only)
    batch = score_batch([plain, boosted], day_vectors[0], day)
    assert np.allclose(batch[0], plain.score(day_vectors[0]), atol=1e-5)
    assert np.allclose(batch[1], expected, atol=1e-5)
