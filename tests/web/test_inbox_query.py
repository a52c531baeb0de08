"""The index-friendly case list (used by the API and the inbox) returns exactly the pages of
a plain reference query: join first, OR-shaped keyset condition, no tricks."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_, select

from somebound.api import queries
from somebound.core.enums import CaseStatus
from somebound.store.base import utcnow
from somebound.store.tables import cases, customers


def _reference_list_cases(conn, f: queries.CaseFilter):  # noqa: ANN001, ANN202
    """The obvious query the optimised one must agree with."""
    conds = [cases.c.status.in_(f.status or [s.value for s in CaseStatus if s.is_open])]
    for col in ("queue", "bound", "channel", "customer_id", "priority", "language",
                "assignee_id"):
        if getattr(f, col) is not None:
            conds.append(cases.c[col] == getattr(f, col))
    key = cases.c[queries.SORTS.get(f.sort, "sla_due_at")]
    if f.cursor:
        last_key, last_id = queries._decode(f.cursor)
        if key.name == "id":
            conds.append(cases.c.id > last_id)
        elif last_key is None:
            conds.append(and_(key.is_(None), cases.c.id > last_id))
        else:
            last_dt = datetime.fromisoformat(last_key)
            conds.append(or_(key > last_dt, and_(key == last_dt, cases.c.id > last_id),
                             key.is_(None)))
    order = [key.is_(None), key, cases.c.id] if key.name != "id" else [cases.c.id]
    stmt = (select(*queries.CASE_COLUMNS, customers.c.display_name.label("customer_name"))
            .outerjoin(customers, customers.c.id == cases.c.customer_id)
            .where(*conds).order_by(*order).limit(f.limit + 1))
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if len(rows) <= f.limit:
        return rows, None
    rows = rows[: f.limit]
    last = rows[-1]
    return rows, queries._encode([last[key.name] if key.name != "id" else None, last["id"]])


def _walk(fn, conn, f: queries.CaseFilter) -> list[list[int]]:  # noqa: ANN001
    pages, cursor = [], None
    while True:
        f.cursor = cursor
        rows, cursor = fn(conn, f)
        pages.append([r["id"] for r in rows])
        if cursor is None:
            return pages


def test_same_pages_as_the_reference_for_every_sort_and_filter(sqlite_engine) -> None:  # noqa: ANN001
    rng = random.Random(3)
    now = utcnow()
    base = now.replace(microsecond=0)
    with sqlite_engine.begin() as conn:
        conn.execute(insert(customers), [dict(id=i, display_name=f"C{i}", attributes={},
                                              provisional=False, erased=False, created_at=now,
                                              updated_at=now) for i in range(1, 6)])
        rows = []
        for _ in range(90):
            due = rng.choice([None, base, base + timedelta(minutes=rng.randint(-30, 30))])
            rows.append(dict(customer_id=rng.choice([None, 1, 2, 3, 4, 5]),
                             channel=rng.choice(["email", "facebook"]),
                             bound=rng.choice(["inbound", "somebound"]),
                             status=rng.choice(["new", "open", "pending", "solved"]),
                             priority=rng.choice(["normal", "urgent"]),
                             queue=rng.choice(["social", "general"]), subject="s",
                             public=False, parallel=False, opened_at=base,
                             updated_at=base + timedelta(seconds=rng.randint(0, 5)),
                             last_message_at=now, sla_due_at=due, message_count=1,
                             insights={}))
        conn.execute(insert(cases), rows)
    with sqlite_engine.connect() as conn:
        combos = itertools.product(["sla", "updated", "opened", "id"], [None, "social"],
                                   [None, "facebook"], [None, ["solved"]], [7, 50])
        for sort, queue, channel, status, limit in combos:
            f = queries.CaseFilter(sort=sort, queue=queue, channel=channel, status=status,
                                   limit=limit)
            ours = _walk(queries.list_cases, conn, f)
            theirs = _walk(_reference_list_cases, conn, f)
            assert ours == theirs, (sort, queue, channel, status, limit)
            assert sum(map(len, ours)) > 0
        rows, _ = queries.list_cases(conn, queries.CaseFilter(limit=90))
        named = [r for r in rows if r["customer_id"]]
        assert named and all(r["customer_name"] == f"C{r['customer_id']}" for r in named)
