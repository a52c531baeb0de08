"""Webhook edges: check the signature, keep the payload durably, then say 200.

Order matters: an unsigned or badly signed payload and one that does not parse are kept
in the dead letters with the reason and answered with a clear 4xx; a good one is
committed to the inbox *before* the 200, and the worker is woken to process it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from somebound.channels.errors import ParseError, SignatureError
from somebound.core.enums import Channel
from somebound.store import inbox

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _reject(
    request: Request,
    channel: str,
    body: bytes,
    status: int,
    reason: str,
    detail: dict | None = None,
) -> JSONResponse:
    inbox.dead_letter(
        request.app.state.engine,
        channel,
        f"webhook:{channel}",
        body,
        reason,
        {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
    )
    return JSONResponse({"error": reason, **(detail or {})}, status_code=status)


def _accept(request: Request, channel: str, body: bytes, headers: dict | None = None) -> Response:
    st = request.app.state
    try:
        st.parsers[channel](body, headers or {})
    except ParseError as exc:
        return _reject(request, channel, body, 400, str(exc), {"detail": exc.to_dict()})
    inbox_id, new = st.accepts.accept(channel, f"webhook:{channel}", body, headers)
    if new and st.worker is not None:
        st.worker.wake()
    return JSONResponse({"accepted": inbox_id, "duplicate": not new})


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
    return await _signed_event(request, Channel.FACEBOOK)


@router.get("/x")
def x_crc(request: Request, crc_token: str) -> dict:
    """X's challenge-response check: prove we hold the consumer secret."""
    from somebound.channels.x.verify import crc_response

    return crc_response(crc_token, request.app.state.settings.x_consumer_secret)


@router.post("/x")
async def x_event(request: Request) -> Response:
    """X's account activity events, signed ``X-Twitter-Webhooks-Signature``."""
    return await _signed_event(request, Channel.X)


@router.post("/cti")
async def cti_event(request: Request) -> Response:
    """Call events from the telephony system, signed ``X-Somebound-Signature: sha256=<hex>``."""
    return await _signed_event(request, Channel.PHONE)


async def _signed_event(request: Request, channel: Channel) -> Response:
    """The channel's signature check on the raw body (401 and a dead letter when it fails),
    then :func:`_accept`."""
    from somebound.channels.registry import verify_webhook

    body = await request.body()
    try:
        verify_webhook(channel, body, request.headers, request.app.state.settings)
    except SignatureError as exc:
        return _reject(request, channel.value, body, 401, f"signature check failed: {exc}")
    return await _in_thread(_accept, request, channel.value, body)


async def _in_thread(fn, *args):  # noqa: ANN001, ANN202
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)
