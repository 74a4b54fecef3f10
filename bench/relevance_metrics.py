"""The README's metrics for one ranked day, and the macro average over readers.

A ranking is given as the grades of the day's papers in ranked order (0 = not relevant),
the whole day, so the ideal ranking is those grades sorted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

# Pure Python, so the metrics (and their test) need nothing beyond the standard library.


def _dcg(grades: Iterable[int]) -> float:
    return sum((2.0 ** g - 1.0) / math.log2(rank + 2) for rank, g in enumerate(grades))


def ndcg_at(grades: Sequence[int], k: int = 10) -> float:
    """nDCG@k with gain 2^g − 1 and discount 1/log2(rank + 1)."""
    best = _dcg(sorted((g for g in grades if g > 0), reverse=True)[:k])
    return _dcg(grades[:k]) / best if best else 0.0


def recall_at(grades: Sequence[int], k: int = 20) -> float:
    """The share of the day's relevant papers (any grade) in the top k."""
    total = sum(1 for g in grades if g > 0)
    return sum(1 for g in grades[:k] if g > 0) / total if total else 0.0


def reciprocal_rank(grades: Sequence[int]) -> float:
    """1 / the rank of the first relevant paper; 0 when none is."""
    return next((1.0 / (rank + 1) for rank, g in enumerate(grades) if g > 0), 0.0)


def day_scores(grades: Sequence[int]) -> tuple[float, float, float]:
    """(nDCG@10, recall@20, MRR) of one ranked day."""
    return ndcg_at(grades, 10), recall_at(grades, 20), reciprocal_rank(grades)


def macro(per_reader: Iterable[Sequence[tuple[float, float, float]]]) -> tuple[float, ...]:
    """Average each reader's days, then the readers (each reader counts once)."""
    means = [tuple(sum(day[i] for day in days) / len(days) for i in range(3))
             for days in per_reader if days]
    if not means:
        return (0.0, 0.0, 0.0)
    return tuple(sum(m[i] for m in means) / len(means) for i in range(3))
