"""Transports: hand built messages to an SMTP server or write them to an outbox.

The I/O of delivery (:mod:`digest_mailer.mail.message` builds the messages): ``smtp.py``
and ``outbox.py`` behind the :class:`Transport` interface. A :class:`BatchConnection`
wraps one send batch: it connects lazily, paces the sends, reconnects every
``batch_size`` messages and retries a temporary failure.
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, Self

from digest_mailer.errors import DeliveryError
from digest_mailer.mail.outbox import OutboxTransport
from digest_mailer.mail.smtp import SmtpTransport

log = logging.getLogger(__name__)

# A temporary failure (4xx, dropped connection) is tried again after these delays.
SMTP_RETRY_DELAYS = (0.5, 1.0)


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


