"""What agents do to a case: reply through the channel, note, assign, change status.

Each action updates the case and appends its events in one transaction. A reply is
recorded as "sending" before the channel is called and completed afterwards, so a
crash in between leaves a visible, retryable trace instead of a silent double send.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, insert, select, update

from somebound.core.bound import classify_bound
from somebound.core.enums import CaseStatus, Channel, Direction, EventType, MessageKind, Priority
from somebound.core.message import Author
from somebound.core.reply import Reply, Sender
from somebound.pipeline.cases import CaseRow, adjust_open_count, load_case
from somebound.pipeline.ingest import case_event_row
from somebound.store import events as event_log
from somebound.store.base import utcnow
from somebound.store.tables import cases, customers, identities, messages

# Channels where the company can answer publicly (a comment, a reply tweet) as well as
# privately (a DM); the rest are private by nature.
PUBLIC_CAPABLE = {Channel.FACEBOOK, Channel.X, Channel.FEED}
PRIVATE_CAPABLE = {Channel.EMAIL, Channel.FACEBOOK, Channel.X, Channel.CHAT, Channel.SMS}


class ActionError(ValueError):
    """An action that cannot be done; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ReplyResult:
    message_id: int
    native_id: str
    first_response: bool


def _case_or_404(conn: Connection, case_id: int) -> CaseRow:
    case = load_case(conn, case_id)
    if case is None:
        raise ActionError(f"case {case_id} does not exist", 404)
    return case


def reply(engine: Engine, senders: dict[Channel, Sender], case_id: int, agent_id: int | None,
          body: str, public: bool | None = None, handling_seconds: float | None = None,
          default_handling_seconds: float = 120.0) -> ReplyResult:
    """Answer the case's latest customer message through the case's channel."""
    if not body.strip():
        raise ActionError("reply body is empty", 422)
    with engine.begin() as conn:
        case = _case_or_404(conn, case_id)
        channel = Channel(case.channel)
        public = case.public if public is None else public
        if public and channel not in PUBLIC_CAPABLE:
            raise ActionError(f"{channel.value} has no public replies", 422)
        if public and not case.public:
            raise ActionError("this case is a private conversation: answer privately "
                              "(public replies answer public threads)", 422)
        if not public and channel not in PRIVATE_CAPABLE:
            raise ActionError(f"{channel.value} has no private replies; answer publicly", 422)
        sender = senders.get(channel)
        if sender is None:
            raise ActionError(f"no sender configured for {channel.value}", 503)
        last_in = conn.execute(
            select(messages.c.native_id, messages.c.author_key, messages.c.author_name,
                   messages.c.subject, messages.c.meta, messages.c.identity_id)
            .where(messages.c.case_id == case_id, messages.c.direction == "in",
                   messages.c.kind != "note")
            .order_by(messages.c.sent_at.desc(), messages.c.id.desc()).limit(1)
        ).first()
        if last_in is None:
            raise ActionError("the case has no customer message to answer", 409)
        refs = [r.native_id for r in conn.execute(
            select(messages.c.native_id).where(messages.c.case_id == case_id,
                                               messages.c.kind != "note")
            .order_by(messages.c.sent_at))]
        thread_key = conn.execute(select(cases.c.thread_key).where(cases.c.id == case_id)).scalar()
        email = None
        if channel is Channel.EMAIL:
            email = last_in.author_key
        placeholder = f"sending:{uuid.uuid4()}"
        now = utcnow()
        msg_id = int(conn.execute(insert(messages).values(
            case_id=case_id, channel=channel.value, native_id=placeholder, direction="out",
            kind="message", agent_id=agent_id, author_key=None, author_name=None,
            is_company=True, subject=_re(last_in.subject), body=body, public=public,
            sent_at=now, received_at=now, attachments=[], meta={"delivery": "sending"},
        )).inserted_primary_key[0])
    to = Author(channel_user_id=last_in.author_key or "", display_name=last_in.author_name,
                email=email)
    out = Reply(channel=channel, body=body, to=to, public=public, in_reply_to=last_in.native_id,
                thread_key=thread_key, subject=_re(last_in.subject), references=tuple(refs[-20:]),
                meta=dict(last_in.meta or {}))
    try:
        result = sender.send(out)
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(update(messages).where(messages.c.id == msg_id).values(
                meta={"delivery": "failed", "error": str(exc)[:500]}))
        raise ActionError(f"{channel.value} did not accept the reply: {exc}", 502) from exc
    with engine.begin() as conn:
        case = _case_or_404(conn, case_id)
        sent_at = result.sent_at
        conn.execute(update(messages).where(messages.c.id == msg_id).values(
            native_id=result.native_id, sent_at=sent_at,
            meta={"delivery": "sent", **result.meta}))
        seconds = handling_seconds if handling_seconds is not None else default_handling_seconds
        evs = [case_event_row(EventType.MESSAGE_SENT, sent_at, case, msg_id, data={
            "public": public, "handling_seconds": float(seconds), "author_agent": agent_id},
            agent_id=agent_id)]
        values: dict = {"updated_at": sent_at, "last_message_at": sent_at,
                        "message_count": cases.c.message_count + 1,
                        "awaiting_since": None, "sla_due_at": None}
        first = case.first_response_at is None and case.awaiting_since is not None
        if first:
            base = case.awaiting_since or case.opened_at
            evs.append(case_event_row(EventType.FIRST_RESPONSE, sent_at, case, msg_id, data={
                "seconds": (sent_at - case.opened_at).total_seconds(),
                "seconds_since_awaiting": (sent_at - base).total_seconds()}, agent_id=agent_id))
            values["first_response_at"] = sent_at
        if case.status == CaseStatus.NEW.value:
            values["status"] = CaseStatus.OPEN.value
            evs.append(case_event_row(EventType.CASE_STATUS_CHANGED, sent_at, case, data={
                "from": "new", "to": "open"}, agent_id=agent_id))
        conn.execute(update(cases).where(cases.c.id == case_id).values(**values))
        event_log.append_rows(conn, evs)
    return ReplyResult(msg_id, result.native_id, first)


def _re(subject: str | None) -> str | None:
    if not subject:
        return None
    return subject if subject.lower().startswith(("re:", "vs:", "sv:")) else f"Re: {subject}"


def add_note(engine: Engine, case_id: int, agent_id: int | None, body: str) -> int:
    if not body.strip():
        raise ActionError("note body is empty", 422)
    with engine.begin() as conn:
        case = _case_or_404(conn, case_id)
        now = utcnow()
        msg_id = int(conn.execute(insert(messages).values(
            case_id=case_id, channel=case.channel, native_id=f"note:{uuid.uuid4()}",
            direction="out", kind=MessageKind.NOTE.value, agent_id=agent_id, is_company=True,
            body=body, public=False, sent_at=now, received_at=now, attachments=[], meta={},
        )).inserted_primary_key[0])
        conn.execute(update(cases).where(cases.c.id == case_id).values(updated_at=now))
        event_log.append_rows(conn, [case_event_row(EventType.NOTE_ADDED, now, case, msg_id,
                                                         agent_id=agent_id)])
    return msg_id


def assign(engine: Engine, case_id: int, assignee_id: int | None, by_agent: int | None) -> None:
    with engine.begin() as conn:
        case = _case_or_404(conn, case_id)
        previous = conn.execute(select(cases.c.assignee_id).where(cases.c.id == case_id)).scalar()
        now = utcnow()
        conn.execute(update(cases).where(cases.c.id == case_id)
                     .values(assignee_id=assignee_id, updated_at=now))
        event_log.append_rows(conn, [case_event_row(EventType.CASE_ASSIGNED, now, case, data={
            "agent_id": assignee_id, "previous": previous}, agent_id=by_agent)])


def set_status(engine: Engine, case_id: int, status: CaseStatus, by_agent: int | None) -> None:
    with engine.begin() as conn:
        case = _case_or_404(conn, case_id)
        old = CaseStatus(case.status)
        if old is status:
            return
        now = utcnow()
        values: dict = {"status": status.value, "updated_at": now}
        if status is CaseStatus.SOLVED:
            values["solved_at"] = now
        if old.is_open and not status.is_open:
            adjust_open_count(conn, case.queue, -1)
            values.update(awaiting_since=None, sla_due_at=None)
        elif not old.is_open and status.is_open:
            adjust_open_count(conn, case.queue, +1)
            values["solved_at"] = None
        conn.execute(update(cases).where(cases.c.id == case_id).values(**values))
        evs = [case_event_row(EventType.CASE_STATUS_CHANGED, now, case, data={
            "from": old.value, "to": status.value}, agent_id=by_agent)]
        if not old.is_open and status.is_open:
            evs.append(case_event_row(EventType.CASE_REOPENED, now, case,
                                      data={"from": old.value}, agent_id=by_agent))
        event_log.append_rows(conn, evs)


def set_priority(engine: Engine, case_id: int, priority: Priority, by_agent: int | None) -> None:
    with engine.begin() as conn:
        case = _case_or_404(conn, case_id)
        now = utcnow()
        conn.execute(update(cases).where(cases.c.id == case_id)
                     .values(priority=priority.value, updated_at=now))
        event_log.append_rows(conn, [case_event_row(
            EventType.CASE_PRIORITY_CHANGED, now, case,
            data={"from": case.priority, "to": priority.value}, agent_id=by_agent)])


def open_outbound(engine: Engine, senders: dict[Channel, Sender], customer_id: int,
                  channel: Channel, body: str, agent_id: int | None, queue: str,
                  subject: str | None = None, sla_seconds: int | None = None,
                  meta: dict | None = None) -> tuple[int, int]:
    """The company starts a contact (a campaign action, a service notice): an outbound case.

    Returns (case id, message id). The recipient is the customer's identity on that
    channel (email address, phone, social id).
    """
    kind = {Channel.EMAIL: "email", Channel.SMS: "phone", Channel.PHONE: "phone"}.get(
        channel, channel.value)
    with engine.begin() as conn:
        cust = conn.execute(select(customers.c.id, customers.c.display_name, customers.c.email,
                                   customers.c.phone).where(customers.c.id == customer_id)).first()
        if cust is None:
            raise ActionError(f"customer {customer_id} does not exist", 404)
        ident = conn.execute(select(identities.c.key).where(
            identities.c.customer_id == customer_id, identities.c.kind == kind)).scalar()
        address = ident or (cust.email if kind == "email" else cust.phone if kind == "phone"
                            else None)
        if not address:
            raise ActionError(f"customer {customer_id} has no {kind} identity to contact", 422)
    sender = senders.get(channel)
    if sender is None:
        raise ActionError(f"no sender configured for {channel.value}", 503)
    to = Author(channel_user_id=address, display_name=cust.display_name,
                email=address if kind == "email" else None)
    result = sender.send(Reply(channel=channel, body=body, to=to, public=False, subject=subject,
                               meta=meta or {}))
    bound = classify_bound(public=False, first_direction=Direction.OUT).value
    now = result.sent_at
    with engine.begin() as conn:
        case_id = int(conn.execute(insert(cases).values(
            customer_id=customer_id, channel=channel.value, bound=bound,
            status=CaseStatus.PENDING.value, priority=Priority.NORMAL.value, queue=queue,
            subject=subject or body[:80], thread_key=result.native_id, language=None,
            public=False, parallel=False, opened_at=now, updated_at=now, last_message_at=now,
            first_response_at=None, message_count=1, insights={"origin": meta or {}},
            sla_due_at=now + timedelta(seconds=sla_seconds) if sla_seconds else None,
        )).inserted_primary_key[0])
        adjust_open_count(conn, queue, +1)
        msg_id = int(conn.execute(insert(messages).values(
            case_id=case_id, channel=channel.value, native_id=result.native_id, direction="out",
            kind="message", agent_id=agent_id, customer_id=customer_id, is_company=True,
            subject=subject, body=body, public=False, sent_at=now, received_at=now,
            attachments=[], meta={"delivery": "sent", **result.meta},
        )).inserted_primary_key[0])
        case = load_case(conn, case_id)
        assert case is not None
        event_log.append_rows(conn, [
            case_event_row(EventType.CASE_OPENED, now, case, data={
                "priority": "normal", "language": None, "public": False}),
            case_event_row(EventType.MESSAGE_SENT, now, case, msg_id, data={
                "public": False, "handling_seconds": 0.0, "author_agent": agent_id},
                agent_id=agent_id),
        ])
    return case_id, msg_id


