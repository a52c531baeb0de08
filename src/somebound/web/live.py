"""Live pages: a Server-Sent Events stream per open page, and the followers' notifier.

Both listen to the hub's :class:`~somebound.api.live.Broadcaster`, which hears every
commit of every process (its :class:`~somebound.api.live.EventRelay` follows the event log). The SSE stream forwards case and message changes to every page and
notifications only to the agent they are for; the notifier turns changes into
notifications for the agents who follow the case or the customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from somebound.api.live import Broadcaster
from somebound.store import web as store
from somebound.store.base import utcnow
from somebound.store.engine import transaction
from somebound.store.tables import cases, customers, events, messages

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0
_FORWARD = {"message", "case", "presence", "spike"}


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event frame."""
    return f"event: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


async def event_stream(broadcaster: Broadcaster, agent_id: int,
                       is_disconnected: Callable[[], Awaitable[bool]],
                       heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[str]:
    """The frames one page receives until it goes away (then it unsubscribes)."""
    queue = broadcaster.subscribe()
    try:
        yield "retry: 3000\n" + sse("hello", {"agent_id": agent_id})
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                if await is_disconnected():
                    return
                yield ": heartbeat\n\n"
                continue
            kind = item.get("kind") if isinstance(item, dict) else None
            if kind == "notification":
                if item.get("agent_id") == agent_id:
                    yield sse("notification", item)
            elif kind in _FORWARD:
                yield sse(kind, item)
    finally:
        broadcaster.unsubscribe(queue)


# -- followers' notifications ------------------------------------------------------------

RECENT_EVENTS = timedelta(minutes=2)
_CASE_EVENT_TEXT = {
    "case_opened": "New case #{case_id}",
    "case_assigned": "Case #{case_id} was assigned",
    "case_status_changed": "Case #{case_id} is now {to}",
    "case_priority_changed": "Case #{case_id} priority is now {to}",
    "case_reopened": "Case #{case_id} was reopened",
    "case_routed": "Case #{case_id} was routed to {queue}",
    "note_added": "Internal note on case #{case_id}",
}


def notifications_for(conn: Any, change: dict, now: datetime | None = None) -> list[dict]:
    """The notification rows one committed change means for the followers (pure of I/O
    except the reads on ``conn``); the acting agent is never told about their own act."""
    now = now or utcnow()
    case_id = change.get("case_id")
    if case_id is None:
        return []
    crow = conn.execute(select(cases.c.id, cases.c.customer_id, cases.c.subject)
                        .where(cases.c.id == case_id)).first()
    if crow is None:
        return []
    customer_id = crow.customer_id
    fol = store.followers(conn, case_id, customer_id)
    if not fol:
        return []
    out: list[dict] = []
    if change.get("kind") == "message" and change.get("message_id"):
        m = conn.execute(select(messages.c.id, messages.c.direction, messages.c.kind,
                                messages.c.author_name, messages.c.agent_id, messages.c.body,
                                messages.c.customer_id, messages.c.channel,
                                messages.c.received_at)
                         .where(messages.c.id == change["message_id"])).first()
        if m is None:
            return []
        who = m.author_name
        if not who and m.customer_id:
            who = conn.execute(select(customers.c.display_name)
                               .where(customers.c.id == m.customer_id)).scalar()
        excerpt = " ".join((m.body or "").split())[:120]
        for agent_id, kinds in fol.items():
            if m.agent_id == agent_id:
                continue
            kinds = {k for k, since in kinds.items() if m.received_at >= since}
            customer_writes = m.direction == "in" and m.customer_id == customer_id
            if "case" in kinds or (customer_writes and "customer" in kinds):
                text = (f"{who or 'Someone'} wrote on {m.channel} (case #{case_id}): {excerpt}"
                        if m.direction == "in" else f"Reply sent on case #{case_id}: {excerpt}")
                out.append({"agent_id": agent_id, "kind": "message", "case_id": case_id,
                            "customer_id": customer_id, "message_id": m.id, "text": text,
                            "dedupe_key": f"m:{m.id}"})
        return out
    # a case change: the relay names its events; a bare "case changed" means the case's
    # events of the last moments
    stmt = (select(events.c.id, events.c.type, events.c.agent_id, events.c.queue, events.c.data)
            .where(events.c.case_id == case_id, events.c.type.in_(list(_CASE_EVENT_TEXT))))
    if change.get("event_ids") is not None:
        stmt = stmt.where(events.c.id.in_(change["event_ids"]))
    else:
        stmt = stmt.where(events.c.at >= now - RECENT_EVENTS)
    for ev in conn.execute(stmt.order_by(events.c.id.desc()).limit(10)):
        data = ev.data or {}
        text = _CASE_EVENT_TEXT[ev.type].format(case_id=case_id, to=data.get("to", ""),
                                                queue=ev.queue or "")
        for agent_id, kinds in fol.items():
            if ev.agent_id == agent_id:
                continue
            if "case" in kinds or (ev.type == "case_opened" and "customer" in kinds):
                out.append({"agent_id": agent_id, "kind": "case", "case_id": case_id,
                            "customer_id": customer_id, "message_id": None, "text": text,
                            "dedupe_key": f"e:{ev.id}"})
    return out


def record_notifications(engine: Engine, changes: list[dict]) -> list[dict]:
    """Write the notifications a run of changes means (idempotent: several API processes
    hear the same change and write one row per follower); returns all of them, new or not.

    One read finds the changed cases anyone follows, in a read-only transaction (on SQLite
    it does not queue behind the writer); only when there are notifications does it write.
    A change per message arrives at ingest speed and almost none is followed, so this is
    the common case and must stay cheap.
    """
    ids = sorted({c["case_id"] for c in changes if c.get("case_id") is not None})
    with transaction(engine, read_only=True) as conn:
        followed = store.followed_cases(conn, ids)
        rows = [row for c in changes if c.get("case_id") in followed
                for row in notifications_for(conn, c)]
    if rows:
        with engine.begin() as conn:
            store.add_notifications(conn, rows)
    return rows


class Notifier:
    """Background task: every committed change becomes notifications for its followers.

    Every API process hears every change (the event relay) and writes the same rows (one
    wins); each pushes the notification to the pages *it* serves, once: it remembers
    what it pushed, since a bare "case changed" is answered from the last moments' events.
    """

    REMEMBER = 10_000

    def __init__(self, engine: Engine, broadcaster: Broadcaster):
        self.engine, self.broadcaster = engine, broadcaster
        self._task: asyncio.Task | None = None
        self._pushed: OrderedDict[tuple[int, str], None] = OrderedDict()

    def unseen(self, rows: list[dict]) -> list[dict]:
        """The rows this process has not pushed yet (and remember them)."""
        out = []
        for row in rows:
            key = (row["agent_id"], row["dedupe_key"])
            if key in self._pushed:
                continue
            self._pushed[key] = None
            out.append(row)
        while len(self._pushed) > self.REMEMBER:
            self._pushed.popitem(last=False)
        return out

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        queue = self.broadcaster.subscribe()
        try:
            while True:
                items = [await queue.get()]
                while not queue.empty():  # what queued meanwhile goes in the same read
                    items.append(queue.get_nowait())
                changes = [i for i in items
                           if isinstance(i, dict) and i.get("kind") in ("message", "case")]
                if not changes:
                    continue
                try:
                    rows = await asyncio.to_thread(record_notifications, self.engine, changes)
                except Exception:  # a bad change must not stop notifications for good
                    log.exception("notifier failed on %d changes", len(changes))
                    continue
                fresh = self.unseen(rows)
                if fresh:
                    # the row's own kind (message|case) says what it is about
                    self.broadcaster.deliver([{**n, "kind": "notification", "about": n["kind"]}
                                              for n in fresh])
        finally:
            with contextlib.suppress(Exception):
                self.broadcaster.unsubscribe(queue)
