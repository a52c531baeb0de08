"""Threading: which case a message belongs to, and opening a new one when none fits.

A reply (``in_reply_to``/References) joins the case of the message it answers; else the
channel's conversation key (``thread_key``) finds the case. A solved case reopens when
the customer writes again within the reopen window; after it, a new case starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, select, update

from somebound.core.enums import CaseStatus
from somebound.core.message import Message
from somebound.store.tables import cases, messages, queues

REOPEN_WINDOW = timedelta(days=7)


@dataclass
class CaseRow:
    id: int
    customer_id: int | None
    channel: str
    bound: str
    status: str
    priority: str
    queue: str | None
    opened_at: datetime
    solved_at: datetime | None
    first_response_at: datetime | None
    awaiting_since: datetime | None
    parallel: bool
    public: bool


_CASE_COLS = [cases.c[name] for name in CaseRow.__dataclass_fields__]
# Statements built once: threading runs them for every message.
_BY_ID = select(*_CASE_COLS).where(cases.c.id == bindparam("_id"))
_BY_REFS = (select(*_CASE_COLS).join(messages, messages.c.case_id == cases.c.id)
            .where(messages.c.channel == bindparam("channel"),
                   messages.c.native_id.in_(bindparam("refs", expanding=True)))
            .order_by(cases.c.id.desc()).limit(1))
_BY_THREAD = (select(*_CASE_COLS)
              .where(cases.c.channel == bindparam("channel"),
                     cases.c.thread_key == bindparam("thread"))
              .order_by(cases.c.id.desc()).limit(1))
_QUEUE_COUNT = update(queues).where(queues.c.name == bindparam("_queue")).values(
    open_count=queues.c.open_count + bindparam("_delta"))
_INSERT_CASE = insert(cases)


def load_case(conn: Connection, case_id: int) -> CaseRow | None:
    row = conn.execute(_BY_ID, {"_id": case_id}).first()
    return CaseRow(*row) if row else None


def find_case(conn: Connection, msg: Message, now: datetime) -> CaseRow | None:
    """The case this message continues, or None when it starts a new one."""
    refs = [r for r in (msg.in_reply_to, *reversed(msg.references)) if r]
    if refs:
        row = conn.execute(_BY_REFS, {"channel": msg.channel.value, "refs": refs}).first()
        if row is not None and _continues(CaseRow(*row), now):
            return CaseRow(*row)
    if msg.thread_key:
        row = conn.execute(_BY_THREAD, {"channel": msg.channel.value,
                                        "thread": msg.thread_key}).first()
        if row is not None and _continues(CaseRow(*row), now):
            return CaseRow(*row)
    return None


def _continues(case: CaseRow, now: datetime) -> bool:
    if CaseStatus(case.status).is_open:
        return True
    if case.status == CaseStatus.SOLVED and case.solved_at is not None:
        return now - case.solved_at <= REOPEN_WINDOW
    return False


def adjust_open_count(conn: Connection, queue: str | None, delta: int) -> None:
    """Keep the per-queue open count in the same transaction as the case change."""
    if queue:
        conn.execute(_QUEUE_COUNT, {"_queue": queue, "_delta": delta})


def open_case(conn: Connection, *, msg: Message, customer_id: int | None, bound: str,
              status: CaseStatus, queue: str, priority: str, sla_due_at: datetime | None,
              rule: str | None, language: str | None) -> CaseRow:
    now = msg.sent_at
    awaiting = now if sla_due_at is not None else None
    new_id = conn.execute(_INSERT_CASE, {
        "customer_id": customer_id, "channel": msg.channel.value, "bound": bound,
        "status": status.value, "priority": priority, "queue": queue,
        "subject": msg.subject or _subject_from(msg.body),
        "thread_key": msg.thread_key or msg.native_id, "language": language,
        "public": msg.public, "parallel": False, "opened_at": now, "updated_at": now,
        "last_message_at": now, "sla_due_at": sla_due_at, "awaiting_since": awaiting,
        "message_count": 0, "routing_rule": rule, "insights": {},
    }).inserted_primary_key[0]
    adjust_open_count(conn, queue, +1)
    return CaseRow(int(new_id), customer_id, msg.channel.value, bound, status.value, priority,
                   queue, now, None, None, awaiting, False, msg.public)


def _subject_from(body: str) -> str:
    first = (body or "").strip().splitlines()[0] if (body or "").strip() else ""
    return first[:80] + ("…" if len(first) > 80 else "")
