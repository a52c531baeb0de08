"""Engagement criteria: "when do we step in" as declarative YAML rules.

Rules are tried in order; the first whose every condition holds decides the action
(answer / watch / ignore), the priority and the queue. The decision names the rule and
lists the conditions that matched, so a supervisor can see why a post was answered or
left alone. A ``default`` block decides when no rule matches.

Conditions (all optional, all must hold)::

    channel: [facebook, x]        bound: [somebound]       language: [fi, sv]
    public: true                  addressed: true          from_company: false
    sentiment: [negative]         max_sentiment_score: -0.5   min_sentiment_score: 0.3
    intent: [complaint]           min_intent_confidence: 0.5
    keywords: [katko, outage]     min_followers: 5000      max_followers: 100
    min_urgency: 0.7

``priority`` may be omitted: the urgency rules' priority is used then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from somebound.core.enums import Bound, Channel, Priority
from somebound.core.message import Message
from somebound.listening.policy_yaml import PolicyError, load_yaml_with_marks
from somebound.listening.urgency import compile_terms

if TYPE_CHECKING:
    from somebound.listening.enrich import EnrichContext, Enrichment

DEFAULT_ENGAGEMENT = Path(__file__).resolve().parent / "engagement.yaml"
ACTIONS = ("answer", "watch", "ignore")


@dataclass(frozen=True, slots=True)
class EngagementDecision:
    action: str  # answer | watch | ignore
    priority: Priority
    queue: str | None
    rule: str
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "priority": self.priority.value,
            "queue": self.queue,
            "rule": self.rule,
            "reasons": list(self.reasons),
        }


Check = Callable[["Message", "Enrichment", "EnrichContext | None"], str | None]


def _in(values: set[str], getter: Callable[..., Any], name: str) -> Check:
    def check(m: Message, e: Enrichment, c: EnrichContext | None) -> str | None:
        v = getter(m, e, c)
        v = getattr(v, "value", v)
        return f"{name}={v}" if v in values else None

    return check


def _bool(expected: bool, getter: Callable[..., Any], name: str) -> Check:
    def check(m: Message, e: Enrichment, c: EnrichContext | None) -> str | None:
        return f"{name}={expected}" if bool(getter(m, e, c)) is expected else None

    return check


def _cmp(limit: float, getter: Callable[..., Any], name: str, minimum: bool) -> Check:
    def check(m: Message, e: Enrichment, c: EnrichContext | None) -> str | None:
        v = getter(m, e, c)
        if v is None:
            return None
        ok = v >= limit if minimum else v <= limit
        return f"{name} {v:g} {'>=' if minimum else '<='} {limit:g}" if ok else None

    return check


def _keywords(terms: list[str]) -> Check:
    pattern = compile_terms(terms)

    def check(m: Message, e: Enrichment, c: EnrichContext | None) -> str | None:
        hit = pattern.search(m.body) if pattern else None
        return f"keyword {hit.group(1).casefold()!r}" if hit else None

    return check


_ENUMS: dict[str, tuple[set[str] | None, Callable[..., Any]]] = {
    "channel": ({c.value for c in Channel}, lambda m, e, c: m.channel),
    "bound": ({b.value for b in Bound}, lambda m, e, c: c.bound if c else None),
    "language": (None, lambda m, e, c: e.language),
    "sentiment": ({"negative", "neutral", "positive"}, lambda m, e, c: e.sentiment),
    "intent": (None, lambda m, e, c: e.intent),
}
_BOOLS: dict[str, Callable[..., Any]] = {
    "public": lambda m, e, c: m.public,
    "addressed": lambda m, e, c: m.addressed_to_company,
    "from_company": lambda m, e, c: m.author.is_company,
}
_NUMS: dict[str, tuple[Callable[..., Any], bool]] = {
    "min_sentiment_score": (lambda m, e, c: e.sentiment_score, True),
    "max_sentiment_score": (lambda m, e, c: e.sentiment_score, False),
    "min_intent_confidence": (lambda m, e, c: e.intent_confidence, True),
    "min_followers": (lambda m, e, c: e.reach, True),
    "max_followers": (lambda m, e, c: e.reach, False),
    "min_urgency": (lambda m, e, c: e.urgency, True),
}
CONDITIONS = sorted({*_ENUMS, *_BOOLS, *_NUMS, "keywords"})


@dataclass(frozen=True)
class Rule:
    name: str
    checks: tuple[Check, ...]
    action: str
    priority: Priority | None
    queue: str | None
    line: int = 0


@dataclass
class EngagementPolicy:
    rules: list[Rule]
    default_action: str = "watch"
    default_priority: Priority | None = None
    default_queue: str | None = None
    source: str = "<memory>"
    _names: list[str] = field(default_factory=list, repr=False)

    def decide(
        self, message: Message, enrichment: Enrichment, context: EnrichContext | None = None
    ) -> EngagementDecision:
        for rule in self.rules:
            reasons = []
            for check in rule.checks:
                why = check(message, enrichment, context)
                if why is None:
                    break
                reasons.append(why)
            else:
                return EngagementDecision(
                    rule.action,
                    rule.priority or enrichment.priority,
                    rule.queue,
                    rule.name,
                    tuple(reasons) + tuple(enrichment.urgency_reasons),
                )
        return EngagementDecision(
            self.default_action,
            self.default_priority or enrichment.priority,
            self.default_queue,
            "default",
            ("no rule matched",) + tuple(enrichment.urgency_reasons),
        )

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_yaml(
        cls, path: str | Path = DEFAULT_ENGAGEMENT, text: str | None = None
    ) -> EngagementPolicy:
        data, marks = load_yaml_with_marks(path, text)
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise PolicyError(path, 1, "expected a mapping with 'rules: [...]' (and optional 'default')")
        for key in data:
            if key not in ("rules", "default"):
                raise PolicyError(path, marks[(key,)], f"unknown key {key!r}; allowed: rules, default")
        rules: list[Rule] = []
        seen: set[str] = set()
        for i, raw in enumerate(data["rules"]):
            line = marks[("rules", i)]
            if not isinstance(raw, dict):
                raise PolicyError(path, line, "each rule must be a mapping with name, when, then")
            for key in raw:
                if key not in ("name", "when", "then"):
                    raise PolicyError(path, marks[("rules", i, key)], f"unknown rule key {key!r}; allowed: name, when, then")
            name = raw.get("name")
            if not isinstance(name, str) or not name:
                raise PolicyError(path, line, "rule needs a 'name'")
            if name in seen:
                raise PolicyError(path, line, f"duplicate rule name {name!r}")
            seen.add(name)
            when = raw.get("when") or {}
            if not isinstance(when, dict):
                raise PolicyError(path, marks.get(("rules", i, "when"), line), "'when' must be a mapping of conditions")
            checks = [
                _condition(path, marks, ("rules", i, "when", k), k, v) for k, v in when.items()
            ]
            action, prio, queue = _then(path, marks, ("rules", i, "then"), raw.get("then"), line)
            rules.append(Rule(name, tuple(checks), action, prio, queue, line))
        d_action, d_prio, d_queue = "watch", None, None
        if "default" in data:
            d_action, d_prio, d_queue = _then(path, marks, ("default",), data["default"], marks[("default",)])
        return cls(rules, d_action, d_prio, d_queue, str(path))


def _condition(path: Any, marks: dict, key_path: tuple, key: str, value: Any) -> Check:
    line = marks.get(key_path, 1)
    if key in _ENUMS:
        allowed, getter = _ENUMS[key]
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) for v in values):
            raise PolicyError(path, line, f"{key}: give a value or a list of values")
        if allowed is not None:
            bad = [v for v in values if v not in allowed]
            if bad:
                raise PolicyError(path, line, f"{key}: unknown {bad}; allowed: {sorted(allowed)}")
        return _in(set(values), getter, key)
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise PolicyError(path, line, f"{key}: must be true or false, got {value!r}")
        return _bool(value, _BOOLS[key], key)
    if key in _NUMS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(path, line, f"{key}: must be a number, got {value!r}")
        getter, minimum = _NUMS[key]
        return _cmp(float(value), getter, key.removeprefix("min_").removeprefix("max_"), minimum)
    if key == "keywords":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise PolicyError(path, line, "keywords: give a non-empty list of words")
        return _keywords(value)
    raise PolicyError(path, line, f"unknown condition {key!r}; allowed: {', '.join(CONDITIONS)}")


def _then(path: Any, marks: dict, key_path: tuple, then: Any, line: int) -> tuple[str, Priority | None, str | None]:
    line = marks.get(key_path, line)
    if not isinstance(then, dict):
        raise PolicyError(path, line, "'then' must be a mapping with action, priority, queue")
    for key in then:
        if key not in ("action", "priority", "queue"):
            raise PolicyError(path, marks.get((*key_path, key), line), f"unknown key {key!r} in then; allowed: action, priority, queue")
    action = then.get("action")
    if action not in ACTIONS:
        raise PolicyError(path, marks.get((*key_path, "action"), line), f"action must be one of {ACTIONS}, got {action!r}")
    prio = None
    if then.get("priority") is not None:
        try:
            prio = Priority(then["priority"])
        except ValueError:
            raise PolicyError(path, marks.get((*key_path, "priority"), line), f"priority must be one of {[p.value for p in Priority]}, got {then['priority']!r}") from None
    queue = then.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise PolicyError(path, marks.get((*key_path, "queue"), line), "queue must be a name")
    return action, prio, queue
