"""Read statements run on PostgreSQL's DBAPI cursor: SQLAlchemy's SQL, not its machinery.

SQLAlchemy Core spends ~90 µs of Python on each execution of a prebuilt, cached SELECT
(execution context, cursor result, result metadata, row processing) on top of the
driver's own ~50–80 µs. A case page runs twelve small statements, so that was ~1.2 ms of
a ~7 ms page, more than psycopg itself. Here a statement is still built with SQLAlchemy
Core and compiled by it (once per statement object and dialect); only the execution is
lean: ``cursor.execute`` + ``fetchall`` on the connection's psycopg connection, in the
same transaction.

What stays the same as ``conn.execute``: the SQL and its bound values; the rows' values
(psycopg decodes JSON itself under SQLAlchemy too; ``UtcDateTime`` columns are converted
to UTC as its type does); the engine's ``before_cursor_execute``/``after_cursor_execute``
listeners see every statement (with ``context=None``); driver errors come wrapped as
SQLAlchemy's ``DBAPIError`` subclasses. Not the same: ``echo`` does not log these
statements. Statements with expanding (``IN``) or literal-execute parameters, and every
dialect but PostgreSQL through psycopg (SQLite needs SQLAlchemy's type processing), take the ordinary path,
and so does everything when ``SOMEBOUND_LEAN_READS=0`` (for a cursor listener that needs the
execution context, or to compare).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.sql import Select

from somebound.store.base import UtcDateTime

ENABLED = os.environ.get("SOMEBOUND_LEAN_READS", "1") != "0"


@dataclass(frozen=True)
class _Plan:
    sql: str
    defaults: dict[str, Any]  # values bound inside the statement (``col == "case"``)
    binds: dict[str, Any]  # parameter name -> the type's bind processor (UtcDateTime's)
    keys: tuple[str, ...]  # the result's column keys, as ``Result.keys()`` gives them
    utc: tuple[int, ...]  # positions of UtcDateTime columns


# statement id -> (the statement, kept alive so its id is not reused; its plan or None)
_PLANS: dict[int, tuple[Select, _Plan | None]] = {}


def _plan(stmt: Select, conn: Connection) -> _Plan | None:
    hit = _PLANS.get(id(stmt))
    if hit is not None and hit[0] is stmt:
        return hit[1]
    compiled = stmt.compile(dialect=conn.dialect)
    plan = None
    if not (compiled.literal_execute_params or compiled.post_compile_params):
        cols = list(stmt.selected_columns)
        plan = _Plan(
            sql=str(compiled),
            defaults=dict(compiled.params),
            binds=dict(getattr(compiled, "_bind_processors", None) or {}),
            keys=tuple(stmt.selected_columns.keys()),
            utc=tuple(i for i, c in enumerate(cols) if isinstance(c.type, UtcDateTime)),
        )
    if len(_PLANS) < 4096:  # statements are module-level or cached per shape: few
        _PLANS[id(stmt)] = (stmt, plan)
    return plan


def rows(
    conn: Connection, stmt: Select, params: Mapping[str, Any] | None = None
) -> tuple[tuple[str, ...], list[Sequence]]:
    """The result's keys and all its rows (tuples), as ``conn.execute(stmt, params)``
    would give them."""
    dialect = conn.dialect
    plan = (
        _plan(stmt, conn)
        if ENABLED and dialect.name == "postgresql" and dialect.driver == "psycopg"
        else None
    )
    if plan is None:
        result = conn.execute(stmt, dict(params or {}))
        return tuple(result.keys()), result.all()
    sql, args = plan.sql, {**plan.defaults, **params} if params else dict(plan.defaults)
    for name, process in plan.binds.items():
        if args.get(name) is not None:
            args[name] = process(args[name])
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for fn in conn.dispatch.before_cursor_execute:
            sql, args = fn(conn, cursor, sql, args, None, False)
        try:
            cursor.execute(sql, args)
            data = cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as e:
            gone = conn.dialect.is_disconnect(e, conn.connection.dbapi_connection, cursor)
            if gone:  # as SQLAlchemy does: the pool replaces this connection
                conn.invalidate(e)
            raise exc.DBAPIError.instance(
                sql,
                args,
                e,
                conn.dialect.loaded_dbapi.Error,
                connection_invalidated=gone,
                dialect=conn.dialect,
            ) from e
        for fn in conn.dispatch.after_cursor_execute:
            fn(conn, cursor, sql, args, None, False)
    finally:
        cursor.close()
    if plan.utc and data:
        data = [_to_utc(r, plan.utc) for r in data]
    return plan.keys, data


def _to_utc(row: Sequence, positions: tuple[int, ...]) -> list:
    out = list(row)
    for i in positions:
        if out[i] is not None:
            out[i] = out[i].astimezone(UTC)
    return out


def dicts(
    conn: Connection, stmt: Select, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """All rows as dicts (key → value)."""
    keys, data = rows(conn, stmt, params)
    return [dict(zip(keys, r, strict=True)) for r in data]


def first(
    conn: Connection, stmt: Select, params: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The first row as a dict, or None."""
    keys, data = rows(conn, stmt, params)
    return dict(zip(keys, data[0], strict=True)) if data else None
