"""Business time and local time in SQL equal the Python reference, on random inputs.

The SQL lookups (:mod:`somebound.metrics.clock_sql`) replace a NumPy ``searchsorted`` per
contact and an ICU conversion per row; they must give exactly the same numbers for any
calendar (holidays, short days, breaks, daylight saving, odd offsets) and any instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from somebound.metrics.calendar import DAY, BusinessCalendar, business_seconds
from somebound.metrics.clock_sql import build_clock_table, local_sql, offset_changes

from .strategies import BASE, ZONES, calendars, instants


def _sql_business(cals, pairs, **kw) -> list[float]:  # noqa: ANN001
    times = [t for p in pairs for t in p[1:]]
    lo, hi = min(times), max(times)
    clock = build_clock_table(tuple(cals), lo, hi, **kw)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    clock.register(con, "clk")
    df = pd.DataFrame({
        "i": range(len(pairs)), "cal": pd.array([p[0] for p in pairs], dtype="int32"),
        "a": pd.to_datetime([p[1] for p in pairs]).tz_convert(None),
        "b": pd.to_datetime([p[2] for p in pairs]).tz_convert(None),
    })  # fmt: skip
    con.register("src", df)
    sql = clock.lookup_sql("src", "cal", {"ca": "a", "cb": "b"}, "clk")
    return [r[0] for r in con.sql(f"SELECT (cb - ca) / 1e6 FROM ({sql}) ORDER BY i").fetchall()]


def _python_business(cal: BusinessCalendar, a: datetime, b: datetime) -> float:
    return float(business_seconds(cal, [a], [b])[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cals=st.lists(calendars(), min_size=1, max_size=3),
       raw=st.lists(st.tuples(st.integers(0, 2), instants, instants), min_size=1, max_size=30),
       fallback=st.booleans())  # fmt: skip
def test_sql_business_seconds_equal_the_python_calendar(cals, raw, fallback):  # noqa: ANN001
    pairs = [(i % len(cals), a, b) for i, a, b in raw]
    got = _sql_business(cals, pairs, **({"widths": ()} if fallback else {}))
    want = [_python_business(cals[i], a, b) for i, a, b in pairs]
    assert got == want


@settings(max_examples=30, deadline=None)
@given(cal=calendars(), a=instants, b=instants, h=instants)
def test_horizon_cum_in_python_matches_the_table(cal, a, b, h):  # noqa: ANN001
    # Elapsed business time to the SLA horizon: table value at ``a`` vs Python at ``h``.
    clock = build_clock_table((cal,), min(a, b), max(a, b))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    clock.register(con, "clk")
    con.register("src", pd.DataFrame({"cal": pd.array([0], dtype="int32"),
                                      "a": [a.replace(tzinfo=None)]}))  # fmt: skip
    (cum_a,) = con.sql(
        f"SELECT c FROM ({clock.lookup_sql('src', 'cal', {'c': 'a'}, 'clk')})"
    ).fetchall()[0]
    assert (clock.cum_at(0, h) - cum_a) / 1e6 == _python_business(cal, a, h)


def test_bucket_width_is_the_widest_exact_one_and_breaks_still_work():
    office = BusinessCalendar("o", "Europe/Helsinki",
                              tuple(((8 * 3600, 16 * 3600),) for _ in range(7)))  # fmt: skip
    assert build_clock_table((office,), BASE, BASE + timedelta(days=30)).width_us == 3600 * 10**6
    lunch = BusinessCalendar(
        "l",
        "Asia/Kathmandu",
        tuple(((8 * 3600, 12 * 3600 + 600), (12 * 3600 + 1200, 16 * 3600)) for _ in range(7)),
    )
    clock = build_clock_table((lunch,), BASE, BASE + timedelta(days=3))
    assert clock.width_us == 300 * 10**6  # 12:10 / 12:20 local at +5:45
    a, b = BASE + timedelta(hours=6, minutes=21), BASE + timedelta(hours=6, minutes=37)
    assert _sql_business([lunch], [(0, a, b)]) == [_python_business(lunch, a, b)]


def test_calendar_never_open_and_whole_day_spans():
    closed = BusinessCalendar("x", "UTC", tuple(() for _ in range(7)))
    full = BusinessCalendar("f", "UTC", tuple(((0, DAY),) for _ in range(7)),
                            holidays={date(2026, 3, 25): ()})  # fmt: skip
    a, b = BASE, BASE + timedelta(days=10, minutes=7)
    assert _sql_business([closed, full], [(0, a, b), (1, a, b)]) == [0.0, 9 * 86400 + 420.0]


def _icu(con: duckdb.DuckDBPyConnection, tz: str, ts: list[datetime]) -> list:
    con.register(
        "t", pd.DataFrame({"i": range(len(ts)), "at": [t.replace(tzinfo=None) for t in ts]})
    )
    zone = tz.replace("'", "''")
    return [
        r[0]
        for r in con.sql(
            f"SELECT timezone('{zone}', timezone('UTC', \"at\")) FROM t ORDER BY i"
        ).fetchall()
    ]


@settings(max_examples=40, deadline=None)
@given(tz=st.sampled_from([*ZONES, "Africa/Monrovia"]),
       start=st.integers(0, 60 * 365 * 86400), span=st.integers(1, 400 * 86400),
       offsets=st.lists(st.floats(0, 1), min_size=1, max_size=20))  # fmt: skip
def test_local_time_case_equals_icu_per_row(tz, start, span, offsets):  # noqa: ANN001
    lo = datetime(1968, 1, 1, tzinfo=UTC) + timedelta(seconds=start)
    hi = lo + timedelta(seconds=span)
    ts = [lo + timedelta(seconds=int(f * span)) for f in offsets]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    want = _icu(con, tz, ts)
    expr = local_sql('"at"', tz, lo, hi)
    got = [r[0] for r in con.sql(f"SELECT {expr} FROM t ORDER BY i").fetchall()]
    assert got == want


def test_offset_changes_cover_daylight_saving_and_fall_back_for_decades():
    changes = offset_changes("Europe/Helsinki", datetime(2026, 1, 1, tzinfo=UTC),
                             datetime(2026, 12, 31, tzinfo=UTC))  # fmt: skip
    assert [o // 3_600_000_000 for _, o in changes] == [2, 3, 2]
    assert changes[1][0] == int(datetime(2026, 3, 29, 1, tzinfo=UTC).timestamp()) * 10**6
    assert offset_changes("Europe/Helsinki", datetime(1990, 1, 1, tzinfo=UTC),
                          datetime(2030, 1, 1, tzinfo=UTC)) is None  # fmt: skip
    assert "timezone(" in local_sql("x", "Europe/Helsinki", datetime(1990, 1, 1, tzinfo=UTC),
                                    datetime(2030, 1, 1, tzinfo=UTC))  # fmt: skip
    assert np.isclose(len(offset_changes("UTC", BASE, BASE + timedelta(days=900))), 1)
