"""A real IMAP server for the reply tests: Dovecot on 127.0.0.1 with its own config.

Everything lives in a temporary folder (config, sockets, state, log, maildirs); any user
logs in with the password ``secret`` (static passdb). Run as root (as in CI) the mail and
login processes run as the ``dovecot``/``dovenull`` users, so the folder is theirs; run
as anyone else, everything runs as that user. With ``tls=True`` the server also offers
STARTTLS on the plain port and implicit TLS on a second one, with a self-signed
certificate the client context trusts.

Use the ``imap_server`` fixture (a factory).
"""

from __future__ import annotations

import getpass
import imaplib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import require
from smtpserver import make_tls_files

HOST = "127.0.0.1"
PASSWORD = "secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _chown_tree(root: Path, user: str) -> None:
    for path in [root, *root.rglob("*")]:
        shutil.chown(path, user, user)


class Dovecot:
    def __init__(self, *, tls: bool = False) -> None:
        require(shutil.which("dovecot") is not None,
                "dovecot is not installed (apt-get install dovecot-imapd)")
        self.root = Path(tempfile.mkdtemp(prefix="digest-imap-"))
        self.root.chmod(0o755)
        self.port, self.tls_port = _free_port(), _free_port() if tls else 0
        self.context: ssl.SSLContext | None = None
        root_user = os.geteuid() == 0
        internal = "dovecot" if root_user else getpass.getuser()
        login = "dovenull" if root_user else internal
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir()
        tls_lines = "ssl = no\n"
        if tls:
            files = make_tls_files(self.root)
            self.context = files.client_context()
            tls_lines = f"ssl = yes\nssl_cert = <{files.cert}\nssl_key = <{files.key}\n"
        config = self.root / "dovecot.conf"
        config.write_text(f"""\
protocols = imap
listen = {HOST}
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
{tls_lines}disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
first_valid_uid = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={internal} gid={internal} home={self.root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.tls_port}
  }}
}}
""", encoding="utf-8")
        if root_user:
            _chown_tree(self.root, internal)
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(config)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- a client, as a person would use one ---------------------------------------------

    def client(self, user: str, folder: str = "INBOX") -> imaplib.IMAP4:
        imap = imaplib.IMAP4(HOST, self.port, timeout=10)
        imap.login(user, PASSWORD)
        imap.select(folder)
        return imap

    def append(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        imap = self.client(user, folder)
        try:
            for raw in messages:
                typ, data = imap.append(folder, None, None, raw)
                assert typ == "OK", data
        finally:
            imap.logout()

    def flags(self, user: str) -> list[set[str]]:
        """The flags of every message in INBOX, in order."""
        imap = self.client(user)
        try:
            typ, data = imap.fetch("1:*", "(FLAGS)")
            assert typ == "OK", data
            return [{f.decode() for f in imaplib.ParseFlags(item)}
                    for item in data if isinstance(item, bytes)]
        finally:
            imap.logout()

    def clear_flags(self, user: str) -> None:
        """What a restart looks like when the run died before flagging: no flags at all."""
        imap = self.client(user)
        try:
            typ, data = imap.store("1:*", "-FLAGS", r"(\Seen $DigestProcessed)")
            assert typ == "OK", data
        finally:
            imap.logout()


@pytest.fixture
def imap_server() -> Iterator[Callable[..., Dovecot]]:
    """A factory: ``imap_server(tls=False)`` starts a Dovecot; all stop after the test."""
    started: list[Dovecot] = []

    def start(*, tls: bool = False) -> Dovecot:
        server = Dovecot(tls=tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
