"""A loopback HTTP server for feed tests: real sockets on 127.0.0.1, routes set per test.

    with FeedServer() as server:
        url = server.add_file("/cs.AI", path)      # ETag + Last-Modified, answers 304
        server.add_status("/broken", 500)
        ...
        server.hits["/cs.AI"]                       # requests counted per path, on arrival
        server.requests_to("/cs.AI")[-1].status     # each request: headers, status, aborted

Tests import it as ``from feedserver import FeedServer`` (pytest's default "prepend" import
mode puts tests/ on sys.path) and bind the fixture in the test module:
``feed_server = feedserver.feed_server`` (``pytest_plugins`` works too but warns that the
module was imported before assertion rewriting).
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

MAX_SLEEP = 5.0  # a slow route never holds a test (or the shutdown) longer than this
RSS = "application/rss+xml; charset=utf-8"
Route = Callable[["_Handler"], None]  # writes the whole response


@dataclass
class Hit:
    """One request as the server saw it; logged on arrival, so never behind the client."""

    path: str
    headers: dict[str, str]
    status: int | None = None  # set as the status line is written, before the client sees it
    aborted: bool = False  # the client hung up mid-answer (size cap, timeout)


class FeedServer:
    """A threaded HTTP server on 127.0.0.1 (port 0) with per-path routes and request counts."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.log: list[Hit] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()  # wakes sleeping handlers so shutdown is prompt
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.feed_server = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    # Lifecycle -----------------------------------------------------------------------------
    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=MAX_SLEEP)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def requests_to(self, path: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.log if hit.path == path]

    # Routes (each returns the URL to fetch) -----------------------------------------------
    def route(self, path: str, handler: Route) -> str:
        """Any custom behaviour: ``handler(request)`` writes the whole response."""
        self.routes[path] = handler
        return self.url(path)

    def add_bytes(
        self, path: str, body: bytes, *, content_type: str = RSS, etag: str | None = None,
        last_modified: str | None = None, status: int = 200,
    ) -> str:
        """Serve ``body``; with validators, answer a matching conditional GET with 304."""

        def handler(req: _Handler) -> None:
            if status == 200 and _not_modified(req, etag, last_modified):
                req.send_response(304)
                _validators(req, etag, last_modified)
                req.end_headers()
                return
            req.send_response(status)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(len(body)))
            _validators(req, etag, last_modified)
            req.end_headers()
            req.wfile.write(body)

        return self.route(path, handler)

    def add_file(self, path: str, file: Path, *, content_type: str = RSS) -> str:
        """Serve a file's bytes with a strong ETag and its mtime as Last-Modified."""
        body = file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        modified = formatdate(file.stat().st_mtime, usegmt=True)
        return self.add_bytes(path, body, content_type=content_type, etag=etag,
                              last_modified=modified)

    def add_status(self, path: str, status: int, body: bytes = b"server error\n") -> str:
        return self.add_bytes(path, body, content_type="text/plain", status=status)

    def add_slow(self, path: str, seconds: float, body: bytes = b"<rss/>") -> str:
        """Wait ``seconds`` (at most MAX_SLEEP, less if the server stops) before answering."""

        def handler(req: _Handler) -> None:
            if self._stop.wait(min(seconds, MAX_SLEEP)):
                return  # shutting down: drop the connection without an answer
            _send(req, 200, body)

        return self.route(path, handler)

    def add_trickle(self, path: str, *, interval: float = 0.2, chunk: bytes = b" ") -> str:
        """Send one small chunk every ``interval`` s for up to MAX_SLEEP: never idle, never done."""

        def handler(req: _Handler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", RSS)
            req.end_headers()
            req.wfile.write(b"<?xml version='1.0'?><rss version='2.0'><channel>")
            deadline = time.monotonic() + MAX_SLEEP
            while time.monotonic() < deadline and not self._stop.wait(interval):
                req.wfile.write(chunk)
                req.wfile.flush()

        return self.route(path, handler)

    def add_huge(
        self, path: str, size: int = 50_000_000, *, declare_length: bool = False,
        chunk_size: int = 64 * 1024,
    ) -> str:
        """A ``size``-byte body made lazily chunk by chunk (never held in memory).

        Without ``declare_length`` there is no Content-Length, so only a streaming cap stops it.
        """
        block = b"<item>" + b"x" * (chunk_size - 13) + b"</item>"

        def handler(req: _Handler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", RSS)
            if declare_length:
                req.send_header("Content-Length", str(size))
            req.end_headers()
            sent = 0
            while sent < size and not self._stop.is_set():
                piece = block[: size - sent]
                req.wfile.write(piece)  # a client that gives up raises here (do_GET)
                sent += len(piece)

        return self.route(path, handler)

    def add_redirect(self, path: str, location: str, status: int = 302) -> str:
        def handler(req: _Handler) -> None:
            req.send_response(status)
            req.send_header("Location", location)
            req.send_header("Content-Length", "0")
            req.end_headers()

        return self.route(path, handler)

    def _arrived(self, hit: Hit) -> None:
        with self._lock:
            self.hits[hit.path] += 1
            self.log.append(hit)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a write never blocks interpreter exit
    feed_server: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that abort (size cap, timeout) are expected: keep test output clean. Any
        # other error (a bug in a test's route) is still printed.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    hit: Hit | None = None  # None until do_GET: a garbled request line is answered before it
    protocol_version = "HTTP/1.0"  # one request per connection; bodies may end at close

    def do_GET(self) -> None:
        feed_server = self.server.feed_server
        path = self.path.split("?", 1)[0]
        hit = self.hit = Hit(path=path, headers={k.lower(): v for k, v in self.headers.items()})
        feed_server._arrived(hit)
        route = feed_server.routes.get(path)
        try:
            if route:
                route(self)
            else:
                _send(self, 404, b"no such route\n")
        except (BrokenPipeError, ConnectionResetError):
            hit.aborted = True

    def send_response(self, code: int, message: str | None = None) -> None:
        if self.hit is not None:
            self.hit.status = code  # set before the headers leave: no race with the client
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is FeedServer.log; stderr stays quiet


def _send(req: _Handler, status: int, body: bytes, content_type: str = RSS) -> None:
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


def _not_modified(req: _Handler, etag: str | None, last_modified: str | None) -> bool:
    if_none_match = req.headers.get("If-None-Match")
    if if_none_match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        return etag is not None and etag in [t.strip() for t in if_none_match.split(",")]
    since = req.headers.get("If-Modified-Since")
    return since is not None and last_modified is not None and since == last_modified


def _validators(req: _Handler, etag: str | None, last_modified: str | None) -> None:
    if etag:
        req.send_header("ETag", etag)
    if last_modified:
        req.send_header("Last-Modified", last_modified)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started :class:`FeedServer`, stopped when the test ends."""
    with FeedServer() as server:
        yield server
