"""Delivery: build one digest email. Pure; :mod:`digest_mailer.mail.transport` sends it.

As in django-anymail, building and sending are apart: :func:`build_message` is a function
of its arguments, and a transport sends a batch of built messages inside one ``with``
block, raising :class:`DeliveryError` for a message it could not hand over.
"""

from __future__ import annotations

import binascii
import logging
import re
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy, default
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from digest_mailer.errors import DeliveryError
from digest_mailer.text import one_line

if TYPE_CHECKING:
    from digest_mailer.domain.digest import Links, RenderedDigest

log = logging.getLogger(__name__)

_NEWLINE_WITHOUT_FWS = re.compile(r"\r\n[^ \t]|\r[^ \n\t]|\n[^ \t]")
_URL_LIST_HEADERS = frozenset({"list-unsubscribe", "list-subscribe", "list-help", "list-post"})
_ENCODED_WORD_LIKE = re.compile(r"=\?.*?\?=", re.DOTALL)
_ADDR_SPEC = re.compile(r"[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"]+")
_PHRASE_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


class _MailPolicy(EmailPolicy):
    """``email.policy.SMTP`` with two repairs this Python (3.11.7) needs.

    * It refuses to write a header that a bare newline splits: the check the fix for
      CVE-2024-6923 added to the generator, which this Python lacks.
    * It writes RFC 2369 URL lists as they are: the stock folder turns a URL longer than a
      line into an RFC 2047 encoded word, which no mail provider decodes there, so the
      one-click unsubscribe button would silently vanish.
    """

    def fold(self, name: str, value: Any) -> str:
        return self._verified(self._fold_url_list(name, value) or super().fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() in _SHARED_HEADERS:  # the same in every digest: folded once
            return _fold_shared(self, name, str(value))
        return self._fold_binary(name, value)

    def _fold_binary(self, name: str, value: Any) -> bytes:
        verbatim = self._fold_url_list(name, value)
        folded = verbatim.encode("ascii") if verbatim else super().fold_binary(name, value)
        self._verified(folded.decode("ascii", "surrogateescape"))
        return folded

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, str) and name.lower() in _SHARED_HEADERS:
            return _parse_shared(self, name, value)  # header objects are immutable
        return super().header_store_parse(name, value)

    def _fold_url_list(self, name: str, value: Any) -> str | None:
        text = str(value)
        urls = re.findall(r"<[^<>\s]*>", text)
        if name.lower() not in _URL_LIST_HEADERS or not text.isascii() or ", ".join(urls) != text:
            return None
        fits = len(name) + 2 + len(text) <= (self.max_line_length or 998)
        return f"{name}: " + (", " if fits else "," + self.linesep + " ").join(urls) + self.linesep

    def _verified(self, folded: str) -> str:
        body = folded.removesuffix(self.linesep)
        if body == folded or _NEWLINE_WITHOUT_FWS.search(body):
            raise ValueError(f"refusing to write a header split by a newline: {folded[:60]!r}")
        return folded


# Headers every digest of a sender carries with the same value: parsing and folding
# them once saves a tenth of the work of building and writing a message.
_SHARED_HEADERS = frozenset({"from", "reply-to", "list-id", "list-unsubscribe-post",
                             "auto-submitted", "x-auto-response-suppress", "mime-version",
                             "content-type", "content-transfer-encoding"})


@lru_cache(maxsize=256)
def _parse_shared(policy: _MailPolicy, name: str, value: str) -> tuple[str, Any]:
    return EmailPolicy.header_store_parse(policy, name, value)


@lru_cache(maxsize=256)
def _fold_shared(policy: _MailPolicy, name: str, value: str) -> bytes:
    return policy._fold_binary(name, value)


# 7bit: smtplib announces no 8BITMIME for ASCII envelopes, so bodies go as QP or base64.
MAIL_POLICY = _MailPolicy(linesep="\r\n", cte_type="7bit")
# For a To with a non-ASCII local part, sent only with SMTPUTF8: headers in raw UTF-8
# (RFC 6532), as no encoded word may stand for an address. Bodies stay quoted-printable.
UTF8_MAIL_POLICY = MAIL_POLICY.clone(utf8=True)


# A display name longer than this is cut: a 5,000-character name made a 5,002-character
# To: line (RFC 5322 allows 998), and no mail client shows more than a few dozen.
DISPLAY_NAME_CHARS = 64


def display_name(value: str, *, encoded_words: bool = True) -> str:
    """A cleaned display name of at most :data:`DISPLAY_NAME_CHARS`, cut at a word with "…".

    A name that needs encoded words (not ASCII, or cut) loses RFC 5322's specials: the
    generator's refolding writes them bare, outside any quotes, so a reader's name
    ``Zoë <evil@example.net>`` became the To header's address (``=?utf-8?q?Zo=C3=AB?=
    <evil@example.net> <reader@…>``). An ASCII name keeps them, quoted, and so does any
    name written as raw UTF-8 (``encoded_words=False``: an SMTPUTF8 message, quoted by
    :func:`_utf8_mailbox`).
    """
    name = clean_header_value(value)
    if len(name) > DISPLAY_NAME_CHARS:
        head = name[: DISPLAY_NAME_CHARS - 1]
        if " " in head[DISPLAY_NAME_CHARS // 2:]:
            head = head.rsplit(" ", 1)[0]
        name = head.rstrip(" ,;:.-") + "…"
    if encoded_words and not name.isascii():
        name = " ".join(_PHRASE_SPECIALS.sub(" ", name).split())
    return name


def clean_header_value(value: str) -> str:
    """``value`` as one line of plain text, safe to put in any header.

    Removes CR, LF and every other control character and collapses whitespace. RFC 2047
    words are decoded first, with the parser the generator uses, because this Python
    writes a decoded ``=0D=0A`` out raw (CVE-2024-6923); what survives cannot start one.
    """
    value = one_line(value)
    for _ in range(4):  # a decoded word may itself spell another one
        cleaned = one_line(str(default.header_factory("x-clean", value)))
        if cleaned == value:
            break
        value = cleaned
    return _ENCODED_WORD_LIKE.sub(lambda m: m.group().replace("=?", "= ?"), value)


def _addr_spec(value: str, field: str, *, utf8_local: bool = False) -> str:
    """The address with its domain in IDNA form; the local part must be ASCII unless
    ``utf8_local`` (the message goes with SMTPUTF8, RFC 6531)."""
    local, _, domain = clean_header_value(value).rpartition("@")
    try:
        domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError as err:
        raise ValueError(f"{field}: bad domain in {value!r}") from err
    addr = f"{local}@{domain}"
    if not (addr.isascii() or utf8_local) or not _ADDR_SPEC.fullmatch(addr):
        raise ValueError(f"{field}: not a usable email address: {value!r}")
    return addr


def _utf8_mailbox(name: str, addr: str) -> str:
    """``name <addr>`` for an RFC 6532 header: what formataddr (and Address, on this
    Python) refuse to write for a non-ASCII local part. ``name`` is already cleaned."""
    if name and _PHRASE_SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>" if name else addr


def _mailbox(value: str, field: str) -> str:
    name, addr = parseaddr(clean_header_value(value))
    return formataddr((display_name(name), _addr_spec(addr, field)), charset="utf-8")


def check_mailbox(value: str) -> str:
    """``value`` as a From/Reply-To header value, or ValueError saying why it is unusable."""
    try:
        return _mailbox(value, "address")
    except ValueError as err:
        raise ValueError(f"{value!r} is not an address such as "
                         "'Research Digest <digest@example.org>'") from err


def check_list_id(value: str) -> str:
    """``value`` as a List-Id header value, or ValueError saying why it is unusable."""
    return _list_id(value)


def _message_id(value: str) -> str:
    inner = clean_header_value(value).strip("<>")
    if not inner.isascii() or not re.fullmatch(r"[^\s<>@]+@[^\s<>@]+", inner):
        raise ValueError(f"not a Message-ID: {value!r}")
    return f"<{inner}>"


def _list_id(value: str) -> str:
    """RFC 2919 ``Name <label.namespace>``; a bare id gets no name."""
    cleaned = clean_header_value(value)
    match = re.fullmatch(r"(.*?)\s*<([^<>]*)>", cleaned)
    name, ident = (match.group(1).strip().strip('"'), match.group(2)) if match else ("", cleaned)
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+",
                        ident):
        raise ValueError(f"List-Id needs a dotted id such as 'digest.example.org': {value!r}")
    if name and _PHRASE_SPECIALS.search(name):
        # An encoded word may not sit inside quotes, so non-ASCII names lose the specials.
        name = ('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"' if name.isascii()
                else " ".join(_PHRASE_SPECIALS.sub(" ", name).split()))
    return f"{name} <{ident}>" if name else f"<{ident}>"


def _header_url(value: str, schemes: tuple[str, ...]) -> str:
    url = clean_header_value(value)
    url = "".join(quote(c) if not c.isascii() or c in ' <>"' else c for c in url)
    if url and not url.lower().startswith(schemes):
        raise ValueError(f"expected a {' or '.join(schemes)} URL: {value!r}")
    return url


def make_message_id(domain: str) -> str:
    """A fresh ``<…@domain>`` Message-ID (no DNS lookup: the domain is given)."""
    host = _addr_spec(f"x@{domain}", "domain").partition("@")[2]
    return make_msgid(domain=host)


def build_message(rendered: RenderedDigest, *, to_email: str, to_name: str, sender: str,
                  reply_to: str, list_id: str, links: Links, message_id: str,
                  date: datetime | None = None, smtputf8: bool = False) -> EmailMessage:
    """The digest as a multipart/alternative email; pure apart from ``date`` defaulting to now.

    Raises ValueError for an unusable address, id or URL. Every header value is built from
    cleaned strings, never copied from a parsed message. ``smtputf8`` (the server takes
    SMTPUTF8) admits a non-ASCII local part in ``to_email``; such a message gets
    :data:`UTF8_MAIL_POLICY`, and :func:`needs_smtputf8` says so to the transport. An
    ASCII address gets the same 7-bit message either way.
    """
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    https = _header_url(links.unsubscribe, ("https://", "http://"))
    mailto = _header_url(links.unsubscribe_mailto, ("mailto:",))

    to_addr = _addr_spec(to_email, "to_email", utf8_local=smtputf8)
    msg = EmailMessage(policy=MAIL_POLICY if to_addr.isascii() else UTF8_MAIL_POLICY)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = _message_id(message_id)
    msg["From"] = _mailbox(sender, "sender")
    if to_addr.isascii():
        msg["To"] = formataddr((display_name(to_name), to_addr), charset="utf-8")
    else:  # formataddr takes ASCII addresses only; the policy writes the name raw UTF-8
        msg["To"] = _utf8_mailbox(display_name(to_name, encoded_words=False), to_addr)
    if reply_to.strip():
        msg["Reply-To"] = _mailbox(reply_to, "reply_to")
    msg["Subject"] = clean_header_value(rendered.subject)
    msg["List-Id"] = _list_id(list_id)
    if https or mailto:
        msg["List-Unsubscribe"] = ", ".join(f"<{url}>" for url in (https, mailto) if url)
    if https:  # RFC 8058: one-click needs the HTTP(S) URL to POST to
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"  # the same for Exchange
    msg["MIME-Version"] = "1.0"
    msg.make_alternative()
    # Quoted-printable writes "=" only before two hex digits or a line end, so a boundary
    # holding "=_" cannot occur in the parts: no need to search them for one.
    msg.set_boundary(f"=_{secrets.token_hex(12)}")
    msg.attach(_text_part(rendered.text, "plain"))
    msg.attach(_text_part(rendered.html, "html"))
    return msg


def needs_smtputf8(message: EmailMessage) -> bool:
    """Was ``message`` built for SMTPUTF8 (raw UTF-8 headers, a non-ASCII address)?"""
    return bool(getattr(message.policy, "utf8", False))


def _wire_policy(message: EmailMessage) -> _MailPolicy:
    return UTF8_MAIL_POLICY if needs_smtputf8(message) else MAIL_POLICY


def message_bytes(message: EmailMessage) -> bytes:
    """The message as the email generator writes it with MAIL_POLICY (UTF8_MAIL_POLICY
    for a message built for SMTPUTF8), only faster.

    A digest (multipart/alternative of quoted-printable parts, boundary set by
    build_message) is joined directly: the generator splits and rewrites every body line,
    which took a sixth of the benchmark's CPU. Any other message goes through the
    generator. The tests compare both byte for byte.
    """
    boundary = message.get_boundary() if message.is_multipart() else None
    parts = list(message.iter_parts()) if boundary else []
    if not boundary or not boundary.startswith("=_") or not parts or any(
            p.is_multipart() or p.get("Content-Transfer-Encoding") != "quoted-printable"
            or not isinstance(p.get_payload(), str) for p in parts):
        return message.as_bytes(policy=_wire_policy(message))
    policy = _wire_policy(message)
    chunks = [_headers(message, policy), b"--" + boundary.encode("ascii") + b"\r\n"]
    for n, part in enumerate(parts):
        if n:
            chunks.append(b"\r\n--" + boundary.encode("ascii") + b"\r\n")
        payload = part.get_payload()
        assert isinstance(payload, str)
        chunks.append(_headers(part, policy))
        chunks.append(payload.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii"))
    chunks.append(b"\r\n--" + boundary.encode("ascii") + b"--\r\n")
    return b"".join(chunks)


def _headers(message: EmailMessage | MIMEPart, policy: _MailPolicy) -> bytes:
    return b"".join(policy.fold_binary(name, value)
                    for name, value in message.raw_items()) + b"\r\n"


def _text_part(body: str, subtype: str) -> MIMEPart:
    """A UTF-8 text part in quoted-printable, 7-bit safe for any SMTP server.

    What ``set_content`` writes, by binascii's C encoder: the email package's own
    (pure Python) took a tenth of the send in the benchmark's profile. MIMEPart, not
    add_alternative(), which stamps a stray MIME-Version on each part.
    """
    part = MIMEPart(policy=MAIL_POLICY)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    data = "\n".join(body.splitlines()).encode("utf-8") + b"\n"
    encoded = binascii.b2a_qp(data, istext=True).decode("ascii")
    # smtplib's generator turns a line starting "From " into ">From " (mbox quoting), and
    # paper titles do start so: "=46" is the same F, out of the quoting's reach.
    if encoded.startswith("From "):
        encoded = "=46" + encoded[1:]
    part.set_payload(encoded.replace("\nFrom ", "\n=46rom "))
    return part


def only_address(message: EmailMessage, field: str) -> str:
    """The one address of a From or To header; a message with none or several is refused."""
    addresses = getattr(message[field], "addresses", ())
    if len(addresses) != 1:
        raise DeliveryError("", f"message needs exactly one {field} address", permanent=True)
    return str(addresses[0].addr_spec)
