"""The worker's statements on the driver's cursor (store/lean.py) do what SQLAlchemy's
``conn.execute`` does, on SQLite and PostgreSQL.

Every read a batch and the inbox make is run both ways on a hub holding real cases (the
pipeline made them from native payloads), with ``IN`` lists of every length the batch
may give; the writes (``UPDATE … IN``, ``INSERT … RETURNING``) leave the same rows; the
engine's cursor listeners see the statements; a driver error arrives as SQLAlchemy's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, exc, func, insert, select

from somebound.api.settings import Settings
from somebound.channels import samples
from somebound.channels.registry import build_parsers
from somebound.pipeline import batch
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.store import inbox, lean
from somebound.store.bulk import execute_many
from somebound.store.engine import make_engine, transaction
from somebound.store.migrate import upgrade
from somebound.store.tables import cases, customers, identities, messages, queues, raw_inbox

PAGE = "1000"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def engine(any_db_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(any_db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(queues), [
            {"name": q, "open_count": 0} for q in ("general", "social", "phone")])
    for i in range(30):
        user = i % 12
        if i % 3 == 0:
            body = samples.facebook_webhook(PAGE, changes=[samples.facebook_comment(
                PAGE, f"{PAGE}_{i % 4}", f"{PAGE}_{i % 4}_c{i}", f"fb{user}", f"User {user}",
                "Missä tilaukseni on?", at=T0 + timedelta(minutes=i))])
        elif i % 3 == 1:
            body = samples.facebook_webhook(PAGE, messaging=[samples.messenger_message(
                PAGE, f"psid{user}", f"mid.{i}", "Laskussa on virhe",
                at=T0 + timedelta(minutes=i))])
        else:
            body = samples.x_webhook("2000", tweets=[samples.x_tweet(
                str(10**12 + i), str(5000 + user), f"user{user}", "U", "@somebound_oy apua",
                mentions=[("2000", "somebound_oy")], at=T0 + timedelta(minutes=i))])
        inbox.accept(engine, "x" if i % 3 == 2 else "facebook", "test",
                     json.dumps(body).encode())
    pipe = Pipeline(engine, build_parsers(Settings(blob_dir=str(tmp_path / "b"))), Stages())
    while pipe.process_pending(7):
        pass
    for i in range(3):  # left pending
        inbox.accept(engine, "chat", "test", f"pending {i}".encode())
    yield engine
    engine.dispose()


def _both(conn, stmt, params: dict) -> tuple[list, list]:  # noqa: ANN001
    """(lean rows, SQLAlchemy rows), each as tuples in the statement's order."""
    keys, ours = lean.rows(conn, stmt, params)
    result = conn.execute(stmt, params)
    assert keys == tuple(result.keys())
    return [tuple(r) for r in ours], [tuple(r) for r in result]


def _values(engine: Engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            "natives": [r[0] for r in conn.execute(select(messages.c.native_id))],
            "identity keys": [r[0] for r in conn.execute(select(identities.c.key))],
            "threads": [r[0] for r in conn.execute(select(cases.c.thread_key))],
            "case ids": [r[0] for r in conn.execute(select(cases.c.id))],
            "customer ids": [r[0] for r in conn.execute(select(customers.c.id))],
            "inbox ids": [r[0] for r in conn.execute(select(raw_inbox.c.id).order_by(
                raw_inbox.c.id.desc()))],  # the pending ones first
        }


READS = {  # statement, the values its IN list is drawn from, the other parameters
    "messages by native id": (batch._MESSAGES_BY_NATIVE, "natives",
                              {"kinds": ["facebook", "x"]}),
    "identities by key": (batch._IDENTITIES_BY_KEY, "identity keys",
                          {"kinds": ["facebook", "x"]}),
    "customers by id": (batch._CUSTOMERS_BY_ID, "customer ids", {}),
    "cases by id": (batch._CASES_BY_ID, "case ids", {}),
    "cases by thread": (batch._CASES_BY_THREAD, "threads", {"kinds": ["facebook", "x"]}),
    "open cases of customers": (batch._OPEN_CASES_OF, "customer ids",
                                {"open": batch.OPEN}),
    "still pending inbox rows": (inbox._STILL_PENDING, "inbox ids", {}),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_each_batch_read_gives_what_sqlalchemy_gives(engine: Engine, name: str) -> None:
    stmt, source, fixed = READS[name]
    values = _values(engine)[source]
    assert values, f"the hub holds no {source}: the comparison would prove nothing"
    with transaction(engine, read_only=True) as conn:
        for n in (1, 2, 3, len(values)):
            ours, theirs = _both(conn, stmt, {"keys": values[:n], "ids": values[:n], **fixed})
            assert ours == theirs and len(ours) >= 1
        ours, theirs = _both(conn, stmt, {"keys": ["nobody"] if source not in (
            "case ids", "customer ids", "inbox ids") else [10**9], "ids": [10**9], **fixed})
        assert ours == theirs == []


def test_case_rows_keep_their_types(engine: Engine) -> None:
    """Datetimes come back UTC-aware, JSON as dicts, booleans as bools: as with SQLAlchemy."""
    ids = _values(engine)["case ids"]
    with transaction(engine, read_only=True) as conn:
        ours = lean.dicts(conn, batch._CASES_BY_ID, {"keys": ids})
    assert ours and all(r["opened_at"].tzinfo is UTC for r in ours)
    assert all(isinstance(r["insights"], dict) and isinstance(r["public"], bool) for r in ours)
    assert {type(r["id"]) for r in ours} == {int}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_in_lists_of_any_length_and_order(engine: Engine, data: st.DataObject) -> None:
    natives = _values(engine)["natives"]
    # what the channels' readers can give a lookup: no NUL, no lone surrogate (nul.py)
    text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                   max_size=8)
    keys = data.draw(st.lists(st.sampled_from(natives) | text, min_size=1, max_size=40))
    kinds = data.draw(st.lists(st.sampled_from(["facebook", "x", "email"]), min_size=1,
                               max_size=3, unique=True))
    with transaction(engine, read_only=True) as conn:
        ours, theirs = _both(conn, batch._MESSAGES_BY_NATIVE, {"keys": keys, "kinds": kinds})
    assert sorted(ours) == sorted(theirs)


def test_an_empty_in_list_reads_nothing(engine: Engine) -> None:
    with transaction(engine, read_only=True) as conn:
        assert lean.rows(conn, batch._CASES_BY_ID, {"keys": []})[1] == []


def test_inbox_writes_as_with_sqlalchemy(engine: Engine) -> None:
    """``mark_done`` (an UPDATE with an IN list) and the accept's ``INSERT … RETURNING``."""
    with engine.begin() as conn:
        got = inbox.accept_many(conn, [inbox.Accept("chat", "t", b"a"),
                                       inbox.Accept("chat", "t", b"b"),
                                       inbox.Accept("chat", "t", b"a")])
    (a, new_a), (b, new_b), (a2, new_a2) = got
    assert new_a and new_b and not new_a2 and a2 == a and a != b
    with engine.begin() as conn:
        assert inbox.accept_many(conn, [inbox.Accept("chat", "t", b"b")]) == [(b, False)]
        stored = conn.execute(select(raw_inbox).where(raw_inbox.c.id.in_([a, b]))
                              .order_by(raw_inbox.c.id)).all()
    assert [bytes(r.payload) for r in stored] == [b"a", b"b"]
    assert all(r.status == "pending" and r.received_at.tzinfo is UTC for r in stored)
    with engine.begin() as conn:
        inbox.mark_done(conn, [a, b], "w1")
        done = conn.execute(select(raw_inbox.c.status, raw_inbox.c.claimed_by,
                                   raw_inbox.c.processed_at)
                            .where(raw_inbox.c.id.in_([a, b]))).all()
    assert [(s, by) for s, by, _ in done] == [("done", "w1")] * 2
    assert all(at.tzinfo is UTC for _, _, at in done)


def test_listeners_see_the_statements_and_errors_are_sqlalchemys(engine: Engine) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with transaction(engine, read_only=True) as conn:
        lean.rows(conn, batch._CASES_BY_ID, {"keys": [1, 2]})
    assert any("FROM cases" in s for s in seen)
    with engine.connect() as conn:
        row = {k: v for k, v in conn.execute(select(messages)).mappings().first().items()}
    with pytest.raises(exc.IntegrityError), transaction(engine) as conn:
        execute_many(conn, insert(messages), [row])  # the same id again


def test_a_read_outside_a_transaction_begins_one(engine: Engine) -> None:
    """As SQLAlchemy's autobegin: the engine's begin listener (SQLite's writer turn) runs."""
    begun: list[bool] = []
    event.listen(engine, "begin", lambda conn: begun.append(True))
    with engine.connect() as conn:
        lean.rows(conn, batch._CASES_BY_ID, {"keys": [1]})
        assert conn.in_transaction() and begun


def test_pipelined_writes_land_together(engine: Engine) -> None:
    """On PostgreSQL the batch's writes go in one round trip (psycopg's pipeline mode)."""
    with engine.connect() as conn:
        row = dict(conn.execute(select(messages)).mappings().first())
        top = conn.execute(select(messages.c.id).order_by(messages.c.id.desc())).scalar()
    rows = [{**row, "id": top + i, "native_id": f"piped{i}"} for i in (1, 2, 3)]
    with transaction(engine) as conn, lean.pipeline(conn):
        execute_many(conn, insert(messages), rows)
        assert lean.run(conn, inbox._DONE, {"ids": [1], "at": T0, "by": "piped"}) in (1, -1)
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.native_id).where(
            messages.c.id > top).order_by(messages.c.id)).scalars().all() == [
            "piped1", "piped2", "piped3"]
        assert conn.execute(select(raw_inbox.c.claimed_by).where(raw_inbox.c.id == 1)
                            ).scalar() == "piped"


def test_a_failed_pipelined_write_is_sqlalchemys_error_and_the_connection_goes_on(
        engine: Engine) -> None:
    with engine.connect() as conn:
        row = dict(conn.execute(select(messages)).mappings().first())
        before = conn.execute(select(func.count()).select_from(messages)).scalar()
    with pytest.raises(exc.IntegrityError), transaction(engine) as conn, lean.pipeline(conn):
        execute_many(conn, insert(messages), [{**row, "native_id": "new"}])  # its id is taken
        lean.run(conn, inbox._DONE, {"ids": [1], "at": T0, "by": "never"})
    with engine.connect() as conn:  # nothing of the block stayed, and the pool's connection works
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == before
        assert conn.execute(select(raw_inbox.c.claimed_by).where(raw_inbox.c.id == 1)
                            ).scalar() != "never"


def test_reads_sent_together_give_what_each_gives_alone(engine: Engine) -> None:
    """``rows_together`` (PostgreSQL: one round trip) returns each statement's own rows, in
    order, typed as ``rows`` types them; a statement without rows gives ``[]``."""
    values = _values(engine)
    calls = [(stmt, {"keys": values[source][:3], "ids": values[source][:3], **fixed})
             for stmt, source, fixed in READS.values()]
    calls.insert(2, (inbox._DONE, {"ids": [10**9], "at": T0, "by": "nobody"}))  # no rows
    seen: list[str] = []
    with transaction(engine) as conn:
        event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        together = lean.rows_together(conn, calls)
        assert len(seen) == len(calls)  # the listeners saw every statement
        alone = [lean.rows(conn, stmt, params)[1] for stmt, params in calls]
    assert together == alone
    assert together[2] == [] and all(together[:2]) and all(together[3:])


def test_statements_together_run_in_order_on_one_transaction(engine: Engine) -> None:
    """A later statement sees an earlier one's write (the server runs them in order), and
    a read outside a transaction begins one, as ``rows`` does."""
    begun: list[bool] = []
    event.listen(engine, "begin", lambda conn: begun.append(True))
    pending = _values(engine)["inbox ids"][0]
    with engine.connect() as conn:
        marked, still = lean.rows_together(conn, [
            (inbox._DONE, {"ids": [pending], "at": T0, "by": "together"}),
            (inbox._STILL_PENDING, {"ids": [pending]})])
        assert conn.in_transaction() and begun
        assert marked == [] and still == []  # marked done by the first statement
        conn.rollback()
    with engine.connect() as conn:
        assert conn.execute(select(raw_inbox.c.status).where(raw_inbox.c.id == pending)
                            ).scalar() == "pending"


def test_a_failed_statement_together_is_sqlalchemys_error_and_the_connection_goes_on(
        engine: Engine) -> None:
    with engine.connect() as conn:
        row = {k: v for k, v in conn.execute(select(customers)).mappings().first().items()}
    with pytest.raises(exc.IntegrityError), transaction(engine) as conn:
        lean.rows_together(conn, [(batch._CUSTOMERS_BY_ID, {"keys": [row["id"]]}),
                                  (insert(customers).returning(customers.c.id), row)])
    with transaction(engine, read_only=True) as conn:
        assert lean.rows(conn, batch._CUSTOMERS_BY_ID, {"keys": [row["id"]]})[1]
