"""The Reply-To mailbox: bounces, auto-replies, unsubscribe requests and reader feedback.

:func:`classify` (in :mod:`digest_mailer.replies.classify`) is pure, an email in and a
:class:`Verdict` out; :func:`apply` acts on the database; :class:`ReplyService` reads
the mailbox through :mod:`digest_mailer.replies.imap` (the I/O edge). Nobody is changed
on a stranger's word: a bounce must quote a digest we sent to the address it names, and
an unsubscribe must answer one, carry the signed token of our List-Unsubscribe
``mailto:``, or be vouched for by a trusted receiving server
(:mod:`digest_mailer.replies.evidence`); any other is stored as ``unverified_bounce`` /
``unverified_unsubscribe`` for the admin. Each message is handled once: the
ReaderMessage row (unique Message-ID) is committed in the same transaction as the change
it causes, and only then is the message flagged on the server, so a crash between the
two never acts twice — the next run finds the row and only sets the flag.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage, Message

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import ReaderMessage, Run, Subscriber, SubscriberStatus
from digest_mailer.mail.links import BadSignature, LinkSigner
from digest_mailer.replies import imap as mailbox
from digest_mailer.replies.classify import BOUNCES, Verdict, classify, message_id_of
from digest_mailer.services.report import Report

log = logging.getLogger(__name__)
__all__ = ["ReplyConfig", "ReplyService", "Verdict", "apply", "classify", "message_id_of"]

BATCH_SIZE = 100  # messages per run; the rest wait for the next tick

# --- apply (database) -----------------------------------------------------------------

def apply(session: Session, verdict: Verdict, message_id: str, now: datetime, *,
          soft_bounce_threshold: int, received_at: datetime | None = None,
          signer: LinkSigner | None = None) -> str:
    """Act on a verdict and store the message once. Returns what was done: duplicate,
    suppressed, counted, unsubscribed, alerted, unverified or stored.

    ``signer`` reads the token of our List-Unsubscribe mailto (none: tokens are ignored).
    """
    if db.messages.known(session, message_id):
        return "duplicate"
    address = verdict.address
    subscriber = db.subscribers.by_email(session, address) if address else None
    verdict, subscriber = _verified(session, verdict, subscriber, signer)
    kind, address = verdict.kind, verdict.address
    action = "unverified" if kind.startswith("unverified_") else "stored"
    if subscriber is not None and subscriber.status == SubscriberStatus.ACTIVE:
        if kind == "bounce_hard":
            db.subscribers.set_status(session, subscriber, SubscriberStatus.BOUNCED,
                                      verdict.detail[:200], "bounce", now)
            action = "suppressed"
        elif kind == "bounce_soft":
            subscriber.soft_bounces += 1
            action = "counted"
            if subscriber.soft_bounces >= soft_bounce_threshold:
                db.subscribers.set_status(session, subscriber, SubscriberStatus.BOUNCED,
                                          f"soft bounces: {subscriber.soft_bounces}",
                                          "bounce", now)
                action = "suppressed"
    if kind == "unsubscribe" and subscriber is not None and db.subscribers.set_status(
            session, subscriber, SubscriberStatus.UNSUBSCRIBED, "reply: unsubscribe", "reply",
            now):
        action = "unsubscribed"
    if kind == "bounce_auth":
        action = "alerted"
        log.error("mail authentication/policy refusal for %s: %s — check SPF, DKIM and DMARC "
                  "of the sending domain; nobody was suppressed", address, verdict.detail)
    record = ReaderMessage(
        message_id=message_id, kind=kind, from_address=verdict.sender[:320],
        subscriber_id=subscriber.id if subscriber else None, subject=verdict.subject,
        body=verdict.text, detail=verdict.detail, processed_at=now,
        received_at=received_at or verdict.received_at)
    # The message and the change it causes, in one transaction: a restart between this
    # commit and the IMAP flag finds the row and never acts twice.
    db.messages.record(session, record, subscriber)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return "duplicate"  # another run stored it first; its change was rolled back
    if action == "unverified":
        log.warning("reply %s: %s for %s changed nobody: %s", message_id, kind, address,
                    verdict.detail)
    elif action != "stored":
        log.info("reply %s: %s %s (%s)", message_id, action, address, verdict.detail)
    return action


def unverified_kind(kind: str) -> str:
    """The kind a bounce or unsubscribe is stored under when it proves nothing."""
    return "unverified_bounce" if kind in BOUNCES else "unverified_unsubscribe"


def _verified(session: Session, verdict: Verdict, subscriber: Subscriber | None,
              signer: LinkSigner | None) -> tuple[Verdict, Subscriber | None]:
    """The verdict with its proof checked, and the subscriber it may change.

    A bounce or unsubscribe that would concern a subscriber but proves nothing becomes
    ``unverified_*`` (stored, linked to whom it names, acting on nobody). About anyone
    else it changes nobody anyway and keeps its kind.
    """
    if verdict.kind in BOUNCES:
        if subscriber is None or subscriber.id is None:
            return verdict, subscriber
        if db.deliveries.digest_sent_to(session, subscriber.id, verdict.refers_to):
            return verdict, subscriber
        why = (f"{verdict.kind} {verdict.detail} — unverified: it quotes no digest we sent "
               f"to {verdict.address}")
        return replace(verdict, kind=unverified_kind(verdict.kind), detail=why[:300]), subscriber
    if verdict.kind != "unsubscribe":
        return verdict, subscriber
    owner = _token_owner(session, verdict.token, signer)
    if owner is not None:
        return replace(verdict, address=owner.email,
                       detail="verified: signed List-Unsubscribe address"), owner
    if subscriber is None or subscriber.id is None:
        return verdict, subscriber
    answered = db.deliveries.digest_sent_to(session, subscriber.id, verdict.refers_to)
    if answered:
        return replace(verdict, detail=f"verified: reply to {answered}"[:300]), subscriber
    if verdict.authenticated:
        return replace(verdict, detail=f"verified: {verdict.authenticated}"[:300]), subscriber
    why = ("unverified: answers no digest sent to this address, and no trusted "
           "Authentication-Results vouch for its From domain")
    return replace(verdict, kind=unverified_kind(verdict.kind), detail=why), subscriber


def _token_owner(session: Session, token: str, signer: LinkSigner | None
                 ) -> Subscriber | None:
    if not token or signer is None:
        return None
    try:
        public_id = signer.load("unsubscribe", token)
    except BadSignature:
        return None
    return db.subscribers.by_public_id(session, public_id) if isinstance(
        public_id, str) else None


# --- the mailbox, once per tick ---------------------------------------------------------

@dataclass(frozen=True)
class ReplyConfig:
    """The Reply-To mailbox (``DIGEST_IMAP_*``) and how far to trust what arrives there."""

    imap: mailbox.ImapConfig
    trusted_authserv_ids: tuple[str, ...]
    soft_bounce_threshold: int


class ReplyService:
    """Reads the Reply-To mailbox once: bounces, unsubscribes and feedback, each acted on once."""

    def __init__(self, engine: Engine, config: ReplyConfig, signer: LinkSigner,
                 clock: Callable[[], datetime],
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.engine = engine
        self.config = config
        self.signer = signer
        self.clock = clock
        self.ssl_context = ssl_context

    @property
    def configured(self) -> bool:
        return bool(self.config.imap.host)

    def process_mailbox(self, *, batch_size: int = BATCH_SIZE,
                        timeout: float = mailbox.TIMEOUT,
                        ssl_context: ssl.SSLContext | None = None) -> Report:
        """Read the new messages of the Reply-To mailbox once; returns the counts.

        One transaction per message (see :func:`apply`); a message whose transaction
        fails is left unflagged and tried again next run.
        """
        report = Report("replies")
        started = self.clock()
        config = self.config
        check = _Check(config.trusted_authserv_ids, config.soft_bounce_threshold, self.signer)
        imap = mailbox.connect(config.imap, ssl_context or self.ssl_context, timeout)
        try:
            keyword = mailbox.open_folder(imap, config.imap.folder)
            uids = mailbox.new_messages(imap, keyword)
            if len(uids) > batch_size:
                report.counts["left_for_next_run"] = len(uids) - batch_size
            for uid in uids[:batch_size]:
                try:
                    raw, received = mailbox.fetch(imap, uid)
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error as err:  # gone meanwhile: nothing to do
                    report.fail(f"uid {uid.decode()}", f"fetch failed: {err}")
                    continue
                try:
                    with Session(self.engine) as session:
                        kind, action = _handle(session, raw, received, self.clock(), check)
                except Exception as err:  # the database: leave unflagged, retried next run
                    log.exception("reply uid %s could not be stored", uid.decode())
                    report.fail(f"uid {uid.decode()}", f"{type(err).__name__}: {err}")
                    continue
                mailbox.mark_done(imap, uid, keyword)
                report.counts["messages"] += 1
                report.counts[action if action == "duplicate" else kind] += 1
                if action not in ("duplicate", "stored"):
                    report.counts[action] += 1
        except (imaplib.IMAP4.abort, OSError) as err:
            report.fail(config.imap.host, f"connection lost: {err}")
        finally:
            mailbox.logout(imap)
        with Session(self.engine) as session:
            db.runs.save(session, Run(kind=report.kind, started_at=started,
                                      counts=dict(report.counts), errors=report.errors))
            session.commit()
        return report


@dataclass(frozen=True)
class _Check:
    """What one run needs to judge and act: trusted servers, threshold, token reader."""

    trusted: tuple[str, ...]
    threshold: int
    signer: LinkSigner


def _handle(session: Session, raw: bytes, received: datetime | None, now: datetime,
            check: _Check) -> tuple[str, str]:
    message: Message | None = None
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage) and raw.strip()
        verdict = classify(message, trusted_authserv_ids=check.trusted)
    except Exception as err:  # stored as unreadable and flagged: never retried forever
        log.warning("unreadable message in the reply mailbox: %s: %s", type(err).__name__, err)
        verdict = Verdict("unreadable", detail=f"{type(err).__name__}: {err}"[:300])
    message_id = message_id_of(message, raw)
    action = apply(session, verdict, message_id, now, soft_bounce_threshold=check.threshold,
                   received_at=received, signer=check.signer)
    if action == "unverified":  # counted under the kind stored
        return unverified_kind(verdict.kind), action
    return verdict.kind, action
