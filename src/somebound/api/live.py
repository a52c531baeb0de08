"""Live updates: committed changes fan out to every open page and chat socket, from
whichever process made them.

The :class:`Broadcaster` delivers to this process's subscribers (asyncio queues owned by
the event loops serving them); anyone may call :meth:`Broadcaster.publish` from any thread.

Facts about cases and messages reach it through the :class:`EventRelay`, which follows the
append-only event log: every writer (this process's pipeline, a separate ``somebound
worker``, another API process, a CLI import) appends events in the same transaction as its
change, so the log is the one cross-process record of what changed, and nobody needs a hook
to announce it. On PostgreSQL a statement trigger on ``events`` sends ``NOTIFY`` at commit
and the relay ``LISTEN``s (with a slow poll as a safety net); on SQLite the relay polls the
log by id (one primary-key range read) and is woken at once by local commits. While a relay
runs, local publishes of ``message``/``case`` changes only wake it, so a page hears each
change once whichever process committed it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func, or_, select, text

from somebound.store.engine import listening_connection
from somebound.store.tables import events

log = logging.getLogger(__name__)

# Kinds the event log carries: with a relay running they are delivered from the log only.
RELAYED = frozenset({"message", "case"})
# Events that mean "a message was added to the thread" (the rest are case changes).
MESSAGE_EVENTS = frozenset({"message_received", "message_sent", "note_added"})
SPIKE_EVENTS = frozenset({"spike_raised", "spike_cleared"})
NOTIFY_CHANNEL = "somebound_events"  # the trigger's: "the log has new rows"
LIVE_CHANNEL = "somebound_live"  # payloads for every process (presence)


class Broadcaster:
    def __init__(self) -> None:
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._lock = threading.Lock()
        self.relay: EventRelay | None = None

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subs.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._subs = {s for s in self._subs if s[1] is not queue}

    def publish(self, items: list[Any]) -> None:
        """Announce committed changes. With a relay, changes the event log carries wake it
        (it delivers them from the log) and presence goes to every process."""
        payloads = [asdict(i) if is_dataclass(i) else i for i in items]
        relay = self.relay
        if relay is not None and relay.running:
            direct = []
            for p in payloads:
                kind = p.get("kind") if isinstance(p, dict) else None
                if kind in RELAYED:
                    relay.wake()
                elif kind == "presence" and relay.share(p):
                    pass
                else:
                    direct.append(p)
            payloads = direct
        self.deliver(payloads)

    def deliver(self, payloads: list[Any]) -> None:
        """Hand payloads to this process's subscribers."""
        if not payloads:
            return
        with self._lock:
            subs = list(self._subs)
        for loop, queue in subs:
            try:  # one hand-over per subscriber: each wakes its loop through a pipe
                loop.call_soon_threadsafe(_put, queue, payloads)
            except RuntimeError:  # loop closed: the page went away
                self.unsubscribe(queue)


def _put(queue: asyncio.Queue, items: list[Any]) -> None:
    for item in items:
        if queue.full():
            return
        queue.put_nowait(item)


def items_from_events(rows: Iterable[Any]) -> list[dict]:
    """What pages hear about a run of new events: one ``message`` item per message added,
    one ``case`` item per case with other changes (with their event ids, so followers are
    told about exactly those), one ``spike`` item per spike raised or cleared.

    A case opened by a message is announced by that message alone (its ``case_opened``
    is not repeated as a case notification)."""
    out: list[dict] = []
    cases: dict[int, dict] = {}
    messaged: set[int] = set()
    for r in rows:
        if r.type in SPIKE_EVENTS:
            out.append({**(r.data or {}), "kind": "spike", "event": r.type, "event_id": r.id})
        elif r.case_id is None:
            continue
        elif r.type in MESSAGE_EVENTS and r.message_id is not None:
            messaged.add(r.case_id)
            out.append({"kind": "message", "case_id": r.case_id, "message_id": r.message_id,
                        "customer_id": r.customer_id, "queue": r.queue, "event_id": r.id})
        else:
            item = cases.setdefault(r.case_id, {
                "kind": "case", "case_id": r.case_id, "customer_id": r.customer_id,
                "queue": r.queue, "event_ids": [], "types": []})
            item["event_ids"].append(r.id)
            item["types"].append(r.type)
            item["queue"] = r.queue or item["queue"]
    for case_id, item in cases.items():
        if case_id in messaged:
            keep = [(i, t) for i, t in zip(item["event_ids"], item["types"], strict=True)
                    if t != "case_opened"]
            item["event_ids"], item["types"] = [i for i, _ in keep], [t for _, t in keep]
        out.append(item)
    return out


_COLUMNS = (events.c.id, events.c.type, events.c.case_id, events.c.customer_id,
            events.c.message_id, events.c.queue, events.c.data)
_AFTER = select(*_COLUMNS).where(events.c.id > bindparam("after")).order_by(events.c.id)
_AFTER_OR_GAPS = (select(*_COLUMNS)
                  .where(or_(events.c.id > bindparam("after"),
                             events.c.id.in_(bindparam("gaps", expanding=True))))
                  .order_by(events.c.id))
_SQLITE_AFTER = ("SELECT id, type, case_id, customer_id, message_id, queue, data FROM events "
                 "WHERE id > ? ORDER BY id LIMIT ?")

class EventRelay:
    """Follows the event log and delivers new events to a :class:`Broadcaster`.

    A background thread waits for a NOTIFY (PostgreSQL), a local wake-up or the poll
    interval, then reads the events after the last id it delivered. On PostgreSQL, ids
    come from a sequence and transactions may commit out of id order, so ids skipped in a
    read are re-read until they appear or ``gap_seconds`` pass (a rolled-back insert
    leaves a gap for good).

    Reads are at least ``coalesce_seconds`` apart: under load every worker batch commits
    and NOTIFYs, a hundred times a second at 200 webhooks/s, and a read per commit (with
    the notifier's check behind it) took the API process's CPU per webhook from 1.2-1.4
    to 2.0-2.2 ms, beside the webhooks it must acknowledge. The first change after a
    quiet spell is read at once; the wake-ups that come while the relay waits out the
    interval are all answered by the one read that follows it. A person does not see
    50 ms.
    """

    def __init__(self, engine: Engine, broadcaster: Broadcaster,
                 poll_seconds: float | None = None, gap_seconds: float = 60.0,
                 batch: int = 500, coalesce_seconds: float = 0.05):
        self.engine, self.broadcaster = engine, broadcaster
        self.postgres = engine.dialect.name == "postgresql"
        # SQLite has no NOTIFY: its poll is the cross-process delivery, so it is quick.
        self.poll_seconds = poll_seconds or (1.0 if self.postgres else 0.25)
        self.gap_seconds, self.batch = gap_seconds, batch
        self.coalesce_seconds = coalesce_seconds
        self.reads = 0  # how many times the log was read (the coalescing's measure)
        self._last_read = float("-inf")
        self.last_id = 0
        self._gaps: dict[int, float] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Any = None
        self.running = False

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> EventRelay:
        """Deliver events committed from now on; attaches itself to the broadcaster."""
        with self.engine.connect() as conn:
            self.last_id = int(conn.execute(select(func.max(events.c.id))).scalar() or 0)
        if self.postgres:  # the NOTIFY trigger comes with migration 0003
            self._listener = self._listen()
        self.broadcaster.relay = self
        self.running = True
        self._thread = threading.Thread(target=self._loop, name="event-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.running = False
        if self.broadcaster.relay is self:
            self.broadcaster.relay = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.poll_seconds + 5)
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("closing the LISTEN connection failed", exc_info=True)

    def wake(self) -> None:
        """A local commit: read the log now rather than at the next poll."""
        self._wake.set()

    def share(self, payload: dict) -> bool:
        """Send a payload that is not in the event log (presence) to every process's pages;
        False when only this process can be told (SQLite)."""
        if not self.postgres:
            return False
        try:
            with self.engine.begin() as conn:
                conn.execute(text("SELECT pg_notify(:c, :p)"),
                             {"c": LIVE_CHANNEL, "p": json.dumps(payload, default=str)})
        except Exception:  # noqa: BLE001 - then at least this process's pages hear it
            log.warning("could not NOTIFY %s", LIVE_CHANNEL, exc_info=True)
            return False
        return True

    # -- the loop -----------------------------------------------------------------------
    def _listen(self) -> Any:
        return listening_connection(self.engine, NOTIFY_CHANNEL, LIVE_CHANNEL)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._wait()
                if self._coalesce():
                    self.pump()
            except Exception:  # noqa: BLE001 - a lost connection must not end live updates
                log.warning("event relay: retrying after an error", exc_info=True)
                self._reconnect()

    def _wait(self) -> None:
        if self._listener is None:
            self._wake.wait(self.poll_seconds)
            return
        self._take(self._listener.notifies(timeout=self.poll_seconds, stop_after=1))

    def _coalesce(self) -> bool:
        """Wait out the rest of the interval since the last read, then take every wake-up
        that came meanwhile as answered by the read about to start; False when stopping.

        The wake-ups are cleared *before* the read, so a commit that lands during it wakes
        the relay again rather than being missed."""
        delay = self._last_read + self.coalesce_seconds - time.monotonic()
        if delay > 0 and self._stop.wait(delay):
            return False
        if self._listener is None:
            self._wake.clear()
        else:
            self._take(self._listener.notifies(timeout=0))
        self._last_read = time.monotonic()
        return not self._stop.is_set()

    def _take(self, notes: Iterable[Any]) -> None:
        """Deliver what the notifications carry for pages (presence); the others only
        mean "the log has new rows", which the next read answers."""
        shared = [json.loads(n.payload) for n in notes
                  if n.channel == LIVE_CHANNEL and n.payload]
        self.broadcaster.deliver(shared)

    def _reconnect(self) -> None:
        if self._stop.wait(1.0) or not self.postgres:
            return
        try:
            if self._listener is not None:
                self._listener.close()
            self._listener = self._listen()
        except Exception:  # noqa: BLE001 - the database is still away: try again later
            log.warning("event relay: LISTEN connection failed", exc_info=True)
            self._listener = None  # poll until it comes back

    def pump(self) -> int:
        """Read the events committed since the last read and deliver them; how many."""
        total = 0
        while True:
            n = self._pump_once()
            total += n
            if n < self.batch:
                return total

    def _pump_once(self) -> int:
        self.reads += 1
        rows = self._read()
        if not rows:
            return 0
        now = time.monotonic()
        seen = {r.id for r in rows}
        for gap in seen & self._gaps.keys():
            del self._gaps[gap]
        top = max(seen)
        if self.postgres:
            for missing in range(self.last_id + 1, top):
                if missing not in seen and len(self._gaps) < 10_000:
                    self._gaps[missing] = now + self.gap_seconds
        self.last_id = max(self.last_id, top)
        self.broadcaster.deliver(items_from_events(rows))
        return len(rows)

    def _read(self) -> list[Any]:
        if not self.postgres:
            return self._read_sqlite()
        now = time.monotonic()
        self._gaps = {g: t for g, t in self._gaps.items() if t > now}
        stmt, params = _AFTER, {"after": self.last_id}
        if self._gaps:
            stmt, params = _AFTER_OR_GAPS, params | {"gaps": sorted(self._gaps)}
        with self.engine.connect() as conn:
            return list(conn.execute(stmt.limit(self.batch), params))

    def _read_sqlite(self) -> list[Any]:
        # Straight on the driver connection, outside a transaction: the engine's
        # ``BEGIN IMMEDIATE`` would take SQLite's write lock for a read.
        from types import SimpleNamespace

        raw = self.engine.raw_connection()
        try:
            cur = raw.driver_connection.execute(_SQLITE_AFTER, (self.last_id, self.batch))
            rows = cur.fetchall()
        finally:
            raw.close()
        return [SimpleNamespace(id=r[0], type=r[1], case_id=r[2], customer_id=r[3],
                                message_id=r[4], queue=r[5],
                                data=json.loads(r[6]) if isinstance(r[6], str) else r[6])
                for r in rows]
