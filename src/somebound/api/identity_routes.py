"""REST for identity resolution: identities, links, review queue, merge/unmerge, golden
records, import, export and erasure.

The app provides ``app.state.engine`` (SQLAlchemy Engine) and ``app.state.identity``
(an :class:`~somebound.identity.service.IdentityService`, which is also the pipeline's
resolver). The acting agent is ``request.state.agent_username`` when auth is on.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from somebound.identity.resolver import IdentityCandidate
from somebound.store import identity as repo
from somebound.store.tables import identities

router = APIRouter()


def _actor(request: Request) -> str:
    return getattr(request.state, "agent_username", None) or "system"


def _service(request: Request) -> Any:
    return request.app.state.identity


def _errors(fn: Any) -> Any:
    try:
        return fn()
    except repo.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except repo.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


class CandidateIn(BaseModel):
    kind: str = Field(description="email|phone|facebook|x|feed|chat")
    key: str
    display_name: str | None = None
    handle: str | None = None
    email: str | None = Field(None, description="only if the channel proves it")
    phone: str | None = Field(None, description="only if the channel proves it")
    profile: dict[str, Any] = Field(default_factory=dict)

    def candidate(self) -> IdentityCandidate:
        return IdentityCandidate(
            kind=self.kind,
            key=self.key,
            display_name=self.display_name,
            handle=self.handle,
            email=self.email,
            phone=self.phone,
            profile=self.profile,
        )


class LinkIn(BaseModel):
    customer_id: int
    reason: str | None = None


class ReasonIn(BaseModel):
    reason: str | None = None


class DecisionIn(BaseModel):
    note: str | None = None


class MergeIn(BaseModel):
    merged_id: int = Field(description="the duplicate that is merged into the path's customer")
    reason: str | None = None


class EraseIn(BaseModel):
    reason: str = Field(min_length=1, description="kept in the audit log")


def _resolution(res: Any) -> dict[str, Any]:
    return {
        "band": res.band,
        "customer_id": res.customer_id,
        "score": res.score,
        "evidence": res.evidence,
        "explanation": res.explanation,
        "candidates": [
            {
                "customer_id": c.record_id,
                "match_probability": c.match_probability,
                "match_weight": c.match_weight,
                "fields": c.explanation,
            }
            for c in res.candidates
        ],
    }


@router.post("/identity/resolve")
def resolve(body: CandidateIn, request: Request) -> dict[str, Any]:
    """Who is this? Decides only; nothing is written."""
    return _resolution(_errors(lambda: _service(request).resolve(body.candidate())))


@router.post("/identity/identify")
def identify(body: CandidateIn, request: Request) -> dict[str, Any]:
    """Resolve and record: link (auto band), queue for review, or leave unlinked."""
    out = _errors(lambda: _service(request).identify(body.candidate(), actor=_actor(request)))
    return {
        "identity_id": out.identity_id,
        "linked": out.linked,
        "review_item_id": out.review_item_id,
        **_resolution(out.resolution),
    }


@router.get("/identity/identities")
def list_identities(
    request: Request, customer_id: int | None = None, limit: int = Query(100, le=1000)
) -> list[dict[str, Any]]:
    q = select(identities).order_by(identities.c.id).limit(limit)
    if customer_id is not None:
        q = q.where(identities.c.customer_id == customer_id)
    with request.app.state.engine.connect() as conn:
        return [repo._plain(dict(r)) for r in conn.execute(q).mappings()]


@router.get("/identity/identities/{identity_id}")
def get_identity(identity_id: int, request: Request) -> dict[str, Any]:
    with request.app.state.engine.connect() as conn:
        ident = _errors(lambda: repo.get_identity(conn, identity_id))
        return {**repo._plain(ident), "history": repo.link_history(conn, identity_id)}


@router.post("/identity/identities/{identity_id}/link")
def link(identity_id: int, body: LinkIn, request: Request) -> dict[str, Any]:
    return _errors(
        lambda: _service(request).link(
            identity_id, body.customer_id, actor=_actor(request), reason=body.reason
        )
    )


@router.post("/identity/identities/{identity_id}/unlink")
def unlink(identity_id: int, body: ReasonIn, request: Request) -> dict[str, Any]:
    return _errors(
        lambda: _service(request).unlink(identity_id, actor=_actor(request), reason=body.reason)
    )


@router.get("/identity/review")
def review_queue(
    request: Request, status: str = "open", limit: int = Query(100, le=1000)
) -> list[dict[str, Any]]:
    with request.app.state.engine.connect() as conn:
        return repo.list_review(conn, status=status, limit=limit)


@router.post("/identity/review/{item_id}/confirm")
def confirm(item_id: int, body: DecisionIn, request: Request) -> dict[str, Any]:
    return _errors(
        lambda: _service(request).decide(
            item_id, confirm=True, actor=_actor(request), note=body.note
        )
    )


@router.post("/identity/review/{item_id}/reject")
def reject(item_id: int, body: DecisionIn, request: Request) -> dict[str, Any]:
    return _errors(
        lambda: _service(request).decide(
            item_id, confirm=False, actor=_actor(request), note=body.note
        )
    )


@router.get("/identity/customers/{customer_id}/golden")
def golden(customer_id: int, request: Request) -> dict[str, Any]:
    with request.app.state.engine.connect() as conn:
        return _errors(lambda: repo.golden_record(conn, customer_id))


@router.get("/identity/customers/{customer_id}/lineage")
def lineage(customer_id: int, request: Request) -> list[dict[str, Any]]:
    with request.app.state.engine.connect() as conn:
        _errors(lambda: repo.get_customer(conn, customer_id))
        return repo.field_lineage(conn, customer_id)


@router.post("/identity/customers/{customer_id}/merge")
def merge(customer_id: int, body: MergeIn, request: Request) -> dict[str, Any]:
    merge_id = _errors(
        lambda: _service(request).merge(
            customer_id, body.merged_id, actor=_actor(request), reason=body.reason
        )
    )
    return {"merge_id": merge_id, "survivor_id": customer_id, "merged_id": body.merged_id}


@router.get("/identity/customers/{customer_id}/merges")
def merges(customer_id: int, request: Request) -> list[dict[str, Any]]:
    with request.app.state.engine.connect() as conn:
        return repo.list_merges(conn, customer_id)


@router.post("/identity/merges/{merge_id}/unmerge")
def unmerge(merge_id: int, request: Request) -> dict[str, Any]:
    return _errors(lambda: _service(request).unmerge(merge_id, actor=_actor(request)))


@router.post("/identity/customers/import")
async def import_customers(
    request: Request, file: UploadFile = File(...), source: str = "crm"
) -> dict[str, Any]:
    """Upload a CSV/Parquet CRM export; bad rows are reported with line and reason."""
    suffix = Path(file.filename or "upload.csv").suffix or ".csv"
    data = await file.read()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"import{suffix}"
        path.write_bytes(data)
        try:
            batch, result = _service(request).import_file(
                path, source=source, actor=_actor(request)
            )
        except ValueError as exc:  # ImportFileError, or an unknown source
            msg = str(exc).replace(str(path), file.filename or "upload")
            raise HTTPException(422, msg) from exc
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "imported": len(batch.rows),
        "bad_rows": [
            {"line": b.line, "reason": b.reason, "customer_number": b.customer_number}
            for b in batch.bad
        ],
        "ignored_columns": batch.ignored_columns,
    }


@router.get("/identity/customers/{customer_id}/export")
def export(customer_id: int, request: Request) -> dict[str, Any]:
    return _errors(lambda: _service(request).export(customer_id, actor=_actor(request)))


@router.post("/identity/customers/{customer_id}/erase")
def erase(customer_id: int, body: EraseIn, request: Request) -> dict[str, Any]:
    return _errors(
        lambda: _service(request).erase(customer_id, actor=_actor(request), reason=body.reason)
    )
