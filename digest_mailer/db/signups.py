"""Queries on sign-up requests, request counts and abandoned sign-ups. The caller commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col
from sqlmodel import select as model_select

from digest_mailer.db.engine import dialect_insert, in_chunks
from digest_mailer.db.models import (
    Delivery,
    LibrarySeed,
    RateCount,
    ReaderMessage,
    ReaderModelRow,
    Signup,
    StatusChange,
    Subscriber,
    SubscriberStatus,
    Vote,
)

COUNTS = RateCount.__table__  # type: ignore[attr-defined]


def recent(session: Session, email: str, since: datetime) -> list[Signup]:
    """The address's sign-up emails sent since ``since``, newest first."""
    return list(session.exec(model_select(Signup).where(
        Signup.email == email, col(Signup.created_at) >= since)
        .order_by(col(Signup.created_at).desc())))


def by_public_id(session: Session, public_id: str) -> Signup | None:
    return session.exec(model_select(Signup).where(Signup.public_id == public_id)).first()


def forget_before(session: Session, before: datetime, unconfirmed_before: datetime) -> int:
    """Rows older than every limit go (``before``), but a confirmation nobody confirmed
    stays until ``unconfirmed_before`` (some days after its link expired), so its pending
    subscriber is known to be waiting until then. Returns the rows deleted."""
    unconfirmed = (col(Signup.kind) == "confirm") & col(Signup.confirmed_at).is_(None)
    result = session.execute(delete(Signup).where(
        (col(Signup.created_at) < unconfirmed_before)
        | ((col(Signup.created_at) < before) & ~unconfirmed)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_counts(conn: Connection, before: datetime, keep: str) -> int:
    """Count rows whose window started before ``before`` (over long ago), but ``keep``."""
    result = conn.execute(delete(COUNTS).where(COUNTS.c.window_start < before,
                                               COUNTS.c.key != keep))
    return int(result.rowcount or 0)


def abandoned(session: Session, reason: str, before: datetime) -> list[int]:
    """Pending subscribers the sign-up created (``reason``) before ``before`` who never
    became anything else and have no sign-up row left: nobody confirmed them. Anyone with
    a history, a digest, a vote, a reply, a seed or a model is left alone."""
    sid = col(Subscriber.id)
    others = [~exists().where(col(t.subscriber_id) == sid)  # type: ignore[attr-defined]
              for t in (Delivery, Vote, LibrarySeed, ReaderMessage, ReaderModelRow)]
    query = select(sid).where(
        col(Subscriber.status) == SubscriberStatus.PENDING,
        col(Subscriber.status_reason) == reason,
        func.coalesce(col(Subscriber.status_changed_at), col(Subscriber.created_at)) < before,
        ~exists().where(col(Signup.email) == col(Subscriber.email)),
        ~exists().where(col(StatusChange.subscriber_id) == sid,
                        col(StatusChange.status) != SubscriberStatus.PENDING),
        *others)
    return [int(i) for i in session.execute(query).scalars()]


def drop_subscribers(session: Session, ids: list[int]) -> None:
    """Delete these subscribers and their status history (:func:`abandoned`'s, whose
    history is only their sign-up)."""
    for chunk in in_chunks(ids):
        session.execute(delete(StatusChange).where(col(StatusChange.subscriber_id).in_(chunk)))
        session.execute(delete(Subscriber).where(col(Subscriber.id).in_(chunk)))


def count(conn: Connection, key: str, now: datetime, window_start_after: datetime, *,
          forget_others: bool = True) -> int:
    """Count one request under ``key`` and return the count of its window, the row locked
    until the transaction ends. A window that started before ``window_start_after`` is over:
    the count starts again from this request (and, with ``forget_others``, every other key's
    window over by then is deleted)."""
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
    if forget_others:  # windows over long ago: the table stays as small as the set of
        forget_counts(conn, window_start_after, keep=key)  # recent clients
    return int(values["count"])


def window_start(conn: Connection, key: str) -> datetime | None:
    return conn.execute(select(COUNTS.c.window_start).where(COUNTS.c.key == key)).scalar()
