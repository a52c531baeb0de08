"""Web chat: a visitor's WebSocket; agent replies come back through the ChatHub.

Every visitor frame is committed to the durable inbox before it is acknowledged, like
any other channel; the agent's reply goes out through ``ChatSender`` → ``ChatHub`` →
this socket (or waits in the hub's backlog until the visitor reconnects).
"""

from __future__ import annotations

import asyncio
import json
import uuid

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from somebound.channels.chat import ack_frame, error_frame, parse_chat_frame
from somebound.channels.errors import ParseError
from somebound.channels.nul import storable_in, unstorable_escapes
from somebound.store import inbox

router = APIRouter(tags=["chat"])


@router.websocket("/chat/ws/{session_id}")
async def chat_socket(websocket: WebSocket, session_id: str, visitor: str | None = None) -> None:
    st = websocket.app.state
    visitor_id = visitor or f"visitor-{uuid.uuid4().hex[:12]}"
    await websocket.accept()
    token = st.chat_hub.connect(session_id, websocket.send_json)
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                frame = json.loads(raw)
                if unstorable_escapes(raw):  # else the envelope could not even be encoded
                    frame = storable_in(frame)
                msg = parse_chat_frame(session_id, visitor_id, frame)
            except json.JSONDecodeError as exc:
                err = ParseError(f"not JSON: {exc.msg}", f"chat frame (session {session_id})",
                                 'send {"type": "message", "text": "..."}')
                await run_in_threadpool(inbox.dead_letter, st.engine, "chat", "websocket",
                                        raw.encode(), str(err))
                await websocket.send_json(error_frame(err))
                continue
            except ParseError as exc:
                await run_in_threadpool(inbox.dead_letter, st.engine, "chat", "websocket",
                                        raw.encode(), str(exc))
                await websocket.send_json(error_frame(exc))
                continue
            if msg is None:
                continue  # typing / ping frames
            # The stored payload is an envelope: the session and visitor are part of what
            # was said, and a stable id/time make re-parsing after a crash give the same
            # message (two visitors typing "Hei" are two messages, not a redelivery).
            frame.setdefault("id", uuid.uuid4().hex)
            frame.setdefault("sent_at", msg.sent_at.isoformat())
            envelope = json.dumps({"session_id": session_id, "visitor_id": visitor_id,
                                   "frame": frame}, ensure_ascii=False).encode()
            _, new = await asyncio.wrap_future(st.accepts.submit("chat", "websocket", envelope))
            if new:
                st.worker.wake()
            await websocket.send_json(ack_frame(msg))
    except WebSocketDisconnect:
        pass
    finally:
        st.chat_hub.disconnect(session_id, token)
