"""HTTP edge of listening: analyse text, active spikes, answer search and suggestions,
author influence, critic -> advocate. The objects live in ``request.app.state.listening``
(:class:`somebound.listening.service.ListeningService`); the critic report also reads
the hub's store (``request.app.state.engine``); auth is added by the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from somebound.listening.enrich import EnrichContext
from somebound.listening.service import ListeningService

router = APIRouter()


def _service(request: Request) -> ListeningService:
    svc = getattr(request.app.state, "listening", None)
    if svc is None:
        raise HTTPException(503, "listening is not configured (app.state.listening is unset)")
    return svc


class AnalyseIn(BaseModel):
    text: str = Field(..., max_length=20_000)
    customer_language: str | None = Field(None, pattern=r"^[a-z]{2}$")
    followers: int | None = Field(None, ge=0)
    languages: list[str] | None = None


@router.post("/listening/analyse")
def analyse(body: AnalyseIn, request: Request) -> dict[str, Any]:
    svc = _service(request)
    langs = tuple(body.languages) if body.languages else svc.enricher.languages
    unknown = sorted(set(langs) - set(svc.enricher.languages))
    if unknown:
        raise HTTPException(
            422, f"languages {unknown} are not served; choose from {list(svc.enricher.languages)}"
        )
    try:
        ctx = EnrichContext(languages=langs, customer_language=body.customer_language)
        enr = svc.enricher.enrich_text(body.text, ctx, followers=body.followers)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return enr.as_dict()


@router.get("/listening/spikes")
def spikes(request: Request) -> dict[str, Any]:
    svc = _service(request)
    return {"active": svc.spikes.active(), "recent": list(svc.banner.events)[-20:]}


@router.get("/answers/search")
def search_answers(
    request: Request,
    q: str = Query(..., min_length=1, max_length=2000),
    lang: str = Query("fi", pattern=r"^[a-z]{2}$"),
    k: int = Query(5, ge=1, le=50),
) -> dict[str, Any]:
    bank = _service(request).suggester.bank
    hits = bank.search(q, lang, k=k)
    results = []
    for a, score in hits:
        use = lang if lang in a.body else ("en" if "en" in a.body else a.languages()[0])
        results.append(
            {"id": a.id, "title": a.title.get(use, a.id), "body": a.body[use], "language": use,
             "tags": list(a.tags), "score": round(score, 4)}
        )
    return {"query": q, "language": lang, "results": results}


@router.get("/answers/suggest")
def suggest_answers(
    request: Request,
    message: str = Query(..., min_length=1, max_length=5000),
    lang: str | None = Query(None, pattern=r"^[a-z]{2}$"),
    k: int = Query(3, ge=1, le=20),
) -> dict[str, Any]:
    svc = _service(request)
    enr = svc.enricher.enrich_text(message, EnrichContext(languages=svc.enricher.languages),
                                   language=lang)
    language = enr.language if enr.language != "und" else "en"
    out = svc.suggester.suggest(message, language, intent=enr.intent,
                                intent_confidence=enr.intent_confidence, k=k)
    return {
        "language": language,
        "intent": enr.intent,
        "suggestions": [
            {"source": s.source, "id": s.id, "title": s.title, "body": s.body,
             "language": s.language, "score": round(s.score, 4), "why": s.why}
            for s in out
        ],
    }


@router.get("/authors/{key}/influence")
def author_influence(key: str, request: Request, topic: str | None = None) -> dict[str, Any]:
    svc = _service(request)
    inf = svc.influence(key, topic)
    if inf is None:
        raise HTTPException(404, f"author {key!r} has no interactions{' in topic ' + repr(topic) if topic else ''}")
    return {
        "author": inf.author, "score": inf.score, "rank": inf.rank, "pagerank": inf.pagerank,
        "pagerank_percentile": inf.pagerank_pct, "reach": inf.reach,
        "followers": inf.followers, "in_edges": inf.in_edges, "topic": inf.topic,
    }


@router.get("/listening/critics")
def critics_to_advocates(
    request: Request,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = Query(None, max_length=16),
    critic_below: float = Query(-0.2, ge=-1, le=1),
    neutral_at_least: float = Query(-0.05, ge=-1, le=1),
    authors: bool = Query(True, description="include the per-author turns"),
) -> dict[str, Any]:
    """Per author: sentiment before and after the company's first answer; the share of
    critics who turned neutral/positive, in total, per channel and per team."""
    from somebound.listening.turns import critic_report

    svc = _service(request)
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise HTTPException(503, "the critic report needs the hub's store (app.state.engine is unset)")
    if since and until and since >= until:
        raise HTTPException(422, "since must be before until")

    def score(texts: Sequence[str], languages: Sequence[str | None]) -> list[float]:
        return [a.sentiment.score for a in svc.enricher.analyse_texts(texts, given=languages)]

    with engine.connect() as conn:
        rep = critic_report(conn, score, since=since, until=until, channel=channel,
                            critic_below=critic_below, neutral_at_least=neutral_at_least)
    body: dict[str, Any] = {
        **rep.totals(), "by_channel": rep.by_channel, "by_team": rep.by_team,
        "scored_at_query_time": rep.scored_now,
        "thresholds": {"critic_below": critic_below, "neutral_at_least": neutral_at_least},
    }
    if authors:
        body["authors"] = [
            {"author": t.author, "before": _r(t.before), "after": _r(t.after), "critic": t.critic,
             "converted": t.converted, "channel": t.channel, "team": t.team}
            for t in rep.turns
        ]
    return body


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
