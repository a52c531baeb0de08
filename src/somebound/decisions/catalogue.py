"""The action catalogue: what the departments propose, through which channels, within
which limits, under which rules.

A catalogue is plain data loaded from YAML (or the same structure as JSON through the
API), validated on load with errors that name the file, the line and the fix. Once
loaded it is immutable; a new upload is a new version (see :attr:`Catalogue.digest`).

Treatment channels are the decision hub's own vocabulary, because the same inbound
phone call can carry an *agent* offer while an outbound *call* costs a call-centre slot:
``email``, ``sms``, ``call`` (outbound call), ``social_dm`` (private social message) and
``agent`` (offer shown to the agent during an inbound contact).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from somebound.decisions.expressions import Expression, ExpressionError, compile_expression
from somebound.decisions.yamlsource import LocatedDict, LocatedList, PolicyError, load_located

TREATMENT_CHANNELS = ("email", "sms", "call", "social_dm", "agent")
ACTION_TYPES = ("normal", "mandatory", "transactional")
RULE_KINDS = ("eligibility", "applicability", "suitability")
DEFAULT_COST = {"email": 0.002, "sms": 0.06, "call": 4.0, "social_dm": 0.4, "agent": 0.3}


@dataclass(frozen=True, slots=True)
class Rule:
    """A named, compiled rule. Inline rules are named by their text."""

    name: str
    expression: Expression

    @property
    def source(self) -> str:
        return self.expression.source


@dataclass(frozen=True, slots=True)
class Treatment:
    channel: str
    cost: float
    template: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    name: str
    department: str
    issue: str
    group: str | None
    type: str
    value: float
    treatments: dict[str, Treatment]
    rules: dict[str, tuple[str, ...]]  # kind -> rule names (own + inherited from groups)
    valid_from: date | None = None
    valid_to: date | None = None
    stock: float | None = None  # units; one unit is used per acceptance
    budget: float | None = None  # spend cap over all channels of this action
    lever: float = 1.0  # business lever, set by the owner to push or damp an action
    intents: dict[str, float] = field(default_factory=dict)  # context weight by intent
    max_impressions: int | None = None
    description: str = ""

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or day >= self.valid_from) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    parent: str | None
    rules: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class ChannelLimit:
    count: int
    days: int


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    """Limits from the interaction history; see :mod:`somebound.decisions.contact_policy`."""

    max_contacts: dict[str, ChannelLimit] = field(default_factory=dict)
    max_contacts_all: ChannelLimit | None = None
    suppress_after_impressions: int | None = None
    suppress_after_negative_days: int | None = 30
    consent_attribute: str = "consent_{channel}"
    opt_out_attribute: str = "opted_out"
    sticky_social: bool = True


@dataclass(frozen=True, slots=True)
class Catalogue:
    actions: tuple[Action, ...]
    rules: dict[str, Rule]
    groups: dict[str, Group]
    channel_cost: dict[str, float]
    channel_capacity: dict[str, float]  # per day; missing = unlimited
    total_budget: float | None
    contact_policy: ContactPolicy
    digest: str  # sha256 of the canonical source, the catalogue's identity
    version: int = 0  # assigned by whoever stores it (the service / the database)
    currency: str = "EUR"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def action(self, action_id: str) -> Action:
        for a in self.actions:
            if a.id == action_id:
                return a
        raise KeyError(action_id)

    @property
    def action_index(self) -> dict[str, int]:
        return {a.id: i for i, a in enumerate(self.actions)}


# -- loading ---------------------------------------------------------------------------


def load_catalogue(path: str | Path) -> Catalogue:
    path = Path(path)
    return parse_catalogue(path.read_text(encoding="utf-8"), source=str(path))


def parse_catalogue(text: str, source: str = "<catalogue>") -> Catalogue:
    data = load_located(text, source)
    return build_catalogue(data, source)


def build_catalogue(data: Any, source: str = "<catalogue>", version: int = 0) -> Catalogue:
    """Validate a parsed (or JSON) catalogue structure into a :class:`Catalogue`."""
    b = _Builder(source)
    if not isinstance(data, dict):
        raise PolicyError(source, 1, "a catalogue must be a mapping with an 'actions' list")
    b.check_keys(
        data,
        {"version", "currency", "channels", "total_budget", "rules", "contact_policy", "groups", "actions"},
        "catalogue",
    )
    channel_cost = dict(DEFAULT_COST)
    capacity: dict[str, float] = {}
    channels = data.get("channels") or {}
    for ch, spec in channels.items():
        b.channel(ch, data if not isinstance(channels, LocatedDict) else channels, ch)
        spec = spec or {}
        b.check_keys(spec, {"cost", "capacity_per_day"}, f"channel {ch!r}")
        if "cost" in spec:
            channel_cost[ch] = b.number(spec, "cost", minimum=0.0)
        if spec.get("capacity_per_day") is not None:
            capacity[ch] = b.number(spec, "capacity_per_day", minimum=0.0)
    total_budget = None
    if data.get("total_budget") is not None:
        total_budget = b.number(data, "total_budget", minimum=0.0)

    rules: dict[str, Rule] = {}
    for name, text in (data.get("rules") or {}).items():
        rules[name] = Rule(name, b.expr(text, data.get("rules"), name))

    groups: dict[str, Group] = {}
    for name, spec in (data.get("groups") or {}).items():
        spec = spec or {}
        b.check_keys(spec, {"parent", "department", *RULE_KINDS}, f"group {name!r}")
        groups[name] = Group(name, spec.get("parent"), b.rule_refs(spec, rules))
    for g in groups.values():
        if g.parent is not None and g.parent not in groups:
            raise PolicyError(source, b.line(data.get("groups"), g.name), f"group {g.name!r} has unknown parent {g.parent!r}")

    actions_raw = data.get("actions")
    if not isinstance(actions_raw, list) or not actions_raw:
        raise PolicyError(source, b.line(data, "actions"), "'actions' must be a non-empty list")
    actions: list[Action] = []
    seen: set[str] = set()
    for i, spec in enumerate(actions_raw):
        line = actions_raw.line_of(i) if isinstance(actions_raw, LocatedList) else 0
        action = b.action(spec, line, rules, groups, channel_cost)
        if action.id in seen:
            raise PolicyError(source, line, f"duplicate action id {action.id!r}; ids must be unique")
        seen.add(action.id)
        actions.append(action)

    policy = b.contact_policy(data.get("contact_policy") or {})
    canonical = json.dumps(_plain(data), sort_keys=True, default=str)
    return Catalogue(
        actions=tuple(actions),
        rules=rules,
        groups=groups,
        channel_cost=channel_cost,
        channel_capacity=capacity,
        total_budget=total_budget,
        contact_policy=policy,
        digest=hashlib.sha256(canonical.encode()).hexdigest(),
        version=int(data.get("version") or version or 0),
        currency=str(data.get("currency") or "EUR"),
        raw=_plain(data),
    )


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, date | datetime):
        return x.isoformat()
    return x


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def line(self, container: Any, key: Any) -> int:
        if isinstance(container, LocatedDict):
            return container.line_of(key)
        return 0

    def fail(self, container: Any, key: Any, problem: str) -> PolicyError:
        return PolicyError(self.source, self.line(container, key), problem)

    def check_keys(self, spec: Any, allowed: set[str], what: str) -> None:
        if not isinstance(spec, dict):
            raise PolicyError(self.source, getattr(spec, "line", 0), f"{what} must be a mapping")
        for key in spec:
            if key not in allowed:
                raise self.fail(spec, key, f"unknown key {key!r} in {what}; allowed: {', '.join(sorted(allowed))}")

    def channel(self, ch: str, container: Any, key: Any) -> str:
        if ch not in TREATMENT_CHANNELS:
            raise self.fail(container, key, f"unknown channel {ch!r}; use one of {', '.join(TREATMENT_CHANNELS)}")
        return ch

    def number(self, spec: dict, key: str, minimum: float | None = None) -> float:
        value = spec.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(spec, key, f"{key!r} must be a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(spec, key, f"{key!r} must be >= {minimum}, got {value}")
        return float(value)

    def expr(self, text: Any, container: Any, key: Any) -> Expression:
        try:
            return compile_expression(text)
        except ExpressionError as exc:
            raise self.fail(container, key, str(exc)) from None

    def rule_refs(self, spec: dict, rules: dict[str, Rule]) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for kind in RULE_KINDS:
            refs = spec.get(kind) or []
            if isinstance(refs, str):
                refs = [refs]
            names: list[str] = []
            for ref in refs:
                if not isinstance(ref, str):
                    raise self.fail(spec, kind, f"{kind} entries must be rule names or expressions, got {ref!r}")
                if ref not in rules:  # an inline expression, deduplicated by its text
                    rules[ref] = Rule(ref, self.expr(ref, spec, kind))
                names.append(ref)
            out[kind] = tuple(names)
        return out

    def action(
        self,
        spec: Any,
        line: int,
        rules: dict[str, Rule],
        groups: dict[str, Group],
        channel_cost: dict[str, float],
    ) -> Action:
        if not isinstance(spec, dict):
            raise PolicyError(self.source, line, "each action must be a mapping with at least id, value and treatments")
        allowed = {
            "id", "name", "department", "issue", "group", "type", "value", "treatments", "valid",
            "limits", "lever", "intents", "max_impressions", "description", *RULE_KINDS,
        }
        self.check_keys(spec, allowed, f"action {spec.get('id', '?')!r}")
        for key in ("id", "value", "treatments"):
            if key not in spec:
                raise PolicyError(self.source, line, f"action is missing {key!r}")
        aid = str(spec["id"])
        kind = spec.get("type", "normal")
        if kind not in ACTION_TYPES:
            raise self.fail(spec, "type", f"action {aid!r}: type must be one of {ACTION_TYPES}, got {kind!r}")
        value = self.number(spec, "value")
        treatments_raw = spec["treatments"]
        if isinstance(treatments_raw, list):  # shorthand: [email, sms]
            treatments_raw = {ch: {} for ch in treatments_raw}
        if not isinstance(treatments_raw, dict) or not treatments_raw:
            raise self.fail(spec, "treatments", f"action {aid!r}: treatments must name at least one channel")
        treatments: dict[str, Treatment] = {}
        for ch, t in treatments_raw.items():
            if isinstance(treatments_raw, LocatedDict):
                self.channel(ch, treatments_raw, ch)
            else:
                self.channel(ch, spec, "treatments")
            t = t or {}
            self.check_keys(t, {"cost", "template"}, f"treatment {aid}/{ch}")
            cost = self.number(t, "cost", 0.0) if "cost" in t else channel_cost[ch]
            treatments[ch] = Treatment(ch, cost, t.get("template"))
        group = spec.get("group")
        if group is not None and group not in groups:
            raise self.fail(spec, "group", f"action {aid!r}: unknown group {group!r}; define it under 'groups'")
        own = self.rule_refs(spec, rules)
        inherited: dict[str, list[str]] = {k: [] for k in RULE_KINDS}
        g = groups.get(group) if group else None
        chain: list[Group] = []
        while g is not None and g not in chain:
            chain.append(g)
            g = groups.get(g.parent) if g.parent else None
        for g in reversed(chain):  # outermost group first
            for k in RULE_KINDS:
                inherited[k].extend(g.rules[k])
        merged = {k: tuple(dict.fromkeys([*inherited[k], *own[k]])) for k in RULE_KINDS}
        valid = spec.get("valid") or {}
        self.check_keys(valid, {"from", "to"}, f"action {aid!r} valid")
        limits = spec.get("limits") or {}
        self.check_keys(limits, {"stock", "budget"}, f"action {aid!r} limits")
        intents = spec.get("intents") or {}
        for k in intents:
            self.number(intents, k, 0.0)
        return Action(
            id=aid,
            name=str(spec.get("name", aid)),
            department=str(spec.get("department", "")),
            issue=str(spec.get("issue", "")),
            group=group,
            type=kind,
            value=value,
            treatments=treatments,
            rules=merged,
            valid_from=self.day(valid, "from"),
            valid_to=self.day(valid, "to"),
            stock=self.number(limits, "stock", 0.0) if limits.get("stock") is not None else None,
            budget=self.number(limits, "budget", 0.0) if limits.get("budget") is not None else None,
            lever=self.number(spec, "lever", 0.0) if "lever" in spec else 1.0,
            intents={str(k): float(v) for k, v in intents.items()},
            max_impressions=int(spec["max_impressions"]) if spec.get("max_impressions") else None,
            description=str(spec.get("description", "")),
        )

    def day(self, spec: dict, key: str) -> date | None:
        v = spec.get(key)
        if v is None:
            return None
        if isinstance(v, datetime):
            return v.date()
        if isinstance(v, date):
            return v
        try:
            return date.fromisoformat(str(v))
        except ValueError:
            raise self.fail(spec, key, f"{key!r} must be a date YYYY-MM-DD, got {v!r}") from None

    def contact_policy(self, spec: dict) -> ContactPolicy:
        self.check_keys(
            spec,
            {
                "max_contacts", "max_contacts_all", "suppress_after_impressions",
                "suppress_after_negative_days", "consent_attribute", "opt_out_attribute", "sticky_social",
            },
            "contact_policy",
        )
        limits: dict[str, ChannelLimit] = {}
        for ch, lim in (spec.get("max_contacts") or {}).items():
            self.channel(ch, spec.get("max_contacts"), ch)
            limits[ch] = self.limit(lim, f"contact_policy.max_contacts.{ch}")
        all_lim = spec.get("max_contacts_all")
        sai = spec.get("suppress_after_impressions")
        neg = spec.get("suppress_after_negative_days", 30)
        return ContactPolicy(
            max_contacts=limits,
            max_contacts_all=self.limit(all_lim, "contact_policy.max_contacts_all") if all_lim else None,
            suppress_after_impressions=int(sai) if sai else None,
            suppress_after_negative_days=int(neg) if neg is not None else None,
            consent_attribute=str(spec.get("consent_attribute", "consent_{channel}")),
            opt_out_attribute=str(spec.get("opt_out_attribute", "opted_out")),
            sticky_social=bool(spec.get("sticky_social", True)),
        )

    def limit(self, lim: Any, what: str) -> ChannelLimit:
        self.check_keys(lim, {"count", "days"}, what)
        return ChannelLimit(int(self.number(lim, "count", 0)), int(self.number(lim, "days", 1)))


def demo_catalogue_path() -> Path:
    return Path(__file__).with_name("demo_catalogue.yaml")
