"""A small, safe expression language for eligibility, applicability and suitability rules.

Marketing owners write rules such as ``age >= 18 and segment in ('gold', 'silver')``
into YAML. The text is parsed once with Python's :mod:`ast`, every node is checked
against a whitelist (names, literals, comparisons, ``and``/``or``/``not``, arithmetic,
``in``, a handful of pure functions) and compiled into

* a scalar closure ``f(env) -> value`` for one customer in real time, and
* a vectorised closure ``f(columns) -> ndarray`` for a whole batch (NumPy masks).

Nothing is ever passed to :func:`eval`; attribute access, calls to unknown functions,
subscripts, lambdas and comprehensions are rejected with an error naming the
offending construct and its column. A name missing from the environment evaluates to
``None`` (scalar) or a NaN / empty column (batch), and every comparison with a missing
value is false, so a rule on absent data fails closed rather than crashing.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Scalar = Callable[[Mapping[str, Any]], Any]
Vector = Callable[[Mapping[str, np.ndarray], int], np.ndarray]


class ExpressionError(ValueError):
    """A rule that is not in the allowed subset, with the position of the problem."""


_CMP = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_BIN = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_FUNCS_SCALAR: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "lower": lambda s: None if s is None else str(s).lower(),
    "missing": lambda v: v is None or (isinstance(v, float) and math.isnan(v)),
    "present": lambda v: not (v is None or (isinstance(v, float) and math.isnan(v))),
}


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled rule: its source text, the names it reads and both evaluators."""

    source: str
    names: frozenset[str]
    scalar: Scalar
    vector: Vector

    def __call__(self, env: Mapping[str, Any]) -> Any:
        return self.scalar(env)

    def truth(self, env: Mapping[str, Any]) -> bool:
        """Evaluate as a rule: errors from odd data (``None + 1``) count as false."""
        try:
            return bool(self.scalar(env))
        except (TypeError, ValueError, ZeroDivisionError):
            return False

    def mask(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Boolean mask over ``n`` rows of a batch (missing values fail the rule)."""
        out = self.vector(columns, n)
        out = np.asarray(out)
        if out.shape == ():
            return np.full(n, bool(out))
        if out.dtype != bool:
            if out.dtype.kind == "f":
                return np.nan_to_num(out, nan=0.0) != 0
            return out.astype(bool)
        return out


def compile_expression(source: str) -> Expression:
    """Parse and compile ``source``; raises :class:`ExpressionError` if not allowed."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("a rule expression must be a non-empty string")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(
            f"cannot parse {source!r}: {exc.msg} at column {exc.offset}"
        ) from None
    names: set[str] = set()
    scalar = _scalar(tree.body, source, names)
    vector = _vector(tree.body, source)
    return Expression(source=source, names=frozenset(names), scalar=scalar, vector=vector)


def _reject(node: ast.AST, source: str, what: str) -> ExpressionError:
    col = getattr(node, "col_offset", 0) + 1
    return ExpressionError(
        f"{what} is not allowed in rule {source!r} (column {col}); use names, literals, "
        "comparisons, and/or/not, + - * / %, 'in', and the functions "
        f"{', '.join(sorted(_FUNCS_SCALAR))}"
    )


def _literal(node: ast.AST, source: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        return node.value
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand, source)
    raise _reject(node, source, type(node).__name__)


# -- scalar compilation ---------------------------------------------------------------


def _scalar(node: ast.AST, source: str, names: set[str]) -> Scalar:  # noqa: C901
    if isinstance(node, ast.Constant):
        value = _literal(node, source)
        return lambda env: value
    if isinstance(node, ast.Name):
        key = node.id
        if key in ("true", "True"):
            return lambda env: True
        if key in ("false", "False"):
            return lambda env: False
        names.add(key)
        return lambda env: env.get(key)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = frozenset(_literal(e, source) for e in node.elts)
        return lambda env: items
    if isinstance(node, ast.BoolOp):
        parts = [_scalar(v, source, names) for v in node.values]
        if len(parts) == 2:  # the common case, without a generator per call
            p0, p1 = parts
            if isinstance(node.op, ast.And):
                return lambda env: bool(p0(env)) and bool(p1(env))
            return lambda env: bool(p0(env)) or bool(p1(env))
        if isinstance(node.op, ast.And):
            return lambda env: all(bool(p(env)) for p in parts)
        return lambda env: any(bool(p(env)) for p in parts)
    if isinstance(node, ast.UnaryOp):
        inner = _scalar(node.operand, source, names)
        if isinstance(node.op, ast.Not):
            return lambda env: not inner(env)
        if isinstance(node.op, ast.USub):
            return lambda env: None if (v := inner(env)) is None else -v
        raise _reject(node, source, type(node.op).__name__)
    if isinstance(node, ast.BinOp):
        op = _BIN.get(type(node.op))
        if op is None:
            raise _reject(node, source, type(node.op).__name__)
        left, right = _scalar(node.left, source, names), _scalar(node.right, source, names)

        def binop(env: Mapping[str, Any]) -> Any:
            a, b = left(env), right(env)
            if a is None or b is None:
                return None
            return op(a, b)

        return binop
    if isinstance(node, ast.Compare):
        return _scalar_compare(node, source, names)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS_SCALAR:
            raise _reject(node, source, "calling this function")
        if node.keywords:
            raise _reject(node, source, "keyword arguments")
        fn = _FUNCS_SCALAR[node.func.id]
        args = [_scalar(a, source, names) for a in node.args]
        nullable = node.func.id not in ("missing", "present")

        def call(env: Mapping[str, Any]) -> Any:
            vals = [a(env) for a in args]
            if nullable and any(v is None for v in vals):
                return None
            return fn(*vals)

        return call
    raise _reject(node, source, type(node).__name__)


def _scalar_compare(node: ast.Compare, source: str, names: set[str]) -> Scalar:
    fast = _scalar_compare_fast(node, source, names)
    if fast is not None:
        return fast
    left = _scalar(node.left, source, names)
    steps: list[tuple[Callable[[Any, Any], bool], Scalar]] = []
    for op, comp in zip(node.ops, node.comparators, strict=True):
        right = _scalar(comp, source, names)
        if isinstance(op, ast.In):
            steps.append((_contains, right))
        elif isinstance(op, ast.NotIn):
            steps.append((_not_contains, right))
        elif type(op) in _CMP:
            steps.append((_CMP[type(op)], right))
        else:
            raise _reject(node, source, type(op).__name__)

    def compare(env: Mapping[str, Any]) -> bool:
        a = left(env)
        for fn, right in steps:
            b = right(env)
            if a is None or b is None:
                return False
            if not fn(a, b):
                return False
            a = b
        return True

    return compare


def _scalar_compare_fast(node: ast.Compare, source: str, names: set[str]) -> Scalar | None:
    """``name <op> literal`` (most rules) as one closure: a third of the generic cost,
    which matters when a real-time decision evaluates every rule of the catalogue."""
    if len(node.ops) != 1 or not isinstance(node.left, ast.Name) or node.left.id in ("true", "True", "false", "False"):
        return None
    op, comp = node.ops[0], node.comparators[0]
    key = node.left.id
    if isinstance(op, ast.In | ast.NotIn) and isinstance(comp, ast.Tuple | ast.List | ast.Set):
        items = frozenset(_literal(e, source) for e in comp.elts)
        names.add(key)
        if isinstance(op, ast.In):
            return lambda env: (a := env.get(key)) is not None and a in items
        return lambda env: (a := env.get(key)) is not None and a not in items
    if type(op) in _CMP and isinstance(comp, ast.Constant | ast.UnaryOp):
        try:
            const = _literal(comp, source)
        except ExpressionError:
            return None
        if const is None:
            return lambda env: False
        fn = _CMP[type(op)]
        names.add(key)
        return lambda env: (a := env.get(key)) is not None and fn(a, const)
    return None


def _contains(a: Any, b: Any) -> bool:
    if isinstance(b, str | frozenset | set | tuple | list):
        return a in b
    return False


def _not_contains(a: Any, b: Any) -> bool:
    if isinstance(b, str | frozenset | set | tuple | list):
        return a not in b
    return False


# -- vector compilation ---------------------------------------------------------------


def _column(columns: Mapping[str, np.ndarray], key: str, n: int) -> np.ndarray:
    col = columns.get(key)
    if col is None:
        return np.full(n, np.nan)
    return np.asarray(col)


def _valid(x: Any) -> np.ndarray | bool:
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return ~np.isnan(arr)
    if arr.dtype.kind == "O":
        return np.array([v is not None for v in arr.ravel()]).reshape(arr.shape)
    return True


def _vector(node: ast.AST, source: str) -> Vector:  # noqa: C901
    if isinstance(node, ast.Constant):
        value = _literal(node, source)
        return lambda cols, n: value
    if isinstance(node, ast.Name):
        key = node.id
        if key in ("true", "True"):
            return lambda cols, n: np.ones(n, bool)
        if key in ("false", "False"):
            return lambda cols, n: np.zeros(n, bool)
        return lambda cols, n: _column(cols, key, n)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = [_literal(e, source) for e in node.elts]
        return lambda cols, n: items
    if isinstance(node, ast.BoolOp):
        parts = [_vector(v, source) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

        def boolop(cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
            out = _as_bool(parts[0](cols, n), n)
            for p in parts[1:]:
                out = combine(out, _as_bool(p(cols, n), n))
            return out

        return boolop
    if isinstance(node, ast.UnaryOp):
        inner = _vector(node.operand, source)
        if isinstance(node.op, ast.Not):
            return lambda cols, n: ~_as_bool(inner(cols, n), n)
        if isinstance(node.op, ast.USub):
            return lambda cols, n: -np.asarray(inner(cols, n), dtype=float)
        raise _reject(node, source, type(node.op).__name__)
    if isinstance(node, ast.BinOp):
        op = _BIN[type(node.op)]
        left, right = _vector(node.left, source), _vector(node.right, source)

        def binop(cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
            a = np.asarray(left(cols, n))
            b = np.asarray(right(cols, n))
            if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
                with np.errstate(all="ignore"):
                    return op(a.astype(float), b.astype(float))
            return np.array(
                [None if x is None or y is None else op(x, y) for x, y in _pairs(a, b, n)],
                dtype=object,
            )

        return binop
    if isinstance(node, ast.Compare):
        return _vector_compare(node, source)
    if isinstance(node, ast.Call):
        name = node.func.id  # validated by the scalar pass
        args = [_vector(a, source) for a in node.args]
        return _vector_call(name, args)
    raise _reject(node, source, type(node).__name__)


def _as_bool(x: Any, n: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape == ():
        return np.full(n, bool(arr))
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind == "f":
        return np.nan_to_num(arr, nan=0.0) != 0
    if arr.dtype.kind == "O":
        return np.array([bool(v) for v in arr])
    return arr.astype(bool)


def _pairs(a: np.ndarray, b: np.ndarray, n: int):  # noqa: ANN202
    a = np.broadcast_to(a, (n,)) if a.shape == () else a
    b = np.broadcast_to(b, (n,)) if b.shape == () else b
    return zip(a, b, strict=True)


def _vector_compare(node: ast.Compare, source: str) -> Vector:
    left = _vector(node.left, source)
    steps = [(type(op), _vector(comp, source)) for op, comp in zip(node.ops, node.comparators, strict=True)]

    def compare(cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        a = left(cols, n)
        out = np.ones(n, bool)
        for op, right in steps:
            b = right(cols, n)
            if op in (ast.In, ast.NotIn):
                arr = np.asarray(a)
                if isinstance(b, list):
                    res = _isin(arr, b)
                else:
                    res = np.array([_contains(x, y) for x, y in _pairs(arr, np.asarray(b), n)])
                valid = _valid(arr)
                res = res & valid if op is ast.In else (~res) & valid
            else:
                fn = _CMP[op]
                aa, bb = np.asarray(a), np.asarray(b)
                valid = np.logical_and(_valid(aa), _valid(bb))
                if aa.dtype.kind == "O" or bb.dtype.kind == "O":
                    res = np.array(
                        [x is not None and y is not None and bool(fn(x, y)) for x, y in _pairs(aa, bb, n)],
                        dtype=bool,
                    )
                else:
                    with np.errstate(invalid="ignore"):
                        res = fn(aa, bb)
                res = np.logical_and(res, valid)
            out &= np.broadcast_to(res, (n,))
            a = b
        return out

    return compare


def _isin(arr: np.ndarray, items: list[Any]) -> np.ndarray:
    if arr.dtype.kind == "O":
        members = set(items)
        return np.array([v in members for v in arr.ravel()], dtype=bool).reshape(arr.shape)
    if arr.dtype.kind in "US":
        return np.isin(arr, [str(i) for i in items if isinstance(i, str)])
    nums = [float(i) for i in items if isinstance(i, int | float) and not isinstance(i, bool)]
    return np.isin(arr.astype(float), nums)


def _vector_call(name: str, args: list[Vector]) -> Vector:
    def call(cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        vals = [np.asarray(a(cols, n)) for a in args]
        if name == "missing":
            return ~np.broadcast_to(_valid(vals[0]), (n,))
        if name == "present":
            return np.broadcast_to(_valid(vals[0]), (n,)).copy()
        if name == "abs":
            return np.abs(vals[0].astype(float))
        if name == "min":
            return np.minimum.reduce([v.astype(float) for v in vals])
        if name == "max":
            return np.maximum.reduce([v.astype(float) for v in vals])
        if name == "lower":
            return np.array([None if v is None else str(v).lower() for v in vals[0]], dtype=object)
        raise AssertionError(name)

    return call
