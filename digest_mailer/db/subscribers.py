"""Queries on the subscribers. The caller commits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, insert, or_, update
from sqlmodel import Session, col, select

from digest_mailer.db import statuses
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


def set_status(session: Session, subscriber: Subscriber, status: str, reason: str, by: str,
               now: datetime) -> bool:
    """Change a subscriber's status, with why, by what and when, and log it in the status
    history; False when it already had it."""
    if subscriber.status == status:
        return False
    previous = subscriber.status
    subscriber.status, subscriber.status_reason, subscriber.status_changed_at = (
        status, reason, now)
    session.add(subscriber)
    if subscriber.id is not None:
        statuses.record(session, subscriber.id, status, previous, reason, by, now)
    return True


# --- status history --------------------------------------------------------------------

def change_status(session: Session, subscriber: Subscriber, status: str, reason: str,
                  now: datetime, by: str = "sign-up") -> bool:
    """:func:`set_status` for a subscriber that may be new (flushed first for its id)."""
    session.add(subscriber)
    session.flush()
    return set_status(session, subscriber, status, reason, by, now)


def first_status(session: Session, subscriber: Subscriber, reason: str, now: datetime,
                 by: str = "sign-up") -> None:
    """Record a new subscriber's first status in the history (it has no previous one)."""
    session.flush()
    assert subscriber.id is not None
    statuses.record(session, subscriber.id, subscriber.status, None, reason, by, now)


def history(session: Session, subscriber_id: int) -> list[StatusChange]:
    """A subscriber's status changes, oldest first."""
    return list(reversed(statuses.history(session, subscriber_id)))


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
    done = result.rowcount == 1  # type: ignore[attr-defined]
    if done and subscriber.id is not None:
        statuses.record(session, subscriber.id, SubscriberStatus.ACTIVE,
                        SubscriberStatus.UNSUBSCRIBED, "undo", "one-click", now)
    return done


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


SEARCHABLE = ("email", "name", "categories", "keywords", "excluded_keywords", "language",
              "timezone", "status")


def _matches(column: str, needle: str) -> Any:
    """``column`` contains ``needle`` (case-insensitive, % and _ literal). A JSON list
    column is searched in its stored text, where non-ASCII is \\u-escaped."""
    field = getattr(Subscriber, column)
    if column in ("categories", "keywords", "excluded_keywords"):
        text = func.lower(cast(field, String))
        escaped = json.dumps(needle)[1:-1]
        return text.contains(needle, autoescape=True) | text.contains(escaped, autoescape=True)
    return func.lower(field).contains(needle, autoescape=True)


def search(session: Session, text: str = "", status: str = "", *, field: str = "",
           offset: int = 0, limit: int = 50) -> tuple[list[Subscriber], int]:
    """A page of subscribers whose ``field`` (any of SEARCHABLE when empty) contains
    ``text``, and the total count."""
    query = select(Subscriber)
    if text:
        needle = text.lower()
        columns = [field] if field in SEARCHABLE else list(SEARCHABLE)
        query = query.where(or_(*(_matches(c, needle) for c in columns)))
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
