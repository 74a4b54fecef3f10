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
(tests/test_i18n.py). Adding a language = adding ``<code>.py`` and its code to
:data:`LANGUAGES`.

An unknown code is an error where it is looked up (:class:`UnknownLanguage`), never a silent
English fallback: the subscriber validator refuses such a code at the edges, so inside the
service one would mean a bug that must show.
"""

from __future__ import annotations

import importlib
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


def t(lang: str, key: str, **fmt: Any) -> str:
    """One string of ``lang``, formatted with ``fmt`` when given."""
    text = texts(lang)[key]
    return text.format(**fmt) if fmt else text


def display_names() -> dict[str, str]:
    """Code → the name a reader picks it by, e.g. "中文 (Chinese)"."""
    return {code: texts(code)["lang.name"] for code in LANGUAGES}


def words(key: str) -> tuple[str, ...]:
    """Every language's ``|``-separated words under ``key`` (e.g. ``reply.unsubscribe``)."""
    return tuple(dict.fromkeys(w for code in LANGUAGES for w in texts(code)[key].split("|")))


def page_context(lang: str = REFERENCE) -> dict[str, Any]:
    """What a web page template needs to speak ``lang``: the table as ``t``, ``lang``, and
    :func:`markup` for strings that carry markup."""
    return {"t": texts(lang), "lang": check(lang), "markup": markup}


def markup(table: Mapping[str, str], key: str, **fmt: Any) -> Markup:
    """A page string that holds markup of its own (``<strong>{email}</strong>``): the table
    is trusted, every value put into it is escaped."""
    return Markup(table[key]).format(**fmt)
