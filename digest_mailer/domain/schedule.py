"""When a subscriber's digest is due: pure functions of (subscriber, now), tested with datetimes.

Huey's crontab runs in UTC; local send hours are decided here, from the database state,
so a missed tick or a lost task is simply picked up by the next tick.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_date(now: datetime, timezone: str, send_hour: int,
             held_since: datetime | None = None) -> date | None:
    """The local date whose digest is due at ``now``, or None before the send hour.

    ``held_since``: a reader who confirmed a sign-up then, after that day's send hour,
    gets nothing that day (their first digest comes at the next send hour, as the welcome
    email said).
    """
    tz = zone(timezone)
    local = now.astimezone(tz)
    if local.hour < send_hour:
        return None
    if held_since is not None and held_since > datetime.combine(local.date(), time(send_hour),
                                                                tz):
        return None
    return local.date()
