"""Engines for the embedded default (SQLite) and production (PostgreSQL)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc

DEFAULT_URL = "sqlite:///var/somebound.db"


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, else ``$SOMEBOUND_DATABASE_URL``, else the SQLite file."""
    return url or os.environ.get("SOMEBOUND_DATABASE_URL") or DEFAULT_URL


def make_engine(url: str | None = None, **kwargs) -> Engine:  # noqa: ANN003
    url = database_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("pool_recycle", 1800)
    engine = create_engine(url, **kwargs)
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
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn) -> None:  # noqa: ANN001
    # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
    # waits its turn (busy timeout) instead of failing with SQLITE_BUSY mid-way.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
