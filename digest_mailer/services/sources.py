"""Sources (feeds): add (after a test fetch that must parse), edit, disable and enable,
remove, and each one's health history and "fetch now".

A source is named by its id or its URL (``ref``). Removing one keeps its row as a tombstone
(``removed_at``): its entries are named by past deliveries and keep their source's label;
the subscribers whose profiles had its category, when no other source has it, lose it, and
the removal says who.

A feed named from the admin pages is fetched (its test fetch, "fetch now") at public
addresses only unless ``DIGEST_SOURCES_ALLOW_PRIVATE``; ``feeds add`` at a shell is trusted
(``trusted=True``: file:// and loopback too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from digest_mailer import db
from digest_mailer.domain.source import (
    SHELL_SCHEMES,
    WEB_SCHEMES,
    SourceError,
    check_details,
    check_source,
)
from digest_mailer.ingest.kinds import DEFAULT_KIND, KINDS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine, Row
    from sqlmodel import Session

    from digest_mailer.db.models import FetchLog, Source
    from digest_mailer.services.ingest import IngestService


@dataclass(frozen=True)
class SourceChange:
    """An add or an edit: the source as stored, or the refusals (then nothing is written).

    ``moved``: on an edit of the category, the subscribers whose profiles followed it.
    """

    source: Source | None
    errors: tuple[SourceError, ...] = ()
    added: bool = False
    changed: tuple[str, ...] = ()
    fetch: FetchLog | None = None  # the test fetch of an add
    moved: tuple[str, ...] = ()


@dataclass(frozen=True)
class Removal:
    """A removed source and what its removal did to the subscribers' profiles."""

    source: Source
    lost: tuple[str, ...]  # the addresses whose profiles lost the category
    emptied: tuple[str, ...]  # of those, the ones left with no category at all
    kept: bool  # another source still has the category: nobody lost it


class SourceService:
    """The sources (feeds): add, edit, disable, enable, remove, history, fetch now."""

    def __init__(self, engine: Engine, ingest: Callable[[], IngestService],
                 clock: Callable[[], datetime], *, allow_private: bool = False) -> None:
        self.engine = engine
        self._ingest = ingest  # built when a fetch needs it: `feeds list` loads no HTTP client
        self.clock = clock
        self.allow_private = allow_private

    def _public_only(self, trusted: bool) -> bool:
        return not (trusted or self.allow_private)

    @property
    def ingest(self) -> IngestService:
        return self._ingest()

    def _session(self) -> Session:
        from sqlmodel import Session  # here: `feeds list` reads rows and loads no model

        return Session(self.engine, expire_on_commit=False)

    def register(self, url: str, label: str, category: str, kind: str | None = None) -> Source:
        """Add or update a source without a test fetch: only for feeds the project ships
        (the demo's file:// snapshots) and test fixtures, never for an admin's input."""
        with self._session() as session:
            source = db.sources.add(session, url, label, category, kind)
            session.commit()
            return source

    def add(self, url: str, label: str, category: str, kind: str | None = None, *,
            trusted: bool = False) -> SourceChange:
        """Add a source (or update the one of that URL) once a test fetch of it parses.

        ``trusted``: named at a shell (file:// allowed, any address); else from a browser
        (http/https, public addresses only unless ``allow_private``).

        A feed that fails or does not parse is refused with the reason and nothing is
        stored; an empty feed parses (arXiv's are empty at weekends). The test fetch only
        starts the source's history: its entries come with the next run, as a source's
        always have (it is due at once), so adding never changes what a run reports.
        """
        fields = check_source(url, label, category, kind, kinds=KINDS,
                              schemes=SHELL_SCHEMES if trusted else WEB_SCHEMES)
        if fields.errors:
            return SourceChange(None, fields.errors)
        probe = self.ingest.probe(fields.url, fields.kind, fields.category,
                                  public_only=self._public_only(trusted))
        if probe.error is not None:
            return SourceChange(None, (SourceError("url", "test_fetch_failed",
                                                   {"reason": probe.error}),))
        with self._session() as session:
            known = db.sources.by_url(session, fields.url)
            added = known is None or known.removed_at is not None
            source = db.sources.add(session, fields.url, fields.label, fields.category,
                                    fields.kind)
            source.public_only = not trusted  # the worker's fetches stay guarded too
            count = len(probe.parsed.entries) if probe.parsed else 0
            fetch = db.sources.log_fetch(session, source, probe.outcome, None, count,
                                         self.clock(), trigger="add")
            session.commit()
            return SourceChange(source, added=added, fetch=fetch)

    def edit(self, ref: str, label: str, category: str, kind: str | None) -> SourceChange:
        """Change a source's label, category or kind (its URL is what it is).

        A new category code is a rename: when no other source keeps the old code, the
        profiles that had it get the new one.
        """
        with self._session() as session:
            source = db.sources.by_ref(session, ref)
            if source is None:
                return SourceChange(None, (SourceError("ref", "unknown", {"ref": ref}),))
            fields = check_details(label, category, kind or source.kind, kinds=KINDS)
            if fields.errors:
                return SourceChange(source, fields.errors)
            old = source.category
            changed = db.sources.edit(session, source, fields.label, fields.category,
                                      fields.kind or DEFAULT_KIND)
            session.flush()
            moved = ([s.email for s in db.subscribers.replace_category(
                session, old, fields.category)]
                if "category" in changed and not db.sources.offers(session, old) else [])
            session.commit()
            return SourceChange(source, changed=tuple(changed), moved=tuple(moved))

    def set_active(self, ref: str, active: bool) -> tuple[Source, bool] | None:
        """Enable or disable a source: (the source, whether it changed), or None.

        A disabled source is not fetched and its category is not offered to new choices;
        the profiles that have it keep it, for when it comes back.
        """
        with self._session() as session:
            source = db.sources.by_ref(session, ref)
            if source is None:
                return None
            changed = db.sources.set_active(session, source, active)
            session.commit()
            return source, changed

    def remove(self, ref: str) -> Removal | None:
        """Remove a source (a tombstone; entries kept); its category leaves the profiles
        that had it unless another source still has it. None for no such source."""
        with self._session() as session:
            source = db.sources.by_ref(session, ref)
            if source is None:
                return None
            db.sources.remove(session, source, self.clock())
            session.flush()
            kept = db.sources.offers(session, source.category)
            lost = [] if kept else db.subscribers.replace_category(session, source.category,
                                                                    None)
            session.commit()
            return Removal(source, tuple(s.email for s in lost),
                           tuple(s.email for s in lost if not s.categories), kept)

    def get(self, ref: str) -> Source | None:
        with self._session() as session:
            return db.sources.by_ref(session, ref)

    def history(self, ref: str, limit: int | None = None
                ) -> tuple[Source, list[FetchLog]] | None:
        """A source and its last fetches (``limit``: all that are kept), newest first;
        None for no such source."""
        with self._session() as session:
            source = db.sources.by_ref(session, ref)
            if source is None or source.id is None:
                return None
            return source, db.sources.history(session, source.id,
                                              db.sources.HISTORY if limit is None else limit)

    def fetch_now(self, ref: str, *, trusted: bool = False) -> tuple[Source, FetchLog] | None:
        """Fetch one source now and store what it brings: the source after, and the fetch.

        Guarded as :meth:`add` is: a source the shell added at a loopback address is
        refused from a browser too, and a public one that now redirects inwards.
        """
        source = self.get(ref)
        if source is None or source.id is None:
            return None
        fetch = self.ingest.fetch_now(source.id, public_only=self._public_only(trusted))
        after = self.get(str(source.id))
        return (after, fetch) if fetch is not None and after is not None else None

    def every(self) -> list[Row[Any]]:
        """Every source not removed, in the order added: rows with a Source's columns."""
        return db.rows.sources(self.engine)
