"""Bulk writes for the ingest's flush: SQLAlchemy's executemany without its per-row work.

For every row of an ``executemany`` SQLAlchemy builds a parameter dictionary and runs the
columns' bind processors through its generic machinery; for the thousands of rows a
batch of messages writes that is a fifth of the pipeline's CPU. Here a statement is
compiled once per (statement, columns, dialect), each column's own bind processor (the
one SQLAlchemy itself would call: ``type.dialect_impl(dialect).bind_processor(dialect)``)
is looked up once, and the rows become driver parameters in one tight loop. What is
stored is what ``conn.execute(stmt, rows)`` stores (``tests/hub/test_bulk.py`` pins it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, Update
from sqlalchemy.engine import Dialect

from somebound.store import lean

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # parameter names, in the driver's order
    keys: tuple[str, ...]  # the row key each parameter is read from
    processors: tuple[Processor, ...]
    positional: bool
    defaults: dict[str, Any]  # row key -> the column's ColumnDefault


# keyed by the statement and dialect objects themselves (not their ids): the callers'
# statements are module constants, and holding them keeps a key from being reused
_plans: dict[tuple[Insert | Update, tuple[str, ...], Dialect], _Plan] = {}


def execute_many(conn: Connection, stmt: Insert | Update, rows: Sequence[Mapping[str, Any]]
                 ) -> None:
    """``conn.execute(stmt, rows)`` for rows that all have the same keys."""
    if not rows:
        return
    columns = tuple(rows[0])
    plan = _plan(stmt, columns, conn.dialect)
    if plan.defaults:
        rows = [{**row, **{k: d.arg if d.is_scalar else d.arg(None)
                           for k, d in plan.defaults.items()}} for row in rows]
    procs = [(k, p) for k, p in zip(plan.keys, plan.processors, strict=True)]
    if plan.positional:
        params: list[Any] = [tuple(row[k] if p is None else p(row[k]) for k, p in procs)
                             for row in rows]
    else:
        names = plan.names
        params = [{n: (row[k] if p is None else p(row[k]))
                   for n, (k, p) in zip(names, procs, strict=True)} for row in rows]
    lean.executemany(conn, plan.sql, params)


def _plan(stmt: Insert | Update, columns: tuple[str, ...], dialect: Dialect) -> _Plan:
    key = (stmt, columns, dialect)
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = _compile(stmt, columns, dialect)
    return plan


def _compile(stmt: Insert | Update, columns: tuple[str, ...], dialect: Dialect) -> _Plan:
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
    binds = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    escaped = compiled.escaped_bind_names or {}
    names = tuple(escaped.get(b, b) for b in binds)
    keys, processors = [], []
    for name in binds:
        bind = compiled.binds[name]
        keys.append(bind.key)
        processors.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
    defaults = {}
    for key in set(keys) - set(columns):  # columns the rows leave to their Python default
        default = getattr(stmt.table.c.get(key), "default", None)  # type: ignore[union-attr]
        if default is None or not (default.is_scalar or default.is_callable):
            raise KeyError(f"rows lack the statement's parameter {key!r} and it has no default")
        defaults[key] = default
    return _Plan(str(compiled), names, tuple(keys), tuple(processors), compiled.positional,
                 defaults)
