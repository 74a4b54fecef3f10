"""The I/O edge: fetch many feed documents concurrently, one :class:`FetchOutcome` each.

Conditional GET, a byte cap, a per-source deadline, and no exception ever escapes for one
source: a failure is recorded in ``FetchOutcome.error`` and the other sources go on. With
``public_only`` (feeds named from a browser) every connection, each redirect hop's too, goes
through :mod:`digest_mailer.ingest.guard`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from digest_mailer.domain.digest import FetchOutcome
from digest_mailer.ingest.guard import NOT_PUBLIC, NotPublic, PublicTransport

if TYPE_CHECKING:
    import httpcore

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchRequest:
    """One source to fetch, with the validators stored from its last successful fetch."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


class _TooLarge(Exception):
    """The body went past ``max_bytes``."""


async def fetch_all(
    requests: list[FetchRequest],
    *,
    timeout: float,
    max_bytes: int,
    user_agent: str,
    concurrency: int,
    public_only: bool = False,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> list[FetchOutcome]:
    """Fetch every request (at most ``concurrency`` at once); outcomes in request order.

    ``timeout`` bounds each source as a whole (connect + headers + body), counted from when
    its fetch starts, so a server that trickles bytes cannot hold the run. ``public_only``
    connects to global addresses only; ``network`` is the sockets' backend under that guard
    (a test's stand-in for the internet).
    """
    if not requests:
        return []
    slots = asyncio.Semaphore(max(1, concurrency))
    limits = httpx.Limits(max_connections=max(1, concurrency))
    transport = PublicTransport(limits=limits, inner=network) if public_only else None
    async with httpx.AsyncClient(
        transport=transport,
        headers={"User-Agent": user_agent, "Accept": ACCEPT},
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=httpx.Timeout(timeout),
        limits=limits,
    ) as client:

        async def one(request: FetchRequest) -> FetchOutcome:
            async with slots:  # the deadline starts once the source has a slot
                return await _fetch_one(client, request, timeout=timeout, max_bytes=max_bytes)

        return list(await asyncio.gather(*(one(r) for r in requests)))


def fetch_sources(
    requests: list[FetchRequest],
    *,
    timeout: float,
    max_bytes: int,
    user_agent: str,
    concurrency: int,
    public_only: bool = False,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> list[FetchOutcome]:
    """Blocking wrapper around :func:`fetch_all` for the CLI and worker (not inside a loop)."""
    return asyncio.run(
        fetch_all(
            requests,
            timeout=timeout,
            max_bytes=max_bytes,
            user_agent=user_agent,
            concurrency=concurrency,
            public_only=public_only,
            network=network,
        )
    )


async def _fetch_one(
    client: httpx.AsyncClient, request: FetchRequest, *, timeout: float, max_bytes: int
) -> FetchOutcome:
    started = time.monotonic()
    try:
        scheme = urlsplit(request.url).scheme.lower()
        if scheme == "file":
            outcome = await asyncio.to_thread(_read_file, request.url, max_bytes)
        elif scheme in ("http", "https"):
            async with asyncio.timeout(timeout):
                outcome = await _get(client, request, max_bytes)
        else:
            outcome = _failed(request, f"unsupported URL scheme {scheme!r} (use http, https "
                                       "or file)")
    except NotPublic:
        outcome = _failed(request, NOT_PUBLIC)
    except TimeoutError:
        outcome = _failed(request, f"timed out after {timeout:g} s (whole request)")
    except httpx.TimeoutException as err:
        phase = type(err).__name__.removesuffix("Timeout").lower() or "request"
        outcome = _failed(request, f"timed out after {timeout:g} s ({phase})")
    except httpx.TooManyRedirects:
        outcome = _failed(request, f"too many redirects (more than {MAX_REDIRECTS})")
    except httpx.ConnectError as err:
        outcome = _failed(request, f"connection failed: {err or type(err).__name__}")
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        outcome = _failed(request, f"{type(err).__name__}: {err}")
    except Exception as err:  # an I/O edge: one odd source must never stop the others
        outcome = _failed(request, f"unexpected {type(err).__name__}: {err}")
    outcome.elapsed = time.monotonic() - started
    return outcome


def _failed(request: FetchRequest, error: str, status: int | None = None) -> FetchOutcome:
    return FetchOutcome(url=request.url, status=status, error=error)


async def _get(client: httpx.AsyncClient, request: FetchRequest, max_bytes: int) -> FetchOutcome:
    headers: dict[str, str] = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    async with client.stream("GET", request.url, headers=headers) as response:
        outcome = FetchOutcome(
            url=request.url,
            status=response.status_code,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            extra=_extra(request, response),
        )
        if response.status_code == 304:
            # Keep the stored validators when a 304 does not repeat them.
            outcome.not_modified = True
            outcome.etag = outcome.etag or request.etag
            outcome.last_modified = outcome.last_modified or request.last_modified
            return outcome
        if not response.is_success:
            outcome.error = f"HTTP {response.status_code}"
            return outcome
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            outcome.error = f"body larger than {max_bytes} bytes"
            return outcome
        try:
            outcome.body = await _read_capped(response, max_bytes)
        except _TooLarge:
            outcome.error = f"body larger than {max_bytes} bytes"
        return outcome


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    # Counted after content decoding, so a small gzip bomb is caught too.
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _TooLarge
    return bytes(body)


def _extra(request: FetchRequest, response: httpx.Response) -> dict[str, str]:
    extra = {"content_type": response.headers.get("Content-Type", "")}
    if response.history:
        extra["final_url"] = str(response.url)
        extra["redirects"] = str(len(response.history))
    return {k: v for k, v in extra.items() if v}


def _read_file(url: str, max_bytes: int) -> FetchOutcome:
    """A ``file://`` URL: the bundled snapshot feeds of the offline demo."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return FetchOutcome(url=url, error=f"file URL names a remote host {parts.netloc!r}")
    path = Path(url2pathname(parts.path))
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)  # one byte more tells "too large" from "exact"
    except OSError as err:
        return FetchOutcome(url=url, error=f"cannot read {path}: {err.strerror or err}")
    if len(body) > max_bytes:
        return FetchOutcome(url=url, error=f"body larger than {max_bytes} bytes")
    return FetchOutcome(url=url, body=body)
