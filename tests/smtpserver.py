"""A loopback SMTP server (aiosmtpd) that records what it receives, for delivery tests.

Options: STARTTLS (+ AUTH), implicit TLS, a recipient to refuse with 550, one to defer
with 451 (always, or only its first ``defer_times`` attempts), dropping the connection after
N messages, hanging up on MAIL, a per-message ``delay`` before a message is accepted, an
``on_accept`` callback run before each ``250``, announcing SMTPUTF8 (``smtputf8``).
Each message records its arrival time (``time.monotonic()``). It counts TCP
connections and AUTH attempts so tests can see what a client did, not only what arrived.

Use the ``smtp_server`` fixture (a factory) after importing it, or :class:`LoopbackSmtp`.
:class:`StoreThenDropSmtp` is a raw-socket server that stores a message and hangs up before
its ``250``.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from conftest import require  # skips locally, fails under CI

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool  # was the session encrypted when DATA arrived
    at: float = 0.0  # time.monotonic() when it was accepted
    smtp_utf8: bool = False  # did MAIL FROM carry the SMTPUTF8 parameter


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts exactly this certificate."""
        return ssl.create_default_context(cafile=str(self.cert))


def make_tls_files(directory: Path) -> TlsFiles:
    """Generate the certificate with the ``openssl`` command line."""
    require(shutil.which("openssl") is not None, "the openssl command is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={HOST}",
         "-addext", f"subjectAltName=IP:{HOST},DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )
    return TlsFiles(cert, key)


class _Handler:
    def __init__(self, server: LoopbackSmtp) -> None:
        self.server = server

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.server.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.server.defer:
            with self.server.lock:
                tries = self.server.deferred[address] = self.server.deferred.get(address, 0) + 1
            if self.server.defer_times is None or tries <= self.server.defer_times:
                return f"451 4.3.0 <{address}>: try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if self.server.delay:  # a slow server: the client waits for the final answer
            await asyncio.sleep(self.server.delay)
        if self.server.on_accept is not None:  # blocks the loop: a test's one-off step
            self.server.on_accept()
        # STARTTLS or implicit TLS: either way the live transport then has an SSL object.
        tls = server.transport is not None and bool(server.transport.get_extra_info("ssl_object"))
        with self.server.lock:
            self.server.messages.append(Received(str(envelope.mail_from),
                                                 list(envelope.rcpt_tos), content, tls,
                                                 time.monotonic(), envelope.smtp_utf8))
        return "250 2.0.0 Message accepted"


class _RecordingSMTP(SMTP):
    def __init__(self, owner: LoopbackSmtp, *args: Any, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def connection_made(self, transport: Any) -> None:
        if self._original_transport is None:  # a new TCP connection, not the STARTTLS upgrade
            with self.owner.lock:
                self.owner.connections += 1
        super().connection_made(transport)

    async def smtp_AUTH(self, arg: str) -> None:
        with self.owner.lock:
            self.owner.auth_attempts.append(arg.split()[0] if arg else "")
        await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self.owner.hang_up_on_mail:
            assert self.transport is not None
            self.transport.close()
            return
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str) -> None:
        await super().smtp_DATA(arg)
        drop = self.owner.drop_after
        if drop is not None and len(self.owner.messages) % drop == 0:
            assert self.transport is not None
            self.transport.close()  # like a server closing an idle or over-used connection


class _Controller(Controller):
    def __init__(self, owner: LoopbackSmtp, *args: Any, **kwargs: Any) -> None:
        self.owner = owner
        super().__init__(*args, **kwargs)

    def factory(self) -> SMTP:
        return _RecordingSMTP(self.owner, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Bound to port 0: learn the real port before aiosmtpd connects to itself.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class LoopbackSmtp:
    """An aiosmtpd server on 127.0.0.1, a free port, recording every message."""

    def __init__(self, *, tls: TlsFiles | None = None, implicit_tls: bool = False,
                 credentials: tuple[str, str] | None = None, auth_over_plaintext: bool = False,
                 refuse: tuple[str, ...] = (), defer: tuple[str, ...] = (),
                 drop_after: int | None = None, hang_up_on_mail: bool = False,
                 defer_times: int | None = None, delay: float = 0.0,
                 smtputf8: bool = False) -> None:
        self.refuse, self.defer, self.defer_times = refuse, defer, defer_times
        self.deferred: dict[str, int] = {}  # RCPT attempts seen per deferred address
        self.delay = delay
        # Called before each 250 (e.g. to take a database lock while the client waits).
        self.on_accept: Callable[[], None] | None = None
        self.drop_after, self.hang_up_on_mail = drop_after, hang_up_on_mail
        self.credentials = credentials
        self.messages: list[Received] = []
        self.connections = 0
        self.auth_attempts: list[str] = []  # mechanisms, whether or not they succeeded
        self.logins: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        kwargs: dict[str, Any] = {"hostname": HOST, "port": 0, "ident": "loopback",
                                  "enable_SMTPUTF8": smtputf8}
        if implicit_tls:
            assert tls is not None, "implicit TLS needs a certificate"
            kwargs["ssl_context"] = tls.server_context()
        elif tls is not None:
            kwargs.update(tls_context=tls.server_context(), require_starttls=True)
        if credentials is not None or auth_over_plaintext:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=not auth_over_plaintext)
        self.controller = _Controller(self, _Handler(self), **kwargs)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        # handled=False: aiosmtpd then answers 535 itself instead of staying silent.
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = (auth_data.login.decode(), auth_data.password.decode())
        with self.lock:
            self.logins.append(login)
        return AuthResult(success=login == self.credentials, handled=False)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def url(self, scheme: str = "smtp", user: str = "", password: str = "") -> str:
        """A URL for this server, credentials percent-encoded."""
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"{scheme}://{auth}{HOST}:{self.port}"

    def start(self) -> LoopbackSmtp:
        self.controller.start()
        self.connections = 0  # aiosmtpd's own start-up probe is not a client
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A factory: ``smtp_server(refuse=("x@example.org",))`` → a started LoopbackSmtp."""
    started: list[LoopbackSmtp] = []

    def start(**options: Any) -> LoopbackSmtp:
        server = LoopbackSmtp(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class StoreThenDropSmtp:
    """A raw-socket SMTP server that stores each message, then hangs up before its ``250``.

    What a server that crashes, or a middlebox that times out, right after queueing looks
    like to the client: the whole message went out, no answer came back. ``drop_for``
    names the recipients treated so (empty: every one); the others get ``250``. One thread
    per connection, loopback only, every socket with a timeout.
    """

    def __init__(self, drop_for: tuple[str, ...] = ()) -> None:
        self.drop_for = drop_for
        self.messages: list[Received] = []
        self.connections = 0
        self.lock = threading.Lock()
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> StoreThenDropSmtp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 loopback ESMTP\r\n")
            mail_from, rcpt_tos = "", []
            for raw in lines:
                verb = raw[:4].upper()
                arg = raw[5:].strip().decode(errors="replace")
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-loopback\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    mail_from, rcpt_tos = arg.partition(":")[2].strip("<> "), []
                    conn.sendall(b"250 OK\r\n")
                elif verb == b"RCPT":
                    rcpt_tos.append(arg.partition(":")[2].strip("<> "))
                    conn.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    body = []
                    for line in lines:
                        if line == b".\r\n":
                            break
                        body.append(line[1:] if line.startswith(b"..") else line)
                    with self.lock:
                        self.messages.append(Received(mail_from, list(rcpt_tos), b"".join(body),
                                                      False, time.monotonic()))
                    if not self.drop_for or set(rcpt_tos) & set(self.drop_for):
                        return  # stored, and gone before the 250
                    conn.sendall(b"250 2.0.0 queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                elif verb in (b"RSET", b"NOOP"):
                    conn.sendall(b"250 OK\r\n")
                else:
                    conn.sendall(b"502 not implemented\r\n")
