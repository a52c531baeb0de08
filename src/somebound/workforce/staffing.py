"""Required agents per interval for every channel kind, and expected service with a plan.

* immediate channels (phone, chat): Erlang C or Erlang A per interval; chat slots are
  ``concurrency x agents`` servers with the slot AHT from :class:`ChannelPolicy`;
* deferred channels (email, social with long targets): each interval's workload may be
  done any time within the target, so it is spread evenly over the open intervals of
  its answer window (work arriving while closed waits for opening); agents needed =
  workload / (interval length x max occupancy). The week is cyclic, like the schedule.
* every open interval gets at least ``min_agents``; shrinkage then grosses the
  productive head-count up to the head-count to schedule: ``ceil(net / (1 - s))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from somebound.workforce.erlang import FloatArray, IntArray, erlang_c, erlang_c_required
from somebound.workforce.erlang_a import erlang_a, erlang_a_required
from somebound.workforce.policy import ChannelPolicy


@dataclass
class Requirement:
    """One channel's staffing need over one (cyclic) week of intervals."""

    channel: str
    interval_minutes: int
    volume: FloatArray  # forecast contacts per interval
    open: np.ndarray  # bool per interval
    net: IntArray  # productive agents needed (after the minimum)
    required: IntArray  # agents to schedule (net grossed up by shrinkage)
    service_level: FloatArray  # expected at ``net`` (fraction within target)

    def as_dict(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "interval_minutes": self.interval_minutes,
            "volume": self.volume.round(3).tolist(),
            "open": self.open.tolist(),
            "net": self.net.tolist(),
            "required": self.required.tolist(),
            "service_level": [
                None if np.isnan(v) else round(float(v), 4) for v in self.service_level
            ],
        }


def requirement(
    volume: ArrayLike,
    policy: ChannelPolicy,
    interval_minutes: int,
    *,
    backlog: float = 0.0,
) -> Requirement:
    """Agents needed per interval of a week for ``volume`` contacts per interval."""
    vol = np.asarray(volume, dtype=float)
    per_week = 7 * 24 * 60 // interval_minutes
    if vol.shape != (per_week,):
        raise ValueError(
            f"{policy.name}: need {per_week} volumes (one week at {interval_minutes} min), got {vol.shape}"
        )
    if np.any(vol < 0) or not np.all(np.isfinite(vol)):
        raise ValueError(f"{policy.name}: volumes must be finite and >= 0")
    is_open = policy.open_mask(interval_minutes)
    if policy.kind == "deferred":
        net = deferred_agents(vol, policy, interval_minutes, is_open, backlog=backlog)
    else:
        net = immediate_agents(np.where(is_open, vol, 0.0), policy, interval_minutes)
    net = np.where(is_open, np.maximum(net, policy.min_agents), 0).astype(np.int64)
    keep = 1.0 - policy.total_shrinkage
    required = np.ceil(net / keep - 1e-9).astype(np.int64)
    sl = expected_service_level(vol, net, policy, interval_minutes)
    if policy.kind == "immediate":  # nobody answers a closed phone: no promise to keep
        sl = np.where(is_open, sl, np.nan)
    return Requirement(policy.name, interval_minutes, vol, is_open, net, required, sl)


def immediate_agents(volume: FloatArray, policy: ChannelPolicy, interval_minutes: int) -> IntArray:
    """Queue maths for phone/chat; returns agents (not chat slots)."""
    seconds = interval_minutes * 60.0
    rate = volume / seconds
    aht = policy.slot_aht_seconds
    if policy.model == "erlang_a":
        slots = erlang_a_required(
            rate,
            aht,
            policy.patience_seconds,
            policy.target_seconds,
            policy.service_level,
            max_abandon=policy.max_abandon,
        )
    else:
        slots = erlang_c_required(rate * aht, aht, policy.target_seconds, policy.service_level)
    if policy.max_occupancy is not None:
        slots = np.maximum(slots, np.ceil(rate * aht / policy.max_occupancy - 1e-9)).astype(
            np.int64
        )
    return np.ceil(slots / policy.concurrency).astype(np.int64)


def spread_workload(
    work: FloatArray, is_open: np.ndarray, window: int, *, backlog: float = 0.0
) -> FloatArray:
    """Spread each interval's work evenly over the open intervals of its answer window.

    The week wraps around (cyclic). Work whose whole window is closed (an email on
    Saturday with a 24 h target and the weekend closed) is spread over the window that
    starts at the next opening; it misses its wall-clock target, which the expected
    service level reports.
    """
    n = work.size
    out = np.zeros(n)
    open_idx = np.flatnonzero(is_open)
    if open_idx.size == 0:
        return out
    for i in np.flatnonzero(work > 0):
        idx = (i + np.arange(window)) % n
        slots = idx[is_open[idx]]
        if slots.size:
            out[slots] += work[i] / slots.size
        else:  # closed for the whole window: the clock restarts at the next opening
            first = open_idx[np.searchsorted(open_idx, (i + window) % n) % open_idx.size]
            idx = (first + np.arange(window)) % n
            slots = idx[is_open[idx]]
            out[slots] += work[i] / slots.size
    if backlog > 0:
        first = open_idx[:window] if open_idx.size else open_idx
        out[first] += backlog / first.size
    return out


def deferred_agents(
    volume: FloatArray,
    policy: ChannelPolicy,
    interval_minutes: int,
    is_open: np.ndarray,
    *,
    backlog: float = 0.0,
) -> IntArray:
    """Workload-based head-count for channels whose contacts may wait (email, social)."""
    seconds = interval_minutes * 60.0
    window = max(1, int(policy.target_seconds // seconds))
    work = volume * policy.aht_seconds
    spread = spread_workload(work, is_open, window, backlog=backlog * policy.aht_seconds)
    occ = policy.max_occupancy or 1.0
    return np.ceil(spread / (seconds * occ) - 1e-9).astype(np.int64)


def deferred_service_level(
    volume: FloatArray,
    agents: ArrayLike,
    policy: ChannelPolicy,
    interval_minutes: int,
    *,
    points: int = 8,
    previous_week: FloatArray | None = None,
) -> FloatArray:
    """Fraction of each interval's contacts finished within target by ``agents`` (fluid FIFO).

    The cumulative work done is ``D(t) = C(t) + min_{s<=t} (A(s) - C(s))`` (the reflection
    of arrivals A against capacity C); a contact is finished when D reaches its place in
    the arrival curve. Two copies of the cyclic week are run and the second is measured,
    so Sunday's backlog carries into Monday. ``previous_week`` replaces the first copy's
    volume (a one-off spike must not be assumed to have happened last week too).
    """
    n = volume.size
    seconds = interval_minutes * 60.0
    occ = policy.max_occupancy or 1.0
    cap = np.asarray(agents, dtype=float) * seconds * occ
    work = volume * policy.aht_seconds
    prev = (
        work
        if previous_week is None
        else np.asarray(previous_week, dtype=float) * policy.aht_seconds
    )
    w2 = np.concatenate([prev, work])
    c2 = np.tile(cap, 2)
    # fine grid: ``points`` sub-steps per interval, work and capacity uniform within
    k = points
    t = np.arange(2 * n * k + 1) / k  # in intervals
    a_cum = np.concatenate([[0.0], np.cumsum(np.repeat(w2 / k, k))])
    c_cum = np.concatenate([[0.0], np.cumsum(np.repeat(c2 / k, k))])
    d_cum = c_cum + np.minimum.accumulate(np.minimum(a_cum - c_cum, 0.0))
    d_cum = np.minimum(d_cum, a_cum)
    window = policy.target_seconds / seconds
    out = np.ones(n)
    for i in range(n):
        if work[i] <= 0:
            continue
        j = n + i
        # contacts at the midpoints of k sub-steps of interval j
        levels = a_cum[j * k] + (np.arange(k) + 0.5) * (w2[j] / k)
        born = j + (np.arange(k) + 0.5) / k
        pos = np.searchsorted(d_cum, levels - 1e-9 * max(work.max(), 1.0), side="left")
        done = np.where(pos < t.size, t[np.minimum(pos, t.size - 1)], np.inf)
        out[i] = float(np.mean(done <= born + window + 1.0 / k))
    return out


def expected_service_level(
    volume: ArrayLike,
    agents: ArrayLike,
    policy: ChannelPolicy,
    interval_minutes: int,
    *,
    previous_week: FloatArray | None = None,
) -> FloatArray:
    """Expected fraction within target per interval with ``agents`` productive agents."""
    vol = np.asarray(volume, dtype=float)
    n = np.asarray(agents, dtype=np.int64)
    if policy.kind == "deferred":
        return deferred_service_level(vol, n, policy, interval_minutes, previous_week=previous_week)
    rate = vol / (interval_minutes * 60.0)
    slots = n * policy.concurrency
    if policy.model == "erlang_a":
        return erlang_a(
            slots, rate, policy.slot_aht_seconds, policy.patience_seconds, policy.target_seconds
        ).service_level
    return erlang_c(
        slots, rate * policy.slot_aht_seconds, policy.slot_aht_seconds, policy.target_seconds
    ).service_level


def productive(scheduled: ArrayLike, policy: ChannelPolicy) -> IntArray:
    """Agents actually working from a scheduled head-count after shrinkage (rounded down)."""
    return np.floor(
        np.asarray(scheduled, dtype=float) * (1.0 - policy.total_shrinkage) + 1e-9
    ).astype(np.int64)


def weighted_service_level(volume: ArrayLike, service_level: ArrayLike) -> float:
    """Volume-weighted service level (NaN = closed, ignored; 1.0 when nothing arrives)."""
    sl = np.asarray(service_level, dtype=float)
    v = np.where(np.isnan(sl), 0.0, np.asarray(volume, dtype=float))
    total = v.sum()
    return float((v * np.nan_to_num(sl)).sum() / total) if total > 0 else 1.0
