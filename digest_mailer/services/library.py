"""The reader's library: seed papers from a file, the "what I work on" statement, list and
remove. Each change is one transaction: a file is parsed whole before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import LibrarySeed, Subscriber, utcnow
from digest_mailer.domain.library import Seed, parse_library, statement_seed
from digest_mailer.ingest.arxiv_api import ArxivApi

ASK_AGAIN_AFTER = timedelta(days=1)  # an id the API did not answer is asked again after this
MAX_ASKED_PER_RUN = 1_000  # 10 requests, 30 s at arXiv's pace: a run never holds the tick long


@dataclass(frozen=True)
class LibraryChange:
    """What a library file did: seeds stored, how many filled in from stored papers."""

    format: str
    seeds: int
    resolved: int
    duplicates: int = 0

    def headline(self) -> str:
        line = f"{self.seeds} seeds ({self.resolved} resolved from stored papers)"
        return line + (f", {self.duplicates} duplicates skipped" if self.duplicates else "")


@dataclass(frozen=True)
class Resolved:
    """What one pass over the id-only seeds did: ids filled from stored papers, ids asked of
    the arXiv API (those asked within a day are not) and filled from it, and the errors."""

    waiting: int
    from_entries: int
    asked: int = 0
    from_api: int = 0
    errors: tuple[str, ...] = ()
    api: bool = True  # False: no endpoint is set, nothing was asked

    def headline(self) -> str:
        line = f"{self.waiting} arXiv ids without a title: {self.from_entries} found among " + (
            f"stored papers, {self.from_api} of {self.asked} asked found by the arXiv API"
            if self.api else "stored papers; no arXiv API is set (DIGEST_ARXIV_API_URL)")
        return line + (f"; {len(self.errors)} errors" if self.errors else "")


class LibraryService:
    """A reader's seeds: replace or append a library file, set the statement, list, remove;
    and the titles of seeds known by id only. An unknown reader is a LookupError; a bad file
    a LibraryError, with nothing written. ``arxiv`` is None while no API endpoint is set."""

    def __init__(self, engine: Engine, arxiv: ArxivApi | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.arxiv = arxiv
        self.clock = clock

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @staticmethod
    def _reader(session: Session, email: str) -> Subscriber:
        subscriber = db.subscribers.by_email(session, email.strip().lower())
        if subscriber is None or subscriber.id is None:
            raise LookupError(f"no subscriber {email}")
        return subscriber

    def load(self, email: str, data: bytes, *, append: bool = False) -> LibraryChange:
        """Replace (or, with ``append``, extend) the reader's library with a file's seeds."""
        library = parse_library(data)  # raises before any session opens
        with self._session() as session:
            reader = self._reader(session, email)
            seeds, resolved = db.library.resolve(session, library.seeds)
            if append:
                seeds = _new_only(db.library.of(session, reader.id or 0), seeds)
            db.library.add(session, reader.id or 0, seeds, replacing=not append)
            session.commit()
        skipped = library.duplicates + len(library.seeds) - len(seeds)
        return LibraryChange(library.format, len(seeds), resolved, skipped)

    def set_statement(self, email: str, text: str) -> None:
        """The reader's "what I work on", one seed of kind "statement" (replaces the last)."""
        seed = statement_seed(text)
        with self._session() as session:
            reader = self._reader(session, email)
            db.library.add(session, reader.id or 0, [seed], "statement", replacing=True)
            session.commit()

    def seeds(self, email: str) -> list[LibrarySeed]:
        with self._session() as session:
            return db.library.of(session, self._reader(session, email).id or 0)

    def remove(self, email: str, seed_id: int) -> bool:
        with self._session() as session:
            removed = db.library.remove(session, self._reader(session, email).id or 0, seed_id)
            session.commit()
            return removed


    def resolve_ids(self, *, limit: int = MAX_ASKED_PER_RUN) -> Resolved:
        """Give id-only seeds their title and abstract: from stored papers first, then from
        the arXiv API when one is configured. Never at render time: the worker's tick and
        ``subscribers library --resolve`` call this. No session is open while the API is
        asked; each batch's answer is stored (and its errors recorded) before the next."""
        with self._session() as session:
            waiting = db.library.id_only(session)
            stored = db.library.stored_papers(session, waiting)
            for arxiv_id, (title, abstract) in stored.items():
                db.library.fill(session, arxiv_id, title, abstract)
            rest = [i for i in waiting if i not in stored]
            recent = (db.library.asked_since(session, rest, self.clock() - ASK_AGAIN_AFTER)
                      if self.arxiv is not None else set())
            session.commit()
        if self.arxiv is None:
            return Resolved(len(waiting), len(stored), api=False)
        ask = [i for i in rest if i not in recent][:limit]
        found, errors = 0, []
        for chunk, answer in self.arxiv.lookup(ask):
            errors += [answer.error] if answer.error else list(answer.refused)
            with self._session() as session:
                now = self.clock()
                for arxiv_id in chunk:
                    paper = answer.papers.get(arxiv_id)
                    if paper is not None:
                        db.library.fill(session, arxiv_id, paper.title, paper.abstract)
                    db.library.record_asked(session, arxiv_id, now, found=paper is not None,
                                            error=None if paper else (
                                                answer.error or "not in the API's answer"))
                session.commit()
            found += sum(1 for i in chunk if i in answer.papers)
        return Resolved(len(waiting), len(stored), len(ask), found, tuple(errors))


def _new_only(stored: list[LibrarySeed], seeds: list[Seed]) -> list[Seed]:
    """An appended file adds only papers the library does not hold yet."""
    held = {Seed(title=s.title, arxiv_id=s.arxiv_id, doi=s.doi).identity for s in stored
            if s.kind == "library"}
    return [s for s in seeds if s.identity not in held]
