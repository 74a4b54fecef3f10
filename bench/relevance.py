"""Relevance bench: how well each ranker puts a reader's papers at the top of a day.

Usage: `python bench/relevance.py [--readers curated|authors|all] [--authors-sample N]
[--feedback-sample N] [--scale-readers N] [--seed S] [--dense]`.

Follows ../shared/relevance/README.md's protocol: for every reader and every test day
(on or after 2026-01-01) holding one of the reader's relevant papers, rank the whole day
from the reader's seeds and training-period statistics only, score nDCG@10 (gain 2^g − 1),
recall@20 and MRR, average over the reader's days and then over readers. In one run it
recomputes the README's baselines (random, listing, tfidf-mean, svm) and
zotero-arxiv-daily's weighted similarity, measures digest-mailer's ranking today
(categories and keywords, ``domain/select.py``) and its reader model from seeds alone
(``domain/ranking.py``, content only), with and without the seeds' category prior (tuned on
the training period, ``relevance_prior.py``), prints the README's published figures beside
them and checks issue 10's targets; then the feedback simulation
(``relevance_feedback.py``), the fit time per reader and the scoring time and memory at
100,000 readers (``relevance_scale.py``). Data is read in place; TF-IDF matrices are
cached under $TMPDIR. With ``--dense`` it adds wordllama's bundled dense embeddings
(``relevance_dense.py``; the package is needed only then). It prints figures; it asserts
nothing.
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
from relevance_feedback import DAYS, Record, print_feedback, simulate
from relevance_metrics import day_scores, macro
from relevance_model import ModelRanker, PriorRanker
from relevance_prior import choose, print_tuning, tune
from relevance_rankers import Ranker, baselines
from relevance_scale import measure, peak_rss_mb, print_scale
from relevance_today import TodayModelRanker, TodayRanker, profile_of

Scores = tuple[float, ...]
# Issue 10: author readers, content only, >= 1.15 x the best baseline's nDCG@10 from seeds;
# curated readers no worse than the best baseline.
AUTHOR_TARGET, CURATED_TARGET = 1.15, 1.0
OURS = (TodayRanker, ModelRanker, PriorRanker)
SAMPLE = 300  # author readers for the prior's tuning, the feedback simulation, the timing


def ours(ranker: Ranker) -> bool:
    """A ranker under test (digest-mailer's, or a dense candidate), not a baseline."""
    return isinstance(ranker, OURS) or getattr(ranker, "candidate", False)


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


def label(ranker: Ranker) -> str:
    return f"{ranker.name} ({ranker.text})"


def evaluate(ranker: Ranker, readers: Sequence[Reader], days: Days,
             record: Record | None = None) -> tuple[Scores, float]:
    """Macro (nDCG@10, recall@20, MRR) and the wall time to rank and score every reader;
    each reader-day's scores go into ``record`` too, by (ranker label, reader, day)."""
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
            if record is not None:
                record[(label(ranker), reader.name, day)] = scores[-1]
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
    head = f"{'method':<24} {'text':<8} {'nDCG@10':>7} {'rec@20':>7} {'MRR':>6} {'time':>7}"
    print(f"{head}  | published: {'nDCG@10':>7} {'rec@20':>7} {'MRR':>6} {'time':>6}")
    print("-" * (len(head) + 43))
    for ranker, (ndcg, recall, mrr), took in rows:
        line = (f"{ranker.name:<24} {ranker.text:<8} {ndcg:>7.3f} {recall:>7.3f} {mrr:>6.3f} "
                f"{seconds(took):>7}")
        known = published.get((set_name, ranker.name, ranker.text))
        tail = " ".join(f"{v:>{w}}" for v, w in zip(known, (7, 7, 6, 6), strict=True)) \
            if known else f"{'–':>7}"
        print(f"{line}  |            {tail}")


def print_targets(set_name: str, rows: list[tuple[Ranker, Scores, float]]) -> None:
    """Issue 10's target for this reader set, against the best content baseline of this run."""
    content = [(r, s) for r, s, _ in rows
               if not ours(r) and r.text in ("–", "content")]
    best, best_scores = max(content, key=lambda item: item[1][0])
    factor = AUTHOR_TARGET if set_name == "authors" else CURATED_TARGET
    wanted = factor * best_scores[0]
    what = ("content only, >= 1.15 x the best baseline" if set_name == "authors"
            else "no worse than the best baseline")
    print(f"target ({what}): nDCG@10 >= {wanted:.3f} ({factor:g} x {best.name} "
          f"{best.text} {best_scores[0]:.3f})")
    for ranker, scores, _ in rows:
        if ours(ranker):
            verdict = "met" if scores[0] >= wanted else "NOT met"
            print(f"  {ranker.name} {scores[0]:.3f} "
                  f"({scores[0] / best_scores[0]:.2f} x): {verdict}")


def print_fits(model: ModelRanker) -> None:
    fits = np.array(model.fit_seconds) * 1000
    print(f"\ndigest-mailer model, fit per reader from seeds (LinearSVC + centroid, "
          f"{len(fits):,} fits): median {np.median(fits):.0f} ms, mean {fits.mean():.0f} ms, "
          f"max {fits.max():.0f} ms")


def print_prior(prior: float, results: dict[str, list[tuple[Ranker, Scores, float]]]) -> None:
    """The category prior on the test days against the plain model, per reader set."""
    print(f"\ncategory prior {prior:g} (tuned on training days) on the test days:")
    print(f"{'readers':<10} {'model':>7} {'+ prior':>8} {'change':>8}")
    changes = {}
    for set_name, rows in results.items():
        plain = next(s for r, s, _ in rows if type(r) is ModelRanker)[0]
        boosted = next(s for r, s, _ in rows if isinstance(r, PriorRanker))[0]
        changes[set_name] = boosted - plain
        print(f"{set_name:<10} {plain:>7.3f} {boosted:>8.3f} {boosted - plain:>+8.3f}")
    if len(changes) < 2:
        print("helps authors without hurting curated: needs both reader sets")
        return
    default = changes["authors"] > 0 and changes["curated"] >= 0
    print(f"helps authors without hurting curated on the test days: "
          f"{'yes' if default else 'no'}")


def print_profiles(corpus: Corpus, readers: Sequence[Reader]) -> None:
    print("\ndigest-mailer today: each curated reader's profile (categories covering >= 80% "
          "of the seeds' primary categories, at most 3; keywords from the topic)")
    for reader in readers:
        profile = profile_of(corpus, reader)
        print(f"  {reader.name:<50} {','.join(profile.categories):<18} "
              f"{' | '.join(profile.keywords)}")


def run_set(set_name: str, readers: list[Reader], corpus: Corpus, days: Days,
            rankers: list[Ranker], published: dict[tuple[str, str, str], tuple[str, ...]],
            note: str, record: Record) -> list[tuple[Ranker, Scores, float]]:
    reader_days = sum(len(days.relevant_by_day(r)) for r in readers)
    rows = []
    for ranker in rankers:
        print(f"  {set_name}: {label(ranker)} …", file=sys.stderr, flush=True)
        scores, took = evaluate(ranker, readers, days, record)
        rows.append((ranker, scores, took))
    print_table(f"{set_name} ({len(readers):,} readers, {reader_days:,} reader-days){note}",
                rows, published, set_name)
    print_targets(set_name, rows)
    if set_name == "curated":
        print_profiles(corpus, readers)
    return rows


def run_feedback(set_name: str, readers: list[Reader], days: Days, model: ModelRanker,
                 rankers: list[Ranker], record: Record, note: str) -> None:
    print(f"  {set_name}: feedback simulation …", file=sys.stderr, flush=True)
    runs = []
    for reader in readers:
        relevant = days.relevant_by_day(reader)
        if len(relevant) > DAYS:
            runs.append(simulate(model, reader, relevant, days.test_days))
    content = [label(r) for r in rankers
               if not ours(r) and r.text == "content"]
    print_feedback(set_name, runs, record, content, label(model), note)


def sample(readers: list[Reader], n: int, seed: int) -> list[Reader]:
    """A seeded sample of ``n`` readers, in their file order (all of them if n is 0)."""
    if not 0 < n < len(readers):
        return readers
    chosen = set(random.Random(seed).sample(range(len(readers)), n))
    return [r for i, r in enumerate(readers) if i in chosen]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", choices=("curated", "authors", "all"), default="all")
    parser.add_argument("--authors-sample", type=int, default=0,
                        help="rank a seeded sample of this many author readers (0: all 3,000)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--feedback-sample", type=int, default=SAMPLE,
                        help="author readers the feedback simulation samples from the ranked "
                             "ones (0: all of them)")
    parser.add_argument("--scale-readers", type=int, default=100_000,
                        help="reader models scored for the timing")
    parser.add_argument("--data", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--dense", action="store_true",
                        help="add wordllama's dense rankers (needs the wordllama package)")
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
    # The model reads content only: author names would game the author proxy. Its fits are
    # kept for the category prior, the feedback simulation and the timing.
    model = ModelRanker(corpus, matrices["content"], "content", keep=True)
    all_sets = {name: load_readers(args.data, name) for name in ("curated", "authors")}
    print("  tuning the category prior on training days …", file=sys.stderr, flush=True)
    tuning_sets = {"curated": all_sets["curated"],
                   "authors": sample(all_sets["authors"], SAMPLE, args.seed + 1)}
    tuning_note = f"; author readers: a seeded {SAMPLE} (seed {args.seed + 1})"
    tuned = tune(corpus, model, tuning_sets)
    prior = choose(tuned)
    print_tuning(tuned, prior, tuning_note)
    dense: list[Ranker] = []
    if args.dense:
        from relevance_dense import dense_rankers  # wordllama is needed only here

        print("  embedding and tuning the dense blend …", file=sys.stderr, flush=True)
        dense = dense_rankers(corpus, model, tuning_sets, args.seed, tuning_note)
    record: Record = {}
    results = {}
    for set_name in sets:
        readers, note = all_sets[set_name], ""
        if set_name == "authors" and 0 < args.authors_sample < len(readers):
            readers = sample(readers, args.authors_sample, args.seed)
            note = f", a seeded sample (seed {args.seed}); published figures are all 3,000"
        wanted = ("content",) if set_name == "curated" else conditions
        rankers = [*baselines(corpus, matrices, wanted, args.seed), today, model,
                   PriorRanker(model, prior), *dense]
        if set_name == "curated":  # author readers have no keywords: no model, as today
            rankers.insert(rankers.index(today) + 1, TodayModelRanker(corpus))
        results[set_name] = run_set(set_name, readers, corpus, days, rankers, published, note,
                                    record)
        simulated, how = readers, ""
        if set_name == "authors":
            simulated = sample(readers, args.feedback_sample, args.seed + 2)
            how = f" of a seeded {len(simulated):,} of the {len(readers):,} ranked"
        run_feedback(set_name, simulated, days, model, rankers, record, how)
    print_prior(prior, results)
    print_fits(model)
    print("  scoring at scale …", file=sys.stderr, flush=True)
    sizes = [len(rows) for _, rows in days.test_days]
    median = int(np.argsort(sizes)[len(sizes) // 2])
    # The last readers fitted: author readers when they ran, else the curated ones.
    fitted = list(model.models.values())[-SAMPLE:]
    figures = measure(fitted, model.day_matrices[median], args.scale_readers)
    print_scale(figures, f"the median test day ({days.test_days[median][0]}, "
                f"{sizes[median]} papers, {matrices['content'].shape[1]:,} features)",
                peak_rss_mb())
    print(f"\ntotal wall time {seconds(time.perf_counter() - started)}")


if __name__ == "__main__":
    main()
