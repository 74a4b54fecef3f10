"""The offline relevance corpus (../shared/relevance/), read in place, and its TF-IDF features.

See that directory's README for the formats. Nothing is copied into the repository: the
TF-IDF matrices are cached under $TMPDIR, keyed by the corpus file's size and mtime.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

CUTOFF = "2026-01-01"  # days before it train, days on or after it are ranked
DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "relevance"

# arxiv-sanity-lite compute.py's vectoriser, with the README's 20,000 / 5 / 0.1.
TFIDF_SETTINGS = {
    "input": "content", "encoding": "utf-8", "decode_error": "replace",
    "strip_accents": "unicode", "lowercase": True, "analyzer": "word",
    "stop_words": "english", "token_pattern": r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
    "ngram_range": (1, 2), "max_features": 20_000, "norm": "l2", "use_idf": True,
    "smooth_idf": True, "sublinear_tf": True, "max_df": 0.1, "min_df": 5,
}
CONDITIONS = ("content", "authors")  # title+abstract; title+abstract+author names


@dataclass(frozen=True)
class Paper:
    """One listed paper, shaped as the product's selection reads an entry."""

    key: str
    date: str
    title: str
    abstract: str
    categories: list[str]
    authors: list[str]
    announce_type: str = "new"  # from 2026 the stream carries primary listings only


@dataclass(frozen=True)
class Reader:
    name: str
    seeds: tuple[str, ...]
    relevant: dict[str, int]  # id -> grade (1 for curated; 2 own, 1 co-author's)
    topic: str = ""


@dataclass
class Corpus:
    root: Path
    papers: list[Paper]
    row: dict[str, int]  # paper id -> row in papers (and in the feature matrices)
    days: list[tuple[str, np.ndarray]]  # (date, rows in the day file's order)

    @property
    def train_rows(self) -> np.ndarray:
        return np.array([i for i, p in enumerate(self.papers) if p.date < CUTOFF])

    @property
    def test_days(self) -> list[tuple[str, np.ndarray]]:
        return [(d, rows) for d, rows in self.days if d >= CUTOFF]


def load_corpus(root: Path = DEFAULT_ROOT) -> Corpus:
    papers: list[Paper] = []
    with gzip.open(root / "papers.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            p = json.loads(line)
            papers.append(Paper(p["id"], p["date"], p["title"], p["abstract"],
                                p["categories"], p["authors"]))
    row = {p.key: i for i, p in enumerate(papers)}
    days = []
    for path in sorted((root / "days").glob("*.ids")):
        ids = path.read_text().split()
        days.append((path.stem, np.array([row[i] for i in ids], dtype=np.int64)))
    return Corpus(root, papers, row, days)


def load_readers(root: Path, which: str) -> list[Reader]:
    """``which`` is "curated" or "authors"."""
    readers = []
    for line in (root / f"readers_{which}.jsonl").read_text().splitlines():
        r = json.loads(line)
        relevant = r["relevant"]
        if isinstance(relevant, list):  # curated: every listed paper counts once
            relevant = dict.fromkeys(relevant, 1)
        readers.append(Reader(r["reader"], tuple(r["seeds"]), relevant, r.get("topic", "")))
    return readers


def text_of(paper: Paper, condition: str) -> str:
    """What the vectoriser reads: arxiv-sanity-lite joins title, summary and author names."""
    parts = [paper.title, paper.abstract]
    if condition == "authors":
        parts.append(" ".join(paper.authors))
    return " ".join(parts)


def _cache_path(root: Path, condition: str) -> Path:
    stat = (root / "papers.jsonl.gz").stat()
    settings = json.dumps(TFIDF_SETTINGS, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:{condition}:{settings}"
                            .encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "digest-mailer-relevance" / f"tfidf-{digest}.npz"


def features(corpus: Corpus, condition: str) -> tuple[sp.csr_matrix, float, bool]:
    """Every paper's TF-IDF row, the vectoriser fitted on training-period papers only.

    Returns the matrix, the seconds spent and whether it came from the cache.
    """
    started = time.perf_counter()
    cache = _cache_path(corpus.root, condition)
    if cache.exists():
        return sp.load_npz(cache).tocsr(), time.perf_counter() - started, True
    matrix = fit_features(corpus, condition)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".part.npz")
    sp.save_npz(partial, matrix)
    partial.replace(cache)  # a killed run never leaves half a cache behind
    return matrix, time.perf_counter() - started, False


def fit_features(corpus: Corpus, condition: str) -> sp.csr_matrix:
    """The TF-IDF rows of ``corpus`` as given (also a slice of it), without the cache."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [text_of(p, condition) for p in corpus.papers]
    vectoriser = TfidfVectorizer(**TFIDF_SETTINGS)
    vectoriser.fit([texts[i] for i in corpus.train_rows])
    return vectoriser.transform(texts).astype(np.float32).tocsr()
