"""Decision hub persistence: catalogue versions, the decision log and outcomes.

The decision log is what offline policy evaluation and the models learn from, so each
row keeps the logged probability, the control-group flag, the model's feature bins and
the full explanation (candidates, filter reasons, factors, prices, winner).
``customer_id`` is text: callers may decide for an external id or for attributes only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
)

from somebound.store.base import Id, JsonType, UtcDateTime, metadata

decision_catalogues = Table(
    "decision_catalogues",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("digest", String(64), nullable=False),
    Column("source", Text, nullable=False),  # the YAML as uploaded
    Column("created_at", UtcDateTime, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("customer_id", String(64)),
    Column("catalogue_version", Integer, nullable=False),
    Column("channel", String(32)),  # context channel
    Column("intent", String(64)),
    Column("action", String(128)),  # winner
    Column("treatment", String(32)),  # winner's treatment channel
    Column("logged_probability", Float),
    Column("control_group", Boolean, nullable=False, default=False),
    Column("fallback", Boolean, nullable=False, default=False),
    Column("bins", JsonType),
    Column("explanation", JsonType, nullable=False),
)
Index("ix_decisions_customer_at", decisions.c.customer_id, decisions.c.at)

decision_outcomes = Table(
    "decision_outcomes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("decision_id", String(64), ForeignKey("decisions.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("customer_id", String(64)),
    Column("action", String(128), nullable=False),
    Column("treatment", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
)
Index("ix_decision_outcomes_customer_at", decision_outcomes.c.customer_id, decision_outcomes.c.at)
Index("ix_decision_outcomes_decision", decision_outcomes.c.decision_id)


class DecisionRepository:
    """SQLAlchemy Core implementation of the service's ``DecisionStore`` protocol."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save_catalogue(self, catalogue: Any, source: str) -> int:
        with self.engine.begin() as conn:
            latest = conn.execute(select(func.max(decision_catalogues.c.version))).scalar() or 0
            version = max(int(latest) + 1, int(getattr(catalogue, "version", 0) or 0))
            conn.execute(
                insert(decision_catalogues).values(
                    version=version,
                    digest=getattr(catalogue, "digest", None) or hashlib.sha256(source.encode()).hexdigest(),
                    source=source,
                    created_at=_now(),
                )
            )
        return version

    def latest_catalogue(self) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(decision_catalogues.c.version, decision_catalogues.c.source)
                .order_by(decision_catalogues.c.version.desc())
                .limit(1)
            ).first()
        return None if row is None else (int(row.version), row.source)

    def catalogue_versions(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decision_catalogues.c.version, decision_catalogues.c.digest, decision_catalogues.c.created_at)
                .order_by(decision_catalogues.c.version)
            ).all()
        return [dict(r._mapping) for r in rows]

    def save_decision(self, decision: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(INSERT_DECISION, decision_values(decision))

    def get_decision(self, decision_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(decisions).where(decisions.c.id == decision_id)).first()
        if row is None:
            return None
        out = dict(row.explanation)
        out["bins"] = row.bins or []
        return out

    def save_outcome(self, decision_id: str, action: str, channel: str, outcome: str, at: datetime, customer_id: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(decision_outcomes).values(
                    decision_id=decision_id, at=at, customer_id=customer_id, action=action, treatment=channel, outcome=outcome
                )
            )

    def history(self, customer_id: str, since: datetime | None = None) -> list:
        """Served actions (decision winners) and their outcomes, oldest first."""
        with self.engine.connect() as conn:
            return history_on(conn, customer_id, since)

    def logged_rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Decision + outcome rows for offline policy evaluation and model refits."""
        q = (
            select(
                decisions.c.id, decisions.c.at, decisions.c.action, decisions.c.treatment,
                decisions.c.logged_probability, decisions.c.control_group, decisions.c.bins,
                decision_outcomes.c.outcome,
            )
            .select_from(decisions.outerjoin(decision_outcomes, decision_outcomes.c.decision_id == decisions.c.id))
            .order_by(decisions.c.at)
        )
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


def history_on(conn: Connection, customer_id: str, since: datetime | None = None) -> list:
    """A customer's served actions and outcomes, read on the caller's connection.

    The ingest pipeline decides inside its batch transaction; on SQLite a second
    connection would wait for the write lock that very transaction holds.
    """
    from somebound.decisions.contact_policy import Interaction

    params = {"customer": customer_id, "since": since}
    served = conn.execute(_SERVED if since is None else _SERVED_SINCE, params).all()
    outcomes = {r.decision_id: r.outcome for r in conn.execute(_OUTCOMES, params)}
    return [Interaction(r.at, r.action, r.treatment, outcomes.get(r.id)) for r in served]


# The pipeline's statements, built once (one decision per new case: a statement built per
# call costs more than the indexed query).
_SERVED = (
    select(decisions.c.id, decisions.c.at, decisions.c.action, decisions.c.treatment)
    .where(decisions.c.customer_id == bindparam("customer"), decisions.c.action.is_not(None))
    .order_by(decisions.c.at)
)
_SERVED_SINCE = _SERVED.where(decisions.c.at >= bindparam("since"))
_OUTCOMES = select(decision_outcomes.c.decision_id, decision_outcomes.c.outcome).where(
    decision_outcomes.c.customer_id == bindparam("customer")
)
INSERT_DECISION = insert(decisions)


def decision_values(decision: Any) -> dict[str, Any]:
    """The decision log row of a decision (the pipeline writes it in its own transaction)."""
    w = decision.winner
    return {
        "id": decision.id,
        "at": decision.at,
        "customer_id": decision.customer_id,
        "catalogue_version": decision.catalogue_version,
        "channel": _str(decision.context.get("channel")),
        "intent": _str(decision.context.get("intent")),
        "action": w.action if w else None,
        "treatment": w.channel if w else None,
        "logged_probability": decision.logged_probability,
        "control_group": decision.control_group,
        "fallback": decision.fallback,
        "bins": list(decision.bins),
        "explanation": _jsonable(decision.explanation()),
    }


def _now() -> datetime:
    from somebound.store.base import utcnow

    return utcnow()


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _jsonable(x: Any) -> Any:
    import math

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, datetime):
        return x.isoformat()
    return x
