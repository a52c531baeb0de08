"""The domain stages bound to the pipeline's seams: listening, identity, decisions.

The pipeline (``ingest.py``) knows three small protocols; the domains know nothing of
the pipeline. These adapters translate between the two, and keep one rule the domains
cannot know about: everything a stage writes goes through the batch's connection, so it
commits (or rolls back) with the messages and cases it belongs to. On SQLite a second
connection writing during the batch's transaction would wait for the batch's own lock.

The services are the same objects the API serves (``app.state.listening`` and friends),
so a spike the pipeline raises is the one the supervisor page shows, and a decision the
pipeline makes is the one ``GET /decisions/{id}`` explains.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from somebound.core.lazy import unwrap
from somebound.core.message import Author, Message
from somebound.pipeline.identify import IdentityKey, Resolved
from somebound.pipeline.ingest import Stages, Triage, TriageInput
from somebound.pipeline.routing import RoutingPolicy

log = logging.getLogger(__name__)

ALL_STAGES = ("listening", "identity", "decisions")


class ListeningStage:
    """Language, sentiment, intent, urgency, engagement criteria and the spike feed."""

    def __init__(self, service: Any, routing: RoutingPolicy | None = None):
        self.service = service
        self.routing = routing

    def __call__(self, msg: Message, context: TriageInput) -> Triage:
        from somebound.listening.enrich import EnrichContext

        languages = self.service.enricher.languages
        ctx = EnrichContext(
            languages=languages, customer_language=context.customer.get("language"),
            previous_contacts=context.previous_contacts, parallel_contact=context.parallel,
            sla_seconds_left=context.sla_seconds_left, bound=context.bound)
        result = self.service.process(msg, ctx)
        e = result.enrichment
        insights: dict[str, Any] = {
            "sentiment": {"label": e.sentiment, "score": e.sentiment_score,
                          "confidence": e.sentiment_confidence},
            "urgency": {"value": e.priority.value, "score": e.urgency,
                        "reasons": list(e.urgency_reasons)},
        }
        if e.language_source != "none" and e.language:
            insights["language"] = e.language
        if e.intent:
            insights["intent"] = {"label": e.intent, "score": e.intent_confidence}
        if e.keywords:
            insights["keywords"] = list(e.keywords)
        if e.reach is not None:
            insights["reach"] = e.reach
        d = result.decision
        engagement = {"action": d.action, "priority": d.priority.value, "rule": d.rule,
                      "reasons": list(d.reasons), "label": f"{d.action} ({d.rule})"}
        if d.queue and self._known_queue(d.queue):
            engagement["queue"] = d.queue
        return Triage(insights, engagement, [s.to_event() for s in result.spikes])

    def warm(self) -> None:
        """Load the models, and run them once: their first use imports and caches more
        (scikit-learn's analyzers, the languages' tables), which would else land in the
        first batch's latency."""
        self.service.enricher.enrich_text("Hei, kiitos avusta! Thanks for the help.")

    def prefetch(self, msgs: list[Message]) -> None:
        """One vectorised pass over a claimed batch's texts before the per-message calls."""
        if msgs:
            self.service.prefetch(msgs)

    def tick(self, now: Any) -> list:
        """Spikes that ended while nothing arrived: their cleared events."""
        return [s.to_event() for s in self.service.tick(now)]

    def _known_queue(self, queue: str) -> bool:
        if self.routing is None or queue in self.routing.queues:
            return True
        log.warning("engagement rule names queue %r that routing does not define; "
                    "routing's queue is used instead", queue)
        return False


class IdentityStage:
    """Probabilistic identity resolution for authors the exact keys do not know."""

    def __init__(self, service: Any):
        self.service = service

    def warm(self) -> None:
        self.service.scorer  # noqa: B018 - builds the index outside any transaction

    def resolve_new(self, conn: Connection, key: IdentityKey, author: Author) -> Resolved:
        from somebound.identity.resolver import IdentityCandidate

        if key.key.startswith("anonymous:"):
            return Resolved()
        profile = dict(author.profile)
        if author.display_name and not (profile.get("given_name") or profile.get("surname")):
            first, _, last = author.display_name.strip().partition(" ")
            profile.setdefault("given_name", first)
            if last:
                profile.setdefault("surname", last)
        res = self.service.resolve(IdentityCandidate(
            kind=key.kind, key=key.key, display_name=author.display_name,
            handle=author.handle, email=author.email if key.kind == "email" else None,
            phone=author.phone if key.kind == "phone" else None, profile=profile), conn=conn)
        if res.band == "auto" and res.customer_id is not None:
            return Resolved(customer_id=int(res.customer_id), detail=res)
        if res.band == "review" and res.customer_id is not None:
            return Resolved(suggestions=tuple(
                {"customer_id": int(c.record_id), "score": round(c.match_probability, 4)}
                for c in res.candidates[:3]), detail=res)
        return Resolved()

    def record(self, conn: Connection, identity_id: int, resolved: Resolved) -> None:
        from somebound.store import identity as repo

        res = resolved.detail
        if res is None:
            return
        if resolved.customer_id is not None:
            evidence = "verified" if res.evidence in ("verified", "known") else "probabilistic"
            repo.link_identity(conn, identity_id, resolved.customer_id, evidence=evidence,
                               actor="pipeline", score=res.score,
                               reason=res.explanation.get("rule"), policy=self.service.policy)
        elif resolved.suggestions:
            best = res.candidates[0] if res.candidates else None
            repo.enqueue_review(conn, kind="link", identity_id=identity_id,
                                customer_id=int(res.customer_id), probability=res.score,
                                match_weight=best.match_weight if best else None,
                                explanation=res.explanation)


class DecisionStage:
    """The next best action for the customer of a new case, shown to the agent."""

    def __init__(self, service: Any, k: int = 3):
        self.service = service  # may be lazy: the catalogue loads with the first decision
        self.k = k

    def warm(self) -> None:
        unwrap(self.service)  # loads the catalogue outside any transaction

    def __call__(
        self, conn: Connection, customer_id: int, customer: dict, context: dict
    ) -> dict | None:
        from somebound.store.decisions import INSERT_DECISION, decision_values, history_on

        attributes = {k: v for k, v in customer.items() if v is not None}
        attributes.setdefault("customer_id", customer_id)
        decision = self.service.decide(
            customer_id=str(customer_id),
            attributes=attributes,
            context=context,
            k=self.k,
            history=history_on(conn, str(customer_id)),
            save=False,
        )
        # a service that stores its decisions gets this one written on the batch's
        # connection, so that it commits or rolls back with the batch
        if getattr(self.service, "repository", None) is not None:
            conn.execute(INSERT_DECISION, decision_values(decision))
        if decision.winner is None:
            return None
        w = decision.winner
        return {
            "decision_id": decision.id,
            "action": w.action,
            "channel": w.channel,
            "score": round(float(w.score), 4),
            "alternatives": [f"{r.action}/{r.channel}" for r in decision.ranked[1 : self.k]],
            "why": ", ".join(f"{k} {v:.3g}" for k, v in w.factors.items()),
        }


def domain_stages(routing: RoutingPolicy, services: Any,
                  enabled: Iterable[str] = ALL_STAGES) -> Stages:
    """Stages with the domain services found on ``services`` (the app's state)."""
    enabled = set(enabled)
    unknown = enabled - set(ALL_STAGES)
    if unknown:
        raise ValueError(f"unknown pipeline stage(s) {sorted(unknown)}; "
                         f"choose from {', '.join(ALL_STAGES)}")
    return Stages(
        routing=routing,
        enrich=ListeningStage(services.listening, routing) if "listening" in enabled else None,
        resolver=IdentityStage(services.identity) if "identity" in enabled else None,
        decide=DecisionStage(services.decisions) if "decisions" in enabled else None,
    )

