"""The inbox's index-friendly case list returns exactly the pages of the API's read model."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from sqlalchemy import insert

from somebound.api import queries
from somebound.store.base import utcnow
from somebound.store.tables import cases, customers
from somebound.web import inbox_query


def _walk(fn, conn, f: queries.CaseFilter) -> list[list[int]]:  # noqa: ANN001
    pages, cursor = [], None
    while True:
        f.cursor = cursor
        rows, cursor = fn(conn, f)
        pages.append([r["id"] for r in rows])
        if cursor is None:
            return pages


def test_same_pages_as_the_api_for_every_sort_and_filter(sqlite_engine) -> None:  # noqa: ANN001
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
            ours = _walk(inbox_query.list_cases, conn, f)
            theirs = _walk(queries.list_cases, conn, f)
            assert ours == theirs, (sort, queue, channel, status, limit)
            assert sum(map(len, ours)) > 0
        rows, _ = inbox_query.list_cases(conn, queries.CaseFilter(limit=90))
        named = [r for r in rows if r["customer_id"]]
        assert named and all(r["customer_name"] == f"C{r['customer_id']}" for r in named)
