"""Turn stored rows into the pure Digest object the renderer and briefer read."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, cast

from digest_mailer.domain.digest import (
    Briefing,
    CategoryGroup,
    Cut,
    Digest,
    Links,
    Paper,
    Recipient,
)
from digest_mailer.domain.grouping import Selection
from digest_mailer.domain.schedule import DAILY, WEEKLY
from digest_mailer.domain.select import Profile
from digest_mailer.domain.taste import taste_from_votes
from digest_mailer.i18n import category_in_text, category_label, digest_texts

if TYPE_CHECKING:  # the rows are read by attribute only: the domain needs no database
    from digest_mailer.db.models import Entry, Subscriber


def profile_of(subscriber: Subscriber, votes: Sequence[tuple[str, str]] = ()) -> Profile:
    """The selection profile; ``votes`` are (title, "more"|"less") pairs."""
    return Profile(tuple(subscriber.categories), tuple(subscriber.keywords),
                   tuple(subscriber.excluded_keywords), taste_from_votes(votes))


def recipient_of(subscriber: Subscriber) -> Recipient:
    return Recipient(email=subscriber.email, name=subscriber.name,
                     language=subscriber.language, categories=tuple(subscriber.categories),
                     keywords=tuple(subscriber.keywords))


# The footer names this many categories and keywords (each cut), then "…": a row stored
# before the input caps may hold thousands.
REASON_ITEMS = 12
REASON_ITEM_CHARS = 60


def _listed(items: Sequence[str], sep: str, quote: bool = False) -> str:
    shown = [i if len(i) <= REASON_ITEM_CHARS else i[: REASON_ITEM_CHARS - 1] + "…"
             for i in items[:REASON_ITEMS]]
    shown = [f"“{i}”" for i in shown] if quote else shown
    return sep.join(shown) + (f"{sep}…" if len(items) > REASON_ITEMS else "")


def reason_for(subscriber: Subscriber, cadence: str = DAILY) -> str:
    """The footer's answer to "why do I get this?"."""
    lang = subscriber.language
    t = digest_texts(lang, cadence)
    fields = _listed([category_in_text(c, lang) for c in subscriber.categories],
                     t["lang.list_sep"])
    words = _listed(subscriber.keywords, t["lang.list_sep"], quote=True)
    text = t["email.reason"].format(email=subscriber.email)
    if fields:
        text += t["email.reason_categories"].format(categories=fields)
    if words:
        key = "email.reason_keywords_also" if fields else "email.reason_keywords"
        text += t[key].format(keywords=words)
    return text + t["email.reason_end"]


def badge(source_label: str, category: str) -> str:
    """'arXiv (cs.CV)': the source's family with the category the paper is shown under."""
    family = source_label.split(" (", 1)[0] or source_label
    return f"{family} ({category})"


REASON_KINDS = frozenset({"keyword", "library", "more", "explore"})


def reasons_of(notes: Mapping[str, Any] | None) -> dict[str, tuple[str, str]]:
    """Each paper's stored reason (kind, label) from a Delivery's notes; a note of another
    shape (a row written by a later version, a hand edit) is left out, not guessed."""
    papers = notes.get("papers") if isinstance(notes, Mapping) else None
    if not isinstance(papers, Mapping):
        return {}
    found: dict[str, tuple[str, str]] = {}
    for key, note in papers.items():
        why = note.get("why") if isinstance(note, Mapping) else None
        if (isinstance(why, list | tuple) and len(why) == 2 and why[0] in REASON_KINDS
                and isinstance(why[1], str)):
            found[str(key)] = (why[0], why[1])
    return found


def cuts_of(notes: Mapping[str, Any] | None) -> tuple[Cut, ...]:
    """What the caps left out per group, from a Delivery's notes, in the digest's order."""
    more = notes.get("more") if isinstance(notes, Mapping) else None
    if not isinstance(more, list):
        return ()
    return tuple(Cut(group, n) for group, n in
                 (item for item in more if isinstance(item, list | tuple) and len(item) == 2)
                 if isinstance(group, str) and isinstance(n, int) and n > 0)


def cadence_of(notes: Mapping[str, Any] | None) -> str:
    """"weekly" for a weekly digest's notes, else "daily" (and for rows older than both)."""
    return WEEKLY if isinstance(notes, Mapping) and notes.get("cadence") == WEEKLY else DAILY


def groups_of(selection: Selection, labels: dict[int, tuple[str, str]],
              feedback_url: Callable[[str, str], str],
              notes: Mapping[str, Any] | None = None) -> tuple[CategoryGroup, ...]:
    """Number the selected papers in reading order and attach their per-paper links, and
    the reasons and cuts ``notes`` (the Delivery's, as stored) give."""
    groups: list[CategoryGroup] = []
    number = 0
    configured = {c.casefold(): c for _, c in labels.values()}
    reasons = reasons_of(notes)
    cuts = {c.category: c.n for c in cuts_of(notes)}
    for category, entries in selection.groups:
        papers: list[Paper] = []
        for item in entries:
            entry = cast("Entry", item)
            number += 1
            source_label = labels.get(entry.source_id, (category, category))[0]
            papers.append(Paper(
                number=number, key=entry.key, title=entry.title, abstract=entry.abstract,
                authors=tuple(entry.authors), link=entry.link,
                badge=badge(source_label, category), category=category,
                categories=tuple(entry.categories),
                published=entry.published.date() if entry.published else None,
                feedback_more_url=feedback_url(entry.key, "more"),
                feedback_less_url=feedback_url(entry.key, "less"),
                reason=reasons.get(entry.key), doi=entry.doi,
            ))
        groups.append(CategoryGroup(category, category_label(category), tuple(papers),
                                    _subject_name(category, entries, labels, configured),
                                    more=cuts.get(category, 0)))
    return tuple(groups)


def _subject_name(category: str, entries: Sequence[object], labels: dict[int, tuple[str, str]],
                  configured: dict[str, str]) -> str:
    """A source's configured category for the Subject: the group's own when a source has
    it, else the category of the source its first paper came from ("" if none).

    The reader's own categories are sources' categories too (that is how they chose them);
    a keyword-only group is named after whatever its entry's feed wrote, which is free text.
    """
    if category.casefold() in configured:
        return configured[category.casefold()]
    for item in entries:
        entry = cast("Entry", item)
        if entry.source_id in labels:
            return labels[entry.source_id][1]
    return ""


def build_digest(subscriber: Subscriber, digest_date: date, groups: Sequence[CategoryGroup],
                 briefing: Briefing, links: Links, cuts: Sequence[Cut] = (),
                 cadence: str = DAILY) -> Digest:
    # Headings in the reader's language; groups_of names them in English because the
    # same groups feed the briefing of every reader.
    lang = subscriber.language
    groups = [replace(g, label=category_label(g.category, lang)) for g in groups]
    return Digest(recipient=recipient_of(subscriber), digest_date=digest_date,
                  groups=tuple(groups), briefing=briefing, links=links,
                  reason=reason_for(subscriber, cadence), cuts=tuple(cuts), cadence=cadence)


def with_tldrs(groups: Sequence[CategoryGroup], tldrs: Mapping[str, str]
               ) -> tuple[CategoryGroup, ...]:
    """The groups with the TL;DRs ``tldrs`` has (by entry key) on their papers' cards."""
    return tuple(replace(g, papers=tuple(replace(p, tldr=tldrs.get(p.key) or p.tldr)
                                         for p in g.papers)) for g in groups)
