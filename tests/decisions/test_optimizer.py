from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somebound.decisions.optimizer import (
    BatchProblem,
    dual_value,
    solve_batch,
    solve_lp_highs,
    usage_of,
)
from somebound.decisions.synthetic import synthetic_problem


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gap_agrees_with_highs_on_small_instances(seed):
    pr = synthetic_problem(1500, n_actions=8, seed=seed)
    sol = solve_batch(pr)
    lp, lp_prices, _ = solve_lp_highs(pr)
    # weak duality: integer value <= LP optimum <= our dual bound
    assert sol.value <= lp + 1e-6 * abs(lp)
    assert sol.bound >= lp - 1e-6 * abs(lp)
    # and our bound is tight: the prices are (near) optimal dual prices
    assert (sol.bound - lp) / lp < 1e-4
    # the certified gap contains the true gap to the LP optimum
    assert (lp - sol.value) / lp <= sol.gap + 1e-9
    assert sol.gap < 0.01
    np.testing.assert_array_less(sol.usage, pr.limits + 1e-6)


def test_stock_used_per_acceptance_is_respected_in_expectation():
    pr = synthetic_problem(1200, n_actions=8, seed=4, with_stock=True)
    sol = solve_batch(pr)
    use = usage_of(sol.assign, pr.base, pr.accept, pr.propensity)
    np.testing.assert_array_less(use, pr.limits + 1e-6)
    lp, _, _ = solve_lp_highs(pr)
    assert sol.bound >= lp - 1e-6 * lp and (lp - sol.value) / lp < 0.01


def test_two_stage_sample_path_matches_direct_solution():
    pr = synthetic_problem(5000, n_actions=6, seed=5)
    direct = solve_batch(pr, sample=10_000)
    staged = solve_batch(pr, sample=1_500)
    assert staged.gap < 0.005
    assert abs(staged.value - direct.value) / direct.value < 0.002
    np.testing.assert_array_less(staged.usage, pr.limits + 1e-6)


def test_dual_value_is_an_upper_bound_at_any_prices():
    pr = synthetic_problem(800, n_actions=6, seed=6)
    lp, _, _ = solve_lp_highs(pr)
    rng = np.random.default_rng(0)
    for _ in range(5):
        prices = rng.uniform(0, 5, len(pr.limits))
        assert dual_value(pr, prices) >= lp - 1e-6 * lp


@st.composite
def small_problems(draw):
    n = draw(st.integers(1, 40))
    j = draw(st.integers(1, 5))
    m = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    value = rng.normal(1, 2, (n, j))
    value[rng.random((n, j)) < 0.2] = -np.inf
    base = rng.integers(0, 3, (j, m)).astype(float)
    limits = rng.integers(0, max(2, n), m).astype(float)
    return BatchProblem(value=value, base=base, limits=limits)


@settings(max_examples=40, deadline=None)
@given(small_problems())
def test_a_limit_is_never_exceeded_in_batch(pr):
    sol = solve_batch(pr)
    assert np.all(sol.usage <= pr.limits + 1e-9)
    assert np.all(sol.assign < pr.value.shape[1])
    chosen = sol.assign >= 0
    rows = np.nonzero(chosen)[0]
    assert np.all(np.isfinite(pr.value[rows, sol.assign[rows]]))
    assert np.all(pr.value[rows, sol.assign[rows]] > 0)
    assert sol.bound >= sol.value - 1e-9


def test_gap_alert_flag_above_half_a_percent():
    pr = synthetic_problem(300, n_actions=4, seed=7)
    sol = solve_batch(pr)
    sol.value = sol.bound * 0.99
    assert sol.alert
    sol.value = sol.bound * 0.999
    assert not sol.alert


@pytest.mark.parametrize(("seed", "k"), [(0, 2), (1, 3)])
def test_k_actions_per_customer_agrees_with_highs(seed, k):
    pr = synthetic_problem(1500, n_actions=8, seed=seed)
    sol = solve_batch(pr, k=k)
    lp, _, _ = solve_lp_highs(pr, k=k)
    assert sol.assign.shape == (1500, k)
    # weak duality with the k-dual, tight prices, a small certified gap
    assert sol.value <= lp + 1e-6 * lp <= sol.bound + 2e-6 * lp
    assert (sol.bound - lp) / lp < 1e-4
    assert sol.gap < 0.005 and (lp - sol.value) / lp <= sol.gap + 1e-9
    np.testing.assert_array_less(sol.usage, pr.limits + 1e-6)
    # at most k, never the same action twice for one customer, only allowed options
    for row in sol.assign:
        opts = row[row >= 0]
        assert len(set(pr.groups[opts])) == len(opts) <= k
    rows, slots = np.nonzero(sol.assign >= 0)
    assert np.all(np.isfinite(pr.value[rows, sol.assign[rows, slots]]))
    # more slots per customer can only add value
    one = solve_batch(pr)
    assert sol.value > one.value


def test_k_path_respects_stock_in_expectation():
    pr = synthetic_problem(1000, n_actions=8, seed=4, with_stock=True)
    sol = solve_batch(pr, k=2)
    np.testing.assert_array_less(usage_of(sol.assign, pr.base, pr.accept, pr.propensity), pr.limits + 1e-6)
    lp, _, _ = solve_lp_highs(pr, k=2)
    assert sol.bound >= lp - 1e-6 * lp and (lp - sol.value) / lp < 0.01


def test_sample_ladder_and_trust_region_polish_reach_the_direct_optimum():
    """20k customers solved from a 500-customer sample through a 2,500 rung must end at
    the prices of the direct solve: the polish's reduced problem is exact in its box."""
    pr = synthetic_problem(20_000, n_actions=10, seed=8)
    direct = solve_batch(pr, sample=20_000)
    log: list[str] = []
    staged = solve_batch(pr, sample=500, progress=log.append)
    assert any("polish" in line for line in log) and any("of 2500 customers" in line for line in log)
    assert staged.gap < 0.001
    assert abs(staged.bound - direct.bound) / direct.bound < 2e-5
    np.testing.assert_array_less(staged.usage, pr.limits + 1e-6)
