"""The database engine (SQLite or PostgreSQL) and helpers every query module uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError

from digest_mailer.db import migrate


def make_engine(url: str, *, auto_migrate: bool | None = None,
                busy_timeout: float = 30.0) -> Engine:
    """An engine on a current schema; SQLite gets WAL and a busy timeout for the worker.

    The schema is upgraded here (Alembic) when ``auto_migrate`` is true, or is None and the
    database is SQLite; otherwise a database behind the code raises SchemaError.
    ``busy_timeout`` is how long a SQLite statement waits for another writer's lock.
    A database that cannot be reached, or has no driver, raises DatabaseUnavailable.
    """
    migrate.make_folder(url)
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as err:
        raise migrate.unavailable(url, err) from err
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            # With WAL, NORMAL survives a crash of the process; only a power loss can undo
            # the last commits (README: the duplicate window).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    migrate.prepare(engine, auto_migrate)
    return engine


# Batch reads for a send batch of many subscribers.
CHUNK = 900  # ids per IN (…): stays under SQLite's bound-parameter limit


def in_chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def dialect_insert(bind: Engine | Connection) -> Callable[..., Any]:
    """The INSERT with ON CONFLICT of the database behind ``bind`` (SQLite or PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    inserts = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    name = bind.dialect.name
    if name not in inserts:
        raise RuntimeError(f"digest-mailer runs on SQLite or PostgreSQL, not {name}")
    return inserts[name]
