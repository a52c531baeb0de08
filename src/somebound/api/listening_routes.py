"""HTTP edge of listening: analyse text, active spikes, answer search and suggestions,
author influence. The objects live in ``request.app.state.listening``
(:class:`somebound.listening.service.ListeningService`); auth is added by the app.
"""

from __future__ import annotations

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
