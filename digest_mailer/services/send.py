"""Sending the digests that are due: claim → brief → render → deliver, safe to repeat.

A Delivery row is written, claimed, before a send and marked after, so running again
never sends a digest twice. This service decides every transaction of the send path:
claims are committed as soon as they are taken (that is what makes them visible to other
workers), and each outcome right after the SMTP server answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.briefing.themes import ThemePaper
from digest_mailer.db.models import Delivery, DeliveryStatus, Run, Subscriber
from digest_mailer.domain.compose import cadence_of
from digest_mailer.domain.schedule import due_date, is_digest_day
from digest_mailer.domain.signup import held_since
from digest_mailer.errors import DeliveryError
from digest_mailer.mail.message import make_message_id
from digest_mailer.mail.transport import BatchConnection, Pacer, Transport
from digest_mailer.services.batch import SelectionConfig, SendBatch
from digest_mailer.services.briefs import BriefingPass, Job, theme_window
from digest_mailer.services.compose import Composer
from digest_mailer.services.listing import DigestListing, listing_of
from digest_mailer.services.report import Report

log = logging.getLogger(__name__)

# A digest that failed this many times (temporary errors) is given up and reported.
MAX_ATTEMPTS = 6
# How long the outcome of a send is tried again while the database is locked (SQLite: a
# writer held the lock past the busy timeout). Well inside the claim timeout: the claim
# is ours.
MARK_RETRY_SECONDS = 300.0


@dataclass(frozen=True)
class SendConfig:
    """The send run's rules (``DIGEST_*`` of sending: batch size, claims, retries, resends)."""

    send_empty: bool
    resend_unknown: bool
    claim_timeout_minutes: float
    smtp_batch_size: int
    mark_retry_seconds: float = MARK_RETRY_SECONDS


def digest_day(subscriber: Subscriber, now: datetime, forced: date | None = None) -> date | None:
    """The date of this reader's digest due at ``now`` (None: nothing due); ``forced``
    (``send --date``) ignores the send hour, never a weekly reader's weekday."""
    if forced is not None:
        return forced if is_digest_day(forced, subscriber.cadence, subscriber.weekday) else None
    # A fresh sign-up waits for its next send hour (domain/signup.py).
    return due_date(now, subscriber.timezone, subscriber.send_hour, subscriber.cadence,
                    subscriber.weekday,
                    held_since(subscriber.status_reason, subscriber.status_changed_at))


def _locked(err: OperationalError) -> bool:
    """SQLite's "database is locked" / "busy": another writer holds the lock; wait."""
    text = str(err.orig).lower()
    return "locked" in text or "busy" in text


class SendService:
    """The morning job's send half: which digests are due, and sending each one exactly once."""

    def __init__(self, engine: Engine, composer: Composer, briefs: BriefingPass,
                 transport_factory: Callable[[], Transport], pacer: Pacer,
                 config: SendConfig, selection: SelectionConfig,
                 clock: Callable[[], datetime], *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.engine = engine
        self.composer = composer
        self.briefs = briefs
        self.transport_factory = transport_factory
        self.pacer = pacer  # one per process: its send batches share the rate
        self.config = config
        self.selection = selection
        self.clock = clock
        self.sleep = sleep
        self.sender_domain = composer.sender_domain
        # Well inside the claim timeout: no other worker can have taken a claim over
        # that is younger than this, so sending under it needs no re-stamp.
        self._renew_after = timedelta(minutes=config.claim_timeout_minutes) / 4

    # --- schedule ------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[int]:
        """Active subscribers whose local send hour (and weekday, for a weekly reader) has
        come and whose digest is not done."""
        now = now or self.clock()
        with Session(self.engine) as session:
            subscribers = db.subscribers.active(session)
            wanted = {s.id: digest_day(s, now) for s in subscribers}
            dates = sorted({d for d in wanted.values() if d is not None})
            done = db.deliveries.closed_dates(session, dates) if dates else set()
        return [sid for sid, day in wanted.items()
                if sid is not None and day is not None and (sid, day) not in done]

    # --- select → brief → render → deliver ------------------------------------------------

    def send(self, subscriber_ids: Iterable[int] | None = None, *,
             digest_date: date | None = None, dry_run: bool = False,
             listings: list[DigestListing] | None = None) -> Report:
        """Send each due digest once. ``digest_date`` forces that date (CLI ``--date``).

        ``dry_run``: choose only, write no Delivery and no Run (reader models fitted on the
        way are kept: they are a cache of the reader's signals); ``listings`` then receives
        each due digest as data (``send --dry-run --json``).

        Choose every digest's papers and write their Delivery rows, claimed, in one
        statement; ask for the briefings, distinct selections at once; then render and
        send each digest over one connection as soon as its briefing is ready, so the
        CPU works while the LLM answers.
        """
        report = Report("send")
        now = self.clock()
        llm_before = self.briefs.stats()
        # expire_on_commit=False: the batch's entries stay loaded across the many commits
        # (otherwise every attribute read after a commit reloads its row, one by one).
        with Session(self.engine, expire_on_commit=False) as session, \
                BatchConnection(self.transport_factory, self.pacer,
                                self.config.smtp_batch_size) as mail:
            subscribers = db.subscribers.active(session, subscriber_ids)
            days = {s.id or 0: digest_day(s, now, digest_date) for s in subscribers}
            due = [s for s in subscribers if days[s.id or 0] is not None]
            if len(due) < len(subscribers):  # no "not_due 0" in every report
                report.counts["not_due"] += len(subscribers) - len(due)
            batch = self.composer.load_batch(session, due,
                                             {k: v for k, v in days.items() if v}, now)
            jobs = self._prepare(session, batch, due, days, report, dry_run, listings)
            # The window's papers per cadence, the same for every batch of the day: its
            # themes are. A weekly digest's themes are the week's, not the last two days'.
            windows = {cadence: [ThemePaper(e.key, e.title, e.abstract) for e in
                                 db.entries.seen_between(session, theme_window(now, cadence),
                                                         now)]
                       for cadence in sorted({cadence_of(j.delivery.notes) for j in jobs})}
            for job in self.briefs.briefed(jobs, report, windows):
                self._deliver(session, job, mail, report)
            if mail.retries:
                report.counts["smtp_retries"] += mail.retries
            # The briefer's counters run for the life of the process: count this run's share.
            llm_after = self.briefs.stats()
            report.counts.update({k: v - llm_before.get(k, 0) for k, v in llm_after.items()
                                  if v - llm_before.get(k, 0)})
            if not dry_run:
                db.runs.save(session, Run(kind=report.kind, started_at=now,
                                          counts=dict(report.counts), errors=report.errors))
                session.commit()
        return report

    def _prepare(self, session: Session, batch: SendBatch, due: Sequence[Subscriber],
                 days: dict[int, date | None], report: Report, dry_run: bool,
                 listings: list[DigestListing] | None = None) -> list[Job]:
        """Find or write each due Delivery and claim it: the digests this worker sends.
        A dry run only counts them, and lists them in ``listings`` when given."""
        fresh: list[tuple[Subscriber, Delivery]] = []
        retries: list[tuple[Subscriber, Delivery]] = []
        for subscriber in due:
            assert subscriber.id is not None
            day = days[subscriber.id]
            assert day is not None
            delivery = batch.deliveries.get((subscriber.id, day))
            if delivery is not None:
                if delivery.status in DeliveryStatus.DONE:
                    report.counts["already_done"] += 1
                elif dry_run:
                    report.counts["would_retry"] += 1
                    if listings is not None:
                        entries = (batch.entries(delivery.entry_keys)
                                   or db.entries.by_keys(session, delivery.entry_keys))
                        listings.append(listing_of(subscriber, delivery, entries, retry=True,
                                                   briefing=self.briefs.kind))
                else:
                    retries.append((subscriber, delivery))
                continue
            try:
                selection = batch.select(subscriber, self.selection)
            except Exception as err:  # one subscriber never stops the batch
                log.exception("choosing papers for %s failed", subscriber.email)
                report.fail(subscriber.email, f"{type(err).__name__}: {err}")
                continue
            if dry_run:
                report.counts["would_send" if len(selection) else "would_skip_empty"] += 1
                log.info("%s: %d papers", subscriber.email, len(selection))
                if listings is not None:
                    draft = Delivery(subscriber_id=subscriber.id, digest_date=day,
                                     entry_keys=selection.keys,
                                     notes=batch.notes(subscriber, selection))
                    listings.append(listing_of(subscriber, draft,
                                               batch.entries(selection.keys) or [],
                                               briefing=self.briefs.kind))
                continue
            empty = not len(selection) and not self.config.send_empty
            fresh.append((subscriber, Delivery(
                subscriber_id=subscriber.id, digest_date=day, entry_keys=selection.keys,
                cutoff=batch.now, message_id=make_message_id(self.sender_domain),
                status=DeliveryStatus.EMPTY if empty else DeliveryStatus.SENDING,
                claimed_at=None if empty else batch.now, attempts=0 if empty else 1,
                notes=None if empty else batch.notes(subscriber, selection))))
        claimed = self._claim_fresh(session, fresh, report)
        claimed += self._claim_retries(session, batch, retries, report)
        jobs = []
        for subscriber, delivery, resending in claimed:
            try:
                entries = batch.entries(delivery.entry_keys)
                if entries is None:  # a retry of an older day: read its papers by key
                    entries = db.entries.by_keys(session, delivery.entry_keys)
                groups = self.composer.groups(subscriber, entries, batch.labels,
                                              delivery.notes)
            except Exception as err:  # bad data: release the claim, record, go on
                session.rollback()
                log.exception("grouping the papers for %s failed", subscriber.email)
                self._failed(session, delivery, report, subscriber.email,
                             f"{type(err).__name__}: {err}", permanent=False)
                continue
            jobs.append(Job(subscriber, delivery, groups, resending=resending))
        return jobs

    def _claim_fresh(self, session: Session, fresh: list[tuple[Subscriber, Delivery]],
                     report: Report) -> list[tuple[Subscriber, Delivery, bool]]:
        if not fresh:
            return []
        written = {id(d) for d in db.deliveries.insert_claimed(session, [d for _, d in fresh])}
        session.commit()  # the claims are visible to other workers from here on
        claimed = []
        for subscriber, delivery in fresh:
            if id(delivery) not in written:
                report.counts["taken_by_other_worker"] += 1
            elif delivery.status == DeliveryStatus.EMPTY:
                report.counts["skipped_empty"] += 1
            else:
                claimed.append((subscriber, delivery, False))
        return claimed

    def _claim_retries(self, session: Session, batch: SendBatch,
                       retries: list[tuple[Subscriber, Delivery]],
                       report: Report) -> list[tuple[Subscriber, Delivery, bool]]:
        stale_after = timedelta(minutes=self.config.claim_timeout_minutes)
        claimed = []
        for subscriber, delivery in retries:  # an earlier attempt failed or was cut off
            assert delivery.id is not None
            if delivery.status == DeliveryStatus.RESEND and not self.config.resend_unknown:
                # The resend was turned off since: close it as maybe delivered.
                self._finish(session, delivery, DeliveryStatus.UNKNOWN, batch.now,
                             delivery.last_error)
                report.counts["unknown"] += 1
                continue
            was_resend = delivery.status == DeliveryStatus.RESEND
            taken = db.deliveries.claim(session, delivery.id, batch.now, stale_after)
            session.commit()
            if not taken:
                report.counts["taken_by_other_worker"] += 1
                continue
            session.refresh(delivery)
            claimed.append((subscriber, delivery, was_resend))
        return claimed

    def _deliver(self, session: Session, job: Job, mail: BatchConnection,
                 report: Report) -> None:
        subscriber, delivery = job.subscriber, job.delivery
        utf8 = self._needs_smtputf8(subscriber.email)
        try:
            if utf8 and not mail.supports("smtputf8", subscriber.email):
                # Permanent: the same server will refuse it tomorrow, and the day after.
                raise DeliveryError(subscriber.email, f"{utf8} has a non-ASCII local part, "
                                    "which needs SMTPUTF8; the SMTP server does not announce "
                                    "it", permanent=True)
            # Reached with a non-ASCII local part only if the server takes SMTPUTF8.
            composed = self.composer.compose(session, subscriber, delivery, groups=job.groups,
                                             briefing=job.briefing, smtputf8=bool(utf8))
            if not self._renew(session, delivery):
                report.counts["taken_by_other_worker"] += 1
                return
            # Saved with the outcome, so a retry carries the same briefing and "view in
            # browser" shows what was sent.
            briefing = composed.digest.briefing
            delivery.briefing, delivery.briefing_kind = briefing.text, briefing.kind
            if briefing.headline:  # a new dict: the JSON column sees the change
                delivery.notes = {**(delivery.notes or {}), "headline": briefing.headline}
            delivery.subject = composed.rendered.subject
            mail.send(composed.message)
        except DeliveryError as err:
            if err.maybe_delivered:
                self._maybe_delivered(session, job, report, err.reason)
            else:
                self._failed(session, delivery, report, subscriber.email, err.reason,
                             err.permanent, resending=job.resending)
            return
        except Exception as err:  # a bug or bad data: release the claim, record, go on
            session.rollback()
            log.exception("composing the digest for %s failed", subscriber.email)
            # A message to a non-ASCII local part that cannot be built would fail the same
            # way every run: no retry.
            permanent = bool(utf8) and isinstance(err, ValueError)
            self._failed(session, delivery, report, subscriber.email,
                         f"{type(err).__name__}: {err}", permanent=permanent,
                         resending=job.resending)
            return
        self._finish(session, delivery, DeliveryStatus.SENT, self.clock())
        report.counts["sent"] += 1

    def _renew(self, session: Session, delivery: Delivery) -> bool:
        """A claim left this long by a killed worker is taken over: re-stamp ours if this
        digest waited long for its briefing or for the sends before it."""
        assert delivery.id is not None
        now = self.clock()
        claimed_at = delivery.claimed_at
        if claimed_at is not None and claimed_at.tzinfo is None:
            claimed_at = claimed_at.replace(tzinfo=now.tzinfo)
        if claimed_at is not None and now - claimed_at <= self._renew_after:
            return True
        renewed = db.deliveries.renew_claim(session, delivery.id, delivery.attempts, now)
        session.commit()
        if renewed:
            delivery.claimed_at = now
        return renewed

    def _finish(self, session: Session, delivery: Delivery, status: str, now: datetime,
                error: str | None = None) -> None:
        """Record the outcome, with the briefing and subject that went out, and commit.

        One commit per digest, right after the SMTP server answered: a worker killed later
        can have sent at most this one digest without marking it (README: the window). A
        locked database is waited out for ``mark_retry_seconds``: the server has the
        message, and forgetting that would send it again.
        """
        assert delivery.id is not None
        # Read now: a rollback below expires the entity, and reloading it would lose these.
        values = db.deliveries.outcome(delivery, status, now, error)
        deadline, delay = time.monotonic() + self.config.mark_retry_seconds, 0.05
        while True:
            try:
                db.deliveries.finish(session, delivery.id, values)
                session.commit()
                return
            except OperationalError as err:
                session.rollback()
                if not _locked(err) or time.monotonic() >= deadline:
                    raise
                log.warning("marking delivery %s %s: the database is locked; trying again "
                            "in %.2gs", delivery.id, status, delay)
                self.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _failed(self, session: Session, delivery: Delivery, report: Report, email: str,
                reason: str, permanent: bool, *, resending: bool = False) -> None:
        """Record a failed attempt: retried on the next tick unless permanent or too many.

        A failed resend of a maybe-delivered digest goes back to ``resend``: this attempt
        did not reach the server, so its one resend is still owed, and no more.
        """
        if not permanent and delivery.attempts >= MAX_ATTEMPTS:
            permanent, reason = True, f"gave up after {delivery.attempts} attempts: {reason}"
        status = (DeliveryStatus.FAILED if permanent
                  else DeliveryStatus.RESEND if resending else DeliveryStatus.PENDING)
        self._finish(session, delivery, status, self.clock(), reason)
        report.fail(email, reason)
        report.counts["failed_permanent" if permanent else "will_retry"] += 1

    def _needs_smtputf8(self, to_email: str) -> str:
        """The To or From address whose local part is not ASCII, or ""."""
        for address in (to_email, parseaddr(self.composer.mail.mail_from)[1]):
            if not address.rpartition("@")[0].isascii():
                return address
        return ""

    def _maybe_delivered(self, session: Session, job: Job, report: Report,
                         reason: str) -> None:
        """The server took the whole message and its answer was lost: it may have arrived.

        Never sent again in this run. The next run resends it once (same Message-ID, so a
        mail client that got both shows one) if DIGEST_RESEND_UNKNOWN allows and this was
        not already that resend; otherwise it is closed as ``unknown``. So a reader gets
        at most one extra copy over any number of runs.
        """
        resend = self.config.resend_unknown and not job.resending
        status = DeliveryStatus.RESEND if resend else DeliveryStatus.UNKNOWN
        self._finish(session, job.delivery, status, self.clock(), reason)
        report.errors.append(f"{job.subscriber.email}: {reason}")
        report.counts["maybe_delivered"] += 1
        report.counts["will_resend" if resend else "unknown"] += 1

