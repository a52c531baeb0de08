"""A stand-in that builds a heavy object (models, indexes) when it is first used."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Lazy:
    """A stand-in that builds the real object on first attribute access (thread-safe)."""

    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._obj: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._obj is None:
            with self._lock:
                if self._obj is None:
                    self._obj = self._factory()
        return self._obj

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


def unwrap(obj: Any) -> Any:
    """The real object behind a :class:`Lazy` (attributes must be set on it, not the proxy)."""
    return obj._get() if isinstance(obj, Lazy) else obj
