"""digest-mailer's model (``digest_mailer.domain.ranking``) as a bench ranker.

Seeds only: a reader's library is its seeds, most recent first; no statement, keywords or
votes. The text rows are the bench's cached TF-IDF matrix, fitted with the same settings
``TextModel`` uses on a window this size (min_df 5, max_df 0.1), so the figures are the
model's and not a second vectoriser's. The window is the training period.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from relevance_data import Corpus, Reader
from relevance_rankers import DayOrder, order_by

from digest_mailer.domain.ranking import (
    BLEND,
    Evidence,
    ReaderModel,
    Signals,
    category_weights,
    fit_reader,
)


class ModelRanker:
    """Ranks each test day by the reader's ``ReaderModel`` score.

    With ``keep`` every fitted model stays in ``models`` (by reader name), so the category
    prior, the feedback simulation and the timing reuse the fits instead of repeating them.
    """

    def __init__(self, corpus: Corpus, matrix: sp.csr_matrix, text: str, *,
                 recency: bool = False, blend: float = BLEND, name: str = "",
                 keep: bool = False) -> None:
        self.corpus, self.matrix, self.text = corpus, matrix, text
        self.recency, self.blend, self.keep = recency, blend, keep
        self.name = name or "digest-mailer model"
        self.window = matrix[corpus.train_rows]
        self.day_matrices = [matrix[rows] for _, rows in corpus.test_days]
        self.day_categories = [[corpus.papers[r].categories for r in rows]
                               for _, rows in corpus.test_days]
        self.fit_seconds: list[float] = []
        self.models: dict[str, ReaderModel] = {}

    def seed_rows(self, seeds: tuple[str, ...]) -> np.ndarray:
        """The library's rows, most recently listed (the stand-in for "added") first."""
        return np.array([self.corpus.row[s] for s in reversed(seeds)], dtype=np.int64)

    def signals(self, seeds: tuple[str, ...], more: np.ndarray | None = None,
                less: np.ndarray | None = None) -> Signals:
        """Signals from seed ids and (for the feedback simulation) voted rows."""

        def evidence(rows: np.ndarray | None) -> Evidence:
            if rows is None or not len(rows):
                return Evidence.none(self.matrix.shape[1])
            return Evidence(self.matrix[rows], tuple(self.corpus.papers[r].title for r in rows))

        rows = self.seed_rows(seeds)
        categories = tuple(tuple(self.corpus.papers[r].categories) for r in rows)
        return replace(Signals(evidence(rows), evidence(more), evidence(less)),
                       seed_categories=categories)

    def fit(self, reader: Reader, signals: Signals, window: sp.csr_matrix | None = None,
            category_prior: float = 0.0) -> ReaderModel:
        return fit_reader(signals, self.window if window is None else window,
                          seed=zlib.crc32(reader.name.encode()), recency=self.recency,
                          blend=self.blend, category_prior=category_prior)

    def model(self, reader: Reader) -> ReaderModel:
        """The seeds-only fit (timed into ``fit_seconds``)."""
        if reader.name in self.models:
            return self.models[reader.name]
        started = time.perf_counter()
        model = self.fit(reader, self.signals(reader.seeds))
        self.fit_seconds.append(time.perf_counter() - started)
        if self.keep:
            self.models[reader.name] = model
        return model

    def for_reader(self, reader: Reader) -> DayOrder:
        model = self.model(reader)
        return lambda day, _rows: order_by(model.score(self.day_matrices[day]))


class PriorRanker:
    """The model with the seeds' category prior: ``base``'s kept fit plus the boosts (they
    are added after the fit, so the fit is shared)."""

    def __init__(self, base: ModelRanker, prior: float) -> None:
        self.base, self.prior, self.text = base, prior, base.text
        self.name = f"model + categories {prior:g}"

    def model(self, reader: Reader) -> ReaderModel:
        model = self.base.model(reader)
        seeds = self.base.signals(reader.seeds).seed_categories
        return replace(model, categories=category_weights(seeds, self.prior))

    def for_reader(self, reader: Reader) -> DayOrder:
        model = self.model(reader)
        return lambda day, _rows: order_by(
            model.score(self.base.day_matrices[day], self.base.day_categories[day]))
