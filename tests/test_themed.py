"""LLM briefings per theme: calls that do not grow with the readers, citations in each
reader's own numbers (through the real openai client and the loopback endpoint)."""

from __future__ import annotations

import random
import re

from test_themes import SENSES, day

from digest_mailer.briefing.llm import make_briefer
from digest_mailer.briefing.protocol import RunBudget
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
