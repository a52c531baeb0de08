"""Live updates across processes: a change committed by another process (its own engine,
its own pipeline, no shared Broadcaster) reaches an SSE client of the app, on SQLite (the
relay polls the event log) and on PostgreSQL (LISTEN/NOTIFY from a trigger)."""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from sqlalchemy import insert, text

from somebound.api.app import create_app
from somebound.api.live import Broadcaster, EventRelay, items_from_events
from somebound.api.settings import Settings
from somebound.store.accounts import create_agent
from somebound.store.base import utcnow
from somebound.store.tables import events

PASSWORD = "correct-horse-1"

# What the other process runs: its own engine and pipeline, nothing of the app's.
OTHER_PROCESS = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from somebound.core.enums import CaseStatus, Channel, Direction, MessageKind
    from somebound.core.message import Author, Message
    from somebound.pipeline import agent_actions
    from somebound.pipeline.ingest import Pipeline, Stages
    from somebound.pipeline.routing import RoutingPolicy
    from somebound.store.engine import make_engine

    url, what = sys.argv[1], sys.argv[2]
    engine = make_engine(url)
    if what == "message":
        msg = Message(channel=Channel.FACEBOOK, native_id="fb-other-1",
                      author=Author(channel_user_id="777", display_name="Outi Other"),
                      body="Hello from another process", sent_at=datetime.now(UTC),
                      thread_key="post-other", public=True, kind=MessageKind.MESSAGE,
                      direction=Direction.IN, meta={})
        pipe = Pipeline(engine, {}, Stages(routing=RoutingPolicy.load()))
        print(pipe.ingest_messages([msg])[0].case_id)
    else:
        agent_actions.set_status(engine, int(what), CaseStatus.PENDING, None)
        print(what)
""")


def _other_process(url: str, what: str) -> int:
    done = subprocess.run([sys.executable, "-c", OTHER_PROCESS, url, what], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


class Served(SimpleNamespace):
    url: str
    app: object


@pytest.fixture
def served(any_db_url: str, tmp_path: Path) -> Iterator[Served]:
    """The app under uvicorn on a free port (its lifespan starts the relay)."""
    settings = Settings(database_url=any_db_url, run_smtp=False, run_worker=False,
                        blob_dir=str(tmp_path / "blobs"), pipeline_stages=())
    app = create_app(settings)
    with app.state.engine.begin() as conn:
        create_agent(conn, "anna", PASSWORD, "Anna Agent", role="agent")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Served(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(15)
        app.state.engine.dispose()


def _frames(client: httpx.Client) -> queue.Queue:
    """Read /live in a thread; (event, data) tuples arrive on the queue."""
    out: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            with client.stream("GET", "/live", timeout=httpx.Timeout(5, read=60)) as resp:
                out.put(("status", resp.status_code))
                event = None
                for line in resp.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event:
                        out.put((event, json.loads(line[6:])))
                        event = None
        except httpx.HTTPError:  # the test closed the client: the page went away
            pass

    threading.Thread(target=read, daemon=True).start()
    return out


def _next(frames: queue.Queue, wanted: str, match=lambda d: True, timeout: float = 20):  # noqa: ANN001, ANN202
    """The next frame of kind ``wanted`` whose data matches; the other frames it passed."""
    passed = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} frame in {timeout} s; got {passed}"
        try:
            event, data = frames.get(timeout=left)
        except queue.Empty:
            continue
        if event == wanted and match(data):
            return data, passed
        passed.append((event, data))


def test_changes_committed_by_another_process_reach_the_open_page(served: Served) -> None:
    client = httpx.Client(base_url=served.url, follow_redirects=False)
    r = client.post("/login", data={"username": "anna", "password": PASSWORD})
    assert r.status_code == 303
    frames = _frames(client)
    assert frames.get(timeout=10) == ("status", 200)
    _next(frames, "hello")

    # 1. another process's pipeline stores an inbound public comment
    case_id = _other_process(served.app.state.settings.database_url, "message")
    data, _ = _next(frames, "message", lambda d: d["case_id"] == case_id)
    assert data["message_id"] and data["customer_id"]
    page = client.get("/inbox")
    assert f'data-case-id="{case_id}"' in page.text  # and the list the page re-fetches has it

    # 2. anna follows the case; another process changes its status: the page hears the case
    # change and anna gets her notification, once
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', client.get(f"/inbox/cases/{case_id}").text)
    assert csrf
    r = client.post(f"/inbox/cases/{case_id}/follow",
                    data={"csrf": csrf.group(1), "target": "case"})
    assert r.status_code == 303
    _other_process(served.app.state.settings.database_url, str(case_id))
    data, _ = _next(frames, "case", lambda d: d["case_id"] == case_id
                    and "case_status_changed" in d["types"])
    assert data["event_ids"]
    note, _ = _next(frames, "notification", lambda d: d["case_id"] == case_id)
    assert note["agent_id"] and "pending" in note["text"]
    time.sleep(1.0)  # anything else that arrives now would be a duplicate
    extra = []
    while not frames.empty():
        extra.append(frames.get())
    assert not [f for f in extra if f[0] in ("case", "notification")], extra
    client.close()


def test_a_local_change_is_heard_once(served: Served) -> None:
    """The app's own pipeline still notifies in process; with the relay running that only
    wakes the relay, so the page gets the change once (from the log), not twice."""
    from datetime import UTC, datetime

    from somebound.core.enums import Channel, Direction, MessageKind
    from somebound.core.message import Author, Message

    client = httpx.Client(base_url=served.url, follow_redirects=False)
    client.post("/login", data={"username": "anna", "password": PASSWORD})
    frames = _frames(client)
    _next(frames, "hello")
    msg = Message(channel=Channel.EMAIL, native_id="<local-1@example.fi>",
                  author=Author(channel_user_id="ville@example.fi", display_name="Ville",
                                email="ville@example.fi"),
                  body="Local mail", sent_at=datetime.now(UTC), kind=MessageKind.MESSAGE,
                  direction=Direction.IN, meta={}, subject="Hei")
    changes = served.app.state.pipeline.ingest_messages([msg])
    case_id = changes[0].case_id
    _next(frames, "message", lambda d: d["case_id"] == case_id, timeout=5)
    time.sleep(1.0)
    again = []
    while not frames.empty():
        again.append(frames.get())
    assert not [f for f in again if f[0] == "message" and f[1]["case_id"] == case_id], again
    client.close()


def test_items_from_events_group_by_case_and_skip_the_opening_of_a_messaged_case() -> None:
    def ev(i: int, typ: str, case: int | None, msg: int | None = None, data: dict | None = None):  # noqa: ANN202
        return SimpleNamespace(id=i, type=typ, case_id=case, customer_id=9, message_id=msg,
                               queue="social", data=data or {})

    items = items_from_events([
        ev(1, "case_opened", 5), ev(2, "case_routed", 5), ev(3, "message_received", 5, 50),
        ev(4, "case_assigned", 6), ev(5, "case_status_changed", 6),
        ev(6, "spike_raised", None, data={"key": "wall"}), ev(7, "survey_sent", None)])
    assert items[0] == {"kind": "message", "case_id": 5, "message_id": 50, "customer_id": 9,
                        "queue": "social", "event_id": 3}
    assert items[1]["kind"] == "spike" and items[1]["key"] == "wall"
    by_case = {i["case_id"]: i for i in items if i["kind"] == "case"}
    assert by_case[5]["types"] == ["case_routed"]  # the message announces the opening
    assert by_case[6]["event_ids"] == [4, 5]
    assert len(items) == 4


def test_relay_delivers_an_event_whose_transaction_commits_after_a_later_one(
        pg_database: str) -> None:
    """PostgreSQL hands out ids at insert and commits in any order: an id read past while
    its transaction was open is picked up when it commits."""
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    engine = make_engine(pg_database)
    upgrade(engine)
    got: list[dict] = []
    broadcaster = Broadcaster()
    broadcaster.deliver = got.extend  # type: ignore[method-assign]
    relay = EventRelay(engine, broadcaster, poll_seconds=0.2)
    relay.last_id = int(engine.connect().execute(text("SELECT coalesce(max(id), 0) FROM events"))
                        .scalar())
    row = {"at": utcnow(), "queue": "q", "data": {}}
    slow = engine.connect()
    slow_tx = slow.begin()
    slow.execute(insert(events).values(type="case_assigned", case_id=1, **row))
    with engine.begin() as conn:
        conn.execute(insert(events).values(type="case_assigned", case_id=2, **row))
    relay.pump()
    assert [i["case_id"] for i in got] == [2]
    slow_tx.commit()
    slow.close()
    relay.pump()
    assert [i["case_id"] for i in got] == [2, 1]
    relay.pump()
    assert len(got) == 2  # delivered once
    engine.dispose()


def test_a_burst_of_commits_is_read_in_a_few_reads_and_delivered_whole(
        any_db_url: str) -> None:
    """Under load every worker batch commits and wakes the relay (a NOTIFY, or a local
    wake-up on SQLite): the wake-ups that come while it waits out its interval are answered
    by one read, and none of their events is lost."""
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    engine = make_engine(any_db_url)
    upgrade(engine)
    got: list[dict] = []
    broadcaster = Broadcaster()
    broadcaster.deliver = got.extend  # type: ignore[method-assign]
    relay = EventRelay(engine, broadcaster, poll_seconds=5.0, coalesce_seconds=0.5).start()
    try:
        row = {"at": utcnow(), "queue": "q", "data": {}}
        for case_id in range(1, 31):  # thirty commits, each its own transaction
            with engine.begin() as conn:
                conn.execute(insert(events).values(type="case_assigned", case_id=case_id,
                                                   **row))
            relay.wake()  # what the local pipeline's publish does (PostgreSQL: the NOTIFY)
        deadline = time.monotonic() + 20
        while len(got) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(i["case_id"] for i in got) == list(range(1, 31))
        assert relay.reads <= 4, relay.reads
    finally:
        relay.stop()
        engine.dispose()
