"""The database: engine, models, migrations and one query module per table.

Callers write ``db.subscribers.by_email(session, ...)``. Each module is imported on its
first use, so a command that reads one table loads one query module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest_mailer.db import (
        admin,
        briefings,
        deliveries,
        engine,
        entries,
        library,
        messages,
        rankings,
        rows,
        runs,
        signups,
        sources,
        statuses,
        subscribers,
        votes,
    )

__all__ = ["admin", "briefings", "deliveries", "engine", "entries", "library", "messages",
           "rankings", "rows", "runs", "signups", "sources", "statuses", "subscribers", "votes"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'digest_mailer.db' has no attribute {name!r}")
    return import_module(f"digest_mailer.db.{name}")  # importing binds it here: once
