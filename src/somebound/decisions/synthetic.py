"""Seeded synthetic batch instances for benchmarks and tests.

N customers × ``n_actions`` actions, each offered on 1–3 of 5 channels, with per-action
budgets, a total budget and per-channel capacities (``n_actions + 1 + 5`` limits), sized
so that most limits bind: the hard case for the optimiser.
"""

from __future__ import annotations

import numpy as np

from somebound.decisions.optimizer import BatchProblem

CHANNEL_COST = np.array([0.01, 0.08, 4.0, 0.5, 0.3])  # email, sms, call, social_dm, agent


def synthetic_problem(
    n: int, n_actions: int = 20, seed: int = 0, tightness: float = 0.35, with_stock: bool = False
) -> BatchProblem:
    rng = np.random.default_rng(seed)
    n_channels = len(CHANNEL_COST)
    opts: list[tuple[int, int]] = []
    for a in range(n_actions):
        k = rng.integers(1, 4)
        for c in sorted(rng.choice(n_channels, size=k, replace=False)):
            opts.append((a, int(c)))
    opt_a = np.array([o[0] for o in opts])
    opt_c = np.array([o[1] for o in opts])
    J = len(opts)
    action_value = rng.uniform(20, 300, n_actions)
    channel_lift = np.array([0.6, 0.8, 2.2, 1.0, 1.5])
    # propensity: customer affinity × action appeal × channel lift, in (0, 0.5)
    affinity = rng.gamma(2.0, 0.5, (n, 1)).astype(np.float64)
    appeal = rng.uniform(0.005, 0.06, n_actions)
    noise = rng.lognormal(0.0, 0.6, (n, J))
    p = np.clip(affinity * appeal[opt_a][None, :] * channel_lift[opt_c][None, :] * noise, 0, 0.5)
    cost = CHANNEL_COST[opt_c]
    value = p * action_value[opt_a][None, :] - cost[None, :]
    allowed = rng.random((n, J)) < 0.7
    value = np.where(allowed, value, -np.inf)

    names: list[str] = []
    cols: list[np.ndarray] = []
    acc_cols: list[np.ndarray] = []
    limits: list[float] = []
    greedy = np.argmax(np.where(np.isfinite(value), value, -1e9), axis=1)
    picked = np.max(value, axis=1) > 0
    spend = np.bincount(greedy[picked], weights=cost[greedy[picked]], minlength=J)
    counts = np.bincount(greedy[picked], minlength=J)
    zero = np.zeros(J)
    for a in range(n_actions):
        names.append(f"budget:a{a}")
        col = np.where(opt_a == a, cost, 0.0)
        cols.append(col)
        acc_cols.append(zero)
        limits.append(max(1.0, float(spend[opt_a == a].sum()) * rng.uniform(0.3, 1.2)))
    names.append("budget:total")
    cols.append(cost.copy())
    acc_cols.append(zero)
    limits.append(float(spend.sum()) * tightness * 2)
    for c, ch in enumerate(["email", "sms", "call", "social_dm", "agent"]):
        names.append(f"capacity:{ch}")
        cols.append((opt_c == c).astype(float))
        acc_cols.append(zero)
        limits.append(max(1.0, float(counts[opt_c == c].sum()) * rng.uniform(0.3, 1.0)))
    accept = None
    if with_stock:
        accept = np.column_stack(acc_cols)
        for a in range(0, n_actions, 5):
            names.append(f"stock:a{a}")
            cols.append(zero)
            acc_col = (opt_a == a).astype(float)
            accept = np.column_stack([accept, acc_col])
            exp_accept = float(p[picked, greedy[picked]][opt_a[greedy[picked]] == a].sum())
            limits.append(max(1.0, exp_accept * 0.5))
    return BatchProblem(
        value=value,
        base=np.column_stack(cols),
        limits=np.array(limits),
        accept=accept,
        propensity=p if with_stock else None,
        names=tuple(names),
        groups=opt_a,
    )


REGIONS = ("Uusimaa", "Pirkanmaa", "Varsinais-Suomi", "Pohjois-Pohjanmaa", "Lappi", "Kainuu", "Pohjanmaa")


def demo_customers(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded customer columns matching the demo catalogue's attributes."""
    rng = np.random.default_rng(seed)
    has_bb = rng.random(n) < 0.7
    return {
        "customer_id": np.arange(1, n + 1),
        "age": rng.integers(16, 90, n).astype(float),
        "segment": rng.choice(np.array(["gold", "silver", "bronze"], dtype=object), n, p=[0.15, 0.35, 0.5]),
        "tenure_months": rng.integers(0, 240, n).astype(float),
        "churn_risk": rng.beta(2, 5, n),
        "monthly_spend": rng.gamma(3, 15, n),
        "has_broadband": has_bb,
        "has_mobile": rng.random(n) < 0.8,
        "has_tv": rng.random(n) < 0.3,
        "broadband_speed": np.where(has_bb, rng.choice([100, 200, 300, 1000], n), np.nan),
        "region": rng.choice(np.array(REGIONS, dtype=object), n),
        "language": rng.choice(np.array(["fi", "sv", "en"], dtype=object), n, p=[0.86, 0.1, 0.04]),
        "overdue_days": np.where(rng.random(n) < 0.1, rng.integers(1, 90, n), 0).astype(float),
        "opted_out": rng.random(n) < 0.05,
        "consent_email": rng.random(n) < 0.9,
        "consent_sms": rng.random(n) < 0.7,
        "consent_call": rng.random(n) < 0.8,
        "preferred_channel": rng.choice(np.array(["email", "sms", "phone", "social"], dtype=object), n, p=[0.5, 0.2, 0.2, 0.1]),
        "data_usage_gb": rng.gamma(2, 10, n),
        "contract_months_left": rng.integers(0, 24, n).astype(float),
        "device_age_months": rng.integers(0, 60, n).astype(float),
        "e_invoice": rng.random(n) < 0.6,
        "last_nps": rng.integers(0, 11, n).astype(float),
    }


def simulate_outcomes(
    model_truth: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Bernoulli acceptances from true probabilities (for learning tests and demos)."""
    return rng.random(model_truth.shape) < model_truth
