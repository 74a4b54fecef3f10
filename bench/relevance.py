"""Relevance bench: how well each ranker puts a reader's papers at the top of a day.

Usage: `python bench/relevance.py [--readers curated|authors|all] [--authors-sample N]
[--seed S] [--batch N]`.

Follows ../shared/relevance/README.md's protocol: for every reader and every test day
(on or after 2026-01-01) holding one of the reader's relevant papers, rank the whole day
from the reader's seeds and training-period statistics only, score nDCG@10 (gain 2^g − 1),
recall@20 and MRR, average over the reader's days and then over readers. In one run it
recomputes the README's baselines (random, listing, tfidf-mean, svm), measures
digest-mailer's ranking today (categories and keywords, ``domain/select.py``) and its
reader model from seeds alone (``domain/ranking.py``, content only) with its fit and
scoring times, prints the README's published figures beside them and checks issue 10's
targets. Data is read in
place; TF-IDF matrices are cached under $TMPDIR. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from relevance_data import (
    CONDITIONS,
    DEFAULT_ROOT,
    Corpus,
    Reader,
    features,
    load_corpus,
    load_readers,
)
from relevance_metrics import day_scores, macro
from relevance_model import ModelRanker, scoring_ms_per_digest
from relevance_rankers import Ranker, baselines
from relevance_today import TodayRanker, profile_of

Scores = tuple[float, ...]
# Issue 10: author readers, content only, >= 1.15 x the best baseline's nDCG@10 from seeds;
# curated readers no worse than the best baseline.
AUTHOR_TARGET, CURATED_TARGET = 1.15, 1.0


class Days:
    """Where each test paper sits: its test-day number and its position in that day."""

    def __init__(self, corpus: Corpus) -> None:
        self.test_days = corpus.test_days
        self.day_of = np.full(len(corpus.papers), -1, dtype=np.int64)
        self.position = np.zeros(len(corpus.papers), dtype=np.int64)
        for n, (_, rows) in enumerate(self.test_days):
            self.day_of[rows] = n
            self.position[rows] = np.arange(len(rows))
        self.row = corpus.row

    def relevant_by_day(self, reader: Reader) -> dict[int, list[tuple[int, int]]]:
        """Test-day number -> (position, grade) of the reader's relevant papers that day."""
        found: dict[int, list[tuple[int, int]]] = {}
        for key, grade in reader.relevant.items():
            row = self.row.get(key)
            if row is None or self.day_of[row] < 0:
                continue
            found.setdefault(int(self.day_of[row]), []).append((int(self.position[row]), grade))
        return found


def evaluate(ranker: Ranker, readers: Sequence[Reader], days: Days) -> tuple[Scores, float]:
    """Macro (nDCG@10, recall@20, MRR) and the wall time to rank and score every reader."""
    started = time.perf_counter()
    per_reader = []
    for reader in readers:
        order = ranker.for_reader(reader)
        scores = []
        for day, relevant in sorted(days.relevant_by_day(reader).items()):
            rows = days.test_days[day][1]
            grades = np.zeros(len(rows), dtype=np.int64)
            for position, grade in relevant:
                grades[position] = grade
            scores.append(day_scores(grades[order(day, rows)].tolist()))
        per_reader.append(scores)
    return macro(per_reader), time.perf_counter() - started


def published_figures(root: Path) -> dict[tuple[str, str, str], tuple[str, ...]]:
    """The README's baseline table: (reader set, method, text) -> (nDCG, recall, MRR, time)."""
    table: dict[tuple[str, str, str], tuple[str, ...]] = {}
    text = (root / "README.md").read_text()
    section = text.split("## Baselines", 1)[-1].split("\n## ", 1)[0]
    current = ""
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 7:
            continue
        if cells[0]:
            current = cells[0].split()[0]
        try:
            [float(c) for c in cells[3:6]]
        except ValueError:
            continue  # the header and the rule under it
        table[(current, cells[1], cells[2])] = tuple(cells[3:7])
    return table


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def print_table(title: str, rows: list[tuple[Ranker, Scores, float]],
                published: dict[tuple[str, str, str], tuple[str, ...]], set_name: str) -> None:
    print(f"\n{title}")
    head = f"{'method':<20} {'text':<8} {'nDCG@10':>7} {'rec@20':>7} {'MRR':>6} {'time':>7}"
    print(f"{head}  | published: {'nDCG@10':>7} {'rec@20':>7} {'MRR':>6} {'time':>6}")
    print("-" * (len(head) + 43))
    for ranker, (ndcg, recall, mrr), took in rows:
        line = (f"{ranker.name:<20} {ranker.text:<8} {ndcg:>7.3f} {recall:>7.3f} {mrr:>6.3f} "
                f"{seconds(took):>7}")
        known = published.get((set_name, ranker.name, ranker.text))
        tail = " ".join(f"{v:>{w}}" for v, w in zip(known, (7, 7, 6, 6), strict=True)) \
            if known else f"{'–':>7}"
        print(f"{line}  |            {tail}")


def print_targets(set_name: str, rows: list[tuple[Ranker, Scores, float]]) -> None:
    """Issue 10's target for this reader set, against the best content baseline of this run."""
    ours = (TodayRanker, ModelRanker)
    content = [(r, s) for r, s, _ in rows
               if not isinstance(r, ours) and r.text in ("–", "content")]
    best, best_scores = max(content, key=lambda item: item[1][0])
    factor = AUTHOR_TARGET if set_name == "authors" else CURATED_TARGET
    wanted = factor * best_scores[0]
    what = ("content only, >= 1.15 x the best baseline" if set_name == "authors"
            else "no worse than the best baseline")
    print(f"target ({what}): nDCG@10 >= {wanted:.3f} ({factor:g} x {best.name} "
          f"{best.text} {best_scores[0]:.3f})")
    for ranker, scores, _ in rows:
        if isinstance(ranker, ours):
            verdict = "met" if scores[0] >= wanted else "NOT met"
            print(f"  {ranker.name} {scores[0]:.3f} "
                  f"({scores[0] / best_scores[0]:.2f} x): {verdict}")


def print_timing(corpus: Corpus, model: ModelRanker, readers: int, seed: int) -> None:
    """The model's fit per reader, and its scoring per digest amortised over a batch."""
    fits = np.array(model.fit_seconds) * 1000
    print(f"\ndigest-mailer model, fit per reader from seeds (LinearSVC + centroid, "
          f"{len(fits):,} fits): median {np.median(fits):.0f} ms, mean {fits.mean():.0f} ms, "
          f"max {fits.max():.0f} ms")
    sizes = [len(rows) for _, rows in corpus.test_days]
    models = [model.model(r) for r in load_readers(corpus.root, "curated")]
    for label, day in (("median", int(np.argsort(sizes)[len(sizes) // 2])),
                       ("largest", int(np.argmax(sizes)))):
        matrix = model.day_matrices[day]
        ms = scoring_ms_per_digest(models, matrix, readers, seed)
        print(f"scoring {readers:,} reader models x the {label} test day "
              f"({matrix.shape[0]} papers, {matrix.shape[1]:,} features) in one product: "
              f"{ms:.3f} ms per digest")


def print_profiles(corpus: Corpus, readers: Sequence[Reader]) -> None:
    print("\ndigest-mailer today: each curated reader's profile (categories covering >= 80% "
          "of the seeds' primary categories, at most 3; keywords from the topic)")
    for reader in readers:
        profile = profile_of(corpus, reader)
        print(f"  {reader.name:<50} {','.join(profile.categories):<18} "
              f"{' | '.join(profile.keywords)}")


def run_set(set_name: str, readers: list[Reader], corpus: Corpus, days: Days,
            rankers: list[Ranker], published: dict[tuple[str, str, str], tuple[str, ...]],
            note: str) -> None:
    reader_days = sum(len(days.relevant_by_day(r)) for r in readers)
    rows = []
    for ranker in rankers:
        print(f"  {set_name}: {ranker.name} ({ranker.text}) …", file=sys.stderr, flush=True)
        scores, took = evaluate(ranker, readers, days)
        rows.append((ranker, scores, took))
    print_table(f"{set_name} ({len(readers):,} readers, {reader_days:,} reader-days){note}",
                rows, published, set_name)
    print_targets(set_name, rows)
    if set_name == "curated":
        print_profiles(corpus, readers)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", choices=("curated", "authors", "all"), default="all")
    parser.add_argument("--authors-sample", type=int, default=0,
                        help="rank a seeded sample of this many author readers (0: all 3,000)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--batch", type=int, default=1_000,
                        help="synthetic reader models scored in one product for the timing")
    parser.add_argument("--data", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)

    sets = ("curated", "authors") if args.readers == "all" else (args.readers,)
    print(f"relevance bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
          f"python bench/relevance.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    started = time.perf_counter()
    corpus = load_corpus(args.data)
    days = Days(corpus)
    print(f"corpus: {len(corpus.papers):,} papers, {len(corpus.days)} days "
          f"({len(days.test_days)} test days), read in {time.perf_counter() - started:.1f} s")
    # Author names are a condition only for author readers, where they game the proxy.
    conditions = CONDITIONS if "authors" in sets else ("content",)
    matrices = {}
    for condition in conditions:
        matrices[condition], took, cached = features(corpus, condition)
        how = "read from the $TMPDIR cache" if cached else "fitted and transformed"
        print(f"TF-IDF ({condition}): {matrices[condition].shape[1]:,} features fitted on "
              f"{len(corpus.train_rows):,} training papers, {how} in {seconds(took)}")
    published = published_figures(args.data)
    today = TodayRanker(corpus)
    # The model reads content only: author names would game the author proxy.
    model = ModelRanker(corpus, matrices["content"], "content")
    for set_name in sets:
        readers = load_readers(args.data, set_name)
        note = ""
        if set_name == "authors" and 0 < args.authors_sample < len(readers):
            chosen = set(random.Random(args.seed).sample(range(len(readers)),
                                                         args.authors_sample))
            readers = [r for i, r in enumerate(readers) if i in chosen]
            note = f", a seeded sample (seed {args.seed}); published figures are all 3,000"
        wanted = ("content",) if set_name == "curated" else conditions
        rankers = [*baselines(corpus, matrices, wanted, args.seed), today, model]
        run_set(set_name, readers, corpus, days, rankers, published, note)
    print_timing(corpus, model, args.batch, args.seed)
    print(f"\ntotal wall time {seconds(time.perf_counter() - started)}")


if __name__ == "__main__":
    main()
