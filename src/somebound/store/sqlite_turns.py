"""SQLite's one write lock, handed out in turn between the threads of a process.

A writer that finds the lock taken waits in SQLite's busy handler, which sleeps 1, 2, 5,
10, 15, 20, 25 … 100 ms between tries and never queues: whoever asks at the moment the
lock is free gets it. In ``somebound serve`` the inbox's group committer asks again within
microseconds of each commit (it holds the GIL, too), so under steady webhook traffic the
worker's batch could lose try after try and sleep longer each time — the arrival → queued
p99 of hundreds of milliseconds at 200 messages/s in ``bench/ingest.py``. Here the
threads of one process take a first-come, first-served turn before ``BEGIN IMMEDIATE``,
and processes (a separate ``somebound worker``) a file lock that wakes its waiter the
moment it is free (:class:`Turn`), so a writer through :func:`make_engine` never meets
SQLite's busy handler; only other programs writing the file do.

The turn is taken by the engine's ``begin`` hook (:mod:`somebound.store.engine`) and given
back when the DBAPI connection commits, rolls back or closes — after the commit's disk sync,
so the next writer never starts while the lock is still SQLite's.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections import deque


class FairLock:
    """A lock handed to its waiters in the order they asked (no barging)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            mine = threading.Lock()
            mine.acquire()
            self._waiters.append(mine)
        if mine.acquire(timeout=timeout):
            return True  # release() handed the lock to us
        with self._mutex:
            if mine in self._waiters:
                self._waiters.remove(mine)
                return False
        return True  # handed over just as the wait ran out: ours after all

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # stays held: now by the next in line
            else:
                self._held = False


class Turn:
    """A database's writer turn: first come, first served among this process's threads
    (:class:`FairLock`), then an exclusive ``flock`` on ``<database>-turn`` among
    processes (a ``somebound worker`` beside ``somebound serve``). A process blocked on
    the file lock is woken by the kernel the moment it is released, where SQLite's busy
    handler would have slept on; the file lock is released at every hand-over, so
    another process's writer can get in between two of this process's.

    The file lock has no timeout: a process that stops while holding a write transaction
    (SIGSTOP, a debugger) holds up other processes' writers until it goes on or dies
    (the kernel then releases the lock), as it would hold SQLite's own lock.
    """

    def __init__(self, lock_path: str) -> None:
        self.local = FairLock()
        self.lock_path = lock_path
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        if not self.local.acquire(timeout):
            return False
        try:
            if self._fd is None:
                self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self.local.release()
            raise
        return True

    def release(self) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self.local.release()


_TURNS: dict[str, Turn] = {}
_TURNS_LOCK = threading.Lock()


def turn_for(database: str) -> Turn | None:
    """The writer turn of a database file; None for in-memory databases, which are
    private to their connection."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = os.path.realpath(database)
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, Turn(key + "-turn"))


class TurnConnection(sqlite3.Connection):
    """A sqlite3 connection that gives back its writer turn when its transaction ends."""

    turn: Turn | None = None
    timeout: float = 30.0  # seconds; make_engine sets its SQLITE_LOCK_TIMEOUT
    _holding = False

    def take_turn(self) -> None:
        if self.turn is None or self._holding:
            return
        if not self.turn.acquire(self.timeout):
            raise sqlite3.OperationalError(
                f"database is locked: no write turn within {self.timeout:g} s (another "
                "thread of this process holds a write transaction open)")
        self._holding = True

    def give_back(self) -> None:
        if self._holding:
            self._holding = False
            assert self.turn is not None
            self.turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_back()
