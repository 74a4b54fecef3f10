"""The seeds' categories as a prior, tuned on the training period only.

Inside the training period a second cutoff, ``INNER_CUTOFF``, splits each reader's seeds:
those listed before it are the library (the model's window is the training papers before
it too), and those on or after it are the papers to find on their own training days. Each
reader is fitted once on that split and every ``GRID`` value is tried on the same fit (the
prior is added after the fit). The chosen value is then run on the test days beside the
plain model by the main evaluation (``relevance_model.PriorRanker``). No test day is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from relevance_data import CUTOFF, Corpus, Reader
from relevance_metrics import day_scores, macro
from relevance_model import ModelRanker
from relevance_rankers import order_by

from digest_mailer.domain.ranking import category_weights

INNER_CUTOFF = "2025-10-01"  # about the last third of the training period's days
MIN_LIBRARY = 3
GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
# A value counts as helping only if it lifts author readers by this much and costs the
# curated readers less than this (on the training split).
MARGIN = 0.005


def tune(corpus: Corpus, model: ModelRanker, reader_sets: dict[str, Sequence[Reader]],
         inner_cutoff: str = INNER_CUTOFF) -> dict[str, tuple[int, list[float]]]:
    """Reader set -> (readers used, macro nDCG@10 for each ``GRID`` value)."""
    days = [(d, rows) for d, rows in corpus.days if inner_cutoff <= d < CUTOFF]
    day_of = {int(r): n for n, (_, rows) in enumerate(days) for r in rows}
    position = {int(r): i for _, rows in days for i, r in enumerate(rows)}
    early = np.array([i for i, p in enumerate(corpus.papers) if p.date < inner_cutoff])
    window = model.matrix[early]
    matrices = [model.matrix[rows] for _, rows in days]
    categories = [[corpus.papers[r].categories for r in rows] for _, rows in days]
    found: dict[str, tuple[int, list[float]]] = {}
    for set_name, readers in reader_sets.items():
        per_value: list[list[list[tuple[float, float, float]]]] = [[] for _ in GRID]
        used = 0
        for reader in readers:
            library = tuple(s for s in reader.seeds if corpus.papers[corpus.row[s]].date
                            < inner_cutoff)
            held: dict[int, list[int]] = {}
            for s in reader.seeds:
                row = corpus.row[s]
                if row in day_of:
                    held.setdefault(day_of[row], []).append(position[row])
            if len(library) < MIN_LIBRARY or not held:
                continue
            used += 1
            signals = model.signals(library)
            fitted = model.fit(reader, signals, window)
            for n, prior in enumerate(GRID):
                boosted = replace(fitted, categories=category_weights(signals.seed_categories,
                                                                      prior))
                scores = []
                for day, positions in sorted(held.items()):
                    grades = np.zeros(matrices[day].shape[0], dtype=np.int64)
                    grades[positions] = 1
                    order = order_by(boosted.score(matrices[day], categories[day]))
                    scores.append(day_scores(grades[order].tolist()))
                per_value[n].append(scores)
        found[set_name] = (used, [macro(v)[0] for v in per_value])
    return found


def choose(tuned: dict[str, tuple[int, list[float]]]) -> float:
    """The nonzero value best for author readers whose curated cost stays under MARGIN."""
    authors = tuned["authors"][1]
    curated = tuned.get("curated", (0, [0.0] * len(GRID)))[1]
    allowed = [n for n in range(1, len(GRID)) if curated[n] > curated[0] - MARGIN]
    return GRID[max(allowed or range(1, len(GRID)), key=lambda n: authors[n])]


def helps(tuned: dict[str, tuple[int, list[float]]], prior: float) -> bool:
    """Whether ``prior`` helped on the training split, by ``MARGIN``."""
    n = GRID.index(prior)
    authors = tuned["authors"][1]
    curated = tuned.get("curated", (0, [0.0] * len(GRID)))[1]
    return authors[n] >= authors[0] + MARGIN and curated[n] > curated[0] - MARGIN


def print_tuning(tuned: dict[str, tuple[int, list[float]]], prior: float, note: str) -> None:
    print(f"\ncategory prior, tuned on the training period only: library = seeds listed "
          f"before {INNER_CUTOFF} (at least {MIN_LIBRARY}), found = seeds listed from then "
          f"to {CUTOFF}, on their own training days; nDCG@10 by prior (window units per unit "
          f"of a category's share of the seeds){note}")
    print(f"{'readers':<22}" + "".join(f"{v:>8g}" for v in GRID))
    print("-" * (22 + 8 * len(GRID)))
    for set_name, (used, values) in tuned.items():
        print(f"{f'{set_name} ({used})':<22}" + "".join(f"{v:>8.3f}" for v in values))
    verdict = "helps" if helps(tuned, prior) else "does not help"
    print(f"chosen: {prior:g} (best nonzero for authors, curated within {MARGIN}); on the "
          f"training split it {verdict} (by >= {MARGIN} for authors)")
