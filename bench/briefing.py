"""Benchmark the briefing on real arXiv days: `python bench/briefing.py [--days 6 --readers 200]`.

Reads ../shared/relevance in place (its README: real listing days of 200–700 papers). For
each sampled test day it finds the day's themes once, as a send batch does, then builds a
personal digest for each synthetic reader (a random paper of the day as its interest: the
15 papers closest to it and 5 at random, capped at 20, grouped by primary category) and
briefs it extractively. It prints, next to their baselines in the same run:

- within-theme similarity: mean pairwise TF-IDF cosine of a theme's papers vs random pairs
  of the same day (target ≥ 2×);
- single-word theme names: share (target 0) — the old word-based themes as the baseline;
- themes a digest carries, and the share of digests with at least one;
- time per distinct briefing (the day's theme finding amortised over its readers, printed too);
- LLM calls and input tokens a day at 1,000 / 10,000 / 100,000 readers for today's LLM path
  (one call per distinct digest; the prompt's size / 4 as tokens), against the issue's target
  papers / 20 + themes, counted from the distinct digests; then the theme path run for real
  through a loopback OpenAI-compatible endpoint and the openai client at 1,000 / 10,000 /
  100,000 personal readers of the last sampled day (``--loopback``), calls counted there;
  with ``--week``, the same for weekly readers: the sampled days pooled as one week, its
  themes found once, digests of 60 papers (the weekly caps, 3x), briefed as weekly digests.
The quote's contribution share is printed by bench/sentence_roles.py (labelled data).
It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from relevance_data import DEFAULT_ROOT, load_corpus

from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.prompt import build_messages
from digest_mailer.briefing.themed import theme_messages
from digest_mailer.briefing.themes import (
    ThemePaper,
    find_themes,
    in_digest,
    vectors_of,
)
from digest_mailer.briefing.tldr import TLDR_BATCH
from digest_mailer.domain.digest import CategoryGroup, Paper

DIGEST = 20
CLOSE = 15
WEEKLY_SCALE = 3  # DIGEST_WEEKLY_CAP_SCALE's default: a weekly digest holds 3x the papers
OLD_COMMIT = "5bcab71"  # the last commit with the word-based themes


def digest_for(rng: random.Random, papers: list, similarity: np.ndarray,
               scale: int = 1) -> list[int]:
    """A personal selection: the papers closest to one interest, and a few others
    (``scale`` times as many for a weekly digest)."""
    focus = rng.randrange(len(papers))
    close = [int(i) for i in np.argsort(-similarity[focus])[:CLOSE * scale]]
    others = [i for i in rng.sample(range(len(papers)), min(len(papers), 40 * scale))
              if i not in close]
    return (close + others)[:DIGEST * scale]


def groups_of(rows: list[int], papers: list) -> tuple[CategoryGroup, ...]:
    by_category: dict[str, list[int]] = {}
    for i in rows:
        by_category.setdefault(papers[i].categories[0], []).append(i)
    groups, number = [], 0
    for category, members in by_category.items():
        shown = []
        for i in members:
            number += 1
            p = papers[i]
            shown.append(Paper(number=number, key=p.key, title=p.title, abstract=p.abstract,
                               authors=(), link="", badge="", category=category,
                               categories=tuple(p.categories)))
        groups.append(CategoryGroup(category, category, tuple(shown)))
    return tuple(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--loopback", default="1000,10000,100000", metavar="N,N,…",
                        help="reader counts for the run through a loopback LLM endpoint "
                             "('' to skip)")
    parser.add_argument("--week", action="store_true",
                        help="also run the loopback for weekly readers of the days pooled")
    args = parser.parse_args()
    corpus = load_corpus(args.root)
    rng = random.Random(args.seed)
    days = [(d, rows) for d, rows in corpus.test_days if 200 <= len(rows) <= 700]
    days = sorted(rng.sample(days, min(args.days, len(days))))
    briefer = ExtractiveBriefer()
    within, random_pairs, single, names = [], [], 0, 0
    old = old_themes()
    old_within, old_single, old_names = [], 0, 0
    carried, with_theme, brief_seconds, theme_seconds = [], 0, [], []
    per_day = []
    themed_day: list[tuple[int, float, int, int]] = []
    for day, rows in days:
        papers = [corpus.papers[i] for i in rows]
        items = [ThemePaper(p.key, p.title, p.abstract) for p in papers]
        start = time.perf_counter()
        vectors = vectors_of(items)
        themes = find_themes(items, vectors)
        theme_seconds.append(time.perf_counter() - start)
        similarity = (vectors @ vectors.T).toarray()
        index = {p.key: i for i, p in enumerate(papers)}
        pairs = rng.sample([(i, j) for i in range(len(papers)) for j in range(i + 1, len(papers))],
                           2000)
        random_pairs.append(float(np.mean([similarity[i, j] for i, j in pairs])))
        for theme in themes:
            members = [index[k] for k in theme.keys]
            sub = similarity[np.ix_(members, members)]
            within.append(float((sub.sum() - len(members)) / (len(members) * (len(members) - 1))))
            names += 1
            single += len(theme.name.split()) < 2
        digests = set()
        tokens_per_digest = []
        met: dict[tuple[str, ...], float] = {}  # theme → its paragraph's prompt tokens
        shown: set[str] = set()
        for _ in range(args.readers):
            chosen = digest_for(rng, papers, similarity)
            groups = groups_of(chosen, papers)
            digest_papers = [p for g in groups for p in g.papers]
            found = in_digest(themes, digest_papers)
            for theme in old(groups) if old is not None else ():
                members = [index[digest_papers[n - 1].key] for n in theme.numbers]
                sub = similarity[np.ix_(members, members)]
                old_within.append(float((sub.sum() - len(members))
                                        / (len(members) * (len(members) - 1))))
                old_names += 1
                old_single += len(theme.term) == 1
            carried.append(len(found))
            with_theme += bool(found)
            start = time.perf_counter()
            briefer.brief(groups, "en", themes=themes)
            brief_seconds.append(time.perf_counter() - start)
            digests.add(tuple(p.key for p in digest_papers))
            shown.update(p.key for p in digest_papers)
            for item in found[:3]:
                texts = {k: items[index[k]] for k in item.theme.keys}
                met[item.theme.keys] = sum(len(m["content"]) for m in theme_messages(
                    item.theme, texts, "en")) / 4
            messages = build_messages(groups, "en", 1200, themes)
            tokens_per_digest.append(sum(len(m["content"]) for m in messages) / 4)
        per_day.append((day, len(papers), len(themes), len(digests), args.readers,
                        statistics.mean(tokens_per_digest)))
        themed_day.append((len(met), sum(met.values()), math.ceil(len(shown) / TLDR_BATCH),
                           len(shown)))
        last = (papers, similarity, themes)
        print(f"{day}: {len(papers)} papers, {len(themes)} themes covering "
              f"{sum(len(t.keys) for t in themes)} papers, found in {theme_seconds[-1]:.2f} s; "
              f"e.g. {', '.join(t.name for t in themes[:6])}", flush=True)
    ratio = statistics.mean(within) / statistics.mean(random_pairs)
    print()
    print(f"days {len(days)}, readers {args.readers} a day, digests of {DIGEST} papers")
    print(f"within-theme similarity  {statistics.mean(within):.3f}   random pairs "
          f"{statistics.mean(random_pairs):.3f}   ratio {ratio:.1f}x   (target >= 2x)")
    print(f"single-word theme names  {single}/{names} = {single / max(names, 1):.1%}   "
          "(target 0)")
    if old_names:
        print(f"  baseline, the word-based themes ({OLD_COMMIT}) on the same digests: within "
              f"{statistics.mean(old_within):.3f} = "
              f"{statistics.mean(old_within) / statistics.mean(random_pairs):.1f}x random, "
              f"single-word names {old_single}/{old_names} = {old_single / old_names:.0%}")
    print(f"themes a digest carries  mean {statistics.mean(carried):.2f}; digests with one "
          f"{with_theme / len(carried):.0%}")
    amortised = sum(theme_seconds) / (len(days) * args.readers)
    print(f"time per distinct briefing  {1000 * statistics.mean(brief_seconds):.1f} ms "
          f"(median {1000 * statistics.median(brief_seconds):.1f} ms) + the day's themes "
          f"{statistics.mean(theme_seconds):.2f} s once, {1000 * amortised:.1f} ms a reader")
    print()
    print("LLM calls a day, today's path (one call per distinct digest) vs the target "
          "papers/20 + themes:")
    papers_a_day = statistics.mean(n for _, n, *_ in per_day)
    themes_a_day = statistics.mean(t for _, _, t, *_ in per_day)
    distinct_share = statistics.mean(d / r for *_, d, r, _ in per_day)
    tokens = statistics.mean(t for *_, t in per_day)
    target = papers_a_day / 20 + themes_a_day
    for readers in (1_000, 10_000, 100_000):
        calls = readers * distinct_share
        print(f"  {readers:>7,} readers: {calls:>9,.0f} calls, {calls * tokens / 1e6:>7.2f} M "
              f"input tokens   target <= {target:.0f} calls   "
              f"{'met' if calls <= target else 'NOT met'}")
    theme_calls = statistics.mean(m for m, *_ in themed_day)
    theme_tokens = statistics.mean(t for _, t, *_ in themed_day)
    tldr_calls = statistics.mean(c for *_, c, _ in themed_day)
    tldr_tokens = statistics.mean(n for *_, n in themed_day) * 45  # title + summary a paper
    print(f"DIGEST_LLM_BRIEFING=theme (one paragraph per theme met, TL;DRs {TLDR_BATCH} papers "
          f"a call), {args.readers} readers a day: {theme_calls:.0f} theme calls + "
          f"{tldr_calls:.0f} TL;DR calls, {(theme_tokens + tldr_tokens) / 1e3:.0f} k input "
          "tokens a day.")
    print("  More readers meet no more themes than the day has and no more papers than it "
          f"lists: at most {themes_a_day:.0f} theme calls + {papers_a_day / TLDR_BATCH:.0f} "
          f"TL;DR calls = {themes_a_day + papers_a_day / TLDR_BATCH:.0f} at 1,000, 10,000 or "
          f"100,000 readers (target <= {target:.0f}); measured below.")
    if args.loopback:
        counts = [int(n) for n in args.loopback.split(",")]
        loopback(*last, counts, args.seed)
        if args.week:
            week = list({p.key: p for _, rows in days for p in
                         (corpus.papers[i] for i in rows)}.values())
            items = [ThemePaper(p.key, p.title, p.abstract) for p in week]
            start = time.perf_counter()
            vectors = vectors_of(items)
            themes = find_themes(items, vectors)
            print(f"\nThe {len(days)} days pooled as one week: {len(week)} papers, "
                  f"{len(themes)} themes found in {time.perf_counter() - start:.1f} s once")
            loopback(week, (vectors @ vectors.T).toarray(), themes, counts, args.seed,
                     cadence="weekly")


def loopback(papers: list, similarity: np.ndarray, themes: list, counts: list[int],
             seed: int, batch: int = 500, cadence: str = "daily") -> None:
    """The real LLM path (DIGEST_LLM_BRIEFING=theme) through a loopback endpoint and the
    openai client, for each reader count: readers in send batches of ``batch``, each batch
    asking its TL;DRs and then every reader's briefing, as services/briefs.py does
    (``cadence`` "weekly": the week's papers and themes, weekly-sized digests)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from llm_server import LLMServer

    from digest_mailer.briefing.llm import make_briefer
    from digest_mailer.briefing.protocol import MemoryBriefingCache, RunBudget

    scale = WEEKLY_SCALE if cadence == "weekly" else 1
    span = "one week" if cadence == "weekly" else "one real day"
    print(f"\nLoopback run, {span} of {len(papers)} papers and {len(themes)} themes, "
          f"{cadence} digests of {DIGEST * scale}, send batches of {batch} readers, "
          "DIGEST_LLM_BRIEFING=theme:")
    target = math.ceil(len(papers) / TLDR_BATCH) + len(themes)
    for readers in counts:
        server = LLMServer().start()
        briefer = make_briefer(llm_configured=True, api_key="sk-bench", base_url=server.base_url,
                               model="bench", retries=0, timeout=10, per="theme",
                               cache=MemoryBriefingCache())
        rng = random.Random(seed)
        kinds: dict[str, int] = {}
        distinct: set[tuple[str, ...]] = set()
        start = time.perf_counter()
        for first in range(0, readers, batch):
            digests = [groups_of(digest_for(rng, papers, similarity, scale), papers)
                       for _ in range(min(batch, readers - first))]
            budget = RunBudget()
            shown = list({p.key: p for g in digests for grp in g for p in grp.papers}.values())
            briefer.tldrs(shown, budget)
            for groups in digests:
                distinct.add(tuple(p.key for g in groups for p in g.papers))
                kind = briefer.brief(groups, "en", budget, themes, cadence=cadence).kind
                kinds[kind] = kinds.get(kind, 0) + 1
        seconds = time.perf_counter() - start
        stats = briefer.stats()
        calls = len(server.requests) + len(server.tldr_requests)
        briefer.close()
        server.stop()
        print(f"  {readers:>7,} readers ({len(distinct):,} distinct digests): "
              f"{len(server.requests)} theme calls + {len(server.tldr_requests)} TL;DR calls "
              f"= {calls}, {stats['prompt_tokens'] / 1e3:.0f} k input tokens; llm "
              f"{kinds.get('llm', 0):,} / extractive {kinds.get('extractive', 0):,}; "
              f"{seconds:.0f} s   target <= {target:.0f} calls  "
              f"{'met' if calls <= target else 'NOT met'}", flush=True)


def old_themes() -> object | None:
    """The word-based themes this replaced (5bcab71's extractive.py), as a baseline."""
    import subprocess
    import types

    try:
        source = subprocess.run(
            ["git", "show", f"{OLD_COMMIT}:digest_mailer/briefing/extractive.py"],
            capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("old_extractive")
    sys.modules["old_extractive"] = module  # dataclasses look their module up
    exec(compile(source, "old_extractive.py", "exec"), module.__dict__)
    return module.find_themes


if __name__ == "__main__":
    main()
