"""A parser per source kind: where a new kind of source (a JSON API, say) plugs in.

A parser turns one fetched document into a :class:`ParsedFeed` and never raises for a bad
one. RSS and Atom share feedparser, which tells them apart by itself: ``ParsedFeed.kind``
says which one a document was, and the ingest run stores that on its Source.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from digest_mailer.domain.digest import ParsedFeed
from digest_mailer.ingest.kinds import DEFAULT_KIND, KINDS
from digest_mailer.ingest.parse import parse_feed

__all__ = ["DEFAULT_KIND", "KINDS", "PARSERS", "SourceParser", "parse_source"]


class SourceParser(Protocol):
    def __call__(self, body: bytes, *, source_category: str | None = None) -> ParsedFeed: ...


# A new kind: its parser here and its name in kinds.py.
PARSERS: Mapping[str, SourceParser] = MappingProxyType({"rss": parse_feed, "atom": parse_feed})


def parse_source(kind: str, body: bytes, *, source_category: str | None = None) -> ParsedFeed:
    """Parse one document of a source of ``kind``; an unknown kind is that source's error."""
    parser = PARSERS.get(kind)
    if parser is None:
        # A row written by newer code, say: one source fails, the others are read.
        return ParsedFeed(title="", entries=(), error=(
            f"no parser for source kind {kind!r} (known: {', '.join(KINDS)})"))
    return parser(body, source_category=source_category)
