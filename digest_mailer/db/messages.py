"""Queries on the sorted reader messages (replies, bounces)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digest_mailer.db.models import ReaderMessage, Subscriber


def known(session: Session, message_id: str) -> bool:
    query = select(ReaderMessage.id).where(ReaderMessage.message_id == message_id)
    return session.exec(query).first() is not None


def add(session: Session, message: ReaderMessage) -> bool:
    """Store a sorted reply once; False when it was already handled (a restart)."""
    session.add(message)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def record(session: Session, message: ReaderMessage,
                          subscriber: Subscriber | None = None) -> bool:
    """Store a sorted reply and the change it made to its subscriber in one transaction.

    False, with the change rolled back, when that message was already handled: a restart
    between this commit and the IMAP flag never acts twice.
    """
    if subscriber is not None:
        session.add(subscriber)
    return add(session, message)


def recent(session: Session, kinds: Sequence[str] | None = None,
                    limit: int = 100) -> list[ReaderMessage]:
    query = select(ReaderMessage)
    if kinds:
        query = query.where(col(ReaderMessage.kind).in_(list(kinds)))
    return list(session.exec(query.order_by(col(ReaderMessage.id).desc()).limit(limit)))
