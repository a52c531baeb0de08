"""Engines for the embedded default (SQLite) and production (PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event

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
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


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
