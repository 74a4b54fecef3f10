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
pytest_plugins = ["feedserver", "smtpserver", "llm_server"]

STRICT = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with a reason where a resource is absent; fail instead under CI."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_feeds() -> Path:
    """The real feed documents in ../shared/feeds (test data read in place)."""
    require(SHARED_FEEDS.is_dir(), f"{SHARED_FEEDS} is absent (it sits beside the repo)")
    return SHARED_FEEDS


@pytest.fixture(scope="session")
def demo_feeds() -> Path:
    return DEMO_FEEDS
