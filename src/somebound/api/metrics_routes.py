"""HTTP endpoints for the supervisor pages' numbers and for answering surveys.

Two routers so the app can protect them differently:

- ``router``: ``GET /metrics/kpis``, ``/metrics/cost``, ``/metrics/nps``,
  ``/metrics/frt-distribution``, ``/metrics/agents`` — for supervisors, mount with auth;
- ``survey_router``: ``GET/POST /surveys/{token}`` — public, the signed token in the link
  is the only credential (it names the case and the survey kind and cannot be forged).

:func:`setup` (called by the app when it mounts ``router``) installs the survey sender:
a case solved through the API or the inbox gets its NPS/CSAT invitation through its
own channel (:mod:`somebound.metrics.survey_dispatch`).

Both take the SQLAlchemy engine from ``request.app.state.engine``; optional
``app.state.metrics_config`` (a :class:`~somebound.metrics.config.MetricsConfig`) and
``app.state.survey_secret`` (else ``$SOMEBOUND_SURVEY_SECRET``). Every figure is computed
from the ``events`` table at request time.
"""

from __future__ import annotations

import html
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from somebound.metrics.config import MetricsConfig, default_config
from somebound.metrics.kpis import Metrics, MetricsQueryError
from somebound.metrics.source import EVENTS, db_time, read_events, read_optional_table
from somebound.metrics.surveys import (
    SCALES,
    InvalidSurveyAnswer,
    InvalidSurveyToken,
    validate_score,
    verify_survey_token,
)

router = APIRouter(tags=["metrics"])
survey_router = APIRouter(tags=["surveys"])

From = Annotated[datetime | None, Query(alias="from", description="period start (UTC)")]
To = Annotated[datetime | None, Query(alias="to", description="period end, exclusive")]


def _config(request: Request) -> MetricsConfig:
    return _app_config(request.app)


def _app_config(app: Any) -> MetricsConfig:
    cfg = getattr(app.state, "metrics_config", None)
    if cfg is None:
        cfg = default_config()
        app.state.metrics_config = cfg
    return cfg


def setup(app: Any) -> None:
    """Send surveys when cases are solved (policy read at each solve, so it can change)."""
    from somebound.metrics.survey_dispatch import status_hook

    app.state.on_status_changed = status_hook(app, lambda: _app_config(app).surveys)


def _engine(request: Request) -> sa.Engine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise HTTPException(503, "no database engine on app.state.engine")
    return engine


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = _utc(end) if end else datetime.now(UTC)
    start = _utc(start) if start else end - timedelta(days=7)
    if end <= start:
        raise HTTPException(422, f"'to' ({end.isoformat()}) must be after 'from' "
                                 f"({start.isoformat()})")  # fmt: skip
    return start, end


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _metrics(request: Request, start: datetime, end: datetime, tz: str | None) -> Metrics:
    engine = _engine(request)
    agents = read_optional_table(engine, "agents", ("id", "team"))
    try:
        return Metrics(read_events(engine, start, end), config=_config(request), agents=agents,
                       tz=tz, as_of=datetime.now(UTC))  # fmt: skip
    except Exception as exc:  # unknown tz etc.
        raise HTTPException(422, str(exc)) from exc


def _payload(df: pd.DataFrame, start: datetime, end: datetime, **extra: Any) -> dict:
    rows = json.loads(df.to_json(orient="records", date_format="iso"))
    return {"from": start.isoformat(), "to": end.isoformat(), **extra, "rows": rows}


def _run(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    try:
        return fn(*args, **kwargs)
    except MetricsQueryError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/metrics/kpis")
def kpis(
    request: Request,
    start: From = None,
    end: To = None,
    group_by: str = Query("channel,bound", description="comma-separated dimensions"),
    tz: str | None = None,
) -> dict:
    """Volumes, FRT (wall/business), service level, AHT, resolution, reopen, parallel,
    cost and reach per group for contacts opened in the period."""
    start, end = _period(start, end)
    m = _metrics(request, start, end, tz)
    df = _run(m.kpis, start, end, group_by)
    return _payload(df, start, end, group_by=group_by, currency=m.config.cost.currency)


@router.get("/metrics/cost")
def cost(
    request: Request, start: From = None, end: To = None, group_by: str = "bound",
    tz: str | None = None,
) -> dict:  # fmt: skip
    """Cost per contact and per customer reached, inbound vs outbound vs somebound."""
    start, end = _period(start, end)
    m = _metrics(request, start, end, tz)
    df = _run(m.cost, start, end, group_by)
    return _payload(df, start, end, group_by=group_by, currency=m.config.cost.currency)


@router.get("/metrics/nps")
def nps(
    request: Request, start: From = None, end: To = None, group_by: str = "channel",
    tz: str | None = None,
) -> dict:  # fmt: skip
    """NPS and CSAT of answers given in the period, comparable across channels."""
    start, end = _period(start, end)
    m = _metrics(request, start, end, tz)
    return _payload(_run(m.surveys, start, end, group_by), start, end, group_by=group_by)


@router.get("/metrics/frt-distribution")
def frt_distribution(
    request: Request, start: From = None, end: To = None, group_by: str = "bound",
    clock: str = "wall", tz: str | None = None,
) -> dict:  # fmt: skip
    """First-response time histogram per group (wall clock or business time)."""
    start, end = _period(start, end)
    m = _metrics(request, start, end, tz)
    df = _run(m.frt_distribution, start, end, group_by, clock=clock)
    df["bucket"] = df["bucket"].astype(str)
    return _payload(df, start, end, group_by=group_by, clock=clock)


@router.get("/metrics/agents")
def agents(
    request: Request, start: From = None, end: To = None, group_by: str = "agent",
    tz: str | None = None,
) -> dict:  # fmt: skip
    """Contacts handled per agent per day and per week."""
    start, end = _period(start, end)
    m = _metrics(request, start, end, tz)
    return _payload(_run(m.agent_productivity, start, end, group_by), start, end,
                    group_by=group_by)  # fmt: skip


# -- public survey answers ------------------------------------------------------------------


def _secret(request: Request) -> str:
    secret = getattr(request.app.state, "survey_secret", None) or os.environ.get(
        "SOMEBOUND_SURVEY_SECRET"
    )
    if not secret:
        raise HTTPException(503, "surveys are not configured: set SOMEBOUND_SURVEY_SECRET")
    return secret


def _case_and_answer(engine: sa.Engine, case_id: int, kind: str) -> tuple[Any, bool]:
    with engine.connect() as conn:
        opened = conn.execute(
            sa.select(EVENTS.c.customer_id, EVENTS.c.channel, EVENTS.c.bound, EVENTS.c.queue)
            .where(EVENTS.c.case_id == case_id, EVENTS.c.type == "case_opened")
            .limit(1)
        ).first()
        answers = conn.execute(
            sa.select(EVENTS.c.data).where(
                EVENTS.c.case_id == case_id, EVENTS.c.type == "survey_answered"
            )
        ).all()
    done = any(
        (json.loads(d) if isinstance(d, str) else (d or {})).get("kind") == kind
        for (d,) in answers
    )
    return opened, done


def _token(request: Request, token: str):  # noqa: ANN202
    try:
        return verify_survey_token(_secret(request), token)
    except InvalidSurveyToken as exc:
        raise HTTPException(403, f"{exc}; ask for a new survey link") from exc


@survey_router.get("/surveys/{token}", response_class=HTMLResponse)
def survey_form(request: Request, token: str) -> HTMLResponse:
    """A minimal, script-free answer page for the link sent to the customer."""
    tok = _token(request, token)
    lo, hi = SCALES[tok.kind]
    question = ("How likely are you to recommend us to a friend?" if tok.kind == "nps"
                else "How satisfied were you with our service?")  # fmt: skip
    buttons = "".join(
        f'<button name="score" value="{i}" type="submit">{i}</button>' for i in range(lo, hi + 1)
    )
    body = (
        "<!doctype html><meta charset=utf-8><title>Survey</title>"
        f"<form method=post action='{html.escape(str(request.url.path))}'>"
        f"<p>{question}</p>{buttons}<p><textarea name=comment maxlength=2000></textarea></p>"
        "</form>"
    )
    return HTMLResponse(body)


@survey_router.post("/surveys/{token}", status_code=201)
async def answer_survey(request: Request, token: str) -> JSONResponse:
    """Record a ``survey_answered`` event; one answer per case and survey kind."""
    tok = _token(request, token)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError as exc:
            raise HTTPException(400, "body is not valid JSON") from exc
    else:
        body = dict(await request.form())
    if not isinstance(body, dict) or "score" not in body:
        raise HTTPException(400, 'send {"score": <number>} as JSON or a form field "score"')
    raw = body["score"]
    try:
        score = int(raw) if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() else raw
        score = validate_score(tok.kind, score)
    except InvalidSurveyAnswer as exc:
        raise HTTPException(400, str(exc)) from exc
    comment = body.get("comment")
    engine = _engine(request)
    opened, done = _case_and_answer(engine, tok.case_id, tok.kind)
    if opened is None:
        raise HTTPException(404, f"case {tok.case_id} is unknown")
    if done:
        raise HTTPException(409, "this survey has already been answered, thank you")
    data: dict[str, Any] = {"kind": tok.kind, "score": score}
    if isinstance(comment, str) and comment.strip():
        data["comment"] = comment.strip()[:2000]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(EVENTS).values(
                type="survey_answered", at=db_time(engine, datetime.now(UTC)),
                case_id=tok.case_id, customer_id=opened.customer_id, channel=opened.channel,
                bound=opened.bound, queue=opened.queue, data=data,
            )
        )  # fmt: skip
    return JSONResponse({"ok": True, "case_id": tok.case_id, "kind": tok.kind, "score": score},
                        status_code=201)  # fmt: skip
