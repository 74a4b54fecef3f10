"""The seeds' categories as a prior, tuned on the training period only.

Inside the training period a second cutoff, ``INNER_CUTOFF``, splits each reader's seeds:
those listed before it are the library (the model's window is the training papers before
it too), and those on or after it are the papers to find on their own training days. Each
reader is fitted once on that split and every ``GRID`` value is tried on the same fit (the
prior is added after the fit). The chosen value is then run on the test days beside the
plain model by the main evaluation (``relevance_model.PriorRanker``). No test day is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from relevance_data import CUTOFF, Corpus, Reader
from relevance_metrics import day_scores, macro
from relevance_model import ModelRanker
from relevance_rankers import order_by

from digest_mailer.domain.ranking import category_weights

INNER_CUTOFF = "2025-10-01"  # about the last third of the training period's days
MIN_LIBRARY = 3
Scores = tuple[float, float, float]
GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
# A value counts as helping only if it lifts author readers by this much and costs the
# curated readers less than this (on the training split).
MARGIN = 0.005


class Split:
    """The training period split at ``inner_cutoff``: each reader's seeds listed before it
    are the library (and the papers before it the window), the later seeds are the papers to
    find on their own training days. Also used by ``relevance_dense`` to tune its blend."""

    def __init__(self, corpus: Corpus, matrix: sp.csr_matrix,
                 inner_cutoff: str = INNER_CUTOFF) -> None:
        self.corpus = corpus
        self.days = [(d, rows) for d, rows in corpus.days if inner_cutoff <= d < CUTOFF]
        self.day_of = {int(r): n for n, (_, rows) in enumerate(self.days) for r in rows}
        self.position = {int(r): i for _, rows in self.days for i, r in enumerate(rows)}
        self.inner_cutoff = inner_cutoff
        self.early = np.array([i for i, p in enumerate(corpus.papers) if p.date < inner_cutoff])
        self.window = matrix[self.early]
        self.matrices = [matrix[rows] for _, rows in self.days]
        self.categories = [[corpus.papers[r].categories for r in rows] for _, rows in self.days]

    def held_out(self, reader: Reader) -> tuple[tuple[str, ...], dict[int, list[int]]] | None:
        """(library, split-day number -> positions of the seeds to find), or None when the
        reader has too small a library or nothing to find."""
        papers, row = self.corpus.papers, self.corpus.row
        library = tuple(s for s in reader.seeds if papers[row[s]].date < self.inner_cutoff)
        held: dict[int, list[int]] = {}
        for s in reader.seeds:
            if row[s] in self.day_of:
                held.setdefault(self.day_of[row[s]], []).append(self.position[row[s]])
        if len(library) < MIN_LIBRARY or not held:
            return None
        return library, held

    def scores(self, held: dict[int, list[int]],
               score: Callable[[int], np.ndarray]) -> list[Scores]:
        """Each held-out day's metrics when ``score(day)`` scores that day's papers."""
        found = []
        for day, positions in sorted(held.items()):
            grades = np.zeros(self.matrices[day].shape[0], dtype=np.int64)
            grades[positions] = 1
            found.append(day_scores(grades[order_by(score(day))].tolist()))
        return found

    def tune(self, reader_sets: dict[str, Sequence[Reader]], n_values: int,
             trial: Callable[[Reader, tuple[str, ...], dict[int, list[int]]],
                             list[list[Scores]]]) -> dict[str, tuple[int, list[float]]]:
        """Reader set -> (readers used, macro nDCG@10 of each of ``n_values`` values);
        ``trial(reader, library, held)`` gives each value's held-out day scores."""
        found: dict[str, tuple[int, list[float]]] = {}
        for set_name, readers in reader_sets.items():
            per_value: list[list[list[Scores]]] = [[] for _ in range(n_values)]
            used = 0
            for reader in readers:
                held_out = self.held_out(reader)
                if held_out is None:
                    continue
                used += 1
                for n, scores in enumerate(trial(reader, *held_out)):
                    per_value[n].append(scores)
            found[set_name] = (used, [macro(v)[0] for v in per_value])
        return found


def tune(corpus: Corpus, model: ModelRanker, reader_sets: dict[str, Sequence[Reader]],
         inner_cutoff: str = INNER_CUTOFF) -> dict[str, tuple[int, list[float]]]:
    """Reader set -> (readers used, macro nDCG@10 for each ``GRID`` value)."""
    split = Split(corpus, model.matrix, inner_cutoff)

    def trial(reader: Reader, library: tuple[str, ...],
              held: dict[int, list[int]]) -> list[list[Scores]]:
        signals = model.signals(library)
        fitted = model.fit(reader, signals, split.window)
        found = []
        for prior in GRID:  # one fit; the prior is added after it
            boosted = replace(fitted, categories=category_weights(signals.seed_categories,
                                                                  prior))
            found.append(split.scores(held, lambda day, m=boosted: m.score(
                split.matrices[day], split.categories[day])))
        return found

    return split.tune(reader_sets, len(GRID), trial)


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
