"""SMTP: hand built messages to a server over STARTTLS or TLS; errors say what went wrong."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from functools import cache
from typing import Self
from urllib.parse import unquote, urlsplit

from digest_mailer.errors import DeliveryError
from digest_mailer.mail.message import message_bytes, needs_smtputf8, only_address

log = logging.getLogger(__name__)


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
        sender, recipient = only_address(message, "From"), only_address(message, "To")
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


@cache
def _default_ssl_context() -> ssl.SSLContext:
    """The system's trust store, loaded once: loading it took ~20 ms per connection."""
    return ssl.create_default_context()
