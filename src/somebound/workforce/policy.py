"""The staffing policy: a YAML file validated on load, errors naming file, line and fix.

Why data, not code: service goals, handling times, opening hours and shift rules change
every season and belong to the planning team, not to a release. See
``demo_policy.yaml`` beside this module for a complete example.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from somebound.workforce.schedule import DAY_NAMES, Break, ShiftTemplate

DEMO_POLICY = Path(__file__).with_name("demo_policy.yaml")


class PolicyError(ValueError):
    """A policy problem with the place it was found."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class ChannelPolicy:
    """How one planning channel is staffed.

    ``kind`` immediate: queue maths (Erlang C or A) per interval; deferred: workload that
    may wait up to ``target_seconds`` is spread over that window (email, social).
    ``concurrency``/``concurrency_efficiency``: an agent runs ``c`` chats at once and
    gets through ``1 + (c-1) e`` times as many as one at a time, so each chat slot has a
    mean duration ``AHT c / (1 + (c-1) e)`` and the queue is modelled with ``c n`` slots.
    """

    name: str
    kind: str = "immediate"  # immediate | deferred
    model: str = "erlang_c"  # erlang_c | erlang_a (immediate only)
    aht_seconds: float = 300.0
    target_seconds: float = 20.0
    service_level: float = 0.8
    patience_seconds: float = math.inf
    max_occupancy: float | None = None
    max_abandon: float | None = None
    concurrency: int = 1
    concurrency_efficiency: float = 1.0
    min_agents: int = 2
    shrinkage: dict[str, float] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # event channels feeding this one (default: the name)
    open_minutes: tuple[tuple[int, int], ...] = ((0, 7 * 24 * 60),)  # week-minute ranges

    @property
    def total_shrinkage(self) -> float:
        """Components combine multiplicatively: 1 - prod(1 - s)."""
        keep = 1.0
        for v in self.shrinkage.values():
            keep *= 1.0 - v
        return 1.0 - keep

    @property
    def slot_aht_seconds(self) -> float:
        c = self.concurrency
        return self.aht_seconds * c / (1.0 + (c - 1) * self.concurrency_efficiency)

    def open_mask(self, interval_minutes: int) -> np.ndarray:
        """Boolean per interval of the week (Mon 00:00 first): is the channel open?"""
        per_week = 7 * 24 * 60 // interval_minutes
        starts = np.arange(per_week) * interval_minutes
        mask = np.zeros(per_week, dtype=bool)
        for lo, hi in self.open_minutes:
            if hi <= 7 * 24 * 60:
                mask |= (starts >= lo) & (starts < hi)
            else:  # wraps past Sunday midnight into Monday
                mask |= (starts >= lo) | (starts < hi - 7 * 24 * 60)
        return mask

    @property
    def event_channels(self) -> tuple[str, ...]:
        return self.sources or (self.name,)


@dataclass(frozen=True)
class StaffingPolicy:
    interval_minutes: int
    channels: dict[str, ChannelPolicy]
    shifts: tuple[ShiftTemplate, ...]
    mip_rel_gap: float = 0.01
    time_limit_seconds: float = 60.0
    max_agents: int | None = None
    source: str = "<policy>"


# ---------------------------------------------------------------------------- loading


def load_policy(path: str | Path) -> StaffingPolicy:
    """Read and validate a policy file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(p), None, f"cannot read the policy file ({exc.strerror})") from exc
    return parse_policy(text, str(p))


def parse_policy(text: str, source: str = "<policy>") -> StaffingPolicy:
    """Validate policy YAML text; every error names ``source`` and the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(
            source, mark.line + 1 if mark else None, f"not valid YAML: {exc}"
        ) from exc
    if node is None:
        raise PolicyError(source, 1, "the policy is empty; see demo_policy.yaml for an example")
    return _Parser(source).policy(node)


_KINDS = ("immediate", "deferred")
_MODELS = ("erlang_c", "erlang_a")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node, problem: str) -> PolicyError:
        return PolicyError(self.source, node.start_mark.line + 1, problem)

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value lines)")
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = str(k.value)
            if allowed and key not in allowed:
                raise self.fail(k, f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}")
            if key in out:
                raise self.fail(k, f"duplicate key {key!r} in {what}")
            out[key] = v
        return out

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "expected a single value here")
        return yaml.safe_load(yaml.serialize(node))

    def number(
        self, node: yaml.Node, what: str, lo: float, hi: float = math.inf, lo_open: bool = False
    ) -> float:
        v = self.scalar(node)
        if v in (".inf", "inf", "never"):
            v = math.inf
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(node, f"{what} must be a number, got {v!r}")
        if v < lo or (lo_open and v == lo) or v > hi:
            rng = f"{'>' if lo_open else '>='} {lo}" + (f" and <= {hi}" if hi != math.inf else "")
            raise self.fail(node, f"{what} must be {rng}, got {v}")
        return float(v)

    def integer(self, node: yaml.Node, what: str, lo: int) -> int:
        v = self.number(node, what, lo)
        if v != int(v):
            raise self.fail(node, f"{what} must be a whole number, got {v}")
        return int(v)

    def clock(self, node: yaml.Node, text: str, allow_24: bool = False) -> int:
        m = _TIME.match(text.strip())
        if (
            not m
            or int(m[2]) >= 60
            or int(m[1]) > 24
            or (int(m[1]) == 24 and (m[2] != "00" or not allow_24))
        ):
            raise self.fail(node, f"bad time {text!r}; write HH:MM, e.g. 08:30")
        return int(m[1]) * 60 + int(m[2])

    def days(self, node: yaml.Node, text: str) -> list[int]:
        text = text.strip().lower()
        if text in ("daily", "all", "every day"):
            return list(range(7))
        if text in ("weekdays",):
            return list(range(5))
        if text in ("weekend",):
            return [5, 6]
        out: list[int] = []
        for part in text.split(","):
            part = part.strip()
            ends = [e.strip()[:3] for e in part.split("-")]
            if len(ends) > 2 or any(e not in DAY_NAMES for e in ends):
                raise self.fail(
                    node,
                    f"bad day(s) {part!r}; use mon..sun, ranges like mon-fri, "
                    "'daily', 'weekdays' or 'weekend'",
                )
            a, b = DAY_NAMES.index(ends[0]), DAY_NAMES.index(ends[-1])
            out.extend(((a + i) % 7) for i in range((b - a) % 7 + 1))
        return out

    # ------------------------------------------------------------------ sections

    def policy(self, node: yaml.Node) -> StaffingPolicy:
        top = self.mapping(
            node,
            "the policy",
            (
                "interval_minutes",
                "channels",
                "shifts",
                "mip_rel_gap",
                "time_limit_seconds",
                "max_agents",
            ),
        )
        interval = 15
        if "interval_minutes" in top:
            interval = self.integer(top["interval_minutes"], "interval_minutes", 1)
            if (24 * 60) % interval:
                raise self.fail(
                    top["interval_minutes"], "interval_minutes must divide a day (15, 30, 60 ...)"
                )
        if "channels" not in top:
            raise self.fail(node, "missing 'channels:' (one entry per planning channel)")
        chans = self.mapping(top["channels"], "channels", ())
        if not chans:
            raise self.fail(top["channels"], "'channels' is empty; add at least one channel")
        channels = {name: self.channel(name, n) for name, n in chans.items()}
        shifts: list[ShiftTemplate] = []
        if "shifts" in top:
            if not isinstance(top["shifts"], yaml.SequenceNode):
                raise self.fail(top["shifts"], "'shifts' must be a list of shift templates")
            shifts = [self.shift(n, interval, set(channels)) for n in top["shifts"].value]
        return StaffingPolicy(
            interval_minutes=interval,
            channels=channels,
            shifts=tuple(shifts),
            mip_rel_gap=self.number(top["mip_rel_gap"], "mip_rel_gap", 0, 1)
            if "mip_rel_gap" in top
            else 0.01,
            time_limit_seconds=(
                self.number(top["time_limit_seconds"], "time_limit_seconds", 0, lo_open=True)
                if "time_limit_seconds" in top
                else 60.0
            ),
            max_agents=self.integer(top["max_agents"], "max_agents", 1)
            if "max_agents" in top
            else None,
            source=self.source,
        )

    def channel(self, name: str, node: yaml.Node) -> ChannelPolicy:
        keys = (
            "kind",
            "model",
            "aht_seconds",
            "target_seconds",
            "service_level",
            "patience_seconds",
            "max_occupancy",
            "max_abandon",
            "concurrency",
            "concurrency_efficiency",
            "min_agents",
            "shrinkage",
            "sources",
            "hours",
        )
        m = self.mapping(node, f"channel {name!r}", keys)
        kw: dict[str, Any] = {"name": name}
        if "kind" in m:
            kw["kind"] = self.scalar(m["kind"])
            if kw["kind"] not in _KINDS:
                raise self.fail(
                    m["kind"], f"kind must be one of {', '.join(_KINDS)}, got {kw['kind']!r}"
                )
        if "model" in m:
            kw["model"] = self.scalar(m["model"])
            if kw["model"] not in _MODELS:
                raise self.fail(
                    m["model"], f"model must be one of {', '.join(_MODELS)}, got {kw['model']!r}"
                )
        for key in ("aht_seconds", "target_seconds", "patience_seconds"):
            if key in m:
                kw[key] = self.number(m[key], key, 0, lo_open=key != "target_seconds")
        if "aht_seconds" not in m:
            raise self.fail(node, f"channel {name!r} needs aht_seconds (mean handling time)")
        for key in ("service_level", "max_occupancy", "max_abandon"):
            if key in m:
                kw[key] = self.number(m[key], key, 0, 1, lo_open=True)
        if kw.get("service_level", 0.8) >= 1:
            raise self.fail(m["service_level"], "service_level must be below 1 (e.g. 0.8 = 80 %)")
        if "concurrency" in m:
            kw["concurrency"] = self.integer(m["concurrency"], "concurrency", 1)
        if "concurrency_efficiency" in m:
            kw["concurrency_efficiency"] = self.number(
                m["concurrency_efficiency"], "concurrency_efficiency", 0, 1
            )
        if "min_agents" in m:
            kw["min_agents"] = self.integer(m["min_agents"], "min_agents", 0)
        if kw.get("model") == "erlang_a" and not math.isfinite(
            kw.get("patience_seconds", math.inf)
        ):
            raise self.fail(node, f"channel {name!r}: model erlang_a needs patience_seconds")
        if "shrinkage" in m:
            sh = self.mapping(m["shrinkage"], "shrinkage", ())
            kw["shrinkage"] = {k: self.number(v, f"shrinkage {k}", 0, 1) for k, v in sh.items()}
            total = 1 - math.prod(1 - v for v in kw["shrinkage"].values())
            if total >= 0.95:
                raise self.fail(
                    m["shrinkage"], f"total shrinkage {total:.0%} leaves nobody to work"
                )
        if "sources" in m:
            if not isinstance(m["sources"], yaml.SequenceNode):
                raise self.fail(
                    m["sources"], "sources must be a list of event channels, e.g. [facebook, x]"
                )
            kw["sources"] = tuple(str(self.scalar(v)) for v in m["sources"].value)
        if "hours" in m:
            kw["open_minutes"] = self.hours(m["hours"])
        return ChannelPolicy(**kw)

    def hours(self, node: yaml.Node) -> tuple[tuple[int, int], ...]:
        if isinstance(node, yaml.ScalarNode):
            return self.hours_for(node, list(range(7)), str(self.scalar(node)))
        m = self.mapping(node, "hours", ())
        out: list[tuple[int, int]] = []
        for day_text, v in m.items():
            days = self.days(v, day_text)
            if isinstance(v, yaml.SequenceNode):
                for item in v.value:
                    out.extend(self.hours_for(item, days, str(self.scalar(item))))
            else:
                out.extend(self.hours_for(v, days, str(self.scalar(v))))
        return tuple(out)

    def hours_for(self, node: yaml.Node, days: list[int], text: str) -> tuple[tuple[int, int], ...]:
        text = text.strip().lower()
        if text == "closed":
            return ()
        if text in ("24h", "always", "00:00-24:00"):
            return tuple((d * 1440, (d + 1) * 1440) for d in days)
        if text.count("-") != 1:
            raise self.fail(
                node,
                f"bad opening hours {text!r}; write e.g. 08:00-20:00, 22:00-06:00, 24h or closed",
            )
        lo_t, hi_t = text.split("-")
        lo = self.clock(node, lo_t)
        hi = self.clock(node, hi_t, allow_24=True)
        if hi <= lo:  # crosses midnight
            hi += 1440
        return tuple((d * 1440 + lo, d * 1440 + hi) for d in days)

    def shift(self, node: yaml.Node, interval: int, channels: set[str]) -> ShiftTemplate:
        keys = ("name", "start", "starts", "hours", "days", "breaks", "cost", "channels")
        m = self.mapping(node, "a shift template", keys)
        if "name" not in m:
            raise self.fail(node, "shift template needs a name")
        name = str(self.scalar(m["name"]))
        if "hours" not in m:
            raise self.fail(node, f"shift {name!r} needs hours (length, e.g. 8)")
        length = round(self.number(m["hours"], "hours", 0, 24, lo_open=True) * 60)
        if length % interval:
            raise self.fail(m["hours"], f"shift length must be a multiple of {interval} minutes")
        starts: list[int] = []
        if "start" in m:
            starts.append(self.clock(m["start"], str(self.scalar(m["start"]))))
        if "starts" in m:
            s = m["starts"]
            if isinstance(s, yaml.SequenceNode):
                starts.extend(self.clock(v, str(self.scalar(v))) for v in s.value)
            else:
                sm = self.mapping(s, "starts", ("from", "to", "every_minutes"))
                if not {"from", "to", "every_minutes"} <= set(sm):
                    raise self.fail(
                        s, "starts needs from, to and every_minutes (or a list of times)"
                    )
                a = self.clock(sm["from"], str(self.scalar(sm["from"])))
                b = self.clock(sm["to"], str(self.scalar(sm["to"])))
                step = self.integer(sm["every_minutes"], "every_minutes", 1)
                starts.extend(range(a, b + 1, step))
        if not starts:
            raise self.fail(node, f"shift {name!r} needs start: HH:MM or starts:")
        for st in starts:
            if st % interval:
                raise self.fail(
                    node,
                    f"shift {name!r} start {st // 60:02d}:{st % 60:02d} is not on a "
                    f"{interval}-minute boundary",
                )
        days = list(range(7))
        if "days" in m:
            dn = m["days"]
            if isinstance(dn, yaml.SequenceNode):
                days = [d for v in dn.value for d in self.days(v, str(self.scalar(v)))]
            else:
                days = self.days(dn, str(self.scalar(dn)))
        breaks: list[Break] = []
        if "breaks" in m:
            if not isinstance(m["breaks"], yaml.SequenceNode):
                raise self.fail(
                    m["breaks"], "breaks must be a list, e.g. [{after_minutes: 240, minutes: 30}]"
                )
            for bn in m["breaks"].value:
                bm = self.mapping(
                    bn, "a break", ("after_minutes", "minutes", "latest_after_minutes")
                )
                if not {"after_minutes", "minutes"} <= set(bm):
                    raise self.fail(bn, "a break needs after_minutes and minutes")
                br = Break(
                    self.integer(bm["after_minutes"], "after_minutes", 0),
                    self.integer(bm["minutes"], "minutes", 1),
                    self.integer(bm["latest_after_minutes"], "latest_after_minutes", 0)
                    if "latest_after_minutes" in bm
                    else None,
                    step_minutes=max(interval, 30),
                )
                last = br.latest_after_minutes or br.after_minutes
                if (
                    last + br.minutes > length
                    or br.after_minutes % interval
                    or br.minutes % interval
                ):
                    raise self.fail(
                        bn,
                        f"break must fit inside the {length}-minute shift on "
                        f"{interval}-minute boundaries",
                    )
                breaks.append(br)
        cost = self.number(m["cost"], "cost", 0) if "cost" in m else None
        chans: tuple[str, ...] = ()
        if "channels" in m:
            if not isinstance(m["channels"], yaml.SequenceNode):
                raise self.fail(m["channels"], "channels must be a list of channel names")
            chans = tuple(str(self.scalar(v)) for v in m["channels"].value)
            for v, c in zip(m["channels"].value, chans, strict=True):
                if c not in channels:
                    raise self.fail(
                        v,
                        f"shift {name!r} names unknown channel {c!r}; "
                        f"known: {', '.join(sorted(channels))}",
                    )
        return ShiftTemplate(
            name,
            tuple(sorted(set(starts))),
            length,
            tuple(sorted(set(days))),
            tuple(breaks),
            cost,
            chans,
        )
