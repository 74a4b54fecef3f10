"""Delivery: build one digest email (pure), then hand it to a transport (the only I/O).

As in django-anymail, building and sending are apart: :func:`build_message` is a function
of its arguments, and a :class:`Transport` sends a batch of built messages inside one
``with`` block, raising :class:`DeliveryError` for a message it could not hand over.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import secrets
import smtplib
import ssl
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy, default
from email.utils import format_datetime, formataddr, make_msgid, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import quote, unquote, urlsplit

from digest_mailer.digest import Links, RenderedDigest
from digest_mailer.errors import DeliveryError

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
        verbatim = self._fold_url_list(name, value)
        folded = verbatim.encode("ascii") if verbatim else super().fold_binary(name, value)
        self._verified(folded.decode("ascii", "surrogateescape"))
        return folded

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


# 7bit: smtplib announces no 8BITMIME for ASCII envelopes, so bodies go as QP or base64.
MAIL_POLICY = _MailPolicy(linesep="\r\n", cte_type="7bit")


def _strip_controls(value: str) -> str:
    chars = (" " if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else c for c in value)
    return " ".join("".join(chars).split())


def clean_header_value(value: str) -> str:
    """``value`` as one line of plain text, safe to put in any header.

    Removes CR, LF and every other control character and collapses whitespace. RFC 2047
    words are decoded first, with the parser the generator uses, because this Python
    writes a decoded ``=0D=0A`` out raw (CVE-2024-6923); what survives cannot start one.
    """
    value = _strip_controls(value)
    for _ in range(4):  # a decoded word may itself spell another one
        cleaned = _strip_controls(str(default.header_factory("x-clean", value)))
        if cleaned == value:
            break
        value = cleaned
    return _ENCODED_WORD_LIKE.sub(lambda m: m.group().replace("=?", "= ?"), value)


def _addr_spec(value: str, field: str) -> str:
    local, _, domain = clean_header_value(value).rpartition("@")
    try:
        domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError as err:
        raise ValueError(f"{field}: bad domain in {value!r}") from err
    addr = f"{local}@{domain}"
    if not addr.isascii() or not _ADDR_SPEC.fullmatch(addr):
        raise ValueError(f"{field}: not a usable email address: {value!r}")
    return addr


def _mailbox(value: str, field: str) -> str:
    name, addr = parseaddr(clean_header_value(value))
    return formataddr((clean_header_value(name), _addr_spec(addr, field)), charset="utf-8")


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
                  date: datetime | None = None) -> EmailMessage:
    """The digest as a multipart/alternative email; pure apart from ``date`` defaulting to now.

    Raises ValueError for an unusable address, id or URL. Every header value is built from
    cleaned strings, never copied from a parsed message.
    """
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    https = _header_url(links.unsubscribe, ("https://", "http://"))
    mailto = _header_url(links.unsubscribe_mailto, ("mailto:",))

    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = _message_id(message_id)
    msg["From"] = _mailbox(sender, "sender")
    msg["To"] = formataddr((clean_header_value(to_name), _addr_spec(to_email, "to_email")),
                           charset="utf-8")
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
    for body, subtype in ((rendered.text, "plain"), (rendered.html, "html")):
        # MIMEPart, not add_alternative(): that stamps a stray MIME-Version on each part.
        part = MIMEPart(policy=MAIL_POLICY)
        part.set_content(body, subtype=subtype, charset="utf-8")
        msg.attach(part)
    return msg


def _only_address(message: EmailMessage, field: str) -> str:
    addresses = getattr(message[field], "addresses", ())
    if len(addresses) != 1:
        raise DeliveryError("", f"message needs exactly one {field} address", permanent=True)
    return str(addresses[0].addr_spec)


class Transport(Protocol):
    """Sends the messages of one batch (one ``with`` block)."""

    name: str

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def send(self, message: EmailMessage) -> None:
        """Hand ``message`` over to its To address, or raise :class:`DeliveryError`."""
        ...


class Pacer:
    """Spaces sends at most ``rate`` a second, shared by every thread that holds it.

    One pacer serves a whole worker process (the pipeline owns it), so two send batches
    running at once in a ``--workers 2`` consumer share the rate instead of doubling it
    (listmonk #2974). The limit is per process: N worker processes send up to N × rate.
    ``rate`` 0 means unlimited. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = -math.inf  # the earliest time the next send may start
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until this send may start; returns the seconds waited."""
        if not self.interval:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                if now >= self._next:
                    self._next = now + self.interval
                    return waited
                delay = self._next - now
            self.sleep(delay)  # outside the lock; then look again (a send may have ended)
            waited += delay

    def sent(self) -> None:
        """A send ended: the next starts ``1/rate`` after it, so the server's accept
        times are spaced too, whatever the transaction took."""
        if self.interval:
            with self._lock:
                self._next = max(self._next, self.clock() + self.interval)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _delivery_error(recipient: str, where: str, err: Exception) -> DeliveryError:
    """Map an smtplib/socket error: 5xx and misconfiguration are permanent, the rest not."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(err.recipients.values()), (550, b""))
        return DeliveryError(recipient, f"recipient refused: {code} {_text(text)}",
                             permanent=code >= 500)
    if isinstance(err, smtplib.SMTPResponseException):
        return DeliveryError(recipient, f"{where} answered {err.smtp_code} {_text(err.smtp_error)}",
                             permanent=500 <= err.smtp_code < 600)
    if isinstance(err, smtplib.SMTPServerDisconnected):
        return DeliveryError(recipient, f"{where} lost the connection: {err}", permanent=False)
    if isinstance(err, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
        return DeliveryError(recipient, f"{where}: {err}", permanent=True)
    if isinstance(err, TimeoutError):
        return DeliveryError(recipient, f"{where} timed out", permanent=False)
    return DeliveryError(recipient, f"{where}: {type(err).__name__}: {err}", permanent=False)


class SmtpTransport:
    """SMTP with STARTTLS (``smtp://``) or implicit TLS (``smtps://``), one connection a batch.

    With credentials, TLS is required: a server without STARTTLS is a permanent error,
    never a reason to log in in plain text.
    """

    def __init__(self, host: str, port: int, *, implicit_tls: bool = False, username: str = "",
                 password: str = "", timeout: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.implicit_tls = host, port, implicit_tls
        self.username, self._password = username, password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.name = f"{'smtps' if implicit_tls else 'smtp'}://{host}:{port}"  # no credentials
        self.sent = 0
        self.connections = 0
        self._conn: smtplib.SMTP | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float,
                 ssl_context: ssl.SSLContext | None = None) -> SmtpTransport:
        """``smtp://user:pass@host:587`` or ``smtps://user:pass@host:465``, percent-decoded."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            # The URL is not echoed: it may hold a password.
            raise ValueError("SMTP URL must look like smtp://user:pass@host:587 or "
                             f"smtps://user:pass@host:465 (got scheme {parts.scheme!r})")
        implicit = parts.scheme == "smtps"
        return cls(parts.hostname, parts.port or (465 if implicit else 25),
                   implicit_tls=implicit, username=unquote(parts.username or ""),
                   password=unquote(parts.password or ""), timeout=timeout,
                   ssl_context=ssl_context)

    def __repr__(self) -> str:
        return f"SmtpTransport({self.name!r}, username={self.username!r})"

    def __enter__(self) -> Self:
        self._conn = self._connect("")
        return self

    @property
    def connected(self) -> bool:
        """False after the connection was dropped (the next send reconnects)."""
        return self._conn is not None

    def __exit__(self, *exc_info: object) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def _connect(self, recipient: str) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.implicit_tls:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                conn.ehlo()
                if not self.implicit_tls and conn.has_extn("starttls"):
                    conn.starttls(context=context)
                    conn.ehlo()
                elif not self.implicit_tls and self.username:
                    raise DeliveryError(recipient, f"{self.name} does not offer STARTTLS; refusing "
                                        "to send the password in plain text (use a server with "
                                        "STARTTLS or smtps://)", permanent=True)
                if self.username:
                    conn.login(self.username, self._password)
            except BaseException:
                conn.close()
                raise
        except (smtplib.SMTPException, OSError) as err:
            raise _delivery_error(recipient, self.name, err) from err
        self.connections += 1
        log.debug("%s: connected (%d this batch)", self.name, self.connections)
        return conn

    def send(self, message: EmailMessage) -> None:
        """Send over the batch's connection; after a dropped connection reconnect once."""
        sender, recipient = _only_address(message, "From"), _only_address(message, "To")
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = self._connect(recipient)
                self._conn.send_message(message, from_addr=sender, to_addrs=[recipient])
                break
            except smtplib.SMTPServerDisconnected as err:
                self._drop()
                if attempt == 2:
                    raise _delivery_error(recipient, self.name, err) from err
                log.info("%s: connection dropped; reconnecting once", self.name)
            except (smtplib.SMTPException, OSError) as err:
                if not isinstance(err, smtplib.SMTPException):  # socket state unknown: start afresh
                    self._drop()
                raise _delivery_error(recipient, self.name, err) from err
            except (ValueError, UnicodeError) as err:  # the message cannot be serialised
                raise DeliveryError(recipient, f"unsendable message: {err}",
                                    permanent=True) from err
        self.sent += 1

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _write_atomic(path: Path, data: bytes) -> None:
    # Readers (a browser, a watcher) see either nothing or the whole file; no fsync: a
    # dev outbox, not a mail queue.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class OutboxTransport:
    """Writes each message to ``directory`` as ``.eml``, with an ``.html`` preview beside it.

    The short id is a hash of the Message-ID, so sending the same message again
    overwrites its file instead of adding a second one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.name = f"outbox:{self.directory}"
        self.sent: list[Path] = []

    def __enter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def send(self, message: EmailMessage) -> None:
        recipient = _only_address(message, "To")
        try:
            data = message.as_bytes(policy=MAIL_POLICY)
            html = message.get_body(preferencelist=("html",))
            preview = html.get_content().encode("utf-8") if html is not None else None
        except (ValueError, UnicodeError) as err:
            raise DeliveryError(recipient, f"unsendable message: {err}", permanent=True) from err
        try:
            day = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            day = datetime.now(UTC)
        msg_id = str(message["Message-ID"] or "")
        short = hashlib.sha256(msg_id.encode()).hexdigest()[:8] if msg_id else secrets.token_hex(4)
        safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)[:80]
        stem = f"{day:%Y%m%d}-{safe}-{short}"
        path = self.directory / f"{stem}.eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if preview is not None:
                _write_atomic(self.directory / f"{stem}.html", preview)
            _write_atomic(path, data)  # last: an .eml always has its preview
        except OSError as err:
            raise DeliveryError(recipient, f"cannot write {path}: {err}", permanent=False) from err
        self.sent.append(path)


def transport_from_settings(smtp_url: str, outbox_dir: Path, timeout: float) -> Transport:
    """SMTP when a URL is configured, else the outbox directory."""
    if smtp_url:
        return SmtpTransport.from_url(smtp_url, timeout=timeout)
    return OutboxTransport(outbox_dir)
