"""PostgreSQL's batch lookups: exact key pairs, and an index search per key whatever the
planner's statistics say.

The batch used to ask ``channel IN (…) AND native_id IN (…)``: the cross product of the
batch's channels and keys. Once a table held ~10k rows PostgreSQL planned that as a scan
of the whole table (2 ms a lookup at 12,000 messages, growing with every message stored),
and the claim's ``status = 'pending' AND id IN (…)`` as a scan of every entry the pending
index kept since the last vacuum. These tests build tables of that size, as a hub has them
(analysed, and not yet), and read the plans of the statements the batch runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from somebound.pipeline import batch
from somebound.store import inbox, lean
from somebound.store.engine import make_engine, transaction
from somebound.store.migrate import upgrade

ROWS = 20_000
CHANNELS = ["email", "facebook", "x", "phone", "chat"]

_FILL = [
    """INSERT INTO customers (display_name, attributes, provisional, erased, created_at,
                              updated_at)
       SELECT 'Asiakas ' || g, '{}', false, false, now(), now()
       FROM generate_series(1, :n) g""",
    """INSERT INTO identities (kind, key, customer_id, profile, first_seen, last_seen)
       SELECT (CAST(:channels AS text[]))[g % 5 + 1], 'k' || g, g, '{}', now(), now()
       FROM generate_series(1, :n) g""",
    """INSERT INTO cases (customer_id, channel, bound, status, priority, thread_key, public,
                          parallel, opened_at, updated_at, last_message_at, message_count,
                          insights)
       SELECT g, (CAST(:channels AS text[]))[g % 5 + 1], 'inbound',
              CASE WHEN g % 3 = 0 THEN 'open' ELSE 'solved' END, 'normal', 't' || g,
              false, false, now(), now(), now(), 1, '{}'
       FROM generate_series(1, :n) g""",
    """INSERT INTO messages (case_id, channel, native_id, direction, kind, is_company, body,
                             public, sent_at, received_at, attachments, meta)
       SELECT g, (CAST(:channels AS text[]))[g % 5 + 1], 'm' || g, 'in', 'message', false,
              'Hei', false, now(), now(), '[]', '{}'
       FROM generate_series(1, :n) g""",
    # accepted pending, then done but the last 200: the pending index keeps their entries
    """INSERT INTO raw_inbox (channel, source, payload_sha256, payload, headers, received_at,
                              status, attempts)
       SELECT 'chat', 'test', md5(g::text), 'x', '{}', now(), 'pending', 0
       FROM generate_series(1, :n) g""",
    "UPDATE raw_inbox SET status = 'done' WHERE id <= :n - 200",
]


@pytest.fixture(scope="module")
def hub(pg_database: str) -> Iterator[Engine]:
    """A hub's tables at the size where a scan loses, never analysed (the test that wants
    statistics analyses them)."""
    engine = make_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    with engine.begin() as conn:
        for sql in _FILL:
            conn.execute(text(sql), {"n": ROWS, "channels": CHANNELS})
    yield engine
    engine.dispose()


def _pairs(prefix: str, ids: range) -> dict[str, list]:
    chosen = [(CHANNELS[g % 5], f"{prefix}{g}") for g in ids]
    return {"kinds": [k for k, _ in chosen], "keys": [k for _, k in chosen]}


IDS = range(7, ROWS, ROWS // 200)  # 200 keys spread over the table
LOOKUPS = {  # statement, its parameters, the table it must search by an index
    "messages by native id": (batch._MESSAGES_BY_NATIVE_PG, _pairs("m", IDS), "messages"),
    "identities by key": (batch._IDENTITIES_BY_KEY_PG, _pairs("k", IDS), "identities"),
    "case ids by thread": (batch._CASE_IDS_BY_THREAD_PG, _pairs("t", IDS), "cases"),
    "open case ids of customers": (batch._OPEN_CASE_IDS_OF_PG,
                                   {"keys": list(IDS), "open": batch.OPEN}, "cases"),
    "customers by id": (batch._CUSTOMERS_BY_ID_PG, {"keys": list(IDS)}, "customers"),
    "cases locked by id": (batch._LOCK_CASES, {"keys": list(IDS)}, "cases"),
    "still pending inbox rows": (inbox._STILL_PENDING_LOCKED,
                                 {"ids": list(range(ROWS - 199, ROWS + 1))}, "raw_inbox"),
}


def _plan(conn, stmt, params: dict) -> str:  # noqa: ANN001
    """The plan PostgreSQL makes for the statement as the batch sends it (lean's SQL and
    parameters: arrays bound as values, so the planner sees their lengths)."""
    _, sql, args = lean._lean_call(conn, stmt, params)
    return " | ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", args))


@pytest.mark.parametrize("analysed", [False, True], ids=["never analysed", "analysed"])
@pytest.mark.parametrize("name", sorted(LOOKUPS))
def test_each_lookup_searches_an_index_whatever_the_statistics(
        hub: Engine, name: str, analysed: bool) -> None:
    stmt, params, table = LOOKUPS[name]
    with hub.connect() as conn:
        conn.execute(text(f"ANALYZE {table}" if analysed else "SELECT 1"))
        if not analysed:  # as a hub before autovacuum's first round: no statistics
            conn.execute(text("DELETE FROM pg_statistic WHERE starelid = "
                              "CAST(:t AS regclass)"), {"t": table})
            conn.execute(text("UPDATE pg_class SET reltuples = -1, relpages = 0 "
                              "WHERE oid = CAST(:t AS regclass)"), {"t": table})
        plan = _plan(conn, stmt, params)
        conn.rollback()
    assert f"Seq Scan on {table}" not in plan, f"{name} reads all of {table}: {plan}"
    assert "Index" in plan, plan


@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_pair_lookups_find_exactly_the_rows_of_the_pairs_asked(hub: Engine,
                                                               data: st.DataObject) -> None:
    """Not the cross product of kinds and keys: ("x", "m3") does not find ("email", "m3")."""
    wanted = data.draw(st.lists(st.tuples(
        st.sampled_from(CHANNELS), st.integers(1, ROWS + 5)), min_size=1, max_size=30))
    for stmt, prefix, sql in (
            (batch._MESSAGES_BY_NATIVE_PG, "m",
             "SELECT channel, native_id FROM messages WHERE native_id = ANY(:keys)"),
            (batch._IDENTITIES_BY_KEY_PG, "k",
             "SELECT kind, key FROM identities WHERE key = ANY(:keys)")):
        pairs = {(ch, f"{prefix}{g}") for ch, g in wanted}
        with transaction(hub, read_only=True) as conn:
            rows = lean.rows(conn, stmt, {"kinds": [k for k, _ in sorted(pairs)],
                                          "keys": [k for _, k in sorted(pairs)]})[1]
            stored = {tuple(r) for r in conn.execute(text(sql),
                                                     {"keys": [k for _, k in pairs]})}
        found = {(r[0], r[1]) if stmt is batch._MESSAGES_BY_NATIVE_PG else (r[1], r[2])
                 for r in rows}
        assert found == stored & pairs
        assert len(rows) == len(found)  # each once
