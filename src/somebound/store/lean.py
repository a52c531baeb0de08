"""Statements run on the driver's cursor: SQLAlchemy's SQL, not its per-call machinery.

SQLAlchemy Core spends 60–200 µs of Python on each execution of a prebuilt, cached
statement (execution context, expanding ``IN`` lists, cursor result, result metadata,
row processing) on top of the driver's own 10–80 µs. The worker's batch runs about
fifteen small statements and a case page twelve, so that machinery was more than the
databases' own work: on the 2-core test machine it was most of a one-message batch's
~2 ms and the largest share of webhook -> queued latency at 200 messages/s.

Here a statement is still built with SQLAlchemy Core and compiled by it, once per
statement object and dialect (and, for ``IN`` lists, once per list length, by
SQLAlchemy's own ``construct_expanded_state``); only the execution is lean:
``cursor.execute`` / ``executemany`` + ``fetchall`` on the connection's DBAPI connection,
in the same transaction.

What stays the same as ``conn.execute``: the SQL and its bound values (each parameter's
own bind processor, element by element for ``IN`` lists); the rows' values (each result
column's own result processor, as ``CursorResult`` looks it up); a connection outside a
transaction begins one first, as SQLAlchemy's autobegin does (so the engine's ``begin``
listeners run: SQLite's writer turn); the engine's ``before_cursor_execute`` /
``after_cursor_execute`` listeners see every statement (with ``context=None``); driver
errors come wrapped as SQLAlchemy's ``DBAPIError`` subclasses. Not the same: ``echo``
does not log these statements. Statements with literal-execute parameters, empty ``IN``
lists, drivers other than sqlite3 and psycopg, and everything when
``SOMEBOUND_LEAN_SQL=0`` (for a cursor listener that needs the execution context, or to
compare) take the ordinary path. ``tests/hub/test_lean_sql.py`` and
``tests/web/test_lean_reads.py`` pin the equivalence on both databases.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.sql.base import Executable

ENABLED = (os.environ.get("SOMEBOUND_LEAN_SQL") or os.environ.get("SOMEBOUND_LEAN_READS")
           or "1") != "0"
_DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}

Processor = Callable[[Any], Any] | None


@dataclass
class _Plan:
    sql: str
    positional: bool
    names: tuple[str, ...]  # positional: the parameters in the driver's order
    defaults: dict[str, Any]  # values bound inside the statement (``col == "case"``)
    binds: dict[str, Processor]  # parameter name -> the type's bind processor
    expanding: frozenset[str]  # ``IN`` list parameters
    keys: tuple[str, ...] | None  # the result's column keys (None: from the cursor)
    types: tuple[Any, ...]  # the result columns' types, for their result processors
    compiled: Any
    # per tuple of IN list lengths: (SQL, [(driver key, parameter name, list index)])
    shapes: dict[tuple[int, ...], tuple[str, list[tuple[Any, str, int | None]]]] = field(
        default_factory=dict)
    # result processors, looked up at the first execution (psycopg's need the column type)
    processors: tuple[Processor, ...] | None = None


# (statement id, dialect, server version: what the compiled form depends on) ->
# (the statement, kept alive so its id is not reused; its plan or None)
_PLANS: dict[tuple[int, str, Any], tuple[Executable, _Plan | None]] = {}


def _lean(conn: Connection) -> bool:
    dialect = conn.dialect
    return ENABLED and (dialect.name, dialect.driver) in _DRIVERS


def _plan(stmt: Executable, conn: Connection) -> _Plan | None:
    key = (id(stmt), conn.dialect.name, conn.dialect.server_version_info)
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is stmt:
        return hit[1]
    compiled = stmt.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
    plan = None
    if not compiled.literal_execute_params:
        columns = getattr(stmt, "exported_columns", None)
        keys = tuple(columns.keys()) if columns is not None and len(columns) else None
        types = tuple(rc[3] for rc in compiled._result_columns)  # noqa: SLF001
        plan = _Plan(
            sql=compiled.string,
            positional=compiled.positional,
            names=tuple(compiled.positiontup or ()),
            defaults=dict(compiled.params),
            binds=dict(getattr(compiled, "_bind_processors", None) or {}),
            expanding=frozenset(p.key for p in compiled.post_compile_params),
            keys=keys if keys is not None and len(keys) == len(types) else None,
            types=types,
            compiled=compiled,
        )
    if len(_PLANS) < 4096:  # statements are module-level or cached per shape: few
        _PLANS[key] = (stmt, plan)
    return plan


def _shape(plan: _Plan, values: Mapping[str, Any]) -> tuple[str, list] | None:
    """The SQL and the driver's parameters' sources for these ``IN`` list lengths."""
    lengths = tuple(len(values[n]) for n in sorted(plan.expanding))
    if 0 in lengths:
        return None  # SQLAlchemy renders an empty set specially: let it
    shape = plan.shapes.get(lengths)
    if shape is None:
        state = plan.compiled.construct_expanded_state(dict(values))
        origin = {name: (name, None) for name in state.parameters}
        for name, expanded in state.parameter_expansion.items():
            for i, e in enumerate(expanded):
                origin[e] = (name, i)
        order = state.positiontup if plan.positional else list(state.parameters)
        shape = (state.statement, [(k, *origin[k]) for k in order])
        if len(plan.shapes) < 256:
            plan.shapes[lengths] = shape
    return shape


def _driver_params(plan: _Plan, params: Mapping[str, Any] | None) -> tuple[str, Any] | None:
    values = {**plan.defaults, **params} if params else dict(plan.defaults)
    for name, process in plan.binds.items():
        value = values.get(name)
        if value is not None and process is not None:
            if name in plan.expanding:
                values[name] = [None if v is None else process(v) for v in value]
            else:
                values[name] = process(value)
    if not plan.expanding:
        if plan.positional:
            return plan.sql, tuple(values[n] for n in plan.names)
        return plan.sql, values
    shape = _shape(plan, values)
    if shape is None:
        return None
    sql, sources = shape
    if plan.positional:
        return sql, tuple(values[n] if i is None else values[n][i] for _, n, i in sources)
    return sql, {k: values[n] if i is None else values[n][i] for k, n, i in sources}


def _lean_call(conn: Connection, stmt: Executable, params: Mapping[str, Any] | None
               ) -> tuple[_Plan, str, Any] | None:
    """The statement's plan, SQL and driver parameters; None: take SQLAlchemy's path."""
    plan = _plan(stmt, conn) if _lean(conn) else None
    run = _driver_params(plan, params) if plan is not None else None
    return None if run is None else (plan, *run)  # type: ignore[return-value]


def _autobegin(conn: Connection) -> None:
    """As SQLAlchemy begins a transaction for a statement outside one (the engine's
    ``begin`` listeners run: SQLite's writer turn)."""
    if not conn.in_transaction():
        conn.begin()


def _driver_error(conn: Connection, e: Exception, sql: str, args: Any,
                  cursor: Any = None) -> exc.DBAPIError:
    """A driver error as SQLAlchemy raises it; a lost connection is invalidated, as
    SQLAlchemy does, so the pool replaces it."""
    gone = conn.dialect.is_disconnect(e, conn.connection.dbapi_connection, cursor)
    if gone:
        conn.invalidate(e)
    return exc.DBAPIError.instance(sql, args, e, conn.dialect.loaded_dbapi.Error,
                                   connection_invalidated=gone, dialect=conn.dialect)


def _cursor_run(conn: Connection, sql: str, args: Any, many: bool = False,
                fetch: _Plan | None = None, autobegin: bool = True
                ) -> tuple[Any, list | None, int]:
    """Run on the DBAPI cursor, as SQLAlchemy would: listeners, autobegin, wrapped errors.
    (the cursor's description if ``fetch`` still needs it, the rows if ``fetch``: the
    statement's plan, rowcount)."""
    if autobegin:
        _autobegin(conn)
    dbapi_conn = conn.connection.dbapi_connection
    cursor = dbapi_conn.cursor()  # type: ignore[union-attr]
    try:
        for fn in conn.dispatch.before_cursor_execute:
            sql, args = fn(conn, cursor, sql, args, None, many)
        try:
            if many:
                cursor.executemany(sql, args)
            else:
                cursor.execute(sql, args)
            data = cursor.fetchall() if fetch is not None and _has_rows(cursor) else None
        except conn.dialect.loaded_dbapi.Error as e:
            raise _driver_error(conn, e, sql, args, cursor) from e
        for fn in conn.dispatch.after_cursor_execute:
            fn(conn, cursor, sql, args, None, many)
        return _description(fetch, cursor), data, cursor.rowcount
    finally:
        cursor.close()


def _has_rows(cursor: Any) -> bool:
    """Did the statement return rows (a SELECT, RETURNING), cheaply: psycopg builds its
    ``description`` anew at each access, which was a tenth of a small batch's time."""
    result = getattr(cursor, "pgresult", _NOT_PSYCOPG)
    if result is _NOT_PSYCOPG:
        return cursor.description is not None
    return result is not None and result.status == _TUPLES_OK


def _description(plan: _Plan | None, cursor: Any) -> Any:
    """The cursor's description when ``plan`` still needs it: for the result's keys, or
    for its result processors, looked up at the first execution."""
    if plan is None or (plan.keys is not None and plan.processors is not None):
        return None
    return cursor.description


_NOT_PSYCOPG = object()
_TUPLES_OK = 2  # libpq's PGRES_TUPLES_OK (psycopg.pq.ExecStatus)


def _processors(plan: _Plan, conn: Connection, description: Any) -> tuple[Processor, ...]:
    if plan.processors is None:
        dialect = conn.dialect
        codes = [d[1] for d in description or ()]
        plan.processors = tuple(
            t._cached_result_processor(dialect, code)  # noqa: SLF001 - as CursorResult does
            for t, code in zip(plan.types, codes, strict=False))
    return plan.processors


def rows(conn: Connection, stmt: Executable, params: Mapping[str, Any] | None = None
         ) -> tuple[tuple[str, ...], list[Sequence]]:
    """The result's keys and all its rows, as ``conn.execute(stmt, params)`` gives them
    (a SELECT, or DML with RETURNING)."""
    return _rows(conn, _lean_call(conn, stmt, params), stmt, params)


def _rows(conn: Connection, call: tuple[_Plan, str, Any] | None, stmt: Executable,
          params: Mapping[str, Any] | None) -> tuple[tuple[str, ...], list[Sequence]]:
    """:func:`rows` once the statement's lean call (or None) is known."""
    if call is None:
        result = conn.execute(stmt, dict(params or {}))
        return (tuple(result.keys()), result.all()) if result.returns_rows else ((), [])
    plan, sql, args = call
    description, data, _ = _cursor_run(conn, sql, args, fetch=plan)
    return _result(plan, conn, description, data)


def _result(plan: _Plan, conn: Connection, description: Any, data: list | None
            ) -> tuple[tuple[str, ...], list[Sequence]]:
    keys = plan.keys or tuple(d[0] for d in description or ())
    procs = _processors(plan, conn, description)
    if data and any(p is not None for p in procs):
        data = [tuple(v if p is None else p(v) for v, p in zip(r, procs, strict=True))
                for r in data]
    return keys, data or []


def rows_together(conn: Connection, calls: Sequence[tuple[Executable, Mapping[str, Any]]]
                  ) -> list[list[Sequence]]:
    """The rows of several statements that do not need each other's results, in order
    (``rows(conn, stmt, params)[1]`` for each; ``[]`` for a statement without rows).

    PostgreSQL: all are sent at once in pipeline mode and their answers read after one
    round trip; the server still runs them one after the other, each with its own
    snapshot, so a lock taken by one holds for those after it. A transaction not begun
    yet begins in the same round trip (so a lone statement is sent this way too: the
    accept of one payload). At a few messages a batch (webhooks at steady load) each
    round trip was ~0.4 ms of a one-message batch's ~5.6 ms. Elsewhere, or for a
    statement lean cannot run, one by one.
    """
    lean_calls = [_lean_call(conn, stmt, params) for stmt, params in calls]
    if not calls or conn.dialect.name != "postgresql" or any(c is None for c in lean_calls):
        return [_rows(conn, call, stmt, params)[1]
                for call, (stmt, params) in zip(lean_calls, calls, strict=True)]
    _autobegin(conn)
    dbapi_conn = conn.connection.dbapi_connection
    cursors = []
    try:
        with dbapi_conn.pipeline() as together:  # type: ignore[union-attr]
            for _, sql, args in lean_calls:  # type: ignore[misc]
                cursor = dbapi_conn.cursor()  # type: ignore[union-attr]
                cursors.append(cursor)
                for fn in conn.dispatch.before_cursor_execute:
                    sql, args = fn(conn, cursor, sql, args, None, False)
                cursor.execute(sql, args)
            together.sync()  # the one round trip: every answer is here after it
            out = []
            for (plan, sql, args), cursor in zip(lean_calls, cursors, strict=True):  # type: ignore[misc]
                data = cursor.fetchall() if _has_rows(cursor) else []
                for fn in conn.dispatch.after_cursor_execute:
                    fn(conn, cursor, sql, args, None, False)
                out.append(_result(plan, conn, _description(plan, cursor), data)[1])
    except conn.dialect.loaded_dbapi.Error as e:
        raise _driver_error(conn, e, "(statements sent together)", None) from e
    finally:
        for cursor in cursors:
            cursor.close()
    return out


def run(conn: Connection, stmt: Executable, params: Mapping[str, Any] | None = None) -> int:
    """Execute a statement that returns no rows (UPDATE, INSERT, DELETE, a function
    called for its effect); the number of rows it touched."""
    call = _lean_call(conn, stmt, params)
    if call is None:
        return conn.execute(stmt, dict(params or {})).rowcount
    _, sql, args = call
    return _cursor_run(conn, sql, args)[2]


def executemany(conn: Connection, sql: str, params: Sequence[Any]) -> None:
    """``conn.exec_driver_sql(sql, params)`` for driver-ready SQL and parameter rows
    (:mod:`somebound.store.bulk` prepares both)."""
    if _lean(conn):
        _cursor_run(conn, sql, params, many=True)
    else:
        conn.exec_driver_sql(sql, params)  # type: ignore[arg-type]


def driver_sql(conn: Connection, sql: str) -> None:
    """``conn.exec_driver_sql(sql)`` for a parameterless statement that must not begin a
    transaction itself: ``BEGIN`` and ``PRAGMA`` in an engine's ``begin`` listener.

    PostgreSQL: in pipeline mode, so that the ``BEGIN`` psycopg sends first when the
    transaction has not begun yet goes in the same round trip."""
    if _lean(conn) and conn.dialect.name == "postgresql":
        try:
            with conn.connection.dbapi_connection.pipeline():  # type: ignore[union-attr]
                _cursor_run(conn, sql, (), autobegin=False)
        except conn.dialect.loaded_dbapi.Error as e:
            raise _driver_error(conn, e, sql, None) from e
    elif _lean(conn):
        _cursor_run(conn, sql, (), autobegin=False)
    else:
        conn.exec_driver_sql(sql)


@contextlib.contextmanager
def pipeline(conn: Connection) -> Iterator[None]:
    """Statements whose results nobody reads are sent without waiting for each answer
    (psycopg's pipeline mode) and the block waits once, at its end: a batch's writes
    cost one round trip to PostgreSQL instead of one each, and on a busy 2-core machine
    each round trip is also a wait for the server's process to be scheduled. A failed
    statement fails the block, as SQLAlchemy's error. Elsewhere (SQLite, lean off): the
    statements simply run one by one."""
    if not (_lean(conn) and conn.dialect.name == "postgresql"):
        yield
        return
    _autobegin(conn)
    try:
        with conn.connection.dbapi_connection.pipeline():  # type: ignore[union-attr]
            yield
    except conn.dialect.loaded_dbapi.Error as e:
        raise _driver_error(conn, e, "(pipelined statements)", None) from e


def dicts(conn: Connection, stmt: Executable, params: Mapping[str, Any] | None = None
          ) -> list[dict[str, Any]]:
    """All rows as dicts (key → value)."""
    keys, data = rows(conn, stmt, params)
    return [dict(zip(keys, r, strict=True)) for r in data]


def first(conn: Connection, stmt: Executable, params: Mapping[str, Any] | None = None
          ) -> dict[str, Any] | None:
    """The first row as a dict, or None."""
    keys, data = rows(conn, stmt, params)
    return dict(zip(keys, data[0], strict=True)) if data else None


def scalars(conn: Connection, stmt: Executable, params: Mapping[str, Any] | None = None
            ) -> list[Any]:
    """The first column of every row."""
    return [r[0] for r in rows(conn, stmt, params)[1]]
