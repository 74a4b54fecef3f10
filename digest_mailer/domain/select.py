"""Which papers go into one subscriber's digest: a pure function of profile and entries.

Rules, in order:
1. Updates (arXiv ``replace``/``replace-cross``) are left out unless asked for.
2. An excluded keyword in the title or abstract removes the paper — exclusions win.
3. A paper is kept when it carries one of the subscriber's categories, or (keywords
   widen the net) when a keyword matches it in any category.
4. Ranking inside a category: keyword hits (a title hit counts double) first, then the
   reader's model score (domain/ranking.py) when they have one, else their taste (title
   words of papers they voted on, at most ±1 in all); then papers announced as new before
   cross-lists, then feed order.
5. A cross-listed paper is shown once, under the first of the subscriber's categories it
   carries; keyword-only papers are grouped under their primary category, after the
   subscriber's own.
6. Caps: at most ``max_per_category`` per group, at most ``max_papers`` in all, filled
   round-robin by rank so that no category starves another. What the caps leave out is
   counted per group ("N more in cs.LG today"), never cut silently.
7. Exploration: a reader with a model gets up to ``explore`` of the left-out papers the
   model is least sure about (score nearest 0), in place of the last ranked ones, so their
   votes teach the model most.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from digest_mailer.domain.grouping import Selection, category_key, fill, more_left
from digest_mailer.domain.taste import taste_score
from digest_mailer.domain.taste import title_words as title_words


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


# A keyword hit outranks the model: one hit is worth this many window units of score
# (a unit is one standard deviation of a day's scores), so the reader's words come first.
KEYWORD_HIT_WEIGHT = 10.0

@lru_cache(maxsize=4096)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Case-insensitive whole-word match of a phrase, plural allowed on its last word.

    "graph neural network" matches "Graph Neural-Networks"; "GAN" matches "GANs" but
    never "organ".
    """
    words = [re.escape(w) for w in phrase.split()]
    body = r"[\s\-]+".join(words)
    return re.compile(r"(?<!\w)" + body + r"(?:e?s)?(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class _Arrays:
    """What model ranking reads of the index, as arrays (numpy, typed loosely to keep the
    import lazy): positions per category, 1 for a cross-list, first-seen timestamps."""

    by_category: dict[str, Any]
    is_new: Any
    seen: Any
    none: Any


class SelectionIndex:
    """One run's entries, indexed once by category and keyword, shared by every subscriber.

    A subscriber's selection then looks only at the papers in their categories and those
    their keywords match, instead of scanning the whole day (the benchmark's hot path).
    """

    def __init__(self, entries: Sequence[Candidate], *, include_updates: bool = False) -> None:
        seen: set[str] = set()
        self.entries: list[Candidate] = []
        for entry in entries:
            if entry.key in seen:
                continue
            seen.add(entry.key)
            if include_updates or entry.announce_type not in ("replace", "replace-cross"):
                self.entries.append(entry)
        self.by_key = {e.key: e for e in self.entries}
        self._position = {e.key: n for n, e in enumerate(self.entries)}
        self.by_category: dict[str, list[int]] = {}
        # Plain copies of what ranking reads: ORM attribute access costs ~1 µs each, and a
        # subscriber's selection reads a thousand candidates.
        self._categories: list[tuple[str, ...]] = []
        self._is_new: list[int] = []
        self._seen: list[datetime | None] = []
        self._titles: list[str] = []
        for position, entry in enumerate(self.entries):
            folded = tuple(dict.fromkeys(category_key(c) for c in entry.categories))
            for category in folded:
                self.by_category.setdefault(category, []).append(position)
            self._categories.append(folded)
            self._is_new.append(0 if entry.announce_type == "new" else 1)
            self._seen.append(getattr(entry, "first_seen", None))
            self._titles.append(entry.title)
        # Lower-cased text for a cheap substring test before the word-boundary regex.
        self._lower = [(e.title.lower(), e.abstract.lower()) for e in self.entries]
        self._hits: dict[str, dict[int, int]] = {}
        # Each category's papers in the order that ranks them without keyword hits.
        self._feed_order = {c: sorted(positions, key=lambda p: (self._is_new[p], p))
                            for c, positions in self.by_category.items()}
        self._as_arrays: _Arrays | None = None

    def _arrays(self) -> _Arrays:
        """The index as numpy arrays, built on the first reader with a model."""
        if self._as_arrays is None:
            import numpy as np

            self._as_arrays = _Arrays(
                by_category={c: np.array(p, dtype=np.int64) for c, p in self.by_category.items()},
                is_new=np.array(self._is_new, dtype=np.int64),
                seen=np.array([s.timestamp() if s is not None else np.inf for s in self._seen],
                              dtype=np.float64),
                none=np.zeros(0, dtype=np.int64))
        return self._as_arrays

    def position(self, key: str) -> int:
        """Where an indexed entry stands: its row in index order (the scores' order)."""
        return self._position[key]

    def hits(self, keyword: str) -> dict[int, int]:
        """Positions the keyword matches: 2 for a title hit, 1 for an abstract hit."""
        found = self._hits.get(keyword)
        if found is None:
            pattern = phrase_pattern(keyword)
            first_word = keyword.split()[0].lower() if keyword.split() else ""
            found = {}
            for position, (title, abstract) in enumerate(self._lower):
                if first_word in title and pattern.search(title):
                    found[position] = 2
                elif first_word in abstract and pattern.search(abstract):
                    found[position] = 1
            self._hits[keyword] = found
        return found

    def select(self, profile: Profile, *, max_per_category: int, max_papers: int,
               since: datetime | None = None, scores: Sequence[float] | None = None,
               explore: int = 0) -> Selection:
        """Choose, group and rank one digest (see the module docstring).

        ``since`` limits the day to this subscriber's window: entries first seen after
        their previous digest. ``scores`` is the reader model's score of each indexed
        entry, in index order. Without a model or votes, ranking is keyword hits then feed
        order, so each group reads its hits and then the category's papers in order until
        it is full, instead of ranking every candidate (the benchmark's hot path);
        otherwise every candidate is scored.
        """
        if scores is not None:
            return self._select_by_model(profile, max_per_category, max_papers, since,
                                         scores, explore)
        if profile.taste:
            return self._select_scored(profile, max_per_category, max_papers, since)
        wanted = {category_key(c): i for i, c in enumerate(profile.categories)}
        excluded: set[int] = set()
        for keyword in profile.excluded:
            excluded.update(self.hits(keyword))
        hits: dict[int, int] = {}
        for keyword in profile.keywords:
            for position, count in self.hits(keyword).items():
                hits[position] = hits.get(position, 0) + count
        seen, is_new = self._seen, self._is_new

        def wanted_here(position: int) -> bool:
            if position in excluded:
                return False
            first_seen = seen[position]
            return since is None or first_seen is None or first_seen > since

        limit = min(max_per_category, max_papers)  # _fill never takes more from a group
        ranked: dict[str, list[tuple[tuple[float, int, int], Candidate]]] = {}
        eligible: dict[str, int] = {}
        first_at: dict[str, int] = {}  # keyword-only groups follow in order of first paper
        for position in sorted(hits):
            if not wanted_here(position):
                continue
            group = self._group(position, wanted, profile)
            if group is None:
                continue
            if category_key(group) not in wanted:
                first_at.setdefault(group, position)
            rank = (-hits[position], is_new[position], position)
            ranked.setdefault(group, []).append((rank, self.entries[position]))
            eligible[group] = eligible.get(group, 0) + 1
        for category, index in wanted.items():
            group = profile.categories[index]
            chosen = ranked.setdefault(group, [])
            chosen.sort(key=lambda item: item[0])
            del chosen[limit:]
            for position in self._feed_order.get(category, ()):
                if position in hits or not wanted_here(position):
                    continue
                if len(wanted) > 1 and self._group(position, wanted, profile) != group:
                    continue  # shown under an earlier category of the reader's
                eligible[group] = eligible.get(group, 0) + 1  # counted, to say what was cut
                if len(chosen) < limit:
                    chosen.append(((0, is_new[position], position), self.entries[position]))
        order = {g: wanted[category_key(g)] for g in ranked if g not in first_at}
        for n, group in enumerate(sorted(first_at, key=first_at.__getitem__)):
            order[group] = len(wanted) + n
        return fill({g: items for g, items in ranked.items() if items}, order,
                     max_per_category, max_papers, eligible)

    def _group(self, position: int, wanted: dict[str, int], profile: Profile) -> str | None:
        """The first of the reader's categories the paper carries, else its primary one."""
        mine = [wanted[c] for c in self._categories[position] if c in wanted]
        if mine:
            return profile.categories[min(mine)]
        return self.entries[position].categories[0] if self._categories[position] else None

    def _select_scored(self, profile: Profile, max_per_category: int, max_papers: int,
                       since: datetime | None, scores: Sequence[float] | None = None,
                       explore: int = 0) -> Selection:
        """Select by scoring every candidate: keyword hits, then the model or the taste."""
        wanted = {category_key(c): i for i, c in enumerate(profile.categories)}
        taste = dict(profile.taste) if scores is None else {}
        keyword_hits = [self.hits(k) for k in profile.keywords]
        excluded: set[int] = set()
        for keyword in profile.excluded:
            excluded.update(self.hits(keyword))
        candidates: set[int] = set()
        for category in wanted:
            candidates.update(self.by_category.get(category, ()))
        for found in keyword_hits:
            candidates.update(found)
        ranked: dict[str, list[tuple[tuple[float, int, int], Candidate]]] = {}
        order: dict[str, int] = {}
        seen = self._seen
        for position in sorted(candidates - excluded):
            if since is not None:
                first_seen = seen[position]
                if first_seen is not None and first_seen <= since:
                    continue
            hits = sum(found.get(position, 0) for found in keyword_hits)
            mine = [wanted[c] for c in self._categories[position] if c in wanted]
            if mine:
                group = profile.categories[min(mine)]
            elif hits and self._categories[position]:
                group = self.entries[position].categories[0]
            else:
                continue
            order.setdefault(group, wanted.get(category_key(group), len(wanted) + len(order)))
            if scores is not None:
                relevance = KEYWORD_HIT_WEIGHT * hits + float(scores[position])
            else:
                relevance = hits + (taste_score(taste, self._titles[position]) if taste else 0.0)
            rank = (-relevance, self._is_new[position], position)
            ranked.setdefault(group, []).append((rank, self.entries[position]))
        eligible = {g: len(items) for g, items in ranked.items()}
        if scores is None:
            return fill(ranked, order, max_per_category, max_papers, eligible)
        # The reference for _select_by_model (the property test compares the two).
        return self._with_exploration(ranked, order, eligible, max_per_category, max_papers,
                                      scores, explore)

    def _select_by_model(self, profile: Profile, max_per_category: int, max_papers: int,
                         since: datetime | None, scores: Sequence[float],
                         explore: int) -> Selection:
        """_select_scored with the model's scores, in array operations: the send path's
        hot loop for every reader with a model (~1,000 candidates each)."""
        import numpy as np  # here: a reader without a model never pays for numpy

        arrays = self._arrays()
        wanted = {category_key(c): i for i, c in enumerate(profile.categories)}
        group_at = np.full(len(self.entries), -1, dtype=np.int64)
        for category, i in sorted(wanted.items(), key=lambda item: -item[1]):
            group_at[arrays.by_category.get(category, arrays.none)] = i  # the first one wins
        hits = np.zeros(len(self.entries), dtype=np.float64)
        for keyword in profile.keywords:
            found = self.hits(keyword)
            hits[list(found)] += list(found.values())
        keep = np.ones(len(self.entries), dtype=bool)  # neither excluded nor seen before
        for keyword in profile.excluded:
            keep[list(self.hits(keyword))] = False
        if since is not None:
            keep &= arrays.seen > since.timestamp()
        names = list(profile.categories)  # group_at's numbers name these groups
        order = {c: wanted[category_key(c)] for c in names}
        extra: dict[str, int] = {}  # keyword-only groups, in order of their first paper
        for position in np.flatnonzero((hits > 0) & (group_at < 0) & keep):
            if self._categories[position]:
                name = self.entries[position].categories[0]
                if name not in extra:
                    extra[name] = len(names)
                    names.append(name)
                    order[name] = len(wanted) + len(extra)
                group_at[position] = extra[name]
        keep &= group_at >= 0
        positions = np.flatnonzero(keep)
        score_of = np.asarray(scores, np.float64)
        relevance = KEYWORD_HIT_WEIGHT * hits[positions] + score_of[positions]
        ranked_at = positions[np.lexsort((positions, arrays.is_new[positions], -relevance,
                                          group_at[positions]))]
        groups = group_at[ranked_at]
        ranked: dict[str, list[tuple[tuple[float, int, int], Candidate]]] = {}
        eligible: dict[str, int] = {}
        starts = list(np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])) if len(groups) else []
        for start, end in zip(starts, [*starts[1:], len(groups)][:len(starts)], strict=True):
            name = names[groups[start]]
            eligible[name] = int(end - start)
            # _fill takes no more than this from a group: the rest is only counted.
            top = ranked_at[start:min(end, start + max_per_category)]
            ranked[name] = [((n, 0, int(p)), self.entries[p]) for n, p in enumerate(top)]

        def leftover(chosen: set[str]) -> list[tuple[int, str, Candidate]]:
            taken = np.array([self._position[k] for k in chosen], dtype=np.int64)
            left = np.setdiff1d(positions, taken)  # sorted: position order
            return [(int(p), names[group_at[p]], self.entries[p]) for p in left]

        return self._with_exploration(ranked, {g: order[g] for g in ranked}, eligible,
                                      max_per_category, max_papers, scores, explore, leftover)

    def _with_exploration(self, ranked: dict[str, list[tuple[tuple[float, int, int], Candidate]]],
                          order: dict[str, int], eligible: dict[str, int], max_per_category: int,
                          max_papers: int, scores: Sequence[float], explore: int,
                          leftover: Callable[[set[str]], list[tuple[int, str, Candidate]]] | None
                          = None) -> Selection:
        """Fill the digest by rank, keeping ``explore`` places for the papers the model is
        least sure about when it cuts (else all is shown anyway); attach the scores.
        ``leftover``: the eligible papers outside a set of keys, in index order, as
        (position, group, paper); by default every paper of ``ranked``."""
        cuts = sum(eligible.values()) > max_papers
        shown = max(max_papers - explore, 0) if explore and cuts else max_papers
        selection = fill(ranked, order, max_per_category, shown, eligible)
        if explore:
            if leftover is None:
                def leftover(chosen: set[str]) -> list[tuple[int, str, Candidate]]:
                    return sorted((rank[2], group, c) for group, items in ranked.items()
                                  for rank, c in items if c.key not in chosen)
            selection = self._explore(selection, leftover(set(selection.keys)), order, scores,
                                      explore, max_papers - len(selection), eligible)
        return replace(selection, scores=tuple(
            (key, round(float(scores[self._position[key]]), 3)) for key in selection.keys))

    def _explore(self, selection: Selection, left: list[tuple[int, str, Candidate]],
                 order: dict[str, int], scores: Sequence[float], explore: int, room: int,
                 eligible: dict[str, int]) -> Selection:
        """Add the left-out papers nearest the model's boundary, each at its group's end."""
        import numpy as np

        from digest_mailer.domain.ranking import uncertain

        at = uncertain(np.array([scores[p] for p, _, _ in left], dtype=np.float64),
                       k=min(explore, room))
        if not at:
            return selection
        groups = {g: list(papers) for g, papers in selection.groups}
        for n in at:
            groups.setdefault(left[n][1], []).append(left[n][2])
        in_order = sorted(groups, key=lambda g: order[g])
        return Selection(tuple((g, tuple(groups[g])) for g in in_order),
                         more_left(order, eligible, groups), frozenset(left[n][2].key for n in at))


