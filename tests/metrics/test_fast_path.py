"""The fast paths give exactly what a straightforward per-row computation gives.

- SLA targets and business times are computed in SQL from policy lookups
  (:mod:`somebound.metrics.enrich_sql`); the reference resolves every contact of a
  synthetic log on its own in a Python loop (random policies: ``test_enrich_sql.py``).
- Local hour/day/week buckets add the zone's offset with a ``CASE`` over the offset changes
  in the period; the reference converts every row with DuckDB's ``timezone()``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from somebound.metrics.calendar import business_seconds
from somebound.metrics.clock_sql import offset_changes
from somebound.metrics.config import default_config
from somebound.metrics.kpis import Metrics
from somebound.metrics.synthetic import generate

START = datetime(2026, 10, 19, tzinfo=UTC)  # spans the 2026-10-25 DST change


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(20, 400), as_of_h=st.integers(24, 21 * 24))
def test_enriched_facts_equal_a_per_contact_reference(seed: int, n: int, as_of_h: int):
    data = generate(n, start=START, days=14, seed=seed)
    cfg = default_config()
    end = START + timedelta(days=14)
    as_of = START + timedelta(hours=as_of_h)
    f = Metrics(data.events, config=cfg, as_of=as_of).facts(START, end)
    horizon = np.datetime64(min(end, as_of).replace(tzinfo=None), "us")
    for r in f.itertuples(index=False):
        cal = cfg.calendar_for_queue(r.queue if isinstance(r.queue, str) else None)
        opened = np.array([np.datetime64(r.opened_at, "us")])

        def biz(t, opened=opened, cal=cal):  # noqa: ANN001, ANN202
            at = np.array([np.datetime64(t, "us") if pd.notna(t) else np.datetime64("NaT")])
            return business_seconds(cal, opened, at)[0]

        frt_b = biz(r.first_response_at)
        assert _same(r.frt_business_seconds, frt_b)
        assert _same(r.resolution_business_seconds, biz(r.solved_at))
        sla = cfg.sla.resolve(
            r.channel,
            r.queue if isinstance(r.queue, str) else None,
            None if pd.isna(r.event_sla_seconds) else r.event_sla_seconds,
        )
        target = sla.first_response_seconds if sla and r.bound != "outbound" else np.nan
        assert _same(r.sla_target_seconds, target)
        if np.isnan(target):
            assert not r.sla_counted and not r.sla_met
            continue
        business = sla.clock == "business"
        frt = frt_b if business else r.frt_seconds
        elapsed = biz(horizon) if business else (horizon - opened[0]) / np.timedelta64(1, "s")
        answered = pd.notna(r.first_response_at)
        assert r.sla_met == (answered and not r.abandoned and frt <= target)
        assert r.sla_counted == (answered or r.abandoned or elapsed > target)


def _same(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) < 1e-6


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    tz=st.sampled_from(
        ["Europe/Helsinki", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]
    ),
)
def test_local_time_buckets_by_offset_case_equal_icu_per_row(seed: int, tz: str):
    data = generate(300, start=START, days=14, seed=seed)
    end = START + timedelta(days=14)
    m = Metrics(data.events, agents=data.agents, tz=tz)
    assert offset_changes(tz, START, end) is not None  # the fast path is really taken
    dims = ("agent", "day", "week", "hour_of_day", "weekday")
    queries = [
        *((m.agent_productivity, d) for d in [*dims, "team,day"]),
        *((m.kpis, d) for d in ("hour", "day,bound", "week", "month", "weekday")),
    ]
    fast = [q(START, end, d) for q, d in queries]
    with patch("somebound.metrics.clock_sql.offset_changes", lambda *a: None):
        slow = [q(START, end, d) for q, d in queries]
    for a, b in zip(fast, slow, strict=True):
        keys = [c for c in a.columns if c in
                ("agent", "team", "bound", "hour", "day", "week", "month", "hour_of_day",
                 "weekday")]  # fmt: skip
        pd.testing.assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
        )
