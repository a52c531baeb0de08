"""Loading declarative policy files (YAML) with errors that name file, line and problem.

Every policy in the hub (routing, engagement, SLAs, contact policy, survivorship) is
data. A mistake in one must tell the operator exactly where it is, so the loader keeps
the line of every mapping and sequence item next to the plain Python value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class PolicyError(ValueError):
    """A policy file is wrong: where, what, and how to fix it."""

    def __init__(self, source: str, line: int | None, problem: str, fix: str | None = None):
        self.source, self.line, self.problem, self.fix = source, line, problem, fix
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {problem}" + (f" ({fix})" if fix else ""))


@dataclass(frozen=True)
class Located:
    """A value and the line (1-based) it came from."""

    value: Any
    line: int


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_policy_yaml(path: str | Path | None = None, *, text: str | None = None,
                     source: str | None = None) -> Any:
    """Parse YAML; every mapping carries its line under the key ``"__line__"``.

    Syntax errors become :class:`PolicyError` with the line YAML reported.
    """
    if text is None:
        if path is None:
            raise ValueError("give a path or text")
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(str(p), None, f"cannot read: {exc.strerror}") from exc
        source = source or str(p)
    source = source or "<text>"
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise PolicyError(source, line, f"invalid YAML: {exc.problem}") from exc


def line_of(mapping: Any) -> int | None:
    return mapping.get("__line__") if isinstance(mapping, dict) else None


def strip_lines(value: Any) -> Any:
    """The plain value without the ``__line__`` bookkeeping."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value
