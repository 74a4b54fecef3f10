"""The database tables (SQLModel). Times are stored as UTC and read back timezone-aware."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from digest_mailer.db.types import UTCDateTime
from digest_mailer.domain.digest import is_update


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(*, now: bool = False, **kw: Any) -> Any:
    extra = {"default_factory": utcnow} if now else {"default": None}
    return Field(sa_column=Column(UTCDateTime(), **kw), **extra)


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class SubscriberStatus:
    # Signed up on the web page, address not confirmed yet: never sent a digest.
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class DeliveryStatus:
    PENDING = "pending"  # written before the send; content fixed
    SENDING = "sending"  # claimed by one worker
    SENT = "sent"  # the server accepted it
    EMPTY = "empty"  # nothing new: no email, window closed
    FAILED = "failed"  # permanent refusal (5xx); never retried into a loop
    # The message was written out but the server's answer was lost: it may have arrived.
    RESEND = "resend"  # maybe delivered; the next run sends it once more (DIGEST_RESEND_UNKNOWN)
    UNKNOWN = "unknown"  # maybe delivered; not sent again (no resend left, or resend off)

    DONE = (SENT, EMPTY, FAILED, UNKNOWN)
    # The reader may hold the email: its "view in browser" link must work.
    MAILED = (SENT, RESEND, UNKNOWN)


class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, index=True)
    label: str  # e.g. "arXiv (cs.CV)"
    category: str  # e.g. "cs.CV"
    # Which parser reads it (ingest.parsers.PARSERS). Set at `feeds add` or left to the
    # first successful parse, which records the kind the document turned out to be.
    kind: str = "rss"
    active: bool = True
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: datetime | None = _when(nullable=True)
    last_success_at: datetime | None = _when(nullable=True)
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_entry_count: int = 0
    # A removed source is kept as a tombstone: its entries (which deliveries name) keep
    # their source and label, and adding the URL again brings the row back.
    removed_at: datetime | None = _when(nullable=True)
    # Named from a browser: every fetch, the worker's too, connects to public addresses
    # only (ingest/guard.py) unless DIGEST_SOURCES_ALLOW_PRIVATE; a shell's are trusted.
    public_only: bool = False


class FetchLog(SQLModel, table=True):
    """One fetch of one source, for its health history; pruned to the last few per source."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    fetched_at: datetime = _when(nullable=False)
    trigger: str = "run"  # "run" (the scheduled ingest) | "now" (the admin's button) | "add"
    status: int | None = None  # the HTTP status; None for a file or a failed connection
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    entry_count: int = 0  # items parsed
    entries_new: int = 0  # of which stored for the first time
    not_modified: bool = False
    seconds: float = 0.0


class Entry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True)  # arXiv id without version, "doi:…", guid or link
    source_id: int = Field(foreign_key="source.id", index=True)  # the source it was first seen in
    title: str = Field(sa_column=Column(Text, nullable=False))
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False))
    authors: list[str] = _json_list()
    link: str = ""
    categories: list[str] = _json_list()  # every category, primary first
    announce_type: str = "new"
    doi: str | None = None
    published: datetime | None = _when(nullable=True)
    first_seen: datetime = _when(nullable=False, index=True)

    @property
    def is_update(self) -> bool:
        return is_update(self.announce_type)


class Subscriber(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True)  # normalised by email-validator
    name: str = ""
    status: str = Field(default=SubscriberStatus.ACTIVE, index=True)
    timezone: str = "UTC"
    send_hour: int = 7
    language: str = "en"
    categories: list[str] = _json_list()
    keywords: list[str] = _json_list()
    excluded_keywords: list[str] = _json_list()
    # Opaque handle for signed links, so no numeric id ever appears in a URL.
    public_id: str = Field(default_factory=lambda: secrets.token_urlsafe(12), unique=True)
    max_papers: int | None = None  # the reader's digest size; None → the setting
    cadence: str = "daily"  # "daily" | "weekly" (domain/schedule.py)
    weekday: int = 0  # a weekly reader's day, 0 = Monday … 6 = Sunday; unused when daily
    soft_bounces: int = 0  # consecutive 4.x.x delivery reports
    status_reason: str | None = None  # why the status last changed ("one-click", "5.1.1 …")
    status_changed_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when(now=True, nullable=False)


class StatusChange(SQLModel, table=True):
    """One change of a subscriber's status, for the admin's history: what it became, why,
    when, and what made it (``by``: one-click, reply, bounce, admin, import, sign-up …).
    Statuses are plain strings, so a new one needs no change here."""

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    status: str
    previous: str | None = None  # None: the subscriber was created with ``status``
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    by: str
    changed_at: datetime = _when(now=True, nullable=False)


class Vote(SQLModel, table=True):
    """A reader's "more like this" / "less like this" on one paper; the latest one counts."""

    __table_args__ = (UniqueConstraint("subscriber_id", "entry_key"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    entry_key: str
    vote: str  # "more" | "less"
    created_at: datetime = _when(now=True, nullable=False)


class LibrarySeed(SQLModel, table=True):
    """One paper (or the free-text statement) that says what a reader works on, in the
    reader's order. A seed given by id only has an empty title until the paper is known."""

    __table_args__ = (UniqueConstraint("subscriber_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    position: int  # 0 first; a later library file appends after the last one
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False))
    arxiv_id: str | None = None
    doi: str | None = None  # lower case
    kind: str = "library"  # "library" | "statement"
    added_at: datetime = _when(now=True, nullable=False)


class TextModelRow(SQLModel, table=True):
    """The TF-IDF vocabulary every reader model is a vector over (domain/ranking_codec.py)."""

    __tablename__ = "textmodel"

    id: int | None = Field(default=None, primary_key=True)
    fitted_at: datetime = _when(now=True, nullable=False)
    n_entries: int  # how many stored entries it was fitted on
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ReaderModelRow(SQLModel, table=True):
    """A reader's fitted model; ``signature`` hashes the signals and the text model it was
    fitted from, so it is fitted again only when one of them changes."""

    __tablename__ = "readermodel"

    subscriber_id: int = Field(foreign_key="subscriber.id", primary_key=True)
    text_model_id: int = Field(foreign_key="textmodel.id", index=True)
    signature: str
    fitted_at: datetime = _when(now=True, nullable=False)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ArxivLookup(SQLModel, table=True):
    """The last time an arXiv id was asked of the arXiv API, and what came of it: an id asked
    within a day is not asked again (seeds that got their text keep it themselves)."""

    arxiv_id: str = Field(primary_key=True)
    asked_at: datetime = _when(now=True, nullable=False)
    found: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ReaderMessage(SQLModel, table=True):
    """One message read from the Reply-To mailbox, sorted once."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True, index=True)  # header Message-ID (or a digest of it)
    kind: str  # auto | bounce_hard | bounce_soft | bounce_auth | unsubscribe | feedback
    from_address: str = ""
    subscriber_id: int | None = Field(default=None, foreign_key="subscriber.id", index=True)
    subject: str = ""
    body: str = Field(default="", sa_column=Column(Text, nullable=False))  # plain text excerpt
    detail: str = ""  # e.g. the DSN status "5.1.1" and diagnostic
    received_at: datetime | None = _when(nullable=True)
    processed_at: datetime = _when(now=True, nullable=False)


class Delivery(SQLModel, table=True):
    """One subscriber's digest for one local date: written before the send, marked after."""

    __table_args__ = (UniqueConstraint("subscriber_id", "digest_date"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    digest_date: date
    status: str = Field(default=DeliveryStatus.PENDING, index=True)
    entry_keys: list[str] = _json_list()
    # Entries first seen up to this instant were considered; the next digest starts after it.
    cutoff: datetime = _when(nullable=False)
    briefing: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    briefing_kind: str | None = None
    subject: str | None = None
    message_id: str | None = Field(default=None, index=True)  # bounces are matched by it
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    public_id: str = Field(default_factory=lambda: secrets.token_urlsafe(12), unique=True)
    # Why each paper is there and what was cut ({"papers": {key: {"score", "why"}},
    # "more": {category: n}}): stored, so a retry and "view in browser" say what was sent.
    notes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _when(now=True, nullable=False)
    claimed_at: datetime | None = _when(nullable=True)
    sent_at: datetime | None = _when(nullable=True)


class Signup(SQLModel, table=True):
    """One sign-up request from the public page, and the email it sent: a confirmation
    (``kind`` "confirm", with the profile asked for) or an "already subscribed" note.

    The confirmation link names the row by ``public_id``; confirming applies its profile.
    Rows are the per-address memory of the resend limits and are deleted after two days;
    an unconfirmed confirmation 7 days after its link expired (services/signup_purge.py).
    """

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=lambda: secrets.token_urlsafe(12), unique=True)
    email: str = Field(index=True)  # as check_address normalised it
    kind: str = "confirm"  # "confirm" | "already"
    profile: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _when(now=True, nullable=False, index=True)
    confirmed_at: datetime | None = _when(nullable=True)


class RateCount(SQLModel, table=True):
    """Requests counted per key ("signup:address:…") in a fixed window, in the database so
    every web process counts the same requests."""

    __tablename__ = "ratecount"

    key: str = Field(primary_key=True)
    window_start: datetime = _when(nullable=False)
    count: int = 0


class AdminSession(SQLModel, table=True):
    """A logged-in admin. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the database opens no session. Logout deletes the row."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True)
    # The salted hash of the admin password at login: a new password ends old sessions.
    password_hash: str
    client: str = ""  # the address it logged in from, for the admin's own record
    created_at: datetime = _when(now=True, nullable=False)
    expires_at: datetime = _when(nullable=False, index=True)


class LoginThrottle(SQLModel, table=True):
    """Failed admin logins of one client address ("address:…") or of the account ("account"),
    in the database so every web process behind a load balancer counts the same guesses."""

    key: str = Field(primary_key=True)
    failures: int = 0
    last_failure_at: datetime | None = _when(nullable=True)
    blocked_until: datetime | None = _when(nullable=True)


class ImportDraft(SQLModel, table=True):
    """An uploaded subscriber CSV between its dry-run preview and the admin's confirm.

    Keyed by the SHA-256 of a random token bound to the admin session (the page holds the
    token, never a file name); the bytes live here, so any web process can confirm it.
    """

    token_hash: str = Field(primary_key=True)
    admin_session: str = Field(index=True)  # the admin session handle it belongs to
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _when(now=True, nullable=False)


class BriefingCacheEntry(SQLModel, table=True):
    key: str = Field(primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    model: str
    created_at: datetime = _when(now=True, nullable=False)


class Run(SQLModel, table=True):
    """What one run of the job did, for `digest-mailer runs` and the admin pages."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # "ingest" | "send" | "demo"
    started_at: datetime = _when(now=True, nullable=False)
    finished_at: datetime | None = _when(nullable=True)
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    errors: list[str] = _json_list()
