"""The language tables: every user-facing string, one flat table per language.

Each language is one module here (``en.py``, ``zh.py``) holding ``TEXTS``, a dict of key →
string with ``{name}`` placeholders, its keys grouped by prefix: ``lang.*`` (the language's
conventions: its name, number words, list joiners, punctuation, date shapes), ``email.*``,
``page.*``, ``brief.*`` (the extractive briefing's phrases and the model's refusal words),
``category.*`` (display names of categories), ``reply.*`` (words a reader writes back),
``cli.*``, and why input is refused: ``profile.*`` (the subscriber validator), ``import.*``
(the CSV importer), ``library.*`` (the library parser) and ``source.*`` (the feed
validator).
English is the reference: every other table has exactly its keys and placeholders
(tests/test_i18n.py), except that it may name more categories (a category without a name
shows its code). Adding a language = adding ``<code>.py`` and its code to
:data:`LANGUAGES`.

An unknown code is an error where it is looked up (:class:`UnknownLanguage`), never a silent
English fallback: the subscriber validator refuses such a code at the edges, so inside the
service one would mean a bug that must show.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from markupsafe import Markup

from digest_mailer.errors import DigestError

# The registry, in the order a reader is offered them; the reference language first.
LANGUAGES: tuple[str, ...] = ("en", "zh")
REFERENCE = "en"


class UnknownLanguage(DigestError, ValueError):
    """A language code no table exists for; names the code and the known ones."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown language {code!r} (known: {', '.join(LANGUAGES)})")


def check(code: str) -> str:
    """``code`` if a table exists for it, else :class:`UnknownLanguage`."""
    if code not in LANGUAGES:
        raise UnknownLanguage(code)
    return code


@cache
def texts(lang: str) -> Mapping[str, str]:
    """The table of ``lang``, read-only; a missing key raises KeyError, never English."""
    module = importlib.import_module(f"{__name__}.{check(lang)}")
    return MappingProxyType(module.TEXTS)


WEEK = ".week."  # "email.week.subject" is a weekly digest's "email.subject"
# The digest, its briefing, its full-list page, the admin's line about a reader's digest,
# and the page a new reader's confirm opens.
WEEKLY_AREAS = ("email", "brief", "page.day", "page.admin.subscriber", "page.confirm")


def weekly_twins(table: Mapping[str, str]) -> dict[str, str]:
    """The weekly strings of a table under the keys they stand in for."""
    twins = {}
    for key, text in table.items():
        area, week, rest = key.partition(WEEK)
        if week and area in WEEKLY_AREAS:
            twins[f"{area}.{rest}"] = text
    return twins


@cache
def digest_texts(lang: str, cadence: str = "daily") -> Mapping[str, str]:
    """The table a digest of ``cadence`` speaks, and the pages about it: in a weekly one
    each ``<area>.week.<key>`` stands in for ``<area>.<key>`` for the :data:`WEEKLY_AREAS`
    ("This week's briefing", not "Today's")."""
    table = texts(lang)
    if cadence != "weekly":
        return table
    return MappingProxyType({**table, **weekly_twins(table)})


def t(lang: str, key: str, **fmt: Any) -> str:
    """One string of ``lang``, formatted with ``fmt`` when given."""
    text = texts(lang)[key]
    return text.format(**fmt) if fmt else text


def category_name(code: str, lang: str) -> str | None:
    """The table's name of a category ("计算机视觉" for cs.CV), or None. bioRxiv subjects
    match however a source spells them ("Cell Biology", "cell-biology", "cell_biology")."""
    table = texts(lang)
    return (table.get(f"category.{code}")
            or table.get("category." + re.sub(r"[\s-]+", "_", code.strip().lower())))


def category_label(code: str, lang: str = REFERENCE) -> str:
    """'Computer Vision (cs.CV)', '计算机视觉（cs.CV）': a heading's name and code; the code
    alone where the table has no name."""
    name = category_name(code, lang)
    return texts(lang)["lang.category_label"].format(name=name, code=code) if name else code


def category_in_text(code: str, lang: str) -> str:
    """A category as a sentence of ``lang`` names it: the code (English: "in cs.CV") or the
    name (Chinese: "在计算机视觉中"), as ``lang.category_in_text`` says."""
    if texts(lang)["lang.category_in_text"] == "name":
        return category_name(code, lang) or code
    return code


# Han characters, and the punctuation and full-width forms that go with them.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WIDE_PUNCT = "\u3000-\u303f\uff01-\uff60"
_GAP = re.compile(f"(?<=[{_HAN}{_WIDE_PUNCT}])[ \t]+(?=[{_HAN}])|(?<=[{_HAN}])[ \t]+"
                  f"(?=[{_WIDE_PUNCT}])|(?<=[{_WIDE_PUNCT}])[ \t]+|[ \t]+(?=[{_WIDE_PUNCT}])")
_ANY_HAN = re.compile(f"[{_HAN}]")
_HAN_LATIN = re.compile(f"(?<=[{_HAN}])(?=[A-Za-z])|(?<=[A-Za-z])(?=[{_HAN}])"
                        "|(?<=[A-Za-z])(?=\\[\\d)")  # "cs.CV [1, 2]" beside "视觉[1, 2]"


def spaced(text: str) -> str:
    """Connective text with the spacing Chinese typesetting wants: no space between two
    Chinese characters or beside full-width punctuation, one between a Chinese character
    and a Latin letter ("在 cs.AI 中", "AI 模型") and between a Latin letter and a citation
    ("cs.CV [1, 2]", but "计算机视觉[1, 2]"), none before a number's measure word.
    Text without a Chinese character is returned as it is (English, accents and all).

    For text put together from a table and values ("{category}的{count}" with a code or a
    name); never for a paper's own words, whose spacing is theirs."""
    if text.isascii() or not _ANY_HAN.search(text):
        return text
    return _HAN_LATIN.sub(" ", _GAP.sub("", text))


def display_names() -> dict[str, str]:
    """Code → the name a reader picks it by, e.g. "中文 (Chinese)"."""
    return {code: texts(code)["lang.name"] for code in LANGUAGES}


def words(key: str) -> tuple[str, ...]:
    """Every language's ``|``-separated words under ``key`` (e.g. ``reply.unsubscribe``)."""
    return tuple(dict.fromkeys(w for code in LANGUAGES for w in texts(code)[key].split("|")))


def page_context(lang: str = REFERENCE, cadence: str = "daily") -> dict[str, Any]:
    """What a web page template needs to speak ``lang``: the table as ``t`` (a weekly
    digest's words for a page about one, :func:`digest_texts`), ``lang``, and
    :func:`markup` for strings that carry markup."""
    return {"t": digest_texts(lang, cadence), "lang": check(lang), "markup": markup}


def markup(table: Mapping[str, str], key: str, **fmt: Any) -> Markup:
    """A page string that holds markup of its own (``<strong>{email}</strong>``): the table
    is trusted, every value put into it is escaped."""
    return Markup(table[key]).format(**fmt)
