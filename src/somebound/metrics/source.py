"""Edge I/O: read the store's ``events`` (and case/customer/agent) tables for metrics.

The KPI code is pure over Arrow/pandas; this module is the only place in
``somebound.metrics`` that talks to a SQL database. It reads exactly the columns of the
EVENTS.md contract through SQLAlchemy Core, so it works on SQLite and PostgreSQL, and
normalises the differences (SQLite's text timestamps and JSON, PostgreSQL's aware
timestamps and decoded JSON) into the Arrow schema :mod:`somebound.metrics.eventlog`
expects.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from somebound.metrics.eventlog import BASE_COLUMNS, events_schema

EVENTS = sa.table(
    "events",
    sa.column("id", sa.BigInteger()),
    sa.column("type", sa.String()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("case_id", sa.BigInteger()),
    sa.column("customer_id", sa.BigInteger()),
    sa.column("message_id", sa.BigInteger()),
    sa.column("agent_id", sa.BigInteger()),
    sa.column("queue", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("bound", sa.String()),
    sa.column("data", sa.JSON()),
)


def db_time(engine: sa.Engine, t: datetime) -> datetime:
    """A UTC datetime as the store keeps it (naive on SQLite, aware elsewhere)."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.replace(tzinfo=None) if engine.dialect.name == "sqlite" else t


def read_events(
    engine: sa.Engine, start: datetime | None = None, end: datetime | None = None
) -> pa.Table:
    """Events with ``start <= at < end`` (either bound optional) as an Arrow table."""
    q = sa.select(*(EVENTS.c[c] for c in (*BASE_COLUMNS, "data")))
    if start is not None:
        q = q.where(EVENTS.c.at >= db_time(engine, start))
    if end is not None:
        q = q.where(EVENTS.c.at < db_time(engine, end))
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(EVENTS.c.at, EVENTS.c.id)).all()
    df = pd.DataFrame(rows, columns=[*BASE_COLUMNS, "data"])
    return events_frame_to_arrow(df)


def events_frame_to_arrow(df: pd.DataFrame) -> pa.Table:
    """Normalise a DataFrame read from any backend into the events Arrow schema."""
    at = pd.to_datetime(df["at"], utc=True, format="mixed") if len(df) else df["at"]
    out = {}
    for f in events_schema():
        if f.name == "at":
            out["at"] = pa.array(
                pd.Series(at).dt.tz_convert("UTC").dt.tz_localize(None) if len(df) else [],
                type=f.type,
            )
        elif f.name == "data":
            out["data"] = pa.array(
                [v if isinstance(v, str) or v is None else json.dumps(v) for v in df["data"]],
                type=pa.string(),
            )
        else:
            col = df[f.name].astype(object).where(df[f.name].notna(), None)
            out[f.name] = pa.array(col.tolist(), type=f.type)
    return pa.table(out, schema=events_schema())


def read_optional_table(engine: sa.Engine, name: str, columns: tuple[str, ...]) -> pd.DataFrame | None:
    """``SELECT columns FROM name`` or None when the table (or a column) is absent."""
    insp = sa.inspect(engine)
    if not insp.has_table(name):
        return None
    have = {c["name"] for c in insp.get_columns(name)}
    if not set(columns) <= have:
        return None
    t = sa.table(name, *(sa.column(c) for c in columns))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*t.c)).all()
    return pd.DataFrame(rows, columns=list(columns))
