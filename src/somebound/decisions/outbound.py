"""Campaign list -> outbound cases: the batch decision reaches the hub.

An optimised assignment (``CampaignResult.rows()`` or the ``somebound optimize`` CSV)
says which customer gets which action on which treatment channel. Each row becomes an
outbound case through the hub's own
:func:`somebound.pipeline.agent_actions.open_outbound`, so the message goes out through
that channel's sender and the case, the message and the events are exactly those of an
agent-started contact (every metric sees them as outbound).

Re-running the same campaign does not contact anybody twice: a row whose customer
already has an outbound case from this campaign and action is skipped. Rows that cannot
be sent (no identity on that channel, no sender configured, unknown customer) are kept
with the hub's reason, so the campaign owner sees who was not reached and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from somebound.core.enums import Channel
from somebound.decisions.catalogue import Catalogue

# treatment channel -> hub channel of the outbound message. A call is opened as a phone
# case (the agent calls; the "message" is the call script sent through the phone sender).
TREATMENT_TO_HUB: dict[str, Channel] = {
    "email": Channel.EMAIL,
    "sms": Channel.SMS,
    "call": Channel.PHONE,
    "social_dm": Channel.FACEBOOK,
}


@dataclass
class OpenedCases:
    """What happened to each campaign row."""

    opened: list[dict[str, Any]] = field(default_factory=list)  # row + case_id, message_id
    skipped: list[dict[str, Any]] = field(default_factory=list)  # row + reason (already open)
    failed: list[dict[str, Any]] = field(default_factory=list)  # row + reason, status

    def summary(self) -> dict[str, Any]:
        return {
            "opened": len(self.opened),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "cases": [{"customer_id": r["customer_id"], "case_id": r["case_id"]} for r in self.opened],
            "not_reached": [
                {"customer_id": r["customer_id"], "action": r["action"], "channel": r["channel"], "reason": r["reason"]}
                for r in self.failed
            ],
        }


def open_campaign_cases(
    engine: Engine,
    senders: Mapping[Channel, Any],
    rows: Iterable[Mapping[str, Any]],
    *,
    queue: str = "outbound",
    agent_id: int | None = None,
    catalogue: Catalogue | None = None,
    sla_seconds: int | None = None,
    channel_map: Mapping[str, Channel] = TREATMENT_TO_HUB,
) -> OpenedCases:
    """Open one outbound case per assignment row (``customer_id``, ``action``, ``channel``,
    optional ``campaign_id``); see the module docstring."""
    from somebound.pipeline.agent_actions import ActionError, open_outbound

    out = OpenedCases()
    for raw in rows:
        row = dict(raw)
        treatment = str(row["channel"])
        channel = channel_map.get(treatment)
        if channel is None:
            out.failed.append({**row, "reason": f"treatment channel {treatment!r} has no hub channel", "status": 422})
            continue
        try:
            customer_id = int(row["customer_id"])
        except (TypeError, ValueError):
            out.failed.append({**row, "reason": f"customer id {row['customer_id']!r} is not a hub customer id", "status": 422})
            continue
        campaign = str(row.get("campaign_id") or "campaign")
        if _already_opened(engine, customer_id, campaign, str(row["action"])):
            out.skipped.append({**row, "reason": "already opened by this campaign"})
            continue
        body, subject = _body(catalogue, str(row["action"]), treatment)
        meta = {"campaign_id": campaign, "action": str(row["action"]), "treatment": treatment,
                "kind": row.get("kind", "optimised")}
        try:
            case_id, msg_id = open_outbound(engine, dict(senders), customer_id, channel, body, agent_id, queue,
                                            subject=subject, sla_seconds=sla_seconds, meta=meta)
        except ActionError as exc:
            out.failed.append({**row, "reason": str(exc), "status": exc.status})
            continue
        except Exception as exc:  # noqa: BLE001 - a failed send must not stop the campaign
            out.failed.append({**row, "reason": f"send failed: {exc}", "status": 502})
            continue
        out.opened.append({**row, "case_id": case_id, "message_id": msg_id})
    return out


def _body(catalogue: Catalogue | None, action: str, treatment: str) -> tuple[str, str | None]:
    if catalogue is not None:
        try:
            a = catalogue.action(action)
        except KeyError:
            a = None
        if a is not None:
            t = a.treatments.get(treatment)
            text = (t.template if t is not None and t.template else None) or a.name or action
            return text, a.name or action
    return action, None


def _already_opened(engine: Engine, customer_id: int, campaign: str, action: str) -> bool:
    """Does this customer have an outbound case opened by this campaign for this action?"""
    from somebound.store.tables import cases

    with engine.connect() as conn:
        origins = conn.execute(
            select(cases.c.insights).where(cases.c.customer_id == customer_id, cases.c.bound == "outbound")
        ).scalars()
        for ins in origins:
            origin = (ins or {}).get("origin") or {}
            if origin.get("campaign_id") == campaign and origin.get("action") == action:
                return True
    return False
