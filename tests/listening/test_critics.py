"""Critic -> advocate over a real store: messages go in through the hub pipeline, an
agent answers through the real chat sender, and ``GET /listening/critics`` reports who
turned around, per channel and per team.

Run once with the listening stage in the pipeline (sentiment stored with each message)
and once without it (the route scores the stored bodies at query time): the same
people must come out as converted either way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from somebound.api.listening_routes import router
from somebound.api.services import attach
from somebound.channels.chat import ChatHub, ChatSender
from somebound.core import Author, Channel, Direction, Message
from somebound.listening.service import ListeningService
from somebound.pipeline.agent_actions import add_note, reply
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.pipeline.routing import RoutingPolicy
from somebound.pipeline.stages import domain_stages
from somebound.store.accounts import create_agent
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade
from somebound.store.tables import cases, messages, queues

# The agent's chat reply is stamped with the real clock, so the chat's times are taken
# when the conversation runs (a module-level "now" goes stale in a slow suite run).
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
ANGRY = "Laskussa on virhe, olen todella pettynyt, kamalaa palvelua! 😡"
STILL_ANGRY = "Edelleen kamalaa, olen raivoissani 😡"
HAPPY = "Kiitos paljon, nyt toimii hienosti! 👍"


def fb(native: str, user: str, body: str, at: datetime, *, company: bool = False) -> Message:
    return Message(
        channel=Channel.FACEBOOK,
        native_id=native,
        author=Author(channel_user_id="page" if company else user, is_company=company),
        body=body,
        sent_at=at,
        thread_key="post1",
        public=True,
        addressed_to_company=True,
        direction=Direction.OUT if company else Direction.IN,
    )


def chat(native: str, body: str, at: datetime) -> Message:
    return Message(
        channel=Channel.CHAT,
        native_id=native,
        author=Author("visitor-7"),
        body=body,
        sent_at=at,
        thread_key="session-7",
        public=False,
        direction=Direction.IN,
    )


@pytest.fixture(params=["listening", "none"])
def hub(request, any_db_url):
    engine = make_engine(any_db_url)
    upgrade(engine)
    policy = RoutingPolicy.load()
    with engine.begin() as conn:
        for name in policy.queues:
            conn.execute(insert(queues).values(name=name, open_count=0, team="social-team"))
    services = SimpleNamespace()
    attach(services, engine)
    stages = (
        domain_stages(policy, services, ("listening",))
        if request.param == "listening"
        else Stages(routing=policy)
    )
    pipe = Pipeline(engine, {}, stages)
    app = FastAPI()
    app.include_router(router)
    app.state.listening = ListeningService.default()
    app.state.engine = engine
    yield SimpleNamespace(pipe=pipe, engine=engine, client=TestClient(app), mode=request.param)
    engine.dispose()


def _conversation(hub) -> None:
    m = timedelta(minutes=1)
    now = datetime.now(UTC)
    hub.pipe.ingest_messages(
        [
            fb("c1", "matti", ANGRY, T0),  # critic, answered, then happy: converted
            fb("c2", "liisa", ANGRY, T0 + m),  # critic, answered, still angry: not converted
            fb("c3", "pekka", "Ihana palvelu, kiitos! 😊", T0 + 2 * m),  # never a critic
            fb(
                "r1",
                "page",
                "Pahoittelemme! Korjasimme laskun ja palautamme rahat.",
                T0 + 10 * m,
                company=True,
            ),
            fb("c4", "matti", HAPPY, T0 + 20 * m),
            fb("c5", "liisa", STILL_ANGRY, T0 + 21 * m),
            chat("h1", "The chat was useless and I am furious 😡", now - 5 * m),
        ]
    )
    with hub.engine.begin() as conn:
        agent = create_agent(conn, "anna", "salasana-123", "Anna", "agent", team="chat-team")
        case_id = conn.execute(cases.select().where(cases.c.channel == "chat")).one().id
    add_note(hub.engine, case_id, agent, "internal: customer is upset")  # a note answers nobody
    reply(
        hub.engine,
        {Channel.CHAT: ChatSender(ChatHub())},
        case_id,
        agent,
        "Sorry about that - I have fixed your order now.",
    )
    hub.pipe.ingest_messages(
        [chat("h2", "Thank you so much, that fixed it! 👍", datetime.now(UTC) + 5 * m)]
    )


def test_critics_turned_around_per_channel_and_team(hub) -> None:
    _conversation(hub)
    body = hub.client.get("/listening/critics").json()
    who = {a["author"]: a for a in body["authors"]}
    assert who["matti"]["critic"] and who["matti"]["converted"]
    assert who["matti"]["before"] < -0.5 < 0.5 < who["matti"]["after"]
    assert who["liisa"]["critic"] and not who["liisa"]["converted"]
    assert not who["pekka"]["critic"] and who["pekka"]["after"] is None
    assert who["visitor-7"]["converted"] and who["visitor-7"]["team"] == "chat-team"
    assert (body["critics"], body["converted"], body["share"]) == (3, 2, round(2 / 3, 4))
    assert body["by_channel"] == {
        "chat": {"critics": 1, "converted": 1, "share": 1.0},
        "facebook": {"critics": 2, "converted": 1, "share": 0.5},
    }
    assert body["by_team"] == {
        "chat-team": {"critics": 1, "converted": 1, "share": 1.0},
        "social-team": {"critics": 2, "converted": 1, "share": 0.5},
    }
    # with the listening stage the stored sentiment is used, without it the bodies are scored now
    assert (body["scored_at_query_time"] == 0) == (hub.mode == "listening")

    fb_only = hub.client.get("/listening/critics", params={"channel": "facebook"}).json()
    assert set(fb_only["by_channel"]) == {"facebook"} and fb_only["converted"] == 1
    before_answer = hub.client.get(
        "/listening/critics", params={"until": (T0 + timedelta(minutes=15)).isoformat()}
    ).json()
    assert before_answer["critics"] == 0  # nobody has written after the answer yet


def test_stored_sentiment_wins_over_the_body(hub) -> None:
    """A company that relabels a message (its own model, an agent's correction) is heard."""
    _conversation(hub)
    with hub.engine.begin() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.native_id == "c5")
            .values(insights={"sentiment": {"label": "positive", "score": 0.6}})
        )
    body = hub.client.get("/listening/critics", params={"authors": "false"}).json()
    assert "authors" not in body and body["converted"] == 3


def test_failed_delivery_is_no_answer_and_bad_ranges_are_refused(hub) -> None:
    _conversation(hub)
    with hub.engine.begin() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.agent_id.is_not(None), messages.c.kind == "message")
            .values(meta={"delivery": "failed", "error": "socket closed"})
        )
    body = hub.client.get("/listening/critics").json()
    assert "visitor-7" not in {a["author"] for a in body["authors"]}
    r = hub.client.get(
        "/listening/critics",
        params={"since": (T0 + timedelta(hours=1)).isoformat(), "until": T0.isoformat()},
    )
    assert r.status_code == 422
