"""The feedback simulation: a reader votes on each day's digest and the model is refitted.

For each reader with enough days, its first ``DAYS`` + 1 test days that hold one of its
relevant papers (the days the protocol scores; days with none are skipped), in order. Each
day is ranked with the reader's current model; the reader votes "more" on the relevant
papers in its top ``SHOWN`` and "less" on the ``LESS_VOTES`` top-ranked irrelevant ones
there; the model is refitted from the seeds and every vote so far (``Signals.more`` and
``Signals.less``), as the product retrains when a reader's signals change. Day k is ranked
with the votes of days 1..k-1, so the last row, day ``DAYS`` + 1, is "after ``DAYS`` days
of votes". The baselines are the seeds-only scores of the same readers on the same days,
recorded by the main evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from relevance_data import Reader
from relevance_metrics import day_scores
from relevance_model import ModelRanker
from relevance_rankers import order_by

DAYS, SHOWN, LESS_VOTES = 10, 20, 2
TARGET = 1.4  # issue 10: >= 1.4 x the best baseline's nDCG@10 after 10 days of votes

Record = dict[tuple[str, str, int], tuple[float, float, float]]  # (ranker, reader, day)


@dataclass
class Run:
    """One reader's simulation: the day numbers ranked and each day's (nDCG, recall, MRR)."""

    reader: str
    days: list[int]
    scores: list[tuple[float, float, float]]
    more: int = 0
    less: int = 0


def simulate(model: ModelRanker, reader: Reader, relevant_by_day: dict[int, list[tuple[int, int]]],
             test_days: Sequence[tuple[str, np.ndarray]], days: int = DAYS) -> Run:
    """``days`` days of votes, then one more day ranked with all of them."""
    chosen = sorted(relevant_by_day)[:days + 1]
    current = model.model(reader)  # the seeds-only fit, kept by the main evaluation
    more: list[int] = []
    less: list[int] = []
    run = Run(reader.name, chosen, [])
    for k, day in enumerate(chosen):
        rows = test_days[day][1]
        grades = np.zeros(len(rows), dtype=np.int64)
        for position, grade in relevant_by_day[day]:
            grades[position] = grade
        order = order_by(current.score(model.day_matrices[day]))
        run.scores.append(day_scores(grades[order].tolist()))
        if k == len(chosen) - 1:
            break
        shown = order[:SHOWN]
        more.extend(int(rows[i]) for i in shown if grades[i] > 0)
        less.extend(int(rows[i]) for i in shown[grades[shown] == 0][:LESS_VOTES])
        current = model.fit(reader, model.signals(reader.seeds, np.array(more, dtype=np.int64),
                                                  np.array(less, dtype=np.int64)))
    run.more, run.less = len(more), len(less)
    return run


def print_feedback(set_name: str, runs: list[Run], record: Record, baselines: Sequence[str],
                   model_name: str, note: str) -> None:
    """The curve, the seeds-only model and the best baseline on the same reader-days."""
    if not runs:
        print(f"\nfeedback simulation, {set_name}: no reader has {DAYS + 1} days with a "
              f"relevant paper")
        return

    def curve(name: str) -> np.ndarray:  # (days,) nDCG@10, macro over readers
        return np.array([[record[(name, r.reader, d)][0] for d in r.days] for r in runs]).mean(0)

    voted = np.array([r.scores for r in runs])[:, :, 0].mean(0)
    seeds_only = curve(model_name)
    best = max(baselines, key=lambda name: curve(name).mean())
    base = curve(best)
    print(f"\nfeedback simulation, {set_name}: {len(runs)} readers{note}, each its first "
          f"{DAYS + 1} test days holding a relevant paper; votes: 'more' on the relevant "
          f"papers in its top {SHOWN}, 'less' on the {LESS_VOTES} top-ranked irrelevant ones; "
          f"refit after each day (mean votes after {DAYS} days: "
          f"{np.mean([r.more for r in runs]):.1f} more, {np.mean([r.less for r in runs]):.1f} "
          f"less)")
    print(f"{'day':>5} {'days voted':>11} {'nDCG@10':>8} {'seeds only':>10} "
          f"{best + ' (best baseline)':>32} {'ratio':>6}")
    print("-" * 78)
    for k in range(DAYS + 1):
        label = f"{k + 1:>5}" + ("*" if k == DAYS else " ")
        print(f"{label:<6}{k:>11} {voted[k]:>8.3f} {seeds_only[k]:>10.3f} "
              f"{base[k]:>32.3f} {voted[k] / base[k]:>5.2f}x")
    late = slice(DAYS - 4, DAYS + 1)  # one day is noisy: the last five days together too
    print(f"days {DAYS - 3}-{DAYS + 1} together: {voted[late].mean():.3f} vs "
          f"{base[late].mean():.3f}, {voted[late].mean() / base[late].mean():.2f} x")
    ratio = voted[DAYS] / base[DAYS]
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"* after {DAYS} days of votes: {ratio:.2f} x {best} on the same reader-days "
          f"(target >= {TARGET} x): {verdict}")
