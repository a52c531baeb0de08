"""Spike detection: "the wall is filling up".

A streaming detector fed ``(timestamp, key, negative)`` per message, where a key is a
topic, channel or keyword ("channel:facebook", "intent:complaint", "keyword:katko"). For
each key it keeps

* per-10-second buckets of message and negative counts (the sliding windows), and
* a seasonality-aware baseline of the per-minute rate: an hour-of-week profile, falling
  back to hour-of-day and then to a slow overall level while history is short. Minutes
  inside an active spike are not learnt, so a long crisis does not become "normal".

Two metrics are tested on every observation, so a spike is raised while it is happening,
not when a bucket closes:

* ``volume``: the count in a short (1 min) and a long (5 min) window against the Poisson
  upper tail of the baseline (one-sided p < ``alpha``), with a minimum count and ratio;
* ``negative_share``: the negative share in the share window (15 min) against the key's baseline
  share (binomial upper tail), with a minimum count and lift.

A raised spike clears after the long window has looked normal for ``clear_after``.
Events follow EVENTS.md: ``spike_raised`` / ``spike_cleared`` with
``{"key", "metric", "value", "baseline"}``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scipy.special import betainc, gammainc

from somebound.core.enums import Channel, EventType
from somebound.core.events import Event

BUCKET = 10  # seconds


@dataclass(frozen=True, slots=True)
class SpikeEvent:
    kind: str  # raised | cleared
    key: str
    metric: str  # volume | negative_share
    value: float  # observed (count per minute, or negative share)
    baseline: float  # expected (count per minute, or share)
    at: datetime

    def to_event(self) -> Event:
        channel = None
        if self.key.startswith("channel:"):
            try:
                channel = Channel(self.key.split(":", 1)[1])
            except ValueError:
                channel = None
        return Event(
            type=EventType.SPIKE_RAISED if self.kind == "raised" else EventType.SPIKE_CLEARED,
            at=self.at,
            channel=channel,
            data={
                "key": self.key,
                "metric": self.metric,
                "value": round(self.value, 4),
                "baseline": round(self.baseline, 4),
            },
        )


@dataclass
class SpikeConfig:
    short_window: int = 60  # seconds
    long_window: int = 300
    share_window: int = 900  # negative share needs more messages than volume does
    alpha: float = 1e-5  # one-sided tail probability per test
    min_count: int = 8  # in the short window, for volume
    min_ratio: float = 3.0  # observed / expected
    min_negative: int = 10  # negative messages in the long window
    min_negative_lift: float = 0.25  # share above baseline share
    clear_after: int = 300  # seconds of normal long window
    level_halflife_min: float = 60.0  # overall per-minute level
    profile_weight: float = 0.3  # EWMA weight of a new hour into the hour profile
    min_rate: float = 0.05  # per minute, a floor so quiet keys are not all spikes
    warmup_minutes: int = 30  # no volume alerts before this much history


def poisson_sf(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    return float(gammainc(k, mu))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return float(betainc(k, n - k + 1, p))


class _Window:
    """Running count (and negatives) over the last ``span`` seconds, in 10 s buckets."""

    __slots__ = ("buckets", "n", "neg", "width")

    def __init__(self, span: int) -> None:
        self.width = max(1, span // BUCKET)
        self.buckets: deque[list[int]] = deque()  # [bucket_index, n, neg]
        self.n = 0
        self.neg = 0

    def expire(self, b: int) -> None:
        first = b - self.width
        while self.buckets and self.buckets[0][0] <= first:
            _, n, neg = self.buckets.popleft()
            self.n -= n
            self.neg -= neg

    def add(self, b: int, negative: bool) -> None:
        if self.buckets and self.buckets[-1][0] == b:
            last = self.buckets[-1]
            last[1] += 1
            last[2] += negative
        else:
            self.buckets.append([b, 1, int(negative)])
        self.n += 1
        self.neg += negative


@dataclass
class _KeyState:
    short: _Window
    long: _Window
    share: _Window
    first_minute: int | None = None
    minute: int | None = None  # the minute being accumulated
    minute_n: int = 0
    minute_neg: int = 0
    hour: int | None = None
    hour_n: int = 0
    hour_minutes: int = 0
    level: float = 0.0
    level_seen: bool = False
    neg_share: float = 0.2
    how: dict[int, float] = field(default_factory=dict)  # hour-of-week -> rate
    hod: dict[int, float] = field(default_factory=dict)  # hour-of-day -> rate
    active: dict[str, datetime] = field(default_factory=dict)  # metric -> raised at
    calm_since: dict[str, datetime] = field(default_factory=dict)
    last_bucket: int = 0
    last_seen: datetime | None = None


class SpikeDetector:
    """Streaming volume and negative-share spike detection per key."""

    def __init__(self, config: SpikeConfig | None = None) -> None:
        self.config = config or SpikeConfig()
        self._keys: dict[str, _KeyState] = {}

    # ------------------------------------------------------------- baseline
    def expected_rate(self, key: str, at: datetime) -> float:
        """Baseline messages per minute for ``key`` at ``at``."""
        st = self._keys.get(key)
        if st is None:
            return self.config.min_rate
        how = at.weekday() * 24 + at.hour
        profile = st.how.get(how)
        if profile is None:
            profile = st.hod.get(at.hour)
        # The profile knows the season; the recent level knows today (a busier week, a
        # campaign). Taking the larger keeps both from raising false alarms.
        rate = st.level if profile is None else max(profile, st.level)
        return max(self.config.min_rate, rate)

    def _close_minute(self, st: _KeyState, minute: int, at: datetime) -> None:
        """Learn from one finished minute (not while a spike is active)."""
        cfg = self.config
        if st.active:
            return
        a = 1 - 0.5 ** (1 / cfg.level_halflife_min)
        if st.level_seen:
            st.level += a * (st.minute_n - st.level)
        else:
            st.level, st.level_seen = float(st.minute_n), True
        if st.minute_n:
            share = st.minute_neg / st.minute_n
            st.neg_share += min(0.05, 0.002 * st.minute_n) * (share - st.neg_share)
        hour = minute // 60
        if st.hour != hour:
            self._close_hour(st)
            st.hour, st.hour_n, st.hour_minutes = hour, 0, 0
        st.hour_n += st.minute_n
        st.hour_minutes += 1

    def _close_hour(self, st: _KeyState) -> None:
        if st.hour is None or st.hour_minutes < 30:
            return
        rate = st.hour_n / st.hour_minutes
        when = datetime(1970, 1, 1) + timedelta(hours=st.hour)  # naive UTC hour index
        w = self.config.profile_weight
        for table, slot in ((st.how, when.weekday() * 24 + when.hour), (st.hod, when.hour)):
            old = table.get(slot)
            table[slot] = rate if old is None else old + w * (rate - old)

    def _advance(self, st: _KeyState, at: datetime) -> None:
        """Move the windows and the minute accumulator forward to ``at``."""
        ts = at.timestamp() if at.tzinfo else (at - datetime(1970, 1, 1)).total_seconds()
        b = int(ts // BUCKET)
        minute = int(ts // 60)
        if st.minute is None:
            st.minute = minute
            st.first_minute = minute
        while st.minute < minute:
            self._close_minute(st, st.minute, at)
            st.minute += 1
            st.minute_n = st.minute_neg = 0
            if minute - st.minute > 7 * 24 * 60:  # long silence: skip ahead (rate 0)
                st.minute = minute
        for w in (st.short, st.long, st.share):
            w.expire(b)
        st.last_bucket = b

    # ------------------------------------------------------------- streaming
    def observe(self, at: datetime, key: str, negative: bool = False) -> list[SpikeEvent]:
        """Count one message for ``key``; returns spike events raised or cleared now."""
        st = self._keys.get(key)
        if st is None:
            cfg = self.config
            st = self._keys[key] = _KeyState(
                _Window(cfg.short_window), _Window(cfg.long_window), _Window(cfg.share_window)
            )
        self._advance(st, at)
        b = st.last_bucket
        for w in (st.short, st.long, st.share):
            w.add(b, negative)
        st.minute_n += 1
        st.minute_neg += int(negative)
        events = self._evaluate(key, st, at)
        st.last_seen = at
        return events

    def tick(self, now: datetime) -> list[SpikeEvent]:
        """Advance time without messages (call every few seconds): clears quiet spikes."""
        out: list[SpikeEvent] = []
        for key, st in self._keys.items():
            if st.active:
                self._advance(st, now)
                out += self._evaluate(key, st, now)
        return out

    def _evaluate(self, key: str, st: _KeyState, at: datetime) -> list[SpikeEvent]:
        cfg = self.config
        short_n, long_n = st.short.n, st.long.n
        share_n, share_neg = st.share.n, st.share.neg
        events: list[SpikeEvent] = []
        rate = self.expected_rate(key, at)
        warm = st.first_minute is not None and (st.minute or 0) - st.first_minute >= cfg.warmup_minutes
        # volume
        mu_s = rate * cfg.short_window / 60
        mu_l = rate * cfg.long_window / 60
        hot_short = (
            short_n >= cfg.min_count
            and short_n >= cfg.min_ratio * mu_s
            and poisson_sf(short_n, mu_s) < cfg.alpha
        )
        hot_long = (
            long_n >= cfg.min_count
            and long_n >= cfg.min_ratio * mu_l
            and poisson_sf(long_n, mu_l) < cfg.alpha
        )
        observed_rate = long_n * 60 / cfg.long_window
        if warm and (hot_short or hot_long):
            value = max(short_n * 60 / cfg.short_window, observed_rate)
            events += self._raise(key, st, "volume", value, rate, at)
        elif "volume" in st.active:  # the calm test only matters while a spike is up
            calm = long_n < cfg.min_count or poisson_sf(long_n, mu_l) > 0.01
            events += self._maybe_clear(key, st, "volume", calm, observed_rate, rate, at)
        # negative share
        p0 = min(0.95, max(0.02, st.neg_share))
        share = share_neg / share_n if share_n else 0.0
        hot_neg = (
            share_neg >= cfg.min_negative
            and share >= p0 + cfg.min_negative_lift
            and binom_sf(share_neg, share_n, p0) < cfg.alpha
        )
        if hot_neg:
            events += self._raise(key, st, "negative_share", share, p0, at)
        elif "negative_share" in st.active:
            calm = share < p0 + cfg.min_negative_lift / 2 or share_neg < cfg.min_negative / 2
            events += self._maybe_clear(key, st, "negative_share", calm, share, p0, at)
        return events

    def _raise(self, key: str, st: _KeyState, metric: str, value: float, base: float,
               at: datetime) -> list[SpikeEvent]:
        st.calm_since.pop(metric, None)
        if metric in st.active:
            return []
        st.active[metric] = at
        return [SpikeEvent("raised", key, metric, value, base, at)]

    def _maybe_clear(self, key: str, st: _KeyState, metric: str, calm: bool, value: float,
                     base: float, at: datetime) -> list[SpikeEvent]:
        if metric not in st.active:
            return []
        if not calm:
            st.calm_since.pop(metric, None)
            return []
        # With no messages since ``last_seen`` the windows have been calm at the latest
        # from ``last_seen + window``, even if nobody called tick() in between.
        window = self.config.share_window if metric == "negative_share" else self.config.long_window
        quiet_from = st.last_seen + timedelta(seconds=window) if st.last_seen else at
        since = st.calm_since.setdefault(metric, min(at, max(quiet_from, st.active[metric])))
        if (at - since).total_seconds() >= self.config.clear_after:
            del st.active[metric]
            del st.calm_since[metric]
            return [SpikeEvent("cleared", key, metric, value, base, at)]
        return []

    def active(self) -> list[dict[str, object]]:
        """Spikes raised and not yet cleared (for the API and the supervisor banner)."""
        return [
            {"key": key, "metric": metric, "since": since.isoformat()}
            for key, st in sorted(self._keys.items())
            for metric, since in sorted(st.active.items())
        ]
