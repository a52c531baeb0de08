"""The inbox worker: claims accepted payloads and runs them through the pipeline.

Runs as a thread inside ``somebound serve`` (embedded default) or as separate
``somebound worker`` processes (production); both claim from the same durable inbox.
An accept wakes the in-process worker at once, so webhook -> queued takes milliseconds.
"""

from __future__ import annotations

import logging
import threading
import time

from somebound.pipeline.ingest import Pipeline

log = logging.getLogger(__name__)


class InboxWorker:
    def __init__(self, pipeline: Pipeline, batch: int = 200, idle_poll: float = 0.5,
                 tick_seconds: float = 5.0):
        self.pipeline = pipeline
        self.batch = batch
        self.idle_poll = idle_poll
        self.tick_seconds = tick_seconds
        self._last_tick = time.monotonic()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> int:
        total = 0
        while True:
            n = self.pipeline.process_pending(self.batch)
            total += n
            if n < self.batch:
                return total

    def loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
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
