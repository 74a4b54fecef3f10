"""A digest as data: its papers in reading order with score and reason, and what was cut.

What ``preview --json`` and ``send --dry-run --json`` print. Built from a Delivery (stored
or drafted) and its entries; reads nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from digest_mailer.domain.compose import profile_of
from digest_mailer.domain.grouping import regroup

if TYPE_CHECKING:
    from digest_mailer.db.models import Delivery, Entry, Subscriber


@dataclass(frozen=True)
class ListedPaper:
    """One paper of a digest: where it is shown (its category group) and why."""

    key: str
    title: str
    link: str
    category: str
    score: float | None         # the reader model's, in window units; None without a model
    reason: tuple[str, str] | None  # (kind, label): keyword / library / more / explore

    def as_json(self) -> dict[str, Any]:
        reason = None if self.reason is None else {"kind": self.reason[0],
                                                   "label": self.reason[1]}
        return {"key": self.key, "title": self.title, "link": self.link,
                "category": self.category, "score": self.score, "reason": reason}


@dataclass(frozen=True)
class DigestListing:
    """One reader's digest of one day, as the email would show it."""

    email: str
    digest_date: date
    papers: tuple[ListedPaper, ...]
    more: tuple[tuple[str, int], ...]  # (category, papers the caps left out)
    retry: bool = False  # a digest already written and not sent yet: it is sent as stored
    # "llm" or "extractive": the one it was sent with, else the one it is to get (an LLM
    # briefing may still fall back to the extractive one); None: none yet, or no papers.
    briefing: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "digest_date": self.digest_date.isoformat(),
                "retry": self.retry, "briefing": self.briefing,
                "papers": [p.as_json() for p in self.papers],
                "more": [{"category": g, "count": n} for g, n in self.more]}


def listing_of(subscriber: Subscriber, delivery: Delivery, entries: Sequence[Entry], *,
               retry: bool = False, briefing: str | None = None) -> DigestListing:
    """The listing of a Delivery whose ``entries`` are its papers (any order); the reading
    order is the email's: the stored order, grouped as the email groups it. ``briefing``:
    the kind it is to get, unless it has one already."""
    notes = delivery.notes or {}
    noted: dict[str, Any] = notes.get("papers") or {}
    by_key = {e.key: e for e in entries}
    shown = [by_key[k] for k in delivery.entry_keys if k in by_key]
    papers = []
    for group, candidates in regroup(profile_of(subscriber), shown).groups:
        for entry in candidates:
            said = noted.get(entry.key) or {}
            why = said.get("why")
            papers.append(ListedPaper(
                key=entry.key, title=entry.title, link=entry.link, category=group,
                score=said.get("score"),
                reason=(str(why[0]), str(why[1])) if why else None))
    more = tuple((str(g), int(n)) for g, n in notes.get("more") or ())
    return DigestListing(subscriber.email, delivery.digest_date, tuple(papers), more, retry,
                         delivery.briefing_kind or (briefing if papers else None))
