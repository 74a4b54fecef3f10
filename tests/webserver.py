"""The web app on a real uvicorn server on 127.0.0.1, in a thread, for browser and mail tests.

The socket is bound before the app is built, so the settings' base_url (which the signed
links in the digests carry) can point at the server's real port:

    server = LiveServer()                    # or LiveServer(tls=tls_files) for https
    world = World.build(..., base_url=server.base_url)
    server.start(create_app(world.app))
    ...
    server.stop()

Use the ``live_server`` fixture (a factory) to have it stopped after the test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

HOST = "127.0.0.1"
START_TIMEOUT = 10.0


class LiveServer:
    def __init__(self, tls: Any = None) -> None:
        self.tls = tls  # smtpserver.TlsFiles or None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def start(self, app: Any) -> LiveServer:
        options: dict[str, Any] = {}
        if self.tls is not None:
            options.update(ssl_certfile=str(self.tls.cert), ssl_keyfile=str(self.tls.key))
        config = uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning",
                                timeout_graceful_shutdown=2, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True, name=f"uvicorn-{self.port}")
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live_server() -> Iterator[Any]:
    """A factory: ``live_server(tls=None)`` → an unstarted LiveServer, stopped after the test."""
    made: list[LiveServer] = []

    def make(**options: Any) -> LiveServer:
        server = LiveServer(**options)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
