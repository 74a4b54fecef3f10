"""What one send batch reads once and shares among its subscribers.

A batch of hundreds of subscribers would otherwise make the same reads hundreds of times:
the day's entries, the sources' labels, and one query per subscriber for each of their
delivery, previous window and votes. Loading them here keeps the per-subscriber work to
selection, rendering and the send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import Delivery, Entry, Subscriber
from digest_mailer.domain.compose import profile_of
from digest_mailer.domain.grouping import Selection
from digest_mailer.domain.schedule import WEEK, WEEKLY
from digest_mailer.domain.select import SelectionIndex
from digest_mailer.services.ranking import ReaderModels, paper_text

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

    from digest_mailer.domain.ranking import ReaderModel


@dataclass(frozen=True)
class SelectionConfig:
    """How many papers a digest takes and from how far back a first digest reaches."""

    max_per_category: int
    max_papers: int
    first_digest_lookback_hours: float
    include_updates: bool
    explore_slots: int = 0  # papers the reader's model is unsure about, when a digest cuts
    weekly_cap_scale: int = 3  # a weekly digest's caps are the daily ones times this

    def caps(self, subscriber: Subscriber) -> tuple[int, int]:
        """(per category, in all) for this reader's digest: a week holds more papers worth
        reading than a day, so a weekly one scales the settings' caps; a reader's own
        ``max_papers`` is the size they chose for their digest, weekly or not."""
        scale = self.weekly_cap_scale if subscriber.cadence == WEEKLY else 1
        return (self.max_per_category * scale,
                subscriber.max_papers or self.max_papers * scale)


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
    week_since: datetime | None = None  # a weekly reader's first digest: the last 7 days
    models: dict[int, ReaderModel] = field(default_factory=dict)
    scores: dict[int, np.ndarray] = field(default_factory=dict)  # per reader, index order
    vectors: sp.csr_matrix | None = None  # the index's entries' text rows

    @classmethod
    def load(cls, session: Session, subscribers: Sequence[Subscriber], days: dict[int, date],
             now: datetime, config: SelectionConfig,
             ranking: ReaderModels | None = None) -> SendBatch:
        # A first digest covers what arrived recently, not the whole archive.
        lookback = timedelta(hours=config.first_digest_lookback_hours)
        include_updates = config.include_updates
        ids = [s.id for s in subscribers if s.id is not None]
        dates = sorted(set(days.values()))
        before = max(dates) if dates else now.date()
        cutoffs = db.deliveries.previous_cutoffs(session, ids, before) if ids else {}
        default_since = now - lookback
        weekly = any(s.cadence == WEEKLY for s in subscribers)
        week_since = now - WEEK if weekly else None
        since = min([default_since, *([week_since] if week_since else []), *cutoffs.values()])
        entries = db.entries.seen_between(session, since, now)
        batch = cls(
            deliveries=db.deliveries.of_subscribers(session, ids, dates) if ids else {},
            cutoffs=cutoffs,
            votes=db.votes.of(session, ids) if ids else {},
            index=SelectionIndex(entries, include_updates=include_updates),
            labels=db.sources.labels(session),
            default_since=default_since,
            now=now,
            week_since=week_since,
        )
        if ranking is not None and batch.index.entries:
            batch._score(session, ranking, subscribers)
        return batch

    def _score(self, session: Session, ranking: ReaderModels,
               subscribers: Sequence[Subscriber]) -> None:
        """Every reader model of the batch against the window's entries, in one product."""
        from digest_mailer.domain.ranking import score_batch

        text_model, models = ranking.for_readers(session, subscribers)
        if text_model is None or not models:
            return
        self.vectors = ranking.rows(*text_model, [(e.key, paper_text(e.title, e.abstract))
                                                  for e in self.index.entries])
        ids = list(models)
        scores = score_batch([models[i] for i in ids], self.vectors)
        self.models = models
        self.scores = {sid: scores[n] for n, sid in enumerate(ids)}

    def since(self, subscriber: Subscriber) -> datetime:
        """Where this reader's digest window starts: their last closed one's end, else the
        first digest's lookback (a week for a weekly reader)."""
        assert subscriber.id is not None
        first = (self.week_since if subscriber.cadence == WEEKLY and self.week_since
                 else self.default_since)
        return self.cutoffs.get(subscriber.id, first)

    def entries(self, keys: Sequence[str]) -> list[Entry] | None:
        """The entries of stored keys, or None when one is outside this batch's window."""
        found = [self.index.by_key.get(k) for k in keys]
        if any(e is None for e in found):
            return None
        return found  # type: ignore[return-value]

    def select(self, subscriber: Subscriber, config: SelectionConfig, *,
               uncapped: bool = False) -> Selection:
        """The papers first seen since this subscriber's previous digest window closed;
        ``uncapped``: all of them, ranked (the reader's full list of the day)."""
        assert subscriber.id is not None
        scores = self.scores.get(subscriber.id)
        everything = len(self.index.entries)
        per_category, in_all = (everything, everything) if uncapped else config.caps(subscriber)
        return self.index.select(
            profile_of(subscriber, self.votes.get(subscriber.id, ())),
            max_per_category=per_category, max_papers=in_all,
            since=self.since(subscriber), scores=scores,
            explore=0 if uncapped or scores is None else config.explore_slots)

    def notes(self, subscriber: Subscriber, selection: Selection) -> dict[str, Any]:
        """What a Delivery stores beside its keys: each paper's score and reason, the cuts.

        {"papers": {key: {"score": float | None, "why": [kind, label] | None}},
         "more": [[group, n], ...], "cadence": "weekly" (a weekly digest's only)}; kind is
        "keyword", "library", "more" or "explore".
        """
        from digest_mailer.domain.ranking import keyword_reasons, reasons

        assert subscriber.id is not None
        keys = selection.keys
        entries = [self.index.by_key[k] for k in keys]
        texts = [paper_text(e.title, e.abstract) for e in entries]
        model = self.models.get(subscriber.id)
        if model is not None and self.vectors is not None and keys:
            rows = self.vectors[[self.index.position(k) for k in keys]]
            found = reasons(model, rows, texts)
        else:
            found = keyword_reasons(subscriber.keywords, texts)
        scores = dict(selection.scores)
        papers: dict[str, Any] = {}
        for key, reason in zip(keys, found, strict=True):
            why = ["explore", ""] if key in selection.explore else (
                [reason.kind, reason.label] if reason is not None else None)
            papers[key] = {"score": scores.get(key), "why": why}
        notes: dict[str, Any] = {"papers": papers, "more": [[g, n] for g, n in selection.more]}
        if subscriber.cadence == WEEKLY:  # the email and its browser view say "this week"
            notes["cadence"] = WEEKLY
        return notes
