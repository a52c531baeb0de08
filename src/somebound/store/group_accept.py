"""Group commit for the inbox: accepts that arrive together share one transaction.

Every acknowledged payload must be on disk first, and a disk sync costs up to
milliseconds (0.35–3 ms for SQLite's FULL sync on the test machines seen so far) whatever
it carries. Callers hand their payload to one committer thread and wait for its future;
the committer writes everything that arrived while its previous commit ran in the next one.
Under load one sync acknowledges many payloads; a lone payload waits only for its own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import Engine

from somebound.store import inbox

log = logging.getLogger(__name__)


@dataclass
class _Waiting:
    item: inbox.Accept
    future: Future = field(default_factory=Future)  # resolved by the committer


class GroupAccept:
    """``inbox.accept`` for many concurrent callers, committed in groups.

    ``accept`` blocks until the payload is committed (or raises what storing it raised),
    so the caller acknowledges its sender exactly as it would after ``inbox.accept``.
    ``submit`` returns the same as a future, for callers on an event loop
    (``asyncio.wrap_future``), which then need no thread of their own to wait in.
    """

    def __init__(self, engine: Engine, max_group: int = 500):
        self.engine = engine
        self.max_group = max_group
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def accept(self, channel: str, source: str, payload: bytes,
               headers: Mapping[str, str] | None = None) -> tuple[int, bool]:
        """Store a payload durably; (inbox id, was_new) as :func:`inbox.accept` returns."""
        return self.submit(channel, source, payload, headers).result()

    def submit(self, channel: str, source: str, payload: bytes,
               headers: Mapping[str, str] | None = None) -> Future[tuple[int, bool]]:
        """Queue a payload for the next group; the future resolves once it is committed."""
        waiting = _Waiting(inbox.Accept(channel, source, payload, headers))
        self._ensure_started()
        self._queue.put(waiting)
        return waiting.future

    def close(self) -> None:
        """Commit what is queued, then stop the committer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="inbox-accept",
                                                    daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            group: list[_Waiting] = []
            stop = first is None
            if first is not None:
                group.append(first)
            while not stop and len(group) < self.max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                else:
                    group.append(nxt)
            if group:
                self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Waiting]) -> None:
        try:
            with self.engine.begin() as conn:
                results = inbox.accept_many(conn, [w.item for w in group])
            for w, result in zip(group, results, strict=True):
                w.future.set_result(result)
        except Exception:  # noqa: BLE001 - one payload's failure must not fail the others
            if len(group) > 1:
                log.warning("group accept of %d payloads failed; storing them one by one",
                            len(group), exc_info=True)
            for w in group:
                if w.future.done():
                    continue
                try:
                    a = w.item
                    w.future.set_result(inbox.accept(self.engine, a.channel, a.source,
                                                     a.payload, a.headers))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                    w.future.set_exception(exc)
        finally:
            for w in group:
                if not w.future.done():
                    w.future.set_exception(
                        RuntimeError("the inbox committer stopped before storing this"))
