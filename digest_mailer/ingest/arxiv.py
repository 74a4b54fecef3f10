"""What arXiv's own formats say about a paper: category names, and the pre-2024 RSS 1.0 title.

Before 2024, arXiv's RSS 1.0 (RDF) feeds had no announce type, no categories and no item
dates; the title carried them: ``Title. (arXiv:1209.2411v1 [math.PR])`` for a new paper,
``… [math.DG] UPDATED)`` for a replacement, ``… CROSS LISTED)`` for a cross-list; the bracket
holds the paper's primary category. The channel's ``dc:date`` dates every item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# arXiv's archives (https://arxiv.org/category_taxonomy) and the shape of a subject class:
# two capitals (cs.CV, math.PR, astro-ph.CO), or lower-case words in cond-mat and physics
# only (cond-mat.mes-hall, physics.atom-ph). MSC codes ("53D10"), ACM classes ("I.2.7")
# and free tags fail it.
_ARCHIVES = (
    "astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph",
    "hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin",
    "quant-ph", "stat",
)
_ARCHIVE = "|".join(re.escape(a) for a in _ARCHIVES)
_CATEGORY = (rf"(?:(?:cond-mat|physics)\.[a-z]+(?:-[a-z]+)?|(?:{_ARCHIVE})(?:\.[A-Z]{{2}})?)")
_CATEGORY_RE = re.compile(_CATEGORY)

_STATUS = {"": "new", "UPDATED": "replace", "CROSS LISTED": "cross"}
_OLD_TITLE_RE = re.compile(
    r"^(?P<title>.*?)\s*\(arXiv:(?P<id>\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Za-z-]+)?/\d{7})"
    rf"(?:v\d+)?\s*\[(?P<category>{_CATEGORY})\]\s*(?P<status>UPDATED|CROSS LISTED)?\s*\)\s*$",
    re.DOTALL,
)


def is_arxiv_category(term: str) -> bool:
    """True for a category in arXiv's taxonomy shape: ``cs.CV``, ``hep-ex``, ``math.PR``."""
    return _CATEGORY_RE.fullmatch(term) is not None


@dataclass(frozen=True)
class OldTitle:
    """What a pre-2024 arXiv RSS title says besides the title itself."""

    title: str
    arxiv_id: str  # without version
    category: str  # the primary category
    announce_type: str  # new | replace | cross


def read_old_title(title: str) -> OldTitle | None:
    """Split ``Title. (arXiv:ID [cat] STATUS)``; None for any other title."""
    match = _OLD_TITLE_RE.match(title)
    if not match:
        return None
    text = match.group("title")
    # arXiv put ". " between the title and the suffix; an ellipsis or "et al." keeps its dot.
    if text.endswith(".") and not text.endswith("..") and not text.endswith("al."):
        text = text[:-1]
    found = match.group("id")
    if "/" in found:  # math.PR/0601001 → math/0601001, as clean.arxiv_id does
        archive, number = found.split("/", 1)
        found = f"{archive.split('.', 1)[0]}/{number}"
    return OldTitle(text.strip(), found, match.group("category"),
                    _STATUS[match.group("status") or ""])
