"""Queries on sign-up requests, status history and request counts. The caller commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col
from sqlmodel import select as model_select

from digest_mailer.db.engine import dialect_insert
from digest_mailer.db.models import RateCount, Signup, StatusChange, Subscriber

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


def change_status(session: Session, subscriber: Subscriber, status: str, reason: str,
                  now: datetime) -> bool:
    """Set the status with why and when, and record the change in the history; False (and
    nothing recorded) when the subscriber already had it."""
    previous = subscriber.status
    if previous == status:
        return False
    subscriber.status, subscriber.status_reason, subscriber.status_changed_at = (
        status, reason, now)
    session.add(subscriber)
    session.flush()  # a new subscriber gets its id
    assert subscriber.id is not None
    session.add(StatusChange(subscriber_id=subscriber.id, previous=previous, status=status,
                             reason=reason, changed_at=now))
    return True


def first_status(session: Session, subscriber: Subscriber, reason: str, now: datetime) -> None:
    """Record a new subscriber's first status in the history (it has no previous one)."""
    session.flush()
    assert subscriber.id is not None
    session.add(StatusChange(subscriber_id=subscriber.id, previous=None,
                             status=subscriber.status, reason=reason, changed_at=now))


def history(session: Session, subscriber_id: int) -> list[StatusChange]:
    """A subscriber's status changes, oldest first."""
    return list(session.exec(model_select(StatusChange).where(
        StatusChange.subscriber_id == subscriber_id).order_by(col(StatusChange.id))))


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
