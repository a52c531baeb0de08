"""Erlang A: against the birth-death chain, the Erlang C limit and a discrete-event simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somebound.workforce.erlang import erlang_c
from somebound.workforce.erlang_a import erlang_a, erlang_a_required, log_kummer
from somebound.workforce.simulation import simulate_queue


def _chain(n: int, lam: float, aht: float, patience: float, states: int = 4000):
    """Stationary distribution of the M/M/n+M birth-death chain, summed in log space."""
    mu, th = 1.0 / aht, 1.0 / patience
    logp = [0.0]
    for k in range(1, states):
        death = min(k, n) * mu + max(k - n, 0) * th
        logp.append(logp[-1] + math.log(lam) - math.log(death))
    logp = np.array(logp)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    k = np.arange(states)
    p_wait = p[n:].sum()
    p_ab = th * (np.maximum(k - n, 0) * p).sum() / lam
    return p_wait, p_ab


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 40),
    st.floats(0.2, 1.6),  # utilisation lambda/(n mu)
    st.floats(60, 600),
    st.floats(20, 3000),
)
def test_matches_birth_death_chain(n, rho, aht, patience):
    lam = rho * n / aht
    r = erlang_a(n, lam, aht, patience, 20)
    p_wait, p_ab = _chain(n, lam, aht, patience)
    assert float(r.p_wait) == pytest.approx(p_wait, abs=1e-9)
    assert float(r.p_abandon) == pytest.approx(p_ab, abs=1e-9)


def test_infinite_patience_limit_is_erlang_c():
    c = erlang_c(14, 10.0, 180, 20)
    a = erlang_a(14, 10.0 / 180, 180, 1e9, 20)
    assert float(a.service_level) == pytest.approx(float(c.service_level), abs=1e-6)
    assert float(a.p_wait) == pytest.approx(float(c.p_wait), abs=1e-6)
    exact = erlang_a(14, 10.0 / 180, 180, math.inf, 20)
    assert float(exact.service_level) == pytest.approx(float(c.service_level), rel=1e-12)


def test_kummer_agrees_with_series_in_both_regimes():
    for s, y in [(5.0, 2.0), (400.0, 320.0), (1e5, 9.9e4), (3.0, 50.0), (1e6, 10.0)]:
        terms, total, term, j = 0, 1.0, 1.0, 0
        while True:
            j += 1
            term *= y / (s + j)
            total += term
            if term < 1e-18 * total:
                break
            terms += 1
            if terms > 3_000_000:
                break
        if y < s:  # series only feasible below the peak
            assert float(log_kummer(s, y)) == pytest.approx(math.log(total), rel=1e-9)
    assert np.isfinite(log_kummer(50.0, 1e5))  # overloaded: huge but finite in log space


CASES = [
    # agents, contacts/s, AHT, patience, target -- short, long (hours) and overloaded
    (14, 100 / 1800, 180, 120, 20),
    (10, 100 / 1800, 180, 60, 20),
    (8, 1 / 30, 300, 3600, 7200),  # patience 1 h, target 2 h
    (5, 1 / 30, 300, 18000, 14400),  # overloaded, patience 5 h, target 4 h
    (30, 0.1, 240, 900, 3600),
]


@pytest.mark.parametrize(("n", "lam", "aht", "patience", "target"), CASES)
def test_agrees_with_simulation(n, lam, aht, patience, target):
    sim = simulate_queue(n, lam, aht, patience, target, customers=150_000, seed=7)
    r = erlang_a(n, lam, aht, patience, target)
    assert sim.service_level.contains(float(r.service_level)), (sim.service_level, r.service_level)
    assert sim.p_abandon.contains(float(r.p_abandon)), (sim.p_abandon, r.p_abandon)
    assert sim.p_wait.contains(float(r.p_wait)) or sim.p_wait.high - sim.p_wait.low < 1e-9
    assert sim.mean_wait.contains(float(r.mean_wait))


def test_simulation_would_catch_a_wrong_formula():
    # the referee must be sharp: Erlang C's answer for an impatient queue is far outside
    sim = simulate_queue(10, 100 / 1800, 180, 60, 20, customers=150_000, seed=7)
    wrong = erlang_c(10, 10.0, 180, 20)
    assert not sim.service_level.contains(float(wrong.service_level))


def test_long_targets_and_patience_stay_finite_and_ordered():
    lam = np.full(5, 0.2)
    r = erlang_a([40, 50, 55, 60, 80], lam, 250, 3e5, 86400)
    assert np.all(np.isfinite(r.service_level)) and np.all(np.diff(r.service_level) >= -1e-12)
    assert np.all((r.service_level >= 0) & (r.service_level <= 1))
    # 50 agents on 50 Erlangs with very patient callers: service within a day is near total
    assert r.service_level[3] > 0.99


def test_zero_agents_and_zero_volume():
    r = erlang_a([0, 3], [0.1, 0.0], 180, 100, 20)
    assert r.p_abandon[0] == 1.0 and r.service_level[0] == 0.0
    assert r.service_level[1] == 1.0 and r.p_wait[1] == 0.0


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0.0, 0.3), min_size=1, max_size=8), st.floats(0.5, 0.95), st.floats(30, 3600)
)
def test_required_is_minimal(rates, goal, patience):
    lam = np.array(rates)
    need = erlang_a_required(lam, 200, patience, 30, goal)
    at = erlang_a(need, lam, 200, patience, 30).service_level
    below = erlang_a(np.maximum(need - 1, 0), lam, 200, patience, 30).service_level
    busy = lam > 0
    assert np.all(at[busy] >= goal) and np.all(below[busy] < goal)
    assert np.all(need[~busy] == 0)


def test_patience_lowers_requirement_against_erlang_c():
    lam = 100 / 1800
    assert (
        erlang_a_required(lam, 180, 60, 20, 0.8)[0] < erlang_a_required(lam, 180, 1e9, 20, 0.8)[0]
    )
