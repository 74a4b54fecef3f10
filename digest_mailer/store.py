"""Every database query, named; the Delivery rows and their claims are in ledger.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, create_engine, select

from digest_mailer import migrate
from digest_mailer.digest import FetchOutcome, ParsedEntry
from digest_mailer.ingest.arxiv import is_arxiv_category
from digest_mailer.models import (
    BriefingCacheEntry,
    Entry,
    ReaderMessage,
    Run,
    Source,
    Subscriber,
    SubscriberStatus,
    Vote,
    utcnow,
)


def make_engine(url: str, *, auto_migrate: bool | None = None,
                busy_timeout: float = 30.0) -> Engine:
    """An engine on a current schema; SQLite gets WAL and a busy timeout for the worker.

    The schema is upgraded here (Alembic) when ``auto_migrate`` is true, or is None and the
    database is SQLite; otherwise a database behind the code raises SchemaError.
    ``busy_timeout`` is how long a SQLite statement waits for another writer's lock.
    """
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            # With WAL, NORMAL survives a crash of the process; only a power loss can undo
            # the last commits (README: the duplicate window).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    migrate.prepare(engine, auto_migrate)
    return engine


# --- sources ---------------------------------------------------------------------------

def add_source(session: Session, url: str, label: str, category: str) -> Source:
    """Add a source or update its label and category; the URL is its identity."""
    source = session.exec(select(Source).where(Source.url == url)).first()
    if source is None:
        source = Source(url=url, label=label, category=category)
    else:
        source.label, source.category, source.active = label, category, True
    session.add(source)
    session.commit()
    session.refresh(source)
    return source


def active_sources(session: Session) -> list[Source]:
    return list(session.exec(select(Source).where(Source.active).order_by(Source.id)))


def all_sources(session: Session) -> list[Source]:
    return list(session.exec(select(Source).order_by(Source.id)))


def sources_due(session: Session, now: datetime, interval: timedelta) -> list[Source]:
    return [s for s in active_sources(session)
            if s.last_fetched_at is None or now - s.last_fetched_at >= interval]


def record_fetch(session: Session, source: Source, outcome: FetchOutcome, error: str | None,
                 entry_count: int, now: datetime) -> None:
    """Store the outcome of one fetch on its source; the last error stays visible."""
    source.last_fetched_at = now
    source.last_status = outcome.status
    source.last_error = error
    if error is None:
        source.last_success_at = now
        source.last_entry_count = entry_count
        if not outcome.not_modified:
            source.etag, source.last_modified = outcome.etag, outcome.last_modified
    session.add(source)
    session.commit()


# --- entries ---------------------------------------------------------------------------

def store_entries(session: Session, source: Source, entries: Sequence[ParsedEntry],
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
    session.commit()
    return new, merged


def entries_seen_between(session: Session, after: datetime, until: datetime) -> list[Entry]:
    """Entries first seen in (after, until], in arrival order."""
    query = (select(Entry).where(Entry.first_seen > after, Entry.first_seen <= until)
             .order_by(Entry.first_seen, Entry.id))
    return list(session.exec(query))


def entries_by_keys(session: Session, keys: Sequence[str]) -> list[Entry]:
    rows = {e.key: e for e in session.exec(select(Entry).where(col(Entry.key).in_(keys)))}
    return [rows[k] for k in keys if k in rows]


def count_entries(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Entry)).one()


# Every category element of the entries whose key is an arXiv id: no ":" ("2604.21935",
# "hep-th/9901001"), where DOIs, links, guids and hashes all have one.
_ARXIV_ENTRY_CATEGORIES = {
    "sqlite": "SELECT DISTINCT c.value FROM entry, json_each(entry.categories) AS c "
              "WHERE entry.key NOT LIKE '%:%'",
    "postgresql": "SELECT DISTINCT c FROM entry, json_array_elements_text(entry.categories) "
                  "AS c WHERE entry.key NOT LIKE '%:%'",
}


def subscribable_categories(session: Session) -> list[str]:
    """The categories a reader may choose: the sources' own, then arXiv categories seen.

    A combined arXiv feed filed under ``hep-ph`` also brings ``hep-ex`` papers; a reader can
    subscribe to ``hep-ex`` once such a paper is stored. Only arXiv papers count, and only
    names in arXiv's taxonomy shape: a journal's free-form tags never become categories.
    """
    configured = sorted({s.category for s in all_sources(session)})
    query = _ARXIV_ENTRY_CATEGORIES[session.get_bind().dialect.name]
    seen = {str(value) for (value,) in session.execute(text(query))}
    arxiv = sorted(c for c in seen - set(configured) if is_arxiv_category(c))
    return configured + arxiv


def source_labels(session: Session) -> dict[int, tuple[str, str]]:
    return {s.id or 0: (s.label, s.category) for s in all_sources(session)}


# --- subscribers -----------------------------------------------------------------------

def subscriber_by_email(session: Session, email: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def active_subscribers(session: Session, ids: Iterable[int] | None = None) -> list[Subscriber]:
    query = select(Subscriber).where(Subscriber.status == SubscriberStatus.ACTIVE)
    if ids is not None:
        query = query.where(col(Subscriber.id).in_(list(ids)))
    return list(session.exec(query.order_by(Subscriber.id)))


def all_subscribers(session: Session) -> list[Subscriber]:
    return list(session.exec(select(Subscriber).order_by(Subscriber.id)))


def subscriber_by_public_id(session: Session, public_id: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.public_id == public_id)).first()


def set_status(session: Session, subscriber: Subscriber, status: str, reason: str,
               now: datetime) -> bool:
    """Change a subscriber's status; False when it already had it (idempotent)."""
    if subscriber.status == status:
        return False
    subscriber.status, subscriber.status_reason, subscriber.status_changed_at = (
        status, reason, now)
    session.add(subscriber)
    session.commit()
    return True


def undo_unsubscribe(session: Session, subscriber: Subscriber, now: datetime) -> bool:
    """Re-activate a subscriber who unsubscribed (never a bounced one); False otherwise.

    A conditional UPDATE, so a bounce recorded meanwhile is never overwritten.
    """
    result = session.execute(
        update(Subscriber)
        .where(col(Subscriber.id) == subscriber.id,
               col(Subscriber.status) == SubscriberStatus.UNSUBSCRIBED)
        .values(status=SubscriberStatus.ACTIVE, status_reason="undo", status_changed_at=now))
    session.commit()
    session.refresh(subscriber)
    return result.rowcount == 1  # type: ignore[attr-defined]


def update_preferences(session: Session, subscriber: Subscriber, *, categories: list[str],
                       keywords: list[str], excluded_keywords: list[str], send_hour: int,
                       timezone: str, language: str, max_papers: int) -> None:
    """Save what a reader chose on the preferences page (the status is never touched)."""
    subscriber.categories, subscriber.keywords = list(categories), list(keywords)
    subscriber.excluded_keywords = list(excluded_keywords)
    subscriber.send_hour, subscriber.timezone = send_hour, timezone
    subscriber.language, subscriber.max_papers = language, max_papers
    session.add(subscriber)
    session.commit()


def search_subscribers(session: Session, text: str = "", status: str = "", *, offset: int = 0,
                       limit: int = 50) -> tuple[list[Subscriber], int]:
    """A page of subscribers whose email or name contains ``text``, and the total count."""
    query = select(Subscriber)
    if text:
        needle = text.lower()
        query = query.where(func.lower(Subscriber.email).contains(needle, autoescape=True)
                            | func.lower(Subscriber.name).contains(needle, autoescape=True))
    if status:
        query = query.where(Subscriber.status == status)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Subscriber.id).offset(offset).limit(limit))
    return list(rows), total


# --- votes and reader messages ----------------------------------------------------------

def record_vote(session: Session, subscriber_id: int, entry_key: str, vote: str) -> None:
    """Store a vote; a later vote on the same paper replaces the earlier one."""
    row = session.exec(select(Vote).where(Vote.subscriber_id == subscriber_id,
                                          Vote.entry_key == entry_key)).first()
    if row is None:
        row = Vote(subscriber_id=subscriber_id, entry_key=entry_key, vote=vote)
    else:
        row.vote, row.created_at = vote, utcnow()
    session.add(row)
    session.commit()


def reader_message_known(session: Session, message_id: str) -> bool:
    query = select(ReaderMessage.id).where(ReaderMessage.message_id == message_id)
    return session.exec(query).first() is not None


def add_reader_message(session: Session, message: ReaderMessage) -> bool:
    """Store a sorted reply once; False when it was already handled (a restart)."""
    session.add(message)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def stage_status(subscriber: Subscriber, status: str, reason: str, now: datetime) -> bool:
    """set_status without the commit: the caller commits it with the record of why."""
    if subscriber.status == status:
        return False
    subscriber.status, subscriber.status_reason, subscriber.status_changed_at = (
        status, reason, now)
    return True


def record_reader_message(session: Session, message: ReaderMessage,
                          subscriber: Subscriber | None = None) -> bool:
    """Store a sorted reply and the change it made to its subscriber in one transaction.

    False, with the change rolled back, when that message was already handled: a restart
    between this commit and the IMAP flag never acts twice.
    """
    if subscriber is not None:
        session.add(subscriber)
    return add_reader_message(session, message)


def reader_messages(session: Session, kinds: Sequence[str] | None = None,
                    limit: int = 100) -> list[ReaderMessage]:
    query = select(ReaderMessage)
    if kinds:
        query = query.where(col(ReaderMessage.kind).in_(list(kinds)))
    return list(session.exec(query.order_by(col(ReaderMessage.id).desc()).limit(limit)))


# Batch reads for a send batch of many subscribers.
CHUNK = 900  # ids per IN (…): stays under SQLite's bound-parameter limit


def in_chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def dialect_insert(bind: Engine | Connection) -> Callable[..., Any]:
    """The INSERT with ON CONFLICT of the database behind ``bind`` (SQLite or PostgreSQL)."""
    inserts = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    name = bind.dialect.name
    if name not in inserts:
        raise RuntimeError(f"digest-mailer runs on SQLite or PostgreSQL, not {name}")
    return inserts[name]


def votes_of(session: Session, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for chunk in in_chunks(ids):
        query = (select(Vote.subscriber_id, Entry.title, Vote.vote)
                 .join(Entry, col(Entry.key) == col(Vote.entry_key))
                 .where(col(Vote.subscriber_id).in_(chunk))
                 .order_by(col(Vote.created_at).desc()))
        for sid, title, vote in session.exec(query):
            found.setdefault(sid, []).append((title, vote))
    return found


# --- briefing cache and runs -----------------------------------------------------------

class DatabaseBriefingCache:
    """The briefing cache in the database, shared by every worker.

    A claim is a row with an empty text: the worker that wrote it asks the endpoint, the
    others wait for the text (brief.BriefingCache).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._table = BriefingCacheEntry.__table__  # type: ignore[attr-defined]
        self._insert = dialect_insert(engine)

    def get(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            text = conn.execute(select(self._table.c.text).where(
                self._table.c.key == key)).scalar()
        return text or None  # "" is a claim, not a briefing

    def put(self, key: str, text: str, model: str) -> None:
        """Store a briefing over our claim; a briefing another worker stored stays."""
        row = self._insert(self._table).values(key=key, text=text, model=model,
                                               created_at=utcnow())
        with self.engine.begin() as conn:
            conn.execute(row.on_conflict_do_update(
                index_elements=["key"], set_={"text": text, "model": model},
                where=self._table.c.text == ""))

    def claim(self, key: str, stale_after: float) -> bool:
        now = utcnow()
        table = self._table
        with self.engine.begin() as conn:
            # RETURNING, not rowcount: psycopg reports no count for ON CONFLICT DO NOTHING.
            row = self._insert(table).values(key=key, text="", model="", created_at=now)
            if conn.execute(row.on_conflict_do_nothing().returning(table.c.key)).first():
                return True
            taken = conn.execute(update(table).where(
                table.c.key == key, table.c.text == "",
                table.c.created_at < now - timedelta(seconds=stale_after)).values(
                created_at=now).returning(table.c.key))
            return taken.first() is not None

    def release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self._table).where(self._table.c.key == key,
                                                   self._table.c.text == ""))


def save_run(session: Session, run: Run) -> Run:
    run.finished_at = utcnow()
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def recent_runs(session: Session, limit: int = 20) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)))
