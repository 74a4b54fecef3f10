"""The Reply-To mailbox: bounces, auto-replies, unsubscribe requests and reader feedback.

:func:`classify` is pure (an email in, a :class:`Verdict` out); :func:`apply` acts on the
database; :func:`process_mailbox` is the I/O edge (imaplib). Nobody is changed on a
stranger's word: a bounce must quote a digest we sent to the address it names, and an
unsubscribe must answer one, carry the signed token of our List-Unsubscribe ``mailto:``,
or be vouched for by a trusted receiving server (:mod:`digest_mailer.replycheck`); any
other is stored as ``unverified_bounce``/``unverified_unsubscribe`` for the admin.
Each message is handled once:
the ReaderMessage row (unique Message-ID) is committed in the same transaction as the
change it causes, and only then is the message flagged on the server, so a crash between
the two never acts twice — the next run finds the row and only sets the flag.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import imaplib
import ipaddress
import logging
import re
import ssl
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import parseaddr

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import ledger, store
from digest_mailer.errors import MailboxError
from digest_mailer.links import BadSignature, LinkSigner
from digest_mailer.mailtext import body_text, excerpt_of
from digest_mailer.models import ReaderMessage, Run, Subscriber, SubscriberStatus, utcnow
from digest_mailer.pipeline import Report
from digest_mailer.replycheck import (
    authenticated_from,
    referenced_message_ids,
    returned_message_ids,
)
from digest_mailer.settings import Settings

log = logging.getLogger(__name__)

KEYWORD = "$DigestProcessed"
BATCH_SIZE = 100  # messages per run; the rest wait for the next tick
MAX_BYTES = 2_000_000  # fetched per message (attachments beyond are not needed)
TIMEOUT = 30.0  # seconds per IMAP operation

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"\b([45])\d\d\b")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_UNSUBSCRIBE = re.compile(r"^(unsubscribe|stop|退订|取消订阅)[\s.!。！]*$", re.IGNORECASE)
_AUTO_SUBJECTS = (
    "out of office", "out of the office", "automatic reply", "auto reply", "auto-reply",
    "autoreply", "auto response", "auto-response", "autosvar", "abwesenheitsnotiz",
    "automatische antwort", "réponse automatique", "respuesta automática",
    "risposta automatica", "automatisch antwoord", "自动回复", "自動回覆", "自動返信",
    "自動応答")
_DAEMONS = ("mailer-daemon", "postmaster")
# The List-Unsubscribe mailto's subject: "unsubscribe", then our signed token if it has one.
_UNSUBSCRIBE_SUBJECT = re.compile(r"unsubscribe(?:\s+([\w-]{4,200}\.[\w.-]{4,200}))?",
                                  re.IGNORECASE)
BOUNCES = ("bounce_hard", "bounce_soft", "bounce_auth")


@dataclass(frozen=True)
class Verdict:
    """What one message is: ``address`` is the subscriber address it concerns."""

    kind: str  # bounce_hard | bounce_soft | bounce_auth | auto | unsubscribe | feedback
    address: str = ""
    detail: str = ""
    text: str = ""
    sender: str = ""
    subject: str = ""
    received_at: datetime | None = None
    # The evidence apply() checks before it changes anyone:
    refers_to: tuple[str, ...] = ()  # Message-IDs returned (bounce) or answered (reply)
    authenticated: str = ""  # what a trusted server's Authentication-Results prove of From
    token: str = ""  # the signed token in a List-Unsubscribe mailto's subject


# --- classify (pure) ------------------------------------------------------------------

def classify(message: EmailMessage, *, trusted_authserv_ids: Collection[str] = ()) -> Verdict:
    """Sort one message: a delivery report, automatic mail, an unsubscribe, or feedback.

    ``trusted_authserv_ids`` name the receiving servers whose Authentication-Results
    header is believed (DIGEST_IMAP_AUTHSERV_ID); empty believes none.
    """
    sender = _address(message, "From")
    subject = " ".join(str(message.get("Subject", "")).split())[:300]
    base = Verdict("feedback", sender, "", "", sender, subject, _date(message))
    text = body_text(message)
    dsn = _delivery_report(message, base, text)
    if dsn is not None:
        if dsn.kind in BOUNCES:
            return replace(dsn, refers_to=returned_message_ids(message))
        return dsn
    why = _automatic(message, subject, sender, text)
    if why:
        return replace(base, kind="auto", detail=why, text=excerpt_of(text))
    excerpt = excerpt_of(text)
    first = next((line.strip() for line in excerpt.splitlines() if line.strip()), "")
    mailto = _UNSUBSCRIBE_SUBJECT.fullmatch(subject)
    if _UNSUBSCRIBE.match(first) or mailto:
        return replace(base, kind="unsubscribe", text=excerpt,
                       refers_to=referenced_message_ids(message),
                       authenticated=authenticated_from(message, trusted_authserv_ids),
                       token=(mailto[1] or "") if mailto else "")
    return replace(base, text=excerpt)


def _address(message: Message, name: str) -> str:
    value = message.get(name)  # raises on an address the parser cannot read: unreadable
    addresses = getattr(value, "addresses", ())
    if addresses:
        return str(addresses[0].addr_spec).strip().lower()
    return parseaddr(str(value or ""))[1].strip().lower()


def _date(message: Message) -> datetime | None:
    try:
        when = getattr(message.get("Date"), "datetime", None)
    except Exception:
        return None
    return when if when is not None and when.tzinfo is not None else None


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part (per message, then per recipient)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [{k.lower(): " ".join(str(v).split()) for k, v in block.items()}
                for block in payload]
    raw = part.get_payload(decode=True) or str(payload).encode()  # global-delivery-status
    blocks: list[dict[str, str]] = [{}]
    last = ""
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.strip():
            blocks.append({})
        elif line[0] in " \t" and last:
            blocks[-1][last] += " " + line.strip()
        elif ":" in line:
            last, _, value = line.partition(":")
            last = last.strip().lower()
            blocks[-1][last] = value.strip()
    return [b for b in blocks if b]


def _recipient(value: str) -> str:
    """``rfc822; Ada@Example.org`` → ``ada@example.org``."""
    address = value.partition(";")[2] if ";" in value else value
    return address.strip().strip("<>").strip().lower()


def _bounce_kind(code: str, diagnostic: str) -> str:
    codes = [code, *(".".join(m) for m in _ENHANCED.findall(diagnostic))]
    if any(c.split(".")[1:2] == ["7"] for c in codes if c):
        return "bounce_auth"  # SPF/DKIM/DMARC or policy: our setup, not their mailbox
    if code.startswith("5.") and code != "5.2.2":  # 5.2.2 mailbox full: treated as soft
        return "bounce_hard"
    return "bounce_soft"


def _delivery_report(message: EmailMessage, base: Verdict, text: str) -> Verdict | None:
    if message.get_content_type() != "multipart/report":
        return _legacy_bounce(message, base, text)
    report_type = str(message.get_param("report-type", "") or "").lower()
    parts = [p for p in message.walk() if p.get_content_type() in
             ("message/delivery-status", "message/global-delivery-status")]
    if report_type not in ("", "delivery-status", "global-delivery-status") or not parts:
        return replace(base, kind="auto", detail=f"report: {report_type or 'unknown'}",
                       text=text[:1000])
    for fields in _status_blocks(parts[0]):
        address = _recipient(fields.get("original-recipient", "")
                             or fields.get("final-recipient", ""))
        action = fields.get("action", "").lower()
        if not address or action not in ("failed", "delayed"):
            continue
        diagnostic = fields.get("diagnostic-code", "")
        match = _ENHANCED.search(fields.get("status", "")) or _ENHANCED.search(diagnostic)
        code = ".".join(match.groups()) if match else ""
        if not code:
            reply = _REPLY_CODE.search(diagnostic)
            code = "5.0.0" if action == "failed" and reply and reply[1] == "5" else "4.0.0"
        if action == "delayed" and code.startswith("5."):
            code = "4" + code[1:]  # still being retried: not final
        kind = _bounce_kind(code, diagnostic)
        return replace(base, kind=kind, address=address,
                       detail=f"{code} {action}: {diagnostic}".strip()[:300], text=text[:1000])
    return replace(base, kind="auto", detail="delivery report without a failure",
                   text=text[:1000])


def _legacy_bounce(message: EmailMessage, base: Verdict, text: str) -> Verdict | None:
    """A bounce that is not RFC 3464: only from MAILER-DAEMON/postmaster with a 4.x.x/5.x.x
    code, and only for an address named in X-Failed-Recipients or on the code's line."""
    if base.sender.partition("@")[0] not in _DAEMONS:
        return None
    for line in text.splitlines():
        match = _ENHANCED.search(line)
        if match and _REPLY_CODE.search(line) and match[1] in "45":
            failed = str(message.get("X-Failed-Recipients", ""))
            found = _ADDRESS.findall(failed) or _ADDRESS.findall(line)
            code = ".".join(match.groups())
            if not found:
                break
            return replace(base, kind=_bounce_kind(code, line), address=found[0].lower(),
                           detail=f"{code} {line.strip()}"[:300], text=text[:1000])
    return replace(base, kind="auto", detail="mail system message without a recipient",
                   text=text[:1000])


def _automatic(message: Message, subject: str, sender: str, text: str) -> str:
    """Why this is automatic mail (RFC 3834 and common practice), or ""."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated"):
        if message.get(name) is not None:
            return name
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if str(message.get("Return-Path", "x")).strip() == "<>":
        return "empty Return-Path"
    folded = subject.casefold()
    if any(folded.startswith(prefix) for prefix in _AUTO_SUBJECTS):
        return f"subject: {subject[:60]}"
    if sender.partition("@")[0] in _DAEMONS:
        return "mail system message"
    return ""


def message_id_of(message: Message | None, raw: bytes) -> str:
    """The Message-ID header, or a digest of the bytes when it is missing or unusable."""
    value = ""
    if message is not None:
        try:
            value = " ".join(str(message.get("Message-ID", "")).split())
        except Exception:
            value = ""
    if value and len(value) <= 250:
        return value
    return "sha256:" + hashlib.sha256(value.encode() if value else raw).hexdigest()


# --- apply (database) -----------------------------------------------------------------

def apply(session: Session, verdict: Verdict, message_id: str, now: datetime, *,
          soft_bounce_threshold: int, received_at: datetime | None = None,
          signer: LinkSigner | None = None) -> str:
    """Act on a verdict and store the message once. Returns what was done: duplicate,
    suppressed, counted, unsubscribed, alerted, unverified or stored.

    ``signer`` reads the token of our List-Unsubscribe mailto (none: tokens are ignored).
    """
    if store.reader_message_known(session, message_id):
        return "duplicate"
    address = verdict.address
    subscriber = store.subscriber_by_email(session, address) if address else None
    verdict, subscriber = _verified(session, verdict, subscriber, signer)
    kind, address = verdict.kind, verdict.address
    action = "unverified" if kind.startswith("unverified_") else "stored"
    if subscriber is not None and subscriber.status == SubscriberStatus.ACTIVE:
        if kind == "bounce_hard":
            store.stage_status(subscriber, SubscriberStatus.BOUNCED, verdict.detail[:200], now)
            action = "suppressed"
        elif kind == "bounce_soft":
            subscriber.soft_bounces += 1
            action = "counted"
            if subscriber.soft_bounces >= soft_bounce_threshold:
                store.stage_status(subscriber, SubscriberStatus.BOUNCED,
                                   f"soft bounces: {subscriber.soft_bounces}", now)
                action = "suppressed"
    if kind == "unsubscribe" and subscriber is not None and store.stage_status(
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
    if not store.record_reader_message(session, record, subscriber):
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
        if ledger.digest_sent_to(session, subscriber.id, verdict.refers_to):
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
    answered = ledger.digest_sent_to(session, subscriber.id, verdict.refers_to)
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
    return store.subscriber_by_public_id(session, public_id) if isinstance(
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
        store.save_run(session, Run(kind=report.kind, started_at=started,
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
