"""Transports: hand built messages to an SMTP server or write them to an outbox.

The only I/O of delivery (:mod:`digest_mailer.mail.message` builds the messages). A
:class:`BatchConnection` wraps one send batch: it connects lazily, paces the sends,
reconnects every ``batch_size`` messages and retries a temporary failure.
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
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Protocol, Self
from urllib.parse import unquote, urlsplit

from digest_mailer.errors import DeliveryError
from digest_mailer.mail.message import message_bytes, needs_smtputf8

log = logging.getLogger(__name__)

# A temporary failure (4xx, dropped connection) is tried again after these delays.
SMTP_RETRY_DELAYS = (0.5, 1.0)


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

    def supports(self, extension: str) -> bool:
        """Does the receiving end take this ESMTP extension (e.g. ``smtputf8``)?"""
        ...


class Pacer:
    """Spaces sends at most ``rate`` a second, shared by every thread that holds it.

    One pacer serves a whole worker process (the App builds it once), so two send batches
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


class _DataTracking:
    """Remembers whether the message of the current DATA command was written out in full.

    After the final "." line the server may have stored the message even if its answer
    never arrives; before it, the server cannot have. :meth:`SmtpTransport.send` resends
    only in the second case.
    """

    data_sent = False
    _in_data = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.data_sent, self._in_data = False, True
        try:
            return super().data(msg)  # type: ignore[misc]
        finally:
            self._in_data = False

    def send(self, s: bytes | str) -> None:
        super().send(s)  # type: ignore[misc]
        # Inside data() the one bytes write is the message with its final ".": it is out.
        if self._in_data and isinstance(s, bytes):
            self.data_sent = True


class _SMTP(_DataTracking, smtplib.SMTP):
    pass


class _SMTPSSL(_DataTracking, smtplib.SMTP_SSL):
    pass


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
        self._conn: _SMTP | _SMTPSSL | None = None

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

    def _connect(self, recipient: str) -> _SMTP | _SMTPSSL:
        context = self.ssl_context or _default_ssl_context()
        try:
            if self.implicit_tls:
                conn: _SMTP | _SMTPSSL = _SMTPSSL(self.host, self.port, timeout=self.timeout,
                                                  context=context)
            else:
                conn = _SMTP(self.host, self.port, timeout=self.timeout)
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
        """Send over the batch's connection; after a dropped connection reconnect once.

        Only a connection dropped before the message was written out is retried: once the
        final "." line is sent, a lost answer raises ``maybe_delivered`` and is never resent.
        A message to a non-ASCII address goes with SMTPUTF8 (RFC 6531), which smtplib needs
        to write the envelope in UTF-8; a server that does not announce it is a permanent
        error, not a message mangled on the way.
        """
        sender, recipient = _only_address(message, "From"), _only_address(message, "To")
        utf8 = needs_smtputf8(message) or not (sender + recipient).isascii()
        for attempt in (1, 2):
            conn = None
            try:
                if self._conn is None:
                    self._conn = self._connect(recipient)
                conn = self._conn
                conn.data_sent = False  # it still says so for the previous message
                conn.sendmail(sender, [recipient], message_bytes(message),
                              mail_options=self._mail_options(conn, recipient, utf8))
                break
            except (smtplib.SMTPServerDisconnected, OSError) as err:
                if isinstance(err, smtplib.SMTPException) and not isinstance(
                        err, smtplib.SMTPServerDisconnected):  # an answer: the link is fine
                    raise _delivery_error(recipient, self.name, err) from err
                # smtplib turns a read error or timeout after the data into a disconnect;
                # the socket's state is unknown either way: start afresh.
                self._drop()
                if conn is not None and conn.data_sent:
                    raise DeliveryError(
                        recipient, f"{self.name} took the whole message but its answer was "
                        f"lost ({type(err).__name__}: {err}); it may have been delivered",
                        permanent=False, maybe_delivered=True) from err
                if attempt == 2 or not isinstance(err, smtplib.SMTPServerDisconnected):
                    raise _delivery_error(recipient, self.name, err) from err
                log.info("%s: connection dropped; reconnecting once", self.name)
            except (ValueError, UnicodeError) as err:  # the message cannot be serialised
                raise DeliveryError(recipient, f"unsendable message: {err}",
                                    permanent=True) from err
        self.sent += 1

    def _mail_options(self, conn: _SMTP | _SMTPSSL, recipient: str, utf8: bool) -> list[str]:
        if not utf8:
            return []  # the 7-bit MAIL FROM of any ASCII message, as before
        if not conn.has_extn("smtputf8"):
            raise DeliveryError(recipient, f"{recipient} needs SMTPUTF8; {self.name} does not "
                                "announce it", permanent=True)
        # As smtplib's send_message does: RFC 6531 servers take 8BITMIME too, and raw
        # UTF-8 headers are 8-bit content.
        return ["SMTPUTF8", "BODY=8BITMIME"] if conn.has_extn("8bitmime") else ["SMTPUTF8"]

    def supports(self, extension: str) -> bool:
        """Whether the server's EHLO announced ``extension``; connects if need be."""
        if self._conn is None:
            self._conn = self._connect("")
        return bool(self._conn.has_extn(extension))

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

    def supports(self, extension: str) -> bool:
        """A file takes any message: UTF-8 addresses included."""
        return True

    def send(self, message: EmailMessage) -> None:
        recipient = _only_address(message, "To")
        try:
            data = message_bytes(message)
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


def transport_from_settings(smtp_url: str, outbox_dir: Path, timeout: float, *,
                            ssl_context: ssl.SSLContext | None = None) -> Transport:
    """SMTP when a URL is configured, else the outbox directory."""
    if smtp_url:
        return SmtpTransport.from_url(smtp_url, timeout=timeout, ssl_context=ssl_context)
    return OutboxTransport(outbox_dir)


class BatchConnection:
    """Opens the transport at the first send, so a run with nothing to send connects nowhere.

    It paces the sends (the process's :class:`Pacer`), reconnects after ``batch_size``
    messages, and tries a temporary failure (4xx, dropped connection) again after
    :data:`SMTP_RETRY_DELAYS`, on a new connection if the old one dropped, unless the
    message may have been delivered (its answer lost after the data). If the server
    cannot be reached at all, every later send in this run fails fast as a temporary error
    (the Delivery stays pending for the next tick) instead of retrying the connection once
    per subscriber.
    """

    def __init__(self, factory: Callable[[], Transport], pacer: Pacer | None = None,
                 batch_size: int = 0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.factory = factory
        self.pacer = pacer or Pacer(0)
        self.batch_size = batch_size
        self.sleep = sleep
        self.transport: Transport | None = None
        self.broken: DeliveryError | None = None
        self.on_connection = 0  # messages tried on the current connection
        self.retries = 0

    def __enter__(self) -> BatchConnection:
        return self

    def send(self, message: EmailMessage) -> None:
        for delay in (*SMTP_RETRY_DELAYS, None):
            try:
                self._send_once(message)
                return
            except DeliveryError as err:
                # Maybe delivered: a second copy in this run is what must never happen.
                if (err.permanent or err.maybe_delivered or delay is None
                        or self.broken is not None):
                    raise
                log.info("%s; trying again in %gs", err, delay)
                self.retries += 1
                self.sleep(delay)

    def supports(self, extension: str, recipient: str) -> bool:
        """Whether this batch's server takes ``extension``; opens the transport if need be."""
        transport = self._open(recipient)
        try:
            return transport.supports(extension)
        except DeliveryError as err:
            raise DeliveryError(recipient, err.reason, permanent=err.permanent) from err

    def _open(self, recipient: str) -> Transport:
        if self.broken is not None:
            raise DeliveryError(recipient, self.broken.reason, permanent=False)
        if self.transport is not None and (
                (self.batch_size and self.on_connection >= self.batch_size)
                or not getattr(self.transport, "connected", True)):
            self._close()
        if self.transport is None:
            transport = self.factory()
            try:
                transport.__enter__()
            except DeliveryError as err:
                self.broken = err
                raise DeliveryError(recipient, err.reason, permanent=False) from err
            self.transport, self.on_connection = transport, 0
        return self.transport

    def _send_once(self, message: EmailMessage) -> None:
        self._open(str(message["To"]))
        assert self.transport is not None
        self.pacer.wait()
        self.on_connection += 1
        try:
            self.transport.send(message)
        finally:
            self.pacer.sent()

    def _close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.__exit__(None, None, None)

    def __exit__(self, *exc: object) -> None:
        self._close()


@cache
def _default_ssl_context() -> ssl.SSLContext:
    """The system's trust store, loaded once: loading it took ~20 ms per connection."""
    return ssl.create_default_context()
