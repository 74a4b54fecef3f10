"""Security helpers of the web app: signed tokens, CSRF, headers, logs (the admin login is
the service ``services/admin.py``).

Every token here is signed with the same secret keys as the links in the digests
(the App's ``secret_keys``, read once at start, newest first), each kind with its own salt, so a
token made for one use is refused by every other.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from digest_mailer.mail.links import LinkSigner

log = logging.getLogger("digest_mailer.faces.web.access")

CSRF_MAX_AGE = 4 * 3600  # a form may stay open this long before it must be reloaded
MAX_TOKEN_CHARS = 512  # our tokens are < 200 characters; longer input is not even parsed

# A CSP without any script source: the pages work without JavaScript.
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The digest as sent: its images come from anywhere over https, it has no forms.
VIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
            "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")


class InvalidLink(Exception):
    """A token that is forged, truncated, expired, for another purpose, or malformed."""


class CsrfError(Exception):
    """A form came back without a valid anti-forgery token."""


def _timed(keys: Sequence[str], salt: str) -> URLSafeTimedSerializer:
    # itsdangerous takes keys oldest first and signs with the last one.
    return URLSafeTimedSerializer(list(keys)[::-1], salt=salt)


def load_link(signer: LinkSigner, purpose: str, token: str) -> Any:
    """The payload of a digest link's token, or :class:`InvalidLink`."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise InvalidLink(purpose)
    try:
        return signer.load(purpose, token)
    except (BadData, UnicodeError, ValueError) as err:
        raise InvalidLink(purpose) from err


class Csrf:
    """Hidden form tokens bound to what the form acts on (a subscriber, an admin session)."""

    def __init__(self, keys: Sequence[str], max_age: int = CSRF_MAX_AGE) -> None:
        self._serializer = _timed(keys, "digest-mailer.csrf")
        self.max_age = max_age

    def make(self, bound_to: str) -> str:
        return str(self._serializer.dumps(bound_to))

    def check(self, token: str | None, bound_to: str) -> None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise CsrfError("missing")
        try:
            value = self._serializer.loads(token, max_age=self.max_age)
        except (BadData, UnicodeError, ValueError) as err:
            raise CsrfError("invalid or expired") from err
        if not isinstance(value, str) or not hmac.compare_digest(value, bound_to):
            raise CsrfError("made for another form")


# --- headers and logs ------------------------------------------------------------------

BASE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", PAGE_CSP.encode()),
    (b"cache-control", b"no-store"),
)

# The signed part of every link path: never written to a log.
_TOKEN_PATH = re.compile(r"^/([upfvc])/[^/]+")


def redact(path: str) -> str:
    return _TOKEN_PATH.sub(r"/\1/…", path)


class SecurityHeaders:
    """ASGI middleware: security headers on every response (a route may set its own CSP),
    and an access log line with the link tokens cut out of the path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status: list[int] = []

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in BASE_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            client = scope.get("client") or ("-", 0)
            log.info("%s %s %s %d %.0fms", client[0], scope.get("method", "-"),
                     redact(scope.get("path", "")), status[0] if status else 0,
                     (time.monotonic() - started) * 1000)
