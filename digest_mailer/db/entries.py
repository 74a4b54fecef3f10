"""Queries on the stored papers (entries). The caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from digest_mailer.db.models import Entry, Source
from digest_mailer.domain.digest import UPDATE_TYPES, ParsedEntry


def store(session: Session, source: Source, entries: Sequence[ParsedEntry],
                  now: datetime) -> tuple[int, int]:
    """Insert new entries; merge categories of known ones. Returns (new, merged).

    first_seen is never moved: a paper seen yesterday stays yesterday's, whatever feed
    (a cross-list, a replacement) brings it again.
    """
    keys = [e.key for e in entries]
    known = {e.key: e for e in session.exec(select(Entry).where(col(Entry.key).in_(keys)))}
    new = merged = 0
    for parsed in entries:
        row = known.get(parsed.key)
        if row is None:
            row = Entry(
                key=parsed.key, source_id=source.id or 0, title=parsed.title,
                abstract=parsed.abstract, authors=list(parsed.authors), link=parsed.link,
                categories=list(parsed.categories), announce_type=parsed.announce_type,
                doi=parsed.doi, published=parsed.published, first_seen=now,
            )
            known[parsed.key] = row
            new += 1
        else:
            extra = [c for c in parsed.categories if c not in row.categories]
            if not extra and not (row.is_update and not parsed.is_update):
                continue
            row.categories = [*row.categories, *extra]
            # A paper first met as a cross-list or replacement becomes "new" when its
            # primary feed announces it as new the same day.
            if row.is_update and not parsed.is_update:
                row.announce_type = parsed.announce_type
            merged += 1
        session.add(row)
    return new, merged


def seen_between(session: Session, after: datetime, until: datetime) -> list[Entry]:
    """Entries first seen in (after, until], in arrival order."""
    query = (select(Entry).where(Entry.first_seen > after, Entry.first_seen <= until)
             .order_by(Entry.first_seen, Entry.id))
    return list(session.exec(query))


def by_keys(session: Session, keys: Sequence[str]) -> list[Entry]:
    rows = {e.key: e for e in session.exec(select(Entry).where(col(Entry.key).in_(keys)))}
    return [rows[k] for k in keys if k in rows]


def count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Entry)).one()


def texts_since(session: Session, after: datetime, limit: int) -> list[tuple[str, str, str]]:
    """(key, title, abstract) of the newest ``limit`` entries first seen after ``after``:
    the window a text model is fitted on and reader models sample negatives from."""
    query = (select(Entry.key, Entry.title, Entry.abstract).where(Entry.first_seen > after)
             .order_by(col(Entry.first_seen).desc(), col(Entry.id).desc()).limit(limit))
    return [(k, t, a) for k, t, a in session.exec(query)]


def count_since(session: Session, after: datetime) -> int:
    return session.exec(select(func.count()).select_from(Entry)
                        .where(Entry.first_seen > after)).one()


def _announced_in(after: datetime, until: datetime) -> Any:
    return (col(Entry.first_seen) > after, col(Entry.first_seen) <= until,
            col(Entry.announce_type).not_in(UPDATE_TYPES))


def announced_counts(session: Session, after: datetime,
                     until: datetime) -> list[tuple[date, str, int]]:
    """(UTC day, primary category, how many) of the entries announced new (not updates) in
    (after, until]: counted by the database, no row of a paper read. The column holds naive
    UTC on both SQLite and PostgreSQL, so its date() is the UTC day; "" for no category."""
    day = func.date(Entry.first_seen)
    primary = func.coalesce(col(Entry.categories)[0].as_string(), "")
    query = (select(day, primary, func.count()).where(*_announced_in(after, until))
             .group_by(day, primary))
    return [(d if isinstance(d, date) else date.fromisoformat(d), code, n)
            for d, code, n in session.exec(query)]


def announced(session: Session, after: datetime, until: datetime) -> list[Any]:
    """The archive's columns (title, link, authors, abstract, categories) of the entries
    announced new in (after, until], by time."""
    query = (select(Entry.title, Entry.link, Entry.authors, Entry.abstract, Entry.categories)
             .where(*_announced_in(after, until)).order_by(Entry.first_seen, Entry.id))
    return list(session.exec(query))
