"""Text and reader models to bytes and back, for the database: numpy arrays and JSON only.

No pickle: a stored model is data, and loading it runs no code (``allow_pickle=False``).
A text model is its vocabulary in column order and its IDF weights; a reader model its
weight vector, bias and the anchors its reasons quote.
"""

from __future__ import annotations

import io
import json

import numpy as np
import scipy.sparse as sp

from digest_mailer.domain.ranking import TFIDF_SETTINGS, ReaderModel, TextModel


def _pack(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _unpack(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def _text(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)


def _json(array: np.ndarray) -> object:
    return json.loads(array.tobytes().decode("utf-8"))


def text_model_bytes(model: TextModel) -> bytes:
    vocabulary = model.vectoriser.vocabulary_
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    return _pack(terms=_text(terms), idf=np.asarray(model.vectoriser.idf_, dtype=np.float64))


def text_model_from(data: bytes) -> TextModel:
    from sklearn.feature_extraction.text import TfidfVectorizer

    stored = _unpack(data)
    vectoriser = TfidfVectorizer(**TFIDF_SETTINGS | {"max_features": None},
                                 vocabulary=_json(stored["terms"]), dtype=np.float32)
    vectoriser.idf_ = stored["idf"]
    return TextModel(vectoriser)


def reader_model_bytes(model: ReaderModel) -> bytes:
    anchors = model.anchors if model.anchors is not None else sp.csr_matrix(
        (0, len(model.weights)), dtype=np.float32)
    meta = {"bias": model.bias, "keywords": list(model.keywords),
            "anchor_kinds": list(model.anchor_kinds),
            "anchor_titles": list(model.anchor_titles), "uses_svm": model.uses_svm,
            "positives": model.positives}
    return _pack(weights=model.weights.astype(np.float32), meta=_text(meta),
                 anchor_data=anchors.data.astype(np.float32), anchor_indices=anchors.indices,
                 anchor_indptr=anchors.indptr, anchor_shape=np.array(anchors.shape))


def reader_model_from(data: bytes) -> ReaderModel:
    stored = _unpack(data)
    meta = _json(stored["meta"])
    assert isinstance(meta, dict)
    shape = tuple(int(n) for n in stored["anchor_shape"])
    anchors = sp.csr_matrix((stored["anchor_data"], stored["anchor_indices"],
                             stored["anchor_indptr"]), shape=shape)
    return ReaderModel(stored["weights"], float(meta["bias"]), tuple(meta["keywords"]),
                       anchors if shape[0] else None, tuple(meta["anchor_kinds"]),
                       tuple(meta["anchor_titles"]), bool(meta["uses_svm"]),
                       int(meta["positives"]))
