"""Engines for the embedded default (SQLite) and production (PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc

from somebound.store import lean
from somebound.store.sqlite_turns import TurnConnection, turn_for

DEFAULT_URL = "sqlite:///var/somebound.db"
# How long a SQLite writer waits for the write lock (SQLite's busy timeout) and for its
# turn before it (store/sqlite_turns.py), in seconds, before "database is locked".
SQLITE_LOCK_TIMEOUT = 30.0

# Execution options a transaction is begun with (see :func:`transaction`).
READ_ONLY = "somebound_read_only"
REDOABLE = "somebound_redoable"


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, else ``$SOMEBOUND_DATABASE_URL``, else the SQLite file."""
    return url or os.environ.get("SOMEBOUND_DATABASE_URL") or DEFAULT_URL


def make_engine(url: str | None = None, **kwargs) -> Engine:  # noqa: ANN003
    url = database_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        turn = turn_for(path)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_LOCK_TIMEOUT,
                               "factory": TurnConnection}, **kwargs
        )

        def on_connect(dbapi_conn, record) -> None:  # noqa: ANN001
            dbapi_conn.turn = turn  # this process's writers take turns (sqlite_turns.py)
            dbapi_conn.timeout = SQLITE_LOCK_TIMEOUT
            _sqlite_pragmas(dbapi_conn, record)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("pool_recycle", 1800)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "begin", _postgres_begin)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine.pool, "checkin", _mark_idle)
        event.listen(engine.pool, "checkout",
                     lambda dbapi_conn, record, _proxy: _ping_if_idle(engine, dbapi_conn, record))
    return engine


# pool_pre_ping costs a round trip on every checkout, i.e. on every page. A connection in
# steady use is alive; one that sat idle in the pool (server restart, firewall timeout) is
# pinged first, and a dead one is replaced (DisconnectionError makes the pool retry). A
# disconnect mid-use still invalidates the pool, so the next request gets fresh connections.
IDLE_PING_SECONDS = 5.0


def _mark_idle(_dbapi_conn, record) -> None:  # noqa: ANN001
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine, dbapi_conn, record) -> None:  # noqa: ANN001
    since = record.info.pop("idle_since", None)
    if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
        return
    try:
        engine.dialect.do_ping(dbapi_conn)
    except Exception as e:  # noqa: BLE001 - any failure: this connection is gone
        raise exc.DisconnectionError(str(e)) from e


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
    # pysqlite's own transaction handling starts transactions late and lets a SAVEPOINT
    # release commit work early; take it over so a transaction is exactly what
    # SQLAlchemy says it is (SQLAlchemy's documented recipe for SQLite).
    dbapi_conn.isolation_level = None
    # WAL lets readers (the inbox) run beside the writer (the pipeline); FULL sync
    # makes a commit durable before the hub acknowledges the payload it holds.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # per transaction: see _sqlite_begin
    _record.info["synchronous"] = "FULL"
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@contextlib.contextmanager
def transaction(engine: Engine, *, read_only: bool = False,
                redoable: bool = False) -> Iterator[Connection]:
    """``engine.begin()`` for two kinds of work that need less than the default.

    ``read_only``: on SQLite a deferred transaction, which in WAL mode neither takes nor
    waits for the write lock, so reading (the worker peeking at its next batch) goes on
    while another connection writes. Writing in it fails on SQLite.

    ``redoable``: the writes can be redone from what is already durable (the ingest of raw
    payloads the inbox committed before they were acknowledged), so the commit need not
    wait for the disk: SQLite ``synchronous=NORMAL`` (WAL), PostgreSQL
    ``synchronous_commit=off``. A power loss can lose only the last such commits, never
    one a later ordinary commit follows (both logs are sequential), and their payloads
    are still pending in the inbox, so the worker redoes them exactly once.
    """
    options = {READ_ONLY: read_only, REDOABLE: redoable}
    with engine.connect() as conn:
        conn.execution_options(**options)
        with conn.begin():
            yield conn


def _sqlite_begin(conn: Connection) -> None:
    opts = conn.get_execution_options()
    if opts.get(READ_ONLY):  # commits nothing: whatever durability the connection has
        lean.driver_sql(conn, "BEGIN")
        return
    # The durability a commit waits for is per connection; set it for this transaction.
    sync = "NORMAL" if opts.get(REDOABLE) else "FULL"
    info = conn.connection.info
    if info.get("synchronous") != sync:
        lean.driver_sql(conn, f"PRAGMA synchronous={sync}")
        info["synchronous"] = sync
    # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
    # waits its turn instead of failing with SQLITE_BUSY mid-way. Writers queue for their
    # turn first (sqlite_turns.py), then take SQLite's lock.
    dbapi_conn = conn.connection.dbapi_connection
    try:
        dbapi_conn.take_turn()
    except sqlite3.OperationalError as e:  # as SQLite's own "database is locked" comes
        raise exc.OperationalError("BEGIN IMMEDIATE", None, e) from e
    try:
        lean.driver_sql(conn, "BEGIN IMMEDIATE")
    except BaseException:
        dbapi_conn.give_back()
        raise


def listening_connection(engine: Engine, *channels: str) -> Any:
    """A psycopg connection of its own, outside the pool, in autocommit, that has run
    ``LISTEN`` on ``channels`` (PostgreSQL): read it with ``conn.notifies()``."""
    import psycopg

    url = engine.url.set(drivername="postgresql")
    conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    for channel in channels:
        conn.execute(f"LISTEN {channel}")
    return conn


def _postgres_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(REDOABLE):
        lean.driver_sql(conn, "SET LOCAL synchronous_commit TO OFF")
