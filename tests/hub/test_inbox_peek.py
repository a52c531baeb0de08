"""``inbox.peek``: the next pending rows after an id, in id order, however the done rows
lie around them.

On PostgreSQL peek reads a window of ids first and beyond it only when the window held
too few (so its cost does not grow with the backlog); rows done inside the window, or a
window past the last row, must not change what it returns.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, update

from somebound.store import inbox
from somebound.store.base import utcnow
from somebound.store.engine import make_engine, transaction
from somebound.store.migrate import upgrade
from somebound.store.tables import raw_inbox

ROWS = 120


@pytest.fixture
def engine(any_db_url: str) -> Iterator[Engine]:
    engine = make_engine(any_db_url)
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(raw_inbox), [{
            "channel": "chat", "source": "test", "payload": f"p{i}".encode(),
            "payload_sha256": f"{i:064d}", "headers": {}, "received_at": now,
            "status": "pending", "attempts": 0} for i in range(ROWS)])
    yield engine
    engine.dispose()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_peek_gives_the_first_pending_rows_after_the_id(engine: Engine,
                                                        data: st.DataObject) -> None:
    lo = data.draw(st.integers(1, ROWS), label="done from")  # a run of done rows, as
    hi = data.draw(st.integers(lo, ROWS + 1), label="done to")  # another worker leaves
    done = set(range(lo, hi)) | data.draw(st.sets(st.integers(1, ROWS)), label="done")
    after = data.draw(st.integers(0, ROWS + 3), label="after")
    limit = data.draw(st.integers(1, 30), label="limit")
    with engine.begin() as conn:
        conn.execute(update(raw_inbox).values(status="pending"))
        if done:
            conn.execute(update(raw_inbox).where(raw_inbox.c.id.in_(sorted(done)))
                         .values(status="done"))
    with transaction(engine, read_only=True) as conn:
        peeked = inbox.peek(conn, limit, after)
    expected = [i for i in range(after + 1, ROWS + 1) if i not in done][:limit]
    assert [item.id for item in peeked] == expected
    assert all(item.payload == f"p{item.id - 1}".encode() for item in peeked)
