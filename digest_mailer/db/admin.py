"""Queries on the admin's sessions and the failed-login counts. The caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Row

from digest_mailer.db.engine import dialect_insert
from digest_mailer.db.models import AdminSession, LoginThrottle

SESSIONS = AdminSession.__table__  # type: ignore[attr-defined]
THROTTLE = LoginThrottle.__table__  # type: ignore[attr-defined]


# --- sessions --------------------------------------------------------------------------

def add_session(conn: Connection, token_hash: str, password_hash: str, client: str,
                now: datetime, expires_at: datetime) -> None:
    """A new session; the expired ones go at the same time."""
    conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at <= now))
    conn.execute(SESSIONS.insert().values(
        token_hash=token_hash, password_hash=password_hash, client=client,
        created_at=now, expires_at=expires_at))


def session_of(conn: Connection, token_hash: str) -> Row[Any] | None:
    """(password_hash, expires_at) of the session with this token hash."""
    return conn.execute(select(SESSIONS.c.password_hash, SESSIONS.c.expires_at).where(
        SESSIONS.c.token_hash == token_hash)).first()


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == token_hash))


# --- login throttle --------------------------------------------------------------------

def forget_idle(conn: Connection, keep: str, before: datetime, now: datetime) -> None:
    """Drop the counts (but ``keep``'s) whose last failure is before ``before`` and that
    block nobody now: the table stays as small as the set of recent guessers."""
    conn.execute(delete(THROTTLE).where(
        THROTTLE.c.key != keep, THROTTLE.c.last_failure_at < before,
        (THROTTLE.c.blocked_until.is_(None)) | (THROTTLE.c.blocked_until < now)))


def lock_counts(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The counts of ``keys`` (created at zero), locked until the transaction ends.

    The INSERT takes SQLite's write lock, FOR UPDATE PostgreSQL's row locks: the caller's
    read-modify-write is serialised between processes.
    """
    conn.execute(dialect_insert(conn)(THROTTLE).values(
        [{"key": k, "failures": 0} for k in keys]).on_conflict_do_nothing())
    query = select(THROTTLE).where(THROTTLE.c.key.in_(list(keys)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.key: dict(row._mapping) for row in conn.execute(query)}


def save_count(conn: Connection, key: str, failures: int, last_failure_at: datetime | None,
               blocked_until: datetime | None) -> None:
    conn.execute(THROTTLE.update().where(THROTTLE.c.key == key).values(
        failures=failures, last_failure_at=last_failure_at, blocked_until=blocked_until))


def forgive(conn: Connection, address: str, account: str) -> None:
    """A right password: the address's count goes; the account's loses one failure."""
    conn.execute(delete(THROTTLE).where(THROTTLE.c.key == address))
    conn.execute(THROTTLE.update().where(
        THROTTLE.c.key == account, THROTTLE.c.failures > 0).values(
        failures=THROTTLE.c.failures - 1))
