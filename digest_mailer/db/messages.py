"""Queries on the sorted reader messages (replies, bounces). The caller commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from digest_mailer.db.models import ReaderMessage, Subscriber


def known(session: Session, message_id: str) -> bool:
    query = select(ReaderMessage.id).where(ReaderMessage.message_id == message_id)
    return session.exec(query).first() is not None


def record(session: Session, message: ReaderMessage,
           subscriber: Subscriber | None = None) -> None:
    """Stage a sorted reply and the change it made to its subscriber, to be committed in
    one transaction. The commit raises IntegrityError when the message (its unique
    Message-ID) was stored meanwhile."""
    if subscriber is not None:
        session.add(subscriber)
    session.add(message)


def recent(session: Session, kinds: Sequence[str] | None = None,
           limit: int = 100) -> list[ReaderMessage]:
    query = select(ReaderMessage)
    if kinds:
        query = query.where(col(ReaderMessage.kind).in_(list(kinds)))
    return list(session.exec(query.order_by(col(ReaderMessage.id).desc()).limit(limit)))


def of_subscriber(session: Session, subscriber_id: int, limit: int = 100
                  ) -> list[ReaderMessage]:
    """One reader's sorted replies and bounces, newest first."""
    query = (select(ReaderMessage).where(ReaderMessage.subscriber_id == subscriber_id)
             .order_by(col(ReaderMessage.id).desc()).limit(limit))
    return list(session.exec(query))
