"""Threading: which case a message belongs to, and opening a new one when none fits.

A reply (``in_reply_to``/References) joins the case of the message it answers; else the
channel's conversation key (``thread_key``) finds the case. A solved case reopens when
the customer writes again within the reopen window; after it, a new case starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, insert, select, update

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


def load_case(conn: Connection, case_id: int) -> CaseRow | None:
    row = conn.execute(select(*_CASE_COLS).where(cases.c.id == case_id)).first()
    return CaseRow(*row) if row else None


def find_case(conn: Connection, msg: Message, now: datetime) -> CaseRow | None:
    """The case this message continues, or None when it starts a new one."""
    refs = [r for r in (msg.in_reply_to, *reversed(msg.references)) if r]
    if refs:
        row = conn.execute(
            select(*_CASE_COLS).join(messages, messages.c.case_id == cases.c.id)
            .where(messages.c.channel == msg.channel.value, messages.c.native_id.in_(refs))
            .order_by(cases.c.id.desc()).limit(1)
        ).first()
        if row is not None and _continues(CaseRow(*row), now):
            return CaseRow(*row)
    if msg.thread_key:
        row = conn.execute(
            select(*_CASE_COLS)
            .where(and_(cases.c.channel == msg.channel.value, cases.c.thread_key == msg.thread_key))
            .order_by(cases.c.id.desc()).limit(1)
        ).first()
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
        conn.execute(update(queues).where(queues.c.name == queue)
                     .values(open_count=queues.c.open_count + delta))


def open_case(conn: Connection, *, msg: Message, customer_id: int | None, bound: str,
              status: CaseStatus, queue: str, priority: str, sla_due_at: datetime | None,
              rule: str | None, language: str | None) -> CaseRow:
    now = msg.sent_at
    awaiting = now if sla_due_at is not None else None
    new_id = conn.execute(insert(cases).values(
        customer_id=customer_id, channel=msg.channel.value, bound=bound, status=status.value,
        priority=priority, queue=queue, subject=msg.subject or _subject_from(msg.body),
        thread_key=msg.thread_key or msg.native_id, language=language, public=msg.public,
        parallel=False, opened_at=now, updated_at=now, last_message_at=now,
        sla_due_at=sla_due_at, awaiting_since=awaiting, message_count=0, routing_rule=rule,
        insights={},
    )).inserted_primary_key[0]
    adjust_open_count(conn, queue, +1)
    return CaseRow(int(new_id), customer_id, msg.channel.value, bound, status.value, priority,
                   queue, now, None, None, awaiting, False, msg.public)


def _subject_from(body: str) -> str:
    first = (body or "").strip().splitlines()[0] if (body or "").strip() else ""
    return first[:80] + ("…" if len(first) > 80 else "")
