"""When a subscriber's digest is due: pure functions of (subscriber, now), tested with datetimes.

Huey's crontab runs in UTC; local send hours are decided here, from the database state,
so a missed tick or a lost task is simply picked up by the next tick.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_date(now: datetime, timezone: str, send_hour: int) -> date | None:
    """The local date whose digest is due at ``now``, or None before the send hour."""
    local = now.astimezone(zone(timezone))
    return local.date() if local.hour >= send_hour else None
