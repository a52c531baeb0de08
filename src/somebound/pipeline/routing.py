"""Routing: which queue a case goes to, at what priority, with which SLA clock.

Rules are data (YAML). The first rule whose ``when`` matches decides the queue; a rule
with ``continue: true`` only adjusts priority/SLA and lets later rules pick the queue.
Every decision names the rule(s) that fired, so a supervisor can answer "why is this
case in that queue?".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from somebound.core.enums import Bound, Channel, Priority
from somebound.core.policy import PolicyError, line_of, load_policy_yaml, strip_lines

DEFAULT_ROUTING = Path(__file__).with_name("default_routing.yaml")

_MATCH_KEYS = {"channel", "bound", "language", "keywords", "public", "intent", "sentiment"}


@dataclass(frozen=True)
class RoutingInput:
    """What routing may look at: channel-blind facts about the new contact."""

    channel: Channel
    bound: Bound
    text: str
    language: str | None = None
    public: bool = False
    customer: dict[str, Any] = field(default_factory=dict)
    intent: str | None = None
    sentiment: str | None = None


@dataclass(frozen=True)
class RouteDecision:
    queue: str
    priority: Priority
    sla_first_response_seconds: int
    rules: tuple[str, ...]


@dataclass(frozen=True)
class _Rule:
    name: str
    line: int
    conditions: dict[str, frozenset[str]]
    keywords: re.Pattern[str] | None
    customer: dict[str, frozenset[str]]
    queue: str | None
    priority: Priority | None
    sla: dict[str, int]
    cont: bool

    def matches(self, item: RoutingInput, facts: dict[str, str]) -> bool:
        """Does the rule fire for ``item``, whose :func:`_facts` are ``facts``?"""
        for key, allowed in self.conditions.items():
            if facts[key] not in allowed:
                return False
        for attr, allowed in self.customer.items():
            if str(item.customer.get(attr, "")).casefold() not in allowed:
                return False
        return not (self.keywords and not self.keywords.search(item.text))


@dataclass(frozen=True)
class RoutingPolicy:
    queues: dict[str, dict[str, Any]]
    default_queue: str
    default_priority: Priority
    sla: dict[str, int]
    rules: tuple[_Rule, ...]
    source: str = "<routing>"

    @classmethod
    def load(cls, path: str | Path | None = None, *, text: str | None = None) -> RoutingPolicy:
        src = str(path or DEFAULT_ROUTING) if text is None else "<text>"
        doc = load_policy_yaml(path or DEFAULT_ROUTING, text=text, source=src)
        return _parse(doc, src)

    def route(self, item: RoutingInput) -> RouteDecision:
        queue: str | None = None
        priority = self.default_priority
        sla = dict(self.sla)
        fired: list[str] = []
        facts = _facts(item)  # once per item, not per rule
        for rule in self.rules:
            if not rule.matches(item, facts):
                continue
            fired.append(rule.name)
            if rule.priority is not None and rule.priority.rank > priority.rank:
                priority = rule.priority
            sla.update(rule.sla)
            if rule.queue and queue is None:
                queue = rule.queue
            if not rule.cont:
                break
        seconds = sla.get(item.channel.value, sla.get("default", 3600))
        return RouteDecision(queue or self.default_queue, priority, int(seconds), tuple(fired))


def _facts(item: RoutingInput) -> dict[str, str]:
    """What rules' conditions compare, as the strings the policy file names."""
    return {
        "channel": item.channel,  # str enums: the member is its value
        "bound": item.bound,
        "language": item.language or "",
        "public": "true" if item.public else "false",
        "intent": item.intent or "",
        "sentiment": item.sentiment or "",
    }


def _parse(doc: Any, src: str) -> RoutingPolicy:
    if not isinstance(doc, dict):
        raise PolicyError(src, 1, "the routing file must be a mapping with 'queues' and 'rules'")
    queues_raw = doc.get("queues")
    if not isinstance(queues_raw, dict) or len(strip_lines(queues_raw)) == 0:
        raise PolicyError(src, line_of(doc), "'queues' must map queue names to settings",
                          "e.g. queues: {general: {team: service}}")
    queues = {name: strip_lines(v) or {} for name, v in queues_raw.items() if name != "__line__"}
    defaults = doc.get("defaults") or {}
    default_queue = defaults.get("queue", next(iter(queues)))
    if default_queue not in queues:
        raise PolicyError(src, line_of(defaults), f"default queue {default_queue!r} is not declared",
                          f"declared queues: {', '.join(queues)}")
    default_priority = _priority(defaults.get("priority", "normal"), src, line_of(defaults))
    sla = _sla(doc.get("sla") or {}, src)
    rules_raw = doc.get("rules") or []
    if not isinstance(rules_raw, list):
        raise PolicyError(src, line_of(doc), "'rules' must be a list")
    rules = tuple(_rule(r, i, src, queues) for i, r in enumerate(rules_raw))
    names = [r.name for r in rules]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise PolicyError(src, None, f"duplicate rule names: {', '.join(sorted(dup))}")
    return RoutingPolicy(queues, default_queue, default_priority, sla, rules, src)


def _priority(value: Any, src: str, line: int | None) -> Priority:
    try:
        return Priority(str(value))
    except ValueError:
        raise PolicyError(src, line, f"unknown priority {value!r}",
                          f"use one of {', '.join(p.value for p in Priority)}") from None


def _sla(raw: dict, src: str) -> dict[str, int]:
    out: dict[str, int] = {}
    valid = {c.value for c in Channel} | {"default"}
    for key, value in raw.items():
        if key == "__line__":
            continue
        if key not in valid:
            raise PolicyError(src, line_of(raw), f"unknown channel {key!r} in sla",
                              f"use one of {', '.join(sorted(valid))}")
        if not isinstance(value, int) or value <= 0:
            raise PolicyError(src, line_of(raw), f"sla for {key} must be a positive number of "
                              f"seconds, got {value!r}")
        out[key] = value
    return out


def _as_set(value: Any) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    return frozenset(str(v).casefold() if not isinstance(v, bool) else str(v).lower()
                     for v in values)


def _rule(raw: Any, index: int, src: str, queues: dict) -> _Rule:
    if not isinstance(raw, dict):
        raise PolicyError(src, None, f"rule #{index + 1} must be a mapping")
    line = line_of(raw) or 0
    name = raw.get("name")
    if not name:
        raise PolicyError(src, line, f"rule #{index + 1} has no name", "add name: <short-id>")
    unknown = set(raw) - {"__line__", "name", "when", "queue", "priority", "sla", "continue"}
    if unknown:
        raise PolicyError(src, line, f"rule {name!r}: unknown key(s) {', '.join(sorted(unknown))}")
    when = raw.get("when") or {}
    if not isinstance(when, dict):
        raise PolicyError(src, line, f"rule {name!r}: 'when' must be a mapping")
    conditions: dict[str, frozenset[str]] = {}
    customer: dict[str, frozenset[str]] = {}
    keywords = None
    for key, value in when.items():
        if key == "__line__":
            continue
        if key.startswith("customer."):
            customer[key.split(".", 1)[1]] = _as_set(value)
        elif key == "keywords":
            words = value if isinstance(value, list) else [value]
            alts = "|".join(re.escape(str(w)).replace(r"\*", r"\w*") for w in words)
            keywords = re.compile(rf"(?<!\w)(?:{alts})(?!\w)", re.IGNORECASE)
        elif key in _MATCH_KEYS:
            conditions[key] = _as_set(value)
            if key == "channel":
                bad = conditions[key] - {c.value for c in Channel}
                if bad:
                    raise PolicyError(src, line_of(when), f"rule {name!r}: unknown channel(s) "
                                      f"{', '.join(sorted(bad))}")
        else:
            raise PolicyError(src, line_of(when), f"rule {name!r}: cannot match on {key!r}",
                              f"use {', '.join(sorted(_MATCH_KEYS))} or customer.<attribute>")
    queue = raw.get("queue")
    if queue is not None and queue not in queues:
        raise PolicyError(src, line, f"rule {name!r}: queue {queue!r} is not declared",
                          f"declared queues: {', '.join(queues)}")
    priority = _priority(raw["priority"], src, line) if "priority" in raw else None
    return _Rule(str(name), line, conditions, keywords, customer, queue, priority,
                 _sla(raw.get("sla") or {}, src), bool(raw.get("continue", False)))
