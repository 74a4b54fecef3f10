"""digest-mailer's model (``digest_mailer.domain.ranking``) as a bench ranker, and its timing.

Seeds only: a reader's library is its seeds, most recent first; no statement, keywords or
votes. The text rows are the bench's cached TF-IDF matrix, fitted with the same settings
``TextModel`` uses on a window this size (min_df 5, max_df 0.1), so the figures are the
model's and not a second vectoriser's. The window is the training period.
"""

from __future__ import annotations

import time
import zlib

import numpy as np
import scipy.sparse as sp
from relevance_data import Corpus, Reader
from relevance_rankers import DayOrder, order_by

from digest_mailer.domain.ranking import (
    BLEND,
    Evidence,
    ReaderModel,
    Signals,
    fit_reader,
    score_batch,
)

REPEATS = 5


class ModelRanker:
    """Ranks each test day by the reader's ``ReaderModel`` score."""

    def __init__(self, corpus: Corpus, matrix: sp.csr_matrix, text: str, *,
                 recency: bool = False, blend: float = BLEND, name: str = "") -> None:
        self.corpus, self.matrix, self.text = corpus, matrix, text
        self.recency, self.blend = recency, blend
        self.name = name or "digest-mailer model"
        self.window = matrix[corpus.train_rows]
        self.day_matrices = [matrix[rows] for _, rows in corpus.test_days]
        self.fit_seconds: list[float] = []

    def model(self, reader: Reader) -> ReaderModel:
        rows = np.array([self.corpus.row[s] for s in reversed(reader.seeds)], dtype=np.int64)
        titles = tuple(self.corpus.papers[r].title for r in rows)
        n = self.matrix.shape[1]
        signals = Signals(Evidence(self.matrix[rows], titles), Evidence.none(n), Evidence.none(n))
        started = time.perf_counter()
        model = fit_reader(signals, self.window, seed=zlib.crc32(reader.name.encode()),
                           recency=self.recency, blend=self.blend)
        self.fit_seconds.append(time.perf_counter() - started)
        return model

    def for_reader(self, reader: Reader) -> DayOrder:
        model = self.model(reader)
        return lambda day, _rows: order_by(model.score(self.day_matrices[day]))


def scoring_ms_per_digest(models: list[ReaderModel], day: sp.csr_matrix, readers: int,
                          seed: int) -> float:
    """Score ``readers`` synthetic models (the real ones, jittered) × one day in one product,
    gathering their weights included; the median of a few runs, in ms per reader."""
    rng = np.random.default_rng(seed)
    batch = []
    for n in range(readers):
        base = models[n % len(models)]
        jitter = rng.normal(0, 0.01, base.weights.shape).astype(np.float32)
        batch.append(ReaderModel(base.weights + jitter, base.bias))
    timings = []
    for _ in range(REPEATS):  # the first product also pays for touching fresh memory
        started = time.perf_counter()
        scores = score_batch(batch, day)
        timings.append(time.perf_counter() - started)
    assert scores.shape == (readers, day.shape[0])
    return 1000 * float(np.median(timings)) / readers
