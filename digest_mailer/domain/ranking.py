"""A reader's model of relevance: TF-IDF vectors, one weight vector per reader, one product.

Pure: it reads only the texts and vectors handed to it. ``TextModel`` turns title+abstract
into TF-IDF rows (arxiv-sanity-lite's settings); ``fit_reader`` turns a reader's signals
(library seeds, the interest statement, keywords, "more" and "less" votes) into a
``ReaderModel``, a dense weight vector and a bias; ``score_batch`` scores a whole send
batch of readers against a day in one sparse × dense product. ``reasons`` says why a
paper scores, ``uncertain`` picks the papers the model is least sure about.

A score is in "window units": 0 is the model's decision boundary (the SVM's, or for a
centroid-only model the top 1% of the window), 1 is one standard deviation of the
window's scores. So models of different readers, and a blend of two scorers, compare.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# arxiv-sanity-lite compute.py's vectoriser; min_df/max_df follow the window's size.
TFIDF_SETTINGS = {
    "input": "content", "encoding": "utf-8", "decode_error": "replace",
    "strip_accents": "unicode", "lowercase": True, "analyzer": "word",
    "stop_words": "english", "token_pattern": r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
    "ngram_range": (1, 2), "max_features": 20_000, "norm": "l2", "use_idf": True,
    "smooth_idf": True, "sublinear_tf": True,
}

MIN_SVM_POSITIVES = 5    # Semantic Scholar's feeds start learning from 5 papers
SVM_NEGATIVES = 5_000    # arxiv-sanity-lite samples this many unlabelled papers as negatives
SVM_C = 0.1
BLEND = 0.5              # share of the centroid in a blended model; the rest is the SVM's
LESS_WEIGHT = 0.5        # Rocchio's gamma: how far a "less" vote pushes the centroid away
LESS_SAMPLE_WEIGHT = 3.0  # a "less" vote is a real negative, a sampled paper only a guess
KEYWORD_BOOST = 8.0      # per unit of a keyword's TF-IDF weight, in window units
CENTROID_BOUNDARY = 0.99  # a centroid model's "yes" starts at this quantile of the window
MIN_REASON_COSINE = 0.05  # below it no seed is "close"
SPARSE_SHARE = 0.25      # a batch whose weights are mostly zeros is scored as sparse
# Window units added per unit of a category's share of the seeds (a paper in the categories
# of all of a reader's seeds gains this much). 0.5 was tuned on the bench's training period;
# on its test days it lifts author and curated readers alike, if only slightly (README,
# "Ranking"). It acts only when the seeds' categories are given.
CATEGORY_PRIOR = 0.5


def document_limits(n_documents: int) -> tuple[int, float]:
    """(min_df, max_df) for a window: arxiv-sanity's 5 and 0.1 on a large window.

    A small window (a new install, a test) would have almost no vocabulary with those, so
    it keeps rarer terms and more common ones.
    """
    if n_documents >= 10_000:
        return 5, 0.1
    if n_documents >= 1_000:
        return 2, 0.2
    return 1, 0.5


class TextModel:
    """A TF-IDF vectoriser fitted on a window of stored entries; picklable, so it is stored."""

    def __init__(self, vectoriser: object) -> None:
        self.vectoriser = vectoriser

    @classmethod
    def fit(cls, texts: Sequence[str]) -> TextModel:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not texts:
            raise ValueError("a text model needs at least one stored entry to fit on")
        min_df, max_df = document_limits(len(texts))
        vectoriser = TfidfVectorizer(**TFIDF_SETTINGS, min_df=min_df, max_df=max_df,
                                     dtype=np.float32)
        vectoriser.fit(texts)
        # Every pruned term of the window, kept only for introspection: megabytes in a pickle.
        if hasattr(vectoriser, "stop_words_"):
            vectoriser.stop_words_ = None
        return cls(vectoriser)

    @property
    def n_features(self) -> int:
        return len(self.vectoriser.vocabulary_)

    def vectors(self, texts: Sequence[str]) -> sp.csr_matrix:
        """One L2-normalised float32 row per text."""
        return self.vectoriser.transform(list(texts)).astype(np.float32).tocsr()

    def features_of(self, phrase: str) -> np.ndarray:
        """The vocabulary columns of a phrase's own words and bigrams (a keyword's terms)."""
        analyse = self.vectoriser.build_analyzer()
        vocabulary = self.vectoriser.vocabulary_
        return np.array(sorted({vocabulary[t] for t in analyse(phrase) if t in vocabulary}),
                        dtype=np.int64)


@dataclass
class Evidence:
    """Papers that say something about a reader: one TF-IDF row and one title each."""

    vectors: sp.csr_matrix
    titles: tuple[str, ...]

    @classmethod
    def none(cls, n_features: int) -> Evidence:
        return cls(sp.csr_matrix((0, n_features), dtype=np.float32), ())

    def __len__(self) -> int:
        return self.vectors.shape[0]


@dataclass
class Signals:
    """Everything a reader has told us. An unclicked paper is no signal, so it is absent."""

    seeds: Evidence              # the library, most recently added first
    more: Evidence               # "more like this" votes
    less: Evidence               # "less like this" votes
    statement: sp.csr_matrix | None = None  # "what I work on", one row
    keywords: tuple[tuple[str, np.ndarray], ...] = ()  # (keyword, its feature columns)
    seed_categories: tuple[tuple[str, ...], ...] = ()  # each seed's arXiv categories, if known


def signals_from_texts(text_model: TextModel, *, seeds: Sequence[tuple[str, str]] = (),
                       more: Sequence[tuple[str, str]] = (),
                       less: Sequence[tuple[str, str]] = (), statement: str = "",
                       keywords: Sequence[str] = (),
                       seed_categories: Sequence[Sequence[str]] = ()) -> Signals:
    """Signals from (title, title+abstract) pairs, as the stored entries and library give them."""

    def evidence(items: Sequence[tuple[str, str]]) -> Evidence:
        if not items:
            return Evidence.none(text_model.n_features)
        return Evidence(text_model.vectors([t for _, t in items]), tuple(x for x, _ in items))

    said = text_model.vectors([statement]) if statement.strip() else None
    found = tuple((k, text_model.features_of(k)) for k in keywords)
    return Signals(evidence(seeds), evidence(more), evidence(less), said,
                   tuple((k, f) for k, f in found if len(f)),
                   tuple(tuple(c) for c in seed_categories))


@dataclass
class ReaderModel:
    """A reader's dense weight vector and bias over the text model's features."""

    weights: np.ndarray          # float32, one per feature
    bias: float
    keywords: tuple[str, ...] = ()
    anchors: sp.csr_matrix | None = None  # seeds and "more" papers, for reasons
    anchor_kinds: tuple[str, ...] = ()    # "library" or "more", one per anchor
    anchor_titles: tuple[str, ...] = ()
    uses_svm: bool = False
    positives: int = 0
    categories: tuple[tuple[str, float], ...] = ()  # (category, boost): the category prior

    def score(self, day: sp.csr_matrix,
              categories: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """This reader's score of each row of a day (as one row of ``score_batch``);
        ``categories`` are the day's papers' categories, for the category prior."""
        return score_batch([self], day, categories)[0]


def category_weights(seed_categories: Sequence[Sequence[str]],
                     prior: float) -> tuple[tuple[str, float], ...]:
    """Each category's boost: ``prior`` × the share of the seeds that carry it, commonest
    first. A paper gains the boosts of all its categories."""
    if not prior or not seed_categories:
        return ()
    counts: dict[str, int] = {}
    for categories in seed_categories:
        for category in set(categories):
            counts[category] = counts.get(category, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple((c, prior * n / len(seed_categories)) for c, n in ranked)


def recency_weights(n: int) -> np.ndarray:
    """zotero-arxiv-daily: the paper added k-th most recently weighs 1/(1+log10(k+1))."""
    ranks = np.arange(n, dtype=np.float64)
    return 1.0 / (1.0 + np.log10(ranks + 1.0))


def _unit_scale(scores: np.ndarray) -> float:
    spread = float(np.std(scores))
    return spread if spread > 1e-12 else 1.0


def _centroid(signals: Signals, recency: bool) -> tuple[sp.csr_matrix, np.ndarray]:
    """The positive rows and their weights: seeds (recent ones heavier), statement, "more"."""
    rows: list[sp.csr_matrix] = []
    weights: list[np.ndarray] = []
    if len(signals.seeds):
        rows.append(signals.seeds.vectors)
        n = len(signals.seeds)
        weights.append(recency_weights(n) if recency else np.ones(n))
    if signals.statement is not None:
        rows.append(signals.statement)
        weights.append(np.ones(1))
    if len(signals.more):
        rows.append(signals.more.vectors)
        weights.append(np.ones(len(signals.more)))
    if signals.keywords:  # the keywords as one pseudo-document of their terms
        n_features = (rows[0] if rows else signals.seeds.vectors).shape[1]
        columns = np.unique(np.concatenate([f for _, f in signals.keywords]))
        doc = sp.csr_matrix((np.ones(len(columns), dtype=np.float32),
                             (np.zeros(len(columns), dtype=np.int64), columns)),
                            shape=(1, n_features))
        rows.append(doc.multiply(1.0 / math.sqrt(len(columns))).tocsr())
        weights.append(np.ones(1))
    if not rows:
        return sp.csr_matrix((0, signals.seeds.vectors.shape[1]), dtype=np.float32), np.ones(0)
    return sp.vstack(rows).tocsr(), np.concatenate(weights)


def fit_reader(signals: Signals, window: sp.csr_matrix, *, seed: int = 0,
               recency: bool = False, blend: float = BLEND,
               category_prior: float = CATEGORY_PRIOR) -> ReaderModel:
    """The reader's model from its signals; ``window`` is recent stored entries' rows.

    Start from the weighted mean of the positives (minus a share of the "less" votes), add
    arxiv-sanity-lite's LinearSVC once there are enough positives (negatives: the "less"
    votes and a sample of the window) and blend the two in window units. With a
    ``category_prior`` the seeds' commonest categories add a boost (``category_weights``).
    """
    n_features = window.shape[1]
    positives, weights = _centroid(signals, recency)
    if window.shape[0] > SVM_NEGATIVES:
        rng = np.random.default_rng(seed)
        sample = window[rng.choice(window.shape[0], size=SVM_NEGATIVES, replace=False)]
    else:  # a small window is its own sample
        sample = window
    if positives.shape[0] == 0:  # nothing said yet: every paper scores 0, listing order stands
        return ReaderModel(np.zeros(n_features, dtype=np.float32), 0.0)

    mean = np.asarray(positives.T @ (weights / weights.sum())).ravel()
    if len(signals.less):
        mean -= LESS_WEIGHT * np.asarray(signals.less.vectors.mean(axis=0)).ravel()
    on_window = np.asarray(sample @ mean).ravel()
    scale = _unit_scale(on_window)
    boundary = float(np.quantile(on_window, CENTROID_BOUNDARY)) if len(on_window) else 0.0
    w = mean / scale
    b = -boundary / scale
    uses_svm = positives.shape[0] >= MIN_SVM_POSITIVES and sample.shape[0] > 0
    if uses_svm:
        w_svm, b_svm = _svm(positives, signals.less, sample)
        w, b = blend * w + (1 - blend) * w_svm, blend * b + (1 - blend) * b_svm
    for _, columns in signals.keywords:
        w[columns] += KEYWORD_BOOST
    anchors = [e for e in (signals.seeds, signals.more) if len(e)]
    return ReaderModel(
        w.astype(np.float32), float(b), tuple(k for k, _ in signals.keywords),
        sp.vstack([e.vectors for e in anchors]).tocsr() if anchors else None,
        ("library",) * len(signals.seeds) + ("more",) * len(signals.more),
        signals.seeds.titles + signals.more.titles, uses_svm, positives.shape[0],
        category_weights(signals.seed_categories, category_prior))


def _svm(positives: sp.csr_matrix, less: Evidence,
         sample: sp.csr_matrix) -> tuple[np.ndarray, float]:
    """LinearSVC(C=0.1, balanced) in window units: its own boundary stays at 0."""
    from sklearn.svm import LinearSVC

    # A sampled window paper that is one of the positives (a seed is a stored entry too)
    # would be the same row labelled both ways.
    same = np.asarray((sample @ positives.T).max(axis=1).todense()).ravel() > 0.999
    negatives = sample[~same]
    rows = sp.vstack([positives, less.vectors, negatives]).tocsr()
    labels = np.concatenate([np.ones(positives.shape[0]), np.zeros(len(less) + negatives.shape[0])])
    weights = np.concatenate([np.ones(positives.shape[0]), np.full(len(less), LESS_SAMPLE_WEIGHT),
                              np.ones(negatives.shape[0])])
    model = LinearSVC(C=SVM_C, class_weight="balanced")
    model.fit(rows, labels, sample_weight=weights)
    coef = model.coef_.ravel()
    scale = _unit_scale(np.asarray(sample @ coef).ravel())
    return coef / scale, float(model.intercept_[0]) / scale


def score_batch(models: Sequence[ReaderModel], day: sp.csr_matrix,
                categories: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """(readers × papers) scores: the day's sparse rows times every reader's weights at once.

    ``categories`` (each paper's, in the day's order) turn on the models' category priors:
    a second, small product of the day's category indicators and the readers' boosts.
    """
    if not models:
        return np.zeros((0, day.shape[0]), dtype=np.float32)
    bias = np.array([m.bias for m in models], dtype=np.float32)
    found = [np.flatnonzero(m.weights) for m in models]
    if sum(len(f) for f in found) < SPARSE_SHARE * day.shape[1] * len(models):
        # Mostly centroid models (keywords, a few seeds): a sparse product skips the zeros.
        weights = sp.csc_matrix(
            (np.concatenate([m.weights[f] for m, f in zip(models, found, strict=True)]),
             np.concatenate(found), np.cumsum([0, *(len(f) for f in found)])),
            shape=(day.shape[1], len(models)))
        scores = np.asarray((day @ weights).toarray(), dtype=np.float32).T + bias[:, None]
    else:
        dense = np.empty((day.shape[1], len(models)), dtype=np.float32)
        for j, model in enumerate(models):
            dense[:, j] = model.weights
        scores = np.asarray(day @ dense).T + bias[:, None]
    if categories is not None and any(m.categories for m in models):
        scores += _category_boosts(models, categories)
    return scores


def _category_boosts(models: Sequence[ReaderModel],
                     categories: Sequence[Sequence[str]]) -> np.ndarray:
    """(readers × papers): each paper's summed boosts of its categories, per reader."""
    column: dict[str, int] = {}
    rows, cols = [], []
    for i, paper in enumerate(categories):
        for category in set(paper):
            rows.append(i)
            cols.append(column.setdefault(category, len(column)))
    indicator = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                              shape=(len(categories), len(column)))
    boosts = np.zeros((len(column), len(models)), dtype=np.float32)
    for j, model in enumerate(models):
        for category, boost in model.categories:
            if category in column:
                boosts[column[category], j] = boost
    return np.asarray(indicator @ boosts).T


@dataclass(frozen=True)
class Reason:
    """Why a paper scores: kind is "keyword", "library" or "more"; label the keyword or title."""

    kind: str
    label: str


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    # Word boundaries, and "-" or space alike: "long context" matches "long-context".
    words = [re.escape(w) for w in re.split(r"[\s-]+", keyword.strip()) if w]
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(words) + r"(?!\w)", re.IGNORECASE)


def keyword_reasons(keywords: Sequence[str], texts: Sequence[str]) -> list[Reason | None]:
    """For each title+abstract: the first of the keywords it matches, else None."""
    patterns = [(k, _keyword_pattern(k)) for k in keywords]
    found: list[Reason | None] = []
    for text in texts:
        keyword = next((k for k, p in patterns if p.search(text)), None)
        found.append(Reason("keyword", keyword) if keyword is not None else None)
    return found


def reasons(model: ReaderModel, vectors: sp.csr_matrix,
            texts: Sequence[str]) -> list[Reason | None]:
    """For each paper (its row and its title+abstract): the keyword it matches, else the
    seed or "more" paper closest to it by cosine, else None."""
    closest = best = None
    if model.anchors is not None and model.anchors.shape[0]:
        similarity = (vectors @ model.anchors.T).toarray()
        closest, best = similarity.argmax(axis=1), similarity.max(axis=1)
    found: list[Reason | None] = []
    for i, keyword in enumerate(keyword_reasons(model.keywords, texts)):
        if keyword is not None:
            found.append(keyword)
        elif closest is not None and best[i] >= MIN_REASON_COSINE:
            n = int(closest[i])
            found.append(Reason(model.anchor_kinds[n], model.anchor_titles[n]))
        else:
            found.append(None)
    return found


def uncertain(scores: np.ndarray, k: int = 2, exclude: Sequence[int] = ()) -> list[int]:
    """The k papers nearest the model's boundary (score 0), for the exploration slots."""
    distance = np.abs(np.asarray(scores, dtype=np.float64))
    distance[list(exclude)] = np.inf
    order = np.argsort(distance, kind="stable")
    return [int(i) for i in order[:k] if np.isfinite(distance[i])]
