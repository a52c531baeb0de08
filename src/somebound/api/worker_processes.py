"""``somebound worker`` processes run by ``somebound serve``: started with it, restarted
when one dies, stopped with it.

Why processes and not the API's own worker thread: one Python process has one GIL, so
a worker thread takes its CPU from the requests it shares the process with. On
PostgreSQL at 200 webhooks/s the embedded worker kept the API process ~75 % busy and a
webhook waited p50 12 ms, p99 24 ms to be queued; a worker process beside it, on the
machine's second core, gave p50 5 ms, p99 15 ms (``bench/ingest.py``). PostgreSQL wakes
a worker process at once (``NOTIFY``), so ``serve`` runs one by default there. SQLite
can only poll another process (every 20 ms), so ``serve`` keeps the thread there unless
told otherwise.

A child says it is ready (its models loaded) with :data:`READY_LINE` on its stdout; the
rest of its output is passed through. A child that exits unasked is started again after
a pause that doubles, up to a minute, while it keeps dying young.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

READY_LINE = "somebound worker ready"
_STABLE_SECONDS = 60.0  # a child that lived this long died of something new: restart at once


def worker_count(setting: int | None, database_url: str) -> int:
    """How many worker processes ``serve`` runs: the setting, else one on PostgreSQL and
    none on SQLite (where the API's own worker thread, woken directly, is faster)."""
    if setting is not None:
        return setting
    return 1 if make_url(database_url).get_backend_name() == "postgresql" else 0


class WorkerProcesses:
    """``count`` supervised children running ``command`` (default: ``somebound worker``
    on ``database_url``)."""

    def __init__(self, count: int, database_url: str, *,
                 command: Sequence[str] | None = None, first_delay: float = 1.0,
                 max_delay: float = 60.0) -> None:
        self.command = list(command or [sys.executable, "-m", "somebound.cli", "worker",
                                        "--supervised"])
        # by the environment, not the command line, where `ps` would show its password
        self.env = {**os.environ, "SOMEBOUND_DATABASE_URL": database_url}
        self.first_delay, self.max_delay = first_delay, max_delay
        self._slots = [_Slot(k) for k in range(count)]
        self._stop = threading.Event()

    @property
    def pids(self) -> list[int]:
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.poll() is None]

    @property
    def restarts(self) -> int:
        return sum(s.restarts for s in self._slots)

    @property
    def state(self) -> str:
        """``ready`` when every child has said so, else ``warming`` (starting, loading its
        models, or being restarted)."""
        return "ready" if all(s.ready for s in self._slots) else "warming"

    def start(self) -> WorkerProcesses:
        for slot in self._slots:
            slot.thread = threading.Thread(target=self._supervise, args=(slot,),
                                           name=f"worker-process-{slot.index}", daemon=True)
            slot.thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to every child (a worker finishes its batch, its transaction either
        commits or rolls back: nothing is lost), SIGKILL after ``timeout``."""
        self._stop.set()
        for slot in self._slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.terminate()
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            if slot.proc is None:
                continue
            try:
                slot.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop in %.0f s: killed",
                            slot.proc.pid, timeout)
                slot.proc.kill()
                slot.proc.wait()
        for slot in self._slots:
            if slot.thread is not None:
                slot.thread.join(timeout=5)

    # -- one child's life ------------------------------------------------------------
    def _supervise(self, slot: _Slot) -> None:
        delay = self.first_delay
        while not self._stop.is_set():
            started = time.monotonic()
            code = self._run(slot)
            slot.ready = False
            if self._stop.is_set():
                return
            delay = self.first_delay if time.monotonic() - started > _STABLE_SECONDS else delay
            log.error("worker process %d exited with %s; starting another in %.0f s",
                      slot.index, code, delay)
            if self._stop.wait(delay):
                return
            delay = min(self.max_delay, delay * 2)
            slot.restarts += 1

    def _run(self, slot: _Slot) -> int:
        """Start the child, pass its output through until it ends; its exit code."""
        # stdin: a pipe the child only reads to its end, which comes when this process
        # ends however it ends: then a supervised worker stops too
        try:
            slot.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1,
                                         env=self.env)
        except OSError as exc:  # out of processes or memory: try again after the pause
            log.error("could not start worker process %d: %s", slot.index, exc)
            return -1
        if self._stop.is_set():  # stop() ran between the loop's check and the start
            slot.proc.terminate()
        assert slot.proc.stdout is not None
        for line in slot.proc.stdout:
            if line.strip() == READY_LINE:
                slot.ready = True
            sys.stdout.write(line)
        return slot.proc.wait()


class _Slot:
    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: subprocess.Popen[str] | None = None
        self.thread: threading.Thread | None = None
        self.ready = False
        self.restarts = 0
