"""PostgreSQL keeps planning the batch's lookups as index searches as the hub grows.

On tables it has never analysed (autovacuum off, or a hub's first minute) PostgreSQL
searched ``messages`` by ``channel`` alone and filtered every row of the channel, so a
batch got slower with every message stored. The worker now analyses the tables it
searches when they have changed enough (``store/planner_stats.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from somebound.api.settings import Settings
from somebound.channels import samples
from somebound.channels.registry import build_parsers
from somebound.pipeline import batch
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.store import inbox
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade
from somebound.store.planner_stats import MIN_ROWS, StatisticsKeeper


@pytest.fixture
def engine(pg_database: str) -> Iterator[Engine]:
    engine = make_engine(pg_database)
    with engine.begin() as conn:  # a clean schema, never analysed
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


def _last_analyze(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT relname, last_analyze FROM pg_stat_user_tables "
            "WHERE relname IN ('messages', 'identities', 'cases', 'customers')")).all())


def _messages_lookup_plan(engine: Engine) -> str:
    sql = ("SELECT channel, native_id, case_id FROM messages WHERE channel IN "
           "('facebook', 'x') AND native_id IN ('1000_1_c1', '1000_1_c2')")
    assert "messages.channel IN" in str(batch._MESSAGES_BY_NATIVE)  # the shape planned here
    with engine.connect() as conn:
        return " | ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))


def test_the_worker_analyses_what_it_searches_once_it_has_grown(engine: Engine,
                                                                 tmp_path: Path) -> None:
    n = MIN_ROWS + 300
    for i in range(n):
        body = samples.facebook_webhook("1000", changes=[samples.facebook_comment(
            "1000", f"1000_{i % 40}", f"1000_{i % 40}_c{i}", f"u{i}", f"U {i}", "Hei")])
        inbox.accept(engine, "facebook", "t", json.dumps(body).encode())
    assert _last_analyze(engine)["messages"] is None
    pipe = Pipeline(engine, build_parsers(Settings(blob_dir=str(tmp_path / "b"))), Stages())
    checks = []
    original = pipe._statistics.written
    pipe._statistics.written = lambda rows: checks.append(original(rows)) or checks[-1]
    while pipe.process_pending(100):
        pass
    started = [t for t in checks if t is not None]
    assert started, f"no check was started after {n} messages"
    for thread in started:
        thread.join(timeout=30)
    analysed = _last_analyze(engine)
    assert all(analysed[t] is not None for t in ("messages", "identities", "cases")), analysed
    plan = _messages_lookup_plan(engine)
    assert "Filter" not in plan and "native_id" in plan.split("Index Cond")[-1], plan


def test_a_check_analyses_only_tables_that_changed_enough(engine: Engine) -> None:
    keeper = StatisticsKeeper(engine)
    assert keeper.refresh() == ["cases", "customers", "identities", "messages"]  # never were
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO queues (name, open_count) "
                          "SELECT 'q' || g, 0 FROM generate_series(1, 10) g"))
    assert keeper.refresh() == []  # nothing it searches has changed
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO customers (display_name, attributes, provisional, erased, created_at,"
            " updated_at) SELECT 'a' || g, '{}', true, false, now(), now()"
            " FROM generate_series(1, 200) g"))
    deadline = time.monotonic() + 10  # the server's counters reach the view within ~1 s
    analysed = keeper.refresh()
    while not analysed and time.monotonic() < deadline:
        time.sleep(0.2)
        analysed = keeper.refresh()
    assert analysed == ["customers"]
    assert keeper.refresh() == []  # analysed now: nothing changed since
