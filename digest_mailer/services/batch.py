"""What one send batch reads once and shares among its subscribers.

A batch of hundreds of subscribers would otherwise make the same reads hundreds of times:
the day's entries, the sources' labels, and one query per subscriber for each of their
delivery, previous window and votes. Loading them here keeps the per-subscriber work to
selection, rendering and the send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import Delivery, Entry, Subscriber
from digest_mailer.domain.compose import profile_of
from digest_mailer.domain.select import Selection, SelectionIndex


@dataclass(frozen=True)
class SelectionConfig:
    """How many papers a digest takes and from how far back a first digest reaches."""

    max_per_category: int
    max_papers: int
    first_digest_lookback_hours: float
    include_updates: bool


@dataclass
class SendBatch:
    """What a send batch reads once for all its subscribers: entries, votes, cutoffs, rows."""

    deliveries: dict[tuple[int, date], Delivery]
    cutoffs: dict[int, datetime]  # where each subscriber's last closed window ended
    votes: dict[int, list[tuple[str, str]]]
    index: SelectionIndex
    labels: dict[int, tuple[str, str]]
    default_since: datetime  # a first digest covers entries first seen after this
    now: datetime

    @classmethod
    def load(cls, session: Session, subscribers: Sequence[Subscriber], days: dict[int, date],
             now: datetime, config: SelectionConfig) -> SendBatch:
        # A first digest covers what arrived recently, not the whole archive.
        lookback = timedelta(hours=config.first_digest_lookback_hours)
        include_updates = config.include_updates
        ids = [s.id for s in subscribers if s.id is not None]
        dates = sorted(set(days.values()))
        before = max(dates) if dates else now.date()
        cutoffs = db.deliveries.previous_cutoffs(session, ids, before) if ids else {}
        default_since = now - lookback
        since = min([default_since, *cutoffs.values()])
        entries = db.entries.seen_between(session, since, now)
        return cls(
            deliveries=db.deliveries.of_subscribers(session, ids, dates) if ids else {},
            cutoffs=cutoffs,
            votes=db.votes.of(session, ids) if ids else {},
            index=SelectionIndex(entries, include_updates=include_updates),
            labels=db.sources.labels(session),
            default_since=default_since,
            now=now,
        )

    def since(self, subscriber_id: int) -> datetime:
        return self.cutoffs.get(subscriber_id, self.default_since)

    def entries(self, keys: Sequence[str]) -> list[Entry] | None:
        """The entries of stored keys, or None when one is outside this batch's window."""
        found = [self.index.by_key.get(k) for k in keys]
        if any(e is None for e in found):
            return None
        return found  # type: ignore[return-value]

    def select(self, subscriber: Subscriber, config: SelectionConfig) -> Selection:
        """The papers first seen since this subscriber's previous digest window closed."""
        assert subscriber.id is not None
        return self.index.select(
            profile_of(subscriber, self.votes.get(subscriber.id, ())),
            max_per_category=config.max_per_category,
            max_papers=subscriber.max_papers or config.max_papers,
            since=self.since(subscriber.id))
