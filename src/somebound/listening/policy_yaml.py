"""YAML loading that remembers line numbers, so policy errors can name file and line.

``yaml.compose`` keeps each node's start mark; we convert the node tree to plain Python
and record, for every key path (``("rules", 2, "when")``), the 1-based line it starts on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Marks = dict[tuple[Any, ...], int]


class PolicyError(ValueError):
    """A policy file is wrong: names the file, the line and what to fix."""

    def __init__(self, path: str | Path, line: int, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{path}:{line}: {problem}")


def _convert(node: yaml.Node, path: tuple[Any, ...], marks: Marks, src: str) -> Any:
    marks[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if key_node.tag else key_node.value
            if key in out:
                raise PolicyError(src, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _convert(value_node, (*path, key), marks, src)
            marks[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(n, (*path, i), marks, src) for i, n in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_yaml_with_marks(path: str | Path, text: str | None = None) -> tuple[Any, Marks]:
    """Parse a YAML file (or ``text`` named ``path``) into data plus key-path -> line."""
    src = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(src, 0, f"cannot read file: {exc.strerror}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise PolicyError(src, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if node is None:
        raise PolicyError(src, 1, "file is empty")
    marks: Marks = {}
    return _convert(node, (), marks, src), marks
