"""Erlang A (M/M/n+M, Palm's queue with exponential patience), exact and vectorised.

Why not a truncated birth–death sum: with long patience (hours) the queue part of the
chain has tens of thousands of non-negligible states, and with long targets the
waiting-time tail is a mixture of as many hypo-exponentials -- naive sums overflow or
lose all digits, which is where several libraries go wrong. Instead we use the closed
forms of Garnett, Mandelbaum & Reiman (2002) / Mandelbaum & Zeltyn, which reduce every
quantity to Kummer's function ``M(s, y) = 1F1(1; s+1; y) = sum_j y^j / (s+1)_j`` and
hence to the regularised incomplete gamma function, evaluated in log space:

* relative to the stationary probability of "all n agents busy, nobody waiting", the
  arrivals that find a free agent weigh ``E0 = 1/B(n, A) - 1`` (Erlang B), and those
  that must wait weigh ``S = M(a, x)`` with ``a = n mu / theta``, ``x = lambda / theta``;
* the waiting ones that are eventually served weigh ``(a/x)(S - 1)``;
* those served after waiting longer than ``t`` weigh
  ``a/(a+1) exp(x (1 - e^{-theta t}) - (a+1) theta t) M(a+1, x e^{-theta t})``.

The offered wait's density ``n mu exp(lambda H(v) - n mu v)``, ``H(v)=(1-e^{-theta v})/theta``
(Baccelli & Hebuterne) integrates to exactly these incomplete-gamma expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammainc, gammaln

from somebound.workforce.erlang import FloatArray, IntArray, _inverse_b_rows, erlang_c

_TINY = 1e-280


def log_kummer(s: ArrayLike, y: ArrayLike) -> FloatArray:
    """log M(s, y) with M(s, y) = 1F1(1; s+1; y), for s > 0, y >= 0, without overflow.

    Uses ``M = Gamma(s+1) e^y y^-s P(s, y)`` (P = regularised lower incomplete gamma)
    where y is large and P representable, and the (then fast-converging) power series
    elsewhere.
    """
    s, y = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(y, dtype=float))
    shape = s.shape
    s = s.ravel()
    y = y.ravel()
    out = np.zeros(s.size)
    pos = y > 0
    p = np.zeros(s.size)
    p[pos] = gammainc(s[pos], y[pos])
    # the series is exact and quick (ratio < 1/2) for small y, where the gamma route
    # would subtract large logarithms
    good = pos & (p > _TINY) & (y > 0.5 * (s + 1.0))
    sg, yg = s[good], y[good]
    out[good] = gammaln(sg + 1.0) + yg - sg * np.log(yg) + np.log(p[good])
    small = np.flatnonzero(pos & (y <= 0.5 * (s + 1.0)))
    if small.size:  # term ratios y/(s+j) < 1/2: 64 terms reach 1e-19, one 2-D product
        ss, ys = s[small, None], y[small, None]
        terms = np.cumprod(ys / (ss + np.arange(1.0, 65.0)), axis=1)
        out[small] = np.log1p(terms.sum(axis=1))
    rest = np.flatnonzero(pos & ~good & (y > 0.5 * (s + 1.0)))
    if rest.size:  # P underflows although y is not small: rare, loop until converged
        out[rest] = _log_kummer_series(s[rest], y[rest])
    return np.maximum(out, 0.0).reshape(shape)  # M >= 1


def _log_kummer_series(s: FloatArray, y: FloatArray) -> FloatArray:
    """Power series for M(s, y); only used where y is below s, so terms shrink fast."""
    total = np.ones(s.size)
    term = np.ones(s.size)
    active = np.ones(s.size, dtype=bool)
    j = 0
    while active.any():
        j += 1
        term[active] *= y[active] / (s[active] + j)
        total[active] += term[active]
        active &= term > 1e-17 * total
        if j > 10_000_000:  # pragma: no cover - unreachable for finite inputs
            raise RuntimeError("Kummer series did not converge")
    return np.log(total)


@dataclass(frozen=True)
class ErlangAResult:
    """Performance of M/M/n+M queues, one element per interval (arrays)."""

    agents: IntArray
    load: FloatArray  # offered Erlangs, lambda x AHT
    p_wait: FloatArray  # probability an arrival finds all agents busy
    p_abandon: FloatArray  # fraction of arrivals that hang up / leave before service
    service_level: FloatArray  # fraction of ALL arrivals answered within the target
    service_level_answered: FloatArray  # fraction of answered ones answered within target
    mean_wait: FloatArray  # mean time in queue over all arrivals (incl. abandoned), s
    occupancy: FloatArray  # fraction of agent time busy


def erlang_a(
    agents: ArrayLike,
    arrival_rate: ArrayLike,
    aht_seconds: ArrayLike,
    patience_seconds: ArrayLike,
    target_seconds: ArrayLike,
) -> ErlangAResult:
    """Erlang A metrics for each interval.

    ``arrival_rate`` is contacts per second, ``patience_seconds`` the mean of the
    exponential patience (``inf`` gives Erlang C). All inputs broadcast together.
    """
    n, lam, aht, pat, t = np.broadcast_arrays(
        np.asarray(agents, dtype=np.int64),
        np.asarray(arrival_rate, dtype=float),
        np.asarray(aht_seconds, dtype=float),
        np.asarray(patience_seconds, dtype=float),
        np.asarray(target_seconds, dtype=float),
    )
    shape = n.shape
    n, lam, aht, pat, t = (v.ravel().copy() for v in (n, lam, aht, pat, t))
    if np.any(n < 0) or np.any(lam < 0) or np.any(aht <= 0) or np.any(pat <= 0):
        raise ValueError("need agents >= 0, arrival rate >= 0, AHT > 0 and patience > 0")
    if np.any(t < 0):
        raise ValueError("target must be >= 0 seconds")
    m = n.size
    load = lam * aht
    p_wait = np.zeros(m)
    p_ab = np.zeros(m)
    sl = np.ones(m)
    sl_ans = np.ones(m)
    mean_wait = np.zeros(m)

    # No agents: everybody waits and, with finite patience, eventually leaves.
    none = (n == 0) & (lam > 0)
    p_wait[none] = 1.0
    p_ab[none] = np.where(np.isfinite(pat[none]), 1.0, 0.0)
    sl[none] = 0.0
    sl_ans[none] = 0.0
    mean_wait[none] = pat[none]

    # Infinite patience: exactly Erlang C.
    inf = (n > 0) & (lam > 0) & ~np.isfinite(pat)
    if inf.any():
        c = erlang_c(n[inf], load[inf], aht[inf], t[inf])
        p_wait[inf] = c.p_wait
        sl[inf] = c.service_level
        sl_ans[inf] = c.service_level
        mean_wait[inf] = c.asa

    main = (n > 0) & (lam > 0) & np.isfinite(pat)
    if main.any():
        idx = np.flatnonzero(main)
        ni = n[idx].astype(float)
        inv_b = _inverse_b_rows(load[idx], int(n[idx].max()))[n[idx], np.arange(idx.size)]
        p_wait[idx], p_ab[idx], sl[idx], sl_ans[idx] = _closed_form(
            ni, lam[idx], aht[idx], pat[idx], t[idx], inv_b
        )
        mean_wait[idx] = p_ab[idx] * pat[idx]

    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(n > 0, load * (1.0 - p_ab) / np.maximum(n, 1), 0.0)
    return ErlangAResult(
        agents=n.reshape(shape),
        load=load.reshape(shape),
        p_wait=p_wait.reshape(shape),
        p_abandon=p_ab.reshape(shape),
        service_level=sl.reshape(shape),
        service_level_answered=sl_ans.reshape(shape),
        mean_wait=mean_wait.reshape(shape),
        occupancy=np.minimum(occ, 1.0).reshape(shape),
    )


def _closed_form(
    n: FloatArray,
    lam: FloatArray,
    aht: FloatArray,
    pat: FloatArray,
    t: FloatArray,
    inv_b: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """P(wait), P(abandon), SL, SL of answered for n >= 1, finite patience, traffic > 0.

    ``inv_b`` is 1/B(n, lambda AHT) from the Erlang B recursion.
    """
    theta = 1.0 / pat
    a = n * pat / aht
    x = lam * pat
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_e0 = np.log(inv_b - 1.0)
        log_e0 = np.where(np.isnan(log_e0) | (log_e0 > 1e6), 1e6, log_e0)
        log_s = log_kummer(a, x)
        log_sv = np.log(a) - np.log(x) + log_s + np.log(-np.expm1(-log_s))
        th_t = theta * t
        y = x * np.exp(-th_t)
        log_tail = (
            np.log(a)
            - np.log1p(a)
            + x * -np.expm1(-th_t)
            - (a + 1.0) * th_t
            + log_kummer(a + 1.0, y)
        )
        log_tail = np.where(np.isnan(log_tail), -np.inf, log_tail)
        top = np.maximum(log_e0, log_s)
        e0 = np.exp(log_e0 - top)
        s = np.exp(log_s - top)
        sv = np.exp(log_sv - top)
        tail = np.exp(log_tail - top)
    z = e0 + s
    answered_fast = e0 + np.clip(sv - tail, 0.0, None)
    return (
        s / z,
        np.clip((s - sv) / z, 0.0, 1.0),
        np.clip(answered_fast / z, 0.0, 1.0),
        np.clip(answered_fast / (e0 + sv), 0.0, 1.0),
    )


def erlang_a_required(
    arrival_rate: ArrayLike,
    aht_seconds: ArrayLike,
    patience_seconds: ArrayLike,
    target_seconds: ArrayLike,
    service_level: float,
    *,
    max_abandon: float | None = None,
) -> IntArray:
    """Fewest agents per interval whose Erlang A service level reaches the goal.

    Service level (answered within target over all arrivals) rises and abandonment falls
    monotonically with head-count, so a vectorised bisection finds every interval's
    answer in about log2(load) evaluations.
    """
    if not 0.0 < service_level < 1.0:
        raise ValueError("service_level goal must be strictly between 0 and 1")
    lam, aht, pat, t = np.broadcast_arrays(
        np.atleast_1d(np.asarray(arrival_rate, dtype=float)),
        np.atleast_1d(np.asarray(aht_seconds, dtype=float)),
        np.atleast_1d(np.asarray(patience_seconds, dtype=float)),
        np.atleast_1d(np.asarray(target_seconds, dtype=float)),
    )
    shape = lam.shape
    lam, aht, pat, t = (v.ravel() for v in (lam, aht, pat, t))
    if np.any(lam < 0) or np.any(aht <= 0) or np.any(pat <= 0) or np.any(t < 0):
        raise ValueError("need arrival rate >= 0, AHT > 0, patience > 0 and target >= 0")
    load = lam * aht
    cols = np.arange(lam.size)
    finite = np.isfinite(pat)

    def meets(n: IntArray, sel: IntArray, inv: FloatArray) -> np.ndarray:
        ok = np.zeros(sel.size, dtype=bool)
        f = finite[sel]
        if f.any():  # the closed form, with 1/B looked up in the shared table
            s = sel[f]
            _, p_ab, sl, _ = _closed_form(
                n[f].astype(float), lam[s], aht[s], pat[s], t[s], inv[n[f], cols[s]]
            )
            ok[f] = sl >= service_level
            if max_abandon is not None:
                ok[f] &= p_ab <= max_abandon
        if (~f).any():  # infinite patience: Erlang C, nobody abandons
            s = sel[~f]
            r = erlang_c(n[~f], load[s], aht[s], t[s])
            ok[~f] = r.service_level >= service_level
        return ok

    lo = np.zeros(lam.size, dtype=np.int64)  # n = 0 fails whenever there is traffic
    hi = np.ceil(load + 3.5 * np.sqrt(load) + 4.0).astype(np.int64)
    busy = np.flatnonzero(lam > 0)
    hi[lam == 0] = 0
    pending = busy
    while True:  # widen until every interval's upper end meets the goal
        inv = _inverse_b_rows(load, int(hi.max(initial=0)))
        bad = pending[~meets(hi[pending], pending, inv)]
        if bad.size == 0:
            break
        lo[bad] = hi[bad]
        hi[bad] *= 2
        pending = bad
        if hi[bad].max() > 50_000_000:
            raise ValueError("no head-count reaches the service-level goal (check the inputs)")
    active = busy[hi[busy] - lo[busy] > 1]
    while active.size:
        mid = (lo[active] + hi[active]) // 2
        ok = meets(mid, active, inv)
        hi[active[ok]] = mid[ok]
        lo[active[~ok]] = mid[~ok]
        active = active[hi[active] - lo[active] > 1]
    return hi.reshape(shape)
