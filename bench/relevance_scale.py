"""Scoring at 100,000 readers, in a process of its own, as the worker would score them.

The bench writes the weight vectors and biases of a few hundred real fitted readers and one
real test day's TF-IDF rows to a temporary directory, then runs this module as a fresh
Python process (``python relevance_scale.py DIR READERS BATCH``): it builds READERS
``ReaderModel``s by reusing those weight vectors cyclically (views, no copies), scores them
send batch by send batch with ``score_batch`` (BATCH is the worker's
``DIGEST_SEND_BATCH_SIZE``), keeps each reader's top 20 as a digest needs, and prints the
wall time and its own peak RSS (VmHWM) as JSON. That RSS is what scoring costs a worker:
the libraries, one day, the model weights and one batch, without the bench's corpus.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

READERS = 100_000
TARGET_MS, TARGET_MB = 1.0, 400  # issue 10: ms per digest amortised; the worker's memory
TOP = 20


def send_batch_size() -> int:
    from digest_mailer.settings import Settings

    return int(Settings.model_fields["send_batch_size"].default)


def peak_rss_mb() -> float:
    """This process's peak RSS (getrusage; it carries over a parent's across fork+exec)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def own_peak_rss_mb() -> float:
    """The peak RSS of this process image alone: VmHWM starts afresh at exec, unlike
    getrusage's ru_maxrss, which a child inherits from the bench that started it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def measure(models: list, day: sp.csr_matrix, readers: int = READERS,
            batch: int | None = None) -> dict[str, float]:
    """Run the scoring process on ``models`` (real fits) × ``day``; its JSON figures."""
    batch = batch or send_batch_size()
    with tempfile.TemporaryDirectory(prefix="relevance-scale-") as tmp:
        np.save(Path(tmp) / "weights.npy", np.stack([m.weights for m in models]))
        np.save(Path(tmp) / "bias.npy", np.array([m.bias for m in models], dtype=np.float32))
        sp.save_npz(Path(tmp) / "day.npz", day)
        repo = str(Path(__file__).resolve().parent.parent)
        done = subprocess.run([sys.executable, __file__, tmp, str(readers), str(batch)],
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": repo})
    figures = json.loads(done.stdout)
    sizes = [len(pickle.dumps(m)) for m in models]
    figures.update(weights_bytes=models[0].weights.nbytes + 8, models=len(models),
                   pickled_bytes=float(np.median(sizes)), batch=batch)
    return figures


def print_scale(figures: dict[str, float], day_label: str, bench_rss: float) -> None:
    ms, rss = figures["ms_per_digest"], figures["peak_rss_mb"]
    print(f"\nscoring at {int(figures['readers']):,} readers (the fitted models of "
          f"{int(figures['models'])} real readers, reused cyclically), {day_label}, send "
          f"batches of {int(figures['batch'])} (DIGEST_SEND_BATCH_SIZE), score_batch + each "
          f"reader's top {TOP}, in a fresh process:")
    print(f"{'figure':<44} {'measured':>12} {'target':>10}  verdict")
    print("-" * 78)
    rows = [("ms per digest, amortised", f"{ms:.3f}", f"<= {TARGET_MS:g}", ms <= TARGET_MS),
            ("total wall time", f"{figures['seconds']:.1f} s", "", None),
            ("peak RSS of the scoring process", f"{rss:.0f} MB", f"< {TARGET_MB}", rss < TARGET_MB),
            ("peak RSS of the bench process (corpus too)", f"{bench_rss:.0f} MB", "", None),
            ("model size: weights + bias", f"{int(figures['weights_bytes']):,} B", "", None),
            ("model size: pickled ReaderModel (median)",
             f"{int(figures['pickled_bytes']):,} B", "", None)]
    for label, value, target, ok in rows:
        verdict = "" if ok is None else ("met" if ok else "NOT met")
        print(f"{label:<44} {value:>12} {target:>10}  {verdict}")


def _score(tmp: Path, readers: int, batch: int) -> dict[str, float]:
    from digest_mailer.domain.ranking import ReaderModel, score_batch

    weights = np.load(tmp / "weights.npy")
    bias = np.load(tmp / "bias.npy")
    day = sp.load_npz(tmp / "day.npz").tocsr()
    models = [ReaderModel(weights[n % len(weights)], float(bias[n % len(bias)]))
              for n in range(readers)]
    score_batch(models[:batch], day)  # warm the libraries once, as a running worker is
    started = time.perf_counter()
    kept = 0
    for start in range(0, readers, batch):
        scores = score_batch(models[start:start + batch], day)
        top = np.argpartition(-scores, min(TOP, scores.shape[1] - 1), axis=1)[:, :TOP]
        kept += top.shape[0]
    took = time.perf_counter() - started
    assert kept == readers
    return {"readers": readers, "seconds": took, "ms_per_digest": 1000 * took / readers,
            "peak_rss_mb": own_peak_rss_mb(), "papers": day.shape[0]}


if __name__ == "__main__":
    print(json.dumps(_score(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
