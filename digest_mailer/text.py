"""Invisible characters: the one rule for what may not hide in a name, a keyword or a header.

Pure, no imports from the package, so every room (domain, mail, settings, briefing) can use
it. "Invisible" is what steers or hides rather than shows: C0/C1 controls (Cc), format
characters (Cf: bidi overrides and isolates such as U+202E, zero-width spaces and joiners,
U+FEFF, the soft hyphen, tag characters), lone surrogates (Cs) and the line and paragraph
separators (Zl, Zp).
"""

from __future__ import annotations

import unicodedata

INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Of those, the ones that separate words: a control or a line break between two words
# becomes a space ("Ada\nLovelace" keeps its gap); a format character only vanishes.
_BREAKS = frozenset({"Cc", "Cs", "Zl", "Zp"})


def is_invisible(char: str) -> bool:
    """True for a control, format, surrogate or line/paragraph separator character."""
    return unicodedata.category(char) in INVISIBLE


def one_line(text: str) -> str:
    """``text`` as one line of visible text: controls and line breaks become spaces, format
    characters are dropped, runs of whitespace fold to one space, the ends are stripped."""
    if text.isascii() and text.isprintable():  # the common case costs one scan
        return " ".join(text.split())
    chars = (" " if (cat := unicodedata.category(c)) in _BREAKS
             else "" if cat == "Cf" else c for c in text)
    return " ".join("".join(chars).split())


def without_format(text: str) -> str:
    """``text`` without its format characters (zero-width, bidi), everything else kept."""
    if text.isascii():
        return text
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


_SPACES = frozenset("\t\n\r\f\v\u2028\u2029")


def visible(text: str) -> str:
    """``text`` with every invisible character dropped; tabs and line breaks become spaces.

    For text from strangers' feeds, where a stray control sits inside a word ("a\\x00b" is
    "ab"), unlike a name or header where it separates two words (:func:`one_line`).
    """
    if text.isascii() and text.isprintable():
        return text
    return "".join(" " if c in _SPACES else c for c in text
                   if c in _SPACES or not is_invisible(c))
