"""Dense rankers for the relevance bench (``--dense``): wordllama's bundled 256-d embeddings.

Issue 10 allows a dense embedding only if a PyPI package ships its weights, so nothing is
downloaded at run time. ``wordllama`` carries its "l2_supercat" weights and tokenizer inside
the wheel; it is a bench-only extra, never a dependency of the product, and is imported
only here, only with ``--dense``.

Content only (title + abstract, embedded once per paper, L2-normalised, cached under
$TMPDIR keyed by the corpus file and the package version):

- ``dense-mean``: cosine to the mean of the seeds' embeddings;
- ``dense-mean centred``: the same after subtracting the training papers' mean embedding
  (mean-pooled word vectors share a large common direction) and renormalising;
- ``dense-svm``: LinearSVC on the embeddings with the svm baseline's settings;
- ``model + dense W``: the digest-mailer model (``fit_reader``, no category prior) plus W ×
  the centred dense cosine in window units (its spread over the window's papers), W tuned on the
  training period only, as ``relevance_prior`` tunes the category prior.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from relevance_data import Corpus, Reader, text_of
from relevance_model import ModelRanker
from relevance_prior import INNER_CUTOFF, MARGIN, Scores, Split
from relevance_rankers import DayOrder, MeanRanker, SvmRanker, order_by

GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # dense weight, window units per window unit
MISSING = ("--dense needs the wordllama package (a bench-only extra, not a product "
           "dependency): pip install wordllama")


class Embedded:
    """Every paper's unit-length embedding, and how it was obtained."""

    def __init__(self, matrix: np.ndarray, seconds: float, cached: bool, version: str) -> None:
        self.matrix, self.seconds, self.cached, self.version = matrix, seconds, cached, version


def load_model() -> tuple[Any, str]:
    """wordllama's bundled model, read from the installed package with downloads disabled.

    ``WordLlama.load`` looks for the bundled tokenizer under ``wordllama/tokenizer/`` but
    the wheel ships it in ``wordllama/tokenizers/``, so by default it would fetch it from
    Hugging Face; the package directory as ``cache_dir`` finds both bundled files.
    """
    try:
        import wordllama
    except ImportError as error:
        raise SystemExit(MISSING) from error
    package = Path(wordllama.__file__).parent
    return wordllama.WordLlama.load(cache_dir=package, disable_download=True), \
        wordllama.__version__


def _cache_path(corpus: Corpus, version: str) -> Path:
    stat = (corpus.root / "papers.jsonl.gz").stat()
    # The ids too: a slice of the corpus (the tests') must not read the whole corpus's rows.
    ids = hashlib.sha256("\n".join(p.key for p in corpus.papers).encode()).hexdigest()
    key = f"{stat.st_size}:{stat.st_mtime_ns}:{ids}:content:wordllama {version} l2_supercat 256"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "digest-mailer-relevance" / f"wordllama-{digest}.npy"


def embed(corpus: Corpus) -> Embedded:
    """Title + abstract of every paper, embedded once (or read from the $TMPDIR cache)."""
    model, version = load_model()
    cache = _cache_path(corpus, version)
    started = time.perf_counter()
    if cache.exists():
        return Embedded(np.load(cache), time.perf_counter() - started, True, version)
    texts = [text_of(p, "content") for p in corpus.papers]
    matrix = model.embed(texts, norm=True).astype(np.float32)
    took = time.perf_counter() - started
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".part.npy")
    np.save(partial, matrix)
    partial.replace(cache)  # a killed run never leaves half a cache behind
    return Embedded(matrix, took, False, version)


class DenseMean(MeanRanker):
    name, candidate = "dense-mean", True


class DenseCentred(MeanRanker):
    name, candidate = "dense-mean centred", True


def centred(corpus: Corpus, matrix: np.ndarray) -> np.ndarray:
    """Rows minus the training papers' mean row, back to unit length (training statistics
    only)."""
    shifted = matrix - matrix[corpus.train_rows].mean(axis=0)
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.maximum(norms, 1e-12)).astype(np.float32)


class DenseSvm(SvmRanker):
    name, candidate = "dense-svm", True


def _centroid(matrix: np.ndarray, rows: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The seeds' mean direction divided by its cosines' spread over the window: the dense
    score in window units, as ``fit_reader`` scales its own scorers."""
    mean = matrix[rows].mean(axis=0)
    spread = float(np.std(window @ mean))
    return (mean / (spread if spread > 1e-12 else 1.0)).astype(np.float32)


class BlendRanker:
    """The model's score plus ``weight`` × the dense cosine to the seeds, in window units."""

    text, candidate = "content", True

    def __init__(self, model: ModelRanker, dense: np.ndarray, weight: float) -> None:
        self.model, self.weight = model, weight
        self.name = f"model + dense {weight:g}"
        self.dense = dense
        self.window = dense[model.corpus.train_rows]
        self.day_dense = [dense[rows] for _, rows in model.corpus.test_days]

    def for_reader(self, reader: Reader) -> DayOrder:
        fitted = self.model.model(reader)
        rows = np.array([self.model.corpus.row[s] for s in reader.seeds], dtype=np.int64)
        c = self.weight * _centroid(self.dense, rows, self.window)
        return lambda day, _rows: order_by(
            fitted.score(self.model.day_matrices[day]) + self.day_dense[day] @ c)


def tune(corpus: Corpus, model: ModelRanker, dense: np.ndarray,
         reader_sets: dict[str, Sequence[Reader]],
         inner_cutoff: str = INNER_CUTOFF) -> dict[str, tuple[int, list[float]]]:
    """Reader set -> (readers used, macro nDCG@10 for each ``GRID`` weight), on the
    training split of ``relevance_prior.Split``; no test day is read."""
    split = Split(corpus, model.matrix, inner_cutoff)
    window = dense[split.early]
    day_dense = [dense[rows] for _, rows in split.days]

    def trial(reader: Reader, library: tuple[str, ...],
              held: dict[int, list[int]]) -> list[list[Scores]]:
        fitted = model.fit(reader, model.signals(library), split.window)
        rows = np.array([corpus.row[s] for s in library], dtype=np.int64)
        c = _centroid(dense, rows, window)
        # Both parts once per held-out day; each weight only adds them differently.
        base = {day: fitted.score(split.matrices[day]) for day in held}
        extra = {day: day_dense[day] @ c for day in held}
        return [split.scores(held, lambda day, w=weight: base[day] + w * extra[day])
                for weight in GRID]

    return split.tune(reader_sets, len(GRID), trial)


def choose(tuned: dict[str, tuple[int, list[float]]]) -> float:
    """The nonzero weight best for author readers whose curated cost stays under MARGIN
    (the category prior's rule)."""
    authors = tuned["authors"][1]
    curated = tuned.get("curated", (0, [0.0] * len(GRID)))[1]
    allowed = [n for n in range(1, len(GRID)) if curated[n] > curated[0] - MARGIN]
    return GRID[max(allowed or range(1, len(GRID)), key=lambda n: authors[n])]


def print_tuning(tuned: dict[str, tuple[int, list[float]]], weight: float, note: str) -> None:
    print(f"\ndense blend weight, tuned on the training period only (the category prior's "
          f"split); nDCG@10 of model + W x dense cosine, both in window units{note}")
    print(f"{'readers':<22}" + "".join(f"{v:>8g}" for v in GRID))
    print("-" * (22 + 8 * len(GRID)))
    for set_name, (used, values) in tuned.items():
        print(f"{f'{set_name} ({used})':<22}" + "".join(f"{v:>8.3f}" for v in values))
    print(f"chosen: {weight:g} (best nonzero for authors, curated within {MARGIN})")


def dense_rankers(corpus: Corpus, model: ModelRanker,
                  tuning_sets: dict[str, Sequence[Reader]], seed: int, note: str) -> list:
    """The four dense rankers, after embedding the corpus and tuning the blend weight."""
    embedded = embed(corpus)
    per_thousand = 1000 * embedded.seconds / len(corpus.papers)
    how = ("read from the $TMPDIR cache" if embedded.cached
           else f"embedded ({per_thousand:.2f} s per 1,000 papers)")
    print(f"wordllama {embedded.version} l2_supercat ({embedded.matrix.shape[1]}-d, bundled "
          f"weights, downloads disabled): {len(corpus.papers):,} papers {how} in "
          f"{embedded.seconds:.1f} s")
    shifted = centred(corpus, embedded.matrix)
    tuned = tune(corpus, model, shifted, tuning_sets)
    weight = choose(tuned)
    print_tuning(tuned, weight, note)
    return [DenseMean(corpus, embedded.matrix, "content"),
            DenseCentred(corpus, shifted, "content"),
            DenseSvm(corpus, embedded.matrix, "content", seed),
            BlendRanker(model, shifted, weight)]
