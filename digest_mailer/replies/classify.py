"""Sorting one message of the Reply-To mailbox (pure): a delivery report, automatic mail,
an unsubscribe, or reader feedback — and the evidence each brings (:class:`Verdict`).

:mod:`digest_mailer.services.replies` checks that evidence against the database and acts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import parseaddr

from digest_mailer.i18n import words
from digest_mailer.replies.evidence import (
    authenticated_from,
    referenced_message_ids,
    returned_message_ids,
)
from digest_mailer.replies.mailtext import body_text, excerpt_of

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"\b([45])\d\d\b")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# A reply whose first line is only such a word, in any of our languages (reply.unsubscribe).
_UNSUBSCRIBE = re.compile(rf"^({'|'.join(map(re.escape, words('reply.unsubscribe')))})[\s.!。！]*$",
                          re.IGNORECASE)
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
