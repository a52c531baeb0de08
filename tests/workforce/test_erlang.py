"""Erlang B/C: published values, the textbook formula, minimal head-counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somebound.workforce.erlang import (
    erlang_b,
    erlang_b_table,
    erlang_c,
    erlang_c_required,
    offered_load,
)


def test_published_example_reproduced_exactly():
    # 100 contacts per 30 min, AHT 180 s, target 20 s, 14 agents (the standard example)
    load = offered_load(100, 180, 1800)
    r = erlang_c(14, load, 180, 20)
    assert float(load) == pytest.approx(10.0)
    assert round(float(r.p_wait), 4) == 0.1741
    assert round(float(r.service_level), 4) == 0.8884
    assert round(float(r.asa), 2) == 7.84
    assert round(float(r.occupancy), 3) == 0.714


def test_erlang_b_known_value():
    # B(10 servers, 10 Erlangs) = 0.214582 (Erlang B tables)
    assert float(erlang_b(10, 10.0)) == pytest.approx(0.2145823, abs=1e-6)


def _textbook_erlang_c(n: int, a: float) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    bottom = sum(a**k / math.factorial(k) for k in range(n)) + top
    return top / bottom


@settings(max_examples=60, deadline=None)
@given(st.floats(0.1, 40.0), st.integers(1, 60))
def test_matches_factorial_formula(load, extra):
    n = int(math.floor(load)) + extra
    r = erlang_c(n, load, 300, 30)
    expected = _textbook_erlang_c(n, load)
    assert float(r.p_wait) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert float(r.service_level) == pytest.approx(
        1 - expected * math.exp(-(n - load) * 30 / 300), rel=1e-9
    )


def test_large_centres_do_not_overflow():
    r = erlang_c([3000, 3100], [2950.0, 2950.0], 300, 20)
    assert np.all(np.isfinite(r.p_wait)) and np.all((r.p_wait > 0) & (r.p_wait < 1))
    assert r.service_level[1] > r.service_level[0]


def test_unstable_and_empty_queues():
    r = erlang_c([5, 3, 4], [5.0, 7.0, 0.0], 180, 20)
    assert list(r.p_wait[:2]) == [1.0, 1.0]
    assert list(r.service_level[:2]) == [0.0, 0.0]
    assert np.isinf(r.asa[0])
    assert r.service_level[2] == 1.0 and r.p_wait[2] == 0.0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.0, 80.0), min_size=1, max_size=12),
    st.floats(0.5, 0.95),
    st.sampled_from([10.0, 20.0, 60.0, 600.0]),
)
def test_required_is_the_fewest_meeting_the_goal(loads, goal, target):
    loads = np.array(loads)
    need = erlang_c_required(loads, 240, target, goal)
    at = erlang_c(need, loads, 240, target).service_level
    below = erlang_c(np.maximum(need - 1, 0), loads, 240, target).service_level
    busy = loads > 0
    assert np.all(at[busy] >= goal)
    assert np.all(below[busy] < goal)
    assert np.all(need[~busy] == 0)


def test_required_respects_asa_and_occupancy_caps():
    base = erlang_c_required([10.0], 180, 20, 0.5)
    capped = erlang_c_required([10.0], 180, 20, 0.5, max_asa_seconds=2.0, max_occupancy=0.6)
    assert capped[0] > base[0]
    r = erlang_c(capped, 10.0, 180, 20)
    assert float(r.asa[0]) <= 2.0 and float(r.occupancy[0]) <= 0.6


def test_table_rows_agree_with_scalar_calls():
    table = erlang_b_table([3.0, 12.5], 20)
    for i, a in enumerate([3.0, 12.5]):
        for k in (0, 1, 7, 20):
            assert table[i, k] == pytest.approx(float(erlang_b(k, a)))


def test_agrees_with_pyworkforce():
    pyworkforce = pytest.importorskip("pyworkforce.queuing")
    for transactions, positions in [(100, 14), (250, 30), (40, 7)]:
        ref = pyworkforce.ErlangC(transactions=transactions, aht=3, asa=20 / 60, interval=30)
        ours = erlang_c(positions, offered_load(transactions, 180, 1800), 180, 20)
        assert float(ours.p_wait) == pytest.approx(ref.waiting_probability(positions), rel=1e-9)
        assert float(ours.service_level) == pytest.approx(ref.service_level(positions), rel=1e-9)
