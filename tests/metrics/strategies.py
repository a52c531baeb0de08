"""Hypothesis strategies shared by the metrics tests: random calendars and instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from somebound.metrics.calendar import BusinessCalendar

ZONES = ["Europe/Helsinki", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe",
         "America/St_Johns", "Pacific/Chatham", "Europe/Dublin", "UTC"]  # fmt: skip
BASE = datetime(2026, 3, 20, tzinfo=UTC)  # spans the March DST changes (EU and US)


@st.composite
def day_hours(draw) -> tuple[tuple[int, int], ...]:  # noqa: ANN001
    """0-3 non-overlapping HH:MM spans of a day, sometimes touching midnight."""
    cuts = sorted(set(draw(st.lists(st.integers(0, 24 * 60), min_size=0, max_size=6))))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    return tuple((cuts[i] * 60, cuts[i + 1] * 60) for i in range(0, len(cuts), 2)
                 if cuts[i] < cuts[i + 1])  # fmt: skip


@st.composite
def calendars(draw) -> BusinessCalendar:  # noqa: ANN001
    if draw(st.booleans()) and draw(st.booleans()):
        return BusinessCalendar.always_open()
    weekly = tuple(draw(day_hours()) for _ in range(7))
    holidays = {
        BASE.date() + timedelta(days=d): draw(day_hours())
        for d in draw(st.lists(st.integers(-2, 40), max_size=4))
    }
    return BusinessCalendar("c", draw(st.sampled_from(ZONES)), weekly, holidays)


instants = st.integers(0, 35 * 24 * 3600 * 10**6).map(lambda us: BASE + timedelta(microseconds=us))
