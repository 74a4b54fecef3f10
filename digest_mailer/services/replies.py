"""The Reply-To mailbox: bounces, auto-replies, unsubscribe requests and reader feedback.

:func:`classify` (in :mod:`digest_mailer.replies.classify`) is pure, an email in and a
:class:`Verdict` out; :func:`apply` acts on the database; :func:`process_mailbox` is the
I/O edge (imaplib). Nobody is changed on a stranger's word: a bounce must quote a digest
we sent to the address it names, and an unsubscribe must answer one, carry the signed
token of our List-Unsubscribe ``mailto:``, or be vouched for by a trusted receiving
server (:mod:`digest_mailer.replies.evidence`); any other is stored as ``unverified_bounce`` /
``unverified_unsubscribe`` for the admin. Each message is handled once: the
ReaderMessage row (unique Message-ID) is committed in the same transaction as the change
it causes, and only then is the message flagged on the server, so a crash between the
two never acts twice — the next run finds the row and only sets the flag.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import ipaddress
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage, Message

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import ReaderMessage, Run, Subscriber, SubscriberStatus, utcnow
from digest_mailer.errors import MailboxError
from digest_mailer.mail.links import BadSignature, LinkSigner
from digest_mailer.replies.classify import BOUNCES, Verdict, classify, message_id_of
from digest_mailer.services.send import Report
from digest_mailer.settings import Settings

log = logging.getLogger(__name__)
__all__ = ["Verdict", "apply", "classify", "message_id_of", "process_mailbox"]

KEYWORD = "$DigestProcessed"
BATCH_SIZE = 100  # messages per run; the rest wait for the next tick
MAX_BYTES = 2_000_000  # fetched per message (attachments beyond are not needed)
TIMEOUT = 30.0  # seconds per IMAP operation

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
            db.subscribers.stage_status(subscriber, SubscriberStatus.BOUNCED,
                                        verdict.detail[:200], now)
            action = "suppressed"
        elif kind == "bounce_soft":
            subscriber.soft_bounces += 1
            action = "counted"
            if subscriber.soft_bounces >= soft_bounce_threshold:
                db.subscribers.stage_status(subscriber, SubscriberStatus.BOUNCED,
                                   f"soft bounces: {subscriber.soft_bounces}", now)
                action = "suppressed"
    if kind == "unsubscribe" and subscriber is not None and db.subscribers.stage_status(
            subscriber, SubscriberStatus.UNSUBSCRIBED, "reply: unsubscribe", now):
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
    if not db.messages.record(session, record, subscriber):
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


# --- process_mailbox (IMAP) -----------------------------------------------------------

def process_mailbox(settings: Settings, engine: Engine, *,
                    ssl_context: ssl.SSLContext | None = None, batch_size: int = BATCH_SIZE,
                    timeout: float = TIMEOUT, clock: Callable[[], datetime] = utcnow) -> Report:
    """Read the new messages of the Reply-To mailbox once; returns the counts."""
    report = Report("replies")
    started = clock()
    check = _Check(settings.trusted_authserv_ids, settings.soft_bounce_threshold,
                   LinkSigner(settings.base_url, settings.effective_secret_keys(), ""))
    imap = _connect(settings, ssl_context, timeout)
    try:
        keyword = _open_folder(imap, settings)
        criteria = ("UNKEYWORD", KEYWORD) if keyword else ("UNSEEN",)
        typ, data = imap.uid("SEARCH", *criteria)
        uids = (data[0] or b"").split() if typ == "OK" and data else []
        if len(uids) > batch_size:
            report.counts["left_for_next_run"] = len(uids) - batch_size
        for uid in uids[:batch_size]:
            try:
                raw, received = _fetch(imap, uid)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as err:  # gone meanwhile: nothing to do
                report.fail(f"uid {uid.decode()}", f"fetch failed: {err}")
                continue
            try:
                with Session(engine) as session:
                    kind, action = _handle(session, raw, received, clock(), check)
            except Exception as err:  # the database: leave unflagged, retried next run
                log.exception("reply uid %s could not be stored", uid.decode())
                report.fail(f"uid {uid.decode()}", f"{type(err).__name__}: {err}")
                continue
            flags = rf"(\Seen {KEYWORD})" if keyword else r"(\Seen)"
            imap.uid("STORE", uid, "+FLAGS.SILENT", flags)
            report.counts["messages"] += 1
            report.counts[action if action == "duplicate" else kind] += 1
            if action not in ("duplicate", "stored"):
                report.counts[action] += 1
    except (imaplib.IMAP4.abort, OSError) as err:
        report.fail(settings.imap_host, f"connection lost: {err}")
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
    with Session(engine) as session:
        db.runs.save(session, Run(kind=report.kind, started_at=started,
                                    counts=dict(report.counts), errors=report.errors))
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


def _connect(settings: Settings, context: ssl.SSLContext | None,
             timeout: float) -> imaplib.IMAP4:
    host, port, security = settings.imap_host, settings.imap_port, settings.imap_security
    if not host:
        raise MailboxError("DIGEST_IMAP_HOST", "not set: there is no mailbox to read")
    if security == "none" and not _loopback(host):
        raise MailboxError("DIGEST_IMAP_SECURITY", "'none' would send the password in "
                           f"clear to {host}; it is only for a loopback server")
    context = context or ssl.create_default_context()
    try:
        if security == "ssl":
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=context,
                                                    timeout=timeout)
        else:
            imap = imaplib.IMAP4(host, port, timeout=timeout)
    except ssl.SSLError as err:
        raise MailboxError("DIGEST_IMAP_SECURITY", f"TLS with {host}:{port} failed: {err}"
                           ) from err
    except (OSError, imaplib.IMAP4.error) as err:
        raise MailboxError("DIGEST_IMAP_HOST", f"cannot connect to {host}:{port}: {err}"
                           ) from err
    try:
        if security == "starttls":
            try:
                imap.starttls(ssl_context=context)
            except (imaplib.IMAP4.error, OSError) as err:
                raise MailboxError("DIGEST_IMAP_SECURITY",
                                   f"STARTTLS with {host}:{port} failed: {err}") from err
        try:
            imap.login(settings.imap_user, settings.imap_password)
        except imaplib.IMAP4.error as err:
            raise MailboxError("DIGEST_IMAP_USER/DIGEST_IMAP_PASSWORD",
                               f"login as {settings.imap_user!r} refused by {host}: {err}"
                               ) from err
    except BaseException:
        with contextlib.suppress(OSError):  # a failed TLS handshake closed it already
            imap.shutdown()
        raise
    return imap


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _open_folder(imap: imaplib.IMAP4, settings: Settings) -> bool:
    """Select the folder; True when the server keeps our keyword ($DigestProcessed)."""
    folder = settings.imap_folder.replace("\\", "\\\\").replace('"', '\\"')
    typ, data = imap.select(f'"{folder}"')
    if typ != "OK":
        raise MailboxError("DIGEST_IMAP_FOLDER", f"cannot open {settings.imap_folder!r}: "
                           f"{data[0]!r}")
    _, flags = imap.response("PERMANENTFLAGS")
    permanent = b" ".join(f for f in flags if isinstance(f, bytes))
    return b"\\*" in permanent or KEYWORD.encode() in permanent


def _fetch(imap: imaplib.IMAP4, uid: bytes) -> tuple[bytes, datetime | None]:
    typ, data = imap.uid("FETCH", uid, f"(INTERNALDATE BODY.PEEK[]<0.{MAX_BYTES}>)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH {typ}")
    for item in data:
        if isinstance(item, tuple):
            match = re.search(rb'INTERNALDATE "([^"]+)"', item[0])
            received = None
            if match:
                try:
                    received = datetime.strptime(match[1].decode().strip(),
                                                 "%d-%b-%Y %H:%M:%S %z")
                except ValueError:
                    received = None
            return bytes(item[1]), received
    raise imaplib.IMAP4.error(f"no message with UID {uid.decode()}")
