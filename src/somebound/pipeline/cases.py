"""Cases as the pipeline sees them, and the threading rule.

A reply (``in_reply_to``/References) joins the case of the message it answers; else the
channel's conversation key (``thread_key``) finds the case. A solved case reopens when
the customer writes again within the reopen window; after it, a new case starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from somebound.core.enums import OPEN_STATUSES, CaseStatus
from somebound.store import lean
from somebound.store.tables import cases, queues

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
    thread_key: str | None
    last_message_at: datetime
    updated_at: datetime
    sla_due_at: datetime | None
    message_count: int
    insights: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def continues(self, now: datetime) -> bool:
        """May a new message from the customer join this case?"""
        if self.is_open:
            return True
        if self.status == CaseStatus.SOLVED and self.solved_at is not None:
            return now - self.solved_at <= REOPEN_WINDOW
        return False

    def state(self) -> dict[str, Any]:
        """The mutable columns, as written back at the end of a batch."""
        return {name: getattr(self, name) for name in MUTABLE}


CASE_COLUMNS = [cases.c[name] for name in CaseRow.__dataclass_fields__]
MUTABLE = ("customer_id", "status", "priority", "queue", "solved_at", "first_response_at",
           "awaiting_since", "parallel", "last_message_at", "updated_at", "sla_due_at",
           "message_count", "insights")
_BY_ID = select(*CASE_COLUMNS).where(cases.c.id == bindparam("_id"))
_QUEUE_COUNT = update(queues).where(queues.c.name == bindparam("_queue")).values(
    open_count=queues.c.open_count + bindparam("_delta"))


def case_from_row(row: Sequence[Any]) -> CaseRow:
    """A case from its ``CASE_COLUMNS`` values, in that order (the dataclass's)."""
    case = CaseRow(*row)
    case.insights = dict(case.insights or {})
    return case


def load_case(conn: Connection, case_id: int) -> CaseRow | None:
    found = lean.rows(conn, _BY_ID, {"_id": case_id})[1]
    return case_from_row(found[0]) if found else None


def adjust_open_count(conn: Connection, queue: str | None, delta: int) -> None:
    """Keep the per-queue open count in the same transaction as the case change."""
    if queue and delta:
        lean.run(conn, _QUEUE_COUNT, {"_queue": queue, "_delta": delta})


def subject_from(body: str) -> str:
    first = (body or "").strip().splitlines()[0] if (body or "").strip() else ""
    return first[:80] + ("…" if len(first) > 80 else "")
