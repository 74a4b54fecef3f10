"""Author strings → a tuple of names, split only at the top level.

arXiv packs every author into one string and puts affiliations, collaborations and
nicknames in parentheses: ``Jadelynn Dao (Department …, Caltech, Pasadena, CA), Next Author``.
A comma inside parentheses never separates two authors, and what the parentheses hold is not
part of the name. Old arXiv RSS and the API join the last two with " and " ("A, B and C").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from digest_mailer.ingest.clean import clean_text
from digest_mailer.ingest.tex import tex_to_unicode

# Initials as bioRxiv writes them after a surname: "N.", "R. J.", "P.-L.", "Ch."
_INITIALS_RE = re.compile(r"(?:[A-Z][a-z]?\.)(?:[\s-]*[A-Z][a-z]?\.)*")
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_OPEN, _CLOSE = "([", ")]"
# " and " between two people splits; inside a group's name ("The ATLAS and CMS
# Collaborations", "Physics and Astronomy Group") it does not.
_AND_RE = re.compile(r"\s+and\s+", re.IGNORECASE)
_GROUP_RE = re.compile(
    r"\b(?:collaborations?|consortium|consortia|team|group|project|network|committee|"
    r"society|association|institute|laboratory|observatory|survey)\b", re.IGNORECASE)
_ET_AL_RE = re.compile(r"^(?:et\.?\s*al\.?|and others)$", re.IGNORECASE)
_LEADING_AND_RE = re.compile(r"^and\s+", re.IGNORECASE)  # "A, B, and C"


def _top_level(value: str) -> tuple[list[str], bool]:
    """Parts between top-level separators (, ; :), parenthesised text dropped.

    The flag is False when the brackets do not balance: then nothing can be trusted to be
    an affiliation, and the caller splits the plain way.
    """
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in value:
        if char in _OPEN:
            depth += 1
            current.append(" ")  # "Dao(Caltech)Next" keeps a word break
        elif char in _CLOSE:
            if depth == 0:
                return [], False
            depth -= 1
            current.append(" ")
        elif depth:
            continue  # an affiliation, a collaboration, a nickname: not the name
        elif char in ",;:":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts, depth == 0


def _plain_split(value: str) -> list[str]:
    # Unbalanced brackets (a cut-off affiliation): split at every separator; in each part,
    # what follows an opening bracket is affiliation, and no bracket is shown.
    parts = re.split(r"[,;:]", re.sub(r"\([^()]*\)|\[[^\[\]]*\]", " ", value))
    return [re.split(r"[(\[]", part, maxsplit=1)[0].replace(")", " ").replace("]", " ")
            for part in parts]


def _split_and(part: str) -> list[str]:
    if _GROUP_RE.search(part):
        return [part]
    return _AND_RE.split(part)


def _split_one(value: str) -> list[str]:
    parts, balanced = _top_level(value)
    if not balanced:
        parts = _plain_split(value)
    names: list[str] = []
    for raw in parts:
        part = _LEADING_AND_RE.sub("", " ".join(raw.split()))
        if not part or _ET_AL_RE.match(part):
            continue
        for piece in _split_and(part):
            piece = piece.strip()
            if not piece:
                continue
            if names and piece.lower() in _SUFFIXES:
                names[-1] = f"{names[-1]} {piece}"
            elif (names and _INITIALS_RE.fullmatch(piece)
                  and not _INITIALS_RE.fullmatch(names[-1])):
                # bioRxiv "Surname, I., Surname, I.": pair them, in reading order "I. Surname".
                names[-1] = f"{piece} {names[-1]}"
            else:
                names.append(piece)
    return names


def split_authors(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Author names from one "A, B, C" string or a list of ``dc:creator`` values.

    TeX accents become Unicode ("Koll\\'ar" → "Kollár"); no de-duplication, since two
    co-authors can share a name.
    """
    if not value:
        return ()
    values = [value] if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in values:
        for name in _split_one(tex_to_unicode(clean_text(item))):
            name = " ".join(name.split())
            if name:
                names.append(name)
    return tuple(names)
