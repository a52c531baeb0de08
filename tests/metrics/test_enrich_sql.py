"""The SQL enrichment equals a per-contact Python reference for random rows and policies.

:mod:`somebound.metrics.enrich_sql` computes business times, the SLA target, clock and
outcome, fees, cost, reach and team for every contact in one DuckDB query. The reference
below computes each contact on its own with the policy objects (``SlaPolicy.resolve``,
``calendar.business_seconds``, the cost model) — the definitions in docs/metrics.md — on
inputs much wider than the synthetic log gives: NULL channels/bounds/queues, unknown
channels, NaN recorded targets, horizons before the opening, policies with and without a
default, ``prefer: event``, any calendar per queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from somebound.metrics.calendar import business_seconds
from somebound.metrics.config import CostModel, MetricsConfig, SlaPolicy, SlaTarget
from somebound.metrics.enrich_sql import (
    ENRICHED_COLUMNS,
    agents_relation,
    enriched_sql,
    policy_sql,
)
from somebound.metrics.facts import FOLD_COLUMNS

from .strategies import BASE, calendars, instants

CHANNELS = ["email", "phone", "chat", "facebook", "x", "feed", "sms"]
QUEUES = ["email", "social", "vip", "crisis", ""]
maybe = st.none() | st.just(None)

targets = st.builds(SlaTarget, st.sampled_from([20.0, 60.0, 900.0, 3600.0, 28800.0]),
                    st.sampled_from(["business", "wall"]))  # fmt: skip


@st.composite
def configs(draw) -> MetricsConfig:  # noqa: ANN001
    cals = draw(st.lists(calendars(), min_size=1, max_size=3))
    names = [f"cal{i}" for i in range(len(cals))]
    sla = SlaPolicy(
        default=draw(st.none() | targets),
        channels=draw(st.dictionaries(st.sampled_from(CHANNELS), targets, max_size=4)),
        queues=draw(st.dictionaries(st.sampled_from(QUEUES), targets, max_size=3)),
        prefer=draw(st.sampled_from(["policy", "event"])),
    )
    fee = st.sampled_from([0.0, 0.02, 0.05, 0.07, 0.1, 1.0 / 3])
    fees = st.fixed_dictionaries(
        {},
        optional={
            k: fee
            for k in ("per_contact", "per_message_sent", "per_message_received", "per_minute")
        },
    )
    cost = CostModel(channels=draw(st.dictionaries(st.sampled_from(CHANNELS), fees,
                                                   max_size=4)))  # fmt: skip
    return MetricsConfig(
        calendars=dict(zip(names, cals, strict=True)),
        default_calendar=names[0],
        queue_calendars=draw(
            st.dictionaries(st.sampled_from(QUEUES), st.sampled_from(names), max_size=3)
        ),  # fmt: skip
        sla=sla,
        cost=cost,
    )


@st.composite
def fold_rows(draw) -> dict:  # noqa: ANN001
    opened = draw(instants)
    later = st.integers(0, 6 * 86400 * 10**6).map(lambda us: opened + timedelta(microseconds=us))
    return {
        "case_id": 0, "customer_id": draw(st.none() | st.integers(1, 5)),
        "channel": draw(st.none() | st.sampled_from([*CHANNELS, "pigeon"])),
        "bound": draw(st.none() | st.sampled_from(["inbound", "outbound", "somebound"])),
        "queue": draw(st.none() | st.sampled_from(QUEUES + ["other"])),
        "priority": "normal", "language": "fi", "public": draw(st.booleans()),
        "agent_id": draw(st.none() | st.integers(1, 4)),
        "opened_at": opened,
        "event_sla_seconds": draw(st.none() | st.just(float("nan"))
                                  | st.sampled_from([30.0, 600.0, 7200.0])),
        "first_response_at": draw(st.none() | later), "abandoned": draw(st.booleans()),
        "abandoned_at": None, "solved_at": draw(st.none() | later),
        "reopens": draw(st.integers(0, 2)), "parallel": draw(st.booleans()),
        "messages_sent": draw(st.integers(0, 3)), "messages_received": draw(st.integers(0, 3)),
        "calls_ended": draw(st.integers(0, 1)), "authors": draw(st.integers(0, 4)),
        "public_answer": draw(st.booleans()),
        "handling_seconds": 0.0, "agent_cost": draw(st.floats(0, 50, allow_nan=False)),
        "talk_seconds": 0.0, "billed_minutes": draw(st.sampled_from([0.0, 1.0, 2.5, 7.0])),
        "engagement": draw(st.sampled_from([0.0, 3.0, 150.0])),
    }  # fmt: skip


FOLD_TYPES = {"case_id": pa.int64(), "customer_id": pa.int64(), "agent_id": pa.int64(),
              "public": pa.bool_(), "abandoned": pa.bool_(), "parallel": pa.bool_(),
              "public_answer": pa.bool_(), "reopens": pa.int64(), "messages_sent": pa.int64(),
              "messages_received": pa.int64(), "calls_ended": pa.int64(),
              "authors": pa.int64(), "opened_at": pa.timestamp("us"),
              "first_response_at": pa.timestamp("us"), "abandoned_at": pa.timestamp("us"),
              "solved_at": pa.timestamp("us")}  # fmt: skip
TEAMS = {1: "email", 2: "social", 3: None}


def _reference(r: dict, cfg: MetricsConfig, horizon: datetime) -> dict:
    cal = cfg.calendar_for_queue(r["queue"])

    def biz(t: datetime | None) -> float:
        return float(business_seconds(cal, [r["opened_at"]], [t])[0]) if t else np.nan

    def wall(t: datetime | None) -> float:
        return (t - r["opened_at"]) / timedelta(microseconds=1) / 1e6 if t else np.nan

    ev = r["event_sla_seconds"]
    t = cfg.sla.resolve(r["channel"], r["queue"], ev)
    needs = r["bound"] != "outbound"
    target = t.first_response_seconds if t is not None and needs else np.nan
    business = t is not None and t.clock == "business"
    answered = r["first_response_at"] is not None
    frt_clock = biz(r["first_response_at"]) if business else wall(r["first_response_at"])
    elapsed = biz(horizon) if business else wall(horizon)
    has = not np.isnan(target)
    handled = answered or r["messages_sent"] > 0 or r["calls_ended"] > 0
    fee = {
        k: cfg.cost.channel_fee(r["channel"], k) if r["channel"] else 0.0
        for k in ("per_contact", "per_message_sent", "per_message_received", "per_minute")
    }
    channel_cost = (fee["per_contact"] + fee["per_message_sent"] * r["messages_sent"]
                    + fee["per_message_received"] * r["messages_received"]
                    + fee["per_minute"] * r["billed_minutes"])  # fmt: skip
    public = r["bound"] == "somebound" or r["public_answer"]
    return {
        "team": TEAMS.get(r["agent_id"]), "agent": r["agent_id"],
        "frt_seconds": wall(r["first_response_at"]),
        "resolution_seconds": wall(r["solved_at"]),
        "frt_business_seconds": biz(r["first_response_at"]),
        "resolution_business_seconds": biz(r["solved_at"]),
        "sla_target_seconds": target,
        "sla_clock": ("business" if business else "wall") if has else None,
        "sla_counted": has and (answered or r["abandoned"] or elapsed > target),
        "sla_met": has and answered and not r["abandoned"] and frt_clock <= target,
        "answered": answered, "needs_response": needs,
        "responded": answered if needs else r["messages_received"] > 0,
        "handled": handled, "solved": r["solved_at"] is not None,
        "reopened": r["reopens"] > 0, "channel_cost": channel_cost,
        "cost": r["agent_cost"] + channel_cost,
        "reach": 0.0 if not handled else (r["authors"] + r["engagement"] if public else 1.0),
    }  # fmt: skip


def _same(a: object, b: object) -> bool:
    def null(x: object) -> bool:
        return x is None or (isinstance(x, float) and np.isnan(x))

    return (null(a) and null(b)) or a == b


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), rows=st.lists(fold_rows(), min_size=1, max_size=25), horizon=instants,
       fallback=st.booleans())  # fmt: skip
def test_sql_enrichment_equals_the_per_contact_reference(cfg, rows, horizon, fallback):  # noqa: ANN001
    _check(cfg, rows, horizon, fallback)


def _check(cfg: MetricsConfig, rows: list[dict], horizon: datetime, fallback: bool) -> None:
    for i, r in enumerate(rows):
        r["case_id"] = i + 1
    naive = [{k: (v.replace(tzinfo=None) if isinstance(v, datetime) else v) for k, v in r.items()}
             for r in rows]  # fmt: skip
    table = pa.table({c: pa.array([r[c] for r in naive], type=FOLD_TYPES.get(c), from_pandas=True)
                      for c in FOLD_COLUMNS})  # fmt: skip
    times = [t for r in rows for t in (r["opened_at"], r["first_response_at"], r["solved_at"]) if t]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("fold", table)
    con.register(
        "agent_teams",
        agents_relation(pd.DataFrame({"id": list(TEAMS), "team": list(TEAMS.values())})),
    )
    pol = policy_sql(cfg, min(times), max(times), **({"widths": ()} if fallback else {}))
    pol.register(con, "p")
    got = con.sql(f"SELECT * FROM ({enriched_sql('fold', pol, 'p', horizon)}) ORDER BY case_id")
    got = got.fetchall()
    assert len(got) == len(rows)
    names = [*FOLD_COLUMNS, *ENRICHED_COLUMNS]
    for r, values in zip(rows, got, strict=True):
        want = _reference(r, cfg, horizon)
        have = dict(zip(names, values, strict=True))
        bad = {k: (have[k], v) for k, v in want.items() if not _same(have[k], v)}
        assert not bad, (r, bad)


def _row(**kw: object) -> dict:
    base = {c: None for c in FOLD_COLUMNS} | {
        "case_id": 1, "channel": "email", "bound": "inbound", "opened_at": BASE,
        "abandoned": False, "reopens": 0, "messages_sent": 0, "messages_received": 1,
        "calls_ended": 0, "authors": 1, "public_answer": False, "agent_cost": 0.0,
        "billed_minutes": 0.0, "engagement": 0.0, "public": False, "parallel": False,
        "handling_seconds": 0.0, "talk_seconds": 0.0,
    }  # fmt: skip
    return base | kw


def test_a_contact_exactly_at_its_target_is_not_counted_yet_either_clock():
    from somebound.metrics.calendar import BusinessCalendar

    for clock in ("wall", "business"):
        cfg = MetricsConfig(calendars={"a": BusinessCalendar.always_open("a")},
                            default_calendar="a",
                            sla=SlaPolicy(default=SlaTarget(3600.0, clock)))  # fmt: skip
        at_target = [_row()]
        _check(cfg, at_target, BASE + timedelta(hours=1), fallback=False)
        answered_at_target = [_row(first_response_at=BASE + timedelta(hours=1))]
        _check(cfg, answered_at_target, BASE + timedelta(hours=2), fallback=True)


def test_reference_covers_a_known_case():
    # A Friday 15:00 Helsinki email answered Monday 09:00 under 08-16 office hours.
    from somebound.metrics.calendar import BusinessCalendar

    office = BusinessCalendar(
        "o", "Europe/Helsinki", tuple(((8 * 3600, 16 * 3600),) if d < 5 else () for d in range(7))
    )
    cfg = MetricsConfig(calendars={"o": office}, default_calendar="o",
                        sla=SlaPolicy(default=SlaTarget(7200.0, "business")))  # fmt: skip
    opened = BASE.replace(day=20, hour=13)  # Fri 2026-03-20 15:00 local
    r = {c: None for c in FOLD_COLUMNS} | {
        "case_id": 1, "channel": "email", "bound": "inbound", "opened_at": opened,
        "first_response_at": opened + timedelta(hours=66), "abandoned": False, "reopens": 0,
        "messages_sent": 1, "messages_received": 1, "calls_ended": 0, "authors": 1,
        "public_answer": False, "agent_cost": 1.0, "billed_minutes": 0.0, "engagement": 0.0,
    }  # fmt: skip
    want = _reference(r, cfg, opened + timedelta(days=5))
    assert want["frt_business_seconds"] == 7200 and want["sla_met"]
