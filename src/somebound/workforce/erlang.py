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
    return 1.0 / _inverse_b_rows(load, n_max).T


def _inverse_b_rows(load: ArrayLike, n_max: int) -> FloatArray:
    """1/B(k, A) with k along axis 0 (contiguous rows); inf where B underflows."""
    a = np.atleast_1d(np.asarray(load, dtype=float))
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise ValueError("offered load must be finite and >= 0")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        inv_load = 1.0 / np.where(a > 0, a, 1.0)  # inf for subnormal loads: B underflows
        # row k holds 1/B(k) = 1 + k/A * 1/B(k-1): two ufunc calls a step
        rows = np.outer(np.arange(n_max + 1, dtype=float), inv_load)
        rows[0] = 1.0
        views = list(rows)  # row views made once: the loop is two bare ufunc calls per k
        mul, add = np.multiply, np.add
        prev = views[0]
        for cur in views[1:]:
            mul(prev, cur, out=cur)
            add(cur, 1.0, out=cur)
            prev = cur
    rows[1:, a == 0] = np.inf
    return rows


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
    b = 1.0 / _inverse_b_rows(a, int(n.max(initial=0)))[n, np.arange(a.size)]
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
    service_level: ArrayLike,
    *,
    max_asa_seconds: float | None = None,
    max_occupancy: float | None = None,
) -> IntArray:
    """Fewest agents per interval meeting the service-level goal (and ASA/occupancy caps).

    ``service_level`` may differ per interval. Zero load needs zero agents (the channel
    minimum is applied by the caller).
    """
    return erlang_c_staffing(
        load,
        aht_seconds,
        target_seconds,
        service_level,
        max_asa_seconds=max_asa_seconds,
        max_occupancy=max_occupancy,
    ).agents


def erlang_c_staffing(
    load: ArrayLike,
    aht_seconds: ArrayLike,
    target_seconds: ArrayLike,
    service_level: ArrayLike,
    *,
    max_asa_seconds: float | None = None,
    max_occupancy: float | None = None,
) -> ErlangCResult:
    """Required agents per interval and the Erlang C metrics at that head-count.

    One Erlang B table (recursion over head-counts, vectorised over intervals) serves a
    vectorised bisection over head-counts: every criterion is monotone in n, so about
    log2(sqrt(A)) cheap gathers find each interval's minimum.
    """
    a, aht, t, goal = np.broadcast_arrays(
        np.atleast_1d(np.asarray(load, dtype=float)),
        np.atleast_1d(np.asarray(aht_seconds, dtype=float)),
        np.atleast_1d(np.asarray(target_seconds, dtype=float)),
        np.atleast_1d(np.asarray(service_level, dtype=float)),
    )
    if np.any((goal <= 0.0) | (goal >= 1.0)):
        raise ValueError("service_level goal must be strictly between 0 and 1")
    if np.any(aht <= 0):
        raise ValueError("AHT must be > 0 seconds")
    shape = a.shape
    a, aht, t, goal = (v.ravel() for v in (a, aht, t, goal))
    m = a.size
    cols = np.arange(m)
    lo = np.floor(a).astype(np.int64)  # n <= A never meets a goal (unstable)
    hi = np.ceil(a + 3.5 * np.sqrt(a) + 4.0).astype(np.int64)  # widened below if short

    def meets(n: IntArray, sel: IntArray, inv: FloatArray) -> np.ndarray:
        nf = n.astype(float)
        ai = a[sel]
        gap = nf - ai
        stable = gap > 0
        gap = np.where(stable, gap, 1.0)
        b = 1.0 / inv[n, cols[sel]]
        c = nf * b / (gap + ai * b)
        ok = stable & (c * np.exp(-gap * t[sel] / aht[sel]) <= 1.0 - goal[sel])
        if max_asa_seconds is not None:
            ok &= c * aht[sel] / gap <= max_asa_seconds
        if max_occupancy is not None:
            ok &= max_occupancy * nf >= ai
        return ok

    busy = np.flatnonzero(a > 0)
    while True:  # widen the bracket until every interval's upper end meets the goal
        inv = _inverse_b_rows(a, int(hi.max(initial=0)))
        bad = busy[~meets(hi[busy], busy, inv)]
        if bad.size == 0:
            break
        lo[bad] = hi[bad]
        hi[bad] *= 2
    active = busy[hi[busy] - lo[busy] > 1]
    while active.size:
        mid = (lo[active] + hi[active]) // 2
        ok = meets(mid, active, inv)
        hi[active[ok]] = mid[ok]
        lo[active[~ok]] = mid[~ok]
        active = active[hi[active] - lo[active] > 1]
    n = np.where(a > 0, hi, 0)
    nf = n.astype(float)
    b = np.where(a > 0, 1.0 / inv[n, cols], 0.0)
    gap = np.where(nf > a, nf - a, 1.0)
    c = np.where(a > 0, nf * b / (gap + a * b), 0.0)
    return ErlangCResult(
        agents=n.reshape(shape),
        load=a.reshape(shape),
        p_wait=c.reshape(shape),
        service_level=np.where(a > 0, 1.0 - c * np.exp(-gap * t / aht), 1.0).reshape(shape),
        asa=(c * aht / gap).reshape(shape),
        occupancy=np.where(n > 0, a / np.maximum(nf, 1.0), 0.0).reshape(shape),
    )
