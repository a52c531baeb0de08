"""The domain services the API exposes, built on first use.

Models, indexes and catalogues load when a route first needs them, so the hub starts
in a second and a domain that cannot load answers its own routes with an error
instead of keeping the whole hub down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine


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


def _listening() -> Any:
    from somebound.listening.service import ListeningService

    return ListeningService.default()


def _identity(engine: Engine) -> Any:
    from somebound.identity.service import IdentityService

    return IdentityService(engine)


def _decisions(engine: Engine) -> Any:
    from somebound.decisions.catalogue import demo_catalogue_path
    from somebound.decisions.service import DecisionService
    from somebound.store.decisions import DecisionRepository

    return DecisionService(demo_catalogue_path(), repository=DecisionRepository(engine))


def attach(state: Any, engine: Engine) -> None:
    state.listening = Lazy(_listening)
    state.identity = Lazy(lambda: _identity(engine))
    state.decisions = Lazy(lambda: _decisions(engine))
