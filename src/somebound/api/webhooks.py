"""Webhook edges: check the signature, keep the payload durably, then say 200.

Order matters: an unsigned or badly signed payload and one that does not parse are kept
in the dead letters with the reason and answered with a clear 4xx; a good one is
committed to the inbox *before* the 200, and the worker is woken to process it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from somebound.channels.errors import ParseError, SignatureError
from somebound.core.enums import Channel
from somebound.store import inbox

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


async def take_event(state: Any, channel: Channel, body: bytes,
                     headers: Mapping[str, str]) -> tuple[int, dict]:
    """A signed webhook's whole answer as (HTTP status, JSON body): the channel's signature
    check on the raw bytes (401 and a dead letter when it fails), a parse (400 and a dead
    letter when it does not parse), then the durable accept; the 200 only after the commit.

    Async so that the request never takes a thread of its own: the commit is the group
    committer's (:class:`GroupAccept`), awaited as a future. The rejects' writes are rare
    and go to a thread.
    """
    from somebound.channels.registry import verify_webhook

    try:
        verify_webhook(channel, body, headers, state.settings)
    except SignatureError as exc:
        return await _reject(state, channel.value, body, headers, 401,
                             f"signature check failed: {exc}")
    try:
        state.parsers[channel.value](body, {})
    except ParseError as exc:
        return await _reject(state, channel.value, body, headers, 400, str(exc),
                             {"detail": exc.to_dict()})
    inbox_id, new = await asyncio.wrap_future(
        state.accepts.submit(channel.value, f"webhook:{channel.value}", body))
    if new and state.worker is not None:
        state.worker.wake()
    return 200, {"accepted": inbox_id, "duplicate": not new}


async def _reject(state: Any, channel: str, body: bytes, headers: Mapping[str, str],
                  status: int, reason: str, detail: dict | None = None) -> tuple[int, dict]:
    """Keep the rejected payload with its reason (and the headers but credentials)."""
    kept = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    await run_in_threadpool(inbox.dead_letter, state.engine, channel, f"webhook:{channel}",
                            body, reason, kept)
    return status, {"error": reason, **(detail or {})}


async def _answer(request: Request, channel: Channel) -> Response:
    status, payload = await take_event(request.app.state, channel, await request.body(),
                                       request.headers)
    return JSONResponse(payload, status_code=status)


@router.get("/facebook", response_class=PlainTextResponse)
def facebook_verify(request: Request) -> Response:
    """Facebook's subscription handshake: echo hub.challenge when the verify token matches."""
    from somebound.channels.facebook.verify import verify_handshake

    try:
        challenge = verify_handshake(
            dict(request.query_params), request.app.state.settings.facebook_verify_token
        )
    except (SignatureError, ParseError) as exc:
        return PlainTextResponse(str(exc), status_code=403)
    return PlainTextResponse(challenge)


@router.post("/facebook")
async def facebook_event(request: Request) -> Response:
    """Facebook's events, signed ``X-Hub-Signature-256`` with the app secret."""
    return await _answer(request, Channel.FACEBOOK)


@router.get("/x")
def x_crc(request: Request, crc_token: str) -> dict:
    """X's challenge-response check: prove we hold the consumer secret."""
    from somebound.channels.x.verify import crc_response

    return crc_response(crc_token, request.app.state.settings.x_consumer_secret)


@router.post("/x")
async def x_event(request: Request) -> Response:
    """X's account activity events, signed ``X-Twitter-Webhooks-Signature``."""
    return await _answer(request, Channel.X)


@router.post("/cti")
async def cti_event(request: Request) -> Response:
    """Call events from the telephony system, signed ``X-Somebound-Signature: sha256=<hex>``."""
    return await _answer(request, Channel.PHONE)
