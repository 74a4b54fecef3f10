"""The domain objects that flow through the morning job: ingest → select → brief → render → deliver.

Plain frozen dataclasses, no I/O: every stage is a function of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import quote

UPDATE_TYPES = ("replace", "replace-cross")
# An arXiv id as the key holds it (no version): new style, or old style "math.PR/0601001".
_ARXIV_ID = re.compile(r"\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}")
_DOI = re.compile(r"10\.\d{4,9}/[^\s\x00-\x1f<>\"]{1,200}")


def is_update(announce_type: str) -> bool:
    """arXiv replacements are revisions of papers already announced."""
    return announce_type in UPDATE_TYPES


@dataclass(frozen=True)
class ParsedEntry:
    """One paper as read from one feed, already cleaned (plain text, no feed prefixes)."""

    key: str  # stable identity: arXiv id without version, else "doi:…", else guid/link
    title: str
    abstract: str
    authors: tuple[str, ...]
    link: str
    categories: tuple[str, ...]  # every category the feed gives, e.g. ("cs.LG", "cs.AI")
    announce_type: str = "new"  # arXiv: new | cross | replace | replace-cross; others: "new"
    published: datetime | None = None
    doi: str | None = None

    @property
    def is_update(self) -> bool:
        return is_update(self.announce_type)


@dataclass(frozen=True)
class ParsedFeed:
    """What one feed document holds. ``error`` is set when the document is unusable."""

    title: str
    entries: tuple[ParsedEntry, ...]
    error: str | None = None
    kind: str = ""  # what the document turned out to be ("rss", "atom"); "" when unknown


@dataclass(frozen=True)
class Paper:
    """One paper as shown in a digest, numbered in reading order (1-based)."""

    number: int
    key: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    link: str
    badge: str  # e.g. "arXiv (cs.CV)", "bioRxiv (bioinformatics)"
    category: str  # the category it is grouped under in this digest
    categories: tuple[str, ...]
    published: date | None = None
    feedback_more_url: str = ""
    feedback_less_url: str = ""
    # Why it is there, as the send path noted it: (kind, label) with kind "keyword" (the
    # keyword), "library" (a seed's title), "more" (a voted paper's title) or "explore"
    # (""); None when nothing was noted (older digests, readers who told us nothing).
    reason: tuple[str, str] | None = None
    # One line on what the paper contributes, made once per paper (the LLM's, or its
    # contribution sentence cut at a clause); "" when none was made.
    tldr: str = ""
    doi: str | None = None

    @property
    def arxiv_id(self) -> str:
        """The arXiv id when the paper is an arXiv one, else ""."""
        return self.key if _ARXIV_ID.fullmatch(self.key) else ""

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}" if self.arxiv_id else ""

    @property
    def doi_url(self) -> str:
        """https://doi.org/… for a well-formed DOI, percent-encoded; "" otherwise."""
        if not self.doi or not _DOI.fullmatch(self.doi):
            return ""
        return "https://doi.org/" + quote(self.doi, safe="/.:;()_-")

    @property
    def cross_listed_from(self) -> str:
        """The primary category of a paper shown under another one, else ""."""
        primary = self.categories[0] if self.categories else ""
        return primary if primary and primary != self.category else ""


@dataclass(frozen=True)
class CategoryGroup:
    category: str
    label: str  # human label, e.g. "Computer Vision (cs.CV)"
    papers: tuple[Paper, ...]
    # The configured category (a source's or the reader's) the Subject names the group by;
    # None → ``category``. A keyword-only group sits under an entry's own, feed-written
    # category, which must not reach the Subject; "" → the Subject does not name it.
    subject_name: str | None = None
    more: int = 0  # the group's papers the caps left out of this digest


@dataclass(frozen=True)
class Cut:
    """Papers the caps left out of one group: "12 more in cs.LG today"."""

    category: str
    n: int


@dataclass(frozen=True)
class Briefing:
    """The paragraph on top of a digest. ``kind`` is "llm" or "extractive"."""

    text: str
    kind: str
    model: str | None = None
    headline: str = ""  # the first theme's name, for the preheader; "" when there is none


@dataclass(frozen=True)
class Links:
    unsubscribe: str
    unsubscribe_mailto: str
    preferences: str
    view_online: str
    full_list: str = ""  # the reader's full ranked list of the digest's day, in the browser


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    language: str = "en"  # "en" | "zh"
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Digest:
    """Everything one email says, before it is rendered."""

    recipient: Recipient
    digest_date: date
    groups: tuple[CategoryGroup, ...]
    briefing: Briefing
    links: Links
    reason: str = ""  # why the reader gets this mail, shown in the footer
    cuts: tuple[Cut, ...] = ()  # every group the caps cut, shown or not, in digest order
    cadence: str = "daily"  # "weekly": the subject and the text say it is the week's digest

    @property
    def papers(self) -> tuple[Paper, ...]:
        return tuple(p for g in self.groups for p in g.papers)

    @property
    def cut_entirely(self) -> tuple[Cut, ...]:
        """The cut groups with no paper in the email: the line at its end names them."""
        shown = {g.category for g in self.groups if g.papers}
        return tuple(c for c in self.cuts if c.category not in shown)


@dataclass(frozen=True)
class DayList:
    """A reader's full ranked list of one digest's window: every paper, ranked as the send
    path ranks them, each with its reason; ``sent`` holds the keys the email carried."""

    language: str
    digest_date: date
    groups: tuple[CategoryGroup, ...]
    sent: frozenset[str]
    view_online: str = ""
    cadence: str = "daily"  # "weekly": the page says it is the week's list

    @property
    def papers(self) -> tuple[Paper, ...]:
        return tuple(p for g in self.groups for p in g.papers)


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    preheader: str
    html: str
    text: str


@dataclass
class FetchOutcome:
    """The result of fetching one source: a new document, not modified, or an error."""

    url: str
    status: int | None = None
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None
    elapsed: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)
