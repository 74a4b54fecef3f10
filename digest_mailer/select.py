"""Which papers go into one subscriber's digest: a pure function of profile and entries.

Rules, in order:
1. Updates (arXiv ``replace``/``replace-cross``) are left out unless asked for.
2. An excluded keyword in the title or abstract removes the paper — exclusions win.
3. A paper is kept when it carries one of the subscriber's categories, or (keywords
   widen the net) when a keyword matches it in any category.
4. Ranking inside a category: keyword hits (a title hit counts double) plus the reader's
   taste (title words of papers they voted "more like this" count up, "less like this"
   down, at most ±1 in all), then papers announced as new before cross-lists, then feed
   order.
5. A cross-listed paper is shown once, under the first of the subscriber's categories it
   carries; keyword-only papers are grouped under their primary category, after the
   subscriber's own.
6. Caps: at most ``max_per_category`` per group, at most ``max_papers`` in all, filled
   round-robin by rank so that no category starves another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol


class Candidate(Protocol):
    key: str
    title: str
    abstract: str
    categories: list[str]
    announce_type: str


@dataclass(frozen=True)
class Profile:
    categories: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    taste: tuple[tuple[str, float], ...] = ()  # (title word, weight) from the reader's votes


WORD = re.compile(r"[a-z][a-z0-9\-]{3,}")
# Words too common in paper titles to say anything about a reader's taste.
TITLE_STOPWORDS = frozenset("""
    with from into over under towards toward using based their this that these those via
    learning model models method methods approach framework analysis study data network
    networks towards novel efficient robust large scale multi task tasks deep neural
    """.split())


def title_words(title: str) -> set[str]:
    return {w.rstrip("s") for w in WORD.findall(title.lower()) if w not in TITLE_STOPWORDS}


def taste_from_votes(votes: Sequence[tuple[str, str]]) -> tuple[tuple[str, float], ...]:
    """Word weights from (title, "more"|"less") votes: a word's net votes over all votes."""
    weights: dict[str, float] = {}
    for title, vote in votes:
        sign = 1.0 if vote == "more" else -1.0
        for word in title_words(title):
            weights[word] = weights.get(word, 0.0) + sign
    total = max(len(votes), 1)
    return tuple(sorted((w, v / total) for w, v in weights.items() if v))


def taste_score(taste: dict[str, float], title: str) -> float:
    if not taste:
        return 0.0
    score = sum(taste.get(w, 0.0) for w in title_words(title))
    return max(-1.0, min(1.0, score))


@dataclass(frozen=True)
class Selection:
    """Chosen papers, grouped by category in the subscriber's order, ranked inside."""

    groups: tuple[tuple[str, tuple[Candidate, ...]], ...]

    @property
    def keys(self) -> list[str]:
        return [c.key for _, papers in self.groups for c in papers]

    def __len__(self) -> int:
        return sum(len(papers) for _, papers in self.groups)


@lru_cache(maxsize=4096)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match of a phrase, plural allowed on its last word.

    "graph neural network" matches "Graph Neural-Networks"; "GAN" matches "GANs" but
    never "organ".
    """
    words = [re.escape(w) for w in phrase.split()]
    body = r"[\s\-]+".join(words)
    return re.compile(r"(?<!\w)" + body + r"(?:e?s)?(?!\w)", re.IGNORECASE)


def keyword_hits(keywords: Sequence[str], title: str, abstract: str) -> int:
    score = 0
    for keyword in keywords:
        pattern = phrase_pattern(keyword)
        if pattern.search(title):
            score += 2
        elif pattern.search(abstract):
            score += 1
    return score


def _category_key(category: str) -> str:
    return category.casefold()


def select_papers(profile: Profile, entries: Sequence[Candidate], *, max_per_category: int,
                  max_papers: int, include_updates: bool = False) -> Selection:
    """Choose, group and rank the papers of one digest (see the module docstring)."""
    wanted = {_category_key(c): i for i, c in enumerate(profile.categories)}
    taste = dict(profile.taste)
    ranked: dict[str, list[tuple[tuple[float, int, int], Candidate]]] = {}
    order: dict[str, int] = {}
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        if entry.key in seen:
            continue
        if not include_updates and entry.announce_type in ("replace", "replace-cross"):
            continue
        text_hits = (entry.title, entry.abstract)
        if profile.excluded and keyword_hits(profile.excluded, *text_hits):
            continue
        hits = keyword_hits(profile.keywords, *text_hits) if profile.keywords else 0
        group = _group_of(profile, wanted, entry)
        if group is None or (group not in profile.categories and not hits):
            continue
        seen.add(entry.key)
        order.setdefault(group, wanted.get(_category_key(group), len(wanted) + len(order)))
        relevance = hits + taste_score(taste, entry.title)
        rank = (-relevance, 0 if entry.announce_type == "new" else 1, position)
        ranked.setdefault(group, []).append((rank, entry))

    queues = {g: [e for _, e in sorted(items, key=lambda item: item[0])][:max_per_category]
              for g, items in ranked.items()}
    chosen: dict[str, list[Candidate]] = {g: [] for g in queues}
    total, depth = 0, 0
    groups_in_order = sorted(queues, key=lambda g: order[g])
    while total < max_papers and any(depth < len(q) for q in queues.values()):
        for group in groups_in_order:
            if total >= max_papers:
                break
            if depth < len(queues[group]):
                chosen[group].append(queues[group][depth])
                total += 1
        depth += 1
    return Selection(tuple((g, tuple(chosen[g])) for g in groups_in_order if chosen[g]))


def _group_of(profile: Profile, wanted: dict[str, int], entry: Candidate) -> str | None:
    """The first of the reader's categories the paper carries, else its primary one."""
    mine = [wanted[_category_key(c)] for c in entry.categories if _category_key(c) in wanted]
    if mine:
        return profile.categories[min(mine)]
    return entry.categories[0] if entry.categories else None


def regroup(profile: Profile, entries: Sequence[Candidate]) -> Selection:
    """Group already-chosen papers in their given order (a retry shows the same email)."""
    wanted = {_category_key(c): i for i, c in enumerate(profile.categories)}
    groups: dict[str, list[Candidate]] = {}
    for entry in entries:
        groups.setdefault(_group_of(profile, wanted, entry) or "other", []).append(entry)
    order = sorted(groups, key=lambda g: (wanted.get(_category_key(g), len(wanted)),
                                          list(groups).index(g)))
    return Selection(tuple((g, tuple(groups[g])) for g in order))
