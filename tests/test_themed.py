"""LLM briefings per theme: calls that do not grow with the readers, citations in each
reader's own numbers (through the real openai client and the loopback endpoint)."""

from __future__ import annotations

import random
import re

import pytest
from test_themes import SENSES, day

from digest_mailer.briefing.llm import make_briefer
from digest_mailer.briefing.protocol import BudgetExhausted, RunBudget
from digest_mailer.briefing.themed import ThemedBriefer, renumber
from digest_mailer.briefing.themes import find_themes
from digest_mailer.domain.digest import CategoryGroup, Paper

THEMED = {0, 1, 2, 3}  # optical flow (0, 1) and rectified flow (2, 3)


def digest(order: list[int]) -> tuple[CategoryGroup, ...]:
    papers = [Paper(number=n, key=f"p{i}", title=SENSES[i][2], abstract=SENSES[i][3],
                    authors=(), link="", badge="", category=SENSES[i][1],
                    categories=(SENSES[i][1],)) for n, i in enumerate(order, start=1)]
    return tuple(CategoryGroup(c, c, tuple(p for p in papers if p.category == c))
                 for c in dict.fromkeys(p.category for p in papers))


def test_a_theme_is_written_once_for_every_reader_and_cited_in_their_numbers(llm_server) -> None:
    briefer = make_briefer(llm_configured=True, api_key="sk-test", base_url=llm_server.base_url,
                           model="m", retries=0, timeout=5, per="theme")
    assert isinstance(briefer, ThemedBriefer)
    themes = find_themes(day())
    rng = random.Random(7)
    readers = []
    for _ in range(12):  # personal selections: every reader's papers in another order
        order = rng.sample(range(len(SENSES)), 8)
        readers.append(order)
    met = set()
    for order in readers:
        groups = digest(order)
        briefing = briefer.brief(groups, "en", RunBudget(), themes)
        number = {p.key: p.number for g in groups for p in g.papers}
        carried = [t for t in themes if sum(k in number for k in t.keys) >= 2]
        met.update(t.keys for t in carried)
        if not carried:
            assert briefing.kind == "extractive"
            continue
        assert briefing.kind == "llm" and briefing.headline in {t.name for t in carried}
        cited = {int(n) for c in re.findall(r"\[([\d, ]+)\]", briefing.text)
                 for n in c.split(",")}
        # Only this reader's papers of the themes it carries, in this reader's numbers.
        allowed = {number[k] for t in carried for k in t.keys if k in number}
        assert cited and cited <= allowed, (briefing.text, allowed)
    assert len(met) == 2
    # One call per theme met, however many readers: 12 readers, 2 calls.
    assert len(llm_server.requests) == len(met)
    assert briefer.stats()["calls"] == 2 and briefer.stats()["cache_hits"] > 0
    # zh is another paragraph per theme, once.
    briefer.brief(digest([0, 1, 2, 3]), "zh", RunBudget(), themes)
    briefer.brief(digest([3, 2, 1, 0]), "zh", RunBudget(), themes)
    assert len(llm_server.requests) == len(met) + 2


def test_renumbering_drops_citations_and_sentences_the_reader_cannot_follow() -> None:
    keys = ["a", "b", "c"]
    paragraph = ("Both estimate optical flow from events [1, 2]. The third runs on a drone [3]. "
                 "Together they cut latency [2, 3].")
    assert renumber(paragraph, keys, {"a": 7, "b": 4}) == (
        "Both estimate optical flow from events [4, 7]. Together they cut latency [4].")
    assert renumber(paragraph, keys, {"c": 1}) == (
        "The third runs on a drone [1]. Together they cut latency [1].")
    assert renumber("Made up [9].", keys, {"a": 1}) == ""


def test_theme_paragraphs_are_asked_within_the_runs_budget(llm_server) -> None:
    briefer = make_briefer(llm_configured=True, api_key="sk-test", base_url=llm_server.base_url,
                           model="m", retries=0, timeout=5, per="theme")
    themes = find_themes(day())
    budget = RunBudget(max_calls=1)
    assert briefer.brief(digest([0, 1, 4]), "en", budget, themes).kind == "llm"  # optical flow
    with pytest.raises(BudgetExhausted):  # rectified flow would be a second call
        briefer.brief(digest([2, 3, 4]), "en", budget, themes)
    # A paragraph written already costs no call: another reader of optical flow gets it.
    assert briefer.brief(digest([1, 0]), "en", budget, themes).kind == "llm"
    assert len(llm_server.requests) == 1


def test_batches_of_one_day_share_its_themes_and_their_paragraphs(
        tmp_path, feed_server, smtp_server, llm_server) -> None:
    """Readers sent in separate batches (as the worker queues them) with different
    selections: each theme of the day is asked once, not once a batch."""
    from sqlmodel import Session
    from world import World

    from digest_mailer import db
    from digest_mailer.briefing.themes import ThemePaper
    from digest_mailer.services.briefs import theme_window

    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, smtp_url=smtp.url(), openai_api_key="sk-test",
                        openai_base_url=llm_server.base_url, llm_briefing="theme")
    world.add_demo_sources()
    readers = [world.subscribe(f"r{n}@example.org", cats) for n, cats in enumerate(
        (["cs.AI"], ["cs.AI", "cs.LG"], ["cs.LG", "cs.CL", "cs.AI"], ["cs.LG"]))]
    world.app.ingest.refresh()
    for reader in readers:
        assert world.app.send.send([reader.id]).counts["sent"] == 1
    with Session(world.app.engine) as session:
        day = db.entries.seen_between(session, theme_window(world.now), world.now)
        headlines = [d.notes.get("headline") for d in
                     (db.deliveries.of_day(session, r.id, world.now.date()) for r in readers)]
    themes = find_themes([ThemePaper(e.key, e.title, e.abstract) for e in day])
    assert len(themes) >= 2 and sum(h is not None for h in headlines) >= 3, headlines
    assert set(headlines) - {None} <= {t.name for t in themes}
    # At most one paragraph per theme of the day for the four batches together.
    assert 1 <= len(llm_server.requests) <= len(themes)
    assert len(llm_server.requests) < sum(h is not None for h in headlines)
