"""The reader's library: seed papers from a file, the "what I work on" statement, list and
remove. Each change is one transaction: a file is parsed whole before anything is written."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import LibrarySeed, Subscriber
from digest_mailer.domain.library import Seed, parse_library, statement_seed


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


class LibraryService:
    """A reader's seeds: replace or append a library file, set the statement, list, remove.
    An unknown reader is a LookupError; a bad file a LibraryError, with nothing written."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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


def _new_only(stored: list[LibrarySeed], seeds: list[Seed]) -> list[Seed]:
    """An appended file adds only papers the library does not hold yet."""
    held = {Seed(title=s.title, arxiv_id=s.arxiv_id, doi=s.doi).identity for s in stored
            if s.kind == "library"}
    return [s for s in seeds if s.identity not in held]
