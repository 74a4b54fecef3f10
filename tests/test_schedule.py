"""due_date: a pure function of an aware datetime, a zone name and an hour."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest_mailer.domain.schedule import WEEKDAYS, due_date, is_digest_day, zone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_date(now: datetime, tz: str) -> date:
    """The subscriber's calendar date at ``now``, through the real path: at send hour 0 a
    digest is always due, so due_date answers with the local date itself."""
    due = due_date(now, tz, 0)
    assert due is not None
    return due


# --- the local date ------------------------------------------------------------------------

@pytest.mark.parametrize("now, tz, expected", [
    (utc(2026, 5, 10, 20, 0), "Asia/Tokyo", date(2026, 5, 11)),           # 05:00 JST
    (utc(2026, 5, 10, 14, 59), "Asia/Tokyo", date(2026, 5, 10)),          # 23:59 JST
    (utc(2026, 5, 10, 3, 0), "America/Los_Angeles", date(2026, 5, 9)),    # 20:00 PDT
    (utc(2026, 1, 10, 8, 0), "America/Los_Angeles", date(2026, 1, 10)),   # 00:00 PST
    (utc(2026, 1, 10, 7, 59), "America/Los_Angeles", date(2026, 1, 9)),   # 23:59 PST
    (utc(2026, 5, 10, 10, 0), "Pacific/Kiritimati", date(2026, 5, 11)),   # 00:00 +14
    (utc(2026, 5, 10, 9, 59), "Pacific/Kiritimati", date(2026, 5, 10)),   # 23:59 +14
    (utc(2026, 5, 10, 10, 0), "Pacific/Pago_Pago", date(2026, 5, 9)),     # 23:00 -11
    (utc(2026, 5, 10, 11, 0), "Pacific/Pago_Pago", date(2026, 5, 10)),    # 00:00 -11
    (utc(2026, 5, 10, 23, 59), "UTC", date(2026, 5, 10)),
])
def test_local_date(now: datetime, tz: str, expected: date) -> None:
    assert local_date(now, tz) == expected


def test_same_instant_is_two_days_apart_across_the_date_line() -> None:
    now = utc(2026, 5, 10, 10, 30)
    assert local_date(now, "Pacific/Kiritimati") - local_date(now, "Pacific/Pago_Pago") \
        == timedelta(days=2)


def test_local_date_accepts_any_aware_datetime() -> None:
    tokyo_morning = datetime(2026, 5, 11, 5, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert local_date(tokyo_morning, "America/Los_Angeles") == date(2026, 5, 10)
    assert local_date(tokyo_morning, "UTC") == date(2026, 5, 10)


# --- due_date: send hour ----------------------------------------------------------------------

@pytest.mark.parametrize("now, tz, hour, expected", [
    (utc(2026, 5, 10, 21, 59), "Asia/Tokyo", 7, None),                     # 06:59 JST
    (utc(2026, 5, 10, 22, 0), "Asia/Tokyo", 7, date(2026, 5, 11)),         # 07:00 JST
    (utc(2026, 5, 11, 14, 59), "Asia/Tokyo", 7, date(2026, 5, 11)),        # 23:59 JST
    (utc(2026, 5, 11, 13, 59), "America/Los_Angeles", 7, None),            # 06:59 PDT
    (utc(2026, 5, 11, 14, 0), "America/Los_Angeles", 7, date(2026, 5, 11)),
    (utc(2026, 5, 10, 16, 59), "Pacific/Kiritimati", 7, None),             # 06:59 +14
    (utc(2026, 5, 10, 17, 0), "Pacific/Kiritimati", 7, date(2026, 5, 11)),
    (utc(2026, 5, 10, 17, 59), "Pacific/Pago_Pago", 7, None),              # 06:59 -11
    (utc(2026, 5, 10, 18, 0), "Pacific/Pago_Pago", 7, date(2026, 5, 10)),
    (utc(2026, 5, 10, 0, 0), "UTC", 0, date(2026, 5, 10)),
    (utc(2026, 5, 10, 22, 59), "UTC", 23, None),
    (utc(2026, 5, 10, 23, 0), "UTC", 23, date(2026, 5, 10)),
])
def test_due_date_before_and_after_send_hour(now: datetime, tz: str, hour: int,
                                             expected: date | None) -> None:
    assert due_date(now, tz, hour) == expected


# --- due_date: daylight saving time (Europe/Berlin) ------------------------------------------
# 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC; the 02:xx hour does not exist.
# 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC; the 02:xx hour happens twice.

@pytest.mark.parametrize("now, hour, expected", [
    (utc(2026, 3, 29, 0, 59), 2, None),                    # 01:59 CET
    (utc(2026, 3, 29, 1, 0), 2, date(2026, 3, 29)),        # 03:00 CEST: the skipped hour is due
    (utc(2026, 3, 29, 1, 0), 3, date(2026, 3, 29)),        # 03:00 CEST
    (utc(2026, 3, 29, 0, 59), 1, date(2026, 3, 29)),       # 01:59 CET
    (utc(2026, 3, 29, 4, 59), 7, None),                    # 06:59 CEST
    (utc(2026, 3, 29, 5, 0), 7, date(2026, 3, 29)),        # 07:00 CEST (UTC+2)
    (utc(2026, 3, 28, 5, 59), 7, None),                    # 06:59 CET the day before
    (utc(2026, 3, 28, 6, 0), 7, date(2026, 3, 28)),        # 07:00 CET (UTC+1)
])
def test_due_date_spring_forward_berlin(now: datetime, hour: int, expected: date | None) -> None:
    assert due_date(now, "Europe/Berlin", hour) == expected


@pytest.mark.parametrize("now, hour, expected", [
    (utc(2026, 10, 24, 23, 59), 2, None),                  # 01:59 CEST
    (utc(2026, 10, 25, 0, 0), 2, date(2026, 10, 25)),      # 02:00 CEST, first time
    (utc(2026, 10, 25, 1, 30), 2, date(2026, 10, 25)),     # 02:30 CET, second time: same date
    (utc(2026, 10, 25, 0, 30), 3, None),                   # 02:30 CEST
    (utc(2026, 10, 25, 1, 30), 3, None),                   # 02:30 CET
    (utc(2026, 10, 25, 2, 0), 3, date(2026, 10, 25)),      # 03:00 CET
    (utc(2026, 10, 25, 5, 59), 7, None),                   # 06:59 CET
    (utc(2026, 10, 25, 6, 0), 7, date(2026, 10, 25)),      # 07:00 CET (UTC+1)
    (utc(2026, 10, 24, 5, 0), 7, date(2026, 10, 24)),      # 07:00 CEST the day before
])
def test_due_date_fall_back_berlin(now: datetime, hour: int, expected: date | None) -> None:
    assert due_date(now, "Europe/Berlin", hour) == expected


def test_spring_forward_day_becomes_due_at_the_first_tick_after_the_jump() -> None:
    """Five-minute ticks from local midnight: the date becomes due at 03:00 CEST and stays due."""
    start = utc(2026, 3, 28, 23, 0)  # 00:00 CET on 2026-03-29
    results = [due_date(start + timedelta(minutes=5 * i), "Europe/Berlin", 2)
               for i in range(12 * 5)]
    due = [r for r in results if r is not None]
    assert set(due) == {date(2026, 3, 29)}
    first = results.index(date(2026, 3, 29))
    assert start + timedelta(minutes=5 * first) == utc(2026, 3, 29, 1, 0)
    assert all(r == date(2026, 3, 29) for r in results[first:])


# --- unknown zones ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../../etc/passwd", "Not a zone"])
def test_unknown_zone_falls_back_to_utc(name: str) -> None:
    assert zone(name) == ZoneInfo("UTC")
    late = utc(2026, 5, 10, 23, 30)  # 2026-05-11 in any zone east of UTC+0:30
    assert local_date(late, name) == date(2026, 5, 10)
    assert due_date(utc(2026, 5, 10, 6, 59), name, 7) is None
    assert due_date(utc(2026, 5, 10, 7, 0), name, 7) == date(2026, 5, 10)


def test_known_zone_is_not_replaced() -> None:
    assert zone("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")


# --- weekly readers: due on their weekday only, in their own time zone ---------------------
# 2026-05-11 is a Monday (weekday 0).

def test_a_weekly_reader_is_due_once_a_week_on_their_weekday() -> None:
    """Hourly ticks over four weeks: one due date a week, each on the chosen weekday."""
    for weekday in range(7):
        ticks = [utc(2026, 5, 4) + timedelta(hours=h) for h in range(24 * 28)]
        due = {due_date(now, "UTC", 7, "weekly", weekday) for now in ticks} - {None}
        assert len(due) == 4, weekday
        assert {d.weekday() for d in due if d is not None} == {weekday}


@pytest.mark.parametrize("now, tz, expected", [
    (utc(2026, 5, 10, 21, 59), "Asia/Tokyo", None),               # Mon 06:59 JST
    (utc(2026, 5, 10, 22, 0), "Asia/Tokyo", date(2026, 5, 11)),   # Mon 07:00 JST, Sun in UTC
    (utc(2026, 5, 11, 14, 59), "Asia/Tokyo", date(2026, 5, 11)),  # Mon 23:59 JST
    (utc(2026, 5, 11, 15, 0), "Asia/Tokyo", None),                # Tue 00:00 JST
    (utc(2026, 5, 11, 13, 59), "America/Los_Angeles", None),      # Mon 06:59 PDT
    (utc(2026, 5, 11, 14, 0), "America/Los_Angeles", date(2026, 5, 11)),
    (utc(2026, 5, 12, 6, 59), "America/Los_Angeles", date(2026, 5, 11)),  # Mon 23:59 PDT
    (utc(2026, 5, 12, 7, 0), "America/Los_Angeles", None),        # Tue 00:00 PDT, Tue in UTC
    (utc(2026, 5, 11, 7, 0), "UTC", date(2026, 5, 11)),
    (utc(2026, 5, 18, 7, 0), "UTC", date(2026, 5, 18)),           # the next Monday
    (utc(2026, 5, 12, 7, 0), "UTC", None),
])
def test_the_weekday_is_the_readers_local_one(now: datetime, tz: str,
                                              expected: date | None) -> None:
    assert due_date(now, tz, 7, "weekly", 0) == expected


def test_a_daily_reader_ignores_the_weekday() -> None:
    for day in range(11, 18):
        now = utc(2026, 5, day, 8)
        assert due_date(now, "UTC", 7, "daily", 3) == due_date(now, "UTC", 7) == now.date()
        assert is_digest_day(now.date(), "daily", 3)


def test_is_digest_day_and_the_weekday_names() -> None:
    monday = date(2026, 5, 11)
    assert [is_digest_day(monday + timedelta(days=n), "weekly", 2) for n in range(7)] == [
        False, False, True, False, False, False, False]
    assert WEEKDAYS[monday.weekday()] == "mon" and len(WEEKDAYS) == 7
