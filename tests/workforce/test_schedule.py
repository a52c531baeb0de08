"""Set-covering schedule: coverage, midnight crossing, breaks, optimality."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from somebound.workforce.schedule import (
    Break,
    ShiftPattern,
    ShiftTemplate,
    expand_templates,
    solve_schedule,
)


def _requirement(iv: int) -> np.ndarray:
    per_day = 1440 // iv
    h = (np.arange(7 * per_day) % per_day) * iv / 60
    day = np.arange(7 * per_day) // per_day
    r = np.where((h >= 7) & (h < 21), np.round(6 + 6 * np.sin((h - 7) / 14 * np.pi)), 2)
    return (r * np.where(day >= 5, 0.5, 1.0)).round().astype(int)


def test_night_shift_crosses_midnight_and_the_week_end():
    p = ShiftPattern("night", day=6, start_minute=22 * 60, length_minutes=8 * 60)
    cov = p.coverage(60)
    assert cov[6 * 24 + 22] == 1 and cov[6 * 24 + 23] == 1
    assert cov[0:6].sum() == 6 and cov[6] == 0  # Monday 00:00-06:00 of the cyclic week
    assert cov.sum() == 8


def test_breaks_leave_a_hole_and_windows_make_variants():
    p = ShiftPattern("day", 0, 8 * 60, 8 * 60, (Break(240, 30),))
    cov = p.coverage(15)
    assert cov[32:48].all() and not cov[48:50].any() and cov[50:64].all()
    t = ShiftTemplate("day", (480,), 480, days=(0,), breaks=(Break(180, 30, 300),))
    starts = sorted(p.breaks[0].after_minutes for p in t.patterns())
    assert starts == [180, 210, 240, 270, 300]


def test_schedule_covers_the_requirement_within_gap():
    iv = 15
    req = _requirement(iv)
    tmpl = [
        ShiftTemplate("day", tuple(range(6 * 60, 15 * 60, 60)), 480, breaks=(Break(180, 30, 300),)),
        ShiftTemplate("night", (22 * 60,), 480, breaks=(Break(240, 30, 270),)),
    ]
    s = solve_schedule(req, expand_templates(tmpl), iv, mip_rel_gap=0.01)
    assert s.under.sum() == 0
    assert np.array_equal(s.scheduled - req, s.over)
    assert s.mip_gap <= 0.01
    # LP bound: every covered agent-interval costs at least 1/32 of an 8-hour shift (8 paid/7.5 worked)
    assert s.cost >= req.sum() * iv / 60 * (8 / 7.5) - 1e-6


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_instance_is_optimal_against_brute_force(seed):
    iv = 720  # two intervals a day; 24-hour patterns cover two consecutive ones (cyclic)
    rng = np.random.default_rng(seed)
    req = rng.integers(0, 2, size=14)
    pats = [
        ShiftPattern("s", d, st, 1440, cost=float(rng.uniform(1, 2)))
        for d in range(7)
        for st in (0, 720)
    ]
    s = solve_schedule(req, pats, iv, mip_rel_gap=0.0)
    cov = np.stack([p.coverage(iv) for p in pats], axis=1)
    cost = np.array([p.cost for p in pats])
    xs = np.array(list(itertools.product((0, 1), repeat=len(pats))))  # 16384 candidate plans
    feasible = ((xs @ cov.T) >= req).all(axis=1)
    best = (xs[feasible] @ cost).min()
    assert s.under.sum() == 0
    assert s.cost == pytest.approx(best, rel=1e-9)


def test_head_count_cap_reports_understaffing():
    iv = 60
    req = np.full(168, 5)
    pats = [ShiftPattern("s", d, h, 480) for d in range(7) for h in (0, 480, 960)]
    s = solve_schedule(req, pats, iv, max_agents=10)
    assert s.agents.sum() <= 10
    assert s.under.sum() > 0


def test_wrong_length_requirement_is_rejected():
    with pytest.raises(ValueError, match="one week"):
        solve_schedule(np.ones(10), [ShiftPattern("s", 0, 0, 480)], 15)
