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

from digest_mailer.domain.digest import ParsedEntry, ParsedFeed
from digest_mailer.ingest.arxiv import is_arxiv_category, read_old_title
from digest_mailer.ingest.authors import split_authors
from digest_mailer.ingest.clean import arxiv_id, clean_text, strip_arxiv_prefix
from digest_mailer.ingest.tex import tex_to_unicode

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
# Caps at ingest: a hostile or broken feed must not put a 100,000-character title in the
# store and the mail. Real arXiv titles stay under 300 characters, abstracts under 1,920,
# names under 60; the largest collaborations list thousands of authors, of whom a card
# shows three.
MAX_TITLE = 500
MAX_ABSTRACT = 5_000
MAX_AUTHORS = 200
MAX_NAME = 100
MAX_LINK = 2_048  # longer is no link a reader can use
MAX_KEY = 255  # a longer guid is hashed: PostgreSQL cannot index a huge unique key
ELLIPSIS = "…"
_TRAILING_PUNCT = ".,;:!?…"


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
    channel_date = _published(feed)  # RSS 1.0 dc:date: the date of items without their own

    by_key: dict[str, ParsedEntry] = {}
    for raw in entries:
        entry = _entry(raw, source_category, channel_date)
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
    kind = _kind(str(doc.get("version") or ""))
    if error:
        return ParsedFeed(title=title, entries=(), error=error, kind=kind)
    return ParsedFeed(title=title, entries=tuple(by_key.values()), kind=kind)


def _kind(version: str) -> str:
    """The source kind of feedparser's ``version`` ("rss20", "rss10", "atom10", …)."""
    return next((k for k in ("rss", "atom") if version.startswith(k)), "")


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


def _entry(raw: Mapping[str, Any], source_category: str | None,
           channel_date: datetime | None) -> ParsedEntry | None:
    title = tex_to_unicode(clean_text(raw.get("title", "")))
    link = _link(raw.get("link"))
    if not title and not link:
        return None
    old = read_old_title(title)
    if old is not None:
        title = old.title
    abstract, prefix_type = strip_arxiv_prefix(clean_text(_description(raw)))
    abstract = tex_to_unicode(_PUBLISHED_ONLINE_RE.sub("", abstract, count=1))
    if _same_text(abstract, title):
        abstract = ""  # a journal feed repeating the title is no abstract
    doi = _doi(raw)
    key, from_arxiv = _key(raw, link, doi, title, old.arxiv_id if old else None)
    primary = (old.category,) if old else ()
    return ParsedEntry(
        key=key,
        title=_cap(title, MAX_TITLE),
        abstract=_cap(abstract, MAX_ABSTRACT),
        authors=tuple(_cap(n, MAX_NAME) for n in _authors(raw)[:MAX_AUTHORS]),
        link=link,
        categories=_categories(raw, source_category, from_arxiv, primary),
        announce_type=old.announce_type if old else _announce_type(raw, prefix_type),
        published=_published(raw) or channel_date,
        doi=doi,
    )


def _cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def _same_text(abstract: str, title: str) -> bool:
    """Equal once case, spacing and trailing punctuation are set aside (both are plain text)."""
    def norm(text: str) -> str:
        return " ".join(text.casefold().split()).rstrip(_TRAILING_PUNCT + " ")
    return bool(abstract) and norm(abstract) == norm(title)


def _link(value: object) -> str:
    # Only absolute http(s) links are kept: a "javascript:" or "data:" link must not reach a
    # mail (render.safe_url checks again; this keeps such links out of the store too).
    link = str(value or "").strip()
    if len(link) > MAX_LINK:
        return ""
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


def _key(raw: Mapping[str, Any], link: str, doi: str | None, title: str,
         title_id: str | None) -> tuple[str, bool]:
    """The entry's identity, and whether it is an arXiv id (so an arXiv paper)."""
    guid = (raw.get("id") or "").strip()
    for candidate in (guid, link):
        found = arxiv_id(candidate)
        if found:
            return found, True
    if title_id:
        return title_id, True
    if doi:
        return _bounded(f"doi:{doi.lower()}"), False
    for candidate in (guid, link):
        if candidate:
            return _bounded(candidate), False
    digest = hashlib.sha256(" ".join(title.lower().split()).encode()).hexdigest()
    return f"title:{digest[:24]}", False


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


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


def _categories(raw: Mapping[str, Any], source_category: str | None, from_arxiv: bool,
                primary: tuple[str, ...]) -> tuple[str, ...]:
    """An arXiv paper's arXiv categories (primary first), then the source's category.

    A feed's free-form tags (MSC codes, "News", "Genomics") are not categories a reader can
    choose: a non-arXiv entry carries only the category its source is configured with.
    """
    terms: list[str] = []
    if from_arxiv:
        tags = [clean_text(t.get("term") or t.get("label") or "") for t in raw.get("tags") or ()]
        terms = [t for t in (*primary, *tags) if is_arxiv_category(t)]
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
