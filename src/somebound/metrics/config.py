"""The metrics policy: business calendars, SLA targets and the cost model, from YAML.

One file (``metrics.yaml``) with three sections; each is validated on load and an error
names the file, the line and the fix. Everything here is read at *query* time, so editing
a calendar, a target or an hourly cost recomputes every past figure the same way.

```yaml
calendars:
  office:
    timezone: Europe/Helsinki
    hours: {mon-fri: ["08:00-16:00"], sat: [], sun: []}
    holidays: [2026-12-24, {date: 2026-12-31, hours: ["08:00-12:00"]}]
  always: {timezone: UTC, hours: always}
business_hours: {default: office, queues: {social: always}}
sla:
  prefer: policy          # policy | event (case_routed.sla_first_response_seconds)
  default: {first_response: 8h, clock: business}
  channels: {phone: {first_response: 20s, clock: wall}, facebook: {first_response: 1h}}
  queues: {vip: {first_response: 30m}}
cost:
  currency: EUR
  agent_hourly: {default: 38.0, teams: {social: 42.0}, agents: {17: 55.0}}
  channels: {sms: {per_message_sent: 0.07}, phone: {per_minute: 0.02}}
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from somebound.core.enums import Channel
from somebound.metrics.calendar import DAY, WEEKDAYS, BusinessCalendar, Interval
from somebound.metrics.yamlmarks import MarkedYaml, load_marked

CLOCKS = ("business", "wall")
CHANNEL_COST_KEYS = ("per_contact", "per_message_sent", "per_message_received", "per_minute")


@dataclass(frozen=True)
class SlaTarget:
    first_response_seconds: float
    clock: str = "business"  # "business" | "wall"


@dataclass(frozen=True)
class SlaPolicy:
    """First-response targets; see :meth:`resolve` for which one applies to a case."""

    default: SlaTarget | None = SlaTarget(8 * 3600, "business")
    channels: dict[str, SlaTarget] = field(default_factory=dict)
    queues: dict[str, SlaTarget] = field(default_factory=dict)
    prefer: str = "policy"  # "policy" | "event"

    def resolve(
        self, channel: str | None, queue: str | None, event_seconds: float | None
    ) -> SlaTarget | None:
        """The target for one case.

        ``prefer: policy`` (default): queue entry, else channel entry, else the value
        routing recorded on ``case_routed``, else the default — so editing the policy
        re-scores history. ``prefer: event``: the recorded value wins when present.
        """
        clock = self._clock(channel, queue)
        recorded = (
            SlaTarget(float(event_seconds), clock)
            if event_seconds is not None and event_seconds == event_seconds
            else None
        )
        from_policy = self.queues.get(queue or "") or self.channels.get(channel or "")
        if self.prefer == "event":
            return recorded or from_policy or self.default
        return from_policy or recorded or self.default

    def _clock(self, channel: str | None, queue: str | None) -> str:
        t = self.queues.get(queue or "") or self.channels.get(channel or "") or self.default
        return t.clock if t else "business"


@dataclass(frozen=True)
class CostModel:
    """Loaded agent cost per hour and per-channel fees, in one currency."""

    currency: str = "EUR"
    default_hourly: float = 38.0
    team_hourly: dict[str, float] = field(default_factory=dict)
    agent_hourly: dict[int, float] = field(default_factory=dict)
    channels: dict[str, dict[str, float]] = field(default_factory=dict)
    round_up_minutes: bool = True

    def channel_fee(self, channel: str, key: str) -> float:
        return float(self.channels.get(channel, {}).get(key, 0.0))


SURVEY_KINDS = ("nps", "csat")
DEFAULT_SURVEY_CHANNELS = frozenset({"email", "chat", "facebook", "x", "sms"})


@dataclass(frozen=True)
class SurveyPolicy:
    """When a solved case gets an NPS/CSAT invitation (``surveys:`` in the policy).

    ``channels``: the channels whose cases are surveyed (a forum thread or a phone call
    has no private way to send a link). ``base_url``: where the public ``/surveys/{token}``
    page is reachable; ``$SOMEBOUND_PUBLIC_URL`` overrides it.
    """

    send: bool = True
    kind: str = "nps"
    channels: frozenset[str] = DEFAULT_SURVEY_CHANNELS
    base_url: str | None = None


@dataclass(frozen=True)
class MetricsConfig:
    calendars: dict[str, BusinessCalendar] = field(
        default_factory=lambda: {"always": BusinessCalendar.always_open("always")}
    )
    default_calendar: str = "always"
    queue_calendars: dict[str, str] = field(default_factory=dict)
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    cost: CostModel = field(default_factory=CostModel)
    surveys: SurveyPolicy = field(default_factory=SurveyPolicy)
    source: str = "<defaults>"

    def calendar_for_queue(self, queue: str | None) -> BusinessCalendar:
        name = self.queue_calendars.get(queue or "", self.default_calendar)
        return self.calendars[name]


# -- loading -----------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def default_config() -> MetricsConfig:
    """The shipped ``default_metrics.yaml`` (Helsinki office hours, common targets)."""
    text = resources.files("somebound.metrics").joinpath("default_metrics.yaml").read_text()
    return parse_config(text, source="somebound/metrics/default_metrics.yaml")


def load_config(path: str | Path) -> MetricsConfig:
    return parse_config(Path(path))


def parse_config(text_or_path: str | Path, *, source: str | None = None) -> MetricsConfig:
    doc = load_marked(text_or_path, source=source)
    top = doc.data
    if not isinstance(top, dict):
        raise doc.error((), "the file must be a mapping with calendars/business_hours/sla/cost")
    unknown = set(top) - {"calendars", "business_hours", "sla", "cost", "surveys"}
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise doc.error(
            (key,),
            f"unknown section {key!r}; expected calendars, business_hours, sla, cost, surveys",
        )
    calendars = _calendars(doc, top.get("calendars"))
    default_cal, queue_cals = _business_hours(doc, top.get("business_hours"), calendars)
    return MetricsConfig(
        calendars=calendars,
        default_calendar=default_cal,
        queue_calendars=queue_cals,
        sla=_sla(doc, top.get("sla")),
        cost=_cost(doc, top.get("cost")),
        surveys=_surveys(doc, top.get("surveys")),
        source=doc.source,
    )


def _mapping(doc: MarkedYaml, value: Any, path: tuple, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _calendars(doc: MarkedYaml, raw: Any) -> dict[str, BusinessCalendar]:
    out = {"always": BusinessCalendar.always_open("always")}
    for name, spec in _mapping(doc, raw, ("calendars",), "calendars").items():
        path = ("calendars", name)
        spec = _mapping(doc, spec, path, f"calendar {name!r}")
        extra = set(spec) - {"timezone", "hours", "holidays"}
        if extra:
            k = sorted(map(str, extra))[0]
            raise doc.error((*path, k), f"unknown key {k!r}; use timezone, hours, holidays")
        tz = spec.get("timezone", "UTC")
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise doc.error(
                (*path, "timezone"), f"unknown time zone {tz!r}; use an IANA name like "
                "Europe/Helsinki"
            ) from exc
        weekly = _weekly(doc, spec.get("hours", "always"), (*path, "hours"))
        holidays: dict[date, tuple[Interval, ...]] = {}
        hol = spec.get("holidays") or []
        if not isinstance(hol, list):
            raise doc.error((*path, "holidays"), "holidays must be a list of dates")
        for i, h in enumerate(hol):
            hp = (*path, "holidays", i)
            if isinstance(h, date):
                holidays[h] = ()
            elif isinstance(h, dict) and isinstance(h.get("date"), date):
                holidays[h["date"]] = _intervals(doc, h.get("hours") or [], (*hp, "hours"))
            else:
                raise doc.error(
                    hp, f"holiday {h!r} is not a date; write 2026-12-24 or "
                    "{date: 2026-12-31, hours: ['08:00-12:00']}"
                )
        out[str(name)] = BusinessCalendar(str(name), str(tz), weekly, holidays)
    return out


def _weekly(doc: MarkedYaml, raw: Any, path: tuple) -> tuple[tuple[Interval, ...], ...]:
    if raw == "always":
        return tuple(((0, DAY),) for _ in range(7))
    days: list[tuple[Interval, ...]] = [() for _ in range(7)]
    for key, spans in _mapping(doc, raw, path, "hours").items():
        idx = _day_keys(doc, str(key), (*path, key))
        iv = _intervals(doc, spans or [], (*path, key))
        for d in idx:
            days[d] = iv
    return tuple(days)


def _day_keys(doc: MarkedYaml, key: str, path: tuple) -> list[int]:
    k = key.strip().lower()
    if "-" in k:
        a, b = (p.strip() for p in k.split("-", 1))
        if a in WEEKDAYS and b in WEEKDAYS and WEEKDAYS.index(a) <= WEEKDAYS.index(b):
            return list(range(WEEKDAYS.index(a), WEEKDAYS.index(b) + 1))
    elif k in WEEKDAYS:
        return [WEEKDAYS.index(k)]
    raise doc.error(path, f"{key!r} is not a weekday; use mon..sun or a range like mon-fri")


def _intervals(doc: MarkedYaml, spans: Any, path: tuple) -> tuple[Interval, ...]:
    if isinstance(spans, str):
        spans = [spans]
    if not isinstance(spans, list):
        raise doc.error(path, "opening hours must be a list like ['08:00-16:00']")
    out: list[Interval] = []
    for i, s in enumerate(spans):
        m = _HOURS.match(str(s))
        if not m:
            raise doc.error((*path, i), f"{s!r} is not HH:MM-HH:MM (e.g. '08:00-16:00')")
        h1, m1, h2, m2 = map(int, m.groups())
        a, b = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if not (0 <= a < b <= DAY) or m1 > 59 or m2 > 59:
            raise doc.error(
                (*path, i), f"{s!r}: the end must be after the start, at most 24:00"
            )
        out.append((a, b))
    out.sort()
    for (_, e1), (s2, _) in zip(out, out[1:], strict=False):
        if s2 < e1:
            raise doc.error(path, "opening hours overlap; merge them into one span")
    return tuple(out)


def _business_hours(
    doc: MarkedYaml, raw: Any, calendars: dict[str, BusinessCalendar]
) -> tuple[str, dict[str, str]]:
    spec = _mapping(doc, raw, ("business_hours",), "business_hours")
    default = str(spec.get("default", "always"))
    if default not in calendars:
        raise doc.error(
            ("business_hours", "default"),
            f"no calendar named {default!r}; defined: {', '.join(sorted(calendars))}",
        )
    queues = {}
    for q, cal in _mapping(doc, spec.get("queues"), ("business_hours", "queues"), "queues").items():
        if str(cal) not in calendars:
            raise doc.error(
                ("business_hours", "queues", q),
                f"no calendar named {cal!r}; defined: {', '.join(sorted(calendars))}",
            )
        queues[str(q)] = str(cal)
    return default, queues


def parse_duration(value: Any) -> float | None:
    """``90``, ``"90s"``, ``"15m"``, ``"8h"``, ``"2d"`` -> seconds (None if invalid)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    m = _DURATION.match(str(value))
    if not m:
        return None
    seconds = float(m.group(1)) * _UNIT[m.group(2)]
    return seconds if seconds > 0 else None


def _target(doc: MarkedYaml, raw: Any, path: tuple, default_clock: str) -> SlaTarget:
    spec = _mapping(doc, raw, path, "an SLA target")
    extra = set(spec) - {"first_response", "clock"}
    if extra:
        k = sorted(map(str, extra))[0]
        raise doc.error((*path, k), f"unknown key {k!r}; use first_response and clock")
    if "first_response" not in spec:
        raise doc.error(path, "missing first_response (e.g. first_response: 1h)")
    secs = parse_duration(spec["first_response"])
    if secs is None:
        raise doc.error(
            (*path, "first_response"),
            f"{spec['first_response']!r} is not a positive duration like 30s, 15m, 8h, 2d",
        )
    clock = str(spec.get("clock", default_clock))
    if clock not in CLOCKS:
        raise doc.error((*path, "clock"), f"clock {clock!r} must be business or wall")
    return SlaTarget(secs, clock)


def _sla(doc: MarkedYaml, raw: Any) -> SlaPolicy:
    spec = _mapping(doc, raw, ("sla",), "sla")
    extra = set(spec) - {"default", "channels", "queues", "prefer"}
    if extra:
        k = sorted(map(str, extra))[0]
        raise doc.error(("sla", k), f"unknown key {k!r}; use prefer, default, channels, queues")
    prefer = str(spec.get("prefer", "policy"))
    if prefer not in ("policy", "event"):
        raise doc.error(("sla", "prefer"), f"prefer {prefer!r} must be policy or event")
    default = (
        _target(doc, spec["default"], ("sla", "default"), "business")
        if spec.get("default") is not None
        else None
    )
    clock = default.clock if default else "business"
    channels = {}
    for ch, t in _mapping(doc, spec.get("channels"), ("sla", "channels"), "channels").items():
        if str(ch) not in {c.value for c in Channel}:
            raise doc.error(
                ("sla", "channels", ch),
                f"unknown channel {ch!r}; use one of {', '.join(c.value for c in Channel)}",
            )
        channels[str(ch)] = _target(doc, t, ("sla", "channels", ch), clock)
    queues = {
        str(q): _target(doc, t, ("sla", "queues", q), clock)
        for q, t in _mapping(doc, spec.get("queues"), ("sla", "queues"), "queues").items()
    }
    return SlaPolicy(default=default, channels=channels, queues=queues, prefer=prefer)


def _money(doc: MarkedYaml, value: Any, path: tuple) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise doc.error(path, f"{value!r} must be a non-negative number")
    return float(value)


def _cost(doc: MarkedYaml, raw: Any) -> CostModel:
    spec = _mapping(doc, raw, ("cost",), "cost")
    extra = set(spec) - {"currency", "agent_hourly", "channels", "round_up_minutes"}
    if extra:
        k = sorted(map(str, extra))[0]
        raise doc.error(
            ("cost", k),
            f"unknown key {k!r}; use currency, agent_hourly, channels, round_up_minutes",
        )
    hourly = _mapping(doc, spec.get("agent_hourly"), ("cost", "agent_hourly"), "agent_hourly")
    extra = set(hourly) - {"default", "teams", "agents"}
    if extra:
        k = sorted(map(str, extra))[0]
        raise doc.error(("cost", "agent_hourly", k), f"unknown key {k!r}; use default, teams, agents")
    default = _money(doc, hourly.get("default", 38.0), ("cost", "agent_hourly", "default"))
    teams = {
        str(t): _money(doc, v, ("cost", "agent_hourly", "teams", t))
        for t, v in _mapping(
            doc, hourly.get("teams"), ("cost", "agent_hourly", "teams"), "teams"
        ).items()
    }
    agents: dict[int, float] = {}
    for a, v in _mapping(
        doc, hourly.get("agents"), ("cost", "agent_hourly", "agents"), "agents"
    ).items():
        try:
            aid = int(a)
        except (TypeError, ValueError) as exc:
            raise doc.error(
                ("cost", "agent_hourly", "agents", a), f"agent key {a!r} must be an agent id"
            ) from exc
        agents[aid] = _money(doc, v, ("cost", "agent_hourly", "agents", a))
    channels: dict[str, dict[str, float]] = {}
    for ch, fees in _mapping(doc, spec.get("channels"), ("cost", "channels"), "channels").items():
        p = ("cost", "channels", ch)
        if str(ch) not in {c.value for c in Channel}:
            raise doc.error(
                p, f"unknown channel {ch!r}; use one of {', '.join(c.value for c in Channel)}"
            )
        fees = _mapping(doc, fees, p, "channel fees")
        for k in fees:
            if k not in CHANNEL_COST_KEYS:
                raise doc.error(
                    (*p, k), f"unknown fee {k!r}; use {', '.join(CHANNEL_COST_KEYS)}"
                )
        channels[str(ch)] = {k: _money(doc, v, (*p, k)) for k, v in fees.items()}
    round_up = spec.get("round_up_minutes", True)
    if not isinstance(round_up, bool):
        raise doc.error(("cost", "round_up_minutes"), "round_up_minutes must be true or false")
    return CostModel(
        currency=str(spec.get("currency", "EUR")),
        default_hourly=default,
        team_hourly=teams,
        agent_hourly=agents,
        channels=channels,
        round_up_minutes=round_up,
    )


def _surveys(doc: MarkedYaml, raw: Any) -> SurveyPolicy:
    spec = _mapping(doc, raw, ("surveys",), "surveys")
    extra = set(spec) - {"send", "kind", "channels", "base_url"}
    if extra:
        k = sorted(map(str, extra))[0]
        raise doc.error(("surveys", k), f"unknown key {k!r}; use send, kind, channels, base_url")
    send = spec.get("send", True)
    if not isinstance(send, bool):
        raise doc.error(("surveys", "send"), "send must be true or false")
    kind = spec.get("kind", "nps")
    if kind not in SURVEY_KINDS:
        raise doc.error(("surveys", "kind"), f"unknown survey kind {kind!r}; use nps or csat")
    raw_channels = spec.get("channels", sorted(DEFAULT_SURVEY_CHANNELS))
    if not isinstance(raw_channels, list):
        raise doc.error(("surveys", "channels"), "channels must be a list like [email, chat]")
    known = {c.value for c in Channel}
    for i, ch in enumerate(raw_channels):
        if str(ch) not in known:
            raise doc.error(("surveys", "channels", i),
                            f"unknown channel {ch!r}; use one of {', '.join(sorted(known))}")
    base_url = spec.get("base_url")
    if base_url is not None and not (
        isinstance(base_url, str) and base_url.startswith(("http://", "https://"))
    ):
        raise doc.error(("surveys", "base_url"), "base_url must be an http(s) URL")
    return SurveyPolicy(send=send, kind=kind, channels=frozenset(map(str, raw_channels)),
                        base_url=base_url)
