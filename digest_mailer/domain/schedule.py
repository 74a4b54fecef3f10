"""When a subscriber's digest is due: pure functions of (subscriber, now), tested with datetimes.

Huey's crontab runs in UTC; local send hours are decided here, from the database state,
so a missed tick or a lost task is simply picked up by the next tick.

A daily reader's digest is due every local day from the send hour on; a weekly reader's
only on their weekday (0 = Monday, as ``date.weekday()``). Either way the digest's date,
the key of its row in the exactly-once ledger (db/deliveries.py), is the local date it is
due on: one date a day, or one a week, so a retry or a second tick finds the same row.
A weekday missed entirely (the job did not run) is not made up the next day: the next
weekly digest starts where the last one ended, so it covers both weeks.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAILY, WEEKLY = "daily", "weekly"
CADENCES = (DAILY, WEEKLY)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
# A weekly reader's first digest covers this much (a daily one's: the lookback setting).
WEEK = timedelta(days=7)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_digest_day(day: date, cadence: str = DAILY, weekday: int = 0) -> bool:
    """Whether a reader of this cadence gets a digest dated ``day``."""
    return cadence != WEEKLY or day.weekday() == weekday


def due_date(now: datetime, timezone: str, send_hour: int, cadence: str = DAILY,
             weekday: int = 0, held_since: datetime | None = None) -> date | None:
    """The local date whose digest is due at ``now``, or None before the send hour (and,
    for a weekly reader, on any other day than their weekday).

    ``held_since``: a reader who confirmed a sign-up then, after that day's send hour,
    gets nothing that day (their first digest comes at the next send hour, as the welcome
    email said).
    """
    tz = zone(timezone)
    local = now.astimezone(tz)
    if local.hour < send_hour or not is_digest_day(local.date(), cadence, weekday):
        return None
    if held_since is not None and held_since > datetime.combine(local.date(), time(send_hour),
                                                                tz):
        return None
    return local.date()
