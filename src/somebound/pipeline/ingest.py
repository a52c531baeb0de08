"""The ingest flow: claimed raw payload -> parse -> identify -> thread -> bound -> route -> events.

One transaction per claimed batch: the messages, case changes, events and the inbox
row's "done" mark commit together, so a crash anywhere leaves the payload pending and
the next run redoes it exactly once (message ``(channel, native_id)`` is unique).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from somebound.core.bound import classify_bound
from somebound.core.enums import Bound, CaseStatus, Direction, EventType, MessageKind, Priority
from somebound.core.events import Event
from somebound.core.message import Message
from somebound.pipeline.cases import (
    CaseRow,
    adjust_open_count,
    find_case,
    open_case,
)
from somebound.pipeline.identify import Identified, Resolver, identify
from somebound.pipeline.routing import RoutingInput, RoutingPolicy
from somebound.store import events as event_log
from somebound.store import inbox
from somebound.store.base import utcnow
from somebound.store.tables import cases, messages

log = logging.getLogger(__name__)

Parser = Callable[[bytes, dict], list[Message]]

# Statements built once: the ingest path runs them for every message.
_MESSAGE_EXISTS = select(messages.c.id).where(messages.c.channel == bindparam("channel"),
                                              messages.c.native_id == bindparam("native"))
_INSERT_MESSAGE = insert(messages)
_TOUCH_CASE = update(cases).where(cases.c.id == bindparam("_id")).values(
    message_count=cases.c.message_count + 1)
_SET_CASE = update(cases).where(cases.c.id == bindparam("_id"))
_OTHER_OPEN_CASES = select(cases.c.id, cases.c.channel, cases.c.queue, cases.c.bound).where(
    cases.c.customer_id == bindparam("customer"), cases.c.id != bindparam("case"),
    cases.c.channel != bindparam("channel"),
    cases.c.status.in_([s.value for s in CaseStatus if s.is_open]))


class Enricher(Protocol):
    """Listening stage: returns insights (language, sentiment, intent, urgency, engagement)."""

    def __call__(self, msg: Message, customer: dict) -> dict[str, Any]: ...


class Decider(Protocol):
    """Decision stage: the next best action for the case's customer, or None."""

    def __call__(self, customer_id: int, customer: dict, context: dict) -> dict | None: ...


@dataclass
class Stages:
    routing: RoutingPolicy = field(default_factory=RoutingPolicy.load)
    resolver: Resolver | None = None
    enrich: Enricher | None = None
    decide: Decider | None = None


@dataclass(frozen=True)
class Change:
    """What the live views need to hear about after a commit."""

    kind: str  # message | case
    case_id: int
    message_id: int | None = None
    customer_id: int | None = None
    queue: str | None = None


class Pipeline:
    def __init__(self, engine: Engine, parsers: dict[str, Parser], stages: Stages | None = None,
                 notify: Callable[[list[Change]], None] | None = None):
        self.engine = engine
        self.parsers = parsers
        self.stages = stages or Stages()
        self.notify = notify
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    # -- the worker loop's unit of work ---------------------------------------------
    def process_pending(self, limit: int = 200) -> int:
        """Claim up to ``limit`` raw payloads and process them in one transaction."""
        changes: list[Change] = []
        with self.engine.begin() as conn:
            items = inbox.claim(conn, limit)
            done: list[int] = []
            evs: list[Event] = []
            for item in items:
                item_events: list[Event] = []
                try:
                    with conn.begin_nested():
                        msgs = self.parse(item)
                        for msg in msgs:
                            changes.extend(self.ingest(conn, msg, raw_id=item.id,
                                                       events_out=item_events))
                    done.append(item.id)
                    evs.extend(item_events)
                except Exception as exc:  # noqa: BLE001 - one bad payload must not stop the rest
                    log.exception("processing raw payload %s failed", item.id)
                    inbox.mark_failed(conn, item, f"{type(exc).__name__}: {exc}")
                _crash_point()
            event_log.append(conn, evs)  # one multi-row insert per batch
            inbox.mark_done(conn, done, self.worker)
        if changes and self.notify:
            self.notify(changes)
        return len(items)

    def parse(self, item: inbox.RawItem) -> list[Message]:
        parser = self.parsers.get(item.channel)
        if parser is None:
            raise LookupError(f"no parser for channel {item.channel!r}")
        return parser(item.payload, item.headers)

    def ingest_messages(self, msgs: Iterable[Message]) -> list[Change]:
        """Process already-parsed messages (CSV imports, the benchmark) in one transaction."""
        changes: list[Change] = []
        with self.engine.begin() as conn:
            for msg in msgs:
                changes.extend(self.ingest(conn, msg))
        if changes and self.notify:
            self.notify(changes)
        return changes

    # -- one message ---------------------------------------------------------------
    def ingest(self, conn: Connection, msg: Message, raw_id: int | None = None,
               events_out: list[Event] | None = None) -> list[Change]:
        """Process one message; its events go to ``events_out`` (batched by the caller)
        or are appended at once when no list is given."""
        exists = conn.execute(_MESSAGE_EXISTS, {"channel": msg.channel.value,
                                                "native": msg.native_id}).first()
        if exists is not None:
            return []  # redelivery: the message is already in its case
        now = msg.sent_at
        who = identify(conn, msg, self.stages.resolver)
        customer = who.customer if who else {}
        insights = self.stages.enrich(msg, customer) if self.stages.enrich else {}
        language = insights.get("language") or msg.language or customer.get("language")
        evs: list[Event] = []
        case = find_case(conn, msg, now)
        opened = case is None
        if case is None:
            case = self._open(conn, msg, who, customer, insights, language, evs)
        elif case.customer_id is None and who is not None:
            conn.execute(_SET_CASE, {"_id": case.id, "customer_id": who.customer_id})
            case.customer_id = who.customer_id
        msg_id = self._store_message(conn, msg, case, who, language, raw_id)
        self._touch_case(conn, msg, case, opened, insights, evs)
        call_event = msg.meta.get("event") if msg.kind is MessageKind.CALL else None
        first_of_call = opened or call_event in (None, "ringing")
        if msg.direction is Direction.IN and first_of_call:
            evs.append(self._event(EventType.MESSAGE_RECEIVED, now, case, msg_id, data={
                "public": msg.public, "language": language,
                "author": msg.author.channel_user_id, "followers": msg.author.followers,
            }))
        elif msg.direction is Direction.OUT:
            evs.append(self._event(EventType.MESSAGE_SENT, now, case, msg_id, data={
                "public": msg.public, "handling_seconds": 0.0, "author_agent": None}))
        if call_event:
            evs.extend(self._call_events(conn, msg, case))
        if opened and who is not None:
            evs.extend(self._parallel(conn, case, now))
        if opened and self.stages.decide and who is not None:
            nba = self.stages.decide(who.customer_id, customer, {
                "channel": msg.channel.value, "bound": case.bound,
                "intent": insights.get("intent"), "case_id": case.id})
            if nba:
                _merge_insights(conn, case.id, {"next_best_action": nba})
        if events_out is None:
            event_log.append(conn, evs)
        else:
            events_out.extend(evs)
        return [Change("message", case.id, msg_id, case.customer_id, case.queue)]

    def _open(self, conn: Connection, msg: Message, who: Identified | None, customer: dict,
              insights: dict, language: str | None, evs: list[Event]) -> CaseRow:
        now = msg.sent_at
        bound = classify_bound(public=msg.public, first_direction=msg.direction)
        engagement = insights.get("engagement") or {}
        route = self.stages.routing.route(RoutingInput(
            channel=msg.channel, bound=bound, text=f"{msg.subject or ''}\n{msg.body}",
            language=language, public=msg.public, customer=customer,
            intent=insights.get("intent"), sentiment=insights.get("sentiment")))
        queue = engagement.get("queue") or route.queue
        priority = route.priority
        if engagement.get("priority"):
            eng_p = Priority(engagement["priority"])
            priority = eng_p if eng_p.rank > priority.rank else priority
        awaiting = msg.direction is Direction.IN
        status = CaseStatus.NEW if awaiting else CaseStatus.PENDING
        if engagement.get("action") in ("watch", "ignore"):
            status = CaseStatus.PENDING if engagement["action"] == "watch" else CaseStatus.CLOSED
            awaiting = False
        sla_due = now + timedelta(seconds=route.sla_first_response_seconds) if awaiting else None
        rule = ",".join(route.rules) or None
        case = open_case(conn, msg=msg, customer_id=who.customer_id if who else None,
                         bound=bound.value, status=status, queue=queue, priority=priority.value,
                         sla_due_at=sla_due, rule=rule, language=language)
        if status is CaseStatus.CLOSED:
            adjust_open_count(conn, queue, -1)
        evs.append(self._event(EventType.CASE_OPENED, now, case, data={
            "priority": priority.value, "language": language, "public": msg.public}))
        evs.append(self._event(EventType.CASE_ROUTED, now, case, data={
            "queue": queue, "priority": priority.value,
            "sla_first_response_seconds": route.sla_first_response_seconds,
            "rule": rule or "default", "engagement": engagement.get("rule")}))
        if insights:
            _merge_insights(conn, case.id, {k: v for k, v in insights.items() if k != "engagement"}
                            | ({"engagement": engagement} if engagement else {}))
        return case

    def _store_message(self, conn: Connection, msg: Message, case: CaseRow,
                       who: Identified | None, language: str | None, raw_id: int | None) -> int:
        return int(conn.execute(_INSERT_MESSAGE, {
            "case_id": case.id, "channel": msg.channel.value, "native_id": msg.native_id,
            "direction": msg.direction.value, "kind": msg.kind.value,
            "identity_id": who.identity_id if who else None,
            "customer_id": who.customer_id if who else None, "agent_id": None,
            "author_key": msg.author.channel_user_id,
            "author_name": msg.author.display_name or msg.author.handle,
            "is_company": msg.author.is_company, "subject": msg.subject, "body": msg.body,
            "public": msg.public, "language": language, "in_reply_to": msg.in_reply_to,
            "sent_at": msg.sent_at, "received_at": utcnow(),
            "attachments": [{"filename": a.filename, "content_type": a.content_type,
                             "size": a.size, "sha256": a.sha256} for a in msg.attachments],
            "meta": msg.meta, "raw_inbox_id": raw_id,
        }).inserted_primary_key[0])

    def _touch_case(self, conn: Connection, msg: Message, case: CaseRow, opened: bool,
                    insights: dict, evs: list[Event]) -> None:
        now = msg.sent_at
        values: dict[str, Any] = {"_id": case.id, "last_message_at": now, "updated_at": now}
        if msg.direction is Direction.IN and not opened:
            status = CaseStatus(case.status)
            if status in (CaseStatus.SOLVED, CaseStatus.CLOSED):
                values["status"] = CaseStatus.OPEN.value
                values["solved_at"] = None
                adjust_open_count(conn, case.queue, +1)
                evs.append(self._event(EventType.CASE_REOPENED, now, case,
                                       data={"from": status.value}))
                evs.append(self._event(EventType.CASE_STATUS_CHANGED, now, case,
                                       data={"from": status.value, "to": "open"}))
                case.status = CaseStatus.OPEN.value
            elif status is CaseStatus.PENDING:
                values["status"] = CaseStatus.OPEN.value
                evs.append(self._event(EventType.CASE_STATUS_CHANGED, now, case,
                                       data={"from": "pending", "to": "open"}))
                case.status = CaseStatus.OPEN.value
            if case.awaiting_since is None and msg.kind is not MessageKind.CALL:
                sla = self.stages.routing.sla.get(case.channel,
                                                  self.stages.routing.sla.get("default", 3600))
                values["awaiting_since"] = now
                values["sla_due_at"] = now + timedelta(seconds=sla)
                case.awaiting_since = now
        if insights and not opened:
            _merge_insights(conn, case.id, {"last_message": {
                k: v for k, v in insights.items() if k != "engagement"}})
        conn.execute(_TOUCH_CASE, values)

    def _call_events(self, conn: Connection, msg: Message, case: CaseRow) -> list[Event]:
        """A CTI's answered/ended/abandoned become the case's response and handling facts."""
        ev, now, meta = msg.meta.get("event"), msg.sent_at, msg.meta
        wait = float(meta.get("wait_seconds") or 0.0)
        out: list[Event] = []
        values: dict[str, Any] = {}
        if ev in ("answered", "ended") and case.first_response_at is None:
            answered_at = now if ev == "answered" else case.opened_at + timedelta(seconds=wait)
            out.append(self._event(EventType.CALL_ANSWERED, answered_at, case,
                                   data={"wait_seconds": wait}))
            out.append(self._event(EventType.FIRST_RESPONSE, answered_at, case, data={
                "seconds": (answered_at - case.opened_at).total_seconds()}))
            values.update(first_response_at=answered_at, awaiting_since=None, sla_due_at=None)
            case.first_response_at = answered_at
        if ev == "abandoned":
            out.append(self._event(EventType.CALL_ABANDONED, now, case, data={"wait_seconds": wait}))
        if ev in ("ended", "abandoned"):
            if ev == "ended":
                out.append(self._event(EventType.CALL_ENDED, now, case, data={
                    "wait_seconds": wait, "talk_seconds": float(meta.get("talk_seconds") or 0),
                    "wrap_seconds": float(meta.get("wrap_seconds") or 0)}))
            if CaseStatus(case.status).is_open:
                out.append(self._event(EventType.CASE_STATUS_CHANGED, now, case, data={
                    "from": case.status, "to": "solved"}))
                values.update(status="solved", solved_at=now, awaiting_since=None, sla_due_at=None)
                adjust_open_count(conn, case.queue, -1)
                case.status = "solved"
        if values:
            conn.execute(update(cases).where(cases.c.id == case.id).values(**values))
        return out

    def _parallel(self, conn: Connection, case: CaseRow, now: datetime) -> list[Event]:
        """The same customer already waiting in another channel's queue: flag both cases."""
        others = conn.execute(_OTHER_OPEN_CASES, {"customer": case.customer_id, "case": case.id,
                                                  "channel": case.channel}).all()
        if not others:
            return []
        ids = [case.id, *(o.id for o in others)]
        conn.execute(update(cases).where(cases.c.id.in_(ids)).values(parallel=True))
        case.parallel = True
        out = []
        for o in others:
            out.append(self._event(EventType.PARALLEL_CONTACT, now, case, data={
                "other_case_id": o.id, "other_channel": o.channel, "other_queue": o.queue}))
            other = CaseRow(o.id, case.customer_id, o.channel, o.bound, "open", "normal", o.queue,
                            now, None, None, None, True, False)
            out.append(self._event(EventType.PARALLEL_CONTACT, now, other, data={
                "other_case_id": case.id, "other_channel": case.channel,
                "other_queue": case.queue}))
        return out

    @staticmethod
    def _event(kind: EventType, at: datetime, case: CaseRow, message_id: int | None = None,
               data: dict | None = None, agent_id: int | None = None) -> Event:
        return case_event(kind, at, case, message_id, data, agent_id)


def case_event(kind: EventType, at: datetime, case: CaseRow, message_id: int | None = None,
               data: dict | None = None, agent_id: int | None = None) -> Event:
    from somebound.core.enums import Channel

    return Event(type=kind, at=at, case_id=case.id, customer_id=case.customer_id,
                 message_id=message_id, agent_id=agent_id, queue=case.queue,
                 channel=Channel(case.channel), bound=Bound(case.bound), data=data or {})


def _merge_insights(conn: Connection, case_id: int, patch: dict) -> None:
    current = conn.execute(select(cases.c.insights).where(cases.c.id == case_id)).scalar() or {}
    conn.execute(update(cases).where(cases.c.id == case_id).values(insights={**current, **patch}))


def _crash_point() -> None:
    """Test hook: ``SOMEBOUND_CRASH_MIDWAY=1`` kills the worker inside its transaction."""
    if os.environ.get("SOMEBOUND_CRASH_MIDWAY") == "1":
        os._exit(17)
