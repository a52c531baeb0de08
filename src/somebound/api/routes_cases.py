"""REST: log in, cases, customers, queues, dead letters."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import select

from somebound.api import queries
from somebound.api.schemas import (
    AssignIn,
    CaseDetail,
    CaseList,
    CustomerDetail,
    CustomerOut,
    LoginIn,
    NoteIn,
    OutboundIn,
    PriorityIn,
    QueueOut,
    ReplyIn,
    StatusIn,
    TokenOut,
)
from somebound.api.security import require_agent, require_supervisor
from somebound.core.enums import Bound, CaseStatus, Channel, Priority
from somebound.pipeline import agent_actions as actions
from somebound.pipeline.ingest import Change
from somebound.store.accounts import AgentRow, authenticate, issue_token
from somebound.store.tables import dead_letters

public = APIRouter(tags=["auth"])
router = APIRouter(dependencies=[Depends(require_agent)])


@public.post("/auth/login", response_model=TokenOut)
def login(body: LoginIn, request: Request) -> TokenOut:
    """Exchange a username and password for an API token."""
    with request.app.state.engine.begin() as conn:
        agent = authenticate(conn, body.username, body.password)
        if agent is None:
            raise HTTPException(401, "wrong username or password")
        token = issue_token(conn, agent.id, "login")
    return TokenOut(token=token, agent_id=agent.id, username=agent.username, role=agent.role)


@router.get("/cases", response_model=CaseList, tags=["cases"])
def list_cases(
    request: Request,
    queue: str | None = None,
    status: list[CaseStatus] | None = Query(None, description="default: every open status"),
    bound: Bound | None = None,
    channel: Channel | None = None,
    customer_id: int | None = None,
    priority: Priority | None = None,
    language: str | None = None,
    assignee_id: int | None = None,
    sort: str = Query("sla", pattern="^(sla|updated|opened|id)$"),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = None,
) -> CaseList:
    f = queries.CaseFilter(queue=queue, status=[s.value for s in status] if status else None,
                           bound=bound.value if bound else None,
                           channel=channel.value if channel else None, customer_id=customer_id,
                           priority=priority.value if priority else None, language=language,
                           assignee_id=assignee_id, sort=sort, limit=limit, cursor=cursor)
    try:
        with request.app.state.engine.connect() as conn:
            rows, nxt = queries.list_cases(conn, f)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return CaseList(items=rows, next_cursor=nxt)


@router.get("/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
def get_case(case_id: int, request: Request) -> dict:
    with request.app.state.engine.connect() as conn:
        detail = queries.case_detail(conn, case_id)
    if detail is None:
        raise HTTPException(404, f"case {case_id} does not exist")
    return detail


def _run(request: Request, case_id: int, fn, *args):  # noqa: ANN001, ANN202
    try:
        result = fn(*args)
    except actions.ActionError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    request.app.state.broadcaster.publish([Change("case", case_id)])
    return result


@router.post("/cases/{case_id}/reply", tags=["cases"])
def reply(case_id: int, body: ReplyIn, request: Request,
          agent: AgentRow = Depends(require_agent)) -> dict:
    """Answer through the case's channel, publicly or privately where the channel allows."""
    st = request.app.state
    res = _run(request, case_id, actions.reply, st.engine, st.senders, case_id, agent.id,
               body.body, body.public, body.handling_seconds,
               st.settings.default_handling_seconds)
    return {"message_id": res.message_id, "native_id": res.native_id,
            "first_response": res.first_response}


@router.post("/cases/{case_id}/notes", tags=["cases"])
def note(case_id: int, body: NoteIn, request: Request,
         agent: AgentRow = Depends(require_agent)) -> dict:
    """An internal note: never sent to the customer."""
    msg_id = _run(request, case_id, actions.add_note, request.app.state.engine, case_id,
                  agent.id, body.body)
    return {"message_id": msg_id}


@router.post("/cases/{case_id}/assign", tags=["cases"])
def assign(case_id: int, body: AssignIn, request: Request,
           agent: AgentRow = Depends(require_agent)) -> dict:
    _run(request, case_id, actions.assign, request.app.state.engine, case_id, body.agent_id,
         agent.id)
    return {"ok": True}


@router.post("/cases/{case_id}/status", tags=["cases"])
def set_status(case_id: int, body: StatusIn, request: Request,
               agent: AgentRow = Depends(require_agent)) -> dict:
    _run(request, case_id, actions.set_status, request.app.state.engine, case_id, body.status,
         agent.id)
    hook = getattr(request.app.state, "on_status_changed", None)
    if hook:
        hook(case_id, body.status)
    return {"ok": True}


@router.post("/cases/{case_id}/priority", tags=["cases"])
def set_priority(case_id: int, body: PriorityIn, request: Request,
                 agent: AgentRow = Depends(require_agent)) -> dict:
    _run(request, case_id, actions.set_priority, request.app.state.engine, case_id,
         body.priority, agent.id)
    return {"ok": True}


@router.post("/cases/outbound", tags=["cases"])
def outbound(body: OutboundIn, request: Request,
             agent: AgentRow = Depends(require_agent)) -> dict:
    """The company starts a contact: sends the message and opens an outbound case."""
    st = request.app.state
    try:
        case_id, msg_id = actions.open_outbound(st.engine, st.senders, body.customer_id,
                                                body.channel, body.body, agent.id, body.queue,
                                                body.subject)
    except actions.ActionError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    st.broadcaster.publish([Change("case", case_id)])
    return {"case_id": case_id, "message_id": msg_id}


@router.get("/customers", response_model=list[CustomerOut], tags=["customers"])
def find_customers(request: Request, q: str = Query(..., min_length=1)) -> list[dict]:
    with request.app.state.engine.connect() as conn:
        return queries.search_customers(conn, q)


@router.get("/customers/{customer_id}", response_model=CustomerDetail, tags=["customers"])
def customer(customer_id: int, request: Request) -> dict:
    """The customer with identities, cases and the cross-channel timeline (newest first)."""
    with request.app.state.engine.connect() as conn:
        detail = queries.customer_detail(conn, customer_id)
    if detail is None:
        raise HTTPException(404, f"customer {customer_id} does not exist")
    return detail


@router.get("/queues", response_model=list[QueueOut], tags=["queues"])
def queues(request: Request) -> list[dict]:
    with request.app.state.engine.connect() as conn:
        return queries.list_queues(conn)


@router.get("/dead-letters", tags=["operations"], dependencies=[Depends(require_supervisor)])
def list_dead_letters(request: Request, limit: int = Query(50, ge=1, le=500)) -> list[dict]:
    """Rejected payloads with the reason they were rejected (nothing is thrown away)."""
    with request.app.state.engine.connect() as conn:
        rows = conn.execute(select(dead_letters.c.id, dead_letters.c.channel,
                                   dead_letters.c.source, dead_letters.c.reason,
                                   dead_letters.c.received_at, dead_letters.c.payload)
                            .order_by(dead_letters.c.id.desc()).limit(limit))
        return [{"id": r.id, "channel": r.channel, "source": r.source, "reason": r.reason,
                 "received_at": r.received_at,
                 "payload_preview": bytes(r.payload[:500]).decode("utf-8", "replace")}
                for r in rows]
