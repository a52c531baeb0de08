"""Erlang B/C queueing maths, vectorised over intervals.

Why this shape: a week at 15-minute intervals is 672 independent queues per channel, so
every function takes NumPy arrays (one element per interval) and never loops over
intervals in Python. Factorials are never formed: Erlang B comes from the classic
stable recursion ``1/B(k) = 1 + k/A * 1/B(k-1)`` which stays finite for thousands of
agents, and Erlang C follows from B in closed form.

Units: ``load`` is the offered traffic in Erlangs (arrival rate x AHT), times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def offered_load(volume: ArrayLike, aht_seconds: ArrayLike, interval_seconds: float) -> FloatArray:
    """Offered traffic in Erlangs: contacts per interval x AHT / interval length."""
    return np.asarray(volume, dtype=float) * np.asarray(aht_seconds, dtype=float) / interval_seconds


def erlang_b_table(load: ArrayLike, n_max: int) -> FloatArray:
    """Blocking probability B(k, A) for k = 0..n_max and every load: shape (len(load), n_max+1).

    The recursion runs over k (n_max NumPy steps) and is vectorised over the loads, so a
    whole week of intervals costs n_max vector operations.
    """
    a = np.atleast_1d(np.asarray(load, dtype=float))
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise ValueError("offered load must be finite and >= 0")
    safe = np.where(a > 0, a, 1.0)
    out = np.empty((a.size, n_max + 1))
    out[:, 0] = 1.0
    inv = np.ones(a.size)
    with np.errstate(over="ignore"):
        for k in range(1, n_max + 1):
            inv = 1.0 + inv * (k / safe)
            out[:, k] = 1.0 / inv
    out[a == 0, 1:] = 0.0
    return out


def erlang_b(agents: ArrayLike, load: ArrayLike) -> FloatArray:
    """Erlang B blocking probability for each (agents, load) pair."""
    n, a = np.broadcast_arrays(np.asarray(agents, dtype=np.int64), np.asarray(load, dtype=float))
    n = n.ravel()
    a = a.ravel()
    if np.any(n < 0):
        raise ValueError("agents must be >= 0")
    table = erlang_b_table(a, int(n.max(initial=0)))
    return table[np.arange(a.size), n].reshape(np.shape(np.broadcast_arrays(agents, load)[0]))


@dataclass(frozen=True)
class ErlangCResult:
    """Performance of M/M/n queues, one element per interval (arrays)."""

    agents: IntArray
    load: FloatArray
    p_wait: FloatArray  # probability an arrival has to wait (Erlang C)
    service_level: FloatArray  # fraction answered within the target
    asa: FloatArray  # average speed of answer, seconds (inf when unstable)
    occupancy: FloatArray  # fraction of agent time busy


def _erlang_c_from_b(n: FloatArray, a: FloatArray, b: FloatArray) -> FloatArray:
    stable = n > a
    denom = np.where(stable, n - a * (1.0 - b), 1.0)
    return np.where(stable, n * b / denom, 1.0)


def erlang_c(
    agents: ArrayLike,
    load: ArrayLike,
    aht_seconds: ArrayLike,
    target_seconds: ArrayLike,
) -> ErlangCResult:
    """Erlang C (M/M/n, infinite patience) metrics for each interval.

    ``P(wait) = n B / (n - A (1 - B))``, ``SL = 1 - P(wait) e^{-(n-A) t / AHT}``,
    ``ASA = P(wait) AHT / (n - A)``. With n <= A the queue is unstable: P(wait) = 1,
    SL = 0, ASA = inf.
    """
    n, a, aht, t = np.broadcast_arrays(
        np.asarray(agents, dtype=np.int64),
        np.asarray(load, dtype=float),
        np.asarray(aht_seconds, dtype=float),
        np.asarray(target_seconds, dtype=float),
    )
    shape = n.shape
    n, a, aht, t = (x.ravel() for x in (n, a, aht, t))
    if np.any(aht <= 0):
        raise ValueError("AHT must be > 0 seconds")
    b = erlang_b_table(a, int(n.max(initial=0)))[np.arange(a.size), n]
    nf = n.astype(float)
    c = _erlang_c_from_b(nf, a, b)
    stable = nf > a
    gap = np.where(stable, nf - a, 1.0)
    sl = np.where(stable, 1.0 - c * np.exp(-gap * t / aht), 0.0)
    asa = np.where(stable, c * aht / gap, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(nf > 0, np.minimum(a / np.where(nf > 0, nf, 1.0), 1.0), 0.0)
    c = np.where(a == 0, 0.0, c)
    sl = np.where(a == 0, 1.0, sl)
    asa = np.where(a == 0, 0.0, asa)
    return ErlangCResult(
        agents=n.reshape(shape),
        load=a.reshape(shape),
        p_wait=c.reshape(shape),
        service_level=np.clip(sl, 0.0, 1.0).reshape(shape),
        asa=asa.reshape(shape),
        occupancy=occ.reshape(shape),
    )


def erlang_c_required(
    load: ArrayLike,
    aht_seconds: ArrayLike,
    target_seconds: ArrayLike,
    service_level: float,
    *,
    max_asa_seconds: float | None = None,
    max_occupancy: float | None = None,
) -> IntArray:
    """Fewest agents per interval meeting the service-level goal (and ASA/occupancy caps).

    Evaluates every candidate head-count in a window above the load at once (one 2-D
    array), so the answer for a week of intervals needs no Python loop over intervals.
    Zero load needs zero agents (the channel minimum is applied by the caller).
    """
    if not 0.0 < service_level < 1.0:
        raise ValueError("service_level goal must be strictly between 0 and 1")
    a, aht, t = np.broadcast_arrays(
        np.atleast_1d(np.asarray(load, dtype=float)),
        np.atleast_1d(np.asarray(aht_seconds, dtype=float)),
        np.atleast_1d(np.asarray(target_seconds, dtype=float)),
    )
    result = np.zeros(a.size, dtype=np.int64)
    todo = a > 0
    extra = 10
    while np.any(todo):
        idx = np.flatnonzero(todo)
        ai, ahti, ti = a[idx], aht[idx], t[idx]
        n_max = int(np.ceil(ai.max() + 6.0 * np.sqrt(ai.max()) + extra))
        table = erlang_b_table(ai, n_max)  # (m, n_max+1)
        k = np.arange(n_max + 1, dtype=float)[None, :]
        A = ai[:, None]
        stable = k > A
        c = _erlang_c_from_b(np.broadcast_to(k, table.shape), np.broadcast_to(A, table.shape), table)
        gap = np.where(stable, k - A, 1.0)
        ok = stable & (1.0 - c * np.exp(-gap * ti[:, None] / ahti[:, None]) >= service_level)
        if max_asa_seconds is not None:
            ok &= c * ahti[:, None] / gap <= max_asa_seconds
        if max_occupancy is not None:
            ok &= max_occupancy * k >= A
        found = ok.any(axis=1)
        result[idx[found]] = ok[found].argmax(axis=1)
        todo[idx[found]] = False
        extra *= 4
        if extra > 1e7:  # pragma: no cover - defensive, goals < 1 are always reachable
            raise RuntimeError("no head-count meets the service-level goal")
    return result.reshape(a.shape)
