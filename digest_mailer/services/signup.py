"""Sign-up with double opt-in: the public form, the confirmation, the welcome.

A request is answered the same way whatever the address is (no enumeration): a new,
pending, unsubscribed or bounced address gets a confirmation email, an active subscriber an
"already subscribed" email with their preferences link, and an address mailed within the
hour (or three times in a day) nothing. Only the confirmation link makes anyone ``active``;
its status change is recorded in the history. Bots: a honeypot field and a signed time
stamp (a form sent faster than a person fills it) are refused silently; every client
address has a limit per hour, counted in the database. Rules: :mod:`digest_mailer.domain.signup`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from itsdangerous import BadData
from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db, i18n
from digest_mailer.db.models import Signup, Subscriber, SubscriberStatus
from digest_mailer.domain.compose import category_label
from digest_mailer.domain.digest import Links
from digest_mailer.domain.schedule import DAILY
from digest_mailer.domain.signup import (
    CONFIRMED,
    SIGNED_UP,
    Limits,
    Notice,
    Verdict,
    already_notice,
    confirmation_notice,
    first_digest_at,
    next_digest_at,
    verdict,
    welcome_digest_date,
    welcome_notice,
)
from digest_mailer.domain.subscriber import ProfileError, check_profile, split_items
from digest_mailer.errors import DeliveryError
from digest_mailer.mail.links import LinkSigner
from digest_mailer.mail.message import build_message, make_message_id
from digest_mailer.mail.notice import NoticeRenderer
from digest_mailer.mail.render import format_date, join_list
from digest_mailer.mail.transport import BatchConnection, Pacer, Transport
from digest_mailer.services.admin import address_key
from digest_mailer.services.compose import MailConfig

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)  # the per-client and per-address request counts' window
ADDRESS_REQUESTS = 20  # requests naming one address in an hour; beyond, nothing is mailed
FORGET = timedelta(days=2)  # sign-up rows older than every limit and every link
# An unconfirmed request (its row and the pending subscriber it made) is deleted this long
# after its link expired.
PURGE_AFTER = timedelta(days=7)
MAX_TOKEN_CHARS = 512  # ours are < 100 characters; longer input is not even parsed


def unconfirmed_before(now: datetime, limits: Limits) -> datetime:
    """Unconfirmed requests made before this are deleted, with their pending reader."""
    return now - limits.confirm_expiry - PURGE_AFTER


@dataclass(frozen=True)
class SignupConfig:
    limits: Limits = field(default_factory=Limits)
    client_limit: int = 20  # DIGEST_SIGNUP_CLIENT_LIMIT: requests per client address an hour
    min_fill: timedelta = timedelta(seconds=3)  # DIGEST_SIGNUP_MIN_SECONDS
    form_max_age: timedelta = timedelta(hours=4)
    smtputf8: bool = False  # DIGEST_SMTP_UTF8: non-ASCII local parts are admitted
    welcome_now: bool = False  # DIGEST_WELCOME_DIGEST=now: the first digest right away


@dataclass(frozen=True)
class CategoryChoice:
    code: str
    label: str  # "Computer Vision (cs.CV)" in the page's language
    sources: str  # the configured sources' labels, "arXiv (cs.CV)"


@dataclass
class SignupRequest:
    """What the form sent, as typed."""

    email: str = ""
    name: str = ""
    language: str = ""
    categories: list[str] = field(default_factory=list)
    keywords: str = ""
    timezone: str = ""
    send_hour: str = ""
    honeypot: str = ""
    stamp: str = ""
    cadence: str = ""  # empty: daily
    weekday: str = ""


@dataclass(frozen=True)
class Answer:
    """``inbox``: "check your inbox" (sent, or silently not); ``invalid``: the fields'
    ``errors``; ``again``: the form lacked a live stamp (an embedded copy, or left open too
    long), show it again to send; ``busy``: this client's limit, ``retry_after`` seconds;
    ``unsent``: the mail server refused for now."""

    kind: str
    errors: tuple[ProfileError, ...] = ()
    retry_after: int = 0


@dataclass(frozen=True)
class Confirmation:
    """A confirmation link's state. ``kind``: ``pending`` (ask to confirm), ``done`` (now
    or earlier confirmed), ``expired``."""

    kind: str
    email: str
    language: str
    preferences_url: str = ""
    first_digest: datetime | None = None  # local; when it was confirmed just now
    welcomed: bool = False
    sent_now: bool = False  # the first digest is queued; ``first_digest`` is the next one
    cadence: str = DAILY
    weekday: int = 0


class SignupService:
    def __init__(self, engine: Engine, signer: LinkSigner, renderer: NoticeRenderer,
                 mail: MailConfig, transport: Callable[[], Transport], config: SignupConfig,
                 clock: Callable[[], datetime], pacer: Pacer | None = None) -> None:
        self.engine, self.signer, self.renderer = engine, signer, renderer
        self.mail, self.transport, self.config, self.clock = mail, transport, config, clock
        # The process's pacer (DIGEST_SMTP_RATE): sign-up emails share the digests' rate.
        self.pacer = pacer or Pacer(0)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- the form --------------------------------------------------------------------------

    def choices(self, language: str) -> list[CategoryChoice]:
        """The categories of the active sources, with their labels, in code order."""
        with self._session() as session:
            sources = db.sources.active(session)
        by_code: dict[str, list[str]] = {}
        for source in sources:
            by_code.setdefault(source.category, []).append(source.label)
        return [CategoryChoice(code, category_label(code, language), " · ".join(labels))
                for code, labels in sorted(by_code.items())]

    def stamp(self) -> str:
        """The signed time the form was served: how long it took to fill is checked."""
        return self.signer.token("signup", int(self.clock().timestamp() * 1000))

    def _stamp_age(self, stamp: str) -> timedelta | None:
        try:
            served = (self.signer.load("signup", stamp)
                      if 0 < len(stamp) <= MAX_TOKEN_CHARS else None)
        except (BadData, UnicodeError, ValueError):
            return None
        if not isinstance(served, int):
            return None
        return self.clock() - datetime.fromtimestamp(served / 1000, UTC)

    # --- a request -------------------------------------------------------------------------

    def submit(self, request: SignupRequest, client: str) -> Answer:
        now = self.clock()
        with self.engine.begin() as conn:  # every request counts, a bot's too
            key = "signup:" + address_key(client)
            if db.signups.count(conn, key, now, now - WINDOW) > self.config.client_limit:
                start = db.signups.window_start(conn, key) or now
                return Answer("busy", retry_after=max(1, int((start + WINDOW - now)
                                                             .total_seconds())))
        age = self._stamp_age(request.stamp)
        if age is None or age > self.config.form_max_age:
            return Answer("again")
        if age < self.config.min_fill or request.honeypot.strip():
            log.info("sign-up refused silently: %s",
                     "honeypot filled" if request.honeypot.strip() else "sent too fast")
            return Answer("inbox")
        # Labels are not shown here: any language will do, but only one of ours (an
        # unknown code raises, a 500 for a typed language="xx").
        offered = [c.code for c in self.choices(i18n.REFERENCE)]
        profile = check_profile(
            email=request.email, name=request.name, categories=request.categories,
            keywords=split_items(request.keywords), exclusions=[], timezone=request.timezone,
            send_hour=request.send_hour, language=request.language, known_categories=offered,
            cadence=request.cadence or None, weekday=request.weekday or None,
            smtputf8=self.config.smtputf8)
        if profile.errors:
            return Answer("invalid", tuple(profile.errors))
        wanted = {"name": profile.name, **profile.preferences()}
        notice, row = self._record(profile.email, wanted, now)
        if notice is None:
            return Answer("inbox")
        try:
            # To the bare address: until its owner confirms, nothing the requester typed
            # (a name: the way sign-up forms are used to mail spam) reaches a stranger.
            self._send(notice, profile.email, "", now)
        except DeliveryError as err:
            log.warning("sign-up email to %s not sent: %s", profile.email, err.reason)
            with self._session() as session:  # not sent: a retry may send it
                sent = db.signups.by_public_id(session, row)
                if sent is not None:
                    session.delete(sent)
                    session.commit()
            return Answer("unsent")
        return Answer("inbox")

    def _record(self, email: str, wanted: dict[str, Any], now: datetime
                ) -> tuple[Notice | None, str]:
        """Decide and store what this request for ``email`` earns: the email to send (None
        for nothing) and its sign-up row's public id."""
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        with self._session() as session:
            # First statement, a write: it locks the address's count (PostgreSQL: its
            # row; SQLite: the database), so two requests at once decide one after the other.
            requests = db.signups.count(session.connection(), f"signup-email:{digest}", now,
                                        now - WINDOW)
            db.signups.forget_before(session, now - FORGET,
                                     unconfirmed_before(now, self.config.limits))
            stored = db.subscribers.by_email(session, email)
            sent = [s.created_at for s in db.signups.recent(session, email, now - FORGET)]
            earned = verdict(stored.status if stored else None, sent, now, self.config.limits)
            if earned is Verdict.QUIET or requests > ADDRESS_REQUESTS:
                session.commit()
                return None, ""
            if earned is Verdict.ALREADY:
                assert stored is not None
                row = Signup(email=email, kind="already", created_at=now)
                notice = already_notice(stored.language, stored.name,
                                        self._preferences_url(stored.public_id))
            else:
                if stored is None:
                    pending = Subscriber(email=email, status=SubscriberStatus.PENDING,
                                         status_reason=SIGNED_UP, status_changed_at=now,
                                         created_at=now, **_model_fields(wanted))
                    session.add(pending)
                    db.subscribers.first_status(session, pending, SIGNED_UP, now)
                row = Signup(email=email, kind="confirm", profile=wanted, created_at=now)
                url = (f"{self.signer.base_url}/c/"
                       f"{self.signer.token('confirm', [row.public_id, int(now.timestamp())])}")
                notice = confirmation_notice(wanted["language"], "", url,
                                             self.config.limits.confirm_expiry)
            session.add(row)
            session.commit()
            return notice, row.public_id

    def _preferences_url(self, public_id: str) -> str:
        return f"{self.signer.base_url}/p/{self.signer.token('preferences', public_id)}"

    def _send(self, notice: Notice, to_email: str, to_name: str, now: datetime,
              links: Links | None = None) -> None:
        rendered = self.renderer.render(notice)
        with BatchConnection(self.transport, self.pacer) as connection:
            utf8 = not to_email.partition("@")[0].isascii()
            if utf8 and not connection.supports("smtputf8", to_email):
                raise DeliveryError(to_email, "the SMTP server does not take SMTPUTF8",
                                    permanent=True)
            connection.send(build_message(
                rendered, to_email=to_email, to_name=to_name, sender=self.mail.mail_from,
                reply_to=self.mail.reply_to, list_id=self.mail.list_id,
                links=links or Links("", "", "", ""),
                message_id=make_message_id(self.mail.sender_domain), date=now, smtputf8=utf8))

    # --- the confirmation link -------------------------------------------------------------

    def _request_of(self, session: Session, token: str) -> tuple[Signup, datetime] | None:
        if len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            payload = self.signer.load("confirm", token)
        except (BadData, UnicodeError, ValueError):
            return None
        if (not isinstance(payload, list) or len(payload) != 2
                or not isinstance(payload[0], str) or not isinstance(payload[1], int)):
            return None
        row = db.signups.by_public_id(session, payload[0])
        if row is None or row.kind != "confirm":
            return None
        return row, datetime.fromtimestamp(payload[1], UTC)

    def confirmation(self, token: str) -> Confirmation | None:
        """What a confirmation link stands for, changing nothing (a GET: mail scanners
        follow links); None for a link that is not ours or whose request is gone."""
        with self._session() as session:
            found = self._request_of(session, token)
            if found is None:
                return None
            row, issued = found
            language = str(row.profile.get("language", "en"))
            if row.confirmed_at is not None:
                stored = db.subscribers.by_email(session, row.email)
                url = self._preferences_url(stored.public_id) if stored else ""
                return Confirmation("done", row.email, language, url)
            if self.clock() - issued > self.config.limits.confirm_expiry:
                return Confirmation("expired", row.email, language)
            return Confirmation("pending", row.email, language)

    def confirm(self, token: str, enqueue: Callable[[int, date], None] | None = None
                ) -> Confirmation | None:
        """Confirm: the request's profile is saved, the subscriber becomes active (the
        history records it) and gets the welcome email. Again: nothing more happens.

        ``enqueue(subscriber_id, digest_date)``: how the face queues a digest on the
        worker's send path; with ``welcome_now`` the first digest goes that way at once,
        under the ledger date the normal path would give it (the request never sends it).
        """
        now = self.clock()
        with self._session() as session:
            found = self._request_of(session, token)
            if found is None:
                return None
            row, issued = found
            if row.confirmed_at is None and now - issued > self.config.limits.confirm_expiry:
                return Confirmation("expired", row.email, str(row.profile.get("language")))
            subscriber = db.subscribers.by_email(session, row.email)
            if row.confirmed_at is not None and subscriber is not None:
                return Confirmation("done", row.email, subscriber.language,
                                    self._preferences_url(subscriber.public_id),
                                    cadence=subscriber.cadence, weekday=subscriber.weekday)
            if subscriber is None:  # removed meanwhile: the request brings it back
                subscriber = Subscriber(email=row.email, status=SubscriberStatus.PENDING,
                                        created_at=now)
            for name, value in _model_fields(row.profile).items():
                setattr(subscriber, name, value)
            subscriber.soft_bounces = 0  # a bounced address that confirms takes mail again
            db.subscribers.change_status(session, subscriber, SubscriberStatus.ACTIVE,
                                     CONFIRMED, now)
            for other in db.signups.recent(session, row.email, now - FORGET):
                if other.kind == "confirm" and other.confirmed_at is None:
                    other.confirmed_at = now  # its older links confirm nothing more
                    session.add(other)
            session.flush()  # a subscriber made just now gets its id here
            day = self._welcome_day(session, subscriber, now) if enqueue else None
            session.commit()
        first = first_digest_at(now, subscriber.timezone, subscriber.send_hour,
                                subscriber.cadence, subscriber.weekday)
        sent_now = False
        if day is not None and enqueue is not None and subscriber.id is not None:
            try:
                enqueue(subscriber.id, day)
                sent_now = True
                first = next_digest_at(day, subscriber.timezone, subscriber.send_hour,
                                       subscriber.cadence, subscriber.weekday)
            except Exception as err:  # the queue is down: the morning's digest will come
                log.warning("first digest of %s not queued: %s", subscriber.email, err)
        preferences = self._preferences_url(subscriber.public_id)
        welcomed = self._welcome(subscriber, first, preferences, now, sent_now)
        return Confirmation("done", subscriber.email, subscriber.language, preferences,
                            first, welcomed, sent_now, subscriber.cadence, subscriber.weekday)

    def _welcome_day(self, session: Session, subscriber: Subscriber, now: datetime
                     ) -> date | None:
        """The ledger date of a first digest sent now, or None: not asked for, or that
        date's digest is done already (a reader who left and came back the same day)."""
        if not self.config.welcome_now or subscriber.id is None:
            return None
        day = welcome_digest_date(now, subscriber.timezone, subscriber.cadence,
                                  subscriber.weekday)
        done = (subscriber.id, day) in db.deliveries.closed_dates(session, [day])
        return None if done else day

    def _welcome(self, subscriber: Subscriber, first: datetime, preferences: str,
                 now: datetime, sent_now: bool = False) -> bool:
        lang = subscriber.language
        links = self.signer.links(subscriber.public_id, "")
        notice = welcome_notice(
            lang, subscriber.name, first_date=format_date(first.date(), lang), first=first,
            chosen=join_list([*subscriber.categories,
                              *(f"‘{k}’" for k in subscriber.keywords)], lang),
            preferences_url=preferences, unsubscribe_url=links.unsubscribe, sent_now=sent_now,
            cadence=subscriber.cadence, weekday=subscriber.weekday)
        try:
            self._send(notice, subscriber.email, subscriber.name, now,
                       Links(links.unsubscribe, links.unsubscribe_mailto, preferences, ""))
        except DeliveryError as err:  # subscribed all the same; the digest will come
            log.warning("welcome email to %s not sent: %s", subscriber.email, err.reason)
            return False
        return True

    def history(self, email: str) -> list[tuple[str | None, str, str]]:
        """(previous, status, reason) of every status change of a subscriber, oldest first."""
        with self._session() as session:
            stored = db.subscribers.by_email(session, email)
            if stored is None or stored.id is None:
                return []
            return [(c.previous, c.status, c.reason) for c in db.subscribers.history(session,
                                                                                 stored.id)]


def _model_fields(profile: dict[str, Any]) -> dict[str, Any]:
    """A stored request's profile under the subscriber model's names (the name only when
    one was given: an empty field keeps a returning reader's name)."""
    fields = {k: profile[k] for k in ("categories", "keywords", "excluded_keywords",
                                      "timezone", "send_hour", "language", "cadence",
                                      "weekday") if k in profile}
    if profile.get("name"):
        fields["name"] = profile["name"]
    return fields
