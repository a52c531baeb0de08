"""Batch assignment of up to ``k`` actions per customer (k > 1), by the same duality.

With prices ``λ`` on the coupling limits, each customer's problem is: pick at most ``k``
options, at most one per action (``problem.groups``), maximising the price-adjusted
score. That is a laminar matroid, so the greedy choice is exact: the best channel of
each action, then the ``k`` best positive actions. Hence the dual

    D_k(λ) = Σ_i (sum of the k best positive per-action scores) + λ·limit

bounds the LP and every integer assignment for any ``λ >= 0``, and the reported gap is a
certificate exactly as for k = 1.

The prices minimise a smoothed ``D_k``: log-sum-exp over an action's channels, and the
top-k sum written as ``min_θ≥0 kθ + Σ_g max(0, G_g − θ)`` with the max smoothed into a
softplus; ``θ`` (one per customer) is found by vectorised bisection, and the gradient
follows by the envelope theorem. L-BFGS-B (scipy) minimises it on a sample of customers
with a temperature continuation; one exact pass on everybody then assigns, repairs and
refills. This path is for campaign sizes (it is not tuned like the k = 1 path).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from somebound.decisions.optimizer import (
    CHUNK,
    BatchProblem,
    BatchSolution,
    adjusted_scores,
    assigned_worth,
    best_fitting_first,
    drop_to_limits,
    problem_arrays,
    usage_of,
)


def _group_matrix(groups: np.ndarray) -> tuple[np.ndarray, int]:
    g = np.unique(groups, return_inverse=True)[1].astype(np.int64)
    return g, int(g.max()) + 1 if len(g) else 0


class _SmoothedK:
    """Smoothed ``D_k`` in normalised units (prices per whole limit, values per ``scale``)."""

    def __init__(self, value, base, accept, prop, rhs, norm, scale, n_total, groups, k):  # noqa: ANN001, PLR0913
        self.v = value / scale
        if accept is not None and prop is None:
            base, accept = base + accept, None
        self.base = base / norm[None, :]
        self.accept = None if accept is None else accept / norm[None, :]
        self.prop = prop if self.accept is not None else None
        self.rhs, self.n, self.k = rhs / norm, n_total, k
        self.g, self.G = _group_matrix(groups)
        self.onehot = np.zeros((len(self.g), self.G))
        self.onehot[np.arange(len(self.g)), self.g] = 1.0
        self.evals = 0

    def __call__(self, mu: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        self.evals += 1
        lam = mu * self.n
        s = self.v - (self.base @ lam)[None, :]
        if self.accept is not None:
            s = s - self.prop * (self.accept @ lam)[None, :]
        # smooth max over each action's channels: G = tau * log Σ_j∈g exp(s_j / tau)
        gmax = np.full((len(s), self.G), -np.inf)
        for grp in range(self.G):  # G is the number of actions: tens
            cols = self.g == grp
            gmax[:, grp] = s[:, cols].max(axis=1)
        fin = np.isfinite(gmax)
        gm = np.where(fin, gmax, 0.0)
        e = np.exp(np.maximum((s - gm[:, self.g]) / tau, -60.0))
        e[~np.isfinite(s)] = 0.0
        zs = e @ self.onehot  # (N, G)
        G = np.where(fin, gm + tau * np.log(np.maximum(zs, 1e-300)), -np.inf)
        theta = _threshold(G, self.k, tau)
        x = np.where(fin, _sigmoid((G - theta[:, None]) / tau), 0.0)  # selection weight per action
        sp = np.where(
            fin, tau * np.logaddexp(0.0, np.where(fin, (G - theta[:, None]) / tau, -np.inf)), 0.0
        )
        f = float((self.k * theta + sp.sum(axis=1)).sum() + lam @ self.rhs)
        pi = e / np.maximum(zs, 1e-300)[:, self.g] * x[:, self.g]  # (N, J) weight of each option
        use = pi.sum(axis=0) @ self.base
        if self.accept is not None:
            use = use + (pi * self.prop).sum(axis=0) @ self.accept
        return f / self.n, self.rhs - use


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _threshold(G: np.ndarray, k: int, tau: float, iters: int = 32) -> np.ndarray:
    """Per customer the ``θ >= 0`` where the smoothed number of chosen actions is ``k``."""
    fin = np.isfinite(G)
    Gf = np.where(fin, G, -np.inf)

    def count(theta: np.ndarray) -> np.ndarray:
        return np.where(fin, _sigmoid((Gf - theta[:, None]) / tau), 0.0).sum(axis=1)

    lo = np.zeros(len(G))
    hi = np.maximum(np.max(np.where(fin, G, 0.0), axis=1, initial=0.0), 0.0) + 40 * tau
    need = count(lo) > k  # otherwise θ = 0 (fewer than k worthwhile actions)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        over = count(mid) > k
        lo = np.where(over, mid, lo)
        hi = np.where(over, hi, mid)
    return np.where(need, 0.5 * (lo + hi), 0.0)


def exact_topk(
    value: np.ndarray,
    prices: np.ndarray,
    base: np.ndarray,
    accept: np.ndarray | None,
    prop: np.ndarray | None,
    groups: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact per-customer choice at ``prices``: (N, k) options (-1 = none) and the
    summed adjusted score (>= 0), by the matroid greedy, in blocks of rows."""
    N, _ = value.shape
    g, G = _group_matrix(groups)
    out = np.full((N, k), -1, np.int64)
    best = np.zeros(N)
    for s0 in range(0, N, CHUNK):
        rows = slice(s0, s0 + CHUNK)
        sc = adjusted_scores(
            value[rows], prices, base, accept, None if prop is None else prop[rows]
        )
        n = len(sc)
        gbest = np.full((n, G), -np.inf)
        garg = np.full((n, G), -1, np.int64)
        for grp in range(G):
            cols = np.nonzero(g == grp)[0]
            j = cols[np.argmax(sc[:, cols], axis=1)]
            gbest[:, grp] = sc[np.arange(n), j]
            garg[:, grp] = j
        kk = min(k, G)
        order = np.argsort(-gbest, axis=1, kind="stable")[:, :kk]
        top = np.take_along_axis(gbest, order, axis=1)
        pick = np.take_along_axis(garg, order, axis=1)
        ok = top > 0
        out[s0 : s0 + n, :kk] = np.where(ok, pick, -1)
        best[s0 : s0 + n] = np.where(ok, top, 0.0).sum(axis=1)
    return out, best


def solve_batch_k(
    problem: BatchProblem,
    k: int,
    *,
    sample: int = 20_000,
    taus: tuple[float, ...] = (0.03, 0.003, 0.001),
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> BatchSolution:
    """Up to ``k`` options per customer (never two of the same action) within the limits."""
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    say = progress or (lambda s: None)
    value, limits, base, accept, prop = problem_arrays(problem)
    N, J = value.shape
    m = len(limits)
    groups = np.arange(J) if problem.groups is None else np.asarray(problem.groups)
    need = base + (accept if accept is not None else 0.0)
    pos = np.isfinite(value) & (value > 0)
    scale = float(np.mean(np.max(np.where(pos, value, 0.0), axis=1))) or 1.0
    active = (limits > 0) & (k * pos.sum(axis=0) @ need > limits + 1e-9)
    idx = np.nonzero(active)[0]
    prices = np.zeros(m)
    evals = 0
    if len(idx):
        rows = np.arange(N)
        if sample < N:
            rows = np.sort(np.random.default_rng(seed).choice(N, size=sample, replace=False))
        frac = len(rows) / N
        lim = limits[idx]
        fn = _SmoothedK(
            value[rows],
            base[:, idx],
            None if accept is None else accept[:, idx],
            None if prop is None else prop[rows],
            lim * frac,
            lim * frac,
            scale,
            len(rows),
            groups,
            k,
        )
        mu = np.zeros(len(idx))
        for tau in taus:
            res = minimize(
                lambda x, t=tau: fn(x, t),
                mu,
                jac=True,
                method="L-BFGS-B",
                bounds=[(0.0, None)] * len(idx),
                options={"maxiter": 200, "gtol": 1e-7},
            )
            mu = res.x
        evals = fn.evals
        say(f"k={k}: prices from {len(rows)} customers, {evals} evaluations")
        prices[idx] = mu * len(rows) * scale / (lim * frac)
    choice, best = exact_topk(value, prices, base, accept, prop, groups, k)
    bound = float(best.sum() + prices @ limits)
    assign, dropped = drop_to_limits(
        choice, assigned_worth(choice, value), base, accept, prop, limits, rounds=4
    )
    assign, filled = _refill_k(assign, value, base, accept, prop, limits, groups)
    rws, cls = np.nonzero(assign >= 0)
    total = float(value[rws, assign[rws, cls]].sum())
    return BatchSolution(
        assign=assign,
        prices=prices,
        value=total,
        bound=max(bound, total),
        usage=usage_of(assign, base, accept, prop),
        limits=limits,
        names=problem.names or tuple(f"r{r}" for r in range(m)),
        seconds=time.perf_counter() - t0,
        evaluations=evals,
        repaired=dropped,
        refilled=filled,
        log=[f"k={k}; {len(idx)} active limits"],
    )


def _refill_k(assign, value, base, accept, prop, limits, groups, rounds: int = 4):  # noqa: ANN001, ANN202, PLR0913
    """Give customers with a free slot their best fitting option of an action they lack."""
    assign = assign.copy()
    filled = 0
    g = np.asarray(groups)
    need = base + (accept if accept is not None else 0.0)
    for _ in range(rounds):
        free = limits - usage_of(assign, base, accept, prop)
        fits = np.all(need <= free[None, :] + 1e-9, axis=1)
        rows = np.nonzero((assign < 0).any(axis=1))[0]
        if not fits.any() or not len(rows):
            break
        cand = np.where(fits[None, :], value[rows], -np.inf)
        held = assign[rows]
        for s in range(held.shape[1]):  # never a second option of an action already held
            h = held[:, s]
            has = h >= 0
            same = g[None, :] == g[np.maximum(h, 0)][:, None]
            cand[has[:, None] & same] = -np.inf
        rows, j, all_taken = best_fitting_first(rows, cand, base, accept, prop, free)
        if not len(rows):
            break
        slot = np.argmax(assign[rows] < 0, axis=1)
        assign[rows, slot] = j
        filled += len(rows)
        if all_taken:
            break
    return assign, filled
