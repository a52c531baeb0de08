"""Every lookup a worker batch (and the inbox accept) makes is an index search, on both
databases.

A lookup by the second column of a unique index alone (``native_id`` of ``(channel,
native_id)``) reads the whole table: the cost of every batch then grows with all the
messages the hub has ever stored, which no benchmark on a fresh database shows.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Select, text

from somebound.pipeline import batch
from somebound.store import inbox
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade

LOOKUPS = {
    "messages by native id": batch._MESSAGES_BY_NATIVE,
    "identities by key": batch._IDENTITIES_BY_KEY,
    "customers by id": batch._CUSTOMERS_BY_ID,
    "cases by id": batch._CASES_BY_ID,
    "cases by thread": batch._CASES_BY_THREAD,
    "open cases of customers": batch._OPEN_CASES_OF,
    "pending inbox rows": inbox._PENDING.limit(10),  # its limit is a bound value
    "still pending inbox rows": inbox._STILL_PENDING,
    "stored inbox payloads by digest": inbox._KNOWN,
}
VALUES = {"keys": ["1", "2"], "kinds": ["email", "facebook"], "open": ["new", "open"],
          "ids": [1, 2], "channels": ["email", "x"], "digests": ["ab", "cd"]}


def _sql(stmt: Select, dialect) -> str:  # noqa: ANN001
    names = {b.key for b in stmt._get_embedded_bindparams()}
    bound = stmt.params({k: v for k, v in VALUES.items() if k in names})
    return str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


@pytest.mark.parametrize("name", sorted(LOOKUPS))
def test_the_lookup_searches_an_index(any_db_url: str, name: str) -> None:
    engine = make_engine(any_db_url)
    upgrade(engine)
    sql = _sql(LOOKUPS[name], engine.dialect)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " | ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN" not in plan, f"{name} reads the whole table: {plan}"
        else:
            conn.execute(text("SET enable_seqscan = off"))  # tiny tables: only if it must
            plan = " | ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
            assert "Seq Scan" not in plan, f"{name} reads the whole table: {plan}"
    engine.dispose()
