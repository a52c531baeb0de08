"""Master data survivorship: may this source's value replace the current one?

Policy is data (``policy/survivorship.yaml``), validated on load with errors that name
the file, the line and the problem. :func:`decide` is pure: given the current value
of an attribute (with the source and time that set it) and a proposed value, it says
whether the proposal survives and why. The store adapter records every proposal in the
field lineage, applied or not, so the golden record can show each source's value.

Two invariants hold whatever the rules say: the master source of an attribute is never
overwritten by another source, and a social source never overwrites a value set by a
non-social source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

Rule = Literal["source_precedence", "most_recent", "most_trusted", "master_only"]
_RULES = ("source_precedence", "most_recent", "most_trusted", "master_only")
_CLASSES = ("master", "internal", "channel", "social")


class PolicyError(ValueError):
    """A survivorship policy file is invalid; the message says where and how to fix it."""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    trust: int
    cls: str


@dataclass(frozen=True, slots=True)
class AttributeRule:
    rule: Rule
    master: str | None = None
    precedence: tuple[str, ...] = ()


@dataclass(frozen=True)
class SurvivorshipPolicy:
    sources: dict[str, SourceInfo]
    attributes: dict[str, AttributeRule]
    default: AttributeRule = field(default_factory=lambda: AttributeRule("most_trusted"))

    def rule_for(self, attribute: str) -> AttributeRule:
        return self.attributes.get(attribute, self.default)

    def source(self, name: str) -> SourceInfo:
        info = self.sources.get(name)
        if info is None:
            raise ValueError(
                f"unknown data source {name!r}; declare it under 'sources' in the "
                f"survivorship policy (known: {sorted(self.sources)})"
            )
        return info

    def is_social(self, name: str) -> bool:
        return self.source(name).cls == "social"


@dataclass(frozen=True, slots=True)
class FieldValue:
    """A value of one attribute with its provenance."""

    value: Any
    source: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Verdict:
    apply: bool
    reason: str


def decide(
    policy: SurvivorshipPolicy,
    attribute: str,
    current: FieldValue | None,
    proposed: FieldValue,
) -> Verdict:
    """Whether ``proposed`` replaces ``current`` for ``attribute``, and why."""
    rule = policy.rule_for(attribute)
    policy.source(proposed.source)  # unknown sources are an error, not a silent accept
    if rule.rule == "master_only" and rule.master and proposed.source != rule.master:
        return Verdict(False, f"only the master source {rule.master!r} may set {attribute}")
    if current is None or current.value is None:
        return Verdict(True, "no current value")
    if current.value == proposed.value:
        return Verdict(False, "same value")
    if rule.master and current.source == rule.master and proposed.source != rule.master:
        return Verdict(False, f"{attribute} is owned by master source {rule.master!r}")
    cur_info = policy.sources.get(current.source)
    if policy.is_social(proposed.source) and (cur_info is None or cur_info.cls != "social"):
        return Verdict(False, "social data never overwrites non-social data")
    if proposed.source == current.source or rule.rule == "most_recent":
        newer = proposed.at >= current.at
        return Verdict(newer, "more recent" if newer else "older than the current value")
    if rule.rule == "master_only":
        return Verdict(True, f"set by master source {rule.master!r}")
    if rule.rule == "source_precedence":
        order = list(rule.precedence)
        p_rank = order.index(proposed.source) if proposed.source in order else len(order)
        c_rank = order.index(current.source) if current.source in order else len(order)
        ok = p_rank <= c_rank
        return Verdict(ok, "higher precedence" if ok else f"{current.source!r} takes precedence")
    p_trust = policy.source(proposed.source).trust
    c_trust = cur_info.trust if cur_info else -1
    ok = p_trust >= c_trust
    return Verdict(ok, "more trusted" if ok else f"{current.source!r} is more trusted")


# -- loading ----------------------------------------------------------------------------


def _err(path: str, node: yaml.Node, problem: str) -> PolicyError:
    return PolicyError(f"{path}:{node.start_mark.line + 1}: {problem}")


def _mapping(path: str, node: yaml.Node, what: str) -> list[tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise _err(path, node, f"{what} must be a mapping")
    return node.value


def _scalar(path: str, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _err(path, node, f"{what} must be a single value")
    return str(node.value)


def _attr_rule(
    path: str, node: yaml.Node, name: str, sources: dict[str, SourceInfo]
) -> AttributeRule:
    rule: str | None = None
    master: str | None = None
    precedence: tuple[str, ...] = ()
    for k, v in _mapping(path, node, f"attribute {name!r}"):
        key = _scalar(path, k, "a key")
        if key == "rule":
            rule = _scalar(path, v, "rule")
            if rule not in _RULES:
                raise _err(
                    path, v, f"attribute {name!r}: unknown rule {rule!r}; use one of {_RULES}"
                )
        elif key == "master":
            master = _scalar(path, v, "master")
            if master not in sources:
                raise _err(
                    path, v, f"attribute {name!r}: master {master!r} is not a declared source"
                )
        elif key == "precedence":
            if not isinstance(v, yaml.SequenceNode):
                raise _err(path, v, f"attribute {name!r}: precedence must be a list of sources")
            precedence = tuple(_scalar(path, x, "a source") for x in v.value)
            for x, s in zip(v.value, precedence, strict=True):
                if s not in sources:
                    raise _err(path, x, f"attribute {name!r}: {s!r} is not a declared source")
        else:
            raise _err(
                path, k, f"attribute {name!r}: unknown key {key!r} (rule, master, precedence)"
            )
    if rule is None:
        raise _err(path, node, f"attribute {name!r} needs a 'rule'")
    if rule == "source_precedence" and not precedence:
        raise _err(path, node, f"attribute {name!r}: source_precedence needs a 'precedence' list")
    if rule == "master_only" and master is None:
        raise _err(path, node, f"attribute {name!r}: master_only needs a 'master'")
    return AttributeRule(rule, master, precedence)  # type: ignore[arg-type]


def parse_policy(text: str, path: str = "<survivorship>") -> SurvivorshipPolicy:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    if root is None:
        raise PolicyError(f"{path}:1: empty policy; it needs 'sources' and 'attributes'")
    sections = {
        _scalar(path, k, "a section name"): (k, v) for k, v in _mapping(path, root, "the policy")
    }
    for name, (k, _) in sections.items():
        if name not in ("sources", "attributes", "default"):
            raise _err(path, k, f"unknown section {name!r} (sources, attributes, default)")
    if "sources" not in sections:
        raise _err(path, root, "missing section 'sources'")
    sources: dict[str, SourceInfo] = {}
    for k, v in _mapping(path, sections["sources"][1], "sources"):
        name = _scalar(path, k, "a source name")
        trust, cls = None, None
        for kk, vv in _mapping(path, v, f"source {name!r}"):
            key = _scalar(path, kk, "a key")
            if key == "trust":
                try:
                    trust = int(_scalar(path, vv, "trust"))
                except ValueError as exc:
                    raise _err(path, vv, f"source {name!r}: trust must be an integer") from exc
            elif key == "class":
                cls = _scalar(path, vv, "class")
                if cls not in _CLASSES:
                    raise _err(path, vv, f"source {name!r}: class must be one of {_CLASSES}")
            else:
                raise _err(path, kk, f"source {name!r}: unknown key {key!r} (trust, class)")
        if trust is None or cls is None:
            raise _err(path, v, f"source {name!r} needs both 'trust' and 'class'")
        sources[name] = SourceInfo(trust, cls)
    attributes: dict[str, AttributeRule] = {}
    if "attributes" in sections:
        for k, v in _mapping(path, sections["attributes"][1], "attributes"):
            name = _scalar(path, k, "an attribute name")
            attributes[name] = _attr_rule(path, v, name, sources)
    default = (
        _attr_rule(path, sections["default"][1], "default", sources)
        if "default" in sections
        else AttributeRule("most_trusted")
    )
    return SurvivorshipPolicy(sources, attributes, default)


def load_policy(path: str | Path | None = None) -> SurvivorshipPolicy:
    """The given policy file, or the packaged default."""
    if path is None:
        text = (
            resources.files("somebound.identity").joinpath("policy/survivorship.yaml").read_text()
        )
        return parse_policy(text, "somebound/identity/policy/survivorship.yaml")
    p = Path(path)
    return parse_policy(p.read_text(), str(p))
