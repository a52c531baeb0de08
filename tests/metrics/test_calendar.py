from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from somebound.metrics.calendar import BusinessCalendar, business_seconds

HKI = ZoneInfo("Europe/Helsinki")
WEEKDAY_8_16 = tuple(((8 * 3600, 16 * 3600),) if d < 5 else () for d in range(7))
OFFICE = BusinessCalendar(
    "office", "Europe/Helsinki", WEEKDAY_8_16, holidays={date(2026, 12, 24): ()}
)


def hki(*args: int) -> datetime:
    return datetime(*args, tzinfo=HKI)


def bs(cal: BusinessCalendar, a: datetime, b: datetime) -> float:
    return float(business_seconds(cal, [a], [b])[0])


def test_friday_afternoon_to_monday_morning_counts_only_open_hours():
    # 15:00 Fri -> 09:00 Mon local: one hour on Friday, one on Monday.
    assert bs(OFFICE, hki(2026, 11, 6, 15), hki(2026, 11, 9, 9)) == 7200


def test_holiday_is_closed_all_day():
    # Wed 23 Dec 15:00 -> Fri 25 Dec 09:00: Thu 24 is a holiday, Fri 25 is open 8-16.
    assert bs(OFFICE, hki(2026, 12, 23, 15), hki(2026, 12, 25, 9)) == 3600 + 3600


def test_opening_hours_follow_local_time_across_daylight_saving_change():
    every_day = BusinessCalendar("d", "Europe/Helsinki", tuple(((8 * 3600, 16 * 3600),)
                                                                for _ in range(7)))
    # DST began 2026-03-29 in Helsinki: 08:00 local is 06:00 UTC before, 05:00 UTC after.
    assert bs(every_day, datetime(2026, 3, 28, 6, tzinfo=UTC),
              datetime(2026, 3, 28, 7, tzinfo=UTC)) == 3600
    assert bs(every_day, datetime(2026, 3, 30, 5, tzinfo=UTC),
              datetime(2026, 3, 30, 6, tzinfo=UTC)) == 3600
    assert bs(every_day, datetime(2026, 3, 30, 4, tzinfo=UTC),
              datetime(2026, 3, 30, 5, tzinfo=UTC)) == 0
    assert bs(every_day, datetime(2026, 3, 27, tzinfo=UTC),
              datetime(2026, 3, 31, tzinfo=UTC)) == 4 * 8 * 3600


def test_nat_gives_nan_and_always_open_is_wall_clock():
    a = np.array(["2026-11-02T10:00", "NaT"], dtype="datetime64[us]")
    b = np.array(["2026-11-02T12:30", "2026-11-02T12:00"], dtype="datetime64[us]")
    out = business_seconds(OFFICE, a, b)
    assert out[0] == 2.5 * 3600 and np.isnan(out[1])
    assert business_seconds(BusinessCalendar.always_open(), a[:1], b[:1])[0] == 9000


def _reference(cal: BusinessCalendar, a: datetime, b: datetime) -> float:
    """Brute force: count open minutes one by one (times are whole minutes)."""
    total, t = 0, a
    while t < b:
        local = t.astimezone(ZoneInfo(cal.timezone))
        sec = local.hour * 3600 + local.minute * 60
        if any(s <= sec < e for s, e in cal.hours_on(local.date())):
            total += 60
        t += timedelta(minutes=1)
    return float(total)


minutes = st.integers(min_value=0, max_value=6 * 24 * 60)


@settings(max_examples=40, deadline=None)
@given(minutes, minutes, minutes)
def test_matches_brute_force_and_is_additive(x: int, y: int, z: int):
    base = datetime(2026, 12, 21, tzinfo=UTC)  # a week with a holiday
    a, b, c = sorted(base + timedelta(minutes=m) for m in (x, y, z))
    ab, bc, ac = bs(OFFICE, a, b), bs(OFFICE, b, c), bs(OFFICE, a, c)
    assert ab == _reference(OFFICE, a, b)
    assert ab + bc == ac
    assert 0 <= ac <= (c - a).total_seconds()
