"""Requirements per channel kind: minimum, shrinkage, concurrency, deferred workload."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somebound.workforce.erlang import erlang_c_required
from somebound.workforce.erlang_a import erlang_a_required
from somebound.workforce.policy import ChannelPolicy
from somebound.workforce.staffing import (
    deferred_service_level,
    expected_service_level,
    productive,
    requirement,
    spread_workload,
)

WEEK15 = 672


def _day_profile(peak: float) -> np.ndarray:
    h = (np.arange(WEEK15) % 96) / 4
    return peak * np.clip(np.sin((h - 6) / 16 * np.pi), 0, None)


def _hours(lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    return tuple((d * 1440 + lo * 60, d * 1440 + hi * 60) for d in range(7))


def test_erlang_c_channel_matches_the_formula_and_minimum():
    ch = ChannelPolicy(
        "phone",
        aht_seconds=180,
        target_seconds=20,
        service_level=0.8,
        min_agents=2,
        open_minutes=_hours(5, 23),
    )
    vol = _day_profile(50.0)
    r = requirement(vol, ch, 15)
    open_ = r.open
    expect = erlang_c_required(vol * 180 / 900, 180, 20, 0.8)
    assert np.array_equal(r.net[open_], np.maximum(expect[open_], 2))
    assert np.all(r.net[~open_] == 0) and np.all(r.required[~open_] == 0)
    assert r.net[open_].min() == 2  # quiet open intervals still get the minimum
    assert np.nanmin(r.service_level) >= 0.8


def test_shrinkage_grosses_up_the_head_count():
    base = ChannelPolicy("phone", aht_seconds=180, open_minutes=_hours(0, 24))
    shrunk = ChannelPolicy(
        "phone",
        aht_seconds=180,
        open_minutes=_hours(0, 24),
        shrinkage={"sick": 0.1, "holidays": 0.1},
    )
    vol = _day_profile(80.0)
    a, b = requirement(vol, base, 15), requirement(vol, shrunk, 15)
    assert np.array_equal(a.net, b.net)
    assert np.array_equal(b.required, np.ceil(a.net / 0.81 - 1e-9).astype(int))
    assert np.all(productive(b.required, shrunk) >= b.net)


def test_chat_concurrency_uses_c_slots_per_agent():
    one = ChannelPolicy(
        "chat",
        model="erlang_a",
        aht_seconds=300,
        patience_seconds=240,
        target_seconds=60,
        open_minutes=_hours(0, 24),
        min_agents=0,
    )
    three = replace(one, concurrency=3, concurrency_efficiency=1.0)
    vol = _day_profile(60.0)
    r1, r3 = requirement(vol, one, 15), requirement(vol, three, 15)
    slots = erlang_a_required(vol / 900, 300, 240, 60, 0.8)
    assert np.array_equal(r3.net, np.ceil(slots / 3).astype(int))
    assert r3.net.sum() < r1.net.sum()
    # lower efficiency means longer slots, hence more agents
    slow = replace(three, concurrency_efficiency=0.3)
    assert requirement(vol, slow, 15).net.sum() > r3.net.sum()
    assert slow.slot_aht_seconds == pytest.approx(300 * 3 / 1.6)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 200), st.floats(0.0, 0.9))
def test_spread_conserves_work_and_stays_in_open_time(seed, window, zeros):
    rng = np.random.default_rng(seed)
    work = rng.exponential(20.0, WEEK15) * (rng.random(WEEK15) > zeros)
    is_open = np.zeros(WEEK15, dtype=bool)
    for d in range(5):
        is_open[d * 96 + 32 : d * 96 + 68] = True
    out = spread_workload(work, is_open, window)
    assert out.sum() == pytest.approx(work.sum(), rel=1e-9, abs=1e-9)
    assert np.all(out[~is_open] == 0)


def test_deferred_requirement_meets_target_and_beats_same_interval_staffing():
    email = ChannelPolicy(
        "email",
        kind="deferred",
        aht_seconds=360,
        target_seconds=4 * 3600,
        max_occupancy=0.85,
        open_minutes=_hours(7, 22),
    )
    vol = _day_profile(30.0)
    r = requirement(vol, email, 15)
    same_interval = np.ceil(vol * 360 / (900 * 0.85))
    assert r.net.max() < same_interval.max()  # waiting allowed: flatter, lower peak
    assert r.net.sum() * 900 * 0.85 >= (vol * 360).sum() - 1e-6  # enough capacity in total
    sl = deferred_service_level(vol, r.net, email, 15)
    busy = vol > 0
    # contacts arriving before opening wait until 07:00, within 4 h; all meet the target
    assert np.all(sl[busy & r.open] >= 0.999)


def test_deferred_service_level_extremes():
    ch = ChannelPolicy(
        "email", kind="deferred", aht_seconds=300, target_seconds=3600, open_minutes=_hours(0, 24)
    )
    vol = np.full(WEEK15, 10.0)
    assert np.all(deferred_service_level(vol, np.full(WEEK15, 50), ch, 15) == 1.0)
    assert np.all(deferred_service_level(vol, np.zeros(WEEK15), ch, 15) == 0.0)
    # capacity exactly a third short: the backlog grows and targets are missed
    short = deferred_service_level(vol, np.full(WEEK15, 2), ch, 15)
    assert short.mean() < 0.2


def test_expected_service_level_rises_with_agents():
    ch = ChannelPolicy(
        "phone", model="erlang_a", aht_seconds=200, patience_seconds=120, open_minutes=_hours(0, 24)
    )
    vol = np.full(WEEK15, 40.0)
    lo = expected_service_level(vol, np.full(WEEK15, 8), ch, 15)
    hi = expected_service_level(vol, np.full(WEEK15, 12), ch, 15)
    assert np.all(hi > lo)


def test_bad_volume_shape_is_rejected():
    ch = ChannelPolicy("phone", aht_seconds=200)
    with pytest.raises(ValueError, match="672 volumes"):
        requirement(np.ones(10), ch, 15)
    with pytest.raises(ValueError, match=">= 0"):
        requirement(-np.ones(WEEK15), ch, 15)
