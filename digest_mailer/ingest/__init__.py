"""Ingest: fetch feed documents (I/O edge) and parse them, with the parser of
their source kind, into cleaned entries (pure core).

Each name is imported on its first use: importing one module of the package loads no other.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest_mailer.ingest.authors import split_authors
    from digest_mailer.ingest.clean import arxiv_id, clean_text, strip_arxiv_prefix
    from digest_mailer.ingest.fetch import FetchRequest, fetch_all, fetch_sources
    from digest_mailer.ingest.kinds import KINDS
    from digest_mailer.ingest.parse import parse_feed
    from digest_mailer.ingest.parsers import PARSERS, parse_source
    from digest_mailer.ingest.tex import tex_to_unicode

_WHERE = {
    "KINDS": "kinds", "PARSERS": "parsers", "parse_source": "parsers",
    "FetchRequest": "fetch", "fetch_all": "fetch", "fetch_sources": "fetch",
    "arxiv_id": "clean", "clean_text": "clean", "strip_arxiv_prefix": "clean",
    "parse_feed": "parse", "split_authors": "authors", "tex_to_unicode": "tex",
}
__all__ = [
    "KINDS",
    "PARSERS",
    "FetchRequest",
    "arxiv_id",
    "clean_text",
    "fetch_all",
    "fetch_sources",
    "parse_feed",
    "parse_source",
    "split_authors",
    "strip_arxiv_prefix",
    "tex_to_unicode",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'digest_mailer.ingest' has no attribute {name!r}")
    value = getattr(import_module(f"digest_mailer.ingest.{_WHERE[name]}"), name)
    globals()[name] = value  # once: the next lookup is a plain attribute
    return value
