"""Staffing endpoints: requirements, shift schedule, crisis what-if, Erlang calculator.

Plain JSON in and out; the policy in a request body has exactly the shape of the YAML
staffing policy file (JSON is YAML), so one validator serves both. No auth here: the
application includes this router behind its own authentication.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import yaml
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from somebound.workforce.erlang import erlang_c
from somebound.workforce.erlang_a import erlang_a
from somebound.workforce.plan import crisis, make_plan
from somebound.workforce.policy import PolicyError, StaffingPolicy, parse_policy
from somebound.workforce.schedule import expand_templates, solve_schedule
from somebound.workforce.staffing import requirement

router = APIRouter()


class PlanRequest(BaseModel):
    policy: dict[str, Any] = Field(description="staffing policy, same shape as the YAML file")
    volumes: dict[str, list[float]] = Field(
        description="contacts per interval for one week, per channel"
    )


class ScheduleRequest(BaseModel):
    policy: dict[str, Any]
    volumes: dict[str, list[float]] | None = None
    requirements: dict[str, list[int]] | None = Field(
        default=None, description="agents to schedule per interval (instead of volumes)"
    )


class CrisisRequest(PlanRequest):
    channel: str
    factor: float = Field(gt=0)
    start_interval: int = Field(ge=0)
    intervals: int = Field(ge=1)
    scheduled: list[int] | None = Field(
        default=None,
        description="today's head-count per interval; omitted = schedule the normal week first",
    )


class ErlangRequest(BaseModel):
    agents: list[int]
    volume: list[float] = Field(description="contacts per interval")
    interval_minutes: int = Field(default=30, gt=0)
    aht_seconds: float = Field(gt=0)
    target_seconds: float = Field(ge=0)
    patience_seconds: float | None = Field(default=None, gt=0, description="None = Erlang C")


def _policy(raw: dict[str, Any]) -> StaffingPolicy:
    try:
        return parse_policy(yaml.safe_dump(raw, sort_keys=False), "policy (request body, as YAML)")
    except PolicyError as exc:
        raise HTTPException(422, detail=str(exc)) from exc


def _volumes(policy: StaffingPolicy, volumes: dict[str, list[float]]) -> dict[str, np.ndarray]:
    per_week = 7 * 24 * 60 // policy.interval_minutes
    out = {}
    for name in policy.channels:
        if name not in volumes:
            raise HTTPException(422, detail=f"volumes: missing channel {name!r}")
        v = np.asarray(volumes[name], dtype=float)
        if v.shape != (per_week,):
            raise HTTPException(
                422,
                detail=f"volumes.{name}: need {per_week} values (one week at "
                f"{policy.interval_minutes} min), got {v.size}",
            )
        if np.any(v < 0):
            raise HTTPException(422, detail=f"volumes.{name}: volumes must be >= 0")
        out[name] = v
    return out


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


@router.post("/plan/requirements")
def plan_requirements(req: PlanRequest) -> dict[str, Any]:
    """Agents needed per interval and channel for one week of volumes."""
    policy = _policy(req.policy)
    vols = _volumes(policy, req.volumes)
    reqs = {
        n: requirement(vols[n], ch, policy.interval_minutes) for n, ch in policy.channels.items()
    }
    return _clean(
        {
            "interval_minutes": policy.interval_minutes,
            "requirements": {n: r.as_dict() for n, r in reqs.items()},
        }
    )


@router.post("/plan/schedule")
def plan_schedule(req: ScheduleRequest) -> dict[str, Any]:
    """Shift schedule per channel covering the requirement, with over/under per interval."""
    policy = _policy(req.policy)
    if not policy.shifts:
        raise HTTPException(422, detail="policy.shifts: no shift templates to schedule with")
    per_week = 7 * 24 * 60 // policy.interval_minutes
    if req.requirements is not None:
        needs = {}
        for n, r in req.requirements.items():
            if n not in policy.channels:
                raise HTTPException(422, detail=f"requirements.{n}: not a channel of the policy")
            if len(r) != per_week or min(r, default=0) < 0:
                raise HTTPException(422, detail=f"requirements.{n}: need {per_week} values >= 0")
            needs[n] = np.asarray(r, dtype=np.int64)
    elif req.volumes is not None:
        vols = _volumes(policy, req.volumes)
        needs = {
            n: requirement(vols[n], ch, policy.interval_minutes).required
            for n, ch in policy.channels.items()
        }
    else:
        raise HTTPException(422, detail="give volumes or requirements")
    out = {}
    for n, need in needs.items():
        patterns = expand_templates(policy.shifts, n)
        if not patterns:
            raise HTTPException(422, detail=f"no shift template may work on channel {n!r}")
        s = solve_schedule(
            need,
            patterns,
            policy.interval_minutes,
            mip_rel_gap=policy.mip_rel_gap,
            time_limit=policy.time_limit_seconds,
            max_agents=policy.max_agents,
        )
        out[n] = {
            "shifts": s.shifts(),
            "required": s.requirement.tolist(),
            "scheduled": s.scheduled.tolist(),
            "over": s.over.tolist(),
            "under": s.under.tolist(),
            "cost": s.cost,
            "mip_gap": s.mip_gap,
            "status": s.status,
        }
    return _clean({"interval_minutes": policy.interval_minutes, "schedules": out})


@router.post("/plan/crisis")
def plan_crisis(req: CrisisRequest) -> dict[str, Any]:
    """Spike what-if: staffing delta per interval and service level with today's schedule."""
    policy = _policy(req.policy)
    if req.channel not in policy.channels:
        raise HTTPException(422, detail=f"channel: {req.channel!r} is not in the policy")
    vols = _volumes(policy, req.volumes)
    per_week = 7 * 24 * 60 // policy.interval_minutes
    if req.start_interval >= per_week:
        raise HTTPException(422, detail=f"start_interval: must be < {per_week}")
    if req.scheduled is not None:
        if len(req.scheduled) != per_week:
            raise HTTPException(422, detail=f"scheduled: need {per_week} values")
        scheduled = np.asarray(req.scheduled, dtype=np.int64)
    else:
        one = StaffingPolicy(
            policy.interval_minutes,
            {req.channel: policy.channels[req.channel]},
            policy.shifts,
            policy.mip_rel_gap,
            policy.time_limit_seconds,
            policy.max_agents,
            policy.source,
        )
        cp = make_plan(one, {req.channel: vols[req.channel]}).channels[req.channel]
        scheduled = cp.schedule.scheduled if cp.schedule is not None else cp.requirement.required
    res = crisis(
        policy,
        req.channel,
        vols[req.channel],
        scheduled,
        start=req.start_interval,
        intervals=req.intervals,
        factor=req.factor,
    )
    return _clean(res.as_dict(window_only=False))


@router.post("/plan/erlang")
def plan_erlang(req: ErlangRequest) -> dict[str, Any]:
    """Erlang C (no patience given) or Erlang A metrics for each (agents, volume) pair."""
    if len(req.agents) != len(req.volume):
        raise HTTPException(422, detail="agents and volume need the same length")
    if any(a < 0 for a in req.agents) or any(v < 0 for v in req.volume):
        raise HTTPException(422, detail="agents and volume must be >= 0")
    seconds = req.interval_minutes * 60.0
    vol = np.asarray(req.volume, dtype=float)
    if req.patience_seconds is None:
        r = erlang_c(
            req.agents, vol * req.aht_seconds / seconds, req.aht_seconds, req.target_seconds
        )
        body = {
            "model": "erlang_c",
            "p_wait": r.p_wait,
            "service_level": r.service_level,
            "asa_seconds": r.asa,
            "occupancy": r.occupancy,
        }
    else:
        r = erlang_a(
            req.agents, vol / seconds, req.aht_seconds, req.patience_seconds, req.target_seconds
        )
        body = {
            "model": "erlang_a",
            "p_wait": r.p_wait,
            "p_abandon": r.p_abandon,
            "service_level": r.service_level,
            "mean_wait_seconds": r.mean_wait,
            "occupancy": r.occupancy,
        }
    return _clean(
        {
            k: (np.atleast_1d(v).tolist() if isinstance(v, np.ndarray) else v)
            for k, v in body.items()
        }
    )
