"""Batch assignment under budgets, stock and channel capacity, by Lagrangian duality.

Problem: for N customers and J options (action × channel), choose at most one option
per customer to maximise ``Σ value[i, j]`` subject to a few (~tens) coupling limits
``Σ use[i, j, r] ≤ limit[r]``. The limits are *dualised*: with a price ``λ_r ≥ 0`` per
resource the problem splits into N independent argmaxes of the price-adjusted score

    value[i, j] − Σ_r λ_r · use[i, j, r]        (or nothing, worth 0)

and the dual function ``D(λ) = Σ_i max(0, max_j adjusted) + λ·limit`` is an upper bound
on the LP optimum (hence on every integer assignment) for *any* λ ≥ 0. We minimise a
softmax-smoothed ``D`` with L-BFGS-B over the handful of prices (with a continuation on
the smoothing temperature), warm-started on a sample when N is large. The argmax at the
final prices is then *repaired*: assignments on over-used resources are dropped in
increasing order of value per unit used until every limit holds, and freed room is
refilled greedily. The reported gap ``(D(λ) − value) / D(λ)`` is a certificate: the
assignment is provably within that share of the best possible one.

Everything is NumPy on dense ``(N, J)`` arrays, so the same per-customer kernel runs in
a Spark ``mapInPandas`` (see :mod:`somebound.decisions.spark`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

GAP_ALERT = 0.005  # alert when the certified gap is above 0.5 %


@dataclass(frozen=True)
class BatchProblem:
    """Dense batch instance. ``value`` is ``-inf`` (or ``allowed`` False) where forbidden."""

    value: np.ndarray  # (N, J) expected net value of offering option j to customer i
    base: np.ndarray  # (J, m) resource use per contact
    limits: np.ndarray  # (m,)
    accept: np.ndarray | None = None  # (J, m) resource use per acceptance
    propensity: np.ndarray | None = None  # (N, J) acceptance probability (for accept use)
    names: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return self.value.shape


@dataclass
class BatchSolution:
    assign: np.ndarray  # (N,) option index or -1
    prices: np.ndarray  # (m,) dual price per resource (value of one more unit)
    value: float  # objective of the feasible integer assignment
    bound: float  # Lagrangian dual value: no assignment can beat it
    usage: np.ndarray  # (m,)
    limits: np.ndarray
    names: tuple[str, ...]
    seconds: float
    evaluations: int
    repaired: int = 0  # assignments dropped by the repair step
    refilled: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float:
        if self.bound <= 0:
            return 0.0
        return max(0.0, (self.bound - self.value) / abs(self.bound))

    @property
    def alert(self) -> bool:
        return self.gap > GAP_ALERT

    def report(self) -> dict:
        return {
            "expected_value": self.value,
            "dual_bound": self.bound,
            "optimality_gap": self.gap,
            "gap_alert": self.alert,
            "assigned": int((self.assign >= 0).sum()),
            "customers": int(len(self.assign)),
            "seconds": self.seconds,
            "limits": {
                n: {"used": float(u), "limit": float(lim), "price": float(p)}
                for n, u, lim, p in zip(self.names, self.usage, self.limits, self.prices, strict=True)
            },
        }


# -- the per-customer kernel (shared with Spark) ------------------------------------------


def adjusted_scores(
    value: np.ndarray, prices: np.ndarray, base: np.ndarray, accept: np.ndarray | None, propensity: np.ndarray | None
) -> np.ndarray:
    """``value − Σ λ·use`` for every customer and option."""
    s = value - (base @ prices)[None, :]
    if accept is not None and propensity is not None:
        a = accept @ prices
        if np.any(a):
            s = s - propensity * a[None, :]
    return s


def argmax_assign(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best option per row, ``-1`` when none beats doing nothing; ties go to the lowest index."""
    j = np.argmax(scores, axis=1)
    best = scores[np.arange(len(scores)), j]
    return np.where(best > 0, j, -1), np.maximum(best, 0.0)


def usage_of(assign: np.ndarray, base: np.ndarray, accept: np.ndarray | None, propensity: np.ndarray | None) -> np.ndarray:
    J = base.shape[0]
    mask = assign >= 0
    a = assign[mask]
    out = np.bincount(a, minlength=J).astype(float) @ base
    if accept is not None and accept.any():
        if propensity is None:
            out += np.bincount(a, minlength=J) @ accept
        else:
            w = propensity[np.nonzero(mask)[0], a]
            out += np.bincount(a, weights=w, minlength=J) @ accept
    return out


def dual_value(problem: BatchProblem, prices: np.ndarray) -> float:
    s = adjusted_scores(problem.value, prices, problem.base, problem.accept, problem.propensity)
    best = np.max(s, axis=1, initial=0.0)
    return float(best.sum() + prices @ problem.limits)


# -- solver -------------------------------------------------------------------------------


class _Smoothed:
    """Softmax-smoothed dual in normalised units: prices per unit of *limit*, values / scale."""

    def __init__(self, value: np.ndarray, base: np.ndarray, accept: np.ndarray | None, prop: np.ndarray | None,
                 limits: np.ndarray, scale: float) -> None:
        self.v = (value / scale).astype(np.float64)
        self.base = base / limits[None, :]  # use per unit of limit
        self.accept = None if accept is None else accept / limits[None, :]
        self.prop = prop
        self.n = len(value)
        self.evals = 0

    def __call__(self, mu: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        self.evals += 1
        lam = mu * self.n  # normalised price: value units per whole limit
        s = self.v - (self.base @ lam)[None, :]
        acc = None
        if self.accept is not None and self.prop is not None:
            acc = self.accept @ lam
            if np.any(acc):
                s -= self.prop * acc[None, :]
            else:
                acc = None
        mx = np.maximum(np.max(s, axis=1), 0.0)
        e = np.exp((s - mx[:, None]) / tau)
        z = np.exp(-mx / tau) + e.sum(axis=1)
        f = float((mx + tau * np.log(z)).sum() + lam.sum())
        pi = e / z[:, None]
        use = pi.sum(axis=0) @ self.base
        if acc is not None:
            use += (pi * self.prop).sum(axis=0) @ self.accept
        grad = (1.0 - use) * self.n
        return f / self.n, grad / self.n


def solve_batch(
    problem: BatchProblem,
    *,
    sample: int = 200_000,
    taus: tuple[float, ...] = (0.1, 0.03, 0.01, 0.003, 0.001, 0.0003),
    seed: int = 0,
    warm_prices: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchSolution:
    """Assign at most one option per customer within the limits; see module docstring."""
    t0 = time.perf_counter()
    value = np.asarray(problem.value, dtype=np.float64)
    N, J = value.shape
    limits = np.asarray(problem.limits, float)
    m = len(limits)
    base = np.asarray(problem.base, float).reshape(J, m)
    accept = None if problem.accept is None else np.asarray(problem.accept, float).reshape(J, m)
    prop = problem.propensity
    log: list[str] = []
    say = progress or (lambda s: None)

    # options that need a resource with no room left can never be used
    need = base + (accept if accept is not None else 0.0)
    dead = np.any((need > 0) & (limits[None, :] <= 0), axis=1)
    if dead.any():
        value = value.copy()
        value[:, dead] = -np.inf
    positive = np.isfinite(value) & (value > 0)
    # resources that cannot bind even if every customer took its heaviest option
    max_use = positive.sum(axis=0) @ base
    if accept is not None:
        max_use = max_use + np.where(positive, 1.0 if prop is None else prop, 0.0).sum(axis=0) @ accept
    active = (limits > 0) & (max_use > limits + 1e-9)
    idx = np.nonzero(active)[0]
    prices = np.zeros(m)
    evals = 0
    scale = float(np.mean(np.max(np.where(positive, value, 0.0), axis=1))) or 1.0

    if len(idx):
        sub_acc = None if accept is None else accept[:, idx]
        mu = None
        if warm_prices is not None:
            mu = warm_prices[idx] * limits[idx] / scale / N
        rng = np.random.default_rng(seed)
        stages: list[tuple[np.ndarray, tuple[float, ...]]] = []
        if sample < N:
            rows = np.sort(rng.choice(N, size=sample, replace=False))
            stages.append((rows, taus[:-1]))
            stages.append((np.arange(N), taus[-3:]))
        else:
            stages.append((np.arange(N), taus))
        for rows, stage_taus in stages:
            frac = len(rows) / N
            sub_v = value[rows] if len(rows) < N else value
            sub_p = None if prop is None else (prop[rows] if len(rows) < N else prop)
            fn = _Smoothed(sub_v, base[:, idx], sub_acc, sub_p, limits[idx] * frac, scale)
            x = np.zeros(len(idx)) if mu is None else mu
            for tau in stage_taus:
                res = minimize(
                    lambda z, t=tau: fn(z, t),
                    x,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(0.0, None)] * len(idx),
                    options={"maxiter": 200, "gtol": 1e-9, "ftol": 1e-13},
                )
                x = res.x
            mu = x
            evals += fn.evals
            say(f"dual stage on {len(rows)} customers: {fn.evals} evaluations")
        prices[idx] = mu * N * scale / limits[idx]
    log.append(f"active limits: {len(idx)} of {m}; {evals} dual evaluations")

    bound = dual_value(BatchProblem(value, base, limits, accept, prop), prices)
    scores = adjusted_scores(value, prices, base, accept, prop)
    assign, _ = argmax_assign(scores)
    assign, dropped = _repair(assign, value, scores, base, accept, prop, limits)
    assign, refilled = _refill(assign, value, scores, base, accept, prop, limits)
    usage = usage_of(assign, base, accept, prop)
    total = float(value[np.nonzero(assign >= 0)[0], assign[assign >= 0]].sum())
    sol = BatchSolution(
        assign=assign,
        prices=prices,
        value=total,
        bound=max(bound, total),
        usage=usage,
        limits=limits,
        names=problem.names or tuple(f"r{k}" for k in range(m)),
        seconds=time.perf_counter() - t0,
        evaluations=evals,
        repaired=dropped,
        refilled=refilled,
        log=log,
    )
    say(f"value {sol.value:.2f}, bound {sol.bound:.2f}, gap {sol.gap:.4%}")
    return sol


def _use_rows(rows: np.ndarray, opts: np.ndarray, base: np.ndarray, accept: np.ndarray | None,
              prop: np.ndarray | None) -> np.ndarray:
    u = base[opts].copy()
    if accept is not None:
        w = np.ones(len(rows)) if prop is None else prop[rows, opts]
        u += accept[opts] * w[:, None]
    return u


def _repair(assign, value, scores, base, accept, prop, limits):  # noqa: ANN001, ANN202
    """Drop the cheapest assignments on every over-used resource until all limits hold."""
    assign = assign.copy()
    dropped = 0
    for _ in range(3):
        usage = usage_of(assign, base, accept, prop)
        over = np.nonzero(usage > limits + 1e-9)[0]
        if not len(over):
            break
        for r in over:
            rows = np.nonzero(assign >= 0)[0]
            opts = assign[rows]
            u = _use_rows(rows, opts, base, accept, prop)[:, r]
            sel = u > 0
            rows, opts, u = rows[sel], opts[sel], u[sel]
            excess = usage_of(assign, base, accept, prop)[r] - limits[r]
            if excess <= 1e-9:
                continue
            eff = value[rows, opts] / u  # value per unit of the tight resource
            order = np.lexsort((rows, eff))
            cut = int(np.searchsorted(np.cumsum(u[order]), excess - 1e-9) + 1)
            assign[rows[order[:cut]]] = -1
            dropped += cut
    return assign, dropped


def _refill(assign, value, scores, base, accept, prop, limits, max_rounds: int = 4):  # noqa: ANN001, ANN202
    """Give unassigned customers their best option that still fits, best first."""
    assign = assign.copy()
    filled = 0
    J = base.shape[0]
    for _ in range(max_rounds):
        free = limits - usage_of(assign, base, accept, prop)
        need = base + (accept if accept is not None else 0.0)
        fits = np.all(need <= free[None, :] + 1e-9, axis=1)  # (J,) options with room for one more
        if not fits.any():
            break
        rows = np.nonzero(assign < 0)[0]
        if not len(rows):
            break
        cand = np.where(fits[None, :], value[rows], -np.inf)
        j = np.argmax(cand, axis=1)
        v = cand[np.arange(len(rows)), j]
        ok = v > 0
        rows, j, v = rows[ok], j[ok], v[ok]
        if not len(rows):
            break
        order = np.lexsort((rows, -v))
        rows, j = rows[order], j[order]
        u = _use_rows(rows, j, base, accept, prop)
        # accept greedily in order while cumulative use fits (vectorised per resource)
        cum = np.cumsum(u, axis=0)
        within = np.all(cum <= free[None, :] + 1e-9, axis=1)
        take = int(np.argmin(within)) if not within.all() else len(rows)
        if take == 0:
            # the best candidate alone does not fit with expected stock use: stop
            break
        assign[rows[:take]] = j[:take]
        filled += take
        if take == len(rows):
            break
    del J
    return assign, filled


# -- exact LP baseline ----------------------------------------------------------------------


def solve_lp_highs(problem: BatchProblem, method: str = "highs-ipm") -> tuple[float, np.ndarray, float]:
    """The LP relaxation solved exactly by HiGHS (the benchmark baseline and test oracle).

    Returns (LP optimum, resource prices, seconds).
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, vstack

    t0 = time.perf_counter()
    value = np.asarray(problem.value, float)
    N, J = value.shape
    ok = np.isfinite(value) & (value > 0)
    rows, cols = np.nonzero(ok)
    nv = len(rows)
    c = -value[rows, cols]
    assign_rows = csr_matrix((np.ones(nv), (rows, np.arange(nv))), shape=(N, nv))
    m = len(problem.limits)
    use = problem.base[cols].copy()
    if problem.accept is not None:
        w = np.ones(nv) if problem.propensity is None else problem.propensity[rows, cols]
        use += problem.accept[cols] * w[:, None]
    res_rows = csr_matrix(use.T)
    A = vstack([assign_rows, res_rows]).tocsr()
    b = np.concatenate([np.ones(N), problem.limits])
    out = linprog(c, A_ub=A, b_ub=b, bounds=(0, 1), method=method)
    if out.status != 0:
        raise RuntimeError(f"HiGHS failed: {out.message}")
    prices = -np.asarray(out.ineqlin.marginals[N:]) if out.ineqlin is not None else np.zeros(m)
    return float(-out.fun), prices, time.perf_counter() - t0
