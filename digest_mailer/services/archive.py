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


def primary(categories: list[str]) -> str:
    return categories[0] if categories else ""


def _utc_day(when: datetime) -> date:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).date()


class ArchiveService:
    """Reads the archive's days and papers; writes nothing.

    The days' counts are kept for ``CACHE`` (by the service's clock): the index and its
    feed are public and anonymous, so a burst of requests costs one query, not one each.
    """

    CACHE = timedelta(minutes=5)

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock
        self._days: tuple[datetime, date, int, list[ArchiveDay]] | None = None

    def window(self, limit: int = DAYS) -> tuple[date, date]:
        """The first and the last day (UTC) the archive shows."""
        today = _utc_day(self.clock())
        return today - timedelta(limit), today

    def days(self, limit: int = DAYS) -> list[ArchiveDay]:
        """The days with papers, newest first, within the last ``limit`` days."""
        now = self.clock()
        cached = self._days
        if (cached is not None and cached[1:3] == (_utc_day(now), limit)
                and timedelta(0) <= now - cached[0] < self.CACHE):
            return cached[3]
        with Session(self.engine) as session:
            rows = db.entries.announced_counts(session, _start(self.window(limit)[0]), now)
        by_day: dict[date, Counter[str]] = {}
        for day, code, count in rows:
            by_day.setdefault(day, Counter())[code] += count
        found = [ArchiveDay(d, dict(sorted(c.items()))) for d, c in
                 sorted(by_day.items(), reverse=True)]
        self._days = (now, _utc_day(now), limit, found)
        return found

    def day(self, day: date) -> dict[str, list[ArchivePaper]] | None:
        """That day's papers by primary category (categories sorted, papers as listed);
        None for a day outside the archive's window (the pages reach no further back)."""
        first, last = self.window()
        if not first <= day <= last:
            return None
        with Session(self.engine) as session:
            rows = db.entries.announced(session, _start(day), _start(day + timedelta(1)))
        groups: dict[str, list[ArchivePaper]] = {}
        for title, link, authors, abstract, categories in rows:
            groups.setdefault(primary(categories), []).append(ArchivePaper(
                title, link, tuple(authors), abstract))
        return dict(sorted(groups.items()))
