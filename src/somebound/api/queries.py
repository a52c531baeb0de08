"""Read models for the API and the web pages: case lists, case detail, customer 360.

Lists use keyset pagination on indexed columns, never OFFSET or COUNT(*), so they stay
fast with 100k open cases.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, false, or_, select, tuple_

from somebound.core.enums import CaseStatus
from somebound.store.tables import cases, customers, identities, messages, queues

CASE_COLUMNS = [c for c in cases.c if c.name != "thread_key"]
SORTS = {"sla": "sla_due_at", "updated": "updated_at", "opened": "opened_at", "id": "id"}


@dataclass
class CaseFilter:
    queue: str | None = None
    status: list[str] | None = None  # None: every open status
    bound: str | None = None
    channel: str | None = None
    customer_id: int | None = None
    priority: str | None = None
    language: str | None = None
    assignee_id: int | None = None
    sort: str = "sla"
    limit: int = 50
    cursor: str | None = None


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str) -> list[Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor: pass next_cursor from the previous page") from exc


def list_cases(conn: Connection, f: CaseFilter) -> tuple[list[dict], str | None]:
    """One page of cases and the cursor of the next page (None on the last page).

    Shaped so PostgreSQL reads limit+1 index entries instead of sorting every open case:
    the ORDER BY ... LIMIT runs on ``cases`` alone and the customer's name is joined to
    that page afterwards; the keyset condition is one row comparison,
    ``(key IS NULL, key, id) > (...)``, which the indexes in that order
    (migration 0002) can start from.
    """
    statuses = f.status or [s.value for s in CaseStatus if s.is_open]
    conds = [cases.c.status.in_(statuses)]
    for col, value in (("queue", f.queue), ("bound", f.bound), ("channel", f.channel),
                       ("customer_id", f.customer_id), ("priority", f.priority),
                       ("language", f.language), ("assignee_id", f.assignee_id)):
        if value is not None:
            conds.append(cases.c[col] == value)
    key = cases.c[SORTS.get(f.sort, "sla_due_at")]
    by_id = key.name == "id"
    if f.cursor:
        last_key, last_id = _decode(f.cursor)
        if by_id:
            conds.append(cases.c.id > last_id)
        elif last_key is None:
            conds.append(and_(key.is_(None), cases.c.id > last_id))
        else:
            conds.append(tuple_(key.is_(None), key, cases.c.id)
                         > tuple_(false(), datetime.fromisoformat(last_key), last_id))
    order = [cases.c.id] if by_id else [key.is_(None), key, cases.c.id]
    page = (select(*CASE_COLUMNS).where(*conds).order_by(*order).limit(f.limit + 1)
            .subquery("page"))
    outer_order = [page.c.id] if by_id else [page.c[key.name].is_(None), page.c[key.name],
                                               page.c.id]
    stmt = (select(page, customers.c.display_name.label("customer_name"))
            .outerjoin(customers, customers.c.id == page.c.customer_id)
            .order_by(*outer_order))
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    next_cursor = None
    if len(rows) > f.limit:
        rows = rows[: f.limit]
        last = rows[-1]
        next_cursor = _encode([None if by_id else last[key.name], last["id"]])
    return rows, next_cursor


def case_detail(conn: Connection, case_id: int) -> dict | None:
    row = conn.execute(select(*CASE_COLUMNS, customers.c.display_name.label("customer_name"))
                       .outerjoin(customers, customers.c.id == cases.c.customer_id)
                       .where(cases.c.id == case_id)).first()
    if row is None:
        return None
    detail = dict(row._mapping)
    msgs = [dict(m._mapping) for m in conn.execute(
        select(messages).where(messages.c.case_id == case_id)
        .order_by(messages.c.sent_at, messages.c.id))]
    detail["messages"] = msgs
    detail["participants"] = participants(msgs, detail["customer_id"])
    return detail


def participants(msgs: list[dict], case_customer: int | None) -> list[dict]:
    """Everyone who wrote in the thread: the case's customer, bystanders, the company."""
    seen: dict[str, dict] = {}
    for m in msgs:
        if m["kind"] == "note":
            continue
        key = "company" if m["is_company"] else (m["author_key"] or "?")
        entry = seen.setdefault(key, {
            "author_key": None if m["is_company"] else m["author_key"],
            "name": "company" if m["is_company"] else m["author_name"] or m["author_key"],
            "customer_id": m["customer_id"],
            "role": "company" if m["is_company"] else (
                "customer" if m["customer_id"] == case_customer else "bystander"),
            "messages": 0,
        })
        entry["messages"] += 1
    return list(seen.values())


def customer_detail(conn: Connection, customer_id: int, timeline_limit: int = 200) -> dict | None:
    row = conn.execute(select(customers).where(customers.c.id == customer_id)).first()
    if row is None:
        return None
    detail = dict(row._mapping)
    detail["identities"] = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r._mapping.items()}
        for r in conn.execute(select(identities).where(identities.c.customer_id == customer_id))
    ]
    detail["cases"] = [dict(r._mapping) | {"customer_name": row.display_name} for r in
                       conn.execute(select(*CASE_COLUMNS).where(cases.c.customer_id == customer_id)
                                    .order_by(cases.c.opened_at.desc()).limit(100))]
    detail["timeline"] = [
        {"at": r.sent_at, "case_id": r.case_id, "channel": r.channel, "bound": r.bound,
         "direction": r.direction, "kind": r.kind, "public": r.public, "body": r.body,
         "message_id": r.id}
        for r in conn.execute(
            select(messages.c.id, messages.c.sent_at, messages.c.case_id, messages.c.channel,
                   messages.c.direction, messages.c.kind, messages.c.public, messages.c.body,
                   cases.c.bound)
            .join(cases, cases.c.id == messages.c.case_id)
            .where(cases.c.customer_id == customer_id, messages.c.kind != "note")
            .order_by(messages.c.sent_at.desc()).limit(timeline_limit))
    ]
    return detail


def search_customers(conn: Connection, q: str, limit: int = 20) -> list[dict]:
    like = f"%{q.casefold()}%"
    from sqlalchemy import func

    return [dict(r._mapping) for r in conn.execute(
        select(customers).where(customers.c.merged_into_id.is_(None), or_(
            func.lower(customers.c.display_name).like(like),
            func.lower(customers.c.email).like(like), customers.c.phone.like(like),
            customers.c.customer_number == q))
        .order_by(customers.c.id).limit(limit))]


def list_queues(conn: Connection) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(
        select(queues.c.name, queues.c.team, queues.c.open_count).order_by(queues.c.name))]
