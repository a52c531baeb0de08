"""Whole-plan orchestration and the crisis what-if."""

from __future__ import annotations

import numpy as np
import pytest

from somebound.workforce.plan import crisis, make_plan
from somebound.workforce.policy import DEMO_POLICY, load_policy, parse_policy

POLICY = """\
interval_minutes: 60
channels:
  phone:
    model: erlang_a
    aht_seconds: 240
    patience_seconds: 180
    target_seconds: 20
    hours: "07:00-21:00"
    shrinkage: {sick: 0.1}
  social:
    kind: deferred
    aht_seconds: 300
    target_seconds: 3600
    max_occupancy: 0.85
    hours: "07:00-23:00"
shifts:
  - name: day
    starts: {from: "05:00", to: "15:00", every_minutes: 60}
    hours: 8
"""


def _volumes(peak: float) -> np.ndarray:
    h = np.arange(168) % 24
    return peak * np.clip(np.sin((h - 6) / 16 * np.pi), 0, None)


@pytest.fixture(scope="module")
def plan():
    policy = parse_policy(POLICY)
    return make_plan(policy, {"phone": _volumes(120.0), "social": _volumes(60.0)})


def test_plan_schedules_every_channel_to_cover_its_requirement(plan):
    for cp in plan.channels.values():
        assert cp.schedule is not None
        assert (cp.schedule.scheduled >= cp.requirement.required).all()
        s = cp.summary()
        assert s["under_intervals"] == 0 and s["service_level_planned"] >= 0.8


WEDNESDAY_NOON = 2 * 24 + 12  # hour of the week


def _spike(plan, channel: str, factor: float, start: int = WEDNESDAY_NOON, intervals: int = 6):
    """``factor`` times the planned volume of ``channel`` for ``intervals`` hours from
    ``start``, against the plan's schedule."""
    cp = plan.channels[channel]
    return crisis(
        plan.policy,
        channel,
        cp.requirement.volume,
        cp.schedule.scheduled,
        start=start,
        intervals=intervals,
        factor=factor,
    )


def test_crisis_delta_sits_in_the_spike_and_service_drops(plan):
    start = WEDNESDAY_NOON
    res = _spike(plan, "phone", 3.0)
    window = np.zeros(168, dtype=bool)
    window[start : start + 6] = True
    assert (res.delta[window] > 0).all()
    assert (res.delta[~window] == 0).all()  # phone: no carry-over
    assert (res.shortfall[window] > 0).all()
    assert np.nanmean(res.service_level_after[window]) < np.nanmean(
        res.service_level_before[window]
    )
    d = res.as_dict()
    assert d["spike_service_level_after"] < d["spike_service_level_before"]


def test_deferred_spike_backlog_hurts_after_the_spike_too(plan):
    start = WEDNESDAY_NOON
    res = _spike(plan, "social", 5.0)
    assert res.service_level_after[start + 6] < res.service_level_before[start + 6]
    # a one-off spike must not leave the previous days damaged (no weekly repetition)
    assert np.allclose(
        res.service_level_after[: start - 12], res.service_level_before[: start - 12]
    )


def test_factor_one_changes_nothing(plan):
    res = _spike(plan, "phone", 1.0, start=10, intervals=5)
    assert (res.delta == 0).all()


def test_unknown_channel_is_rejected(plan):
    with pytest.raises(ValueError, match="unknown channel"):
        crisis(
            plan.policy,
            "fax",
            np.zeros(168),
            np.zeros(168, dtype=int),
            start=0,
            intervals=1,
            factor=2,
        )


@pytest.mark.slow
def test_demo_policy_plans_a_week():
    policy = load_policy(DEMO_POLICY)
    h = (np.arange(672) % 96) / 4
    prof = np.clip(np.sin((h - 6) / 16 * np.pi), 0, None)
    vols = {"phone": 40 * prof, "chat": 30 * prof, "email": 20 * prof, "social": 15 * prof}
    p = make_plan(policy, vols)
    for name, cp in p.channels.items():
        assert cp.schedule.mip_gap <= policy.mip_rel_gap + 1e-9, name
        assert cp.summary()["under_intervals"] == 0
