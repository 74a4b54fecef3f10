"""Queries on readers' library seeds, in the reader's order. The caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session, col, delete, func, select, update

from digest_mailer.db.engine import in_chunks
from digest_mailer.db.models import ArxivLookup, Entry, LibrarySeed
from digest_mailer.domain.library import Seed


def of(session: Session, subscriber_id: int) -> list[LibrarySeed]:
    return list(session.exec(select(LibrarySeed)
                             .where(LibrarySeed.subscriber_id == subscriber_id)
                             .order_by(col(LibrarySeed.position))))


def of_readers(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[LibrarySeed]]:
    """Each reader's seeds (library and statement), in the reader's order."""
    found: dict[int, list[LibrarySeed]] = {}
    for chunk in in_chunks(subscriber_ids):
        query = (select(LibrarySeed).where(col(LibrarySeed.subscriber_id).in_(chunk))
                 .order_by(col(LibrarySeed.subscriber_id), col(LibrarySeed.position)))
        for row in session.exec(query):
            found.setdefault(row.subscriber_id, []).append(row)
    return found


def identities(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each reader's library seeds (not the statement) as Seed.identity, in order."""
    found: dict[int, list[str]] = {}
    for chunk in in_chunks(subscriber_ids):
        query = (select(LibrarySeed).where(col(LibrarySeed.subscriber_id).in_(chunk),
                                           LibrarySeed.kind == "library")
                 .order_by(col(LibrarySeed.position)))
        for row in session.exec(query):
            seed = Seed(title=row.title, arxiv_id=row.arxiv_id, doi=row.doi)
            found.setdefault(row.subscriber_id, []).append(seed.identity)
    return found


def add(session: Session, subscriber_id: int, seeds: Sequence[Seed], kind: str = "library",
        *, replacing: bool = False) -> list[LibrarySeed]:
    """Append ``seeds`` after the reader's last one; ``replacing`` first drops the reader's
    seeds of that ``kind`` (a new library file keeps the statement, and the reverse)."""
    if replacing:
        # A statement, not ORM deletes: the flush would insert before deleting, and the
        # new positions would collide with the old rows on (subscriber_id, position).
        session.exec(delete(LibrarySeed).where(  # type: ignore[call-overload]
            col(LibrarySeed.subscriber_id) == subscriber_id, col(LibrarySeed.kind) == kind))
    last = session.exec(select(func.max(LibrarySeed.position))
                        .where(LibrarySeed.subscriber_id == subscriber_id)).one()
    start = -1 if last is None else last
    rows = [LibrarySeed(subscriber_id=subscriber_id, position=start + 1 + n, title=s.title,
                        abstract=s.abstract, arxiv_id=s.arxiv_id, doi=s.doi, kind=kind)
            for n, s in enumerate(seeds)]
    session.add_all(rows)
    session.flush()
    return rows


def remove(session: Session, subscriber_id: int, seed_id: int) -> bool:
    """Drop one seed of this reader; False when the reader has no such seed."""
    row = session.get(LibrarySeed, seed_id)
    if row is None or row.subscriber_id != subscriber_id:
        return False
    session.delete(row)
    session.flush()
    return True


def resolve(session: Session, seeds: Sequence[Seed]) -> tuple[list[Seed], int]:
    """Seeds with the title (and abstract) of the stored paper they name filled in where
    theirs is missing; and how many were filled. Unknown ids stay ids, resolved later."""
    def wants(seed: Seed) -> bool:
        return bool(seed.arxiv_id or seed.doi) and not (seed.title and seed.abstract)

    wanted = [s for s in seeds if wants(s)]
    arxiv = [s.arxiv_id for s in wanted if s.arxiv_id]
    dois = [s.doi for s in wanted if s.doi]
    by_key: dict[str, Entry] = {}
    for chunk in in_chunks(arxiv + [f"doi:{d}" for d in dois]):
        by_key.update((e.key, e) for e in session.exec(
            select(Entry).where(col(Entry.key).in_(chunk))))
    for chunk in in_chunks(dois):
        for entry in session.exec(select(Entry).where(func.lower(col(Entry.doi)).in_(chunk))):
            by_key.setdefault(f"doi:{(entry.doi or '').lower()}", entry)
    out, filled = [], 0
    for seed in seeds:
        entry = (by_key.get(seed.arxiv_id or "") or by_key.get(f"doi:{seed.doi}")
                 if wants(seed) else None)
        if entry is None:
            out.append(seed)
            continue
        out.append(replace(seed, title=seed.title or entry.title,
                           abstract=seed.abstract or entry.abstract))
        filled += 1
    return out, filled


# --- id-only seeds and the arXiv API -------------------------------------------------------

def id_only(session: Session) -> list[str]:
    """The arXiv ids of every reader's library seeds known by id only (no title yet)."""
    query = (select(LibrarySeed.arxiv_id).distinct()
             .where(LibrarySeed.kind == "library", LibrarySeed.title == "",
                    col(LibrarySeed.arxiv_id).is_not(None)))
    return sorted(i for i in session.exec(query) if i)


def stored_papers(session: Session, arxiv_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(title, abstract) of the stored entries these arXiv ids name."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in in_chunks(arxiv_ids):
        for entry in session.exec(select(Entry).where(col(Entry.key).in_(chunk))):
            if entry.title:
                found[entry.key] = (entry.title, entry.abstract)
    return found


def asked_since(session: Session, arxiv_ids: Sequence[str], since: datetime) -> set[str]:
    """The ids among ``arxiv_ids`` asked of the arXiv API at ``since`` or later."""
    asked: set[str] = set()
    for chunk in in_chunks(arxiv_ids):
        asked.update(session.exec(select(ArxivLookup.arxiv_id).where(
            col(ArxivLookup.arxiv_id).in_(chunk), col(ArxivLookup.asked_at) >= since)))
    return asked


def fill(session: Session, arxiv_id: str, title: str, abstract: str) -> int:
    """Give every id-only seed of ``arxiv_id`` this title (and abstract); how many got it."""
    waiting = (col(LibrarySeed.arxiv_id) == arxiv_id, col(LibrarySeed.title) == "")
    session.exec(update(LibrarySeed)  # type: ignore[call-overload]
                 .where(*waiting, col(LibrarySeed.abstract) == "").values(abstract=abstract))
    result = session.exec(update(LibrarySeed)  # type: ignore[call-overload]
                          .where(*waiting).values(title=title))
    return int(result.rowcount or 0)


def record_asked(session: Session, arxiv_id: str, when: datetime, *, found: bool,
                 error: str | None) -> None:
    row = session.get(ArxivLookup, arxiv_id) or ArxivLookup(arxiv_id=arxiv_id)
    row.asked_at, row.found, row.error = when, found, error
    session.add(row)
