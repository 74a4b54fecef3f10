"""A reader's taste from their votes: weights of the title words of papers voted on.

Used to rank a reader who has no model yet (domain/select.py, rule 4).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
