"""Business time and local time as DuckDB SQL, so KPIs never build a per-contact frame.

Business seconds between two instants are ``cum(b) - cum(a)``, where ``cum`` is the open
time of a calendar since some origin (:mod:`somebound.metrics.calendar`). In NumPy that is
a ``searchsorted`` over the open intervals; in SQL a range (ASOF) join costs ~0.4 s CPU per
million lookups. Opening hours start and end on whole minutes (usually whole hours) in
UTC, so :func:`build_clock_table` cuts the data's time span into UTC buckets of the
largest width that divides every boundary — each bucket is then entirely open or entirely
closed — and stores per calendar and bucket ``2 * cum(bucket start) + open``. ``cum(t)``
is one list lookup by ``epoch_us(t) // width`` plus ``t % width`` if the bucket is open:
exact, and ~0.06-0.1 s CPU per million. When the buckets would be too many (boundaries on
odd seconds, a span of decades) it falls back to the range join over the intervals.

The table is derived from the policy at query time and covers only the span of the data
being scored, so editing a calendar re-scores history.

Local time (hour/day/week buckets in the report zone) is the UTC instant plus the zone's
offset. The offset is piecewise constant, so :func:`local_sql` renders it as a ``CASE``
over the few offset changes inside the period instead of an ICU conversion per row
(~1 µs each); with too many changes (decades) it falls back to DuckDB's ``timezone()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa

from somebound.metrics.calendar import BusinessCalendar, BusinessClock

US = 1_000_000
BUCKET_WIDTHS_US = (3600 * US, 900 * US, 300 * US, 60 * US, US)  # widest exact one wins
MAX_CLOCK_ROWS = 4_000_000
MAX_OFFSET_CHANGES = 64


@dataclass(frozen=True)
class ClockTable:
    """Open time per calendar (index into ``calendars``) as a lookup for SQL.

    Bucketed (``width_us > 0``): one row with the list ``v``; element
    ``cal * n_buckets + (epoch_us // width_us - first_bucket) + 1`` is
    ``2 * cum(bucket start) + (1 if the bucket is open else 0)``. Interval form
    (``width_us == 0``, the fallback): rows ``cal, s, e, cum`` for a range (ASOF) join.
    ``cum`` counts open µs from ``origin_us``; only differences of it mean anything.
    """

    calendars: tuple[BusinessCalendar, ...]
    width_us: int
    first_bucket: int
    n_buckets: int
    origin_us: int
    table: pa.Table

    def register(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        con.register(name, self.table)

    def lookup_sql(self, src: str, cal: str, times: dict[str, str], name: str) -> str:
        """SQL: ``src``'s rows plus, per ``out: timestamp column`` of ``times``, the open
        µs of calendar ``cal`` (an integer column of ``src``) from the origin up to it
        (NULL for a NULL time). ``name``: the relation :meth:`register` made."""
        if self.width_us:
            w, n, first = self.width_us, self.n_buckets, self.first_bucket
            cols = []
            for out, t in times.items():
                v = f"{name}.v[{cal} * {n} + epoch_us(s.{t}) // {w} - {first} + 1]"
                cols.append(f"({v} >> 1) + ({v} & 1) * (epoch_us(s.{t}) % {w}) AS {out}")
            return f"SELECT s.*, {', '.join(cols)} FROM {src} s, {name}"
        joins, cols = [], []
        for i, (out, t) in enumerate(times.items()):
            joins.append(
                f"ASOF LEFT JOIN {name} j{i} ON j{i}.cal = s.{cal} AND epoch_us(s.{t}) >= j{i}.s"
            )
            cols.append(
                f"CASE WHEN s.{t} IS NOT NULL THEN coalesce(j{i}.cum + least(greatest("
                f"epoch_us(s.{t}) - j{i}.s, 0), j{i}.e - j{i}.s), 0) END AS {out}"
            )
        return f"SELECT s.*, {', '.join(cols)} FROM {src} s {' '.join(joins)}"

    def cum_at(self, cal_index: int, t: datetime) -> int:
        """The same ``cum`` for one instant anywhere (e.g. the SLA horizon), in Python."""
        cal = self.calendars[cal_index]
        o = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=self.origin_us)
        t = _aware(t)
        if cal.is_always_open:
            return int((t - o) / timedelta(microseconds=1))
        clock = BusinessClock(cal, min(o, t), max(o, t))
        ts = np.array([_epoch_us(o), _epoch_us(t)], dtype=np.int64)
        c0, c1 = clock.cumulative_us(ts)
        return int(c1 - c0)


def build_clock_table(
    calendars: tuple[BusinessCalendar, ...],
    lo: datetime,
    hi: datetime,
    *,
    widths: tuple[int, ...] = BUCKET_WIDTHS_US,
    max_rows: int = MAX_CLOCK_ROWS,
) -> ClockTable:
    """The lookup table for ``calendars`` over ``[lo, hi]`` (the data's time span)."""
    lo_us, hi_us = sorted((_epoch_us(_aware(lo)), _epoch_us(_aware(hi))))
    ivs = [_intervals(c, lo_us, hi_us) for c in calendars]
    bounds = np.concatenate([iv.ravel() for iv in ivs] + [np.zeros(0, np.int64)])
    for w in widths:
        if lo_us < 0 or (bounds % w).any():
            continue
        first, last = lo_us // w, hi_us // w
        n = int(last - first + 1)
        if n * len(calendars) > max_rows:
            continue
        origin = int(first * w)
        starts = np.arange(first, last + 1, dtype=np.int64) * w
        v = []
        for iv in ivs:
            cum = _cum_at(iv, starts, origin)
            is_open = (_cum_at(iv, starts + w, origin) - cum) == w
            v.append(cum * 2 + is_open)
        table = pa.table({"v": pa.array([np.concatenate(v)], pa.list_(pa.int64()))})
        return ClockTable(tuple(calendars), w, int(first), n, origin, table)
    # Fallback: the open intervals themselves, looked up with a range (ASOF) join.
    rows = []
    for i, iv in enumerate(ivs):
        cum = _cum_at(iv, iv[:, 0], lo_us)
        rows.append(
            pa.table({"cal": np.full(len(iv), i, np.int32), "s": iv[:, 0], "e": iv[:, 1],
                      "cum": cum})
        )  # fmt: skip
    return ClockTable(tuple(calendars), 0, 0, 0, lo_us, pa.concat_tables(rows))


def _intervals(cal: BusinessCalendar, lo_us: int, hi_us: int) -> np.ndarray:
    if cal.is_always_open:  # one interval over everything (day-aligned): wall time
        day = 86_400 * US
        return np.array([[(lo_us // day - 2) * day, (hi_us // day + 3) * day]], dtype=np.int64)
    iv = cal.open_intervals(_dt(lo_us), _dt(hi_us))
    return iv.reshape(-1, 2).astype(np.int64)


def _cum_at(iv: np.ndarray, t: np.ndarray, origin: int) -> np.ndarray:
    """Open µs in ``[origin, t)`` (negative before the origin), like ``BusinessClock``."""
    if len(iv) == 0:
        return np.zeros(len(t), np.int64)
    starts, ends = iv[:, 0], iv[:, 1]
    cum0 = np.concatenate(([0], np.cumsum(ends - starts)[:-1]))

    def cum(x: np.ndarray) -> np.ndarray:
        i = np.searchsorted(starts, x, side="right") - 1
        ic = np.clip(i, 0, None)
        inside = np.clip(x - starts[ic], 0, ends[ic] - starts[ic])
        return np.where(i < 0, 0, cum0[ic] + inside)

    return cum(np.asarray(t, np.int64)) - cum(np.array([origin], np.int64))[0]


# -- local time --------------------------------------------------------------------------


def offset_changes(tz: str, lo: datetime, hi: datetime) -> list[tuple[int, int]] | None:
    """``[(from_epoch_us, offset_us), ...]``: the zone's UTC offset over ``[lo, hi]``.

    The first entry starts at ``-inf`` (``from`` is ignored). Changes are found by
    sampling every hour (vectorised) and bisecting to the second with ``zoneinfo``
    (tzdata changes an offset at most once an hour, on a whole second). None — use ICU
    per row — with more than :data:`MAX_OFFSET_CHANGES` changes, or when an offset is
    not whole minutes (historical local mean time such as Monrovia's -0:44:30 until
    1972, which the vectorised sampling rounds).
    """
    zone = ZoneInfo(tz)
    a = int(_aware(lo).timestamp()) // 3600 * 3600 - 3600
    b = int(_aware(hi).timestamp()) // 3600 * 3600 + 7200
    if (b - a) // 3600 > 2_000_000:
        return None

    def off(sec: int) -> int:
        u = datetime.fromtimestamp(sec, UTC).astimezone(zone).utcoffset()
        return int(u.total_seconds() * US) if u is not None else 0

    hours = np.arange(a, b + 1, 3600, dtype=np.int64)
    offs = _offsets_vectorised(hours, tz)
    out = [(0, off(int(hours[0])))]
    for k in np.flatnonzero(offs[1:] != offs[:-1]):
        lo_s, hi_s = int(hours[k]), int(hours[k + 1])  # off(lo_s) != off(hi_s)
        before = off(lo_s)
        while hi_s - lo_s > 1:
            mid = (lo_s + hi_s) // 2
            if off(mid) == before:
                lo_s = mid
            else:
                hi_s = mid
        out.append((hi_s * US, off(hi_s)))
        if len(out) > MAX_OFFSET_CHANGES + 1:
            return None
    if any(o % (60 * US) for _, o in out) or off(int(hours[-1])) != out[-1][1]:
        return None
    return out


def _offsets_vectorised(seconds: np.ndarray, tz: str) -> np.ndarray:
    import pandas as pd

    utc = pd.to_datetime(seconds, unit="s", utc=True)
    local = utc.tz_convert(tz).tz_localize(None)
    return ((local - utc.tz_localize(None)).to_numpy("timedelta64[us]")).astype(np.int64)


def local_sql(col: str, tz: str, lo: datetime, hi: datetime) -> str:
    """SQL: naive-UTC timestamp ``col`` (within ``[lo, hi]``) as naive local time in ``tz``."""
    changes = offset_changes(tz, lo, hi)
    if changes is None:
        zone = tz.replace("'", "''")
        return f"timezone('{zone}', timezone('UTC', {col}))"
    if len(changes) == 1:
        off = changes[0][1]
        return col if off == 0 else f"({col} + to_microseconds({off}))"
    branches = " ".join(
        f"WHEN {col} < make_timestamp({changes[i + 1][0]}) THEN {changes[i][1]}"
        for i in range(len(changes) - 1)
    )
    return f"({col} + to_microseconds(CASE {branches} ELSE {changes[-1][1]} END))"


# -- helpers -----------------------------------------------------------------------------


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _epoch_us(t: datetime) -> int:
    return int((_aware(t) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))
