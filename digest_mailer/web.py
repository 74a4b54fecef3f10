"""The web face. For now a health page for the Procfile's web line (WSGI, stdlib only)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from digest_mailer import store


def health(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        sources = store.all_sources(session)
        runs = store.recent_runs(session, 1)
        return {
            "status": "ok",
            "sources": len(sources),
            "sources_failing": [s.label for s in sources if s.last_error],
            "entries": store.count_entries(session),
            "last_run": runs[0].finished_at.isoformat() if runs and runs[0].finished_at else None,
        }


def make_app(engine: Engine) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in ("/", "/healthz"):
            body = json.dumps(health(engine)).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


def serve(engine: Engine, host: str, port: int) -> None:
    from wsgiref.simple_server import make_server

    with make_server(host, port, make_app(engine)) as server:
        print(f"serving health page on http://{host}:{port}/healthz")
        server.serve_forever()
