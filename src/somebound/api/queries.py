"""Read models for the API and the web pages: case lists, case detail, customer 360.

Lists use keyset pagination on indexed columns, never OFFSET or COUNT(*), so they stay
fast with 100k open cases. The statements are built once and run through
:mod:`somebound.store.lean` (on the driver's cursor, without SQLAlchemy's per-execution
Python).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    false,
    literal_column,
    or_,
    select,
    tuple_,
)

from somebound.core.enums import CaseStatus
from somebound.store import lean
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


# What the inbox list shows (no thread key, no insights JSON to decode per row).
LIST_COLUMN_NAMES = ("id", "customer_id", "channel", "bound", "status", "priority", "queue",
                     "assignee_id", "subject", "language", "public", "parallel", "opened_at",
                     "updated_at", "last_message_at", "sla_due_at", "awaiting_since",
                     "message_count")
_FILTER_COLUMNS = ("queue", "bound", "channel", "customer_id", "priority", "language",
                   "assignee_id")
_OPEN = tuple(s.value for s in CaseStatus if s.is_open)


def list_cases(conn: Connection, f: CaseFilter,
               columns: tuple[str, ...] | None = None) -> tuple[list[dict], str | None]:
    """One page of cases and the cursor of the next page (None on the last page).

    Shaped so PostgreSQL reads limit+1 index entries instead of sorting every open case:
    the ORDER BY ... LIMIT runs on ``cases`` alone and the customer's name is a
    correlated subquery evaluated for the page's rows only; the keyset condition is one
    row comparison, ``(key IS NULL, key, id) > (...)``, which the indexes in that order
    (``store.web.INBOX_INDEXES``) can start from. ``columns`` narrows the case columns
    (the inbox passes :data:`LIST_COLUMN_NAMES`); the API gets them all.
    """
    statuses = tuple(f.status) if f.status else _OPEN
    filters = tuple(c for c in _FILTER_COLUMNS if getattr(f, c) is not None)
    sort = f.sort if f.sort in SORTS else "sla"
    by_id = sort == "id"
    params: dict[str, Any] = {f"status_{i}": s for i, s in enumerate(statuses)}
    params.update({c: getattr(f, c) for c in filters})
    cursor = None
    if f.cursor:
        last_key, last_id = _decode(f.cursor)
        if by_id or last_key is None:
            cursor = "id" if by_id else "null"
        else:
            cursor = "key"
            params["last_key"] = datetime.fromisoformat(last_key)
        params["last_id"] = last_id
    stmt = _list_statement(len(statuses), filters, sort, cursor, f.limit + 1,
                           columns or tuple(c.name for c in CASE_COLUMNS))
    rows = lean.dicts(conn, stmt, params)
    next_cursor = None
    if len(rows) > f.limit:
        rows = rows[: f.limit]
        last = rows[-1]
        next_cursor = _encode([None if by_id else last[SORTS[sort]], last["id"]])
    return rows, next_cursor


@lru_cache(maxsize=256)
def _list_statement(n_statuses: int, filters: tuple[str, ...], sort: str, cursor: str | None,
                    limit: int, columns: tuple[str, ...]) -> Select:
    """The statement for one filter *shape*, values left as bound parameters.

    Built once per shape: constructing a SELECT and its cache key on every request cost
    more Python time than PostgreSQL spent running it. Statuses are ``=`` terms rather
    than an expanding ``IN`` (which SQLAlchemy re-renders on every execution); the LIMIT
    is a literal so PostgreSQL's generic plan for the prepared statement knows it is small.
    """
    conds = [or_(*(cases.c.status == bindparam(f"status_{i}") for i in range(n_statuses)))]
    conds += [cases.c[c] == bindparam(c) for c in filters]
    key = cases.c[SORTS[sort]]
    if cursor == "id":
        conds.append(cases.c.id > bindparam("last_id"))
    elif cursor == "null":
        conds.append(and_(key.is_(None), cases.c.id > bindparam("last_id")))
    elif cursor == "key":
        conds.append(tuple_(key.is_(None), key, cases.c.id)
                     > tuple_(false(), bindparam("last_key", type_=key.type),
                              bindparam("last_id")))
    order = [cases.c.id] if sort == "id" else [key.is_(None), key, cases.c.id]
    name = (select(customers.c.display_name).where(customers.c.id == cases.c.customer_id)
            .scalar_subquery().label("customer_name"))
    return (select(*(cases.c[c] for c in columns), name).where(*conds).order_by(*order)
            .limit(literal_column(str(int(limit)))))


# The detail pages' statements, built once (values are bound parameters): building a
# SELECT per request cost more Python time than the database spent answering it.
_CASE_BY_ID = (select(*CASE_COLUMNS, customers.c.display_name.label("customer_name"))
               .outerjoin(customers, customers.c.id == cases.c.customer_id)
               .where(cases.c.id == bindparam("case_id")))
_CASE_MESSAGES = (select(messages).where(messages.c.case_id == bindparam("case_id"))
                  .order_by(messages.c.sent_at, messages.c.id))


def case_detail(conn: Connection, case_id: int) -> dict | None:
    detail = lean.first(conn, _CASE_BY_ID, {"case_id": case_id})
    if detail is None:
        return None
    msgs = lean.dicts(conn, _CASE_MESSAGES, {"case_id": case_id})
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


_CUSTOMER = select(customers).where(customers.c.id == bindparam("customer_id"))
_IDENTITIES = select(identities).where(identities.c.customer_id == bindparam("customer_id"))


@lru_cache(maxsize=8)
def _timeline(limit: int) -> Select:
    return (select(messages.c.id, messages.c.sent_at, messages.c.case_id, messages.c.channel,
                   messages.c.direction, messages.c.kind, messages.c.public, messages.c.body,
                   cases.c.bound)
            .join(cases, cases.c.id == messages.c.case_id)
            .where(cases.c.customer_id == bindparam("customer_id"), messages.c.kind != "note")
            .order_by(messages.c.sent_at.desc()).limit(literal_column(str(int(limit)))))


@lru_cache(maxsize=8)
def _customer_cases(columns: tuple[str, ...]) -> Select:
    return (select(*(cases.c[c] for c in columns))
            .where(cases.c.customer_id == bindparam("customer_id"))
            .order_by(cases.c.opened_at.desc()).limit(100))


def customer_detail(conn: Connection, customer_id: int, timeline_limit: int = 200,
                    case_columns: tuple[str, ...] | None = None) -> dict | None:
    """The customer 360: record, identities, last 100 cases, cross-channel timeline.
    ``case_columns`` narrows the cases' columns (the case page passes
    :data:`LIST_COLUMN_NAMES`; the API returns them all)."""
    key = {"customer_id": customer_id}
    detail = lean.first(conn, _CUSTOMER, key)
    if detail is None:
        return None
    detail["identities"] = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
        for r in lean.dicts(conn, _IDENTITIES, key)
    ]
    columns = case_columns or tuple(c.name for c in CASE_COLUMNS)
    name = detail["display_name"]
    detail["cases"] = lean.dicts(conn, _customer_cases(columns), key)
    for c in detail["cases"]:
        c["customer_name"] = name
    # columns in _timeline's order: id, sent_at, case_id, channel, direction, kind, public,
    # body, bound
    detail["timeline"] = [
        {"at": at, "case_id": case_id, "channel": channel, "bound": bound,
         "direction": direction, "kind": kind, "public": public, "body": body,
         "message_id": mid}
        for mid, at, case_id, channel, direction, kind, public, body, bound
        in lean.rows(conn, _timeline(timeline_limit), key)[1]
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


_QUEUES = select(queues.c.name, queues.c.team, queues.c.open_count).order_by(queues.c.name)


def list_queues(conn: Connection) -> list[dict]:
    return lean.dicts(conn, _QUEUES)
