"""Accepting and committing: grouped accepts, the worker's read and redoable transactions,
and two workers sharing one inbox without doing a payload twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, func, select, text

from somebound.api.settings import Settings
from somebound.channels.registry import build_parsers
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.pipeline.routing import RoutingPolicy
from somebound.store import inbox
from somebound.store.engine import make_engine, transaction
from somebound.store.group_accept import GroupAccept
from somebound.store.migrate import upgrade
from somebound.store.tables import messages, raw_inbox
from tests.hub.helpers import fb_comment


@pytest.fixture
def engine(any_db_url: str) -> Iterator[Engine]:
    engine = make_engine(any_db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _hold_inbox_lock(engine: Engine, release: threading.Event,
                     held: threading.Event) -> threading.Thread:
    """Another writer holds the inbox until ``release``: accepts queue up behind it."""

    def hold() -> None:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE raw_inbox IN EXCLUSIVE MODE"))
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(10)
    return t


def test_concurrent_accepts_share_commits_and_each_caller_gets_its_row(engine: Engine) -> None:
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    group = GroupAccept(engine)
    bodies = [fb_comment(f"c{i % 30}", "post1", f"u{i % 30}", "U", f"Hei {i % 30}")
              for i in range(40)]
    results: dict[int, tuple[int, bool]] = {}
    release, held = threading.Event(), threading.Event()
    holder = _hold_inbox_lock(engine, release, held)
    before = len(commits)

    def send(i: int) -> None:
        results[i] = group.accept("facebook", "webhook:facebook", bodies[i])

    senders = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    for t in senders:
        t.start()
    time.sleep(0.3)  # all 40 are waiting behind the held lock
    release.set()
    holder.join()
    for t in senders:
        t.join(10)
    group.close()

    assert len(results) == 40
    # the same bytes (i and i + 30 for i < 10) are one row; exactly one caller saw it new
    by_body: dict[bytes, set[int]] = {}
    for i, (row_id, _) in results.items():
        by_body.setdefault(bodies[i], set()).add(row_id)
    assert all(len(ids) == 1 for ids in by_body.values())
    assert sum(new for _, new in results.values()) == 30
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_inbox)).scalar() == 30
    # one commit for the first payload, then the 39 that queued behind it share a few
    assert len(commits) - before <= 4


def test_a_payload_that_cannot_be_stored_fails_alone(engine: Engine) -> None:
    group = GroupAccept(engine)
    release, held = threading.Event(), threading.Event()
    holder = _hold_inbox_lock(engine, release, held)
    outcome: dict[str, object] = {}

    def send(name: str, headers: dict) -> None:
        try:
            outcome[name] = group.accept("facebook", "webhook:facebook",
                                         fb_comment(name, "p", "u", "U", name), headers)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome[name] = exc

    threads = [threading.Thread(target=send, args=("good1", {})),
               threading.Thread(target=send, args=("bad", {"x": object()})),  # not JSON
               threading.Thread(target=send, args=("good2", {}))]
    for t in threads:
        t.start()
    time.sleep(0.3)
    release.set()
    holder.join()
    for t in threads:
        t.join(10)
    group.close()
    assert "not JSON serializable" in str(outcome["bad"])
    assert outcome["good1"][1] and outcome["good2"][1]  # type: ignore[index]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_inbox)).scalar() == 2


def test_redoable_transactions_do_not_wait_for_the_disk_and_others_still_do(
        engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        ask, fast, durable = "PRAGMA synchronous", 1, 2  # NORMAL, FULL
    else:
        ask, fast, durable = "SHOW synchronous_commit", "off", "on"
    with transaction(engine, redoable=True) as conn:
        assert conn.exec_driver_sql(ask).scalar() == fast
    with engine.begin() as conn:
        assert conn.exec_driver_sql(ask).scalar() == durable
    with transaction(engine) as conn:
        assert conn.exec_driver_sql(ask).scalar() == durable


def test_sqlite_reads_go_on_while_another_connection_writes(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    inbox.accept(engine, "facebook", "webhook:facebook", fb_comment("c1", "p", "u", "U", "Hei"))
    release, held = threading.Event(), threading.Event()
    holder = _hold_inbox_lock(engine, release, held)
    try:
        t = time.monotonic()
        with transaction(engine, read_only=True) as conn:
            assert len(inbox.peek(conn, 10)) == 1
        assert time.monotonic() - t < 5  # an IMMEDIATE transaction would wait 30 s here
    finally:
        release.set()
        holder.join()
    engine.dispose()


def test_two_workers_on_one_inbox_process_every_payload_once(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    upgrade(engine)
    for i in range(120):
        inbox.accept(engine, "facebook", "webhook:facebook",
                     fb_comment(f"c{i}", f"post{i % 7}", f"u{i % 13}", "U", f"Kysymys {i}"))
    parsers = build_parsers(Settings())
    policy = RoutingPolicy.load()
    workers = [Pipeline(make_engine(any_db_url), parsers, Stages(routing=policy))
               for _ in range(2)]
    done = [0, 0]

    def run(k: int) -> None:
        while (n := workers[k].process_pending(25)) > 0 or inbox_pending(engine):
            done[k] += n

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sum(done) == 120
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == 120
        assert conn.execute(select(func.count(func.distinct(messages.c.native_id)))).scalar() == 120
        assert set(conn.execute(select(raw_inbox.c.status)).scalars()) == {"done"}
        # and no batch failed on the way (a deadlock, or both creating one identity)
        assert set(conn.execute(select(raw_inbox.c.attempts)).scalars()) == {0}
    for w in workers:
        w.engine.dispose()
    engine.dispose()


def inbox_pending(engine: Engine) -> bool:
    with transaction(engine, read_only=True) as conn:
        return inbox.pending_count(conn) > 0


def test_a_worker_in_another_process_hears_of_an_accept_at_once(pg_database: str) -> None:
    """PostgreSQL: an accept NOTIFYs; a worker that would poll only every minute wakes."""
    from somebound.api.worker import InboxListener, InboxWorker

    engine = make_engine(pg_database)
    upgrade(engine)
    pipeline = Pipeline(make_engine(pg_database), build_parsers(Settings()),
                        Stages(routing=RoutingPolicy.load()))
    worker = InboxWorker(pipeline, idle_poll=60)
    listener = InboxListener(pipeline.engine, worker).start()
    worker.start()
    try:
        time.sleep(1.0)  # the worker has drained the (empty) inbox and sleeps on its poll
        inbox.accept(engine, "facebook", "webhook:facebook",
                     fb_comment("heard", "p", "u", "U", "Kuuleeko kukaan?"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and inbox_pending(engine):
            time.sleep(0.05)
        assert not inbox_pending(engine)
    finally:
        listener.stop()
        worker.stop()
        pipeline.engine.dispose()
        engine.dispose()


def test_accept_many_maps_repeats_and_stored_payloads_to_their_one_row(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    upgrade(engine)
    a, b, c = (inbox.Accept("facebook", "webhook:facebook", body) for body in (b"a", b"b", b"c"))
    same_bytes_other_channel = inbox.Accept("x", "webhook:x", b"a")
    with engine.begin() as conn:
        first = inbox.accept_many(conn, [a, b, a])
    assert [new for _, new in first] == [True, True, False]
    assert first[0][0] == first[2][0] != first[1][0]
    with engine.begin() as conn:
        second = inbox.accept_many(conn, [b, c, same_bytes_other_channel, c])
    assert second[0] == (first[1][0], False)
    assert [new for _, new in second[1:]] == [True, True, False]
    assert second[1][0] == second[3][0] and second[2][0] not in {i for i, _ in first}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_inbox)).scalar() == 4
    engine.dispose()


def test_a_worker_in_another_process_hears_of_each_accept(pg_database: str) -> None:
    """PostgreSQL: the accept's NOTIFY wakes an :class:`InboxListener`'s worker (as in a
    separate ``somebound worker``); a duplicate payload, which stores nothing, does not."""
    from somebound.api.worker import InboxListener

    engine = make_engine(pg_database)
    upgrade(engine)
    woken = threading.Semaphore(0)

    class Worker:
        def wake(self) -> None:
            woken.release()

    listener = InboxListener(engine, Worker()).start()  # type: ignore[arg-type]
    try:
        assert woken.acquire(timeout=10), "not woken on (re)connecting"
        inbox.accept(engine, "chat", "t", b"kuuleeko kukaan")
        assert woken.acquire(timeout=10), "the accept did not wake the worker"
        inbox.accept(engine, "chat", "t", b"kuuleeko kukaan")
        assert not woken.acquire(timeout=1.5), "a duplicate woke the worker"
    finally:
        listener.stop()
        engine.dispose()
