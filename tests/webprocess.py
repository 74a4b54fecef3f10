"""`digest-mailer web` as a real process on 127.0.0.1, and a raw-socket client that streams
a request body while watching for the answer, for the attack tests.

    with WebProcess(tmp_path, env) as server:          # env: DIGEST_* of the test's database
        answer = stream_request(server.port, head, total=64 * MB)
        server.written()                                # bytes the process wrote (/proc/pid/io)
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
from test_cli import COMMAND, clean_env

HOST = "127.0.0.1"
MB = 1024 * 1024
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class WebProcess:
    """One `digest-mailer web` process with its own empty TMPDIR."""

    def __init__(self, cwd: Path, env: dict[str, str], name: str = "web") -> None:
        self.port = free_port()
        self.tmpdir = cwd / f"{name}-tmp"
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.log = cwd / f"{name}.log"
        self.env = clean_env(TMPDIR=str(self.tmpdir), **env)
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> WebProcess:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*COMMAND, "web", "--host", HOST, "--port", str(self.port)], cwd=self.cwd,
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"web process did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def written(self) -> int:
        """Bytes the process has written with write(2) so far: temp files (even unlinked
        ones), the database, the log and the sockets; /proc/<pid>/io's wchar."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
        raise AssertionError("no wchar in /proc/pid/io")

    def tmp_bytes(self) -> int:
        """Bytes in the process's TMPDIR, counting files it holds open after unlinking."""
        assert self.process is not None
        total = sum(p.stat().st_size for p in self.tmpdir.rglob("*") if p.is_file())
        fds = Path(f"/proc/{self.process.pid}/fd")
        for fd in fds.iterdir():
            try:
                if os.readlink(fd).startswith(str(self.tmpdir)) and "(deleted)" in os.readlink(fd):
                    total += fd.stat().st_size
            except OSError:
                continue
        return total


@dataclass
class Answer:
    status: int | None  # None: no answer before the deadline
    sent: int  # body bytes sent when the answer's status line arrived
    head: bytes
    peak_tmp: int  # the most the server held in its TMPDIR while the body streamed


def stream_request(server: WebProcess, head: bytes, total: int, *, start: bytes = b"",
                   chunked: bool = False, chunk: int = 64 * 1024, deadline: float = 30.0,
                   source: str = HOST) -> Answer:
    """Send ``head``, the body's ``start`` (e.g. a multipart file header), then up to
    ``total`` filler bytes (raw, or as HTTP chunks), stopping as soon as the server answers;
    the status, and how much of the body had gone by then."""
    sock = socket.create_connection((HOST, server.port), timeout=deadline,
                                    source_address=(source, 0))
    sent, received, peak = 0, b"", 0
    block = b"x" * chunk
    piece = b"%x\r\n" % chunk + block + b"\r\n" if chunked else block
    writing = True
    ends = time.monotonic() + deadline
    try:
        sock.sendall(head + (b"%x\r\n%s\r\n" % (len(start), start) if chunked and start
                             else start))
        while time.monotonic() < ends and b"\r\n" not in received:
            want_write = [sock] if writing and sent < total else []
            readable, writable, _ = select.select([sock], want_write, [], 0.5)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                received += data
                continue
            if writable:
                try:
                    sock.sendall(piece)
                    sent += chunk
                except (BrokenPipeError, ConnectionResetError):
                    writing = False
                if sent % (4 * MB) == 0:
                    peak = max(peak, server.tmp_bytes())
                if chunked and sent >= total:
                    sock.sendall(b"0\r\n\r\n")
        # Read the rest of the head, if the server is still talking.
        sock.settimeout(2.0)
        while b"\r\n\r\n" not in received:
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            received += data
    finally:
        sock.close()
    peak = max(peak, server.tmp_bytes())
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else None
    return Answer(status, sent, received.split(b"\r\n\r\n", 1)[0], peak)
