"""HTTP edge of the decision hub. No auth here: the app includes this router with it.

The service object is ``request.app.state.decisions`` (a
:class:`somebound.decisions.service.DecisionService`).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from somebound.decisions.service import DecisionService, UnknownDecision
from somebound.decisions.yamlsource import PolicyError

router = APIRouter()


class DecisionRequest(BaseModel):
    customer_id: str | int | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict, description="channel, intent, bound, channels, ...")
    k: int = Field(3, ge=1, le=50, description="actions per treatment channel")
    deadline_ms: float | None = Field(50.0, gt=0, description="return the fallback list if missed")


class OutcomeRequest(BaseModel):
    decision_id: str
    outcome: Literal["accepted", "declined", "ignored"]
    action: str | None = None
    channel: str | None = None


def _service(request: Request) -> DecisionService:
    svc = getattr(request.app.state, "decisions", None)
    if svc is None:
        raise HTTPException(503, "decision hub is not configured (app.state.decisions)")
    return svc


@router.post("/decisions")
def post_decision(body: DecisionRequest, request: Request) -> dict[str, Any]:
    svc = _service(request)
    try:
        d = svc.decide(
            customer_id=None if body.customer_id is None else str(body.customer_id),
            attributes=body.attributes,
            context=body.context,
            k=body.k,
            deadline_ms=body.deadline_ms,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    out = d.to_dict()
    out["filtered"] = d.filtered
    return out


@router.post("/outcomes")
def post_outcome(body: OutcomeRequest, request: Request) -> dict[str, Any]:
    svc = _service(request)
    try:
        return svc.record_outcome(body.decision_id, body.outcome, action=body.action, channel=body.channel)
    except UnknownDecision:
        raise HTTPException(404, f"unknown decision {body.decision_id!r}") from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/actions")
def get_actions(request: Request) -> dict[str, Any]:
    svc = _service(request)
    cat = svc.catalogue
    return {
        "version": cat.version,
        "digest": cat.digest,
        "catalogue": cat.raw,
        "actions": [
            {
                "id": a.id,
                "name": a.name,
                "department": a.department,
                "issue": a.issue,
                "group": a.group,
                "type": a.type,
                "value": a.value,
                "channels": sorted(a.treatments),
                "rules": {k: list(v) for k, v in a.rules.items()},
            }
            for a in cat.actions
        ],
    }


@router.put("/actions")
async def put_actions(request: Request) -> dict[str, Any]:
    """Upload a catalogue: YAML text (``application/yaml`` / ``text/plain``) or JSON."""
    svc = _service(request)
    ctype = request.headers.get("content-type", "")
    source: str | dict[str, Any]
    if "json" in ctype:
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise HTTPException(422, "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(422, "a JSON catalogue must be an object with an 'actions' list")
        source = body
    else:
        source = (await request.body()).decode("utf-8")
    try:
        cat = svc.put_catalogue(source, name="PUT /actions")
    except PolicyError as exc:
        raise HTTPException(422, {"error": str(exc), "line": exc.line, "problem": exc.problem}) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"version": cat.version, "digest": cat.digest, "actions": len(cat.actions)}


@router.get("/decisions/{decision_id}/explanation")
def get_explanation(decision_id: str, request: Request) -> dict[str, Any]:
    svc = _service(request)
    try:
        return svc.explanation(decision_id)
    except UnknownDecision:
        raise HTTPException(404, f"unknown decision {decision_id!r}") from None


@router.get("/prices")
def get_prices(request: Request) -> dict[str, Any]:
    return _service(request).prices()


class CampaignRow(BaseModel):
    customer_id: int
    action: str
    channel: str = Field(description="treatment channel: email, sms, call, social_dm")
    campaign_id: str = "campaign"
    kind: str = "optimised"


class CampaignCasesRequest(BaseModel):
    rows: list[CampaignRow] = Field(description="assignment rows, e.g. from `somebound optimize`")
    queue: str = "outbound"
    agent_id: int | None = None
    sla_seconds: int | None = Field(None, gt=0)


@router.post("/campaigns/cases")
def post_campaign_cases(body: CampaignCasesRequest, request: Request) -> dict[str, Any]:
    """Turn a campaign assignment into outbound cases through the hub's senders.

    Rows already opened by the same campaign and action are skipped (safe to retry);
    rows that cannot be sent are listed with the hub's reason.
    """
    from somebound.decisions.outbound import open_campaign_cases

    st = request.app.state
    engine, senders = getattr(st, "engine", None), getattr(st, "senders", None)
    if engine is None or senders is None:
        raise HTTPException(503, "the hub store and senders are not configured (app.state.engine, app.state.senders)")
    svc = getattr(st, "decisions", None)
    result = open_campaign_cases(
        engine, senders, [r.model_dump() for r in body.rows], queue=body.queue, agent_id=body.agent_id,
        catalogue=None if svc is None else svc.catalogue, sla_seconds=body.sla_seconds,
    )
    broadcaster = getattr(st, "broadcaster", None)
    if broadcaster is not None and result.opened:
        from somebound.pipeline.ingest import Change

        broadcaster.publish([Change("case", r["case_id"]) for r in result.opened])
    return result.summary()
