import asyncio
import json
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import serve
from websockets.sync.client import connect

from somebound.channels.chat import (
    ChatHub,
    ChatSender,
    ack_frame,
    error_frame,
    parse_chat_frame,
)
from somebound.channels.errors import ParseError, SendError
from somebound.core import Author, Channel, Direction
from somebound.core.reply import Reply


def test_message_frame_becomes_a_private_message_in_the_session_thread():
    frame = {
        "type": "message",
        "id": "c-1",
        "text": "Hei! Missä tilaukseni on? 😊",
        "sent_at": "2026-03-02T10:00:00Z",
        "name": "Päivi",
        "email": "paivi@example.fi",
        "locale": "fi-FI",
    }
    msg = parse_chat_frame("sess-1", "visitor-9", frame)
    assert msg.channel is Channel.CHAT and not msg.public and msg.direction is Direction.IN
    assert msg.native_id == "sess-1:c-1" and msg.thread_key == "sess-1"
    assert msg.author.channel_user_id == "visitor-9" and msg.author.display_name == "Päivi"
    assert msg.author.email is None  # typed into a form: a claim, not proof
    assert msg.author.profile["stated_email"] == "paivi@example.fi"
    assert msg.body == "Hei! Missä tilaukseni on? 😊" and msg.language == "fi"
    assert msg.sent_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert ack_frame(msg) == {"type": "ack", "id": "c-1"}
    # a resent frame (after a reconnect) has the same native id: idempotent
    assert parse_chat_frame("sess-1", "visitor-9", frame).native_id == msg.native_id


def test_control_and_bad_frames():
    for kind in ("typing", "ping", "read"):
        assert parse_chat_frame("s", "v", {"type": kind}) is None
    for frame, where in [
        ({"type": "message", "text": "  "}, "text"),
        ({"type": "shout", "text": "x"}, "type"),
        ({"type": "message", "text": 5}, "text"),
        ({"type": "message", "text": "x", "sent_at": "eilen"}, "sent_at"),
        (["not", "an", "object"], "chat frame"),
    ]:
        with pytest.raises(ParseError) as info:
            parse_chat_frame("s", "v", frame)
        assert where in info.value.where
        assert error_frame(info.value)["error"]["where"] == info.value.where


def test_hub_delivers_to_every_tab_and_queues_while_away():
    hub = ChatHub(backlog=2)
    tab1, tab2 = [], []
    t1 = hub.connect("s", tab1.append)
    hub.connect("s", tab2.append)
    assert hub.deliver("s", {"n": 1}) == 2
    assert tab1 == tab2 == [{"n": 1}]
    hub.disconnect("s", t1)
    assert hub.deliver("s", {"n": 2}) == 1 and tab1 == [{"n": 1}]
    assert hub.deliver("other", {"n": 1}) == 0
    hub.deliver("other", {"n": 2})
    hub.deliver("other", {"n": 3})
    assert hub.pending("other") == [{"n": 2}, {"n": 3}]  # bounded backlog keeps the newest
    late = []
    hub.connect("other", late.append)
    assert late == [{"n": 2}, {"n": 3}] and hub.pending("other") == []


def test_chat_sender_needs_a_session():
    sender = ChatSender(ChatHub())
    with pytest.raises(SendError):
        sender.send(Reply(channel=Channel.CHAT, body="x", to=Author("v")))
    result = sender.send(Reply(channel=Channel.CHAT, body="x", to=Author("v"), thread_key="s"))
    assert result.meta["queued"] is True and result.native_id.startswith("s:agent:")


class ChatServer:
    """A WebSocket endpoint the way the API uses the adapter, on a free port."""

    def __init__(self, hub: ChatHub) -> None:
        self.hub = hub
        self.received = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    async def _handler(self, ws):
        query = parse_qs(urlsplit(ws.request.path).query)
        session, visitor = query["session"][0], query["visitor"][0]

        async def sink(frame):
            await ws.send(json.dumps(frame, ensure_ascii=False))

        token = self.hub.connect(session, sink)
        try:
            async for text in ws:
                try:
                    message = parse_chat_frame(session, visitor, json.loads(text))
                except ParseError as exc:
                    await ws.send(json.dumps(error_frame(exc)))
                    continue
                if message is not None:
                    self.received.append(message)
                    await ws.send(json.dumps(ack_frame(message)))
        finally:
            self.hub.disconnect(session, token)

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.stop_event = asyncio.Event()
            async with serve(self._handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.ready.set()
                await self.stop_event.wait()

        self.loop.run_until_complete(main())

    def url(self, session: str, visitor: str) -> str:
        return f"ws://127.0.0.1:{self.port}/chat?session={session}&visitor={visitor}"

    def close(self):
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(5)


def test_visitor_and_agent_talk_both_ways_over_a_real_websocket():
    hub = ChatHub()
    server = ChatServer(hub)
    sender = ChatSender(hub)
    try:
        # an agent answers before the visitor opens the page: it waits for them
        sender.send(
            Reply(
                channel=Channel.CHAT,
                body="Tervetuloa! Miten voin auttaa?",
                to=Author("v1"),
                thread_key="s1",
                meta={"agent_name": "Anna"},
            )
        )
        with connect(server.url("s1", "v1"), open_timeout=5) as ws:
            welcome = json.loads(ws.recv(timeout=5))
            assert welcome["text"] == "Tervetuloa! Miten voin auttaa?"
            assert welcome["from"] == "agent" and welcome["agent"] == "Anna"

            ws.send(json.dumps({"type": "message", "id": "m1", "text": "Laskussani on virhe ä"}))
            assert json.loads(ws.recv(timeout=5)) == {"type": "ack", "id": "m1"}
            ws.send(json.dumps({"type": "message", "text": ""}))
            assert json.loads(ws.recv(timeout=5))["type"] == "error"

            result = sender.send(
                Reply(
                    channel=Channel.CHAT,
                    body="Korjaan sen heti, Päivi.",
                    to=Author("v1"),
                    thread_key="s1",
                )
            )
            assert result.meta["delivered_to_sockets"] == 1
            answer = json.loads(ws.recv(timeout=5))
            assert answer["text"] == "Korjaan sen heti, Päivi." and answer["id"] == result.native_id
        [message] = server.received
        assert message.body == "Laskussani on virhe ä" and message.thread_key == "s1"
        assert message.author.channel_user_id == "v1"
    finally:
        server.close()
