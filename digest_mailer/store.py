"""Every database query, named. Handlers, tasks and the pipeline never build queries inline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, create_engine, select

from digest_mailer import migrate
from digest_mailer.digest import FetchOutcome, ParsedEntry
from digest_mailer.models import (
    BriefingCacheEntry,
    Delivery,
    DeliveryStatus,
    Entry,
    ReaderMessage,
    Run,
    Source,
    Subscriber,
    SubscriberStatus,
    Vote,
    utcnow,
)

# A claim older than this is taken to belong to a worker that died mid-send.
STALE_CLAIM = timedelta(minutes=15)


def make_engine(url: str, *, auto_migrate: bool | None = None) -> Engine:
    """An engine on a current schema; SQLite gets WAL and a busy timeout for the worker.

    The schema is upgraded here (Alembic) when ``auto_migrate`` is true, or is None and the
    database is SQLite; otherwise a database behind the code raises SchemaError.
    """
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
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


# --- deliveries ------------------------------------------------------------------------

def delivery_for(session: Session, subscriber_id: int, digest_date: date) -> Delivery | None:
    query = select(Delivery).where(Delivery.subscriber_id == subscriber_id,
                                   Delivery.digest_date == digest_date)
    return session.exec(query).first()


def closed_dates(session: Session, dates: Sequence[date]) -> set[tuple[int, date]]:
    """(subscriber, date) pairs whose digest is done (sent, empty or failed for good)."""
    query = select(Delivery.subscriber_id, Delivery.digest_date).where(
        col(Delivery.digest_date).in_(list(dates)), col(Delivery.status).in_(DeliveryStatus.DONE))
    return {(sid, day) for sid, day in session.exec(query)}


def open_delivery(session: Session, delivery: Delivery) -> Delivery | None:
    """Write a new Delivery; None when another worker wrote that (subscriber, date) first."""
    session.add(delivery)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    session.refresh(delivery)
    return delivery


def claim_delivery(session: Session, delivery_id: int, now: datetime,
                   stale_after: timedelta = STALE_CLAIM) -> bool:
    """Atomically take a pending (or abandoned) delivery for sending. One worker wins.

    A claim older than ``stale_after`` (DIGEST_CLAIM_TIMEOUT_MINUTES) is taken over.
    """
    stale = now - stale_after
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .where((col(Delivery.status) == DeliveryStatus.PENDING)
               | ((col(Delivery.status) == DeliveryStatus.SENDING)
                  & (col(Delivery.claimed_at) < stale)))
        .values(status=DeliveryStatus.SENDING, claimed_at=now,
                attempts=Delivery.attempts + 1)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew_claim(session: Session, delivery_id: int, attempts: int, now: datetime) -> bool:
    """Refresh our claim just before the send; False when another worker took it over.

    ``attempts`` is the row's count after our claim: a takeover increments it.
    """
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .where(col(Delivery.status) == DeliveryStatus.SENDING)
        .where(col(Delivery.attempts) == attempts)
        .values(claimed_at=now)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def finish_delivery(session: Session, delivery: Delivery, status: str, now: datetime,
                    error: str | None = None) -> None:
    """Record the outcome, with whatever else was set on the row (briefing, subject)."""
    delivery.status = status
    delivery.last_error = error
    if status == DeliveryStatus.SENT:
        delivery.sent_at = now
    session.add(delivery)
    session.commit()


# Batch versions of the per-subscriber reads, for a send batch of many subscribers.
CHUNK = 900  # stays under SQLite's bound-parameter limit


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def deliveries_of(session: Session, ids: Sequence[int],
                  dates: Sequence[date]) -> dict[tuple[int, date], Delivery]:
    found: dict[tuple[int, date], Delivery] = {}
    for chunk in _chunks(ids):
        query = select(Delivery).where(col(Delivery.subscriber_id).in_(chunk),
                                       col(Delivery.digest_date).in_(list(dates)))
        found.update({(d.subscriber_id, d.digest_date): d for d in session.exec(query)})
    return found


def previous_cutoffs(session: Session, ids: Sequence[int], before: date) -> dict[int, datetime]:
    """Where each subscriber's last closed window (sent or empty) before ``before`` ended."""
    from datetime import UTC

    found: dict[int, datetime] = {}
    for chunk in _chunks(ids):
        query = (select(Delivery.subscriber_id, func.max(Delivery.cutoff))
                 .where(col(Delivery.subscriber_id).in_(chunk), Delivery.digest_date < before,
                        col(Delivery.status).in_([DeliveryStatus.SENT, DeliveryStatus.EMPTY]))
                 .group_by(Delivery.subscriber_id))
        for sid, cutoff in session.exec(query):
            if cutoff is not None:
                found[sid] = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=UTC)
    return found


def votes_of(session: Session, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for chunk in _chunks(ids):
        query = (select(Vote.subscriber_id, Entry.title, Vote.vote)
                 .join(Entry, col(Entry.key) == col(Vote.entry_key))
                 .where(col(Vote.subscriber_id).in_(chunk))
                 .order_by(col(Vote.created_at).desc()))
        for sid, title, vote in session.exec(query):
            found.setdefault(sid, []).append((title, vote))
    return found


def delivery_by_public_id(session: Session, public_id: str) -> Delivery | None:
    return session.exec(select(Delivery).where(Delivery.public_id == public_id)).first()


def deliveries_on(session: Session, digest_date: date) -> list[Delivery]:
    return list(session.exec(select(Delivery).where(Delivery.digest_date == digest_date)))


# --- briefing cache and runs -----------------------------------------------------------

class DatabaseBriefingCache:
    """The briefing cache in the database, shared by every worker."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(BriefingCacheEntry, key)
            return row.text if row else None

    def put(self, key: str, text: str, model: str) -> None:
        with Session(self.engine) as session:
            session.merge(BriefingCacheEntry(key=key, text=text, model=model))
            try:
                session.commit()
            except IntegrityError:  # another worker stored the same key first
                session.rollback()


def save_run(session: Session, run: Run) -> Run:
    run.finished_at = utcnow()
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def recent_runs(session: Session, limit: int = 20) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)))
