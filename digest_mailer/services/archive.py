"""The public archive (``DIGEST_PUBLIC_ARCHIVE``): what was announced each day, per category.

Only the papers the sources listed, never anyone's digest: a day is the UTC date a paper
was first seen, its category the paper's primary one. The web face shows the days, one
day's papers and an Atom feed of the days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import Entry

DAYS = 60  # how far back the archive reaches


@dataclass(frozen=True)
class ArchiveDay:
    """One day of the archive: how many papers each category announced."""

    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ArchivePaper:
    title: str
    link: str
    authors: tuple[str, ...]
    abstract: str


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def primary(entry: Entry) -> str:
    return entry.categories[0] if entry.categories else ""


class ArchiveService:
    """Reads the archive's days and papers; writes nothing."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def days(self, limit: int = DAYS) -> list[ArchiveDay]:
        """The days with papers, newest first, within the last ``limit`` days."""
        now = self.clock()
        with Session(self.engine) as session:
            entries = db.entries.announced(session, _start(now.date() - timedelta(limit)), now)
        by_day: dict[date, Counter[str]] = {}
        for entry in entries:
            when = entry.first_seen if entry.first_seen.tzinfo else entry.first_seen.replace(
                tzinfo=UTC)
            by_day.setdefault(when.astimezone(UTC).date(), Counter())[primary(entry)] += 1
        return [ArchiveDay(d, dict(sorted(c.items()))) for d, c in
                sorted(by_day.items(), reverse=True)]

    def day(self, day: date) -> dict[str, list[ArchivePaper]]:
        """That day's papers by primary category (categories sorted, papers as listed)."""
        with Session(self.engine) as session:
            entries = db.entries.announced(session, _start(day), _start(day + timedelta(1)))
        groups: dict[str, list[ArchivePaper]] = {}
        for entry in entries:
            groups.setdefault(primary(entry), []).append(ArchivePaper(
                entry.title, entry.link, tuple(entry.authors), entry.abstract))
        return dict(sorted(groups.items()))
