"""Urgency / priority by transparent, configurable rules.

The score is a sum of named components, each capped by its weight, so an agent can read
*why* a message is urgent ("keyword 'katkos' +0.35; negative sentiment +0.20; SLA 4 min
left +0.19"). Rules come from YAML (``urgency.yaml`` shipped; a company supplies its own).

Keywords match as word *prefixes*, case-insensitively: Finnish inflects heavily, so
``katko`` covers ``katkos``, ``katkoksen``, ``katkot``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from somebound.core.enums import Priority
from somebound.listening.policy_yaml import PolicyError, load_yaml_with_marks

DEFAULT_URGENCY = Path(__file__).resolve().parent / "urgency.yaml"


@dataclass(frozen=True, slots=True)
class UrgencySignals:
    """What the urgency rules look at, gathered by the enricher."""

    text: str
    language: str
    sentiment_score: float  # -1..1
    previous_contacts: int = 0
    parallel_contact: bool = False
    sla_seconds_left: float | None = None
    followers: int | None = None


@dataclass(frozen=True, slots=True)
class Urgency:
    score: float  # 0..1
    priority: Priority
    reasons: tuple[str, ...]
    keywords: tuple[str, ...]


def compile_terms(terms: list[str]) -> re.Pattern[str] | None:
    """One regex matching any term as a word prefix; group 1 is the term hit."""
    if not terms:
        return None
    alts = sorted({t.casefold() for t in terms}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(t) for t in alts) + r")\w*", re.IGNORECASE)


@dataclass
class UrgencyRules:
    keyword_weight: float = 0.35
    keywords: dict[str, list[str]] = field(default_factory=dict)
    negative_weight: float = 0.25
    negative_below: float = -0.2
    repeat_weight: float = 0.1  # per previous contact
    repeat_max: float = 0.3
    parallel_weight: float = 0.15
    sla_weight: float = 0.25
    sla_horizon_seconds: float = 1800.0
    reach_weight: float = 0.2
    reach_full_followers: int = 10_000
    levels: dict[Priority, float] = field(
        default_factory=lambda: {Priority.URGENT: 0.7, Priority.HIGH: 0.45, Priority.NORMAL: 0.15}
    )
    _patterns: dict[str, re.Pattern[str] | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        every = [t for terms in self.keywords.values() for t in terms]
        self._patterns = {lang: compile_terms(terms) for lang, terms in self.keywords.items()}
        self._patterns["*"] = compile_terms(every)

    def matched_keywords(self, text: str, language: str | None) -> list[str]:
        """Keywords of the message's language (all languages when it is unknown)."""
        pattern = self._patterns.get(language or "*", self._patterns["*"])
        if pattern is None:
            return []
        return list(dict.fromkeys(m.group(1).casefold() for m in pattern.finditer(text)))

    def priority_for(self, score: float) -> Priority:
        for level in (Priority.URGENT, Priority.HIGH, Priority.NORMAL):
            if score >= self.levels.get(level, math.inf):
                return level
        return Priority.LOW

    def assess(self, s: UrgencySignals) -> Urgency:
        parts: list[tuple[float, str]] = []
        kws = self.matched_keywords(s.text, s.language)
        if kws:
            parts.append((self.keyword_weight, f"keyword {', '.join(repr(k) for k in kws[:3])}"))
        if s.sentiment_score <= self.negative_below:
            frac = min(1.0, (self.negative_below - s.sentiment_score) / (1 + self.negative_below) + 0.5)
            parts.append((self.negative_weight * frac, f"negative sentiment {s.sentiment_score:+.2f}"))
        if s.previous_contacts > 0:
            w = min(self.repeat_max, self.repeat_weight * s.previous_contacts)
            parts.append((w, f"repeat contact ({s.previous_contacts} before)"))
        if s.parallel_contact:
            parts.append((self.parallel_weight, "parallel contact on another channel"))
        if s.sla_seconds_left is not None and s.sla_seconds_left < self.sla_horizon_seconds:
            frac = 1.0 - max(0.0, s.sla_seconds_left) / self.sla_horizon_seconds
            label = "SLA overdue" if s.sla_seconds_left <= 0 else f"SLA {s.sla_seconds_left / 60:.0f} min left"
            parts.append((self.sla_weight * frac, label))
        if s.followers and s.followers > 0:
            frac = min(1.0, math.log10(1 + s.followers) / math.log10(1 + self.reach_full_followers))
            if frac >= 0.5:
                parts.append((self.reach_weight * frac, f"author reach {s.followers} followers"))
        score = min(1.0, sum(w for w, _ in parts))
        reasons = tuple(f"{label} +{w:.2f}" for w, label in parts if w > 0)
        return Urgency(round(score, 4), self.priority_for(score), reasons, tuple(kws))

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_yaml(cls, path: str | Path = DEFAULT_URGENCY, text: str | None = None) -> UrgencyRules:
        data, marks = load_yaml_with_marks(path, text)
        if not isinstance(data, dict):
            raise PolicyError(path, 1, "urgency rules must be a mapping")
        known = {
            "keywords", "negative_sentiment", "repeat_contact", "parallel_contact", "sla",
            "reach", "levels",
        }
        for key in data:
            if key not in known:
                raise PolicyError(path, marks[(key,)], f"unknown key {key!r}; allowed: {sorted(known)}")

        def num(section: str, key: str, default: float) -> float:
            sec = data.get(section) or {}
            if not isinstance(sec, dict):
                raise PolicyError(path, marks.get((section,), 1), f"{section!r} must be a mapping")
            val: Any = sec.get(key, default)
            if isinstance(val, bool) or not isinstance(val, int | float):
                raise PolicyError(path, marks.get((section, key), 1), f"{section}.{key} must be a number, got {val!r}")
            return float(val)

        kw = data.get("keywords") or {}
        terms = kw.get("terms", {}) if isinstance(kw, dict) else None
        if not isinstance(terms, dict):
            raise PolicyError(path, marks.get(("keywords",), 1), "keywords.terms must map language -> [terms]")
        for lang, lst in terms.items():
            if not isinstance(lst, list) or not all(isinstance(t, str) and t.strip() for t in lst):
                raise PolicyError(path, marks.get(("keywords", "terms", lang), 1), f"keywords.terms.{lang} must be a list of words")
        levels_raw = data.get("levels") or {}
        levels = {}
        for name, val in levels_raw.items():
            try:
                level = Priority(name)
            except ValueError:
                raise PolicyError(path, marks[("levels", name)], f"unknown priority {name!r}; use urgent|high|normal") from None
            if not isinstance(val, int | float) or not 0 <= val <= 1:
                raise PolicyError(path, marks[("levels", name)], f"levels.{name} must be a number in 0..1")
            levels[level] = float(val)
        rules = cls(
            keyword_weight=num("keywords", "weight", 0.35),
            keywords={str(k): [str(t) for t in v] for k, v in terms.items()},
            negative_weight=num("negative_sentiment", "weight", 0.25),
            negative_below=num("negative_sentiment", "below", -0.2),
            repeat_weight=num("repeat_contact", "weight_each", 0.1),
            repeat_max=num("repeat_contact", "max", 0.3),
            parallel_weight=num("parallel_contact", "weight", 0.15),
            sla_weight=num("sla", "weight", 0.25),
            sla_horizon_seconds=num("sla", "horizon_seconds", 1800),
            reach_weight=num("reach", "weight", 0.2),
            reach_full_followers=int(num("reach", "full_at_followers", 10_000)),
        )
        if levels:
            rules.levels = levels
        return rules
