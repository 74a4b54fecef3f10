"""Pure parsing: one feed document (bytes) → :class:`ParsedFeed` of cleaned entries.

Handles arXiv RSS 2.0 and Atom (rss.arxiv.org), bioRxiv RSS 1.0, Nature RSS 1.0 + PRISM and
generic RSS/Atom. Never raises for a bad document: ``ParsedFeed.error`` says what is wrong.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urlsplit

import feedparser

from digest_mailer.digest import ParsedEntry, ParsedFeed
from digest_mailer.ingest.clean import arxiv_id, clean_text, split_authors, strip_arxiv_prefix

ARXIV_FEED_ERROR = "Feed error for query"
# Nature-family RSS opens each summary with "Nature, Published online: 18 July 2024;
# doi:10.1038/…": boilerplate, not abstract.
_PUBLISHED_ONLINE_RE = re.compile(
    r"^[^;]{1,80}, Published online: [^;]{1,40};\s*(?:doi:\S+\s*)?", re.IGNORECASE
)
_DOI_RE = re.compile(r"10\.\d{4,9}/\S+")
# Encoding problems that still leave a usable document; anything else bozo with no entries is
# a broken document.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride,)


def parse_feed(body: bytes, *, source_category: str | None = None) -> ParsedFeed:
    """Parse one feed document; ``source_category`` is added to every entry's categories."""
    if not body or not body.strip():
        return ParsedFeed(title="", entries=(), error="empty document (no feed content)")
    # Our own sanitiser (nh3, in clean_text) handles markup; feedparser's would only get in
    # the way of text such as "$k<n$". bytes in, so feedparser never treats it as a URL.
    doc = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    feed: Mapping[str, Any] = doc.get("feed", {})
    title = clean_text(feed.get("title", ""))
    entries: list[Any] = list(doc.get("entries", []))

    by_key: dict[str, ParsedEntry] = {}
    for raw in entries:
        entry = _entry(raw, source_category)
        if entry is None:
            continue
        seen = by_key.get(entry.key)
        if seen is None:
            by_key[entry.key] = entry
        else:
            # The same paper twice in one feed: one entry, every category kept.
            merged = _dedupe((*seen.categories, *entry.categories))
            by_key[entry.key] = replace(seen, categories=merged)

    error = _document_error(doc, title, feed, usable=bool(by_key))
    if error:
        return ParsedFeed(title=title, entries=(), error=error)
    return ParsedFeed(title=title, entries=tuple(by_key.values()))


def _document_error(
    doc: Mapping[str, Any], title: str, feed: Mapping[str, Any], *, usable: bool
) -> str | None:
    if title.startswith(ARXIV_FEED_ERROR):
        # arXiv answers a bad category with a well-formed feed that only says so in its text.
        detail = clean_text(feed.get("description", "") or feed.get("subtitle", ""))
        return f"{title}: {detail}" if detail else title
    if usable:
        return None  # bozo or not (a stray encoding problem), usable entries are kept
    exc = doc.get("bozo_exception")
    if doc.get("bozo") and not isinstance(exc, _BENIGN_BOZO):
        return f"malformed feed document: {exc or 'unknown parse error'}"
    if not doc.get("version"):
        return "not an RSS or Atom feed"
    return None  # a well-formed feed with no items: a quiet day, not an error


def _entry(raw: Mapping[str, Any], source_category: str | None) -> ParsedEntry | None:
    title = clean_text(raw.get("title", ""))
    link = _link(raw.get("link"))
    if not title and not link:
        return None
    abstract, prefix_type = strip_arxiv_prefix(clean_text(_description(raw)))
    abstract = _PUBLISHED_ONLINE_RE.sub("", abstract, count=1)
    doi = _doi(raw)
    return ParsedEntry(
        key=_key(raw, link, doi, title),
        title=title,
        abstract=abstract,
        authors=_authors(raw),
        link=link,
        categories=_categories(raw, source_category),
        announce_type=_announce_type(raw, prefix_type),
        published=_published(raw),
        doi=doi,
    )


def _link(value: object) -> str:
    # Only absolute http(s) links are kept: a "javascript:" or "data:" link must not reach a
    # mail (render.safe_url checks again; this keeps such links out of the store too).
    link = str(value or "").strip()
    parts = urlsplit(link)
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not re.search(r"\s", link):
        return link
    return ""


def _description(raw: Mapping[str, Any]) -> str:
    summary = raw.get("summary") or ""
    if summary:
        return str(summary)
    for content in raw.get("content") or ():
        if content.get("value"):
            return str(content["value"])
    return ""


def _key(raw: Mapping[str, Any], link: str, doi: str | None, title: str) -> str:
    guid = (raw.get("id") or "").strip()
    for candidate in (guid, link):
        found = arxiv_id(candidate)
        if found:
            return found
    if doi:
        return f"doi:{doi.lower()}"
    if guid:
        return guid
    if link:
        return link
    digest = hashlib.sha256(" ".join(title.lower().split()).encode()).hexdigest()
    return f"title:{digest[:24]}"


def _doi(raw: Mapping[str, Any]) -> str | None:
    # arxiv:DOI (journal version), dc:identifier "doi:…" (bioRxiv, Nature), prism:doi (Nature).
    candidates = [raw.get("arxiv_doi"), raw.get("prism_doi")]
    identifier = str(raw.get("dc_identifier") or "")
    if identifier.lower().startswith(("doi:", "https://doi.org/", "http://dx.doi.org/")):
        candidates.insert(1, identifier)
    for value in candidates:
        match = _DOI_RE.search(str(value or ""))
        if match:
            return match.group(0).rstrip(".,;")
    return None


def _authors(raw: Mapping[str, Any]) -> tuple[str, ...]:
    # feedparser gives one {"name": …} per dc:creator/author; arXiv packs all into one.
    names = [a.get("name", "") for a in raw.get("authors") or () if isinstance(a, Mapping)]
    names = [n for n in names if n]
    if not names and raw.get("author"):
        names = [raw["author"]]
    return split_authors(names)


def _categories(raw: Mapping[str, Any], source_category: str | None) -> tuple[str, ...]:
    terms = [clean_text(t.get("term") or t.get("label") or "") for t in raw.get("tags") or ()]
    if source_category:
        terms.append(source_category)
    return _dedupe(t for t in terms if t)


def _dedupe(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _announce_type(raw: Mapping[str, Any], prefix_type: str | None) -> str:
    # Kept as given, even if unknown: silently calling it "new" would hide a format change.
    return str(raw.get("arxiv_announce_type") or prefix_type or "new").strip().lower() or "new"


def _published(raw: Mapping[str, Any]) -> datetime | None:
    # feedparser normalises every date it understands to a UTC struct_time.
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(name)
        if isinstance(value, struct_time):
            return datetime(*value[:6], tzinfo=UTC)
    return None
