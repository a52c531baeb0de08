"""``somebound plan``: forecast volumes, compute requirements, schedule shifts, report.

Input is contacts per channel (a CSV of timestamps or of interval counts, or the
``events`` table of a database), plus a YAML staffing policy; output is a
self-contained HTML report and/or JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from somebound.workforce.forecast import (
    VolumeForecaster,
    counts_from_interval_table,
    counts_per_interval,
    synthetic_counts,
)
from somebound.workforce.plan import CrisisResult, crisis, make_plan
from somebound.workforce.policy import DEMO_POLICY, PolicyError, StaffingPolicy, load_policy
from somebound.workforce.schedule import DAY_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan", help="forecast, staff and schedule contact channels", description=__doc__
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--volumes",
        help="CSV: columns channel,at (one row per contact) or interval_start,channel,count",
    )
    src.add_argument("--db", help="SQLAlchemy URL; reads the events table")
    src.add_argument("--demo", action="store_true", help="use 4 weeks of synthetic history")
    p.add_argument(
        "--policy", default=str(DEMO_POLICY), help="staffing policy YAML (default: demo)"
    )
    p.add_argument(
        "--event-type",
        default="case_opened",
        help="event type counted as a contact when reading events (default case_opened)",
    )
    p.add_argument(
        "--method",
        choices=("mstl", "seasonal_naive", "profile"),
        default="mstl",
        help="how to get next week's volumes (profile = mean of past weeks)",
    )
    p.add_argument(
        "--crisis",
        action="append",
        default=[],
        help="what-if spike CHANNEL:FACTOR:DAY HH:MM:HOURS, e.g. 'social:5:wed 12:00:6'",
    )
    p.add_argument("--no-schedule", action="store_true", help="requirements only")
    p.add_argument("--out", help="write the HTML report here")
    p.add_argument("--json", dest="json_out", help="write the plan as JSON here")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.policy)
        counts = _load_counts(args, policy)
        week_start, volumes = next_week(counts, policy, args.method)
        plan = make_plan(policy, volumes, week_start=week_start, schedule=not args.no_schedule)
        crises = [_crisis(spec, policy, volumes, plan) for spec in args.crisis]
    except (PolicyError, ValueError, OSError) as exc:
        print(f"somebound plan: {exc}", file=sys.stderr)
        return 2
    for row in plan.summary():
        print("  ".join(f"{k}={v}" for k, v in row.items() if k != "solver_status"))
    for c in crises:
        d = c.as_dict()
        print(
            f"crisis {c.channel} x{c.factor:g}: peak extra agents {int(c.delta.max())}, "
            f"shortfall vs schedule {int(c.shortfall.max())}, service level in spike "
            f"{d['spike_service_level_before']:.1%} -> {d['spike_service_level_after']:.1%}"
        )
    if args.out:
        from somebound.workforce.report import plan_html

        Path(args.out).write_text(plan_html(plan, crises), encoding="utf-8")
        print(f"wrote {args.out}")
    if args.json_out:
        doc = {
            "week_start": plan.week_start,
            "summary": plan.summary(),
            "requirements": {k: c.requirement.as_dict() for k, c in plan.channels.items()},
            "schedules": {k: c.schedule.shifts() for k, c in plan.channels.items() if c.schedule},
            "scheduled": {
                k: c.schedule.scheduled.tolist() for k, c in plan.channels.items() if c.schedule
            },
            "crises": [c.as_dict() for c in crises],
        }
        Path(args.json_out).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        print(f"wrote {args.json_out}")
    return 0


def _channel_map(policy: StaffingPolicy) -> dict[str, str]:
    return {src: name for name, ch in policy.channels.items() for src in ch.event_channels}


def _load_counts(args: argparse.Namespace, policy: StaffingPolicy) -> pd.DataFrame:
    iv = policy.interval_minutes
    if args.volumes:
        table = pd.read_csv(args.volumes)
        if {"interval_start", "channel", "count"} <= set(table.columns):
            table["channel"] = table["channel"].map(_channel_map(policy))
            return counts_from_interval_table(table.dropna(subset=["channel"]), iv)
        if {"channel", "at"} <= set(table.columns):
            return counts_per_interval(table, iv, channel_map=_channel_map(policy))
        raise ValueError(
            f"{args.volumes}: need columns channel,at or interval_start,channel,count; "
            f"found {', '.join(table.columns)}"
        )
    if args.db:
        return counts_per_interval(
            read_events(args.db, args.event_type), iv, channel_map=_channel_map(policy)
        )
    demo = {"phone": 60.0, "chat": 40.0, "email": 20.0, "social": 25.0}
    return synthetic_counts(4, iv, scale={n: demo.get(n, 20.0) for n in policy.channels})


def read_events(url: str, event_type: str) -> pd.DataFrame:
    """``channel, at`` of every event of one type from the ``events`` table (EVENTS.md)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            q = sa.text("SELECT channel, at FROM events WHERE type = :t AND channel IS NOT NULL")
            return pd.DataFrame(
                conn.execute(q, {"t": event_type}).fetchall(), columns=["channel", "at"]
            )
    finally:
        engine.dispose()


def next_week(
    counts: pd.DataFrame, policy: StaffingPolicy, method: str
) -> tuple[str, dict[str, np.ndarray]]:
    """Volumes for the Monday-to-Sunday week after the data, one array per channel."""
    iv = policy.interval_minutes
    per_week = 7 * 24 * 60 // iv
    if counts.empty:
        raise ValueError("no contacts found in the input")
    for name in policy.channels:
        if name not in counts.columns:
            counts[name] = 0.0
    counts = counts[list(policy.channels)]
    last = pd.Timestamp(counts.index.max())
    monday = (last + pd.Timedelta(minutes=iv)).normalize()
    monday += pd.Timedelta(days=(7 - monday.weekday()) % 7)
    if method != "profile" and len(counts) < 2 * per_week:
        print(
            f"note: less than two weeks of history; using the mean week instead of {method}",
            file=sys.stderr,
        )
        method = "profile"
    if method == "profile":
        week_idx = (
            (counts.index - counts.index.min().normalize()).total_seconds() // 60 // iv
        ).astype(int)
        pos = (np.asarray(week_idx) + counts.index.min().weekday() * (24 * 60 // iv)) % per_week
        prof = counts.groupby(pos).mean().reindex(range(per_week), fill_value=0.0)
        return monday.date().isoformat(), {c: prof[c].to_numpy() for c in prof.columns}
    lead = int((monday - last).total_seconds() // 60 // iv) - 1
    fc = VolumeForecaster(iv, method).fit(counts).predict(lead + per_week)
    week = fc.iloc[lead : lead + per_week]
    return monday.date().isoformat(), {c: week[c].to_numpy() for c in week.columns}


_CRISIS = re.compile(r"^([^:]+):([0-9.]+):([a-z]{3})\s+(\d{1,2}):(\d{2}):([0-9.]+)$", re.I)


def _crisis(
    spec: str, policy: StaffingPolicy, volumes: dict[str, np.ndarray], plan
) -> CrisisResult:
    m = _CRISIS.match(spec.strip())
    if not m or m[3].lower() not in DAY_NAMES:
        raise ValueError(
            f"bad --crisis {spec!r}; write CHANNEL:FACTOR:DAY HH:MM:HOURS, "
            "e.g. 'social:5:wed 12:00:6'"
        )
    iv = policy.interval_minutes
    start = (DAY_NAMES.index(m[3].lower()) * 1440 + int(m[4]) * 60 + int(m[5])) // iv
    intervals = max(1, round(float(m[6]) * 60 / iv))
    ch = m[1]
    if ch not in plan.channels:
        raise ValueError(
            f"--crisis names unknown channel {ch!r}; policy has {', '.join(plan.channels)}"
        )
    cp = plan.channels[ch]
    scheduled = cp.schedule.scheduled if cp.schedule is not None else cp.requirement.required
    return crisis(
        policy, ch, volumes[ch], scheduled, start=start, intervals=intervals, factor=float(m[2])
    )
