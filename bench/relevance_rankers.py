"""The README's baselines: random, listing order, TF-IDF cosine to the seed mean, LinearSVC,
and zotero-arxiv-daily's recency-weighted similarity to the library.

A ranker gives, for one reader, a function from (test-day number, the day's rows) to an
order: a permutation of the day's positions, best first. Ties keep listing order.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from relevance_data import Corpus, Reader

from digest_mailer.domain.ranking import recency_weights

DayOrder = Callable[[int, np.ndarray], np.ndarray]
SVM_NEGATIVES = 5_000


class Ranker(Protocol):
    name: str
    text: str  # the text condition it reads, "–" when it reads none

    def for_reader(self, reader: Reader) -> DayOrder: ...


def order_by(scores: np.ndarray) -> np.ndarray:
    """Best score first; a stable sort keeps listing order among equal scores."""
    return np.argsort(-scores, kind="stable")


def reader_seed(seed: int, reader: Reader) -> list[int]:
    """A per-reader random stream that does not depend on which other readers run."""
    return [seed, zlib.crc32(reader.name.encode())]


class RandomRanker:
    name, text = "random", "–"

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def for_reader(self, reader: Reader) -> DayOrder:
        rng = np.random.default_rng(reader_seed(self.seed, reader))
        return lambda _day, rows: rng.permutation(len(rows))


class ListingRanker:
    name, text = "listing", "–"

    def for_reader(self, reader: Reader) -> DayOrder:
        return lambda _day, rows: np.arange(len(rows))


class _VectorRanker:
    """Scores a day as its TF-IDF rows times one weight vector per reader."""

    name = ""

    def __init__(self, corpus: Corpus, matrix: sp.csr_matrix, text: str) -> None:
        self.corpus, self.matrix, self.text = corpus, matrix, text
        # Each test day's rows, sliced once per condition rather than once per reader.
        self.day_matrices = [matrix[rows] for _, rows in corpus.test_days]

    def weights(self, reader: Reader) -> np.ndarray:
        raise NotImplementedError

    def for_reader(self, reader: Reader) -> DayOrder:
        w = self.weights(reader)
        return lambda day, _rows: order_by(self.day_matrices[day] @ w)

    def seed_rows(self, reader: Reader) -> np.ndarray:
        return np.array([self.corpus.row[s] for s in reader.seeds], dtype=np.int64)


class MeanRanker(_VectorRanker):
    """Cosine to the mean of the seeds' vectors (rows are L2-normalised: a dot product)."""

    name = "tfidf-mean"

    def weights(self, reader: Reader) -> np.ndarray:
        return np.asarray(self.matrix[self.seed_rows(reader)].mean(axis=0)).ravel()


class ZoteroRanker(_VectorRanker):
    """zotero-arxiv-daily's reranker (``BaseReranker.rerank``) on TF-IDF instead of its dense
    embeddings: the library sorted newest-added first, weight 1/(1+log10(rank+1)) from rank
    0, the weights normalised to sum 1, and a paper's score the weighted sum of its cosine
    to every library paper (×10 there, which orders nothing). The corpus has no "date
    added", so the seeds' listing order stands in for it (the newest listed counts as the
    newest added). zotero-arxiv-daily embeds abstracts; this reads title + abstract, like
    every content ranker here. Rows are L2-normalised, so cosine is a dot product and the
    sum over the library is one weighted mean: a single vector per reader.
    """

    name = "zotero-weighted"

    def weights(self, reader: Reader) -> np.ndarray:
        rows = self.seed_rows(reader)[::-1]  # seeds are sorted by (date, id): newest last
        decay = recency_weights(len(rows))
        decay /= decay.sum()
        return np.asarray(self.matrix[rows].T @ decay).ravel().astype(np.float32)


class SvmRanker(_VectorRanker):
    """arxiv-sanity-lite: LinearSVC(C=0.1, balanced), seeds against sampled training papers."""

    name = "svm"

    def __init__(self, corpus: Corpus, matrix: sp.csr_matrix, text: str, seed: int) -> None:
        super().__init__(corpus, matrix, text)
        self.seed = seed
        self.train_rows = corpus.train_rows

    def weights(self, reader: Reader) -> np.ndarray:
        from sklearn.svm import LinearSVC

        positives = self.seed_rows(reader)
        others = np.setdiff1d(self.train_rows, positives, assume_unique=False)
        rng = np.random.default_rng(reader_seed(self.seed, reader))
        negatives = rng.choice(others, size=min(SVM_NEGATIVES, len(others)), replace=False)
        rows = np.concatenate([positives, negatives])
        labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
        model = LinearSVC(C=0.1, class_weight="balanced")
        model.fit(self.matrix[rows], labels)
        return model.coef_.ravel().astype(np.float32)


def baselines(corpus: Corpus, matrices: dict[str, sp.csr_matrix],
              conditions: Sequence[str], seed: int) -> list[Ranker]:
    rankers: list[Ranker] = [RandomRanker(seed), ListingRanker()]
    for condition in conditions:
        rankers.append(MeanRanker(corpus, matrices[condition], condition))
        rankers.append(SvmRanker(corpus, matrices[condition], condition, seed))
        rankers.append(ZoteroRanker(corpus, matrices[condition], condition))
    return rankers
