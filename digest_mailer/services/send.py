"""The morning job, read top-down: ingest → select → brief → render → deliver.

The CLI, the Huey tasks and (later) the web app are faces that call :class:`Pipeline`;
nothing here imports them. Each stage is a pure module; this file holds the I/O order
and the bookkeeping that makes a run safe to repeat: a Delivery row is written before a
send and marked after, so running again never sends a digest twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.llm import Briefer, BudgetExhausted, RunBudget
from digest_mailer.db.models import Delivery, DeliveryStatus, Entry, Run, Subscriber, utcnow
from digest_mailer.domain.compose import build_digest, groups_of, profile_of
from digest_mailer.domain.digest import Briefing, CategoryGroup, Digest, RenderedDigest
from digest_mailer.domain.schedule import due_date
from digest_mailer.domain.select import Selection, regroup
from digest_mailer.errors import DeliveryError
from digest_mailer.ingest import FetchRequest, fetch_sources, parse_source
from digest_mailer.mail.links import LinkSigner
from digest_mailer.mail.message import build_message, make_message_id
from digest_mailer.mail.render import DigestRenderer
from digest_mailer.mail.transport import BatchConnection, Pacer, Transport
from digest_mailer.services.batch import SendBatch
from digest_mailer.settings import Settings

log = logging.getLogger(__name__)

# A digest that failed this many times (temporary errors) is given up and reported.
MAX_ATTEMPTS = 6


@dataclass
class Report:
    """Counts and errors of one run; saved as a Run row and printed by the CLI."""

    kind: str
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def fail(self, what: str, reason: str) -> None:
        self.counts["failed"] += 1
        self.errors.append(f"{what}: {reason}")


@dataclass
class _Job:
    """One claimed digest between the passes of a batch."""

    subscriber: Subscriber
    delivery: Delivery
    groups: tuple[CategoryGroup, ...]
    briefing: Briefing | None = None
    # Claimed from `resend`: an earlier copy may have arrived, this is its one resend.
    resending: bool = False


@dataclass
class Composed:
    delivery: Delivery
    digest: Digest
    rendered: RenderedDigest
    message: EmailMessage


class Pipeline:
    def __init__(self, settings: Settings, engine: Engine, briefer: Briefer,
                 renderer: DigestRenderer, signer: LinkSigner,
                 transport_factory: Callable[[], Transport],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.engine = engine
        self.briefer = briefer
        self.renderer = renderer
        self.signer = signer
        self.transport_factory = transport_factory
        self.clock = clock
        self.sender_domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
        # One per process (the worker keeps one Pipeline): its send batches share the rate.
        self.pacer = Pacer(settings.smtp_rate)
        self.extractive = ExtractiveBriefer(max_chars=settings.briefing_max_chars)
        # Well inside the claim timeout: no other worker can have taken a claim over
        # that is younger than this, so sending under it needs no re-stamp.
        self._renew_after = timedelta(minutes=settings.claim_timeout_minutes) / 4

    # --- ingest --------------------------------------------------------------------------

    def refresh_feeds(self, *, force: bool = False) -> Report:
        """Fetch every source that is due (all with ``force``) and store new entries."""
        report = Report("ingest")
        now = self.clock()
        with Session(self.engine) as session:
            interval = timedelta(minutes=self.settings.fetch_interval_minutes)
            sources = (db.sources.active(session) if force
                       else db.sources.due(session, now, interval))
            requests = [FetchRequest(s.url, s.etag, s.last_modified) for s in sources]
            outcomes = fetch_sources(
                requests, timeout=self.settings.fetch_timeout,
                max_bytes=self.settings.fetch_max_bytes, user_agent=self.settings.user_agent,
                concurrency=self.settings.fetch_concurrency)
            for source, outcome in zip(sources, outcomes, strict=True):
                report.counts["sources"] += 1
                error, count, kind = outcome.error, 0, ""
                if error is None and outcome.not_modified:
                    report.counts["not_modified"] += 1
                elif error is None:
                    parsed = parse_source(source.kind, outcome.body or b"",
                                          source_category=source.category)
                    error, kind = parsed.error, parsed.kind
                    if error is None:
                        count = len(parsed.entries)
                        new, merged = db.entries.store(session, source, parsed.entries, now)
                        report.counts["entries_new"] += new
                        report.counts["entries_merged"] += merged
                if error is not None:
                    log.warning("feed %s failed: %s", source.url, error)
                    report.fail(source.label, error)
                else:
                    report.counts["fetched"] += 1
                db.sources.record_fetch(session, source, outcome, error, count, now, kind)
            report.counts["entries_total"] = db.entries.count(session)
            db.runs.save(session, Run(kind=report.kind, started_at=now,
                                        counts=dict(report.counts), errors=report.errors))
        return report

    # --- schedule ------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> list[int]:
        """Active subscribers whose local send hour has passed and whose digest is not done."""
        now = now or self.clock()
        with Session(self.engine) as session:
            subscribers = db.subscribers.active(session)
            wanted = {s.id: due_date(now, s.timezone, s.send_hour) for s in subscribers}
            dates = sorted({d for d in wanted.values() if d is not None})
            done = db.deliveries.closed_dates(session, dates) if dates else set()
        return [sid for sid, day in wanted.items()
                if sid is not None and day is not None and (sid, day) not in done]

    # --- select → brief → render → deliver ------------------------------------------------

    def send_digests(self, subscriber_ids: Iterable[int] | None = None, *,
                     digest_date: date | None = None, dry_run: bool = False) -> Report:
        """Send each due digest once. ``digest_date`` forces that date (CLI ``--date``).

        Choose every digest's papers and write their Delivery rows, claimed, in one
        statement; ask for the briefings, distinct selections at once; then render and
        send each digest over one connection as soon as its briefing is ready, so the
        CPU works while the LLM answers.
        """
        report = Report("send")
        now = self.clock()
        llm_before = _briefer_stats(self.briefer)
        # expire_on_commit=False: the batch's entries stay loaded across the many commits
        # (otherwise every attribute read after a commit reloads its row, one by one).
        with Session(self.engine, expire_on_commit=False) as session, \
                BatchConnection(self.transport_factory, self.pacer,
                               self.settings.smtp_batch_size) as mail:
            subscribers = db.subscribers.active(session, subscriber_ids)
            days = {s.id or 0: digest_date or due_date(now, s.timezone, s.send_hour)
                    for s in subscribers}
            due = [s for s in subscribers if days[s.id or 0] is not None]
            if len(due) < len(subscribers):  # no "not_due 0" in every report
                report.counts["not_due"] += len(subscribers) - len(due)
            batch = self._batch(session, due, {k: v for k, v in days.items() if v}, now)
            jobs = self._prepare(session, batch, due, days, report, dry_run)
            for job in self._briefed(jobs, report):
                self._deliver(session, job, mail, report)
            if mail.retries:
                report.counts["smtp_retries"] += mail.retries
            # The briefer's counters run for the life of the process: count this run's share.
            llm_after = _briefer_stats(self.briefer)
            report.counts.update({k: v - llm_before.get(k, 0) for k, v in llm_after.items()
                                  if v - llm_before.get(k, 0)})
            if not dry_run:
                db.runs.save(session, Run(kind=report.kind, started_at=now,
                                            counts=dict(report.counts), errors=report.errors))
        return report

    def _prepare(self, session: Session, batch: SendBatch, due: Sequence[Subscriber],
                 days: dict[int, date | None], report: Report, dry_run: bool) -> list[_Job]:
        """Find or write each due Delivery and claim it: the digests this worker sends."""
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
                else:
                    retries.append((subscriber, delivery))
                continue
            try:
                selection = self._select(batch, subscriber)
            except Exception as err:  # one subscriber never stops the batch
                log.exception("choosing papers for %s failed", subscriber.email)
                report.fail(subscriber.email, f"{type(err).__name__}: {err}")
                continue
            if dry_run:
                report.counts["would_send" if len(selection) else "would_skip_empty"] += 1
                log.info("%s: %d papers", subscriber.email, len(selection))
                continue
            empty = not len(selection) and not self.settings.send_empty
            fresh.append((subscriber, Delivery(
                subscriber_id=subscriber.id, digest_date=day, entry_keys=selection.keys,
                cutoff=batch.now, message_id=make_message_id(self.sender_domain),
                status=DeliveryStatus.EMPTY if empty else DeliveryStatus.SENDING,
                claimed_at=None if empty else batch.now, attempts=0 if empty else 1)))
        claimed: list[tuple[Subscriber, Delivery]] = []
        if fresh:
            written = {id(d) for d in db.deliveries.insert_claimed(session, [d for _, d in fresh])}
            for subscriber, delivery in fresh:
                if id(delivery) not in written:
                    report.counts["taken_by_other_worker"] += 1
                elif delivery.status == DeliveryStatus.EMPTY:
                    report.counts["skipped_empty"] += 1
                else:
                    claimed.append((subscriber, delivery))
        stale_after = timedelta(minutes=self.settings.claim_timeout_minutes)
        resending: set[int] = set()
        for subscriber, delivery in retries:  # an earlier attempt failed or was cut off
            assert delivery.id is not None
            if delivery.status == DeliveryStatus.RESEND and not self.settings.resend_unknown:
                # The resend was turned off since: close it as maybe delivered.
                db.deliveries.finish(session, delivery, DeliveryStatus.UNKNOWN, batch.now,
                                       delivery.last_error)
                report.counts["unknown"] += 1
                continue
            was_resend = delivery.status == DeliveryStatus.RESEND
            if not db.deliveries.claim(session, delivery.id, batch.now, stale_after):
                report.counts["taken_by_other_worker"] += 1
                continue
            session.refresh(delivery)
            if was_resend:
                resending.add(delivery.id)
            claimed.append((subscriber, delivery))
        jobs = []
        for subscriber, delivery in claimed:
            try:
                entries = batch.entries(delivery.entry_keys)
                if entries is None:  # a retry of an older day: read its papers by key
                    entries = db.entries.by_keys(session, delivery.entry_keys)
                groups = self._groups(subscriber, entries, batch.labels)
            except Exception as err:  # bad data: release the claim, record, go on
                session.rollback()
                log.exception("grouping the papers for %s failed", subscriber.email)
                self._failed(session, delivery, report, subscriber.email,
                             f"{type(err).__name__}: {err}", permanent=False)
                continue
            jobs.append(_Job(subscriber, delivery, groups, resending=delivery.id in resending))
        return jobs

    def _briefed(self, jobs: list[_Job], report: Report) -> Iterator[_Job]:
        """Yield the jobs with their briefings, each as soon as its briefing is ready.

        Each distinct (papers, language) is asked for once, ``llm_concurrency`` at a
        time, within the run's budget (``llm_max_calls``, ``llm_max_tokens``,
        ``llm_budget_seconds``): a briefing not written when it is spent, or not done by
        the deadline, is the extractive one. A request already in flight at the deadline
        cannot be stopped; it ends in the background, within ``llm_timeout``.
        """
        todo: dict[tuple[tuple[str, ...], str], list[_Job]] = {}
        for job in jobs:
            if job.delivery.briefing is not None and job.delivery.briefing_kind:
                job.briefing = Briefing(job.delivery.briefing, job.delivery.briefing_kind)
                yield job
            else:
                key = (tuple(job.delivery.entry_keys), job.subscriber.language)
                todo.setdefault(key, []).append(job)
        if not todo:
            return
        settings = self.settings
        budget = RunBudget(settings.llm_max_calls, settings.llm_max_tokens,
                           settings.llm_budget_seconds)
        pool = ThreadPoolExecutor(max_workers=min(settings.llm_concurrency, len(todo)),
                                  thread_name_prefix="brief")
        futures: dict[Future[Briefing], tuple[tuple[str, ...], str]] = {
            pool.submit(self.briefer.brief, same[0].groups, key[1], budget): key
            for key, same in todo.items()}
        try:
            for future in as_completed(futures, timeout=budget.remaining()):
                yield from self._with_briefing(todo.pop(futures[future]), future, report)
        except TimeoutError:
            pass  # the deadline passed: what is left gets the extractive briefing
        finally:
            # Not started yet: cancelled. Running: left to finish in the background.
            pool.shutdown(wait=False, cancel_futures=True)
        for same in todo.values():
            yield from self._with_briefing(same, None, report)

    def _with_briefing(self, same: list[_Job], future: Future[Briefing] | None,
                       report: Report) -> Iterator[_Job]:
        briefing = None
        if future is not None:
            try:
                briefing = future.result()
            except BudgetExhausted:
                pass
            except Exception:  # the briefer never raises otherwise; still, send the digest
                log.exception("briefing failed")
        if briefing is None:
            report.counts["llm_budget_exhausted"] += len(same)
            briefing = self.extractive.brief(same[0].groups, same[0].subscriber.language)
        for job in same:
            job.briefing = briefing
            yield job

    def _deliver(self, session: Session, job: _Job, mail: BatchConnection,
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
            composed = self.compose(session, subscriber, delivery, groups=job.groups,
                                    briefing=job.briefing, smtputf8=bool(utf8))
            # A claim left this long by a killed worker is taken over: re-stamp ours if
            # this digest waited long for its briefing or for the sends before it.
            assert delivery.id is not None
            now = self.clock()
            claimed_at = delivery.claimed_at
            if claimed_at is not None and claimed_at.tzinfo is None:
                claimed_at = claimed_at.replace(tzinfo=now.tzinfo)
            if claimed_at is None or now - claimed_at > self._renew_after:
                if not db.deliveries.renew_claim(session, delivery.id, delivery.attempts, now):
                    report.counts["taken_by_other_worker"] += 1
                    return
                delivery.claimed_at = now
            # Saved with the outcome, so a retry carries the same briefing and "view in
            # browser" shows what was sent.
            delivery.briefing = composed.digest.briefing.text
            delivery.briefing_kind = composed.digest.briefing.kind
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
        db.deliveries.finish(session, delivery, DeliveryStatus.SENT, self.clock())
        report.counts["sent"] += 1

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
        db.deliveries.finish(session, delivery, status, self.clock(), reason)
        report.fail(email, reason)
        report.counts["failed_permanent" if permanent else "will_retry"] += 1

    def _needs_smtputf8(self, to_email: str) -> str:
        """The To or From address whose local part is not ASCII, or ""."""
        for address in (to_email, parseaddr(self.settings.mail_from)[1]):
            if not address.rpartition("@")[0].isascii():
                return address
        return ""

    def _maybe_delivered(self, session: Session, job: _Job, report: Report,
                         reason: str) -> None:
        """The server took the whole message and its answer was lost: it may have arrived.

        Never sent again in this run. The next run resends it once (same Message-ID, so a
        mail client that got both shows one) if DIGEST_RESEND_UNKNOWN allows and this was
        not already that resend; otherwise it is closed as ``unknown``. So a reader gets
        at most one extra copy over any number of runs.
        """
        resend = self.settings.resend_unknown and not job.resending
        status = DeliveryStatus.RESEND if resend else DeliveryStatus.UNKNOWN
        db.deliveries.finish(session, job.delivery, status, self.clock(), reason)
        report.errors.append(f"{job.subscriber.email}: {reason}")
        report.counts["maybe_delivered"] += 1
        report.counts["will_resend" if resend else "unknown"] += 1

    def _batch(self, session: Session, subscribers: Sequence[Subscriber],
               days: dict[int, date], now: datetime) -> SendBatch:
        # A first digest covers what arrived recently, not the whole archive.
        return SendBatch.load(
            session, subscribers, days, now,
            lookback=timedelta(hours=self.settings.first_digest_lookback_hours),
            include_updates=self.settings.include_updates)

    def _select(self, batch: SendBatch, subscriber: Subscriber) -> Selection:
        assert subscriber.id is not None
        return batch.index.select(
            profile_of(subscriber, batch.votes.get(subscriber.id, ())),
            max_per_category=self.settings.max_per_category,
            max_papers=subscriber.max_papers or self.settings.max_papers,
            since=batch.since(subscriber.id))

    def select_new(self, session: Session, subscriber: Subscriber, day: date,
                   now: datetime) -> Selection:
        """The papers first seen since this subscriber's previous digest window closed."""
        assert subscriber.id is not None
        return self._select(self._batch(session, [subscriber], {subscriber.id: day}, now),
                            subscriber)

    def _groups(self, subscriber: Subscriber, entries: Sequence[Entry],
                labels: dict[int, tuple[str, str]]) -> tuple[CategoryGroup, ...]:
        # The stored keys are in reading order: a retry sends the same email.
        public_id = subscriber.public_id
        return groups_of(regroup(profile_of(subscriber), entries), labels,
                         lambda key, vote: self.signer.feedback_url(public_id, key, vote))

    def compose(self, session: Session, subscriber: Subscriber, delivery: Delivery, *,
                groups: tuple[CategoryGroup, ...] | None = None,
                briefing: Briefing | None = None, smtputf8: bool = True) -> Composed:
        """Brief, render and build the message for a Delivery; reads only, writes nothing.

        ``smtputf8``: the message may go to a non-ASCII local part (RFC 6531). True for
        previews and "view in browser", which send nothing; a send passes whether its
        server announced SMTPUTF8.
        """
        if groups is None:
            entries = db.entries.by_keys(session, delivery.entry_keys)
            groups = self._groups(subscriber, entries, db.sources.labels(session))
        if briefing is None and delivery.briefing is not None and delivery.briefing_kind:
            briefing = Briefing(delivery.briefing, delivery.briefing_kind)
        if briefing is None:
            briefing = self.briefer.brief(groups, subscriber.language)
        links = self.signer.links(subscriber.public_id, delivery.public_id)
        digest = build_digest(subscriber, delivery.digest_date, groups, briefing, links)
        rendered = self.renderer.render(digest)
        message = build_message(
            rendered, to_email=subscriber.email, to_name=subscriber.name,
            sender=self.settings.mail_from, reply_to=self.settings.reply_to,
            list_id=self.settings.list_id, links=links,
            message_id=delivery.message_id or make_message_id(self.sender_domain),
            date=self.clock(), smtputf8=smtputf8)
        return Composed(delivery, digest, rendered, message)

    def preview(self, email: str, digest_date: date | None = None) -> RenderedDigest:
        """Render what the subscriber would get now, writing nothing."""
        now = self.clock()
        with Session(self.engine) as session:
            subscriber = db.subscribers.by_email(session, email)
            if subscriber is None or subscriber.id is None:
                raise LookupError(f"no subscriber {email}")
            day = digest_date or now.date()
            delivery = db.deliveries.of_day(session, subscriber.id, day)
            if delivery is None:
                selection = self.select_new(session, subscriber, day, now)
                delivery = Delivery(subscriber_id=subscriber.id, digest_date=day,
                                    entry_keys=selection.keys, cutoff=now)
            return self.compose(session, subscriber, delivery).rendered


def _briefer_stats(briefer: Briefer) -> dict[str, int]:
    stats = getattr(briefer, "stats", None)
    if not callable(stats):
        return {}
    return {f"llm_{k}": v for k, v in stats().items() if v}
