"""The domain services the API exposes, built on first use.

Models, indexes and catalogues load when a route first needs them, so the hub starts
in a second and a domain that cannot load answers its own routes with an error
instead of keeping the whole hub down.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from somebound.core.lazy import Lazy


def _listening() -> Any:
    from somebound.listening.answers import AnswerBank, AnswerSuggester, PastReplyIndex
    from somebound.listening.engagement import EngagementPolicy
    from somebound.listening.enrich import default_enricher
    from somebound.listening.service import ListeningService

    # The models are read-only and shared by every app in the process; the streaming
    # state (spike windows, the interaction graph) belongs to this app's service.
    return ListeningService(enricher=default_enricher(), policy=EngagementPolicy.from_yaml(),
                            suggester=AnswerSuggester(AnswerBank.from_yaml(), PastReplyIndex()))


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
