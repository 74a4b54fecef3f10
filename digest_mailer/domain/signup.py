"""Sign-up with double opt-in, the pure part: the page's language and time zones, when the
first digest comes, what each sign-up email says, and what a request earns.

The service (:mod:`digest_mailer.services.signup`) reads and writes; everything decided
from (request, stored state, now) is decided here and tested with plain values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from zoneinfo import available_timezones

from digest_mailer import i18n
from digest_mailer.domain.schedule import DAILY, is_digest_day, zone

# The reason a confirmed sign-up's status change carries: the scheduler reads it to hold
# a reader who confirmed after today's send hour until the next one.
CONFIRMED = "confirmed sign-up"
# The reason of a pending subscriber the sign-up created: the daily purge deletes such a
# subscriber when nobody confirmed it.
SIGNED_UP = "signed up"

# The zones offered first to a reader of each language; a region in Accept-Language
# (zh-TW, en-GB) puts its own zones before these.
LANGUAGE_ZONES: dict[str, tuple[str, ...]] = {
    "zh": ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Macau", "Asia/Singapore"),
    "en": ("Europe/London", "America/New_York", "America/Chicago", "America/Denver",
           "America/Los_Angeles", "America/Toronto", "Europe/Dublin", "Australia/Sydney",
           "Pacific/Auckland", "Asia/Kolkata", "UTC"),
}
REGION_ZONES: dict[str, tuple[str, ...]] = {
    "CN": ("Asia/Shanghai",), "HK": ("Asia/Hong_Kong",), "TW": ("Asia/Taipei",),
    "MO": ("Asia/Macau",), "SG": ("Asia/Singapore",), "GB": ("Europe/London",),
    "IE": ("Europe/Dublin",), "US": ("America/New_York", "America/Chicago", "America/Denver",
                                     "America/Los_Angeles"),
    "CA": ("America/Toronto", "America/Vancouver"), "AU": ("Australia/Sydney",),
    "NZ": ("Pacific/Auckland",), "IN": ("Asia/Kolkata",),
}
_TAG = re.compile(r"^([A-Za-z]{1,8})(?:-([A-Za-z0-9]{1,8}))*$")


@dataclass(frozen=True)
class Locale:
    """The language a page speaks and, when the browser said, the reader's region."""

    language: str
    region: str = ""


def accepted_locale(header: str | None) -> Locale:
    """The best of our languages in an ``Accept-Language`` header (RFC 9110 q-values),
    with the region of the tag that chose it; English when none of ours is asked for."""
    best: tuple[float, int, Locale] | None = None
    for position, item in enumerate((header or "")[:512].split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if not _TAG.match(tag) or quality <= 0:
            continue
        parts = tag.split("-")
        language = parts[0].lower()
        if language not in i18n.LANGUAGES:
            continue
        region = next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), "")
        if language == "zh" and not region and "Hant" in parts:
            region = "TW"
        if best is None or quality > best[0]:
            best = (quality, position, Locale(language, region))
    return best[2] if best else Locale(i18n.REFERENCE)


@lru_cache(maxsize=1)
def _every_zone() -> tuple[str, ...]:
    named = (z for z in available_timezones()
             if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/")))
    return (*sorted(named), "UTC")


def zone_choices(locale: Locale) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the zones offered first, every other zone): the region's, then the language's."""
    first = tuple(dict.fromkeys(z for z in (*REGION_ZONES.get(locale.region, ()),
                                            *LANGUAGE_ZONES.get(locale.language, ()))
                                if z in _every_zone()))
    return first, tuple(z for z in _every_zone() if z not in first)


def first_digest_at(confirmed: datetime, timezone: str, send_hour: int,
                    cadence: str = DAILY, weekday: int = 0) -> datetime:
    """When a reader who confirmed at ``confirmed`` gets the first digest (local time): at
    today's send hour if it is still to come and today is a digest day, else at the next
    digest day's (tomorrow, for a daily reader)."""
    tz = zone(timezone)
    local = confirmed.astimezone(tz)
    if local.hour < send_hour and is_digest_day(local.date(), cadence, weekday):
        return datetime.combine(local.date(), time(send_hour), tz)
    return next_digest_at(local.date(), timezone, send_hour, cadence, weekday)


def welcome_digest_date(confirmed: datetime, timezone: str, cadence: str = DAILY,
                        weekday: int = 0) -> date:
    """The ledger date a first digest sent at once (``DIGEST_WELCOME_DIGEST=now``) takes:
    the latest local digest day up to today, the key the normal path uses for a digest due
    now. Today's digest is then done, so none comes twice for a date, and the next digest
    day's still comes (:func:`next_digest_at`)."""
    day = confirmed.astimezone(zone(timezone)).date()
    while not is_digest_day(day, cadence, weekday):
        day -= timedelta(days=1)
    return day


def next_digest_at(after: date, timezone: str, send_hour: int, cadence: str = DAILY,
                   weekday: int = 0) -> datetime:
    """The send time (local) of the first digest day after ``after``."""
    day = after + timedelta(days=1)
    while not is_digest_day(day, cadence, weekday):
        day += timedelta(days=1)
    return datetime.combine(day, time(send_hour), zone(timezone))


def held_since(status_reason: str | None, status_changed_at: datetime | None
               ) -> datetime | None:
    """For the scheduler: the time a reader confirmed a sign-up (today's digest is not due
    when that was after today's send hour), or None for anyone else."""
    return status_changed_at if status_reason == CONFIRMED else None


# --- what a request earns ---------------------------------------------------------------

class Verdict(Enum):
    """What a valid sign-up request leads to. Each is answered with the same page."""

    CONFIRM = "confirm"  # send a confirmation email
    ALREADY = "already"  # an active subscriber: send the "already subscribed" email
    QUIET = "quiet"  # within the resend limits: send nothing


@dataclass(frozen=True)
class Limits:
    """How often one address may be mailed by sign-ups, and for how long links work."""

    resend: timedelta = timedelta(hours=1)
    per_day: int = 3  # emails to one address in 24 hours, whatever is asked
    confirm_expiry: timedelta = timedelta(hours=48)


def verdict(status: str | None, sent: list[datetime], now: datetime, limits: Limits) -> Verdict:
    """What a valid request for an address earns: ``status`` is the subscriber's (None for
    an unknown address), ``sent`` when sign-ups last mailed it (any order)."""
    if any(now - at < limits.resend for at in sent):
        return Verdict.QUIET
    if sum(now - at < timedelta(days=1) for at in sent) >= limits.per_day:
        return Verdict.QUIET
    return Verdict.ALREADY if status == "active" else Verdict.CONFIRM


# --- the emails -------------------------------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """A short email in the reader's language: a heading, paragraphs, one button."""

    language: str
    subject: str
    heading: str
    paragraphs: tuple[str, ...]
    action_url: str
    action_label: str
    footer: tuple[str, ...] = field(default_factory=tuple)
    unsubscribe_url: str = ""  # the welcome's: the reader is on the list from now on


def _greeting(t: dict[str, str], name: str) -> str:
    return (t["email.signup.hello_name"].format(name=name) if name
            else t["email.signup.hello"])


def confirmation_notice(language: str, name: str, url: str, expiry: timedelta) -> Notice:
    t = dict(i18n.texts(language))
    hours = int(expiry / timedelta(hours=1))
    return Notice(language, t["email.signup.confirm_subject"], _greeting(t, name),
                  (t["email.signup.confirm_text"],
                   t["email.signup.confirm_expiry"].format(hours=hours)),
                  url, t["email.signup.confirm_button"], (t["email.signup.not_you"],))


def already_notice(language: str, name: str, preferences_url: str) -> Notice:
    t = dict(i18n.texts(language))
    return Notice(language, t["email.signup.already_subject"], _greeting(t, name),
                  (t["email.signup.already_text"],), preferences_url,
                  t["email.signup.already_button"], (t["email.signup.not_you"],))


def welcome_notice(language: str, name: str, *, first_date: str, first: datetime,
                   chosen: str, preferences_url: str, unsubscribe_url: str,
                   sent_now: bool = False, cadence: str = DAILY, weekday: int = 0) -> Notice:
    """The welcome: when the first digest comes (``first``, local; ``first_date`` its date
    as the language writes it), how often, and what it follows (``chosen``, already
    joined). ``sent_now``: the first digest is on its way already and ``first`` is the
    next one."""
    t = dict(i18n.digest_texts(language, cadence))
    when = t["email.signup.welcome_now" if sent_now else "email.signup.welcome_first"]
    return Notice(
        language, t["email.signup.welcome_subject"], _greeting(t, name),
        (when.format(date=first_date, time=f"{first:%H:%M}", zone=str(first.tzinfo),
                     weekday=t[f"page.preferences.weekday.{weekday}"]),
         t["email.signup.welcome_what"].format(chosen=chosen),
         t["email.signup.welcome_change"]),
        preferences_url, t["email.signup.welcome_button"],
        (t["email.signup.welcome_unsubscribe"],), unsubscribe_url)
