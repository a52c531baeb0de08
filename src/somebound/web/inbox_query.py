"""The inbox's case list, shaped so PostgreSQL reads 51 index entries instead of sorting 100k.

Same filters, order, page size and cursor format as :func:`somebound.api.queries.list_cases`
(a test checks they return the same pages), with two changes to the SQL's shape:

* the ORDER BY ... LIMIT runs on ``cases`` alone in a subquery and the customer's name is
  joined to the 51 rows afterwards — with the join inside, the planner hashes every open
  case with ``customers`` and sorts them all before it can stop;
* the keyset condition is one row comparison, ``(key IS NULL, key, id) > (...)``, which an
  index in that order (``store.web.INBOX_INDEXES``) can start from, instead of an OR.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, false, select, tuple_

from somebound.api.queries import CASE_COLUMNS, SORTS, CaseFilter, _decode, _encode
from somebound.core.enums import CaseStatus
from somebound.store.tables import cases, customers

OPEN_STATUSES = [s.value for s in CaseStatus if s.is_open]


def list_cases(conn: Connection, f: CaseFilter) -> tuple[list[dict], str | None]:
    """One page of cases and the cursor of the next page (None on the last page)."""
    statuses = f.status or OPEN_STATUSES
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
