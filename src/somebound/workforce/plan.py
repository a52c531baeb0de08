"""A whole staffing plan: requirement and schedule per channel, plus crisis what-ifs.

This is the pure orchestration layer the CLI and the API share: volumes in (one cyclic
week per channel), plan out. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from somebound.workforce.erlang import FloatArray, IntArray
from somebound.workforce.policy import StaffingPolicy
from somebound.workforce.schedule import Schedule, expand_templates, solve_schedule
from somebound.workforce.staffing import (
    Requirement,
    expected_service_level,
    productive,
    requirement,
    weighted_service_level,
)


@dataclass
class ChannelPlan:
    requirement: Requirement
    schedule: Schedule | None
    service_level_planned: FloatArray  # expected with the scheduled (productive) agents

    def summary(self) -> dict[str, object]:
        r = self.requirement
        out: dict[str, object] = {
            "channel": r.channel,
            "contacts": round(float(r.volume.sum()), 1),
            "required_agent_hours": float(r.required.sum() * r.interval_minutes / 60),
            "service_level_at_requirement": round(
                weighted_service_level(r.volume, r.service_level), 4
            ),
            "service_level_planned": round(
                weighted_service_level(r.volume, self.service_level_planned), 4
            ),
        }
        if self.schedule is not None:
            s = self.schedule
            out |= {
                "scheduled_agent_hours": float(s.scheduled.sum() * r.interval_minutes / 60),
                "shifts": int(s.agents.sum()),
                "cost": round(s.cost, 2),
                "under_intervals": int((s.under > 0).sum()),
                "over_agent_hours": float(s.over.sum() * r.interval_minutes / 60),
                "mip_gap": s.mip_gap,
                "solver_status": s.status,
            }
        return out


@dataclass
class Plan:
    policy: StaffingPolicy
    week_start: str  # ISO date of the Monday the plan's week starts on (informational)
    channels: dict[str, ChannelPlan] = field(default_factory=dict)

    def summary(self) -> list[dict[str, object]]:
        return [c.summary() for c in self.channels.values()]


def make_plan(
    policy: StaffingPolicy,
    volumes: dict[str, FloatArray],
    *,
    week_start: str = "",
    schedule: bool = True,
) -> Plan:
    """Requirement (and a schedule when the policy has shifts) for every channel."""
    plan = Plan(policy, week_start)
    for name, chp in policy.channels.items():
        if name not in volumes:
            raise ValueError(f"no volumes for channel {name!r} (policy {policy.source})")
        req = requirement(volumes[name], chp, policy.interval_minutes)
        sched = None
        patterns = expand_templates(policy.shifts, name)
        if schedule and patterns:
            sched = solve_schedule(
                req.required,
                patterns,
                policy.interval_minutes,
                mip_rel_gap=policy.mip_rel_gap,
                time_limit=policy.time_limit_seconds,
                max_agents=policy.max_agents,
            )
            sl = expected_service_level(
                req.volume, productive(sched.scheduled, chp), chp, policy.interval_minutes
            )
            if chp.kind == "immediate":
                sl = np.where(req.open, sl, np.nan)
        else:
            sl = req.service_level
        plan.channels[name] = ChannelPlan(req, sched, sl)
    return plan


@dataclass
class CrisisResult:
    """Staffing delta and expected service when a spike hits a planned week."""

    channel: str
    start: int  # first interval of the spike
    intervals: int
    factor: float
    volume: FloatArray  # with the spike
    required_before: IntArray
    required_after: IntArray
    scheduled: IntArray
    service_level_before: FloatArray  # with today's schedule, normal volume
    service_level_after: FloatArray  # with today's schedule, spiked volume

    @property
    def delta(self) -> IntArray:
        return self.required_after - self.required_before

    @property
    def shortfall(self) -> IntArray:
        """Extra agents to find per interval on top of today's schedule."""
        return np.maximum(self.required_after - self.scheduled, 0)

    def as_dict(self, window_only: bool = True) -> dict[str, object]:
        n = self.volume.size
        lo = self.start
        hi = self.start + self.intervals
        sel = np.arange(lo, hi + 24) % n if window_only else np.arange(n)
        win = np.arange(lo, hi) % n

        def nan_list(a: np.ndarray) -> list[float | None]:
            return [None if np.isnan(v) else round(float(v), 4) for v in a[sel]]

        return {
            "channel": self.channel,
            "start_interval": self.start,
            "intervals": self.intervals,
            "factor": self.factor,
            "interval_index": sel.tolist(),
            "volume": np.round(self.volume[sel], 3).tolist(),
            "required_before": self.required_before[sel].tolist(),
            "required_after": self.required_after[sel].tolist(),
            "delta": self.delta[sel].tolist(),
            "scheduled": self.scheduled[sel].tolist(),
            "shortfall": self.shortfall[sel].tolist(),
            "service_level_before": nan_list(self.service_level_before),
            "service_level_after": nan_list(self.service_level_after),
            "spike_service_level_before": round(
                weighted_service_level(
                    self.volume[win] / max(self.factor, 1e-12), self.service_level_before[win]
                ),
                4,
            ),
            "spike_service_level_after": round(
                weighted_service_level(self.volume[win], self.service_level_after[win]), 4
            ),
        }


def crisis(
    policy: StaffingPolicy,
    channel: str,
    volume: FloatArray,
    scheduled: IntArray,
    *,
    start: int,
    intervals: int,
    factor: float,
) -> CrisisResult:
    """What-if: volume x ``factor`` on ``channel`` for ``intervals`` from ``start``.

    ``scheduled`` is today's head-count per interval (e.g. ``Schedule.scheduled``); the
    expected service uses its productive part (after shrinkage). Deferred channels carry
    the spike's backlog forward, so their service drops after the spike too.
    """
    if channel not in policy.channels:
        raise ValueError(f"unknown channel {channel!r}; policy has {', '.join(policy.channels)}")
    if factor < 0 or intervals < 1:
        raise ValueError("factor must be >= 0 and the spike at least one interval long")
    chp = policy.channels[channel]
    base = np.asarray(volume, dtype=float)
    n = base.size
    if not 0 <= start < n:
        raise ValueError(f"start must be an interval index 0..{n - 1}")
    spiked = base.copy()
    idx = (start + np.arange(intervals)) % n
    spiked[idx] *= factor
    before = requirement(base, chp, policy.interval_minutes)
    after = requirement(spiked, chp, policy.interval_minutes)
    sched = np.asarray(scheduled, dtype=np.int64)
    prod = productive(sched, chp)
    sl_b = expected_service_level(base, prod, chp, policy.interval_minutes)
    sl_a = expected_service_level(spiked, prod, chp, policy.interval_minutes, previous_week=base)
    if chp.kind == "immediate":
        sl_b = np.where(before.open, sl_b, np.nan)
        sl_a = np.where(after.open, sl_a, np.nan)
    return CrisisResult(
        channel,
        start,
        intervals,
        factor,
        spiked,
        before.required,
        after.required,
        sched,
        sl_b,
        sl_a,
    )
