"""Live updates: committed changes fan out to every open page and chat socket.

The pipeline calls :meth:`Broadcaster.publish` after its commit, from whatever thread it
runs in; subscribers are asyncio queues owned by the event loop serving them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, is_dataclass
from typing import Any


class Broadcaster:
    def __init__(self) -> None:
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subs.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._subs = {s for s in self._subs if s[1] is not queue}

    def publish(self, items: list[Any]) -> None:
        payloads = [asdict(i) if is_dataclass(i) else i for i in items]
        with self._lock:
            subs = list(self._subs)
        for loop, queue in subs:
            for p in payloads:
                try:
                    loop.call_soon_threadsafe(_put, queue, p)
                except RuntimeError:  # loop closed: the page went away
                    self.unsubscribe(queue)


def _put(queue: asyncio.Queue, item: Any) -> None:
    if not queue.full():
        queue.put_nowait(item)
