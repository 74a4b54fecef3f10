"""Refuse a request before its body is read: the route's gate first, then a size limit.

FastAPI parses a form (and spools an uploaded file to the temp directory) before the
handler runs, so a handler's own login or size check comes too late: a stranger's 1 GB
upload to ``/admin/import`` was written to disk in full before its 403. This middleware
runs before any parsing:

1. a *gate* per route looks only at the path and the headers (the admin session cookie, the
   signed token in a subscriber link) and may answer at once (403/404/400), body unread;
2. a ``Content-Length`` over the route's limit is answered 413 at once;
3. a chunked body, or one longer than announced, is counted as it arrives and cut at the
   limit with a 413; whatever the app would have answered to the cut body is dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

# A gate: None lets the request through; a response refuses it before the body is read.
Gate = Callable[[Request], Awaitable[Response | None]]
Limit = Callable[[Request], int]
TooLarge = Callable[[Request, int], Response]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    """Raised into the app by ``receive`` when the body passes the limit."""


def _declared_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11/httptools) refuses such a request anyway
    return None


def _has_body(scope: dict[str, Any]) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return scope.get("method", "GET") in BODY_METHODS


class RequestLimits:
    """ASGI middleware: gates and body-size limits for every route (see the module)."""

    def __init__(self, app: Any, *, gates: list[Gate], limit: Limit,
                 too_large: TooLarge) -> None:
        self.app = app
        self.gates = gates
        self.limit = limit
        self.too_large = too_large

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        for gate in self.gates:
            refusal = await gate(request)
            if refusal is not None:
                await self._answer(refusal, scope, receive, send)
                return
        limit = self.limit(request)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._answer(self.too_large(request, limit), scope, receive, send)
            return

        received = 0
        cut = False
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, cut
            if cut:
                raise BodyTooLarge
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if cut:
                return  # the app's answer to a cut body (a 400 "cannot parse") is replaced
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await self._answer(self.too_large(request, limit), scope, receive, send)

    @staticmethod
    async def _answer(response: Response, scope: dict[str, Any], receive: Any,
                      send: Any) -> None:
        # The body is left unread, so the connection cannot carry another request.
        response.headers["connection"] = "close"
        await response(scope, receive, send)
