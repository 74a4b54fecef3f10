"""Is a message in the Reply-To mailbox really about our mail? The evidence, read purely.

Anyone can send a delivery report naming any address, or a reply with any From. Before
:mod:`digest_mailer.services.replies` changes a subscriber it wants proof, and these functions
read it from the message:

* :func:`returned_message_ids` — the Message-IDs of the message a delivery report returns
  (its ``message/rfc822`` or ``text/rfc822-headers`` part, or a legacy bounce's quoted
  headers): a genuine report quotes a digest we sent, whose random Message-ID a stranger
  does not know;
* :func:`referenced_message_ids` — ``In-Reply-To`` and ``References`` of a reply;
* :func:`authenticated_from` — what the receiving server's ``Authentication-Results``
  (RFC 8601) prove about the From domain: DMARC pass, or DKIM pass signed by that very
  domain. SPF alone proves the envelope sender, not From. Only the topmost header of a
  server we trust counts: anything below it may have been written by the sender.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

_MSG_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
# A Message-ID header line in quoted text ("> Message-ID: <…>" or indented).
_QUOTED_MSG_ID = re.compile(r"^[\s>]*Message-ID:[ \t]*(<[^<>\s@]+@[^<>\s@]+>)",
                            re.IGNORECASE | re.MULTILINE)
_RETURNED = ("message/rfc822", "message/global", "text/rfc822-headers",
             "message/global-headers")
_PROPERTY = re.compile(r'([\w-]+)\.([\w.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)')
_METHOD = re.compile(r"\s*([\w-]+)(?:\s*/\s*\d+)?\s*=\s*([\w-]+)")
MAX_IDS = 50  # a report or reply naming more is not worth more lookups


def returned_message_ids(message: Message) -> tuple[str, ...]:
    """The Message-IDs of the message(s) a delivery report sends back, in order."""
    found: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            for inner in _payload_messages(part):
                found += _ids_in(str(inner.get("Message-ID", "") or ""))
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            headers = HeaderParser().parsestr(_text_of(part), headersonly=True)
            found += _ids_in(str(headers.get("Message-ID", "") or ""))
        elif kind == "text/plain" and not _inside_returned(message, part):
            found += _QUOTED_MSG_ID.findall(_text_of(part))  # a legacy bounce's quote
    own = _ids_in(str(message.get("Message-ID", "") or ""))
    return _unique(i for i in found if i not in own)


def referenced_message_ids(message: Message) -> tuple[str, ...]:
    """The Message-IDs a reply answers: In-Reply-To first, then References."""
    values = [str(v) for name in ("In-Reply-To", "References")
              for v in (message.get_all(name) or [])]
    return _unique(i for value in values for i in _ids_in(value))


def authenticated_from(message: Message, trusted: Collection[str]) -> str:
    """Why the From domain is proven by a trusted receiving server, or "" when it is not.

    ``trusted`` are authserv-ids (compared case-insensitively); empty trusts none.
    """
    wanted = {t.strip().lower() for t in trusted if t.strip()}
    if not wanted:
        return ""
    domain = _from_domain(message)
    if not domain:
        return ""
    for value in message.get_all("Authentication-Results") or []:
        serv_id, results = _parse_results(str(value))
        if serv_id not in wanted:
            continue
        for method, result, props in results:  # only this, the topmost trusted header
            if result != "pass":
                continue
            if method == "dmarc" and props.get("header.from", domain) == domain:
                return f"dmarc=pass header.from={domain} ({serv_id})"
            signer = props.get("header.d") or props.get("header.i", "").rpartition("@")[2]
            if method == "dkim" and signer == domain:
                return f"dkim=pass header.d={domain} ({serv_id})"
        return ""
    return ""


# --- helpers ---------------------------------------------------------------------------

def _ids_in(value: str) -> list[str]:
    return _MSG_ID.findall(" ".join(value.split()))


def _unique(ids: Iterator[str] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))[:MAX_IDS]


def _payload_messages(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _text_of(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if isinstance(raw, bytes):
        return raw.decode(part.get_content_charset() or "utf-8", "replace")
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""


def _inside_returned(message: Message, target: Message) -> bool:
    """True when ``target`` is a part of a returned message (not the report's own text)."""
    for part in message.walk():
        if part.get_content_type() in _RETURNED:
            for inner in _payload_messages(part):
                if any(p is target for p in inner.walk()):
                    return True
    return False


def _from_domain(message: Message) -> str:
    """The domain of the one From address; "" when there are none or several."""
    values = message.get_all("From") or []
    addresses = getaddresses([str(v) for v in values])
    if len(values) != 1 or len(addresses) != 1:
        return ""
    local, at, domain = addresses[0][1].rpartition("@")
    return domain.strip().lower().rstrip(".") if local and at else ""


def _without_comments(value: str) -> str:
    """RFC 8601 values with (nested) comments removed; quoted strings kept whole."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if not depth:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if not depth:
                out.append(char)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == '"' and not depth:
            quoted = True
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return " ".join("".join(out).split())


def _parse_results(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """``mx.example.org 1; dkim=pass header.d=x.org`` → authserv-id and results."""
    head, *infos = _without_comments(value).split(";")
    words = head.split()
    serv_id = words[0].lower().strip('"') if words else ""
    results: list[tuple[str, str, dict[str, str]]] = []
    for info in infos:
        match = _METHOD.match(info)
        if not match:
            continue  # "none", or not a result
        props = {f"{ptype.lower()}.{prop.lower()}": raw.strip('"').lower().rstrip(".")
                 for ptype, prop, raw in _PROPERTY.findall(info[match.end():])}
        results.append((match[1].lower(), match[2].lower(), props))
    return serv_id, results
