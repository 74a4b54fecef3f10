"""Queries on the subscribers. The caller commits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from digest_mailer.db.engine import CHUNK
from digest_mailer.db.models import StatusChange, Subscriber, SubscriberStatus


def by_email(session: Session, email: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def active(session: Session, ids: Iterable[int] | None = None) -> list[Subscriber]:
    query = select(Subscriber).where(Subscriber.status == SubscriberStatus.ACTIVE)
    if ids is not None:
        query = query.where(col(Subscriber.id).in_(list(ids)))
    return list(session.exec(query.order_by(Subscriber.id)))


def every(session: Session) -> list[Subscriber]:
    return list(session.exec(select(Subscriber).order_by(Subscriber.id)))


def replace_category(session: Session, category: str, by: str | None) -> list[Subscriber]:
    """Take ``category`` out of every profile that has it, putting ``by`` in its place
    (None: only out). Any status: one who comes back must not find a dead category. The
    subscribers changed, in id order."""
    changed = []
    for subscriber in every(session):  # a JSON list: portable to test in Python
        if category in subscriber.categories:
            renamed = [by if c == category else c for c in subscriber.categories]
            subscriber.categories = [c for c in dict.fromkeys(renamed) if c is not None]
            session.add(subscriber)
            changed.append(subscriber)
    return changed


def by_public_id(session: Session, public_id: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.public_id == public_id)).first()


def set_status(subscriber: Subscriber, status: str, reason: str, now: datetime) -> bool:
    """Change a subscriber's status, with why and when; False when it already had it."""
    if subscriber.status == status:
        return False
    subscriber.status, subscriber.status_reason, subscriber.status_changed_at = (
        status, reason, now)
    return True


# --- status history --------------------------------------------------------------------

def change_status(session: Session, subscriber: Subscriber, status: str, reason: str,
                  now: datetime) -> bool:
    """Set the status with why and when, and record the change in the history; False (and
    nothing recorded) when the subscriber already had it."""
    previous = subscriber.status
    if not set_status(subscriber, status, reason, now):
        return False
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
    return list(session.exec(select(StatusChange).where(
        StatusChange.subscriber_id == subscriber_id).order_by(col(StatusChange.id))))


def undo_unsubscribe(session: Session, subscriber: Subscriber, now: datetime) -> bool:
    """Re-activate a subscriber who unsubscribed (never a bounced one); False otherwise.

    A conditional UPDATE, so a bounce recorded meanwhile is never overwritten.
    """
    result = session.execute(
        update(Subscriber)
        .where(col(Subscriber.id) == subscriber.id,
               col(Subscriber.status) == SubscriberStatus.UNSUBSCRIBED)
        .values(status=SubscriberStatus.ACTIVE, status_reason="undo", status_changed_at=now))
    session.refresh(subscriber)
    return result.rowcount == 1  # type: ignore[attr-defined]


def update_preferences(session: Session, subscriber: Subscriber, *, categories: list[str],
                       keywords: list[str], excluded_keywords: list[str], send_hour: int,
                       timezone: str, language: str, max_papers: int,
                       cadence: str | None = None, weekday: int | None = None) -> None:
    """Save what a reader chose on the preferences page (the status is never touched);
    a cadence or weekday not given stays as stored."""
    subscriber.categories, subscriber.keywords = list(categories), list(keywords)
    subscriber.excluded_keywords = list(excluded_keywords)
    subscriber.send_hour, subscriber.timezone = send_hour, timezone
    subscriber.language, subscriber.max_papers = language, max_papers
    subscriber.cadence = cadence if cadence is not None else subscriber.cadence
    subscriber.weekday = weekday if weekday is not None else subscriber.weekday
    session.add(subscriber)


def search(session: Session, text: str = "", status: str = "", *, offset: int = 0,
                       limit: int = 50) -> tuple[list[Subscriber], int]:
    """A page of subscribers whose email or name contains ``text``, and the total count."""
    query = select(Subscriber)
    if text:
        needle = text.lower()
        query = query.where(func.lower(Subscriber.email).contains(needle, autoescape=True)
                            | func.lower(Subscriber.name).contains(needle, autoescape=True))
    if status:
        query = query.where(Subscriber.status == status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Subscriber.id).offset(offset).limit(limit))
    return list(rows), total


# --- many at once (the CSV import) ------------------------------------------------------

def profiles_by_email(session: Session, emails: Sequence[str], columns: Sequence[str], *,
                      done: Callable[[int], object] | None = None) -> dict[str, Any]:
    """The stored ``columns`` of these subscribers, by address: chunked IN queries on the
    index, plain rows rather than ORM objects, so a re-import of 100,000 stays cheap.

    Addresses are stored in lower case; a row stored in mixed case by an older version is
    found by one extra query over the mixed-case rows only (under its lowered address).
    ``done(n)`` is told of each chunk looked up (a progress bar).
    """
    table = Subscriber.__table__  # type: ignore[attr-defined]
    query = select(*(table.c[name] for name in columns))
    found: dict[str, Any] = {}
    for start in range(0, len(emails), CHUNK):
        chunk = list(emails[start:start + CHUNK])
        found.update((s.email, s) for s in session.execute(query.where(table.c.email.in_(chunk))))
        if done is not None:
            done(len(chunk))
    if len(found) < len(set(emails)):
        for stored in session.execute(query.where(table.c.email != func.lower(table.c.email))):
            found.setdefault(stored.email.lower(), stored)
    return found


def update_many(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    """ORM bulk UPDATE by primary key: each dict holds ``id`` and the columns to set."""
    for start in range(0, len(changes), CHUNK):
        session.execute(update(Subscriber), list(changes[start:start + CHUNK]))


def insert_many(session: Session, rows: Sequence[dict[str, Any]], now: datetime, *,
                done: Callable[[int], object] | None = None) -> None:
    """New subscribers as multi-row INSERTs: the model's Python defaults are taken once from
    a template and public_id from its column default per row (~10× faster than add_all)."""
    template = Subscriber(email="").model_dump(exclude={"id", "email", "public_id"})
    template["created_at"] = now
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        session.execute(insert(Subscriber.__table__),  # type: ignore[attr-defined]
                        [{**template, **row} for row in chunk])
        if done is not None:
            done(len(chunk))


def ids_by_email(session: Session, emails: Sequence[str]) -> dict[str, int]:
    """The ids of these (lower-case) addresses, by address, in chunked IN queries."""
    table = Subscriber.__table__  # type: ignore[attr-defined]
    found: dict[str, int] = {}
    for start in range(0, len(emails), CHUNK):
        chunk = list(emails[start:start + CHUNK])
        found.update((r.email, r.id) for r in session.execute(
            select(table.c.id, table.c.email).where(table.c.email.in_(chunk))))
    return found
