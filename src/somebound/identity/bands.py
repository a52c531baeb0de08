"""Three bands over the match probability, and recalibration from agents' decisions.

Above ``upper`` a link is made automatically, between ``lower`` and ``upper`` a person
decides in the review queue, below ``lower`` nothing happens: most social handles belong
to nobody in the customer base, and forcing the best candidate would attach strangers'
posts to customers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Band = Literal["auto", "review", "none"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    upper: float = 0.99
    lower: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.lower <= self.upper <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= lower <= upper <= 1, got lower={self.lower}, "
                f"upper={self.upper}"
            )

    @property
    def lower_weight(self) -> float:
        """The match weight (log2 odds) of ``lower``, less 1e-9 so that rounding never
        drops a candidate sitting exactly on the threshold; ``band`` has the last word."""
        if self.lower <= 0.0:
            return -math.inf
        if self.lower >= 1.0:
            return math.inf
        return math.log2(self.lower / (1.0 - self.lower)) - 1e-9

    def band(self, probability: float | None) -> Band:
        if probability is None or probability < self.lower:
            return "none"
        return "auto" if probability >= self.upper else "review"


@dataclass(frozen=True, slots=True)
class Decision:
    """An agent's verdict on a queued pair: the model's probability and the truth."""

    probability: float
    is_match: bool


def recalibrate(
    decisions: Iterable[Decision],
    current: Thresholds,
    *,
    target_precision: float = 0.98,
    max_missed_match_rate: float = 0.02,
    min_support: int = 20,
) -> Thresholds:
    """New thresholds that the agents' verdicts justify; ``current`` where they do not.

    ``upper`` becomes the lowest probability at and above which at least
    ``target_precision`` of the reviewed pairs were matches (so auto-links there would
    have been right), over at least ``min_support`` decisions. ``lower`` becomes the
    highest probability below which at most ``max_missed_match_rate`` of reviewed pairs
    were matches (so dropping them loses almost nothing). Thresholds only move inside
    the evidence: with too few decisions nothing changes.
    """
    ds = sorted(decisions, key=lambda d: d.probability)
    if len(ds) < min_support:
        return current
    upper = current.upper
    n = len(ds)
    # suffix counts: matches among ds[i:]
    suffix_matches = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        suffix_matches[i] = suffix_matches[i + 1] + (1 if ds[i].is_match else 0)
    for i in range(n):
        if i > 0 and ds[i].probability == ds[i - 1].probability:
            continue
        support = n - i
        if support < min_support:
            break
        if suffix_matches[i] / support >= target_precision:
            upper = ds[i].probability
            break
    lower = current.lower
    prefix_matches = 0
    best = None
    for i in range(n):
        if i >= min_support and prefix_matches / i <= max_missed_match_rate:
            best = ds[i].probability
        prefix_matches += 1 if ds[i].is_match else 0
    if best is not None:
        lower = best
    lower = min(lower, upper)
    return Thresholds(upper=upper, lower=lower)
