"""Queries on the readers' votes (more/less like this). The caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from digest_mailer.db.engine import in_chunks
from digest_mailer.db.models import Entry, Vote, utcnow


def record(session: Session, subscriber_id: int, entry_key: str, vote: str) -> None:
    """Store a vote; a later vote on the same paper replaces the earlier one."""
    row = session.exec(select(Vote).where(Vote.subscriber_id == subscriber_id,
                                          Vote.entry_key == entry_key)).first()
    if row is None:
        row = Vote(subscriber_id=subscriber_id, entry_key=entry_key, vote=vote)
    else:
        row.vote, row.created_at = vote, utcnow()
    session.add(row)


def of(session: Session, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for chunk in in_chunks(ids):
        query = (select(Vote.subscriber_id, Entry.title, Vote.vote)
                 .join(Entry, col(Entry.key) == col(Vote.entry_key))
                 .where(col(Vote.subscriber_id).in_(chunk))
                 .order_by(col(Vote.created_at).desc()))
        for sid, title, vote in session.exec(query):
            found.setdefault(sid, []).append((title, vote))
    return found


def evidence(session: Session, ids: Sequence[int]) -> dict[int, list[tuple[str, str, str, str]]]:
    """Each reader's votes on stored papers as (entry key, title, abstract, vote), newest
    first: what the reader model learns from."""
    found: dict[int, list[tuple[str, str, str, str]]] = {}
    for chunk in in_chunks(ids):
        query = (select(Vote.subscriber_id, Vote.entry_key, Entry.title, Entry.abstract,
                        Vote.vote)
                 .join(Entry, col(Entry.key) == col(Vote.entry_key))
                 .where(col(Vote.subscriber_id).in_(chunk))
                 .order_by(col(Vote.created_at).desc(), col(Vote.id).desc()))
        for sid, key, title, abstract, vote in session.exec(query):
            found.setdefault(sid, []).append((key, title, abstract, vote))
    return found


def of_subscriber(session: Session, subscriber_id: int, limit: int = 200
                  ) -> list[tuple[str, str, str, datetime]]:
    """One reader's votes as (entry key, title, vote, when), newest first; a vote on a
    paper no longer stored keeps its key and an empty title."""
    query = (select(Vote.entry_key, Entry.title, Vote.vote, Vote.created_at)
             .join(Entry, col(Entry.key) == col(Vote.entry_key), isouter=True)
             .where(Vote.subscriber_id == subscriber_id)
             .order_by(col(Vote.created_at).desc(), col(Vote.id).desc()).limit(limit))
    return [(key, title or "", vote, when) for key, title, vote, when in session.exec(query)]
