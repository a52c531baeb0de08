"""Off-policy evaluation: what would a challenger policy have earned on our logs?

Every served decision logs the probability with which the live policy chose it
(``logged_p``). With that, a new policy can be compared *before* rollout:

* IPS (inverse propensity scoring): unbiased, high variance;
* SNIPS (self-normalised IPS): slightly biased, much lower variance;
* DR (doubly robust): a reward model's prediction corrected by IPS on its residual;
  unbiased if either the logged probabilities or the reward model are right.

Each returns an :class:`Estimate` with a standard error from the per-row terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float
    stderr: float
    n: int

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return self.value - z * self.stderr, self.value + z * self.stderr


def _check(rewards: np.ndarray, logged_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rewards, float)
    p = np.asarray(logged_p, float)
    if r.shape != p.shape:
        raise ValueError(f"rewards {r.shape} and logged probabilities {p.shape} must have the same shape")
    if np.any(p <= 0) or np.any(p > 1):
        raise ValueError("logged probabilities must be in (0, 1]; a zero means the action could not have been logged")
    return r, p


def _estimate(terms: np.ndarray) -> Estimate:
    n = len(terms)
    se = float(np.std(terms, ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    return Estimate(float(np.mean(terms)), se, n)


def ips(rewards: np.ndarray, logged_p: np.ndarray, target_p: np.ndarray) -> Estimate:
    """``target_p`` is the challenger's probability of the *logged* action."""
    r, p = _check(rewards, logged_p)
    return _estimate(np.asarray(target_p, float) / p * r)


def snips(rewards: np.ndarray, logged_p: np.ndarray, target_p: np.ndarray) -> Estimate:
    r, p = _check(rewards, logged_p)
    w = np.asarray(target_p, float) / p
    total = w.sum()
    if total <= 0:
        raise ValueError("the target policy gives zero weight to every logged action")
    value = float((w * r).sum() / total)
    terms = w * (r - value) / (total / len(w))
    se = float(np.std(terms, ddof=1) / np.sqrt(len(w))) if len(w) > 1 else float("inf")
    return Estimate(value, se, len(w))


def doubly_robust(
    rewards: np.ndarray,
    logged_p: np.ndarray,
    logged_action: np.ndarray,
    target_probs: np.ndarray,
    reward_hat: np.ndarray,
) -> Estimate:
    """``target_probs`` and ``reward_hat`` are ``(n, k)`` over the k candidate actions."""
    r, p = _check(rewards, logged_p)
    a = np.asarray(logged_action, int)
    pi = np.asarray(target_probs, float)
    q = np.asarray(reward_hat, float)
    rows = np.arange(len(r))
    direct = (pi * q).sum(axis=1)
    correction = pi[rows, a] / p * (r - q[rows, a])
    return _estimate(direct + correction)
