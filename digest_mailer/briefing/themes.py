"""The day's themes: papers close in content, named by a phrase they share.

Papers are grouped by the cosine similarity of their TF-IDF rows (the ranking's settings,
:data:`digest_mailer.domain.ranking.TFIDF_SETTINGS`) with average linkage, so a group's mean
pairwise similarity is at least MIN_SIMILARITY: one shared word ("flow" in optical flow and in
rectified flow) never makes a group. A group is named by the multi-word term its papers carry
and the rest of the day does not; a group with no such term is no theme. Themes are found once
for the papers of a whole send batch; each digest takes those its papers fall in
(:func:`in_digest`), so readers with overlapping papers share themes (and an LLM's paragraph
on a theme is written once). Pure and deterministic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from digest_mailer.briefing.terms import Term, label, terms
from digest_mailer.domain.digest import CategoryGroup, Paper

# Mean pairwise cosine of TF-IDF rows a theme's papers must reach. Random pairs of one arXiv
# day sit near 0.02, papers on one problem at 0.15–0.4 (bench/briefing.py prints both).
MIN_SIMILARITY = 0.08
MAX_MEMBERS = 12     # a bigger group is cut to its most central papers
MAX_CITED = 5        # papers a digest's sentence on a theme cites
# A name carried by more of the day's papers than this share is background, not a theme.
MAX_NAME_SHARE = 0.08
MAX_BATCH = 4000     # papers clustered at once (a similarity matrix of 64 MB at most)


@dataclass(frozen=True)
class ThemePaper:
    """What a theme is found from: one paper's identity and text."""

    key: str
    title: str
    abstract: str


@dataclass(frozen=True)
class Theme:
    """A group of the day's papers and the phrase they share."""

    name: str                    # as its papers write it: "optical flow", "Gaussian splatting"
    term: Term                   # the name's stems, as terms() counts them
    keys: tuple[str, ...]        # its papers, most central first
    similarity: float            # their mean pairwise cosine
    # Per paper, a phrase of its title that the others do not share ("robot navigation"):
    # what each brings to the theme. Absent when its title has none.
    angles: dict[str, str] = field(default_factory=dict, compare=False)
    # Its papers' text, for whoever writes about the theme (an LLM's paragraph on it).
    papers: tuple[ThemePaper, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class DigestTheme:
    """A theme as one digest has it: the digest's papers in it, by their numbers."""

    theme: Theme
    numbers: tuple[int, ...]     # most central first, at most MAX_CITED
    categories: tuple[str, ...]  # the digest groups they sit in, in digest order

    @property
    def cross(self) -> bool:
        return len(self.categories) > 1


def vectors_of(papers: Sequence[ThemePaper]) -> sp.csr_matrix:
    """TF-IDF rows of the papers themselves, when no text model of the window is at hand.

    A handful of papers keeps every term (with the window's 0.5 cut-off, two papers
    sharing a term would lose it).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from digest_mailer.domain.ranking import TFIDF_SETTINGS, document_limits

    texts = [f"{p.title}. {p.title}. {p.abstract}" for p in papers]
    min_df, max_df = document_limits(len(texts))
    vectoriser = TfidfVectorizer(**TFIDF_SETTINGS, min_df=min_df,
                                 max_df=max_df if len(texts) >= 50 else 1.0, dtype=np.float32)
    try:
        return vectoriser.fit_transform(texts).tocsr()
    except ValueError:  # no term at all (empty or stopword-only texts)
        return sp.csr_matrix((len(texts), 1), dtype=np.float32)


def find_themes(papers: Sequence[ThemePaper],
                vectors: sp.csr_matrix | None = None) -> list[Theme]:
    """The themes among ``papers`` (distinct keys), strongest first.

    ``vectors``: their L2-normalised TF-IDF rows in the same order (the batch's, from the
    ranking's text model); fitted on the papers themselves when None.
    """
    papers = list({p.key: p for p in papers}.values())[:MAX_BATCH]
    if len(papers) < 2:
        return []
    rows = vectors_of(papers) if vectors is None else vectors[: len(papers)]
    similarity = np.asarray((rows @ rows.T).todense(), dtype=np.float64)
    phrases = [_phrases(p) for p in papers]
    day_df: Counter[Term] = Counter(t for found in phrases for t in found)
    themes = []
    for members in _groups(similarity):
        theme = _theme(papers, members, similarity, phrases, day_df)
        if theme is not None:
            themes.append(theme)
    return sorted(themes, key=lambda t: (-len(t.keys), -t.similarity, t.name))


def in_digest(themes: Sequence[Theme], papers: Sequence[Paper]) -> list[DigestTheme]:
    """The themes with at least two of the digest's papers: cross-category first, then by
    size and closeness."""
    number = {p.key: p.number for p in papers}
    category = {p.number: p.category for p in papers}
    order = {c: i for i, c in enumerate(dict.fromkeys(p.category for p in papers))}
    found = []
    for theme in themes:
        numbers = tuple(number[k] for k in theme.keys if k in number)[:MAX_CITED]
        if len(numbers) >= 2:
            cats = tuple(sorted({category[n] for n in numbers}, key=order.__getitem__))
            found.append(DigestTheme(theme, numbers, cats))
    return sorted(found, key=lambda d: (not d.cross, -len(d.numbers), -d.theme.similarity,
                                        d.theme.name))


def digest_themes(groups: Sequence[CategoryGroup],
                  themes: Sequence[Theme] | None = None) -> list[DigestTheme]:
    """The digest's themes, strongest first: from the batch's ``themes`` when given, else
    found among the digest's own papers."""
    papers = list({p.number: p for g in groups for p in g.papers}.values())
    if themes is None:
        themes = find_themes([ThemePaper(p.key, p.title, p.abstract) for p in papers])
    return in_digest(themes, papers)


def _groups(similarity: np.ndarray) -> list[list[int]]:
    """Average-linkage groups whose mean pairwise similarity reaches MIN_SIMILARITY."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    distance = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    labels = fcluster(tree, t=1.0 - MIN_SIMILARITY, criterion="distance")
    groups: dict[int, list[int]] = {}
    for index, group in enumerate(labels):
        groups.setdefault(int(group), []).append(index)
    return [g for g in groups.values() if len(g) >= 2]


def _phrases(paper: ThemePaper) -> dict[Term, int]:
    """A paper's terms of two or three words with their evidence: 3 for the title, plus
    its count in the abstract up to 3. A single word, hyphenated or not, names no theme."""
    title, body = terms(paper.title, title=True), terms(paper.abstract)
    return {t: 3 * (t in title) + min(body[t], 3) for t in title.keys() | body.keys()
            if len(t) > 1}


def _theme(papers: Sequence[ThemePaper], members: list[int], similarity: np.ndarray,
           phrases: list[dict[Term, int]], day_df: Counter[Term]) -> Theme | None:
    """Name a group, or None: the phrase most of its papers carry, rare in the rest of the day."""
    n = len(papers)
    carried: Counter[Term] = Counter(t for m in members for t in phrases[m])
    limit = max(2, math.ceil(MAX_NAME_SHARE * n))

    def score(term: Term) -> tuple[float, int, Term]:
        evidence = sum(min(phrases[m].get(term, 0), 4) for m in members)
        specific = math.log(1 + n / day_df[term])
        return (carried[term] * evidence * specific * (1 + 0.25 * (len(term) - 1)),
                len(term), term)

    names = [t for t, c in carried.items() if c >= 2 and day_df[t] <= max(limit, c)]
    if not names:
        return None
    term = max(names, key=score)
    carriers = [m for m in members if term in phrases[m]]
    if 2 * len(carriers) < len(members):  # the name speaks for only a few: keep those
        members = carriers
    sub = similarity[np.ix_(members, members)]
    centrality = (sub.sum(axis=1) - 1.0) / (len(members) - 1)
    mean = float(centrality.mean())
    if mean < MIN_SIMILARITY:
        return None
    ranked = [members[i] for i in sorted(range(len(members)),
                                         key=lambda i: (-centrality[i], members[i]))]
    ranked = ranked[:MAX_MEMBERS]
    surfaces: dict[Term, Counter[str]] = {}
    for m in ranked:
        terms(papers[m].title, True, surfaces)
        terms(papers[m].abstract, False, surfaces)
    name = label(surfaces.get(term) or Counter({" ".join(term): 1}))
    return Theme(name=name, term=term, keys=tuple(papers[m].key for m in ranked),
                 similarity=round(mean, 4),
                 angles=_angles(papers, ranked, term, phrases, day_df),
                 papers=tuple(papers[m] for m in ranked))


def _angles(papers: Sequence[ThemePaper], members: list[int], name: Term,
            phrases: list[dict[Term, int]], day_df: Counter[Term]) -> dict[str, str]:
    """Each paper's own phrase: the rarest title term of its that no other member carries
    and that shares no word with the theme's name."""
    words = set(name)
    angles: dict[str, str] = {}
    for m in members:
        own = [t for t, e in phrases[m].items() if e >= 3 and not words & set(t)
               and not any(t in phrases[o] for o in members if o != m)]
        if not own:
            continue
        best = max(own, key=lambda t: (len(t) > 1, -day_df[t], len(t), t))
        surfaces: dict[Term, Counter[str]] = {}
        terms(papers[m].title, True, surfaces)
        shown = label(surfaces.get(best) or Counter({" ".join(best): 1}))
        angles[papers[m].key] = " ".join(_untitled(w) for w in shown.split())
    return angles


def _untitled(word: str) -> str:
    """A title's capitals dropped where they are only Title Case ("Few-Step" → "few-step");
    "GNN", "PyTorch" and "DiffMath" keep theirs."""
    parts = word.split("-")
    if all((p[:1].isupper() and p[1:].islower()) or p.islower() for p in parts):
        return word.lower()
    return word
