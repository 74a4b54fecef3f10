"""Ingest: fetch every source that is due and store its new entries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import FetchLog, Run, Source
from digest_mailer.domain.digest import FetchOutcome, ParsedFeed
from digest_mailer.ingest import FetchRequest, fetch_sources, parse_source
from digest_mailer.ingest.parsers import DEFAULT_KIND
from digest_mailer.services.report import Report

if TYPE_CHECKING:
    import httpcore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    """How sources are fetched (``DIGEST_FETCH_*``, ``DIGEST_USER_AGENT``)."""

    fetch_interval_minutes: int
    fetch_timeout: float
    fetch_max_bytes: int
    user_agent: str
    fetch_concurrency: int
    allow_private: bool = False  # DIGEST_SOURCES_ALLOW_PRIVATE: a browser's sources too


@dataclass(frozen=True)
class Probe:
    """One feed fetched and parsed, nothing stored yet; ``error`` from either step."""

    outcome: FetchOutcome
    parsed: ParsedFeed | None  # None: the fetch failed, or the document was not modified

    @property
    def error(self) -> str | None:
        return self.outcome.error or (self.parsed.error if self.parsed else None)


@dataclass(frozen=True)
class Stored:
    """What storing one probe did: its history row, and the known entries it merged."""

    fetch: FetchLog
    merged: int


class IngestService:
    """Fetches the sources that are due and stores their new entries, one run at a time."""

    def __init__(self, engine: Engine, config: IngestConfig, clock: Callable[[], datetime],
                 network: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.network = network  # the guarded fetches' sockets (a test hook; None: real ones)

    def _fetch(self, requests: list[FetchRequest], *,
               public_only: bool = False) -> list[FetchOutcome]:
        config = self.config
        return fetch_sources(requests, timeout=config.fetch_timeout,
                             max_bytes=config.fetch_max_bytes, user_agent=config.user_agent,
                             concurrency=config.fetch_concurrency, public_only=public_only,
                             network=self.network)

    @staticmethod
    def _parse(outcome: FetchOutcome, kind: str, category: str) -> Probe:
        if outcome.error is not None or outcome.not_modified:
            return Probe(outcome, None)
        return Probe(outcome, parse_source(kind, outcome.body or b"", source_category=category))

    def probe(self, url: str, kind: str | None, category: str, *,
              public_only: bool = False) -> Probe:
        """Fetch ``url`` (unconditionally) and parse it as a source of ``kind`` would be;
        ``public_only``: connect to global addresses only (a feed named from a browser)."""
        (outcome,) = self._fetch([FetchRequest(url)], public_only=public_only)
        return self._parse(outcome, kind or DEFAULT_KIND, category)

    @staticmethod
    def _store(session: Session, source: Source, probe: Probe, now: datetime,
               trigger: str = "run") -> Stored:
        """Store a probe of ``source``: its entries (when it parsed), its outcome on the
        source and in the source's history. The caller commits."""
        error, parsed = probe.error, probe.parsed
        new = merged = count = 0
        if error is None and parsed is not None:
            count = len(parsed.entries)
            new, merged = db.entries.store(session, source, parsed.entries, now)
        elif error is not None:
            log.warning("feed %s failed: %s", source.url, error)
        fetch = db.sources.record_fetch(session, source, probe.outcome, error, count, now,
                                        parsed.kind if parsed and error is None else "",
                                        trigger=trigger, entries_new=new)
        return Stored(fetch, merged)

    def refresh(self, *, force: bool = False) -> Report:
        """Fetch every source that is due (all with ``force``) and store new entries.

        One commit per source: a feed that fails later in the run keeps the ones before.
        """
        report = Report("ingest")
        now = self.clock()
        with Session(self.engine) as session:
            interval = timedelta(minutes=self.config.fetch_interval_minutes)
            sources = (db.sources.active(session) if force
                       else db.sources.due(session, now, interval))
            for source, outcome in zip(sources, self._fetch_all(sources), strict=True):
                report.counts["sources"] += 1
                stored = self._store(session, source,
                                    self._parse(outcome, source.kind, source.category), now)
                if stored.fetch.error is not None:
                    report.fail(source.label, stored.fetch.error)
                else:
                    report.counts["fetched"] += 1
                    if stored.fetch.not_modified:
                        report.counts["not_modified"] += 1
                    else:
                        report.counts["entries_new"] += stored.fetch.entries_new
                        report.counts["entries_merged"] += stored.merged
                session.commit()
            report.counts["entries_total"] = db.entries.count(session)
            db.runs.save(session, Run(kind=report.kind, started_at=now,
                                      counts=dict(report.counts), errors=report.errors))
            session.commit()
        return report

    def _fetch_all(self, sources: list[Source]) -> list[FetchOutcome]:
        """Each source fetched conditionally, in order; one named from a browser at public
        addresses only (checked at every connection: its host may have moved inwards since
        the add's test fetch), unless ``allow_private``."""
        guarded = [not self.config.allow_private and s.public_only for s in sources]
        outcomes: dict[int, FetchOutcome] = {}
        for public_only in (False, True):
            picked = [i for i, g in enumerate(guarded) if g == public_only]
            if picked:
                fetched = self._fetch([FetchRequest(sources[i].url, sources[i].etag,
                                                    sources[i].last_modified) for i in picked],
                                      public_only=public_only)
                outcomes.update(zip(picked, fetched, strict=True))
        return [outcomes[i] for i in range(len(sources))]

    def fetch_now(self, source_id: int, *, public_only: bool = False) -> FetchLog | None:
        """Fetch one source now (a disabled one too: the admin asked), conditionally, and
        store what it brings; its history row, or None for no such source. ``public_only``
        as for :meth:`probe`."""
        with Session(self.engine, expire_on_commit=False) as session:
            source = db.sources.by_ref(session, str(source_id))
            if source is None:
                return None
            (outcome,) = self._fetch([FetchRequest(source.url, source.etag,
                                                   source.last_modified)],
                                     public_only=public_only)
            stored = self._store(session, source,
                                self._parse(outcome, source.kind, source.category),
                                self.clock(), trigger="now")
            session.commit()
            return stored.fetch
