"""Draining a backlog: batch after batch, on SQLite each commit beside parsing the next."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select

from somebound.api.settings import Settings
from somebound.channels.registry import build_parsers
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.pipeline.routing import RoutingPolicy
from somebound.store import inbox
from somebound.store.engine import make_engine, transaction
from somebound.store.migrate import upgrade
from somebound.store.sqlite_turns import TurnConnection
from somebound.store.tables import cases, events, messages, raw_inbox
from tests.hub.helpers import fb_comment

N, BATCH = 23, 5


def _backlog(url: str, tmp_path, calls: list[int]) -> Pipeline:  # noqa: ANN001
    """``N`` comments under 4 posts by 7 people, accepted; a pipeline whose Facebook
    parser counts its calls in ``calls``."""
    engine = make_engine(url)
    upgrade(engine)
    for i in range(N):
        inbox.accept(engine, "facebook", "webhook:facebook",
                     fb_comment(f"c{i}", f"post{i % 4}", f"u{i % 7}", f"User {i % 7}",
                                f"Kysymys {i}", t=1732350000 + i))
    parse = build_parsers(Settings(blob_dir=str(tmp_path / "blobs")))["facebook"]

    def counting(payload: bytes, headers: dict) -> list:
        calls.append(1)
        return parse(payload, headers)

    return Pipeline(engine, {"facebook": counting}, Stages(routing=RoutingPolicy.load()))


@pytest.fixture
def slow_commits(monkeypatch):  # noqa: ANN001, ANN201
    """SQLite commits made in the committer thread take 50 ms, so the next batch is
    certainly peeked at and announced-or-not while its predecessor is still committing."""
    commit = TurnConnection.commit

    def slow(self: TurnConnection) -> None:
        if threading.current_thread().name.startswith("ingest-commit"):
            time.sleep(0.05)
        commit(self)

    monkeypatch.setattr(TurnConnection, "commit", slow)


def _outcome(pipe: Pipeline) -> tuple:
    with pipe.engine.connect() as conn:
        threads = sorted(conn.execute(select(messages.c.native_id, cases.c.thread_key)
                                      .join(cases, cases.c.id == messages.c.case_id)).all())
        kinds = sorted(conn.execute(select(events.c.type, func.count())
                                    .group_by(events.c.type)).all())
        pending = inbox.pending_count(conn)
    return threads, kinds, pending


def test_drain_processes_a_backlog_batch_by_batch_parsing_each_payload_once(
        any_db_url: str, tmp_path, slow_commits) -> None:  # noqa: ANN001
    calls: list[int] = []
    pipe = _backlog(any_db_url, tmp_path, calls)
    sizes: list[int] = []
    assert pipe.drain(BATCH, on_batch=sizes.append) == N
    assert sizes == [5, 5, 5, 5, 3]
    # the batch committing while the next is peeked at is still pending in that read:
    # the peek starts after it, or its payloads would be parsed twice
    assert len(calls) == N
    threads, _, pending = _outcome(pipe)
    assert pending == 0 and len(threads) == N
    pipe.engine.dispose()


def test_a_drained_backlog_ends_as_processing_it_one_payload_at_a_time(
        tmp_path, slow_commits) -> None:  # noqa: ANN001
    drained = _backlog(f"sqlite:///{tmp_path}/drained.sqlite", tmp_path, [])
    one_by_one = _backlog(f"sqlite:///{tmp_path}/one.sqlite", tmp_path, [])
    assert drained.drain(BATCH) == N
    while one_by_one.process_pending(1):
        pass
    assert _outcome(drained) == _outcome(one_by_one)
    assert len(_outcome(drained)[0]) == N
    drained.engine.dispose()
    one_by_one.engine.dispose()


def test_drain_announces_a_batch_only_once_it_has_committed(sqlite_url: str, tmp_path,
                                                            slow_commits) -> None:  # noqa: ANN001
    pipe = _backlog(sqlite_url, tmp_path, [])
    seen: list[tuple[int, int]] = []

    def notify(changes: list) -> None:  # what a reader sees when it is told (one that
        with transaction(pipe.engine, read_only=True) as conn:  # waits for no writer)
            stored = conn.execute(select(func.count()).select_from(messages).where(
                messages.c.id.in_([c.message_id for c in changes]))).scalar()
        seen.append((len(changes), stored))

    pipe.notify = notify
    assert pipe.drain(BATCH) == N
    assert seen == [(5, 5), (5, 5), (5, 5), (5, 5), (3, 3)]
    pipe.engine.dispose()


def test_a_commit_failing_beside_the_next_batch_is_raised_and_loses_nothing(
        sqlite_url: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    calls: list[int] = []
    pipe = _backlog(sqlite_url, tmp_path, calls)
    commit, committed = TurnConnection.commit, []

    def failing_second(self: TurnConnection) -> None:
        if threading.current_thread().name.startswith("ingest-commit"):
            committed.append(1)
            if len(committed) == 2:
                raise sqlite3.OperationalError("disk I/O error")
        commit(self)

    monkeypatch.setattr(TurnConnection, "commit", failing_second)
    with pytest.raises(Exception, match="disk I/O error"):
        pipe.drain(BATCH)
    with pipe.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == BATCH
        assert inbox.pending_count(conn) == N - BATCH
    monkeypatch.setattr(TurnConnection, "commit", commit)
    assert pipe.drain(BATCH) == N - BATCH
    threads, _, pending = _outcome(pipe)
    assert pending == 0 and len(threads) == N == len({t[0] for t in threads})
    with pipe.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_inbox)
                            .where(raw_inbox.c.status == "done")).scalar() == N
    pipe.engine.dispose()


def test_rows_parsed_ahead_that_another_worker_locked_are_left_to_it(
        any_db_url: str, tmp_path) -> None:  # noqa: ANN001
    """PostgreSQL: the next batch is read unlocked and parsed while this one's writes run;
    by the time it is claimed another worker may hold some of its rows."""
    if any_db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's read-ahead (SQLite peeks at each batch before its lock)")
    calls: list[int] = []
    pipe = _backlog(any_db_url, tmp_path, calls)
    other = pipe.engine.connect()
    other_tx = other.begin()
    locked: list[int] = []

    def after_first(n: int) -> None:  # another worker takes two rows of the parsed-ahead batch
        if not locked:
            locked.extend(other.execute(select(raw_inbox.c.id).where(
                raw_inbox.c.id.in_([7, 8])).with_for_update()).scalars())

    assert pipe.drain(BATCH, on_batch=after_first) == N - 2
    assert locked == [7, 8] and len(calls) == N  # 7 and 8 were parsed ahead, then left
    other_tx.rollback()  # the other worker gives them up: they are still pending
    assert pipe.drain(BATCH) == 2
    threads, _, pending = _outcome(pipe)
    assert pending == 0 and len(threads) == N == len({t[0] for t in threads})
    assert len(calls) == N + 2  # parsed again when claimed
    other.close()
    pipe.engine.dispose()
