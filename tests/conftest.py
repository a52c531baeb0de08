"""Fixtures every suite can use: databases (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

PG_ENV = "SOMEBOUND_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session."""
    base = postgres_url()
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test); .ci/run sets it")
    name = f"somebound_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _fresh_engine(url: str) -> Engine:
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """Each test using this runs on SQLite and on PostgreSQL (skipped without it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/hub.sqlite"
        return
    base_db = request.getfixturevalue("pg_database")
    engine = create_engine(base_db, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # a clean schema per test
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield base_db


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:  # noqa: ANN001
    engine = _fresh_engine(f"sqlite:///{tmp_path}/hub.sqlite")
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    """A file SQLite database (WAL needs a file; ``:memory:`` is one connection's)."""
    return f"sqlite:///{tmp_path}/hub.sqlite"
