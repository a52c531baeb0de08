"""The ingest flow: claimed raw payload -> parse -> identify -> thread -> bound -> route -> events.

One transaction per claimed batch: the messages, case changes, events and the inbox
rows' "done" mark commit together, so a crash anywhere leaves the payloads pending and
the next run redoes them exactly once (message ``(channel, native_id)`` is unique). The
batch reads what it needs once and writes case state, counters and events once
(:mod:`somebound.pipeline.batch`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from somebound.core.bound import classify_bound
from somebound.core.enums import (
    Bound,
    CaseStatus,
    Direction,
    EventType,
    MessageKind,
    Priority,
)
from somebound.core.events import Event
from somebound.core.message import Message
from somebound.pipeline.batch import Batch
from somebound.pipeline.cases import CaseRow, subject_from
from somebound.pipeline.identify import Identified, Resolver, identify
from somebound.pipeline.routing import RoutingInput, RoutingPolicy
from somebound.store import events as event_log
from somebound.store import inbox, lean
from somebound.store.base import utcnow
from somebound.store.engine import transaction
from somebound.store.planner_stats import StatisticsKeeper
from somebound.store.tables import messages

log = logging.getLogger(__name__)

Parser = Callable[[bytes, dict], list[Message]]



@dataclass(frozen=True)
class TriageInput:
    """What the pipeline knows about an inbound message when listening looks at it."""

    customer: dict
    bound: Bound
    previous_contacts: int = 0  # earlier inbound messages in the same case (repeat contact)
    parallel: bool = False  # the customer already waits in another queue
    sla_seconds_left: float | None = None


@dataclass
class Triage:
    """Listening's verdict on one inbound message."""

    insights: dict[str, Any]  # language, sentiment, intent, urgency, reach, keywords
    engagement: dict[str, Any] | None = None  # action answer|watch|ignore, priority, queue, rule
    events: list[Event] = field(default_factory=list)  # spikes raised or cleared


class Enricher(Protocol):
    """Listening stage (``somebound.pipeline.stages.ListeningStage``)."""

    def __call__(self, msg: Message, context: TriageInput) -> Triage: ...


class Decider(Protocol):
    """Decision stage: the next best action for a new case's customer, or None.

    Gets the batch's connection so the decision log row commits with the case.
    """

    def __call__(self, conn: Connection, customer_id: int, customer: dict,
                 context: dict) -> dict | None: ...


@dataclass
class Stages:
    routing: RoutingPolicy = field(default_factory=RoutingPolicy.load)
    resolver: Resolver | None = None
    enrich: Enricher | None = None
    decide: Decider | None = None

    def warm(self) -> None:
        """Load the stages' models before the first batch opens its transaction.

        Loading reads the database; on SQLite a second connection inside the batch's
        write transaction would wait for the lock that transaction holds.
        """
        for stage in (self.resolver, self.enrich, self.decide):
            warm = getattr(stage, "warm", None)
            if warm is not None:
                warm()


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
        self._warm = False
        self._committer: ThreadPoolExecutor | None = None  # see drain
        # PostgreSQL plans the case list's and the API's reads from statistics (the
        # batch's own lookups search per key, whatever they say): keep them current
        self._statistics = (StatisticsKeeper(engine) if engine.dialect.name == "postgresql"
                            else None)

    @property
    def ready(self) -> bool:
        """The stages' models are loaded: a batch now costs only its own work."""
        return self._warm

    def _warm_up(self) -> None:
        if not self._warm:
            self.stages.warm()
            self._warm = True

    # -- the worker loop's unit of work ---------------------------------------------
    def process_pending(self, limit: int = 200) -> int:
        """Claim up to ``limit`` raw payloads and process them in one transaction.

        If processing (not parsing) fails, the batch is rolled back and its payloads
        are processed one per transaction, so one poison payload is isolated, counted
        as a failed attempt, and never blocks the others. The transaction is
        ``redoable`` (its commit does not wait for the disk): the payloads it consumes
        were durable before they were acknowledged and stay pending until it commits.
        """
        self._warm_up()
        try:
            if self.engine.dialect.name == "sqlite":
                done, changes, _ = self._write(self._peek(limit))
            else:
                done, changes, _, _ = self._claim_and_write(limit, None, read_ahead=False)
        except _BatchFailed:
            return self._process_one_by_one(limit)
        self._after_commit(done, changes)
        return done

    def drain(self, batch: int = 200, on_batch: Callable[[int], None] | None = None) -> int:
        """Process pending payloads ``batch`` at a time (each as :meth:`process_pending`)
        until a batch comes back short; how many were processed. ``on_batch`` hears each
        batch's count once it has committed.

        On SQLite a full batch's commit, which writes its pages to the log in SQLite's C
        code with the GIL released, runs in a thread of its own while this one peeks at
        and parses the next batch: a backlog's commits were ~12 % of its time and the
        parsing ~15 %, and now they share the machine's cores. Its changes are announced
        only once it has committed, and a commit that fails is raised here as before
        (the batch parsed meanwhile is dropped: its payloads are still pending).
        """
        self._warm_up()
        sqlite = self.engine.dialect.name == "sqlite"
        total, ahead = 0, None
        while True:
            if not sqlite:
                try:
                    done, changes, full, ahead = self._claim_and_write(batch, ahead)
                except _BatchFailed:
                    done, changes, full, ahead = self._process_one_by_one(batch), [], True, None
                self._after_commit(done, changes)
            else:
                prepared = ahead if ahead is not None else self._peek(batch)
                ahead, full = None, len(prepared) >= batch
                try:
                    done, changes, committing = self._write(prepared, overlap=full)
                except _BatchFailed:
                    done, changes, committing = self._process_one_by_one(len(prepared)), [], None
                if committing is not None:
                    try:
                        ahead = self._peek(batch, after=prepared[-1].item.id)
                    finally:
                        committing.result()  # the commit's error, if any, is raised here
                self._after_commit(done, changes)
            total += done
            if on_batch is not None and done:
                on_batch(done)
            if not full:
                return total

    def _claim_and_write(self, batch: int, ahead: list[_Prepared] | None,
                         read_ahead: bool = True
                         ) -> tuple[int, list[Change], bool, list[_Prepared] | None]:
        """Claim up to ``batch`` payloads (``ahead``: these, parsed already) and process
        them in one transaction (PostgreSQL): (processed, changes, was it full, the next
        batch parsed).

        The batch's writes are sent in pipeline mode and PostgreSQL executes them while
        the client goes on; with ``read_ahead`` (:meth:`drain`), when the batch is full,
        the next one's payloads (read, not locked, with the claim) are parsed in that time
        instead of waiting for the server (~7 ms of a 200-message batch's ~50). That
        parsed batch is claimed by id at the start of the next transaction; rows another
        worker took meanwhile are left to it."""
        with transaction(self.engine, redoable=True) as conn:
            if ahead is None:
                prepared = self._prepare(inbox.claim(conn, batch))
                full = len(prepared) >= batch
            else:
                still = inbox.claim_ids(conn, [p.item.id for p in ahead])
                prepared = [p for p in ahead if p.item.id in still]
                full = len(ahead) >= batch
            following = (inbox.peek(conn, batch, prepared[-1].item.id)
                         if read_ahead and full and prepared else [])
            parsed: list[list[_Prepared]] = []

            def parse_following() -> None:  # this batch is not to fail for the next one's sake
                try:
                    parsed.append(self._prepare(following))
                except Exception:  # noqa: BLE001 - the next batch is claimed and parsed anew
                    log.exception("preparing the next batch ahead failed")

            changes = self._process_prepared(conn, prepared, isolate=False,
                                             while_writing=parse_following if following else None)
        return len(prepared), changes, full, (parsed[0] if parsed else None)

    def _peek(self, limit: int, after: int = 0) -> list[_Prepared]:
        """SQLite has one writer: parse and analyse the batch before taking the write lock,
        so the accepts of new payloads wait only for the writes, not for the models.
        ``after``: only rows after this id (the rows of a batch still committing are
        pending in what this read sees).

        (PostgreSQL locks rows, not the database: there the batch is claimed first, so
        several workers never prepare the same payloads.)
        """
        with transaction(self.engine, read_only=True) as conn:
            items = inbox.peek(conn, limit, after)
        return self._prepare(items) if items else []

    def _write(self, prepared: list[_Prepared], overlap: bool = False
               ) -> tuple[int, list[Change], Future | None]:
        """Claim the peeked payloads that are still pending and process them in one
        transaction (SQLite). With ``overlap`` the commit is left to the committer thread
        and its future returned (see :meth:`drain`)."""
        if not prepared:
            return 0, [], None
        with contextlib.ExitStack() as stack:  # leaving it commits, or rolls back on error
            conn = stack.enter_context(transaction(self.engine, redoable=True))
            still = inbox.claim_ids(conn, [p.item.id for p in prepared])
            prepared = [p for p in prepared if p.item.id in still]  # another worker's now
            changes = self._process_prepared(conn, prepared, isolate=False)
            commit = stack.pop_all().close if overlap else None  # then the committer's
        if commit is None:
            return len(prepared), changes, None
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="ingest-commit")
        return len(prepared), changes, self._committer.submit(commit)

    def _after_commit(self, done: int, changes: list[Change]) -> None:
        self._notify(changes)
        if self._statistics is not None and done:
            self._statistics.written(done)

    def _process_one_by_one(self, limit: int) -> int:
        done = 0
        for _ in range(limit):
            with transaction(self.engine, redoable=True) as conn:
                items = inbox.claim(conn, 1)
                if not items:
                    break
                try:
                    with conn.begin_nested():
                        changes = self._process_prepared(conn, self._prepare(items),
                                                         isolate=True)
                except Exception as exc:  # noqa: BLE001 - counted, retried, then dead-lettered
                    log.exception("processing raw payload %s failed", items[0].id)
                    inbox.mark_failed(conn, items[0], f"{type(exc).__name__}: {exc}")
                    changes = []
            self._notify(changes)
            done += 1
        return done

    def _prepare(self, items: list[inbox.RawItem]) -> list[_Prepared]:
        """Parse the payloads and let listening analyse their texts: no database work."""
        prepared = []
        for item in items:
            try:
                prepared.append(_Prepared(item, self.parse(item)))
            except Exception as exc:  # noqa: BLE001 - a payload that does not parse now
                prepared.append(_Prepared(item, [], exc))
        self._prefetch_insights([m for p in prepared for m in p.messages])
        return prepared

    def _process_prepared(self, conn: Connection, prepared: list[_Prepared], isolate: bool,
                          while_writing: Callable[[], None] | None = None) -> list[Change]:
        """The batch's messages processed and written. ``while_writing`` runs once the
        writes are sent, before their results are awaited (PostgreSQL's pipeline mode:
        the server executes them meanwhile)."""
        parsed = []
        for p in prepared:
            if p.error is None:
                parsed.append(p)
            elif isolate:
                raise p.error
            else:
                log.warning("raw payload %s does not parse: %s", p.item.id, p.error)
                inbox.mark_failed(conn, p.item, f"{type(p.error).__name__}: {p.error}")
        batch = Batch(conn)
        batch.prefetch([m for p in parsed for m in p.messages])
        changes: list[Change] = []
        try:
            for p in parsed:
                for msg in p.messages:
                    changes.extend(self.ingest(batch, msg, raw_id=p.item.id))
                _crash_point()
            with lean.pipeline(conn):  # PostgreSQL: the writes in one round trip
                batch.flush()
                inbox.mark_done(conn, [p.item.id for p in parsed], self.worker)
                if while_writing is not None:
                    while_writing()
        except Exception as exc:
            if isolate:
                raise
            log.exception("batch processing failed; retrying one payload at a time")
            raise _BatchFailed from exc
        return changes

    def _prefetch_insights(self, msgs: list[Message]) -> None:
        """Let listening analyse the batch's texts in one vectorised pass (same results)."""
        prefetch = getattr(self.stages.enrich, "prefetch", None)
        if prefetch is not None:
            prefetch([m for m in msgs if _triaged(m)])

    def tick(self, now: datetime | None = None) -> int:
        """Periodic work of the stages (a spike that went quiet is cleared); events logged."""
        tick = getattr(self.stages.enrich, "tick", None)
        if tick is None:
            return 0
        events = tick(now or utcnow())
        if events:
            with self.engine.begin() as conn:
                event_log.append(conn, events)
        return len(events)

    def _notify(self, changes: list[Change]) -> None:
        if changes and self.notify:
            self.notify(changes)

    def parse(self, item: inbox.RawItem) -> list[Message]:
        parser = self.parsers.get(item.channel)
        if parser is None:
            raise LookupError(f"no parser for channel {item.channel!r}")
        return parser(item.payload, item.headers)

    def ingest_messages(self, msgs: Iterable[Message]) -> list[Change]:
        """Process already-parsed messages (CSV imports, the benchmark) in one transaction."""
        msgs = list(msgs)
        self._warm_up()
        self._prefetch_insights(msgs)
        with self.engine.begin() as conn:
            batch = Batch(conn)
            batch.prefetch(msgs)
            changes = [c for msg in msgs for c in self.ingest(batch, msg)]
            batch.flush()
        self._notify(changes)
        return changes

    # -- one message ---------------------------------------------------------------
    def ingest(self, batch: Batch, msg: Message, raw_id: int | None = None) -> list[Change]:
        """Process one message within a batch; writes are flushed by the batch."""
        if (msg.channel.value, msg.native_id) in batch.by_native:
            return []  # redelivery: the message is already in its case
        now = msg.sent_at
        who = identify(batch, msg, self.stages.resolver)
        customer = who.customer if who else {}
        case = batch.find_case(msg)
        triage = self._triage(msg, customer, case)
        insights = triage.insights if triage else {}
        if triage and triage.events:
            batch.events.extend(map(event_log.event_row, triage.events))
        language = insights.get("language") or msg.language or customer.get("language")
        evs = batch.events
        opened = case is None
        if case is None:
            case = self._open(batch, msg, who, customer, triage, language)
        elif case.customer_id is None and who is not None:
            batch.set_customer(case, who.customer_id)
        msg_id = self._store_message(batch, msg, case, who, language, raw_id, insights)
        self._touch_case(batch, msg, case, opened, insights)
        call_event = msg.meta.get("event") if msg.kind is MessageKind.CALL else None
        first_of_call = opened or call_event in (None, "ringing")
        if msg.direction is Direction.IN and first_of_call:
            evs.append(case_event_row(EventType.MESSAGE_RECEIVED, now, case, msg_id, data={
                "public": msg.public, "language": language,
                "author": msg.author.channel_user_id, "followers": msg.author.followers,
            }))
        elif msg.direction is Direction.OUT:
            evs.append(case_event_row(EventType.MESSAGE_SENT, now, case, msg_id, data={
                "public": msg.public, "handling_seconds": 0.0, "author_agent": None}))
        if call_event:
            self._call_events(batch, msg, case)
        if opened and who is not None:
            self._parallel(batch, case, now)
        if opened and self.stages.decide and who is not None and case.is_open:
            nba = self.stages.decide(batch.conn, who.customer_id, customer, {
                "channel": msg.channel.value, "bound": case.bound, "queue": case.queue,
                "intent": label(insights.get("intent")),
                "sentiment": label(insights.get("sentiment")),
                "language": language, "case_id": case.id})
            if nba:
                case.insights = {**case.insights, "next_best_action": nba}
                batch.dirty.add(case.id)
                evs.append(case_event_row(EventType.DECISION_MADE, now, case, data={
                    k: nba.get(k) for k in ("decision_id", "action", "channel", "score")}))
        return [Change("message", case.id, msg_id, case.customer_id, case.queue)]

    def _triage(self, msg: Message, customer: dict, case: CaseRow | None) -> Triage | None:
        """Listening looks at what customers and the public write, not at our own replies."""
        if self.stages.enrich is None or not _triaged(msg):
            return None
        if case is None:
            ctx = TriageInput(customer, classify_bound(public=msg.public,
                                                       first_direction=msg.direction))
        else:
            left = ((case.sla_due_at - msg.sent_at).total_seconds()
                    if case.sla_due_at is not None else None)
            ctx = TriageInput(customer, Bound(case.bound), previous_contacts=case.message_count,
                              parallel=case.parallel, sla_seconds_left=left)
        return self.stages.enrich(msg, ctx)

    def _open(self, batch: Batch, msg: Message, who: Identified | None, customer: dict,
              triage: Triage | None, language: str | None) -> CaseRow:
        now = msg.sent_at
        bound = classify_bound(public=msg.public, first_direction=msg.direction)
        insights = dict(triage.insights) if triage else {}
        engagement = (triage.engagement if triage else None) or {}
        route = self.stages.routing.route(RoutingInput(
            channel=msg.channel, bound=bound, text=f"{msg.subject or ''}\n{msg.body}",
            language=language, public=msg.public, customer=customer,
            intent=label(insights.get("intent")), sentiment=label(insights.get("sentiment"))))
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
        stored_insights = insights
        if engagement:
            stored_insights["engagement"] = engagement
        if who is not None and who.suggestions:
            stored_insights["identity_suggestions"] = list(who.suggestions)
        case = batch.insert_case({
            "customer_id": who.customer_id if who else None, "channel": msg.channel.value,
            "bound": bound.value, "status": status.value, "priority": priority.value,
            "queue": queue, "subject": msg.subject or subject_from(msg.body),
            "thread_key": msg.thread_key or msg.native_id, "language": language,
            "public": msg.public, "parallel": False, "opened_at": now, "updated_at": now,
            "last_message_at": now, "sla_due_at": sla_due,
            "awaiting_since": now if awaiting else None, "message_count": 0,
            "routing_rule": rule, "insights": stored_insights, "solved_at": None,
            "first_response_at": None,
        })
        batch.events.append(case_event_row(EventType.CASE_OPENED, now, case, data={
            "priority": priority.value, "language": language, "public": msg.public}))
        batch.events.append(case_event_row(EventType.CASE_ROUTED, now, case, data={
            "queue": queue, "priority": priority.value,
            "sla_first_response_seconds": route.sla_first_response_seconds,
            "rule": rule or "default", "engagement": engagement.get("rule")}))
        return case

    def _store_message(self, batch: Batch, msg: Message, case: CaseRow,
                       who: Identified | None, language: str | None, raw_id: int | None,
                       insights: dict) -> int:
        batch.by_native[(msg.channel.value, msg.native_id)] = case.id
        return batch.add(messages, {
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
            "meta": msg.meta, "raw_inbox_id": raw_id, "insights": insights or None,
        })

    def _touch_case(self, batch: Batch, msg: Message, case: CaseRow, opened: bool,
                    insights: dict) -> None:
        now = msg.sent_at
        case.last_message_at = max(case.last_message_at, now)
        case.updated_at = max(case.updated_at, now)
        case.message_count += 1
        batch.dirty.add(case.id)
        if msg.direction is Direction.IN and not opened:
            status = CaseStatus(case.status)
            if status in (CaseStatus.SOLVED, CaseStatus.CLOSED):
                batch.set_status(case, CaseStatus.OPEN)
                case.solved_at = None
                batch.events.append(case_event_row(EventType.CASE_REOPENED, now, case,
                                                   data={"from": status.value}))
                batch.events.append(case_event_row(EventType.CASE_STATUS_CHANGED, now, case,
                                                   data={"from": status.value, "to": "open"}))
            elif status is CaseStatus.PENDING:
                batch.set_status(case, CaseStatus.OPEN)
                batch.events.append(case_event_row(EventType.CASE_STATUS_CHANGED, now, case,
                                                   data={"from": "pending", "to": "open"}))
            if case.awaiting_since is None and msg.kind is not MessageKind.CALL:
                sla = self.stages.routing.sla.get(case.channel,
                                                  self.stages.routing.sla.get("default", 3600))
                case.awaiting_since = now
                case.sla_due_at = now + timedelta(seconds=sla)
        if insights and not opened:
            case.insights = {**case.insights, "last_message": insights}

    def _call_events(self, batch: Batch, msg: Message, case: CaseRow) -> None:
        """A CTI's answered/ended/abandoned become the case's response and handling facts."""
        ev, now, meta = msg.meta.get("event"), msg.sent_at, msg.meta
        wait = float(meta.get("wait_seconds") or 0.0)
        out = batch.events
        if ev in ("answered", "ended") and case.first_response_at is None:
            answered_at = now if ev == "answered" else case.opened_at + timedelta(seconds=wait)
            out.append(case_event_row(EventType.CALL_ANSWERED, answered_at, case,
                                      data={"wait_seconds": wait}))
            out.append(case_event_row(EventType.FIRST_RESPONSE, answered_at, case, data={
                "seconds": (answered_at - case.opened_at).total_seconds()}))
            case.first_response_at = answered_at
            case.awaiting_since = case.sla_due_at = None
        if ev == "abandoned":
            out.append(case_event_row(EventType.CALL_ABANDONED, now, case,
                                      data={"wait_seconds": wait}))
        if ev in ("ended", "abandoned"):
            if ev == "ended":
                out.append(case_event_row(EventType.CALL_ENDED, now, case, data={
                    "wait_seconds": wait, "talk_seconds": float(meta.get("talk_seconds") or 0),
                    "wrap_seconds": float(meta.get("wrap_seconds") or 0)}))
            if case.is_open:
                out.append(case_event_row(EventType.CASE_STATUS_CHANGED, now, case, data={
                    "from": case.status, "to": "solved"}))
                batch.set_status(case, CaseStatus.SOLVED)
                case.solved_at = now
                case.awaiting_since = case.sla_due_at = None
        batch.dirty.add(case.id)

    def _parallel(self, batch: Batch, case: CaseRow, now: datetime) -> None:
        """The same customer already waiting in another channel's queue: flag both cases."""
        others = batch.other_open_cases(case)
        if not others:
            return
        case.parallel = True
        batch.dirty.add(case.id)
        for other in others:
            other.parallel = True
            batch.dirty.add(other.id)
            batch.events.append(case_event_row(EventType.PARALLEL_CONTACT, now, case, data={
                "other_case_id": other.id, "other_channel": other.channel,
                "other_queue": other.queue}))
            batch.events.append(case_event_row(EventType.PARALLEL_CONTACT, now, other, data={
                "other_case_id": case.id, "other_channel": case.channel,
                "other_queue": case.queue}))


def _triaged(msg: Message) -> bool:
    """Listening looks at what customers and the public write: not our replies, not calls."""
    return (msg.direction is Direction.IN and not msg.author.is_company
            and msg.kind is not MessageKind.CALL)


@dataclass(frozen=True)
class _Prepared:
    """A claimed payload, parsed (or the reason it does not parse)."""

    item: inbox.RawItem
    messages: list[Message]
    error: Exception | None = None


class _BatchFailed(Exception):
    """Processing a batch failed; its payloads are retried one at a time."""


def label(value: Any) -> str | None:
    """The label of an insight stored as ``{"label": ..., "score": ...}`` (or a bare label)."""
    if isinstance(value, dict):
        return value.get("label")
    return value


def case_event_row(kind: EventType, at: datetime, case: CaseRow, message_id: int | None = None,
                   data: dict | None = None, agent_id: int | None = None) -> dict[str, Any]:
    """The event log row (:func:`somebound.store.events.event_row`'s shape) of a fact about
    ``case``, with the case's denormalised customer, queue, channel and bound. Built as a
    row, not as an :class:`Event` first: a batch logs ~3 events a message, and an event
    and then its row cost 2.1 µs against 0.5 µs for the row alone."""
    return {"type": kind.value, "at": at, "case_id": case.id, "customer_id": case.customer_id,
            "message_id": message_id, "agent_id": agent_id, "queue": case.queue,
            "channel": case.channel, "bound": case.bound, "data": data or {}}


# Test hook: ``SOMEBOUND_CRASH_MIDWAY=1`` in a worker's environment kills it inside its
# transaction. Read once: ``os.environ.get`` per payload was 3 % of the pipeline's time.
_CRASH_MIDWAY = os.environ.get("SOMEBOUND_CRASH_MIDWAY") == "1"


def _crash_point() -> None:
    if _CRASH_MIDWAY:
        os._exit(17)
