"""``store.bulk.execute_many`` stores exactly what SQLAlchemy's own executemany stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, bindparam, insert, select, update

from somebound.store.bulk import execute_many
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade
from somebound.store.tables import customers, events

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
_INSERT_EVENT = insert(events)
_INSERT_CUSTOMER = insert(customers)
_RENAME = update(customers).where(customers.c.id == bindparam("_id"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)
event_rows = st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(["message_received", "case_opened", "first_response"]),
    "at": st.integers(0, 10**7).map(lambda s: T0 + timedelta(seconds=s, microseconds=s % 997)),
    "case_id": st.none() | st.integers(1, 10**6),
    "customer_id": st.none(), "message_id": st.none(), "agent_id": st.none(),
    "queue": st.none() | st.text("abcdefg-", max_size=10),
    "channel": st.sampled_from([None, "email", "facebook", "x"]),
    "bound": st.sampled_from([None, "inbound", "outbound", "somebound"]),
    "data": st.dictionaries(st.text(max_size=6), json_values, max_size=4),
}), min_size=1, max_size=20)


@pytest.fixture
def engine(any_db_url: str) -> Engine:
    engine = make_engine(any_db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _stored(engine: Engine, table, ids: list[int]) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id)).all()
    return [tuple(r)[1:] for r in rows]  # all but the id


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=event_rows)
def test_event_rows_round_trip_as_with_sqlalchemy(engine: Engine, rows: list[dict]) -> None:
    with engine.begin() as conn:
        first = conn.execute(select(events.c.id).order_by(events.c.id.desc())).scalar() or 0
        conn.execute(_INSERT_EVENT, rows)
        execute_many(conn, _INSERT_EVENT, rows)
    n = len(rows)
    ours = _stored(engine, events, list(range(first + n + 1, first + 2 * n + 1)))
    theirs = _stored(engine, events, list(range(first + 1, first + n + 1)))
    assert ours == theirs and len(ours) == n


def test_column_defaults_and_updates_as_with_sqlalchemy(engine: Engine) -> None:
    # no "erased"/"attributes" keys: the columns' Python defaults fill them, as SQLAlchemy does
    rows = [{"id": i, "display_name": f"Asiakas {i}", "email": f"a{i}@example.fi",
             "phone": None, "provisional": i % 2 == 0, "created_at": T0, "updated_at": T0}
            for i in (1, 2, 3, 4)]
    with engine.begin() as conn:
        conn.execute(_INSERT_CUSTOMER, rows[:2])
        execute_many(conn, _INSERT_CUSTOMER, rows[2:])
    stored = _stored(engine, customers, [1, 2, 3, 4])
    names = [c.name for c in customers.columns][1:]
    as_dicts = [dict(zip(names, r, strict=True)) for r in stored]
    for theirs, ours in ((as_dicts[0], as_dicts[2]), (as_dicts[1], as_dicts[3])):
        differ = {k for k in names if theirs[k] != ours[k]}
        assert differ == {"display_name", "email"}  # only what the rows gave differently
    changes = [{"_id": 3, "display_name": "Uusi nimi", "updated_at": T0 + timedelta(hours=1)},
               {"_id": 4, "display_name": "Toinen", "updated_at": T0 + timedelta(hours=2)}]
    with engine.begin() as conn:
        execute_many(conn, _RENAME, changes)
    with engine.connect() as conn:
        got = dict(conn.execute(select(customers.c.id, customers.c.updated_at)
                                .where(customers.c.id.in_([3, 4]))).all())
        names_now = dict(conn.execute(select(customers.c.id, customers.c.display_name)
                                      .where(customers.c.id.in_([3, 4]))).all())
    assert got == {3: T0 + timedelta(hours=1), 4: T0 + timedelta(hours=2)}
    assert names_now == {3: "Uusi nimi", 4: "Toinen"}
