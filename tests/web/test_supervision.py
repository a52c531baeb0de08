"""Supervisor figures straight from cases, agents and the event log."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import insert

from somebound.core.enums import Bound, Channel, EventType
from somebound.core.events import Event
from somebound.store import events as event_log
from somebound.store.accounts import create_agent
from somebound.store.base import utcnow
from somebound.store.tables import cases, queues
from somebound.web import supervision


def _case(now, **kw) -> dict:  # noqa: ANN001
    row = dict(channel="email", bound="inbound", status="open", priority="normal",
               queue="general", subject="s", public=False, parallel=False, opened_at=now,
               updated_at=now, last_message_at=now, message_count=1, insights={},
               assignee_id=None, awaiting_since=None, sla_due_at=None)
    return row | kw


def test_queue_health_and_agent_load(sqlite_engine) -> None:  # noqa: ANN001
    now = utcnow()
    with sqlite_engine.begin() as conn:
        conn.execute(insert(queues), [dict(name="general", open_count=4),
                                      dict(name="social", open_count=0)])
        anna = create_agent(conn, "anna", "password-1", "Anna")
        conn.execute(insert(cases), [
            _case(now, awaiting_since=now - timedelta(minutes=50),
                  sla_due_at=now - timedelta(minutes=1), assignee_id=anna),  # breached
            _case(now, awaiting_since=now - timedelta(minutes=5),
                  sla_due_at=now + timedelta(minutes=10), assignee_id=anna),  # at risk
            _case(now, awaiting_since=now - timedelta(minutes=2),
                  sla_due_at=now + timedelta(hours=2)),
            _case(now, status="pending"),  # answered, not waiting
            _case(now, status="solved", assignee_id=anna,
                  awaiting_since=now - timedelta(hours=9)),  # closed: not counted
        ])
    with sqlite_engine.connect() as conn:
        health = {h["queue"]: h for h in supervision.queue_health(conn, now)}
        load = supervision.agent_load(conn)
    g = health["general"]
    assert (g["open"], g["waiting"], g["breached"], g["at_risk"]) == (4, 3, 1, 1)
    assert round(g["oldest_seconds"]) == 50 * 60
    assert health["social"]["waiting"] == 0 and health["social"]["oldest"] is None
    assert [(a["name"], a["load"], a["available"]) for a in load] == [("Anna", 2, True)]


def test_today_volumes_by_channel_and_bound(sqlite_engine) -> None:  # noqa: ANN001
    now = utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    fb, em = (Channel.FACEBOOK, Bound.SOMEBOUND), (Channel.EMAIL, Bound.INBOUND)
    evs = [Event(type=EventType.MESSAGE_RECEIVED, at=day + timedelta(minutes=i), channel=c,
                 bound=b) for i, (c, b) in enumerate([fb, fb, fb, em])]
    evs += [Event(type=EventType.FIRST_RESPONSE, at=day + timedelta(minutes=9), channel=c,
                  bound=b, data={"seconds": s}) for (c, b), s in [(fb, 60), (fb, 180),
                                                                 (em, 3600)]]
    evs.append(Event(type=EventType.MESSAGE_RECEIVED, at=day - timedelta(minutes=1),
                     channel=Channel.FACEBOOK, bound=Bound.SOMEBOUND))  # yesterday
    with sqlite_engine.begin() as conn:
        event_log.append(conn, evs)
    with sqlite_engine.connect() as conn:
        rows = {(r.channel, r.bound): r for r in
                supervision.today_volumes(conn, day, day + timedelta(days=1))}
    f = rows[("facebook", "somebound")]
    assert (f.received, f.first_responses, f.frt_avg_seconds) == (3, 2, 120.0)
    assert rows[("email", "inbound")].frt_avg_seconds == 3600.0


def test_spikes_from_the_listening_service_or_the_event_log(sqlite_engine) -> None:  # noqa: ANN001
    now = utcnow()
    service = SimpleNamespace(spikes=SimpleNamespace(active=lambda: [
        {"key": "channel:facebook", "metric": "volume", "since": now.isoformat()}]))
    with sqlite_engine.connect() as conn:
        live = supervision.open_spikes(conn, now, SimpleNamespace(listening=service))
        assert live[0]["at"] == now and "channel:facebook" in live[0]["label"]
        assert supervision.open_spikes(conn, now, SimpleNamespace()) == []
    with sqlite_engine.begin() as conn:
        event_log.append(conn, [
            Event(type=EventType.SPIKE_RAISED, at=now - timedelta(minutes=9), data={"key": "a"}),
            Event(type=EventType.SPIKE_RAISED, at=now - timedelta(minutes=8), data={"key": "b"}),
            Event(type=EventType.SPIKE_CLEARED, at=now - timedelta(minutes=1), data={"key": "a"}),
            Event(type=EventType.SPIKE_RAISED, at=now - timedelta(days=2), data={"key": "old"}),
        ])
    with sqlite_engine.connect() as conn:
        assert [s["key"] for s in supervision.open_spikes(conn, now)] == ["b"]
