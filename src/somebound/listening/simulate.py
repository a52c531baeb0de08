"""Simulated message streams for evaluating the spike detector (bench and tests).

A day-shaped Poisson stream (quiet nights, busy afternoons) with injected spikes of
volume and/or negative share; :func:`evaluate` feeds it to a :class:`SpikeDetector`
and measures detection delay per injected spike and false alarms outside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from somebound.listening.spikes import SpikeConfig, SpikeDetector, SpikeEvent


@dataclass(frozen=True, slots=True)
class InjectedSpike:
    start: datetime
    minutes: int
    rate_factor: float = 5.0  # volume multiplier during the spike
    negative_share: float | None = None  # share of negatives during the spike


def day_rate(t: datetime, peak: float) -> float:
    """Messages per minute: trough at 04:00, peak at 16:00, weekends 60 %."""
    h = t.hour + t.minute / 60
    shape = 0.15 + 0.85 * (0.5 - 0.5 * math.cos(2 * math.pi * (h - 4) / 24))
    return peak * shape * (0.6 if t.weekday() >= 5 else 1.0)


def stream(
    start: datetime,
    days: float,
    *,
    peak: float = 3.0,
    negative_share: float = 0.2,
    spikes: tuple[InjectedSpike, ...] = (),
    seed: int = 0,
) -> list[tuple[datetime, bool]]:
    """(timestamp, negative) events, minute by minute, Poisson within each minute."""
    rng = np.random.default_rng(seed)
    out: list[tuple[datetime, bool]] = []
    for m in range(int(days * 24 * 60)):
        t = start + timedelta(minutes=m)
        rate, neg = day_rate(t, peak), negative_share
        for s in spikes:
            if s.start <= t < s.start + timedelta(minutes=s.minutes):
                rate *= s.rate_factor
                if s.negative_share is not None:
                    neg = s.negative_share
        n = int(rng.poisson(rate))
        secs = np.sort(rng.uniform(0, 60, n))
        for sec in secs:
            out.append((t + timedelta(seconds=float(sec)), bool(rng.random() < neg)))
    return out


@dataclass(frozen=True)
class SpikeEvaluation:
    delays: list[float | None]  # seconds from spike start to first raise (None: missed)
    false_alarms: int
    cleared: int
    days: float

    @property
    def detected(self) -> int:
        return sum(d is not None for d in self.delays)

    @property
    def median_delay(self) -> float | None:
        found = sorted(d for d in self.delays if d is not None)
        return found[len(found) // 2] if found else None


def evaluate(
    events: list[tuple[datetime, bool]],
    spikes: tuple[InjectedSpike, ...],
    *,
    config: SpikeConfig | None = None,
    key: str = "channel:facebook",
    grace_minutes: int = 10,
) -> SpikeEvaluation:
    det = SpikeDetector(config)
    raised: list[SpikeEvent] = []
    cleared = 0
    last_tick = None
    for at, neg in events:
        if last_tick is None or (at - last_tick).total_seconds() >= 10:
            for ev in det.tick(at):
                cleared += ev.kind == "cleared"
            last_tick = at
        for ev in det.observe(at, key, neg):
            if ev.kind == "raised":
                raised.append(ev)
            else:
                cleared += 1
    delays: list[float | None] = []
    matched: set[int] = set()
    for s in spikes:
        end = s.start + timedelta(minutes=s.minutes + grace_minutes)
        hits = [i for i, ev in enumerate(raised) if s.start <= ev.at <= end]
        matched.update(hits)
        delays.append((raised[hits[0]].at - s.start).total_seconds() if hits else None)
    false_alarms = len(raised) - len(matched)
    span = (events[-1][0] - events[0][0]).total_seconds() / 86400 if events else 0.0
    return SpikeEvaluation(delays, false_alarms, cleared, span)
