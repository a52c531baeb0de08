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
    """Softmax-smoothed dual in normalised units.

    Prices are expressed per whole limit (``norm``) and values per ``scale``, so every
    coordinate is O(1). ``rhs`` is the room left for these customers (the limit minus
    what customers held fixed already use).
    """

    def __init__(self, value: np.ndarray, base: np.ndarray, accept: np.ndarray | None, prop: np.ndarray | None,
                 rhs: np.ndarray, norm: np.ndarray, scale: float, n_total: int) -> None:
        self.v = value / scale
        self.base = base / norm[None, :]
        self.accept = None if accept is None else accept / norm[None, :]
        self.prop = prop
        self.rhs = rhs / norm
        self.n = n_total
        self.evals = 0

    def __call__(self, mu: np.ndarray, tau: float, hessian: bool = False):  # noqa: ANN204
        """Value and gradient (and Hessian) in normalised units, per customer of ``n``."""
        self.evals += 1
        lam = mu * self.n
        s = self.v - (self.base @ lam)[None, :]
        acc = None
        if self.accept is not None and self.prop is not None:
            acc = self.accept @ lam
            if np.any(acc):
                s -= self.prop * acc[None, :]
        mx = np.maximum(np.max(s, axis=1), 0.0)
        # float32 exp is ~4x faster here; clipping avoids slow denormals
        d = np.maximum((s - mx[:, None]) * (1.0 / tau), -60.0).astype(np.float32)
        del s
        e = np.exp(d, out=d)
        z = np.exp(np.maximum(-mx / tau, -60.0)) + e.sum(axis=1, dtype=np.float64)
        f = float((mx + tau * np.log(z)).sum() + lam @ self.rhs)
        pi = e
        pi /= z[:, None].astype(np.float32)
        pisum = pi.sum(axis=0, dtype=np.float64)
        use = pisum @ self.base
        pip = None
        if acc is not None:
            pip = pi * self.prop.astype(np.float32)
            use += pip.sum(axis=0, dtype=np.float64) @ self.accept
        grad = self.rhs - use
        if not hessian:
            return f / self.n, grad
        b32 = self.base.astype(np.float32)
        w = (pi @ b32).astype(np.float64)
        second = self.base.T @ (pisum[:, None] * self.base)
        if pip is not None:
            a32 = self.accept.astype(np.float32)
            w += pip @ a32
            pps = pip.sum(axis=0, dtype=np.float64)
            cross = self.base.T @ (pps[:, None] * self.accept)
            pp2 = (pip * self.prop.astype(np.float32)).sum(axis=0, dtype=np.float64)
            second = second + cross + cross.T + self.accept.T @ (pp2[:, None] * self.accept)
        hess = (second - w.T @ w) * (self.n / tau)
        return f / self.n, grad, hess


def _newton(fn: _Smoothed, x: np.ndarray, tau: float, max_iter: int = 30, tol: float = 1e-6) -> np.ndarray:
    """Projected Newton with Levenberg damping and Armijo backtracking on ``mu >= 0``.

    Few, cheap iterations: the Hessian is only m × m. ``tol`` is on the projected
    gradient, which in these units is the share of each limit left unused or overdrawn.
    When the Newton step fails the line search (a nearly singular Hessian far from the
    optimum), the damping grows until the step turns into scaled gradient descent.
    """
    f, g, h = fn(x, tau, hessian=True)
    for _ in range(max_iter):
        at_bound = (x <= 1e-14) & (g > 0)
        free = ~at_bound
        pg = np.where(at_bound, 0.0, g)
        if np.max(np.abs(pg), initial=0.0) < tol or not free.any():
            break
        hf = h[np.ix_(free, free)]
        scale = max(float(np.trace(hf)) / max(1, int(free.sum())), 1e-12)
        accepted = False
        for damping in (1e-9, 1e-5, 1e-2, 1.0, 1e2, 1e4):
            d = np.zeros_like(x)
            try:
                d[free] = -np.linalg.solve(hf + damping * scale * np.eye(int(free.sum())), g[free])
            except np.linalg.LinAlgError:
                continue
            if d[free] @ g[free] >= 0:
                continue
            step = 1.0
            for _ls in range(12):
                xn = np.maximum(0.0, x + step * d)
                fn_val = fn(xn, tau)[0]
                if fn_val <= f + 1e-4 * (g @ (xn - x)):
                    accepted = True
                    break
                step *= 0.5
            if accepted:
                break
        if not accepted:
            break
        x_old = x
        x = xn
        f, g, h = fn(x, tau, hessian=True)
        if np.max(np.abs(x - x_old)) < 1e-13:
            break
    return x


def _minimise(fn: _Smoothed, x: np.ndarray, taus: tuple[float, ...]) -> np.ndarray:
    """Continuation on the smoothing temperature, Newton at each step."""
    for tau in taus:
        x = _newton(fn, x, tau)
    return x


def solve_batch(problem: BatchProblem, **kwargs) -> BatchSolution:  # noqa: ANN003
    """Assign at most one option per customer within the limits; see :func:`_solve_batch`.

    BLAS runs single-threaded here: the only matrix products are thin (N × J) @ (J × m),
    where OpenBLAS's spinning worker threads cost far more than they save (5x slower on a
    busy 2-core machine).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _solve_batch(problem, **kwargs)


def _solve_batch(
    problem: BatchProblem,
    *,
    sample: int = 20_000,
    taus: tuple[float, ...] = (0.03, 0.003),
    fine_taus: tuple[float, ...] = (0.001,),
    marginal_share: float = 0.1,
    seed: int = 0,
    warm_prices: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchSolution:
    """Assign at most one option per customer within the limits; see module docstring.

    Large instances are solved in two stages: prices from a random ``sample`` (limits
    scaled to its share), then on the whole population where only the ``marginal_share``
    of customers closest to a change of mind stay free and the others are held at their
    current choice; customers whose choice changes at the new prices are freed and the
    stage repeats, so the result does not depend on the guess.
    """
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
        b_act = base[:, idx]
        a_act = None if accept is None else accept[:, idx]
        lim = limits[idx]
        mu = np.zeros(len(idx)) if warm_prices is None else warm_prices[idx] * lim / scale / N
        if 2 * sample < N and warm_prices is None:
            rows = np.sort(np.random.default_rng(seed).choice(N, size=sample, replace=False))
            frac = sample / N
            fn = _Smoothed(value[rows], b_act, a_act, None if prop is None else prop[rows],
                           lim * frac, lim * frac, scale, sample)
            mu = _minimise(fn, mu, taus)
            evals += fn.evals
            say(f"prices from a sample of {sample}: {fn.evals} evaluations")
            stage_taus = fine_taus
        elif 2 * sample < N:
            stage_taus = fine_taus
        else:
            fn = _Smoothed(value, b_act, a_act, prop, lim, lim, scale, N)
            mu = _minimise(fn, mu, (*taus, *fine_taus))
            evals += fn.evals
            stage_taus = ()
        if stage_taus:
            mu, e = _refine_marginal(value, b_act, a_act, prop, lim, scale, mu, stage_taus, marginal_share, say)
            evals += e
        prices[idx] = mu * N * scale / lim
    log.append(f"active limits: {len(idx)} of {m}; {evals} dual evaluations")

    bound = dual_value(BatchProblem(value, base, limits, accept, prop), prices)
    scores = adjusted_scores(value, prices, base, accept, prop)
    assign, _ = argmax_assign(scores)
    del scores
    assign, dropped = _repair(assign, value, base, accept, prop, limits)
    assign, refilled = _refill(assign, value, base, accept, prop, limits)
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


def _refine_marginal(value, base, accept, prop, lim, scale, mu, taus, share, say, rounds: int = 3):  # noqa: ANN001, ANN202
    """Polish normalised prices on the whole population, freeing only marginal customers."""
    N = len(value)
    evals = 0
    free = np.zeros(N, bool)
    for r in range(rounds):
        lam = mu * N * scale / lim
        s = adjusted_scores(value, lam, base, accept, prop)
        top2 = np.partition(np.concatenate([s, np.zeros((N, 1))], axis=1), -2, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        choice, _ = argmax_assign(s)
        del s, top2
        if r == 0:
            k = max(min(N, 2000), int(share * N))
            free[np.argpartition(margin, k - 1)[:k]] = True
        else:
            changed = (choice != last_choice) & ~free  # noqa: F821 - set in the previous round
            if not changed.any():
                break
            free |= changed
            # also free the next tier of near-ties around the moved customers' margins
            free |= margin <= np.max(margin[changed])
        fixed = ~free
        rows = np.nonzero(fixed & (choice >= 0))[0]
        used = usage_of(np.where(fixed, choice, -1), base, accept, prop)
        fr = np.nonzero(free)[0]
        fn = _Smoothed(value[fr], base, accept, None if prop is None else prop[fr], lim - used, lim, scale, N)
        mu = _minimise(fn, mu, taus)
        evals += fn.evals
        say(f"refine round {r + 1}: {len(fr)} free customers, {fn.evals} evaluations")
        last_choice = choice  # noqa: F841 - read in the next round
        del rows
    return mu, evals


def _use_rows(rows: np.ndarray, opts: np.ndarray, base: np.ndarray, accept: np.ndarray | None,
              prop: np.ndarray | None) -> np.ndarray:
    u = base[opts].copy()
    if accept is not None:
        w = np.ones(len(rows)) if prop is None else prop[rows, opts]
        u += accept[opts] * w[:, None]
    return u


def _repair(assign, value, base, accept, prop, limits):  # noqa: ANN001, ANN202
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


def _refill(assign, value, base, accept, prop, limits, max_rounds: int = 4):  # noqa: ANN001, ANN202
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
