"""The I/O edge to the arXiv API (``/api/query?id_list=…``, an Atom document): the title and
abstract of papers known by arXiv id only.

arXiv asks for one request every 3 seconds at most and takes up to 100 ids in one: the client
batches and waits between its requests. Each request has a deadline as a whole; the answer is
capped in size and read by :func:`read_answer`, which refuses anything that is not the API's
Atom (an HTML page, garbage, an error entry) and every entry for an id not asked. No exception
escapes for one batch: its error comes back as a value, to be recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import feedparser
import httpx

from digest_mailer.ingest.clean import arxiv_id, clean_text
from digest_mailer.ingest.parse import MAX_ABSTRACT, MAX_TITLE
from digest_mailer.text import one_line

BATCH = 100  # ids per request
INTERVAL = 3.0  # seconds between two requests (arXiv's terms of use)
MAX_ANSWER_BYTES = 4_000_000  # 100 papers with long abstracts are ~300 kB
ACCEPT = "application/atom+xml, application/xml;q=0.9"


@dataclass(frozen=True)
class Paper:
    arxiv_id: str  # without version
    title: str
    abstract: str


@dataclass(frozen=True)
class Answer:
    """What one request gave: papers by id; ``error`` says why the whole answer was refused;
    ``refused`` names entries left out (an id not asked, an API error entry, no title)."""

    papers: dict[str, Paper] = field(default_factory=dict)
    error: str | None = None
    refused: tuple[str, ...] = ()


def read_answer(body: bytes, asked: Sequence[str]) -> Answer:
    """The papers of an arXiv API answer for the ``asked`` ids (pure)."""
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return Answer(error="an HTML page, not the API's Atom")
    parsed = feedparser.parse(body)
    if parsed.get("version") != "atom10":
        reason = parsed.get("bozo_exception") or "no Atom feed"
        return Answer(error=f"not the API's Atom ({str(reason)[:120]})")
    wanted = set(asked)
    papers: dict[str, Paper] = {}
    refused: list[str] = []
    for raw in parsed.entries:
        link = str(raw.get("id", ""))
        if "/api/errors" in link:  # the API's own error entry: <title>Error</title>
            refused.append(f"API error: {one_line(str(raw.get('summary', '')))[:200]}")
            continue
        found = arxiv_id(link)
        if found is None or found not in wanted:
            refused.append(f"an entry for {one_line(link)[:80]!r}, which was not asked")
            continue
        title = clean_text(str(raw.get("title", "")))[:MAX_TITLE].rstrip()
        if not title:
            refused.append(f"{found}: an entry without a title")
            continue
        abstract = clean_text(str(raw.get("summary", "")))[:MAX_ABSTRACT].rstrip()
        papers.setdefault(found, Paper(found, title, abstract))
    return Answer(papers, None, tuple(refused))


class ArxivApi:
    """A client for one endpoint (``DIGEST_ARXIV_API_URL``); one per process, so its pause
    between requests holds for every caller."""

    def __init__(self, url: str, *, timeout: float, user_agent: str, interval: float = INTERVAL,
                 batch: int = BATCH, max_bytes: int = MAX_ANSWER_BYTES,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url, self.timeout, self.user_agent = url, timeout, user_agent
        self.interval, self.batch, self.max_bytes = interval, batch, max_bytes
        self._clock, self._sleep = clock, sleep
        self._last: float | None = None

    def lookup(self, ids: Sequence[str]) -> Iterator[tuple[list[str], Answer]]:
        """Each batch of ``ids`` with its answer, asked one after the other as it is taken
        (the caller stores one batch before the next is asked)."""
        for start in range(0, len(ids), self.batch):
            chunk = list(ids[start:start + self.batch])
            yield chunk, self._ask(chunk)

    def _ask(self, ids: list[str]) -> Answer:
        if self._last is not None:
            self._sleep(max(0.0, self._last + self.interval - self._clock()))
        try:
            body = asyncio.run(self._get(ids))
        except TimeoutError:
            return Answer(error=f"timed out after {self.timeout:g} s")
        except _Refused as err:
            return Answer(error=str(err))
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as err:
            return Answer(error=f"{type(err).__name__}: {str(err)[:200]}")
        finally:
            self._last = self._clock()
        return read_answer(body, ids)

    async def _get(self, ids: list[str]) -> bytes:
        params = {"id_list": ",".join(ids), "max_results": str(len(ids))}
        async with asyncio.timeout(self.timeout), httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), follow_redirects=False,
                headers={"User-Agent": self.user_agent, "Accept": ACCEPT}) as client, \
                client.stream("GET", self.url, params=params) as response:
            if response.status_code != 200:
                raise _Refused(f"HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise _Refused(f"an answer of {int(declared):,} bytes (cap {self.max_bytes:,})")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise _Refused(f"an answer larger than {self.max_bytes:,} bytes")
            return bytes(body)


class _Refused(Exception):
    """An answer not to read: a status other than 200, or too large."""
