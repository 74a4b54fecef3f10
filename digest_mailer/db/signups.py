"""Queries on sign-up requests and request counts. The caller commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col
from sqlmodel import select as model_select

from digest_mailer.db.engine import dialect_insert
from digest_mailer.db.models import RateCount, Signup

COUNTS = RateCount.__table__  # type: ignore[attr-defined]


def recent(session: Session, email: str, since: datetime) -> list[Signup]:
    """The address's sign-up emails sent since ``since``, newest first."""
    return list(session.exec(model_select(Signup).where(
        Signup.email == email, col(Signup.created_at) >= since)
        .order_by(col(Signup.created_at).desc())))


def by_public_id(session: Session, public_id: str) -> Signup | None:
    return session.exec(model_select(Signup).where(Signup.public_id == public_id)).first()


def forget_before(session: Session, before: datetime) -> None:
    """Requests older than every limit and every link's expiry go: the table holds only
    the last days' addresses."""
    session.execute(delete(Signup).where(col(Signup.created_at) < before))


def count(conn: Connection, key: str, now: datetime, window_start_after: datetime) -> int:
    """Count one request under ``key`` and return the count of its window, the row locked
    until the transaction ends. A window that started before ``window_start_after`` is over:
    the count starts again from this request."""
    conn.execute(dialect_insert(conn)(COUNTS).values(
        key=key, window_start=now, count=0).on_conflict_do_nothing())
    query = select(COUNTS).where(COUNTS.c.key == key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row: Any = conn.execute(query).one()
    if row.window_start < window_start_after:
        values = {"window_start": now, "count": 1}
    else:
        values = {"count": row.count + 1}
    conn.execute(COUNTS.update().where(COUNTS.c.key == key).values(**values))
    # Windows over long ago: the table stays as small as the set of recent clients.
    conn.execute(delete(COUNTS).where(COUNTS.c.window_start < window_start_after,
                                      COUNTS.c.key != key))
    return int(values["count"])


def window_start(conn: Connection, key: str) -> datetime | None:
    return conn.execute(select(COUNTS.c.window_start).where(COUNTS.c.key == key)).scalar()
