"""Benchmark the public archive: `python bench/archive_bench.py --entries 30000 [--baseline DIR]`.

One SQLite database of N entries over the archive's 60 days (abstracts of ~1,500 characters,
five authors, one in ten an update), then, in a fresh process per code tree (this checkout,
and with ``--baseline`` the checkout at DIR, e.g. /work/main, against the same database):
the anonymous GETs of /archive (cold, then again), /archive/feed.atom and one day's page
through the web app, each with its milliseconds, and the memory the cold /archive took
(tracemalloc's peak of Python allocations, in a second fresh app; and how far the
process's peak RSS rose, 0 when the request stayed under the peak of the imports). Prints
one line per tree; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WORDS = ("diffusion model sparse attention graph neural protein folding transformer kernel "
         "causal inference benchmark robust retrieval latent").split()


def _settings(db: Path, tmp: Path) -> Any:
    from digest_mailer.settings import load_settings

    return load_settings(env_file=None, var_dir=tmp / "var", smtp_url="", secret_key="bench",
                         database_url=f"sqlite:///{db}", base_url="https://digest.example.org",
                         public_archive=True, auto_migrate=True)


def build(db: Path, entries: int) -> None:
    """The database, written with this checkout's models (the schema both trees share)."""
    from sqlmodel import Session

    from digest_mailer import db as store
    from digest_mailer.app import App
    from digest_mailer.db.models import Entry

    app = App(_settings(db, db.parent), clock=lambda: NOW)
    rng = random.Random(12)
    categories = [f"cs.{c}" for c in ("CV", "LG", "AI", "CL", "RO", "IR", "NE", "DS")]
    with Session(app.engine) as session:
        sources = [store.sources.add(session, f"https://feeds.example.org/{c}", c, c)
                   for c in categories]
        session.flush()
        for n in range(entries):
            source = sources[n % len(sources)]
            abstract = " ".join(rng.choice(WORDS) for _ in range(180))[:1500]
            session.add(Entry(
                key=f"2611.{n:05d}", source_id=source.id or 0,
                title=f"Paper {n} on {abstract[:60]}",
                abstract=abstract, authors=[f"Author {n}-{a}" for a in range(5)],
                link=f"https://arxiv.org/abs/2611.{n:05d}",
                categories=[source.category, rng.choice(categories)],
                announce_type="replace" if n % 10 == 0 else "new",
                first_seen=NOW - timedelta(days=rng.uniform(0, 59.5))))
            if n % 5000 == 4999:
                session.flush()
        session.commit()


def measure(db: Path) -> dict[str, Any]:
    """The figures of the tree on PYTHONPATH (this process imports it)."""
    from fastapi.testclient import TestClient

    from digest_mailer.app import App
    from digest_mailer.faces.web import create_app

    def client() -> TestClient:
        return TestClient(create_app(App(_settings(db, Path(tempfile.mkdtemp())),
                                         clock=lambda: NOW)),
                          base_url="https://digest.example.org")

    figures: dict[str, Any] = {}
    with client() as web:
        web.get("/healthz")  # imports and the engine, not the archive
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for name, path in (("archive_cold", "/archive"), ("archive_again", "/archive"),
                           ("feed", "/archive/feed.atom"),
                           ("day", f"/archive/{(NOW - timedelta(days=3)).date()}")):
            started = time.perf_counter()
            response = web.get(path)
            figures[f"{name}_ms"] = round((time.perf_counter() - started) * 1000, 1)
            assert response.status_code == 200, (path, response.status_code)
            if name == "archive_cold":
                figures["rss_growth_mb"] = round(
                    (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1)
        figures["cache_control"] = response.headers.get("cache-control", "")
    with client() as web:
        web.get("/healthz")
        tracemalloc.start()
        web.get("/archive")
        figures["archive_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--baseline", type=Path, help="another checkout, e.g. /work/main")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    trees = [("this", HERE)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "archive.db"
        started = time.perf_counter()
        build(db, args.entries)
        print(f"{args.entries} entries over 60 days written in "
              f"{time.perf_counter() - started:.1f} s")
        for name, tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run([sys.executable, __file__, "--measure", str(db)], env=env,
                                  cwd=tmp, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{name} ({tree}): failed\n{done.stderr}", file=sys.stderr)
                return 1
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{name:8} ({tree}): " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
