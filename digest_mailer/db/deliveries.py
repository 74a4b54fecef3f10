"""The Delivery ledger: the rows that make a send safe to repeat, and their claims.

A digest is a Delivery row, unique per (subscriber, local date). It is written already
claimed by the worker that will send it, re-stamped if it waited long, and marked with
the outcome right after the SMTP server answers. A worker that dies leaves a claim that
another takes over once it is ``claim_timeout`` old. Nothing here commits: the send
service commits each claim at once (so other workers see it) and each outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from digest_mailer.db.engine import dialect_insert, in_chunks
from digest_mailer.db.models import Delivery, DeliveryStatus

# Plain UPDATEs: the ORM's default evaluates each one against every object in the
# session (the batch's 2,000 entries), which cost more than the statement itself.
_PLAIN = {"synchronize_session": False}
_WINDOW_CLOSED = [DeliveryStatus.SENT, DeliveryStatus.EMPTY, DeliveryStatus.RESEND,
                  DeliveryStatus.UNKNOWN]


# --- reads -----------------------------------------------------------------------------

def of_day(session: Session, subscriber_id: int, digest_date: date) -> Delivery | None:
    query = select(Delivery).where(Delivery.subscriber_id == subscriber_id,
                                   Delivery.digest_date == digest_date)
    return session.exec(query).first()


def by_public_id(session: Session, public_id: str) -> Delivery | None:
    return session.exec(select(Delivery).where(Delivery.public_id == public_id)).first()


def closed_dates(session: Session, dates: Sequence[date]) -> set[tuple[int, date]]:
    """(subscriber, date) pairs whose digest is done (sent, empty or failed for good)."""
    query = select(Delivery.subscriber_id, Delivery.digest_date).where(
        col(Delivery.digest_date).in_(list(dates)), col(Delivery.status).in_(DeliveryStatus.DONE))
    return {(sid, day) for sid, day in session.exec(query)}


def of_subscribers(session: Session, ids: Sequence[int],
                  dates: Sequence[date]) -> dict[tuple[int, date], Delivery]:
    found: dict[tuple[int, date], Delivery] = {}
    for chunk in in_chunks(ids):
        query = select(Delivery).where(col(Delivery.subscriber_id).in_(chunk),
                                       col(Delivery.digest_date).in_(list(dates)))
        found.update({(d.subscriber_id, d.digest_date): d for d in session.exec(query)})
    return found


def digest_sent_to(session: Session, subscriber_id: int,
                   message_ids: Sequence[str]) -> str | None:
    """The first of ``message_ids`` that is a digest written for this subscriber (an empty
    day sends nothing, so never), or None: the proof a bounce or reply is about our mail."""
    if not message_ids:
        return None
    query = select(Delivery.message_id).where(
        Delivery.subscriber_id == subscriber_id,
        col(Delivery.message_id).in_(list(message_ids)),
        Delivery.status != DeliveryStatus.EMPTY)
    found = set(session.exec(query))
    return next((i for i in message_ids if i in found), None)


def previous_cutoffs(session: Session, ids: Sequence[int], before: date) -> dict[int, datetime]:
    """Where each subscriber's last closed window before ``before`` ended.

    Closed: sent, empty, or maybe delivered (the server took the whole message; its
    papers are not sent again the next day).
    """
    found: dict[int, datetime] = {}
    for chunk in in_chunks(ids):
        query = (select(Delivery.subscriber_id, func.max(Delivery.cutoff))
                 .where(col(Delivery.subscriber_id).in_(chunk), Delivery.digest_date < before,
                        col(Delivery.status).in_(_WINDOW_CLOSED))
                 .group_by(Delivery.subscriber_id))
        for sid, cutoff in session.exec(query):
            if cutoff is not None:
                found[sid] = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=UTC)
    return found


# --- writes ----------------------------------------------------------------------------

def insert_claimed(session: Session, deliveries: Sequence[Delivery]) -> list[Delivery]:
    """Write new rows in one statement; returns those written, with their ids.

    A row whose (subscriber, date) another worker wrote first is left out: that worker
    owns the digest. Rows are written as given, so a digest about to be sent is written
    already claimed (status ``sending``, ``claimed_at`` and one attempt).
    """
    insert = dialect_insert(session.connection())
    mine = {(d.subscriber_id, d.digest_date): d for d in deliveries}
    written: list[Delivery] = []
    columns = [c.name for c in Delivery.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
    # Small chunks: SQLite allows 32,766 parameters per statement, a row has 17.
    for chunk in in_chunks(list(mine.values()), 500):
        rows = [{name: getattr(d, name) for name in columns} for d in chunk]
        statement = (insert(Delivery).values(rows)
                     .on_conflict_do_nothing(index_elements=["subscriber_id", "digest_date"])
                     .returning(col(Delivery.id), col(Delivery.subscriber_id),
                                col(Delivery.digest_date)))
        for row_id, subscriber_id, day in session.execute(statement):
            delivery = mine[(subscriber_id, day)]
            delivery.id = row_id
            written.append(delivery)
    return written


def claim(session: Session, delivery_id: int, now: datetime, stale_after: timedelta) -> bool:
    """Atomically take a pending, to-resend (or abandoned) delivery for sending. One wins.

    A claim older than ``stale_after`` (DIGEST_CLAIM_TIMEOUT_MINUTES) is taken over.
    """
    stale = now - stale_after
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .where(col(Delivery.status).in_([DeliveryStatus.PENDING, DeliveryStatus.RESEND])
               | ((col(Delivery.status) == DeliveryStatus.SENDING)
                  & (col(Delivery.claimed_at) < stale)))
        .values(status=DeliveryStatus.SENDING, claimed_at=now,
                attempts=Delivery.attempts + 1),
        execution_options=_PLAIN,
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew_claim(session: Session, delivery_id: int, attempts: int, now: datetime) -> bool:
    """Re-stamp our claim before a late send; False when another worker took it over.

    ``attempts`` is the row's count after our claim: a takeover increments it.
    """
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .where(col(Delivery.status) == DeliveryStatus.SENDING)
        .where(col(Delivery.attempts) == attempts)
        .values(claimed_at=now),
        execution_options=_PLAIN,
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def outcome(delivery: Delivery, status: str, now: datetime,
            error: str | None = None) -> dict[str, Any]:
    """Set the outcome on the entity; the column values :func:`finish` writes.

    Taken before the write: a rollback expires the entity, and reloading it would lose
    the briefing, its headline (in the notes) and subject that went out.
    """
    delivery.status = status
    delivery.last_error = error
    if status == DeliveryStatus.SENT:
        delivery.sent_at = now
    return {"status": status, "last_error": error, "sent_at": delivery.sent_at,
            "briefing": delivery.briefing, "briefing_kind": delivery.briefing_kind,
            "subject": delivery.subject, "notes": delivery.notes}


def finish(session: Session, delivery_id: int, values: dict[str, Any]) -> None:
    """Write an outcome (from :func:`outcome`)."""
    # On the table, not the entity: no ORM bookkeeping for a statement sent per digest.
    table = Delivery.__table__  # type: ignore[attr-defined]
    session.connection().execute(update(table).where(table.c.id == delivery_id)
                                 .values(**values))
