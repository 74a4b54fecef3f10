"""Shared fixtures. Servers started here listen on 127.0.0.1 only and stop with the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FEEDS = REPO.parent / "shared" / "feeds"
DEMO_FEEDS = REPO / "demo" / "feeds"
# In CI a missing resource is a failure, never a quiet skip.
# The loopback servers' fixtures, for every test module.
pytest_plugins = ["feedserver", "smtpserver", "llm_server", "imapserver"]

STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with a reason where a resource is absent; fail instead under CI."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


RELEVANCE = REPO.parent / "shared" / "relevance"


def at_once(action, times: int) -> list[object]:  # type: ignore[no-untyped-def]
    """``action()`` in ``times`` threads let go together (a barrier): what each returned,
    or the exception it raised, in the order they ended."""
    import threading

    start = threading.Barrier(times)
    outcomes: list[object] = []

    def run() -> None:
        start.wait()
        try:
            outcomes.append(action())
        except Exception as err:  # the caller's assertion shows it
            outcomes.append(err)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def relevance_corpus(train_days: int, test_days: int):  # type: ignore[no-untyped-def]
    """The relevance corpus (read in place, with bench/ importable) and its last
    ``train_days`` training days and first ``test_days`` test days, as (date, rows) pairs."""
    import importlib.util
    import sys

    require(RELEVANCE.is_dir(), f"{RELEVANCE} is absent (it sits beside the repo)")
    require(importlib.util.find_spec("sklearn") is not None,
            "scikit-learn is absent: pip install -e .")
    if str(REPO / "bench") not in sys.path:
        sys.path.insert(0, str(REPO / "bench"))
    from relevance_data import CUTOFF, load_corpus

    corpus = load_corpus(RELEVANCE)
    train = [d for d in corpus.days if d[0] < CUTOFF][-train_days:]
    test = [d for d in corpus.days if d[0] >= CUTOFF][:test_days]
    return corpus, train, test


@pytest.fixture(scope="session")
def shared_feeds() -> Path:
    """The real feed documents in ../shared/feeds (test data read in place)."""
    require(SHARED_FEEDS.is_dir(), f"{SHARED_FEEDS} is absent (it sits beside the repo)")
    return SHARED_FEEDS


@pytest.fixture(scope="session")
def demo_feeds() -> Path:
    return DEMO_FEEDS


WEB_BASE = "https://digest.example.org"  # the settings' base_url in tests/world.py


@pytest.fixture
def client(world):
    """The web app of the module's ``world`` fixture, in process (no redirects followed)."""
    from fastapi.testclient import TestClient

    from digest_mailer.faces.web import create_app

    with TestClient(create_app(world.app), base_url=WEB_BASE, follow_redirects=False) as c:
        yield c


POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_ADMIN",
                                "host=127.0.0.1 port=5432 dbname=test user=postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, empty database: SQLite in tmp_path, or a new PostgreSQL database per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'digest.db'}"
        return
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as err:  # no server here: skip locally, fail in CI
        require(False, f"PostgreSQL at {POSTGRES_ADMIN!r} is not reachable: {err}")
        return
    name = f"dm_test_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        params = dict(p.split("=", 1) for p in POSTGRES_ADMIN.split())
        yield (f"postgresql+psycopg://{params.get('user', 'postgres')}@"
               f"{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
