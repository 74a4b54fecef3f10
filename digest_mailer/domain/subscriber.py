"""What a subscriber may ask for: the one validator of a subscriber's profile.

The CSV importer, the preferences page and the CLI's ``subscribers add`` all call
:func:`check_profile`, so an address, a name, the categories, keywords and exclusions, the
time zone, the send hour, the cadence and weekday, the language and the digest size obey
the same rules and the same caps whichever way they arrive (tests/test_subscriber_rules.py
runs one table of cases through all three). A refusal is a :class:`ProfileError` with a
code: its wording is the ``profile.<code>`` string of the language tables, an English
lower-case phrase ("unknown time zone 'Mars/Base' …") for CSV reports and CLI lines, and
:func:`describe` says it as a sentence in the reader's language for the preferences page.
Defaults for what a row leaves out (time zone, send hour) are the caller's, from the
settings: nothing here guesses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo, available_timezones

from email_validator import EmailNotValidError, validate_email

from digest_mailer import i18n
from digest_mailer.domain.schedule import CADENCES, WEEKDAYS, WEEKLY
from digest_mailer.errors import ProfileError as ProfileError
from digest_mailer.text import one_line

LANGUAGES = i18n.LANGUAGES  # the digest languages a subscriber may choose: the registry's
MIN_PAPERS, MAX_PAPERS = 5, 100  # a reader's own digest size (None: the setting's)
MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit, less its angle brackets
MAX_NAME_CHARS = 100  # a display name; the From/To header stays far under 998 characters
MAX_ITEMS = 50  # keywords, exclusions and categories, each
MAX_ITEM_CHARS = 100  # one keyword, exclusion or category

_ITEM_SEPARATORS = re.compile(r"[|\r\n]+")
_CELL_SEPARATORS = re.compile(r"[;,]+")
T = TypeVar("T")


def refuse(field: str, code: str, **params: object) -> ProfileError:
    """The refusal of ``field`` by the rule ``code``, its reason in English (the reference)."""
    return ProfileError(field, code, _wording(i18n.REFERENCE, code, params), params)


def phrase(error: ProfileError, lang: str) -> str:
    """The refusal as ``lang`` words it, a phrase (as a report's reason column shows it)."""
    return _wording(lang, error.code, error.params)


def describe(error: ProfileError, lang: str) -> str:
    """The refusal as a sentence in ``lang``, as the preferences page shows it."""
    text = phrase(error, lang)
    stop = i18n.t(lang, "lang.full_stop")
    return text[:1].upper() + text[1:] + ("" if text.endswith(stop) else stop)


def _wording(lang: str, code: str, params: Mapping[str, object]) -> str:
    # A tuple is a list of choices, joined the language's way ("'en' or 'zh'").
    either = i18n.t(lang, "lang.list_or")
    values = {k: either.join(v) if isinstance(v, tuple) else v for k, v in params.items()}
    return i18n.t(lang, f"profile.{code}", **values)


def split_items(text: str) -> list[str]:
    """Items given one per line or separated by "|", cleaned, duplicates dropped."""
    items = (one_line(item) for item in _ITEM_SEPARATORS.split(text))
    return list(dict.fromkeys(item for item in items if item))


def split_cell(text: str) -> list[str]:
    """A CSV list cell: items separated by "|" (our export's), or else by ";" or "," (as
    spreadsheets and form exports write ``cs.CV;cs.AI`` or ``cs.CV, cs.AI``). A cell with
    a "|" splits on "|" only, so a keyword with a comma in it survives export → import."""
    if _ITEM_SEPARATORS.search(text):
        return split_items(text)
    return split_items(_CELL_SEPARATORS.sub("|", text))


def check_name(text: str) -> str:
    """A display name fit for a header and a page (controls and bidi overrides removed)."""
    name = one_line(text)
    if len(name) > MAX_NAME_CHARS:
        raise refuse("name", "name_too_long", limit=MAX_NAME_CHARS)
    return name


def check_address(text: str, *, smtputf8: bool = False, check_dns: bool = False) -> str:
    """The address as stored: normalised by email-validator, then lower-cased.

    A non-ASCII local part (``üser@…``) can only be delivered by a server that announces
    SMTPUTF8, so it is refused unless ``smtputf8`` says ours does; a non-ASCII domain is
    fine (it is sent in its IDNA form).
    """
    address = text.strip()
    if not address:
        raise refuse("email", "email_missing")
    if len(address) > MAX_ADDRESS_CHARS:  # before email-validator, which takes ~0.4 s a MB
        raise refuse("email", "email_invalid",
                     detail=f"The email address is too long ({len(address)} characters;"
                            f" at most {MAX_ADDRESS_CHARS}).")
    try:
        valid = validate_email(address, check_deliverability=check_dns,
                               allow_smtputf8=smtputf8)
    except EmailNotValidError as err:
        code = ("email_needs_smtputf8" if not smtputf8
                and not address.partition("@")[0].isascii() else "email_invalid")
        raise refuse("email", code, detail=str(err)) from None
    return valid.normalized.lower()


def check_items(field: str, items: Iterable[str], noun: str) -> list[str]:
    """Cleaned, de-duplicated keywords or exclusions within the caps."""
    cleaned = list(dict.fromkeys(c for c in (one_line(i) for i in items) if c))
    if len(cleaned) > MAX_ITEMS:
        raise refuse(field, f"{noun}_too_many", limit=MAX_ITEMS, count=len(cleaned))
    long = next((i for i in cleaned if len(i) > MAX_ITEM_CHARS), None)
    if long is not None:
        raise refuse(field, f"{noun}_too_long", limit=MAX_ITEM_CHARS, item=repr(long[:20]),
                     count=len(long))
    return cleaned


def check_categories(items: Iterable[str], known: Sequence[str]) -> list[str]:
    """The categories in their configured spelling (matched case-insensitively).

    Raises for the first unknown one, naming some of the known ones.
    """
    folded = {c.casefold(): c for c in known}
    chosen: list[str] = []
    for item in dict.fromkeys(c for c in (one_line(i) for i in items) if c):
        if item.casefold() not in folded:
            if not folded:
                raise refuse("categories", "category_unknown_none", category=repr(item[:40]))
            raise refuse("categories", "category_unknown", category=repr(item[:40]),
                         known=", ".join(sorted(folded.values())[:12]))
        chosen.append(folded[item.casefold()])
    chosen = list(dict.fromkeys(chosen))
    if len(chosen) > MAX_ITEMS:
        raise refuse("categories", "categories_too_many", limit=MAX_ITEMS)
    return chosen


@lru_cache(maxsize=4096)
def canonical_zone(name: str) -> str | None:
    """The canonical IANA spelling of a zone name (matched case-insensitively), or None."""
    if not name or len(name) > 64:
        return None
    canonical = _zones_folded().get(name.casefold())
    if canonical is not None:
        return canonical
    try:  # a zone the listing misses (no tzdata index): ask zoneinfo itself
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None
    return name


@lru_cache(maxsize=1)
def _zones_folded() -> dict[str, str]:
    return {z.casefold(): z for z in available_timezones()}


def check_zone(text: str) -> str:
    """The zone's canonical IANA name, whatever its case (``asia/shanghai`` → ``Asia/Shanghai``)."""
    zone = canonical_zone(text.strip())
    if zone is None:
        raise refuse("timezone", "timezone_unknown", zone=repr(text.strip()[:64]))
    return zone


def _small_int(text: str, low: int, high: int) -> int | None:
    """``text`` as ASCII digits from ``low`` to ``high``, else None. A long string of digits
    is refused before int(), which raises past 4,300 digits (a 500, not a reason)."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdecimal() and len(digits) <= 6):
        return None
    return int(digits) if low <= int(digits) <= high else None


def check_hour(text: str) -> int:
    """A local send hour, 0 to 23, given in ASCII digits (spaces around are ignored)."""
    hour = _small_int(text, 0, 23)
    if hour is None:
        raise refuse("send_hour", "send_hour_range")
    return hour


def check_cadence(text: str) -> str:
    """"daily" or "weekly", whatever its case."""
    cadence = text.strip().lower()
    if cadence not in CADENCES:
        raise refuse("cadence", "cadence_unknown", choices=tuple(map(repr, CADENCES)))
    return cadence


# "mon" … "sun", the full English names, or 0 … 6 (Python's date.weekday(): 0 is Monday).
_WEEKDAY_NAMES = {**{d: i for i, d in enumerate(WEEKDAYS)},
                  **{d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday",
                                                  "friday", "saturday", "sunday"))},
                  **{str(i): i for i in range(7)}}


def check_weekday(text: str) -> int:
    """A weekly reader's day: 0 (Monday) to 6, from ``mon``…``sun``, a full name or a digit."""
    day = _WEEKDAY_NAMES.get(text.strip().lower())
    if day is None:
        raise refuse("weekday", "weekday_unknown", day=repr(text.strip()[:20]))
    return day


def check_language(text: str) -> str:
    language = text.strip().lower()
    if language not in LANGUAGES:
        raise refuse("language", "language_unknown", choices=tuple(map(repr, LANGUAGES)))
    return language


def check_max_papers(text: str) -> int:
    """The reader's own number of papers a digest, from MIN_PAPERS to MAX_PAPERS."""
    size = _small_int(text, MIN_PAPERS, MAX_PAPERS)
    if size is None:
        raise refuse("max_papers", "max_papers_range", low=MIN_PAPERS, high=MAX_PAPERS)
    return size


@dataclass
class Profile:
    """A checked profile: the values to store, and the reasons for any refused field."""

    email: str = ""
    name: str = ""
    categories: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)
    timezone: str = ""
    send_hour: int = 0
    language: str = ""
    max_papers: int | None = None  # None: not given, the setting's number applies
    cadence: str | None = None  # None: not given (a new reader is daily)
    weekday: int | None = None  # None: not given
    errors: list[ProfileError] = field(default_factory=list)

    def preferences(self) -> dict[str, object]:
        """The values under the model's names, as ``db.subscribers.update_preferences``
        takes them (``max_papers``, ``cadence`` and ``weekday`` only when given)."""
        values: dict[str, object] = {
            "categories": self.categories, "keywords": self.keywords,
            "excluded_keywords": self.exclusions, "timezone": self.timezone,
            "send_hour": self.send_hour, "language": self.language}
        optional = {"max_papers": self.max_papers, "cadence": self.cadence,
                    "weekday": self.weekday}
        values.update({k: v for k, v in optional.items() if v is not None})
        return values


def check_profile(*, categories: Iterable[str], keywords: Iterable[str],
                  exclusions: Iterable[str], timezone: str, send_hour: str, language: str,
                  known_categories: Sequence[str], name: str | None = None,
                  email: str | None = None, max_papers: str | None = None,
                  cadence: str | None = None, weekday: str | None = None,
                  smtputf8: bool = False, check_dns: bool = False) -> Profile:
    """Check every field (each one, so every bad field is reported at once).

    ``name``, ``email``, ``max_papers``, ``cadence`` and ``weekday`` are checked only when
    given (the preferences page sets no name or address; a CSV row may leave the digest
    size to the setting and the cadence as it is). A weekly cadence needs a weekday.
    """
    profile = Profile()

    def attempt(check: Callable[[], T], default: T) -> T:
        try:
            return check()
        except ProfileError as err:
            profile.errors.append(err)
            return default

    if email is not None:
        profile.email = attempt(lambda: check_address(email, smtputf8=smtputf8,
                                                      check_dns=check_dns), "")
    if name is not None:
        profile.name = attempt(lambda: check_name(name), "")
    profile.categories = attempt(lambda: check_categories(categories, known_categories), [])
    profile.keywords = attempt(lambda: check_items("keywords", keywords, "keywords"), [])
    profile.exclusions = attempt(lambda: check_items("exclusions", exclusions, "exclusions"),
                                 [])
    profile.timezone = attempt(lambda: check_zone(timezone), "")
    profile.send_hour = attempt(lambda: check_hour(send_hour), 0)
    profile.language = attempt(lambda: check_language(language), "")
    if max_papers is not None:
        size: str = max_papers
        profile.max_papers = attempt(lambda: check_max_papers(size), None)
    if cadence is not None:
        profile.cadence = attempt(lambda: check_cadence(cadence), None)
    if weekday is not None:
        profile.weekday = attempt(lambda: check_weekday(weekday), None)
    elif profile.cadence == WEEKLY:
        profile.errors.append(refuse("weekday", "weekday_missing"))
    failed = {e.field for e in profile.errors}
    if not profile.categories and not profile.keywords and not failed & {"categories",
                                                                          "keywords"}:
        profile.errors.append(refuse("categories", "nothing_chosen"))
    return profile
