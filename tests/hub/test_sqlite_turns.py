"""SQLite writers of one process take turns before SQLite's lock (store/sqlite_turns.py)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, event, exc, text

from somebound.store.engine import make_engine
from somebound.store.sqlite_turns import FairLock, turn_for


def _wait_until(predicate, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_waiters_get_the_lock_in_the_order_they_asked() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    order: list[int] = []

    def waiter(k: int) -> None:
        assert lock.acquire(5)
        order.append(k)
        lock.release()

    threads = []
    for k in range(6):
        t = threading.Thread(target=waiter, args=(k,))
        t.start()
        threads.append(t)
        _wait_until(lambda k=k: len(lock._waiters) == k + 1)  # queued before the next asks
    lock.release()
    for t in threads:
        t.join(5)
    assert order == list(range(6))
    assert lock.acquire(0.01)  # free again


def test_a_wait_that_times_out_leaves_the_queue() -> None:
    lock = FairLock()
    lock.acquire(1)
    assert lock.acquire(0.02) is False
    assert len(lock._waiters) == 0
    lock.release()
    assert lock.acquire(0.01)


def _engine_without_busy_handler(url: str) -> Engine:
    """SQLite's busy handler off: a writer that met the lock taken would fail at once."""
    engine = make_engine(url)
    event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA busy_timeout=0"))
    return engine


def test_writers_in_one_process_never_meet_sqlites_lock(sqlite_url: str) -> None:
    engines = [_engine_without_busy_handler(sqlite_url) for _ in range(2)]  # one file
    with engines[0].begin() as conn:
        conn.execute(text("CREATE TABLE t (k INTEGER, i INTEGER)"))
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(40):
                with engines[k % 2].begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (:k, :i)"), {"k": k, "i": i})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with engines[0].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 240
    for e in engines:
        e.dispose()


def test_the_turn_comes_back_after_rollback_and_a_held_turn_is_reported(
        sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        raise RuntimeError("rolled back")
    with engine.begin() as conn:  # not stuck behind the rolled-back transaction
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.begin() as outer:
        outer.execute(text("INSERT INTO t VALUES (1)"))
        other = engine.connect()
        other.connection.dbapi_connection.timeout = 0.05
        with pytest.raises(exc.OperationalError, match="no write turn"):
            other.begin()
        other.close()
    assert turn_for(sqlite_url.split("///", 1)[1]).acquire(0.01)  # and it is free after
    turn_for(sqlite_url.split("///", 1)[1]).release()
    engine.dispose()


_WRITER = """
import sys
from sqlalchemy import event, text
from somebound.store.engine import make_engine
engine = make_engine(sys.argv[1])
event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA busy_timeout=0"))
for i in range(60):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:k, :i)"), {"k": int(sys.argv[2]), "i": i})
"""


def test_writers_in_several_processes_never_meet_sqlites_lock(sqlite_url: str) -> None:
    import subprocess
    import sys

    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k INTEGER, i INTEGER)"))
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, sqlite_url, str(k)],
                              stderr=subprocess.PIPE) for k in range(3)]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 180
    engine.dispose()
