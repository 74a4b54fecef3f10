"""Ingest: fetch every source that is due and store its new entries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import Run
from digest_mailer.ingest import FetchRequest, fetch_sources, parse_source
from digest_mailer.services.report import Report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    """How sources are fetched (``DIGEST_FETCH_*``, ``DIGEST_USER_AGENT``)."""

    fetch_interval_minutes: int
    fetch_timeout: float
    fetch_max_bytes: int
    user_agent: str
    fetch_concurrency: int


class IngestService:
    """Fetches the sources that are due and stores their new entries, one run at a time."""

    def __init__(self, engine: Engine, config: IngestConfig,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock

    def refresh(self, *, force: bool = False) -> Report:
        """Fetch every source that is due (all with ``force``) and store new entries.

        One commit per source: a feed that fails later in the run keeps the ones before.
        """
        report = Report("ingest")
        now = self.clock()
        config = self.config
        with Session(self.engine) as session:
            interval = timedelta(minutes=config.fetch_interval_minutes)
            sources = (db.sources.active(session) if force
                       else db.sources.due(session, now, interval))
            requests = [FetchRequest(s.url, s.etag, s.last_modified) for s in sources]
            outcomes = fetch_sources(
                requests, timeout=config.fetch_timeout, max_bytes=config.fetch_max_bytes,
                user_agent=config.user_agent, concurrency=config.fetch_concurrency)
            for source, outcome in zip(sources, outcomes, strict=True):
                report.counts["sources"] += 1
                error, count, kind = outcome.error, 0, ""
                if error is None and outcome.not_modified:
                    report.counts["not_modified"] += 1
                elif error is None:
                    parsed = parse_source(source.kind, outcome.body or b"",
                                          source_category=source.category)
                    error, kind = parsed.error, parsed.kind
                    if error is None:
                        count = len(parsed.entries)
                        new, merged = db.entries.store(session, source, parsed.entries, now)
                        report.counts["entries_new"] += new
                        report.counts["entries_merged"] += merged
                if error is not None:
                    log.warning("feed %s failed: %s", source.url, error)
                    report.fail(source.label, error)
                else:
                    report.counts["fetched"] += 1
                db.sources.record_fetch(session, source, outcome, error, count, now, kind)
                session.commit()
            report.counts["entries_total"] = db.entries.count(session)
            db.runs.save(session, Run(kind=report.kind, started_at=now,
                                      counts=dict(report.counts), errors=report.errors))
            session.commit()
        return report
