"""Web chat: the frames a visitor's browser and the hub exchange over a WebSocket.

Visitor → hub (JSON text frames)::

    {"type": "message", "id": "<client uuid>", "text": "Hei!", "sent_at": "...Z"?,
     "name": "Päivi"?, "email": "paivi@example.fi"?}
    {"type": "typing"} | {"type": "ping"} | {"type": "read", "id": "..."}

Hub → visitor::

    {"type": "message", "id": ..., "from": "agent", "agent": "Anna"?, "text": ..., "sent_at": ...}
    {"type": "ack", "id": "<client id>"}      {"type": "error", "error": {...}}

The client id makes a resent frame (after a reconnect) idempotent. The WebSocket
endpoint belongs to the API; :class:`ChatHub` is the in-memory registry it uses so
that an agent's reply reaches every tab the visitor has open, and replies sent while
the visitor is away wait in a bounded backlog until they reconnect. The hub is per
process: with several API processes, route a session to one process (sticky sessions).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import threading
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from somebound.channels._json import iso_to_datetime, optional
from somebound.channels.errors import ParseError, SendError
from somebound.core.enums import Channel, Direction
from somebound.core.message import Author, Message
from somebound.core.reply import Reply, SendResult

CONTROL_TYPES = frozenset({"typing", "ping", "read", "hello"})
MAX_TEXT = 20_000

FrameSink = Callable[[dict[str, Any]], Awaitable[None] | None]


def parse_chat_frame(session_id: str, visitor_id: str, frame: dict[str, Any]) -> Message | None:
    """A visitor's ``message`` frame as a :class:`Message`; ``None`` for control frames.

    Raises :class:`ParseError` for frames that are not objects, have an unknown type
    or no text; the endpoint answers them with :func:`error_frame`.
    """
    where = f"chat frame (session {session_id})"
    if not isinstance(frame, dict):
        raise ParseError(f"expected a JSON object, got {type(frame).__name__}", where)
    kind = frame.get("type", "message")
    if kind in CONTROL_TYPES:
        return None
    if kind != "message":
        raise ParseError(
            f"unknown frame type {kind!r}",
            f"{where}.type",
            "use 'message', 'typing', 'read' or 'ping'",
        )
    text = optional(frame, "text", str, where, "")
    if not text.strip():
        raise ParseError("empty message text", f"{where}.text", "send a non-empty 'text'")
    if len(text) > MAX_TEXT:
        raise ParseError(
            f"text is {len(text)} characters; the limit is {MAX_TEXT}", f"{where}.text"
        )
    client_id = optional(frame, "id", (str, int), where)
    sent_at = (
        iso_to_datetime(frame["sent_at"], f"{where}.sent_at")
        if frame.get("sent_at")
        else datetime.now(UTC)
    )
    if client_id is None:
        digest = hashlib.sha256(f"{visitor_id}\x1f{text}\x1f{sent_at.isoformat()}".encode())
        client_id = "h" + digest.hexdigest()[:24]
    name = optional(frame, "name", str, where)
    email = optional(frame, "email", str, where)
    profile: dict[str, Any] = {}
    if email:
        profile["stated_email"] = email.strip()  # typed by the visitor: a claim, not proof
    for key in ("page_url", "user_agent", "locale"):
        if isinstance(frame.get(key), str):
            profile[key] = frame[key]
    return Message(
        channel=Channel.CHAT,
        native_id=f"{session_id}:{client_id}",
        author=Author(channel_user_id=visitor_id, display_name=name, profile=profile),
        body=text,
        sent_at=sent_at,
        direction=Direction.IN,
        thread_key=session_id,
        public=False,
        language=_language(frame.get("locale")),
        meta={"client_id": str(client_id), "session_id": session_id},
    )


def _language(locale: Any) -> str | None:
    """``fi-FI`` → ``fi``: the browser's locale is a hint for language detection."""
    if not isinstance(locale, str) or not locale.strip():
        return None
    return locale.strip().replace("_", "-").split("-")[0].lower() or None


def reply_frame(reply: Reply, message_id: str, sent_at: datetime) -> dict[str, Any]:
    """The frame that shows an agent's reply in the visitor's window."""
    frame: dict[str, Any] = {
        "type": "message",
        "id": message_id,
        "from": "agent",
        "text": reply.body,
        "sent_at": sent_at.isoformat(),
    }
    if reply.meta.get("agent_name"):
        frame["agent"] = reply.meta["agent_name"]
    return frame


def ack_frame(message: Message) -> dict[str, Any]:
    return {"type": "ack", "id": message.meta.get("client_id", message.native_id)}


def error_frame(error: ParseError) -> dict[str, Any]:
    return {"type": "error", "error": error.to_dict()}


@dataclass
class _Connection:
    token: int
    sink: FrameSink
    loop: asyncio.AbstractEventLoop | None


class ChatHub:
    """Which sockets are open for which chat session, and how to reach them.

    ``connect`` is called by the WebSocket endpoint with the socket's send function
    (``websocket.send_json``, async or not). ``deliver`` may be called from any thread
    (a worker sending an agent's reply): async sinks are scheduled on the event loop
    they were registered from, without waiting, so it never deadlocks that loop.
    """

    def __init__(self, backlog: int = 100) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, list[_Connection]] = {}
        self._pending: dict[str, deque[dict[str, Any]]] = {}
        self._backlog = backlog
        self._tokens = itertools.count(1)

    def connect(self, session_id: str, sink: FrameSink) -> int:
        """Register a socket; returns a token for :meth:`disconnect`. Flushes the backlog."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        connection = _Connection(next(self._tokens), sink, loop)
        with self._lock:
            self._sessions.setdefault(session_id, []).append(connection)
            waiting = list(self._pending.pop(session_id, ()))
        for frame in waiting:
            self._push(connection, frame)
        return connection.token

    def disconnect(self, session_id: str, token: int) -> None:
        with self._lock:
            remaining = [c for c in self._sessions.get(session_id, []) if c.token != token]
            if remaining:
                self._sessions[session_id] = remaining
            else:
                self._sessions.pop(session_id, None)

    def connected(self, session_id: str) -> int:
        with self._lock:
            return len(self._sessions.get(session_id, []))

    def pending(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._pending.get(session_id, ()))

    def deliver(self, session_id: str, frame: dict[str, Any]) -> int:
        """Send ``frame`` to every open socket of the session; 0 means it was queued."""
        with self._lock:
            connections = list(self._sessions.get(session_id, []))
            if not connections:
                queue = self._pending.setdefault(session_id, deque(maxlen=self._backlog))
                queue.append(frame)
                return 0
        delivered = 0
        for connection in connections:
            if self._push(connection, frame):
                delivered += 1
        return delivered

    def _push(self, connection: _Connection, frame: dict[str, Any]) -> bool:
        sink = connection.sink
        try:
            if inspect.iscoroutinefunction(sink) or _is_async_callable(sink):
                loop = connection.loop
                if loop is None or loop.is_closed():
                    return False
                asyncio.run_coroutine_threadsafe(_await(sink, frame), loop)
                return True
            result = sink(frame)
            if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
                if connection.loop is None:
                    return False
                asyncio.run_coroutine_threadsafe(_await_value(result), connection.loop)
            return True
        except Exception:
            return False


def _is_async_callable(func: Any) -> bool:
    call = getattr(func, "__call__", None)  # noqa: B004 - objects with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


async def _await(sink: FrameSink, frame: dict[str, Any]) -> None:
    result = sink(frame)
    if inspect.isawaitable(result):
        await result


async def _await_value(result: Awaitable[None]) -> None:
    await result


class ChatSender:
    """The chat channel's way out: hand the reply to the :class:`ChatHub`."""

    channel = Channel.CHAT

    def __init__(self, hub: ChatHub) -> None:
        self.hub = hub

    def send(self, reply: Reply) -> SendResult:
        session = reply.thread_key
        if not session:
            raise SendError("a chat reply needs thread_key (the chat session id)", retryable=False)
        if reply.public:
            raise SendError("chat has no public replies", retryable=False)
        sent_at = datetime.now(UTC)
        native = f"{session}:agent:{uuid.uuid4().hex[:16]}"
        delivered = self.hub.deliver(session, reply_frame(reply, native, sent_at))
        return SendResult(
            native_id=native,
            sent_at=sent_at,
            meta={"delivered_to_sockets": delivered, "queued": delivered == 0},
        )
