"""TeX in feed text → Unicode: accents and text commands, and math as readable text.

arXiv titles, abstracts and author names carry TeX as the submitter typed it
(``Schr\\"odinger``, ``Koll\\'ar``, ``Przemys{\\l}aw``). A reader wants "Schrödinger" on the
card, and a keyword "Schrödinger" must match it. Only the TeX *fragments* are handed to
pylatexenc: running whole abstracts through it would eat text after a ``%`` ("95% of" → "95"),
turn ``~`` into spaces and ``--`` into dashes inside URLs, and rewrite math into half-TeX
nonsense. Math (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``) goes through our own converter
(:mod:`digest_mailer.ingest.texmath`): ``$\\alpha$-stable`` → α-stable, ``$H^3$`` → H³, so
a card and a plain-text part hold no TeX source. A "$" span that starts or ends with a space
("costs $5 and $10") is prices, not math, and stays as written.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

from digest_mailer.ingest.texmath import math_to_text

# Math spans are skipped. An unbalanced "$" ("costs $5") just makes the rest count as math,
# which only means it is left as written.
_MATH_RE = re.compile(
    r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$(?:[^$\\]|\\.)+?\$|\\\(.+?\\\)|\\\[.+?\\\]",
    re.DOTALL,
)
# One accent on one letter: \"o \"{o} \'{\i} \v{c} \c c \H{o} \k{a} \={a} \.{z} \r{A} \~n.
_LETTER = r"(?:\{\s*(?:\\[ij]|[A-Za-z])?\s*\}|\\[ij](?![A-Za-z])|[A-Za-z])"
_ACCENT = rf"\\(?:[\"'`^~=.]\s*|[uvHckrdbt](?:\s+|(?=\{{)))(?:{_LETTER})"
# Letters TeX spells as commands: \l \L \o \O \ss \ae \AE \oe \OE \aa \AA \i \j. TeX eats
# the space after a control word ("Stra\ss e" is "Straße"): taken when a lower-case letter
# follows, so the word goes on; a space before a capital or punctuation stays.
_SPECIAL = r"\\(?:ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z])(?:\{\}|\s+(?=[a-z]))?"
# Escaped characters: \& \% \_ \# \$ \{ \}.
_ESCAPED = r"\\[&%_#${}]"
# Font and text commands with one plain argument: the argument is the text.
_TEXT_CMD = r"\\(?:text(?:it|bf|rm|sc|tt|sf|sl|up|normal)?|emph|textsl|mbox)\s*\{[^{}$\\]*\}"
_FRAGMENT_RE = re.compile(
    rf"\{{\s*(?:{_ACCENT}|{_SPECIAL})\s*\}}|{_ACCENT}|{_SPECIAL}|{_ESCAPED}|{_TEXT_CMD}"
)
_CONVERTER = LatexNodes2Text()


@lru_cache(maxsize=4096)
def _convert(fragment: str) -> str:
    """One TeX fragment as Unicode (NFC, so "ö" is one character and matches a typed "ö")."""
    try:
        text = _CONVERTER.latex_to_text(fragment)
    except Exception:  # pylatexenc is lenient, but one odd fragment must never stop ingest
        return fragment
    return unicodedata.normalize("NFC", text)


# Scripts and marks typed in text mode ("A\\textsuperscript{2}FM", "FA^{3}-CLIP"): math in all
# but name, so they go through the math converter.
_TEXT_MARK_RE = re.compile(r"\\text(registered|trademark|pertenthousand|perthousand)\b")
_TEXT_MARKS = {"registered": "®", "trademark": "™", "pertenthousand": "‱", "perthousand": "‰"}
_TEXT_SCRIPT_RE = re.compile(r"\\text(?:super|sub)script\{[^{}$\\]*\}|\\underline\{[^{}$\\]*\}"
                             r"|(?<=\w)\^\{[^{}$\\]{1,8}\}")


def _text_script(fragment: str) -> str:
    fragment = fragment.replace("\\textsuperscript", "^").replace("\\textsubscript", "_")
    return math_to_text(fragment.replace("\\underline", ""))


def _convert_text(text: str) -> str:
    text = _FRAGMENT_RE.sub(lambda m: _convert(m.group(0)), text)
    text = _TEXT_MARK_RE.sub(lambda m: _TEXT_MARKS[m.group(1)], text)
    return _TEXT_SCRIPT_RE.sub(lambda m: _text_script(m.group(0)), text)


def tex_to_unicode(text: str) -> str:
    """``Schr\\"odinger`` → ``Schrödinger``, ``$O(N^{-1/2})$`` → O(N^(−1/2))."""
    if "\\" not in text and "$" not in text and "^{" not in text:
        return text  # the common case, and the fast one
    pieces: list[str] = []
    last = 0
    for math in _MATH_RE.finditer(text):
        pieces.append(_convert_text(text[last:math.start()]))
        pieces.append(_math(math.group(0)))
        last = math.end()
    pieces.append(_convert_text(text[last:]))
    return "".join(pieces)


def _math(span: str) -> str:
    inner = span.strip("$")
    if span.startswith("$") and (not inner or inner != inner.strip()):
        return span  # "$5 and $": money, not math
    return math_to_text(span)
