"""Discrete-event simulation of a first-come-first-served multi-agent queue with patience.

Why it exists: it is the independent referee for the Erlang formulas (tests compare the
closed forms with it inside its confidence interval) and it can evaluate what the
formulas cannot (non-exponential patience or handling times, given as samplers).

FCFS with abandonment needs no event calendar: customers are taken in arrival order,
each is offered the earliest time an agent frees up; if their patience runs out first
they leave without occupying anyone. A heap of agent-free times gives O(N log n).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

Sampler = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True)
class Estimate:
    """A simulated mean with its two-sided confidence interval (batch means)."""

    mean: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class SimulationResult:
    customers: int
    p_wait: Estimate
    p_abandon: Estimate
    service_level: Estimate  # answered within target, over all arrivals
    mean_wait: Estimate  # time in queue over all arrivals (abandoned: until they left)


def simulate_queue(
    agents: int,
    arrival_rate: float,
    aht_seconds: float,
    patience_seconds: float,
    target_seconds: float,
    *,
    customers: int = 200_000,
    warmup: int = 10_000,
    batches: int = 40,
    confidence: float = 0.99,
    seed: int = 0,
    service_sampler: Sampler | None = None,
    patience_sampler: Sampler | None = None,
) -> SimulationResult:
    """Simulate an M/M/n+M queue (or G service/patience via samplers) in steady state.

    Exponential service and patience are used unless samplers are given; ``inf``
    patience means nobody abandons (Erlang C). Confidence intervals come from the
    Student t over ``batches`` consecutive batches of customers after ``warmup``.
    """
    if agents < 1 or arrival_rate <= 0 or aht_seconds <= 0 or patience_seconds <= 0:
        raise ValueError("need agents >= 1 and positive rate, AHT and patience")
    rng = np.random.default_rng(seed)
    total = customers + warmup
    arrivals = np.cumsum(rng.exponential(1.0 / arrival_rate, total))
    service = (
        service_sampler(rng, total) if service_sampler else rng.exponential(aht_seconds, total)
    )
    if patience_sampler:
        patience = patience_sampler(rng, total)
    elif np.isfinite(patience_seconds):
        patience = rng.exponential(patience_seconds, total)
    else:
        patience = np.full(total, np.inf)
    waited, abandoned = _fcfs(agents, arrivals.tolist(), service.tolist(), patience.tolist())
    waited = waited[warmup:]
    abandoned = abandoned[warmup:]
    answered_fast = (~abandoned) & (waited <= target_seconds)
    return SimulationResult(
        customers=customers,
        p_wait=_batch_ci(waited > 0, batches, confidence),
        p_abandon=_batch_ci(abandoned, batches, confidence),
        service_level=_batch_ci(answered_fast, batches, confidence),
        mean_wait=_batch_ci(waited, batches, confidence),
    )


def _fcfs(
    agents: int, arrivals: list[float], service: list[float], patience: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    free = [0.0] * agents  # heap of times each agent becomes free
    waited = np.empty(len(arrivals))
    abandoned = np.zeros(len(arrivals), dtype=bool)
    for i, (arr, svc, pat) in enumerate(zip(arrivals, service, patience, strict=True)):
        offered = free[0] - arr
        if offered <= 0.0:
            waited[i] = 0.0
            heapq.heapreplace(free, arr + svc)
        elif pat < offered:
            waited[i] = pat
            abandoned[i] = True
        else:
            waited[i] = offered
            heapq.heapreplace(free, free[0] + svc)
    return waited, abandoned


def _batch_ci(values: np.ndarray, batches: int, confidence: float) -> Estimate:
    means = np.array([b.mean() for b in np.array_split(values.astype(float), batches)])
    centre = float(means.mean())
    half = float(
        stats.t.ppf(0.5 + confidence / 2, batches - 1) * means.std(ddof=1) / np.sqrt(batches)
    )
    return Estimate(centre, centre - half, centre + half)
