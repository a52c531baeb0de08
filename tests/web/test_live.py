"""The live stream and the followers' notifier, without a browser."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import insert

from somebound.api.live import Broadcaster
from somebound.store import web as store
from somebound.store.base import utcnow
from somebound.store.tables import cases, customers, messages
from somebound.web.live import event_stream, notifications_for, record_notifications


def _frames(broadcaster: Broadcaster, agent_id: int, items: list, heartbeat: float = 0.05,
            wanted: int = 3) -> list[str]:
    async def run() -> list[str]:
        gone = asyncio.Event()

        async def is_disconnected() -> bool:
            return gone.is_set()

        out: list[str] = []
        gen = event_stream(broadcaster, agent_id, is_disconnected, heartbeat=heartbeat)
        out.append(await gen.__anext__())  # hello: subscribed now
        broadcaster.publish(items)
        while len(out) < wanted:
            out.append(await gen.__anext__())
        gone.set()
        await gen.aclose()
        return out

    return asyncio.run(run())


def test_stream_forwards_changes_and_only_my_notifications_then_unsubscribes() -> None:
    b = Broadcaster()
    frames = _frames(b, 7, [
        {"kind": "notification", "agent_id": 8, "text": "not for me"},
        {"kind": "case", "case_id": 1},
        {"kind": "notification", "agent_id": 7, "text": "for me"},
        {"kind": "something-internal"},
    ], wanted=4)
    assert frames[0].startswith("retry: 3000\nevent: hello")
    assert frames[1].startswith("event: case\n")
    assert json.loads(frames[1].split("data: ")[1]) == {"kind": "case", "case_id": 1}
    assert frames[2].startswith("event: notification\n") and "for me" in frames[2]
    assert "not for me" not in "".join(frames)
    assert frames[3] == ": heartbeat\n\n"
    assert b._subs == set()  # the page went away: no subscription left behind


def _agents(engine, *usernames: str) -> list[int]:  # noqa: ANN001
    """The web tables, and an agent per username (display name: its first letter)."""
    from somebound.store.accounts import create_agent
    from somebound.store.base import metadata

    metadata.create_all(engine, tables=list(store.WEB_TABLES))
    with engine.begin() as conn:
        return [create_agent(conn, u, "password-1", u[0].upper()) for u in usernames]


def _seed(engine) -> tuple[int, int]:  # noqa: ANN001
    now = utcnow()
    with engine.begin() as conn:
        cust = conn.execute(insert(customers).values(
            display_name="Outi", attributes={}, provisional=False, erased=False,
            created_at=now, updated_at=now)).inserted_primary_key[0]
        case = conn.execute(insert(cases).values(
            customer_id=cust, channel="email", bound="inbound", status="open",
            priority="normal", queue="general", subject="s", public=False, parallel=False,
            opened_at=now, updated_at=now, last_message_at=now, message_count=1,
            insights={})).inserted_primary_key[0]
    return int(cust), int(case)


def _message(engine, case_id: int, customer_id: int | None, direction: str,  # noqa: ANN001
             agent_id: int | None = None, native: str = "m1") -> int:
    now = utcnow()
    with engine.begin() as conn:
        return int(conn.execute(insert(messages).values(
            case_id=case_id, channel="email", native_id=native, direction=direction,
            kind="message", customer_id=customer_id, agent_id=agent_id, author_name="Outi",
            is_company=direction == "out", body="Hello there", public=False, sent_at=now,
            received_at=now, attachments=[], meta={})).inserted_primary_key[0])


def test_notifications_go_to_followers_except_the_actor_and_are_idempotent(
        sqlite_engine) -> None:  # noqa: ANN001
    a, b, c = _agents(sqlite_engine, "a1", "b1", "c1")
    cust, case = _seed(sqlite_engine)
    with sqlite_engine.begin() as conn:
        store.follow(conn, a, "customer", cust)
        store.follow(conn, b, "case", case)
        store.follow(conn, b, "case", case)  # twice is once
        store.follow(conn, c, "case", case + 1)  # another case
    inbound = _message(sqlite_engine, case, cust, "in")
    with sqlite_engine.begin() as conn:
        rows = notifications_for(conn, {"kind": "message", "case_id": case,
                                        "message_id": inbound})
        assert sorted(r["agent_id"] for r in rows) == [a, b]
        assert all("Outi wrote on email" in r["text"] for r in rows)
        assert store.add_notifications(conn, rows) == 2
        assert store.add_notifications(conn, rows) == 0  # a second process hears it too
        assert store.unread_count(conn, a) == 1
    reply = _message(sqlite_engine, case, None, "out", agent_id=b, native="m2")
    with sqlite_engine.begin() as conn:
        rows = notifications_for(conn, {"kind": "message", "case_id": case,
                                        "message_id": reply})
    # b wrote it (no self-notice); a follows the customer, who did not write
    assert rows == []
    with sqlite_engine.begin() as conn:
        store.unfollow(conn, b, "case", case)
        assert {k: set(v) for k, v in store.followers(conn, case, cust).items()} == {a: {"customer"}}
        store.mark_read(conn, a)
        assert store.unread_count(conn, a) == 0


def test_a_run_of_changes_notifies_only_about_followed_cases_in_one_pass(
        sqlite_engine) -> None:  # noqa: ANN001
    a, b = _agents(sqlite_engine, "a1", "b1")
    by_customer, by_case, nobody = _seed(sqlite_engine), _seed(sqlite_engine), _seed(sqlite_engine)
    with sqlite_engine.begin() as conn:
        store.follow(conn, a, "customer", by_customer[0])
        store.follow(conn, b, "case", by_case[1])
        assert store.followed_cases(conn, [by_customer[1], by_case[1], nobody[1]]) == {
            by_customer[1], by_case[1]}
        assert store.followed_cases(conn, []) == set()
    changes = [{"kind": "message", "case_id": case, "message_id":
                _message(sqlite_engine, case, cust, "in", native=f"m{case}")}
               for cust, case in (by_customer, by_case, nobody)]
    changes.append({"kind": "case"})  # no case named: nothing to tell
    rows = record_notifications(sqlite_engine, changes)
    assert sorted((r["agent_id"], r["case_id"]) for r in rows) == [
        (a, by_customer[1]), (b, by_case[1])]
    assert record_notifications(sqlite_engine, changes) == rows  # heard again: same rows
    with sqlite_engine.begin() as conn:
        assert (store.unread_count(conn, a), store.unread_count(conn, b)) == (1, 1)
