"""Subscribers: list and search, CSV import and export, preferences, unsubscribe, votes,
and adding or updating one from the CLI.

Every profile that arrives (a CSV row, the preferences page, ``subscribers add``) is
checked by :func:`digest_mailer.domain.subscriber.check_profile`; this service decides
each transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import Subscriber, SubscriberStatus
from digest_mailer.domain.schedule import WEEKDAYS, WEEKLY
from digest_mailer.domain.subscriber import (
    ProfileError,
    check_address,
    check_profile,
    split_items,
)
from digest_mailer.services.exporter import export_csv
from digest_mailer.services.import_rows import Progress
from digest_mailer.services.importer import ImportReport, import_csv

ACTIVE, UNSUBSCRIBED, BOUNCED, PENDING = (
    SubscriberStatus.ACTIVE, SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED,
    SubscriberStatus.PENDING)
STATUSES = (ACTIVE, PENDING, UNSUBSCRIBED, BOUNCED)
VOTES = ("more", "less")
SEARCHABLE = db.subscribers.SEARCHABLE  # the fields the admin's search looks in


@dataclass(frozen=True)
class ProfileDefaults:
    """What a new subscriber gets for a field not given (``DIGEST_DEFAULT_*``)."""

    timezone: str
    send_hour: int
    smtputf8: bool  # DIGEST_SMTP_UTF8: non-ASCII local parts are admitted


@dataclass
class ProfileChange:
    """The outcome of :meth:`SubscriberService.add_or_update`."""

    email: str
    added: bool = False
    changed: tuple[str, ...] = ()
    errors: list[ProfileError] = field(default_factory=list)


class SubscriberService:
    """Everything done to subscribers: search, import and export, preferences, unsubscribe,
    votes, and one subscriber added or updated from the CLI."""

    def __init__(self, engine: Engine, defaults: ProfileDefaults,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.defaults = defaults
        self.clock = clock

    def _session(self) -> Session:
        # Loaded attributes stay readable after the commit: the pages render them.
        return Session(self.engine, expire_on_commit=False)

    # --- list, search, import, export ------------------------------------------------------

    def every(self) -> list[Subscriber]:
        with self._session() as session:
            return db.subscribers.every(session)

    def search(self, text: str = "", status: str = "", *, field: str = "", offset: int = 0,
               limit: int = 50) -> tuple[list[Subscriber], int]:
        """A page of subscribers whose ``field`` (any, when empty) contains ``text``."""
        with self._session() as session:
            return db.subscribers.search(session, text, status, field=field, offset=offset,
                                         limit=limit)

    def export(self, handle: TextIO) -> int:
        with self._session() as session:
            return export_csv(session, handle)

    def import_csv(self, data: bytes | BinaryIO, *, skip_invalid: bool = True,
                   dry_run: bool = False, resubscribe: bool = False, check_dns: bool = False,
                   progress: Progress | None = None,
                   session: Session | None = None) -> ImportReport:
        """Import a subscriber CSV with the settings' defaults (see importer.import_csv).

        ``skip_invalid`` defaults to True (the demo): the good rows are kept and the
        rejected ones reported. The CLI and the browser import pass their own flags.
        ``session``: import inside the caller's transaction (it commits when written).
        """
        return import_csv(session or self.engine, data, default_timezone=self.defaults.timezone,
                          default_send_hour=self.defaults.send_hour, check_dns=check_dns,
                          smtputf8=self.defaults.smtputf8, dry_run=dry_run,
                          skip_invalid=skip_invalid, resubscribe=resubscribe,
                          progress=progress)

    def import_path(self, path: Path, **options: Any) -> ImportReport:
        """:meth:`import_csv` of a file, read a line at a time (never the whole file)."""
        with path.open("rb") as handle:
            return self.import_csv(handle, **options)

    # --- one subscriber --------------------------------------------------------------------

    def by_email(self, email: str) -> Subscriber | None:
        with self._session() as session:
            return db.subscribers.by_email(session, email)

    def by_public_id(self, public_id: str) -> Subscriber | None:
        with self._session() as session:
            return db.subscribers.by_public_id(session, public_id)

    def unsubscribe(self, public_id: str, reason: str, by: str = "one-click"
                    ) -> Subscriber | None:
        """Unsubscribe an active subscriber (idempotent); None for an unknown one."""
        with self._session() as session:
            subscriber = db.subscribers.by_public_id(session, public_id)
            if subscriber is not None and subscriber.status == ACTIVE:
                db.subscribers.set_status(session, subscriber, UNSUBSCRIBED, reason, by,
                                          self.clock())
                session.commit()
            return subscriber

    def undo_unsubscribe(self, public_id: str) -> tuple[Subscriber, bool] | None:
        """(subscriber, active again); a bounced subscriber stays bounced."""
        with self._session() as session:
            subscriber = db.subscribers.by_public_id(session, public_id)
            if subscriber is None:
                return None
            if subscriber.status == ACTIVE:
                return subscriber, True
            done = db.subscribers.undo_unsubscribe(session, subscriber, self.clock())
            session.commit()
            return subscriber, done

    # --- preferences -----------------------------------------------------------------------

    def preferences(self, public_id: str) -> tuple[Subscriber, list[str]] | None:
        """The subscriber and the categories the page offers them."""
        with self._session() as session:
            subscriber = db.subscribers.by_public_id(session, public_id)
            if subscriber is None:
                return None
            return subscriber, self._known(session, subscriber)

    @staticmethod
    def _known(session: Session, subscriber: Subscriber) -> list[str]:
        configured = db.sources.subscribable_categories(session)
        return configured + [c for c in subscriber.categories if c not in configured]

    def save_preferences(self, public_id: str, values: dict[str, Any]
                         ) -> tuple[Subscriber, list[str]] | None:
        """Save checked preferences (the page checks them with ``check_profile``)."""
        with self._session() as session:
            subscriber = db.subscribers.by_public_id(session, public_id)
            if subscriber is None:
                return None
            db.subscribers.update_preferences(session, subscriber, **values)
            session.commit()
            return subscriber, self._known(session, subscriber)

    # --- votes -----------------------------------------------------------------------------

    def vote_target(self, public_id: str, key: str) -> tuple[Subscriber, str] | None:
        """(subscriber, paper title) of a feedback link, or None."""
        with self._session() as session:
            subscriber = db.subscribers.by_public_id(session, public_id)
            entries = db.entries.by_keys(session, [key])
            if subscriber is None or not entries:
                return None
            return subscriber, entries[0].title

    def vote(self, public_id: str, key: str, vote: str) -> tuple[Subscriber, str] | None:
        """Record "more/less like this"; a later vote on the same paper replaces it."""
        with self._session() as session:
            subscriber = db.subscribers.by_public_id(session, public_id)
            entries = db.entries.by_keys(session, [key])
            if subscriber is None or subscriber.id is None or not entries or vote not in VOTES:
                return None
            db.votes.record(session, subscriber.id, key, vote)
            session.commit()
            return subscriber, entries[0].title

    # --- the CLI's `subscribers add` -------------------------------------------------------

    def add_or_update(self, fields: dict[str, str | None]) -> ProfileChange:
        """Add a subscriber or update the given fields of an existing one.

        ``fields``: email (required) and any of name, categories, keywords, exclusions
        ("|"-separated), timezone, send_hour, language, max_papers, cadence, weekday (a
        weekly cadence needs one, given or stored); None means "not given":
        a new subscriber gets the importer's defaults, an existing one keeps its value.
        Every given field is checked as a CSV row's is; nothing is written on an error.
        """
        given = {k: v for k, v in fields.items() if v is not None}
        bad: list[ProfileError] = []
        try:
            address = check_address(given.get("email", ""), smtputf8=self.defaults.smtputf8)
        except ProfileError as err:
            address = given.get("email", "")
            bad.append(err)
        with self._session() as session:
            known = db.sources.subscribable_categories(session)
            stored = db.subscribers.by_email(session, address) if not bad else None
            current = _fields_of(stored) if stored is not None else {
                "name": "", "categories": "", "keywords": "", "exclusions": "",
                "timezone": self.defaults.timezone, "send_hour": str(self.defaults.send_hour),
                "language": "en", "max_papers": "", "cadence": "daily", "weekday": ""}
            wanted = {**current, **{k: v for k, v in given.items() if k != "email"}}
            profile = check_profile(
                name=wanted["name"], categories=split_items(wanted["categories"]),
                keywords=split_items(wanted["keywords"]),
                exclusions=split_items(wanted["exclusions"]), timezone=wanted["timezone"],
                send_hour=wanted["send_hour"], language=wanted["language"],
                max_papers=wanted["max_papers"] or None, cadence=wanted["cadence"],
                weekday=wanted["weekday"] or None,
                known_categories=known + (stored.categories if stored else []))
            errors = bad + profile.errors
            if errors:
                return ProfileChange(address, errors=errors)
            values: dict[str, Any] = {**profile.preferences(), "name": profile.name,
                                      "max_papers": profile.max_papers}
            subscriber = stored or Subscriber(email=address)
            changed = tuple(k for k, v in values.items()
                            if stored is None or getattr(stored, k) != v)
            for key, value in values.items():
                setattr(subscriber, key, value)
            session.add(subscriber)
            session.commit()
        return ProfileChange(address, added=stored is None,
                             changed=() if stored is None else changed)


def _fields_of(subscriber: Subscriber) -> dict[str, str]:
    """A stored subscriber's profile as the strings ``add_or_update`` takes."""
    return {"name": subscriber.name, "categories": "|".join(subscriber.categories),
            "keywords": "|".join(subscriber.keywords),
            "exclusions": "|".join(subscriber.excluded_keywords),
            "timezone": subscriber.timezone, "send_hour": str(subscriber.send_hour),
            "language": subscriber.language,
            "max_papers": str(subscriber.max_papers or ""), "cadence": subscriber.cadence,
            # A daily reader's stored day means nothing: turning weekly asks for one.
            "weekday": WEEKDAYS[subscriber.weekday] if subscriber.cadence == WEEKLY else ""}


__all__ = ["SEARCHABLE", "STATUSES", "ProfileChange", "ProfileDefaults",
           "SubscriberService"]
