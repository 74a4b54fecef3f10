"""Queries on the subscribers. The caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from digest_mailer.db.models import Subscriber, SubscriberStatus


def by_email(session: Session, email: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def active(session: Session, ids: Iterable[int] | None = None) -> list[Subscriber]:
    query = select(Subscriber).where(Subscriber.status == SubscriberStatus.ACTIVE)
    if ids is not None:
        query = query.where(col(Subscriber.id).in_(list(ids)))
    return list(session.exec(query.order_by(Subscriber.id)))


def every(session: Session) -> list[Subscriber]:
    return list(session.exec(select(Subscriber).order_by(Subscriber.id)))


def by_public_id(session: Session, public_id: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.public_id == public_id)).first()


def set_status(subscriber: Subscriber, status: str, reason: str, now: datetime) -> bool:
    """Change a subscriber's status, with why and when; False when it already had it."""
    if subscriber.status == status:
        return False
    subscriber.status, subscriber.status_reason, subscriber.status_changed_at = (
        status, reason, now)
    return True


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
                       timezone: str, language: str, max_papers: int) -> None:
    """Save what a reader chose on the preferences page (the status is never touched)."""
    subscriber.categories, subscriber.keywords = list(categories), list(keywords)
    subscriber.excluded_keywords = list(excluded_keywords)
    subscriber.send_hour, subscriber.timezone = send_hour, timezone
    subscriber.language, subscriber.max_papers = language, max_papers
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
