"""The pages' lean reads (store/lean.py) give what SQLAlchemy's execute gives.

The pages' statements run on the driver's cursor (psycopg, sqlite3); with ``lean.ENABLED``
off through ``conn.execute``. Every read a page makes is compared both
ways on a hub with a real thread (customer, bystander, note, assignment, presence, a
follow, a spike), down to the rendered case and inbox markup, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import column, event, select, table, text
from sqlalchemy.exc import ProgrammingError

from somebound.api import queries
from somebound.api.app import create_app
from somebound.api.security import COOKIE
from somebound.api.settings import Settings
from somebound.channels.fakes import FakeGraphServer
from somebound.core.enums import EventType
from somebound.core.events import Event
from somebound.store import events as event_log
from somebound.store import lean
from somebound.store import web as store
from somebound.store.accounts import create_agent
from somebound.store.base import utcnow
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade
from somebound.store.tables import agents, cases
from somebound.web import pages, supervision
from somebound.web.render import render
from tests.web.conftest import PAGE_ID, PASSWORD, case_id_for, csrf, login, send_comment


@pytest.fixture
def hub(any_db_url: str, tmp_path: Path, graph: FakeGraphServer) -> Iterator:
    settings = Settings(
        database_url=any_db_url,
        run_smtp=False,
        blob_dir=str(tmp_path / "b"),
        facebook_graph_url=graph.base_url,
        facebook_app_secret="test-app-secret",
        facebook_page_token="test-page-token",
        facebook_page_id=PAGE_ID,
        pipeline_stages=(),
    )
    app = create_app(settings)
    with app.state.engine.begin() as conn:
        create_agent(conn, "anna", PASSWORD, "Anna Agent", role="agent", team="social")
        create_agent(conn, "ben", PASSWORD, "Ben Builder", role="supervisor")
    yield app, settings
    app.state.engine.dispose()


def _reads(app, token: str, cid: int, now) -> dict:  # noqa: ANN001
    """Everything the inbox and the case page read, and the markup they render."""
    with app.state.engine.connect() as conn:
        agent, unread = store.page_agent(conn, token)
        detail = queries.case_detail(conn, cid)
        customer = queries.customer_detail(
            conn, detail["customer_id"], timeline_limit=30, case_columns=queries.LIST_COLUMN_NAMES
        )
        ctx = pages.case_context(conn, agent, cid, now)
        frame = {
            "agent": agent,
            "now": now,
            "csrf": "x",
            "path": "/",
            "unread": unread,
            "spikes": supervision.open_spikes(conn, now),
            "is_supervisor": False,
        }
        inbox = pages.inbox_context(conn, agent, {})
        listed = [
            queries.list_cases(conn, queries.CaseFilter(**f), queries.LIST_COLUMN_NAMES)
            for f in (
                {},
                {"queue": "social", "limit": 1},
                {"sort": "updated"},
                {"assignee_id": agent.id},
                {"status": ["pending"]},
            )
        ]
        return {
            "agent": (agent, unread),
            "detail": detail,
            "customer": customer,
            "api_case": queries.case_detail(conn, cid),
            "following": store.following(conn, agent.id, cid, detail["customer_id"]),
            "others": store.others_on_case(conn, cid, agent.id, now=now),
            "spikes": frame["spikes"],
            "queues": queries.list_queues(conn),
            "listed": listed,
            "case_html": render("en", "case.html", **ctx, **frame),
            "inbox_html": render("en", "inbox.html", **inbox, **frame),
        }


def test_page_reads_are_the_same_through_the_lean_path(hub, monkeypatch) -> None:  # noqa: ANN001
    app, settings = hub
    engine = app.state.engine
    with TestClient(app) as client:
        login(client, "anna")
        post = send_comment(
            client, settings, "lean <b>path</b> & co", author="Matti", author_id="555"
        )
        cid = case_id_for(client, "lean <b>path</b> & co")
        send_comment(
            client,
            settings,
            "me too",
            author="Liisa",
            author_id="777",
            post_id=post,
            with_post=False,
        )
        case_id_for(client, "me too")
        token = csrf(client)
        client.post(f"/inbox/cases/{cid}/note", data={"body": "called him", "csrf": token})
        with engine.connect() as conn:
            ben_id = conn.execute(select(agents.c.id).where(agents.c.username == "ben")).scalar()
        client.post(
            f"/inbox/cases/{cid}/update",
            data={
                "status": "pending",
                "priority": "urgent",
                "assignee": str(ben_id),
                "csrf": token,
            },
        )
        client.post(f"/inbox/cases/{cid}/follow", data={"target": "customer", "csrf": token})
        session = client.cookies[COOKIE]
    now = utcnow()
    with engine.begin() as conn:
        store.touch_presence(conn, cid, ben_id, composing=True, at=now - timedelta(seconds=5))
        conn.execute(
            cases.update()
            .where(cases.c.id == cid)
            .values(
                insights={"sentiment": {"label": "negative", "score": -0.5}},
                sla_due_at=now + timedelta(hours=2),
            )
        )
        event_log.append(
            conn,
            [
                Event(
                    type=EventType.SPIKE_RAISED,
                    at=now - timedelta(minutes=1),
                    data={"key": "wall", "label": "Wall filling up"},
                )
            ],
        )

    sent: list[str] = []
    whole: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    event.listen(engine, "before_execute", lambda *a: whole.append(str(a[1])))
    lean_reads = _reads(app, session, cid, now)
    lean_sent, lean_whole = list(sent), list(whole)
    sent.clear()
    whole.clear()
    monkeypatch.setattr(lean, "ENABLED", False)
    reference = _reads(app, session, cid, now)

    assert lean_reads == reference
    # the same statements reached the database, and every cursor listener heard them
    assert lean_sent == sent and len(sent) > 20
    if engine.dialect.name == "postgresql":
        assert lean_whole == []  # none went through conn.execute: the lean path ran
    d = lean_reads["detail"]
    assert d["opened_at"].tzinfo is UTC and d["messages"][0]["sent_at"].tzinfo is UTC
    assert d["insights"] == {"sentiment": {"label": "negative", "score": -0.5}}
    by_id = {m["id"]: m for m in d["messages"]}
    timeline = lean_reads["customer"]["timeline"]
    assert timeline and all(
        (t["body"], t["at"], t["case_id"], t["direction"], t["kind"], t["public"])
        == (
            by_id[t["message_id"]]["body"],
            by_id[t["message_id"]]["sent_at"],
            cid,
            by_id[t["message_id"]]["direction"],
            by_id[t["message_id"]]["kind"],
            by_id[t["message_id"]]["public"],
        )
        and t["channel"] == "facebook"
        and t["bound"] == "somebound"
        for t in timeline
    )
    assert [o["display_name"] for o in lean_reads["others"]] == ["Ben Builder"]
    assert lean_reads["following"] == {"case": False, "customer": True}
    assert [s["key"] for s in lean_reads["spikes"]] == ["wall"]
    page = lean_reads["case_html"]
    assert "lean &lt;b&gt;path&lt;/b&gt; &amp; co" in page and "called him" in page
    assert "Ben Builder" in page and "Wall filling up" in page


def test_lean_reads_convert_to_utc_and_wrap_driver_errors(pg_database: str) -> None:
    engine = make_engine(pg_database)
    upgrade(engine)
    try:
        with engine.begin() as conn:
            create_agent(conn, f"tz{utcnow().timestamp()}", PASSWORD, "Zone Agent")
        stmt = select(agents.c.id, agents.c.created_at).order_by(agents.c.id)
        with engine.connect() as conn:
            conn.execute(text("SET TIME ZONE 'Europe/Helsinki'"))
            keys, rows = lean.rows(conn, stmt)
            assert keys == ("id", "created_at")
            assert [tuple(r) for r in rows] == [tuple(r) for r in conn.execute(stmt)]
            assert all(r[1].tzinfo is UTC for r in rows)
            with pytest.raises(ProgrammingError):
                lean.rows(conn, select(table("no_such_table", column("x"))))
            conn.rollback()
            assert lean.first(conn, stmt)["id"] == rows[0][0]  # the connection still works
    finally:
        engine.dispose()
