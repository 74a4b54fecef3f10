"""Ingest: fetch feed documents (I/O edge) and parse them, with the parser of
their source kind, into cleaned entries (pure core)."""

from digest_mailer.ingest.authors import split_authors
from digest_mailer.ingest.clean import arxiv_id, clean_text, strip_arxiv_prefix
from digest_mailer.ingest.fetch import FetchRequest, fetch_all, fetch_sources
from digest_mailer.ingest.parse import parse_feed
from digest_mailer.ingest.parsers import KINDS, PARSERS, parse_source
from digest_mailer.ingest.tex import tex_to_unicode

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
