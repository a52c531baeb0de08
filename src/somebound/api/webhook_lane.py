"""Signed webhook POSTs answered before the framework's routing and request machinery.

A platform's webhook is the hub's busiest request and its cheapest to answer: check a
signature, parse, commit, say 200. Through FastAPI's router, dependency resolution,
exception wrappers and thread pool, that answer cost ~2 ms of CPU, three quarters of it
framework (measured with ``py-spy --gil`` at 200 requests/s), and at that rate the
webhooks alone kept the event loop's thread, and the GIL, 40 % busy. :class:`WebhookLane`
is an ASGI middleware that answers ``POST /webhooks/{facebook,x,cti}`` itself with the
same code the FastAPI routes call (:func:`somebound.api.webhooks.take_event`); every other
request goes on to the app unchanged. It sits inside Starlette's outer middlewares, so
an error in it still becomes a 500 through the app's error handling.

The FastAPI routes stay declared: they are the OpenAPI contract, and they answer if the
app is run without the lane (mounted in another app, say).
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from somebound.core.enums import Channel

PATHS = {
    "/webhooks/facebook": Channel.FACEBOOK,
    "/webhooks/x": Channel.X,
    "/webhooks/cti": Channel.PHONE,
}
_JSON = [(b"content-type", b"application/json")]


class WebhookLane:
    """ASGI middleware: the signed webhook POSTs of :data:`PATHS`, then the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        channel = (PATHS.get(scope["path"]) if scope["type"] == "http"
                   and scope["method"] == "POST" else None)
        if channel is None:
            await self.app(scope, receive, send)
            return
        from somebound.api.webhooks import take_event

        body = await _read_body(receive)
        status, payload = await take_event(scope["app"].state, channel, body,
                                           Headers(scope=scope))
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON, (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the sender went away before its body arrived")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
