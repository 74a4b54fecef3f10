"""What the operators look at: recent runs, health, the admin overview."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import ReaderMessage, Run, Source, SubscriberStatus, utcnow
from digest_mailer.services.dashboard import DAYS, Days, per_day, window


@dataclass
class Overview:
    """The admin overview's figures, read in one session."""

    sources: list[Source]
    runs: list[Run]
    messages: list[ReaderMessage]
    active: int
    everyone: int
    days: Days  # the dashboard's charts: the last 30 days of runs


class StatusService:
    """What the admin watches: recent runs, health, the overview page's counts."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock

    def recent_runs(self, limit: int = 20, since: date | None = None) -> list[Run]:
        """The last ``limit`` runs, or with ``since`` every run started on that UTC day or
        later; newest first."""
        with Session(self.engine) as session:
            if since is None:
                return db.runs.recent(session, limit)
            start = datetime.combine(since, time(), tzinfo=UTC)
            return db.runs.since(session, start)[::-1]

    def health(self) -> dict[str, Any]:
        """For /healthz: the sources, which fail, the entries and the last run."""
        with Session(self.engine) as session:
            sources = db.sources.every(session)
            runs = db.runs.recent(session, 1)
            return {
                "status": "ok",
                "sources": len(sources),
                "sources_failing": [s.label for s in sources if s.last_error],
                "entries": db.entries.count(session),
                "last_run": (runs[0].finished_at.isoformat()
                             if runs and runs[0].finished_at else None),
            }

    def last_days(self, days: int = DAYS) -> Days:
        """The runs' counts per UTC day over the last ``days`` days, today included."""
        with Session(self.engine) as session:
            return self._last_days(session, days)

    def _last_days(self, session: Session, days: int) -> Days:
        today = self.clock().astimezone(UTC).date()
        return per_day(db.runs.since(session, window(today, days)[1]), today, days)

    def overview(self) -> Overview:
        with Session(self.engine) as session:
            _, active = db.subscribers.search(session, "", SubscriberStatus.ACTIVE, limit=1)
            _, everyone = db.subscribers.search(session, "", "", limit=1)
            return Overview(db.sources.every(session), db.runs.recent(session, 20),
                            db.messages.recent(session, limit=50), active, everyone,
                            self._last_days(session, DAYS))
