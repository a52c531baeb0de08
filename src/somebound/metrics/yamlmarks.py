"""YAML loading that remembers where each value came from.

Policy is data, and a person edits it by hand: an error must say *which file and
line* is wrong, not just that something is. PyYAML's composed node tree carries those
marks, so we build plain Python values from the nodes and keep a side table
``path -> line`` for the validators to quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class MetricsConfigError(ValueError):
    """A metrics policy file (calendars, SLA, cost, surveys) is invalid.

    The message names the file, the line and what to change.
    """


PathKey = tuple[Any, ...]


@dataclass
class MarkedYaml:
    """Plain data plus the 1-based line of every mapping key / sequence item."""

    data: Any
    source: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get(())

    def error(self, path: PathKey, problem: str) -> MetricsConfigError:
        line = self.line(path)
        where = f"{self.source}:{line}" if line else self.source
        dotted = ".".join(str(p) for p in path) or "<top>"
        return MetricsConfigError(f"{where}: {dotted}: {problem}")


def load_marked(text_or_path: str | Path, *, source: str | None = None) -> MarkedYaml:
    """Parse YAML from a path or a string into :class:`MarkedYaml`."""
    if isinstance(text_or_path, Path):
        src = source or str(text_or_path)
        try:
            text = text_or_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MetricsConfigError(f"{src}: cannot read file: {exc}") from exc
    else:
        text, src = text_or_path, source or "<string>"
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise MetricsConfigError(f"{src}{line}: not valid YAML: {exc}") from exc
    out = MarkedYaml(data=None, source=src)
    if node is None:
        out.data = {}
        return out
    out.lines[()] = node.start_mark.line + 1
    out.data = _build(node, (), out)
    return out


def _build(node: yaml.Node, path: PathKey, out: MarkedYaml) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            sub = (*path, key)
            out.lines[sub] = key_node.start_mark.line + 1
            result[key] = _build(value_node, sub, out)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            sub = (*path, i)
            out.lines[sub] = item.start_mark.line + 1
            items.append(_build(item, sub, out))
        return items
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # Construct the scalar with the safe constructor so ints, floats, dates and bools
    # get their YAML meaning.
    constructor = yaml.SafeLoader.__new__(yaml.SafeLoader)
    yaml.constructor.SafeConstructor.__init__(constructor)
    if isinstance(node, yaml.ScalarNode):
        return constructor.construct_object(node, deep=True)
    return constructor.construct_object(node, deep=True)
