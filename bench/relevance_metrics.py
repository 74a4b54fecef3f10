"""The README's metrics for one ranked day, and the macro average over readers.

A ranking is given as the grades of the day's papers in ranked order (0 = not relevant),
the whole day, so the ideal ranking is those grades sorted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

_DISCOUNT = 1.0 / np.log2(np.arange(2, 102))


def ndcg_at(grades: Sequence[int] | np.ndarray, k: int = 10) -> float:
    """nDCG@k with gain 2^g − 1 and discount 1/log2(rank + 1)."""
    ranked = np.asarray(grades, dtype=np.float64)
    ideal = np.sort(ranked)[::-1][:k]
    top = ranked[:k]
    best = float(((2.0 ** ideal - 1.0) * _DISCOUNT[:len(ideal)]).sum())
    if best == 0.0:
        return 0.0
    return float(((2.0 ** top - 1.0) * _DISCOUNT[:len(top)]).sum()) / best


def recall_at(grades: Sequence[int] | np.ndarray, k: int = 20) -> float:
    """The share of the day's relevant papers (any grade) in the top k."""
    relevant = np.asarray(grades) > 0
    total = int(relevant.sum())
    return float(relevant[:k].sum()) / total if total else 0.0


def reciprocal_rank(grades: Sequence[int] | np.ndarray) -> float:
    """1 / the rank of the first relevant paper; 0 when none is."""
    hits = np.flatnonzero(np.asarray(grades) > 0)
    return 1.0 / (int(hits[0]) + 1) if len(hits) else 0.0


def day_scores(grades: Sequence[int] | np.ndarray) -> tuple[float, float, float]:
    """(nDCG@10, recall@20, MRR) of one ranked day."""
    return ndcg_at(grades, 10), recall_at(grades, 20), reciprocal_rank(grades)


def macro(per_reader: Iterable[Sequence[tuple[float, float, float]]]) -> tuple[float, ...]:
    """Average each reader's days, then the readers (each reader counts once)."""
    means = [np.mean(np.asarray(days), axis=0) for days in per_reader if len(days)]
    if not means:
        return (0.0, 0.0, 0.0)
    return tuple(float(x) for x in np.mean(np.asarray(means), axis=0))
