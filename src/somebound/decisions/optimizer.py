"""Batch assignment under budgets, stock and channel capacity, by Lagrangian duality.

Problem: for N customers and J options (action × channel), choose at most one option
per customer to maximise ``Σ value[i, j]`` subject to a few (~tens) coupling limits
``Σ use[i, j, r] ≤ limit[r]``. The limits are *dualised*: with a price ``λ_r ≥ 0`` per
resource the problem splits into N independent argmaxes of the price-adjusted score

    value[i, j] − Σ_r λ_r · use[i, j, r]        (or nothing, worth 0)

and the dual function ``D(λ) = Σ_i max(0, max_j adjusted) + λ·limit`` is an upper bound
on the LP optimum (hence on every integer assignment) for *any* λ ≥ 0. We minimise a
softmax-smoothed ``D`` by projected Newton over the handful of prices (the Hessian is
only m × m), with a continuation on the smoothing temperature:

1. on a random sample of 20k customers (limits scaled to its share);
2. then on a ladder of samples five times larger, and finally on everybody, each time
   inside a *trust region* around the previous prices. In that box a customer whose
   winner is far enough ahead cannot change their mind, so their share of the dual is
   an exact linear term; only the ~10 % near a tie are evaluated. A minimiser strictly
   inside the box is the global one (the dual is convex); otherwise the box moves.

The exact argmax at the final prices (one blocked pass) is then *repaired*: assignments
on over-used resources are dropped in increasing order of value per unit used until
every limit holds, and freed room is refilled greedily. The reported gap
``(D(λ) − value) / D(λ)`` is a certificate: the assignment is provably within that share
of the best possible one.

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
    groups: np.ndarray | None = None  # (J,) action of each option: k > 1 never repeats an action

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
            "assigned": int((self.assign.reshape(len(self.assign), -1) >= 0).any(axis=1).sum()),
            "contacts": int((self.assign >= 0).sum()),
            "customers": int(len(self.assign)),
            "seconds": self.seconds,
            "limits": {
                n: {"used": float(u), "limit": float(lim), "price": float(p)}
                for n, u, lim, p in zip(
                    self.names, self.usage, self.limits, self.prices, strict=True
                )
            },
        }


# -- the per-customer kernel (shared with Spark) ------------------------------------------


def adjusted_scores(
    value: np.ndarray,
    prices: np.ndarray,
    base: np.ndarray,
    accept: np.ndarray | None,
    propensity: np.ndarray | None,
) -> np.ndarray:
    """``value − Σ λ·use`` for every customer and option."""
    s = value - (base @ prices)[None, :]
    if accept is not None:
        a = accept @ prices
        if np.any(a):  # without propensities every contact counts as an acceptance (as in usage_of)
            s = s - (a[None, :] if propensity is None else propensity * a[None, :])
    return s


def argmax_assign(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best option per row, ``-1`` when none beats doing nothing; ties go to the lowest index."""
    j = np.argmax(scores, axis=1)
    best = scores[np.arange(len(scores)), j]
    return np.where(best > 0, j, -1), np.maximum(best, 0.0)


def usage_of(
    assign: np.ndarray, base: np.ndarray, accept: np.ndarray | None, propensity: np.ndarray | None
) -> np.ndarray:
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
    """``D(λ)``: an upper bound on every assignment's value, for any prices ``λ >= 0``."""
    _, best, _ = _scan(
        np.asarray(problem.value, float),
        np.asarray(prices, float),
        problem.base,
        problem.accept,
        problem.propensity,
        margins=False,
    )
    return float(best.sum() + np.asarray(prices) @ problem.limits)


# -- solver -------------------------------------------------------------------------------


class _Smoothed:
    """Softmax-smoothed dual in normalised units.

    Prices are expressed per whole limit (``norm``) and values per ``scale``, so every
    coordinate is O(1). ``rhs`` is the room left for these customers (the limit minus
    what customers held fixed already use). Scores are float64, softmax weights float32
    (sums accumulated in float64).
    """

    def __init__(
        self,
        value: np.ndarray,
        base: np.ndarray,
        accept: np.ndarray | None,
        prop: np.ndarray | None,
        rhs: np.ndarray,
        norm: np.ndarray,
        scale: float,
        n_total: int,
    ) -> None:
        self.v = value / scale
        if accept is not None and prop is None:  # no propensities: every contact is an acceptance
            base, accept = base + accept, None
        self.base = base / norm[None, :]
        self.accept = None if accept is None else accept / norm[None, :]
        self.prop = (
            None if prop is None or self.accept is None else np.asarray(prop, dtype=np.float64)
        )
        self.prop32 = None if self.prop is None else self.prop.astype(np.float32)
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
        mx = np.maximum(np.max(s, axis=1, initial=-np.inf), 0.0)
        # the exponentials in float32 (4x faster); their arguments are float64 so the
        # value stays smooth to ~1e-12, which the line search needs near the optimum
        s -= mx[:, None]
        s *= 1.0 / tau
        d = np.maximum(s, -60.0).astype(np.float32)  # clipping avoids slow denormals
        del s
        e = np.exp(d, out=d)
        z = np.exp(np.maximum(-mx / tau, -60.0)) + e.sum(axis=1, dtype=np.float64)
        f = float((mx + tau * np.log(z)).sum() + lam @ self.rhs)
        pi = e
        pi *= (1.0 / z).astype(np.float32)[:, None]
        pisum = pi.sum(axis=0, dtype=np.float64)
        use = pisum @ self.base
        pip = None
        if acc is not None:
            pip = pi * self.prop32
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
            pp2 = (pip * self.prop32).sum(axis=0, dtype=np.float64)
            second = second + cross + cross.T + self.accept.T @ (pp2[:, None] * self.accept)
        hess = (second - w.T @ w) * (self.n / tau)
        return f / self.n, grad, hess


def _newton(
    fn: _Smoothed,
    x: np.ndarray,
    tau: float,
    max_iter: int = 30,
    tol: float = 1e-6,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
) -> np.ndarray:
    """Projected Newton with Levenberg damping and Armijo backtracking on ``lo <= mu <= hi``.

    Few, cheap iterations: the Hessian is only m × m. ``tol`` is on the projected
    gradient, which in these units is the share of each limit left unused or overdrawn.
    When the Newton step fails the line search (a nearly singular Hessian far from the
    optimum), the damping grows until the step turns into scaled gradient descent.
    ``lo``/``hi`` default to the dual's own constraint ``mu >= 0``; the polish stage
    passes a trust region.
    """
    lo = np.zeros_like(x) if lo is None else lo
    hi = np.full_like(x, np.inf) if hi is None else hi
    x = np.clip(x, lo, hi)
    f, g, h = fn(x, tau, hessian=True)
    stalls = 0
    for _ in range(max_iter):
        at_bound = ((x <= lo + 1e-14) & (g > 0)) | ((x >= hi - 1e-14) & (g < 0))
        free = ~at_bound
        pg = np.where(at_bound, 0.0, g)
        if np.max(np.abs(pg), initial=0.0) < tol or not free.any():
            break
        hf = h[np.ix_(free, free)]
        scale = max(float(np.trace(hf)) / max(1, int(free.sum())), 1e-12)
        accepted = False
        for damping in (1e-9, 1e-4, 1e-2, 1.0, 1e2, 1e4):
            d = np.zeros_like(x)
            try:
                d[free] = -np.linalg.solve(hf + damping * scale * np.eye(int(free.sum())), g[free])
            except np.linalg.LinAlgError:
                continue
            if d[free] @ g[free] >= 0:
                continue
            step = 1.0
            for _ls in range(6):
                xn = np.clip(x + step * d, lo, hi)
                fn_val = fn(xn, tau)[0]
                if fn_val <= f + 1e-4 * (g @ (xn - x)):
                    accepted = True
                    break
                step *= 0.25
            if accepted:
                break
        if not accepted:
            break
        x_old, f_old = x, f
        x = xn
        f, g, h = fn(x, tau, hessian=True)
        # float32 softmax weights put a floor of ~1e-12 under the value: stop when
        # iterations no longer improve it rather than chase the gradient below the noise
        stalls = stalls + 1 if f_old - f <= 1e-12 * max(1.0, abs(f)) else 0
        if np.max(np.abs(x - x_old)) < 1e-13 or stalls >= 2:
            break
    return x


def _minimise(fn: _Smoothed, x: np.ndarray, taus: tuple[float, ...]) -> np.ndarray:
    """Continuation on the smoothing temperature, Newton at each step."""
    for tau in taus:
        x = _newton(fn, x, tau)
    return x


def solve_batch(problem: BatchProblem, k: int = 1, **kwargs) -> BatchSolution:  # noqa: ANN003
    """Assign at most one option (or ``k``, never two of one action: see
    :mod:`somebound.decisions.optimizer_k`) per customer within the limits.

    BLAS runs single-threaded here: the only matrix products are thin (N × J) @ (J × m),
    where OpenBLAS's spinning worker threads cost far more than they save (5x slower on a
    busy 2-core machine).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if k > 1:
            from somebound.decisions.optimizer_k import solve_batch_k

            return solve_batch_k(
                problem, k, **{a: kwargs[a] for a in ("sample", "seed", "progress") if a in kwargs}
            )
        return _solve_batch(problem, **kwargs)


def problem_arrays(
    problem: BatchProblem,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``problem`` as arrays: (value (N, J), limits (m,), base (J, m), accept (J, m) or None,
    propensity); options that need a limit with no room at all get value ``-inf``."""
    value = np.asarray(problem.value, dtype=np.float64)
    J = value.shape[1]
    limits = np.asarray(problem.limits, float)
    m = len(limits)
    base = np.asarray(problem.base, float).reshape(J, m)
    accept = None if problem.accept is None else np.asarray(problem.accept, float).reshape(J, m)
    # options that need a resource with no room left can never be used
    need = base + (accept if accept is not None else 0.0)
    dead = np.any((need > 0) & (limits[None, :] <= 0), axis=1)
    if dead.any():
        value = value.copy()
        value[:, dead] = -np.inf
    return value, limits, base, accept, problem.propensity


def _solve_batch(
    problem: BatchProblem,
    *,
    sample: int = 20_000,
    taus: tuple[float, ...] = (0.03, 0.003),
    fine_taus: tuple[float, ...] = (0.001,),
    seed: int = 0,
    warm_prices: np.ndarray | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchSolution:
    """Assign at most one option per customer within the limits; see module docstring.

    Large instances are solved in two stages: prices from a random ``sample`` (limits
    scaled to its share), then :func:`_polish` on the whole population, where only the
    customers close enough to a change of mind to matter inside a trust region around
    the prices are evaluated and everybody else is an exact linear term.
    """
    t0 = time.perf_counter()
    value, limits, base, accept, prop = problem_arrays(problem)
    N, _ = value.shape
    m = len(limits)
    log: list[str] = []
    say = progress or (lambda s: None)

    best_each, positive_count, positive_prop = _column_stats(
        value, prop if accept is not None else None
    )
    # resources that cannot bind even if every customer took its heaviest option
    max_use = positive_count @ base
    if accept is not None:
        max_use = max_use + (positive_count if prop is None else positive_prop) @ accept
    active = (limits > 0) & (max_use > limits + 1e-9)
    idx = np.nonzero(active)[0]
    prices = np.zeros(m)
    evals = 0
    scale = float(best_each.mean()) if N else 1.0
    scale = scale or 1.0

    if len(idx):
        b_act = base[:, idx]
        a_act = None if accept is None else accept[:, idx]
        lim = limits[idx]
        mu = np.zeros(len(idx)) if warm_prices is None else warm_prices[idx] * lim / scale / N
        if 2 * sample < N and warm_prices is None:
            rows = np.sort(np.random.default_rng(seed).choice(N, size=sample, replace=False))
            frac = sample / N
            fn = _Smoothed(
                value[rows],
                b_act,
                a_act,
                None if prop is None else prop[rows],
                lim * frac,
                lim * frac,
                scale,
                sample,
            )
            mu = _minimise(fn, mu, taus)
            evals += fn.evals
            say(f"prices from a sample of {sample}: {fn.evals} evaluations")
            # a ladder of growing samples: each one's prices start the next one's
            # polish close to its optimum, so the full population needs few rounds
            size = sample * 5
            while 3 * size < N:
                rows = np.sort(
                    np.random.default_rng(seed + size).choice(N, size=size, replace=False)
                )
                for tau in fine_taus:
                    mu, e = _polish(
                        value[rows],
                        b_act,
                        a_act,
                        None if prop is None else prop[rows],
                        lim * (size / N),
                        scale,
                        mu,
                        tau,
                        say,
                    )
                    evals += e
                size *= 5
            stage_taus = fine_taus
        elif 2 * sample < N:
            stage_taus = fine_taus
        else:
            fn = _Smoothed(value, b_act, a_act, prop, lim, lim, scale, N)
            mu = _minimise(fn, mu, (*taus, *fine_taus))
            evals += fn.evals
            stage_taus = ()
        for tau in stage_taus:
            mu, e = _polish(value, b_act, a_act, prop, lim, scale, mu, tau, say)
            evals += e
        prices[idx] = mu * N * scale / lim
    log.append(f"active limits: {len(idx)} of {m}; {evals} dual evaluations")

    choice, best, _ = _scan(value, prices, base, accept, prop, margins=False)
    bound = float(best.sum() + prices @ limits)
    assign, dropped = drop_to_limits(
        choice, assigned_worth(choice, value), base, accept, prop, limits
    )
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


CHUNK = 65_536  # rows per block in full-population passes: temporaries stay in cache-sized pieces


def _column_stats(
    value: np.ndarray, prop: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per customer the best positive value; per option how many customers value it
    positively (and their summed propensity). One blocked pass, no (N, J) temporaries."""
    N, J = value.shape
    best = np.empty(N)
    count = np.zeros(J)
    psum = None if prop is None else np.zeros(J)
    for s in range(0, N, CHUNK):
        v = value[s : s + CHUNK]
        pos = v > 0  # -inf and nan are not positive
        best[s : s + CHUNK] = np.max(v, axis=1, initial=0.0, where=pos)
        count += pos.sum(axis=0)
        if psum is not None:
            psum += np.where(pos, prop[s : s + CHUNK], 0.0).sum(axis=0)
    return best, count, psum


def _scan(
    value: np.ndarray,
    prices: np.ndarray,
    base: np.ndarray,
    accept: np.ndarray | None,
    prop: np.ndarray | None,
    margins: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The exact per-customer argmax at ``prices``, in blocks of rows.

    Returns (choice: option or -1, best adjusted score >= 0, margin): the margin is how
    far the winner (or "nothing") is ahead of the runner-up, i.e. how much the
    price-adjusted scores must move before this customer changes their mind.
    """
    N, _ = value.shape
    cb = base @ prices
    ca = None
    if accept is not None and prop is not None:
        ca = accept @ prices
        if not np.any(ca):
            ca = None
    elif accept is not None:
        cb = cb + accept @ prices
    choice = np.empty(N, np.int64)
    best = np.empty(N)
    margin = np.empty(N) if margins else None
    for s in range(0, N, CHUNK):
        sc = value[s : s + CHUNK] - cb[None, :]
        if ca is not None:
            sc -= prop[s : s + CHUNK] * ca[None, :]
        n = len(sc)
        r = np.arange(n)
        j = np.argmax(sc, axis=1)
        top = sc[r, j]
        took = top > 0
        choice[s : s + n] = np.where(took, j, -1)
        best[s : s + n] = np.where(took, top, 0.0)
        if margin is not None:
            sc[r, j] = -np.inf
            second = np.maximum(np.max(sc, axis=1, initial=-np.inf), 0.0)
            margin[s : s + n] = np.where(took, top - second, -top)
    return choice, best, margin


def _polish(
    value,
    base,
    accept,
    prop,
    lim,
    scale,
    mu,
    tau,
    say,  # noqa: ANN001, ANN202, PLR0913
    delta: float = 0.01,
    width: float = 14.0,
    rounds: int = 12,
):
    """Newton on the whole population at temperature ``tau``, within a trust region.

    In a box around the current prices option j's price-adjusted score moves by at most
    ``move[j]``; a customer whose winner t is ahead by more than ``move[t] + max(move)``
    plus ``width`` temperatures keeps that winner with softmax weight ~e^-width
    everywhere in the box, so their share of the smoothed dual is an exact linear term
    (their use comes off the limit). Only the remaining few per cent are evaluated. A
    minimiser strictly inside the box is the minimiser of the full convex function; when
    a box edge holds a price back, the box is re-centred there, twice as wide in that
    price only, and the stage repeats.
    """
    N = len(value)
    need = base / lim[None, :]
    if accept is not None:
        need = need + accept / lim[None, :]
    touch = max(1, int((need > 0).sum(axis=1).max(initial=1)))
    reach = N * need.max(axis=0)  # normalised score move per unit of each price
    rho = delta / (touch * np.maximum(reach, 1e-300))
    evals = 0
    for r in range(rounds):
        lam = mu * N * scale / lim
        choice, _, margin = _scan(value, lam, base, accept, prop)
        lo, hi = np.maximum(0.0, mu - rho), mu + rho
        move = need @ (N * np.maximum(mu - lo, hi - mu))  # (J,) normalised
        own = np.where(choice >= 0, move[np.maximum(choice, 0)], 0.0)
        free = margin < (own + float(move.max(initial=0.0)) + width * tau) * scale
        used = usage_of(np.where(free, -1, choice), base, accept, prop)
        fr = np.nonzero(free)[0]
        fn = _Smoothed(
            value[fr], base, accept, None if prop is None else prop[fr], lim - used, lim, scale, N
        )
        new = _newton(fn, mu, tau, lo=lo, hi=hi)
        g = fn(new, tau)[1]
        evals += fn.evals
        held = ((new <= lo + 1e-12) & (lo > 0) & (g > 0)) | ((new >= hi - 1e-12) & (g < 0))
        say(
            f"polish round {r + 1} (tau {tau:g}): {len(fr)} of {N} customers free, "
            f"{fn.evals} evaluations, {int(held.sum())} prices at the trust-region edge"
        )
        mu = new
        if not held.any():
            break
        rho = np.where(held, 2 * rho, rho)
    return mu, evals


def unit_use(
    rows: np.ndarray,
    opts: np.ndarray,
    base: np.ndarray,
    accept: np.ndarray | None,
    prop: np.ndarray | None,
) -> np.ndarray:
    """What giving customer ``rows[i]`` option ``opts[i]`` uses of every limit: (len(rows), m)."""
    u = base[opts].copy()
    if accept is not None:
        w = np.ones(len(rows)) if prop is None else prop[rows, opts]
        u += accept[opts] * w[:, None]
    return u


def drop_to_limits(
    assign: np.ndarray,
    worth: np.ndarray,
    base: np.ndarray,
    accept: np.ndarray | None,
    prop: np.ndarray | None,
    limits: np.ndarray,
    rounds: int = 3,
) -> tuple[np.ndarray, int]:
    """Drop the assignments with the least worth per unit of every over-used limit until all
    limits hold (at most ``rounds`` passes). Returns (a copy of ``assign``, number dropped).

    ``assign`` holds options per customer, ``-1`` for none: shape (N,) for one option each or
    (N, k) for up to ``k``; ``worth`` has the same shape and holds the value of each assigned
    option (read only where ``assign >= 0``).
    """
    assign = assign.copy()
    slots_of = assign if assign.ndim == 2 else assign[:, None]  # a view: (N, 1) for one option each
    worth = worth if worth.ndim == 2 else worth[:, None]
    dropped = 0
    for _ in range(rounds):
        over = np.nonzero(usage_of(assign, base, accept, prop) > limits + 1e-9)[0]
        if not len(over):
            break
        for r in over:
            rows, slots = np.nonzero(slots_of >= 0)
            opts = slots_of[rows, slots]
            u = unit_use(rows, opts, base, accept, prop)[:, r]
            sel = u > 0
            rows, slots, u = rows[sel], slots[sel], u[sel]
            excess = usage_of(assign, base, accept, prop)[r] - limits[r]
            if excess <= 1e-9:
                continue
            order = np.lexsort((rows, worth[rows, slots] / u))  # worth per unit of the tight limit
            cut = int(np.searchsorted(np.cumsum(u[order]), excess - 1e-9) + 1)
            slots_of[rows[order[:cut]], slots[order[:cut]]] = -1
            dropped += cut
    return assign, dropped


def assigned_worth(assign: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``value`` of each assigned option, shaped like ``assign`` (N,) or (N, k); 0 where none."""
    a = assign if assign.ndim == 2 else assign[:, None]
    w = np.where(a >= 0, np.take_along_axis(value, np.maximum(a, 0), axis=1), 0.0)
    return w if assign.ndim == 2 else w[:, 0]


def best_fitting_first(
    rows: np.ndarray,
    cand: np.ndarray,
    base: np.ndarray,
    accept: np.ndarray | None,
    prop: np.ndarray | None,
    free: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Greedy fill step: each of ``rows`` wants its best candidate option (``cand``: value per
    option, ``-inf`` where not allowed); the positive ones are taken best first while their
    cumulative use fits in ``free``.

    Returns (rows taken, their options, whether every positive candidate was taken).
    """
    j = np.argmax(cand, axis=1)
    v = cand[np.arange(len(rows)), j]
    ok = v > 0
    rows, j, v = rows[ok], j[ok], v[ok]
    order = np.lexsort((rows, -v))
    rows, j = rows[order], j[order]
    # accept greedily in order while cumulative use fits (vectorised per resource)
    cum = np.cumsum(unit_use(rows, j, base, accept, prop), axis=0)
    within = np.all(cum <= free[None, :] + 1e-9, axis=1)
    take = len(rows) if within.all() else int(np.argmin(within))
    return rows[:take], j[:take], take == len(rows)


def _refill(assign, value, base, accept, prop, limits, max_rounds: int = 4):  # noqa: ANN001, ANN202
    """Give unassigned customers their best option that still fits, best first."""
    assign = assign.copy()
    filled = 0
    need = base + (accept if accept is not None else 0.0)
    for _ in range(max_rounds):
        free = limits - usage_of(assign, base, accept, prop)
        fits = np.all(need <= free[None, :] + 1e-9, axis=1)  # (J,) options with room for one more
        rows = np.nonzero(assign < 0)[0]
        if not fits.any() or not len(rows):
            break
        cand = np.where(fits[None, :], value[rows], -np.inf)
        rows, j, all_taken = best_fitting_first(rows, cand, base, accept, prop, free)
        if not len(
            rows
        ):  # nothing worth it, or the best alone does not fit with expected stock use
            break
        assign[rows] = j
        filled += len(rows)
        if all_taken:
            break
    return assign, filled


# -- exact LP baseline ----------------------------------------------------------------------


def solve_lp_highs(
    problem: BatchProblem, method: str = "highs-ipm", k: int = 1
) -> tuple[float, np.ndarray, float]:
    """The LP relaxation solved exactly by HiGHS (the benchmark baseline and test oracle).

    With ``k > 1`` each customer takes up to ``k`` options and at most one per action
    (``problem.groups``).

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
    blocks, rhs = [assign_rows], [np.full(N, float(k))]
    if k > 1:
        groups = (
            np.arange(J)
            if problem.groups is None
            else np.unique(problem.groups, return_inverse=True)[1]
        )
        G = int(groups.max()) + 1
        blocks.append(
            csr_matrix((np.ones(nv), (rows * G + groups[cols], np.arange(nv))), shape=(N * G, nv))
        )
        rhs.append(np.ones(N * G))
    A = vstack([*blocks, res_rows]).tocsr()
    b = np.concatenate([*rhs, problem.limits])
    out = linprog(c, A_ub=A, b_ub=b, bounds=(0, 1), method=method)
    if out.status != 0:
        raise RuntimeError(f"HiGHS failed: {out.message}")
    prices = -np.asarray(out.ineqlin.marginals[-m:]) if out.ineqlin is not None else np.zeros(m)
    return float(-out.fun), prices, time.perf_counter() - t0
