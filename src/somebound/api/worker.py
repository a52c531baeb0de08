"""The inbox worker: claims accepted payloads and runs them through the pipeline.

Runs as a thread inside ``somebound serve`` (embedded default) or as separate
``somebound worker`` processes (production); both claim from the same durable inbox.
An accept wakes the in-process worker at once; workers in other processes hear of it
through PostgreSQL ``NOTIFY`` (:class:`InboxListener`), or on SQLite by polling often
(a peek is a read-only transaction that never waits for the writer).
"""

from __future__ import annotations

import atexit
import gc
import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

from somebound.pipeline.ingest import Pipeline
from somebound.store.engine import listening_connection

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Freeze what start-up made (modules, SQLAlchemy's tables, the stages' models) out of
    the garbage collector's sight.

    These objects live as long as the process, yet every full collection walks them all:
    with ~110,000 of them (the core alone) a full collection took 44-137 ms, and a
    worker's batches, whose rows survive the young collections, set one off every few
    thousand messages, in the middle of a batch. Frozen, a full collection takes 1-3 ms.
    At 200 webhooks/s with the domain stages (more objects: their models) webhook ->
    queued p99 went 28-39 -> 4 ms on SQLite. Called once start-up is over: by a worker
    when it is warm, by an API process without one when it serves. What is garbage then
    is collected first. At exit they are unfrozen again, so that the interpreter's last
    collection frees them as it would have (extension modules such as DuckDB's check that
    their objects were freed, and list every one that was not).
    """
    gc.collect()
    gc.freeze()
    atexit.unregister(gc.unfreeze)  # once, however often start-up ends
    atexit.register(gc.unfreeze)


class InboxWorker:
    def __init__(self, pipeline: Pipeline, batch: int = 200, idle_poll: float = 0.5,
                 tick_seconds: float = 5.0):
        self.pipeline = pipeline
        self.batch = batch
        self.idle_poll = idle_poll
        self.tick_seconds = tick_seconds
        self._last_tick = time.monotonic()
        self._settled = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        return self.pipeline.drain(self.batch)

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                if not self._settled and self.pipeline.ready:
                    self._settled = True
                    settle_heap()
                if time.monotonic() - self._last_tick >= self.tick_seconds:
                    self._last_tick = time.monotonic()
                    self.pipeline.tick()
            except Exception:  # noqa: BLE001 - keep the worker alive; the inbox keeps the rows
                log.exception("inbox worker iteration failed")
            self._wake.wait(self.idle_poll)
            self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="inbox-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)


class InboxListener:
    """Wakes a worker when another process accepts a payload (PostgreSQL ``LISTEN``).

    A lost connection is re-opened; until it is back the worker's own poll still runs.
    """

    def __init__(self, engine: Engine, worker: InboxWorker):
        self.engine, self.worker = engine, worker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> InboxListener:
        self._thread = threading.Thread(target=self._loop, name="inbox-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _connect(self) -> Any:
        from somebound.store.inbox import NOTIFY_CHANNEL

        return listening_connection(self.engine, NOTIFY_CHANNEL)

    def _loop(self) -> None:
        conn = None
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = self._connect()
                    self.worker.wake()  # whatever arrived while nobody listened
                for _ in conn.notifies(timeout=0.5, stop_after=1):
                    self.worker.wake()
            except Exception:  # noqa: BLE001 - the database is away: retry, the poll goes on
                log.warning("inbox listener: reconnecting", exc_info=True)
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(1.0)
        if conn is not None:
            conn.close()
