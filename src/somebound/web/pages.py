"""The agent's and the supervisor's pages: inbox, case, notifications, settings, supervisor.

Every page is server-rendered HTML and every action is a plain form POST that redirects
back (works without JavaScript and with the keyboard); ``static/app.js`` enhances them
with live updates over Server-Sent Events, canned-answer search and presence heartbeats.
Pages authenticate with the ``somebound_token`` cookie the login form sets (HttpOnly,
SameSite=Lax); state-changing requests also need a CSRF token bound to that cookie.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Connection, bindparam, or_, select, update

from somebound.api import queries
from somebound.api.live import EventRelay
from somebound.api.security import COOKIE, token_from
from somebound.core.enums import Bound, CaseStatus, Channel, Priority
from somebound.pipeline import agent_actions as actions
from somebound.pipeline.agent_actions import PRIVATE_CAPABLE, PUBLIC_CAPABLE
from somebound.pipeline.ingest import Change
from somebound.store import lean
from somebound.store import web as store
from somebound.store.accounts import (
    AgentRow,
    authenticate,
    issue_token,
    revoke_token,
)
from somebound.store.base import utcnow
from somebound.store.tables import agents, events
from somebound.web import panels as panel_registry
from somebound.web import supervision
from somebound.web.answers import ANSWER_LANGUAGES, default_bank, fill
from somebound.web.i18n import LANGUAGES, normalise_language
from somebound.web.live import Notifier, event_stream
from somebound.web.render import STATIC, csrf_token, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
FILTERS = {  # query parameter -> allowed values (None: free text)
    "status": [s.value for s in CaseStatus],
    "channel": [c.value for c in Channel],
    "bound": [b.value for b in Bound],
    "priority": [p.value for p in Priority],
    "sort": list(queries.SORTS),
}


# What the case page's history lists (messages are in the thread already).
HISTORY_EVENTS = ("case_opened", "case_routed", "case_assigned", "case_status_changed",
                  "case_priority_changed", "case_reopened", "first_response",
                  "parallel_contact", "decision_made", "outcome_recorded")


# The case page's own statements, built once (values bound; see api.queries).
_STAFF = (select(agents.c.id, agents.c.display_name).where(agents.c.active.is_(True))
          .order_by(agents.c.display_name))
_HISTORY = (select(events.c.type, events.c.at, events.c.agent_id, events.c.data)
            .where(events.c.case_id == bindparam("case_id"),
                   or_(*(events.c.type == t for t in HISTORY_EVENTS)))
            .order_by(events.c.id.desc()).limit(20))


# The GET pages' own threads (see _page_route): at most this many pages are built at once
# per process; the database pool has 10 (+10 overflow) connections for them and the rest.
_PAGE_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="somebound-page")


def _page_route(path: str, endpoint: Callable[[Request], Response]) -> None:
    """A GET page as a plain Starlette route; ``endpoint(request)`` runs in a page thread.

    FastAPI's handler (dependency solving for the parameters, two exit stacks, response
    validation) cost ~0.2 ms of a ~7 ms page, and AnyIO's hand-off to its thread pool
    (capacity limiter, cancel scope, a ``queue.Queue``) ~0.1 ms more than the event loop's
    ``run_in_executor``; these pages take nothing but the request, so they skip both. The
    endpoint is synchronous (it blocks on the database), so it still runs off the event
    loop, in the context of the request (``contextvars``). Errors still go through the
    app's exception handlers (``LoginRequired``, ``HTTPException``). A path parameter's
    type is its convertor (``{case_id:int}``): a non-numeric case id is a 404 rather than
    FastAPI's 422.
    """

    async def page(request: Request) -> Response:
        run = contextvars.copy_context().run
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_PAGE_THREADS, run, endpoint, request)

    page.__name__ = page.__qualname__ = endpoint.__name__
    router.add_route(path, page, methods=["GET"], include_in_schema=False)


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


# -- request helpers -----------------------------------------------------------------------

def _agent(request: Request, conn: Connection) -> AgentRow:
    """The logged-in agent (or a redirect to the login page); their unread badge comes in
    the same query and waits in ``request.state.unread`` for the page frame."""
    token = token_from(request)
    found = store.page_agent(conn, token) if token else None
    if found is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query
                                                else ""))
    request.state.agent, request.state.unread = found
    return found[0]


def _csrf(request: Request) -> str:
    return csrf_token(request.app.state.settings.session_secret, token_from(request) or "")


async def _form(request: Request) -> dict[str, str]:
    """URL-encoded form fields (first value of each); JSON bodies are accepted too."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        import json

        data = json.loads(raw or b"{}")
        return {k: "" if v is None else str(v) for k, v in data.items()}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}


def _check_csrf(request: Request, form: dict[str, str]) -> None:
    """Same-origin requests only: the Origin (when sent) and the session-bound token."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise HTTPException(403, f"cross-site request from {origin} refused")
    sent = request.headers.get("x-csrf-token") or form.get("csrf", "")
    if not hmac.compare_digest(sent, _csrf(request)):
        raise HTTPException(403, "missing or stale CSRF token: reload the page and try again")


def _wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


def _partial(request: Request) -> bool:
    return request.headers.get("x-partial") == "1"


def rows_view(rows: list[dict]) -> list[SimpleNamespace]:
    """Rows as attribute objects: Jinja2 reads ``row.id`` from a dict only after a failed
    ``getattr`` (an exception per cell), which was the largest cost of a 50-row page."""
    return [SimpleNamespace(**r) for r in rows]


def _base(request: Request, conn: Connection, agent: AgentRow, now: datetime) -> dict[str, Any]:
    """What every page's frame needs: who, the badge, the spike banner, the CSRF token."""
    return {"agent": agent, "now": now, "csrf": _csrf(request), "path": request.url.path,
            "unread": getattr(request.state, "unread", None)
            if getattr(request.state, "agent", None) is agent
            else store.unread_count(conn, agent.id),
            "spikes": supervision.open_spikes(conn, now, request.app.state),
            "is_supervisor": agent.role in ("supervisor", "admin")}


def _html(lang: str, name: str, **ctx: Any) -> HTMLResponse:
    return HTMLResponse(render(lang, name, **ctx))


def _done(request: Request, url: str, payload: dict | None = None) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": True, **(payload or {})})
    return RedirectResponse(url, status_code=303)


def _publish(request: Request, *items: Any) -> None:
    request.app.state.broadcaster.publish(list(items))


# -- login ----------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/inbox", error: str = "") -> HTMLResponse:
    lang = normalise_language(request.headers.get("accept-language", "en")[:2])
    return HTMLResponse(render(lang, "login.html", next=_safe_next(next), error=error,
                               agent=None, unread=0, spikes=[], path="/login"))


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/inbox"


@router.post("/login")
async def login_submit(request: Request) -> Response:
    form = await _form(request)
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise HTTPException(403, f"cross-site login from {origin} refused")
    nxt = _safe_next(form.get("next", "/inbox"))
    with request.app.state.engine.begin() as conn:
        agent = authenticate(conn, form.get("username", ""), form.get("password", ""))
        token = issue_token(conn, agent.id, "web") if agent else None
    if token is None:
        return RedirectResponse(f"/login?error=1&next={quote(nxt)}", status_code=303)
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="lax", path="/",
                    secure=request.url.scheme == "https", max_age=12 * 3600)
    return resp


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    _check_csrf(request, form)
    token = token_from(request)
    if token:
        with request.app.state.engine.begin() as conn:
            revoke_token(conn, token)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/")
def root() -> Response:
    return RedirectResponse("/inbox", status_code=303)


# -- inbox ----------------------------------------------------------------------------------

def inbox_filters(params: dict[str, str]) -> tuple[queries.CaseFilter, dict[str, str], list[str]]:
    """The case filter from query parameters; bad values are dropped and reported."""
    chosen: dict[str, str] = {}
    problems: list[str] = []
    for key in ("queue", "status", "channel", "bound", "priority", "language", "sort",
                "mine", "cursor"):
        value = (params.get(key) or "").strip()
        if not value:
            continue
        allowed = FILTERS.get(key)
        if allowed is not None and value not in allowed:
            problems.append(f"{key}={value!r} is not one of {', '.join(allowed)}")
            continue
        chosen[key] = value
    f = queries.CaseFilter(queue=chosen.get("queue"),
                           status=[chosen["status"]] if "status" in chosen else None,
                           channel=chosen.get("channel"), bound=chosen.get("bound"),
                           priority=chosen.get("priority"), language=chosen.get("language"),
                           sort=chosen.get("sort", "sla"), limit=PAGE_SIZE,
                           cursor=chosen.get("cursor"))
    return f, chosen, problems


# What an inbox row shows (web/rows.py), and the sort key its cursor needs: no timestamps
# nobody sees, converted to UTC and put in a dict for each of 50 rows.
INBOX_COLUMNS = ("id", "channel", "bound", "status", "priority", "queue", "subject", "public",
                 "parallel", "sla_due_at")


def _inbox_columns(sort: str) -> tuple[str, ...]:
    key = queries.SORTS.get(sort, "sla_due_at")
    return INBOX_COLUMNS if key in INBOX_COLUMNS else (*INBOX_COLUMNS, key)


def inbox_context(conn: Connection, agent: AgentRow, params: dict[str, str]) -> dict[str, Any]:
    """Queues with their maintained counts and one keyset page of cases (no COUNT(*))."""
    f, chosen, problems = inbox_filters(params)
    if chosen.get("mine"):
        f.assignee_id = agent.id
    columns = _inbox_columns(f.sort)
    try:
        rows, next_cursor = queries.list_cases(conn, f, columns)
    except ValueError as exc:
        problems.append(str(exc))
        f.cursor = None
        chosen.pop("cursor", None)
        rows, next_cursor = queries.list_cases(conn, f, columns)
    keep = {k: v for k, v in chosen.items() if k != "cursor"}
    return {"queues": rows_view(queries.list_queues(conn)), "rows": rows,  # see web/rows.py
            "filters": chosen,
            "problems": problems, "options": FILTERS,
            "next_url": ("/inbox?" + urlencode({**keep, "cursor": next_cursor}))
            if next_cursor else None,
            "query": urlencode(keep), "first_page": "cursor" not in chosen,
            "queue_url": lambda q: "/inbox?" + urlencode(
                {k: v for k, v in keep.items() if k not in ("queue", "mine")}
                | ({"queue": q} if q else {}))}


def inbox(request: Request) -> HTMLResponse:
    """The inbox list (a plain Starlette route: see :func:`_page_route`)."""
    now = utcnow()
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
        ctx = inbox_context(conn, agent, dict(request.query_params))
        if _partial(request):
            return _html(agent.language, "_inbox_live.html", now=now, agent=agent, **ctx)
        ctx.update(_base(request, conn, agent, now))
    return _html(agent.language, "inbox.html", **ctx)


_page_route("/inbox", inbox)


# -- case -----------------------------------------------------------------------------------

def message_role(m: dict, case_customer: int | None) -> str:
    if m["kind"] == "note":
        return "note"
    if m["is_company"]:
        return "company"
    return "customer" if m["customer_id"] == case_customer else "bystander"


def _when(at: datetime | None) -> tuple[str, str]:
    """A time's ``datetime=`` attribute and its text, as the ``iso`` and ``dt`` filters
    give them, computed in the one pass that builds the view (a filter call per cell was
    a visible part of the case page's rendering)."""
    if at is None:
        return "", "—"
    at = at.astimezone(UTC)
    return at.isoformat(), at.strftime("%Y-%m-%d %H:%M")


def _truncate(text: str | None, length: int = 100, leeway: int = 5) -> str:
    """Jinja2's ``truncate(length)``: whole words, "...", kept whole within ``leeway``."""
    text = text or ""
    if len(text) <= length + leeway:
        return text
    return text[: length - 3].rsplit(" ", 1)[0] + "..."


def case_context(conn: Connection, agent: AgentRow, case_id: int, now: datetime) -> dict | None:
    """Everything the case page shows: thread, customer 360, controls, panels, presence."""
    detail = queries.case_detail(conn, case_id)
    if detail is None:
        return None
    customer = None
    if detail["customer_id"] is not None:
        customer = queries.customer_detail(conn, detail["customer_id"], timeline_limit=30,
                                           case_columns=queries.LIST_COLUMN_NAMES)
    for m in detail["messages"]:
        m["role"] = message_role(m, detail["customer_id"])
    other_open = [c for c in (customer or {}).get("cases", [])
                  if c["id"] != case_id and CaseStatus(c["status"]).is_open]
    channel = Channel(detail["channel"])
    staff = lean.dicts(conn, _STAFF)
    names = {a["id"]: a["display_name"] for a in staff}
    for m in detail["messages"]:
        m["agent_name"] = names.get(m["agent_id"]) if m["agent_id"] else None
    history = [SimpleNamespace(type=type_, at=at, agent=names.get(agent_id), data=data or {})
               for type_, at, agent_id, data in lean.rows(conn, _HISTORY,
                                                          {"case_id": case_id})[1]]
    for m in detail["messages"]:
        m["sent_iso"], m["sent_text"] = _when(m["sent_at"])
    for h in history:
        h.at_iso, h.at_text = _when(h.at)
    case_view = SimpleNamespace(**detail)
    case_view.messages = rows_view(detail["messages"])
    case_view.participants = rows_view(detail["participants"])
    customer_view = None
    if customer is not None:
        for t in customer["timeline"]:
            t["at_iso"], t["at_text"] = _when(t["at"])
            t["body_short"] = _truncate(t["body"])
        customer_view = SimpleNamespace(**customer)
        for key in ("identities", "cases", "timeline"):
            setattr(customer_view, key, rows_view(customer[key]))
    return {
        "case": case_view, "customer": customer_view, "other_open": rows_view(other_open),
        "following": store.following(conn, agent.id, case_id, detail["customer_id"]),
        "others": store.others_on_case(conn, case_id, agent.id, now=now),
        "panels": panel_registry.render_data(conn, detail, customer),
        "agents": rows_view(staff), "history": history,
        # a public answer needs a public thread to answer in (not a Messenger chat or a DM)
        "can_public": channel in PUBLIC_CAPABLE and bool(detail["public"]),
        "can_private": channel in PRIVATE_CAPABLE,
        "statuses": [s.value for s in CaseStatus], "priorities": [p.value for p in Priority],
        "answer_langs": ANSWER_LANGUAGES,
        "answer_lang": detail["language"] if detail["language"] in ANSWER_LANGUAGES else (
            agent.language if agent.language in ANSWER_LANGUAGES else "en"),
    }


def case_page(request: Request) -> HTMLResponse:
    """A case (a plain Starlette route: see :func:`_page_route`)."""
    case_id: int = request.path_params["case_id"]
    now = utcnow()
    engine = request.app.state.engine
    with engine.connect() as conn:
        agent = _agent(request, conn)
        ctx = case_context(conn, agent, case_id, now)
        if ctx is None:
            raise HTTPException(404, f"case {case_id} does not exist")
        if _partial(request):
            return _html(agent.language, "_case_live.html", now=now, agent=agent, **ctx)
        ctx.update(_base(request, conn, agent, now))
    return _html(agent.language, "case.html", **ctx)


_page_route("/inbox/cases/{case_id:int}", case_page)


async def _action(request: Request, case_id: int) -> tuple[AgentRow, dict[str, str]]:
    form = await _form(request)
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
    _check_csrf(request, form)
    return agent, form


def _run(request: Request, case_id: int, fn: Any, *args: Any) -> Any:
    try:
        result = fn(*args)
    except actions.ActionError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    _publish(request, Change("case", case_id))
    return result


# A canned answer's variable nobody filled in ("{order_number}"): never send that to a
# customer, least of all in public.
UNFILLED = re.compile(r"\{[a-z_]{2,40}\}")


@router.post("/inbox/cases/{case_id}/reply")
async def case_reply(case_id: int, request: Request) -> Response:
    agent, form = await _action(request, case_id)
    st = request.app.state
    unfilled = UNFILLED.findall(form.get("body", ""))
    if unfilled:
        raise HTTPException(422, f"fill in {', '.join(dict.fromkeys(unfilled))} before sending")
    visibility = form.get("visibility", "")
    public = {"public": True, "private": False}.get(visibility)
    res = _run(request, case_id, actions.reply, st.engine, st.senders, case_id, agent.id,
               form.get("body", ""), public, None, st.settings.default_handling_seconds)
    with st.engine.begin() as conn:
        store.touch_presence(conn, case_id, agent.id, composing=False)
    return _done(request, f"/inbox/cases/{case_id}", {
        "message_id": res.message_id, "first_response": res.first_response})


@router.post("/inbox/cases/{case_id}/note")
async def case_note(case_id: int, request: Request) -> Response:
    agent, form = await _action(request, case_id)
    msg_id = _run(request, case_id, actions.add_note, request.app.state.engine, case_id,
                  agent.id, form.get("body", ""))
    return _done(request, f"/inbox/cases/{case_id}", {"message_id": msg_id})


@router.post("/inbox/cases/{case_id}/update")
async def case_update(case_id: int, request: Request) -> Response:
    """Status, priority and assignee in one form; only what changed is applied."""
    agent, form = await _action(request, case_id)
    engine = request.app.state.engine
    with engine.connect() as conn:
        current = queries.case_detail(conn, case_id)
    if current is None:
        raise HTTPException(404, f"case {case_id} does not exist")
    try:
        if form.get("status") and form["status"] != current["status"]:
            _run(request, case_id, actions.set_status, engine, case_id,
                 CaseStatus(form["status"]), agent.id)
            hook = getattr(request.app.state, "on_status_changed", None)
            if hook:
                hook(case_id, CaseStatus(form["status"]))
        if form.get("priority") and form["priority"] != current["priority"]:
            _run(request, case_id, actions.set_priority, engine, case_id,
                 Priority(form["priority"]), agent.id)
        if "assignee" in form:
            wanted = agent.id if form["assignee"] == "me" else (
                int(form["assignee"]) if form["assignee"] else None)
            if wanted != current["assignee_id"]:
                _run(request, case_id, actions.assign, engine, case_id, wanted, agent.id)
    except ValueError as exc:
        raise HTTPException(422, f"bad value: {exc}") from exc
    return _done(request, f"/inbox/cases/{case_id}")


@router.post("/inbox/cases/{case_id}/follow")
async def case_follow(case_id: int, request: Request) -> Response:
    agent, form = await _action(request, case_id)
    target = form.get("target", "case")
    engine = request.app.state.engine
    with engine.begin() as conn:
        detail = queries.case_detail(conn, case_id)
        if detail is None:
            raise HTTPException(404, f"case {case_id} does not exist")
        target_id = case_id if target == "case" else detail["customer_id"]
        if target not in store.FOLLOW_KINDS or target_id is None:
            raise HTTPException(422, "target must be 'case' or 'customer' (with a customer)")
        if form.get("action", "follow") == "unfollow":
            store.unfollow(conn, agent.id, target, target_id)
        else:
            store.follow(conn, agent.id, target, target_id)
        state = store.following(conn, agent.id, case_id, detail["customer_id"])
    return _done(request, f"/inbox/cases/{case_id}", {"following": state})


def _presence_json(conn: Connection, case_id: int, agent_id: int) -> dict:
    others = store.others_on_case(conn, case_id, agent_id)
    return {"others": [{"agent_id": o["agent_id"], "name": o["display_name"],
                        "composing": bool(o["composing"])} for o in others]}


@router.post("/inbox/cases/{case_id}/presence")
async def case_presence(case_id: int, request: Request) -> JSONResponse:
    """Heartbeat of an open case page; answers who else has the case open."""
    agent, form = await _action(request, case_id)
    composing = form.get("composing") in ("1", "true")
    leaving = form.get("leave") in ("1", "true")
    engine = request.app.state.engine
    with engine.begin() as conn:
        before = {(o["agent_id"], bool(o["composing"])) for o in
                  store.others_on_case(conn, case_id, -1)}
        if leaving:
            store.leave_case(conn, case_id, agent.id)
        else:
            store.touch_presence(conn, case_id, agent.id, composing)
        after = {(o["agent_id"], bool(o["composing"])) for o in
                 store.others_on_case(conn, case_id, -1)}
        payload = _presence_json(conn, case_id, agent.id)
    if before != after:
        _publish(request, {"kind": "presence", "case_id": case_id, "agent_id": agent.id})
    return JSONResponse(payload)


@router.get("/inbox/cases/{case_id}/presence")
def case_presence_get(case_id: int, request: Request) -> JSONResponse:
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
        return JSONResponse(_presence_json(conn, case_id, agent.id))


@router.get("/inbox/answers")
def answers(request: Request, q: str = "", lang: str = "en", case_id: int | None = None,
            ) -> JSONResponse:
    """Canned answers matching ``q`` in ``lang``, variables filled for the case."""
    if lang not in ANSWER_LANGUAGES:
        raise HTTPException(422, f"lang must be one of {', '.join(ANSWER_LANGUAGES)}")
    values: dict[str, Any] = {}
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
        values["agent_name"] = agent.display_name
        if case_id is not None:
            detail = queries.case_detail(conn, case_id)
            if detail is not None:
                values["case_number"] = f"#{case_id}"
                values["customer_name"] = _first_name(detail.get("customer_name")) or next(
                    (m["author_name"] for m in detail["messages"]
                     if m["direction"] == "in" and m["author_name"]), "")
    values["date"] = utcnow().date().isoformat()
    bank = getattr(request.app.state, "answer_bank", None) or default_bank()
    hits = bank.search(q, lang, limit=8)
    return JSONResponse({"answers": [h | {"text": fill(bank, h["body"], values)}
                                     for h in hits]})


def _first_name(name: str | None) -> str:
    return (name or "").split(" ")[0] if name and "@" not in name else (name or "")


# -- notifications and settings --------------------------------------------------------------

@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request) -> HTMLResponse:
    now = utcnow()
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
        items = store.list_notifications(conn, agent.id, limit=100)
        ctx = _base(request, conn, agent, now)
    return _html(agent.language, "notifications.html", items=items, **ctx)


@router.post("/notifications/read")
async def notifications_read(request: Request) -> Response:
    form = await _form(request)
    with request.app.state.engine.begin() as conn:
        agent = _agent(request, conn)
        _check_csrf(request, form)
        ids = [int(i) for i in form.get("ids", "").split(",") if i.strip().isdigit()] or None
        store.mark_read(conn, agent.id, ids)
    return _done(request, "/notifications")


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, saved: str = "") -> HTMLResponse:
    now = utcnow()
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
        available = conn.execute(select(agents.c.available)
                                 .where(agents.c.id == agent.id)).scalar()
        ctx = _base(request, conn, agent, now)
    return _html(agent.language, "settings.html", languages=LANGUAGES, saved=bool(saved),
                 available=bool(available), **ctx)


@router.post("/settings")
async def settings_submit(request: Request) -> Response:
    form = await _form(request)
    with request.app.state.engine.begin() as conn:
        agent = _agent(request, conn)
        _check_csrf(request, form)
        lang = form.get("language", agent.language)
        if lang not in LANGUAGES:
            raise HTTPException(422, f"language must be one of {', '.join(LANGUAGES)}")
        conn.execute(update(agents).where(agents.c.id == agent.id).values(
            language=lang, available=form.get("available") in ("1", "on", "true")))
    return _done(request, "/settings?saved=1")


# -- supervisor ------------------------------------------------------------------------------

def supervisor_context(conn: Connection, now: datetime, app_state: object) -> dict[str, Any]:
    start = datetime.combine(now.date(), time(0), tzinfo=UTC)
    volumes = supervision.today_volumes(conn, start, start + timedelta(days=1))
    from somebound.web.charts import bar_chart

    by_channel: dict[str, dict[str, int]] = {}
    frt: dict[str, float] = {}
    for v in volumes:
        by_channel.setdefault(v.channel, {})[v.bound] = v.received
        if v.frt_avg_seconds is not None:
            frt[f"{v.channel} · {v.bound}"] = v.frt_avg_seconds / 60
    bounds = [b.value for b in Bound]
    return {
        "health": supervision.queue_health(conn, now),
        "agents_load": supervision.agent_load(conn),
        "volumes": volumes, "day_start": start,
        "volume_chart": bar_chart({c: [d.get(b, 0) for b in bounds]
                                   for c, d in sorted(by_channel.items())}, bounds,
                                  title="messages received"),
        "frt_chart": bar_chart({k: [v] for k, v in sorted(frt.items())}, ["minutes"],
                               title="average first response, minutes", decimals=1),
    }


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor_page(request: Request) -> HTMLResponse:
    now = utcnow()
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
        if agent.role not in ("supervisor", "admin"):
            raise HTTPException(403, "the supervisor pages are for supervisors and admins")
        ctx = supervisor_context(conn, now, request.app.state)
        if _partial(request):
            return _html(agent.language, "_supervisor_live.html", now=now, agent=agent, **ctx)
        ctx.update(_base(request, conn, agent, now))
    return _html(agent.language, "supervisor.html", **ctx)


# -- live -------------------------------------------------------------------------------------

@router.get("/live")
async def live(request: Request) -> StreamingResponse:
    """Server-Sent Events: case and message changes, presence, and my notifications."""
    with request.app.state.engine.connect() as conn:
        agent = _agent(request, conn)
    return StreamingResponse(
        event_stream(request.app.state.broadcaster, agent.id, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# -- wiring -------------------------------------------------------------------------------------

def setup(app: FastAPI) -> None:
    """Called by ``create_app``: tables, static files, login redirects, the notifier."""
    # the web tables and the inbox's indexes come with migrations 0002 and 0003
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request) or request.url.path == "/live":
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse("/login?next=" + quote(exc.next_url), status_code=303)

    notifier = Notifier(app.state.engine, app.state.broadcaster)
    app.state.web_notifier = notifier
    # Changes committed by any process (a separate `somebound worker`, another API process)
    # reach this process's pages through the event log.
    relay = EventRelay(app.state.engine, app.state.broadcaster)
    app.state.event_relay = relay
    app.state.startup_hooks.append(lambda _app: (notifier.start(), relay.start()))
    app.state.shutdown_hooks.append(lambda _app: (relay.stop(), notifier.stop()))
