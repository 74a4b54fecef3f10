"""Chosen papers as a digest shows them: groups by category, the caps, what they left out.

:class:`Selection` is what domain/select.py returns; :func:`fill` applies its rule 6 (caps,
round-robin by rank) and :func:`regroup` rebuilds the groups of papers already chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest_mailer.domain.select import Candidate, Profile


@dataclass(frozen=True)
class Selection:
    """Chosen papers, grouped by category in the subscriber's order, ranked inside."""

    groups: tuple[tuple[str, tuple[Candidate, ...]], ...]
    more: tuple[tuple[str, int], ...] = ()  # (group, papers the caps left out), if any
    explore: frozenset[str] = frozenset()   # keys chosen to learn the reader's taste
    scores: tuple[tuple[str, float], ...] = ()  # (key, model score) of the chosen papers

    @property
    def keys(self) -> list[str]:
        return [c.key for _, papers in self.groups for c in papers]

    def __len__(self) -> int:
        return sum(len(papers) for _, papers in self.groups)


def category_key(category: str) -> str:
    return category.casefold()



def more_left(order: dict[str, int], eligible: dict[str, int],
          chosen: dict[str, list[Candidate]]) -> tuple[tuple[str, int], ...]:
    """(group, papers left out) for every group that lost some, in the digest's order."""
    return tuple((g, eligible[g] - len(chosen.get(g, ()))) for g in sorted(eligible, key=order.get)
                 if eligible[g] > len(chosen.get(g, ())))


def fill(ranked: dict[str, list[tuple[tuple[float, int, int], Candidate]]],
          order: dict[str, int], max_per_category: int, max_papers: int,
          eligible: dict[str, int]) -> Selection:
    """Cap each group, then take papers round-robin by rank up to the total cap.

    ``eligible`` counts each group's papers before the caps, for what was left out.
    """
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
    shown = [g for g in groups_in_order if chosen[g]]
    return Selection(tuple((g, tuple(chosen[g])) for g in shown),
                     more_left(order, eligible, chosen))

def _group_of(profile: Profile, wanted: dict[str, int], entry: Candidate) -> str | None:
    """The first of the reader's categories the paper carries, else its primary one."""
    mine = [wanted[category_key(c)] for c in entry.categories if category_key(c) in wanted]
    if mine:
        return profile.categories[min(mine)]
    return entry.categories[0] if entry.categories else None


def regroup(profile: Profile, entries: Sequence[Candidate]) -> Selection:
    """Group already-chosen papers in their given order (a retry shows the same email)."""
    wanted = {category_key(c): i for i, c in enumerate(profile.categories)}
    groups: dict[str, list[Candidate]] = {}
    for entry in entries:
        groups.setdefault(_group_of(profile, wanted, entry) or "other", []).append(entry)
    order = sorted(groups, key=lambda g: (wanted.get(category_key(g), len(wanted)),
                                          list(groups).index(g)))
    return Selection(tuple((g, tuple(groups[g])) for g in order))
