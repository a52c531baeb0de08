"""The event log as a typed DuckDB relation.

The store keeps each event's type-specific facts in a JSON ``data`` column (EVENTS.md).
KPIs need a handful of them as typed columns (handling seconds, SLA target, call wait,
survey score, engagement counts...). :func:`prepare_events` turns any event source into
one DuckDB view, ``ev``, with those columns extracted once — and when the source already
has them (the warehouse's ``fact_event`` Parquet) they are used as they are, which is why
KPIs over the exported Parquet are fastest.

Accepted sources: a pyarrow Table, a pandas DataFrame, or a Parquet path / glob.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

EventsLike = pa.Table | pd.DataFrame | str | Path

BASE_COLUMNS = (
    "id", "type", "at", "case_id", "customer_id", "message_id", "agent_id",
    "queue", "channel", "bound",
)  # fmt: skip

# Typed column -> (DuckDB type, JSON key, the event types that carry it).
FLAT_COLUMNS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "public": ("BOOLEAN", "public", ("case_opened", "message_received", "message_sent")),
    "language": ("VARCHAR", "language", ("case_opened", "message_received")),
    "author": ("VARCHAR", "author", ("message_received",)),
    "followers": ("BIGINT", "followers", ("message_received",)),
    "priority": ("VARCHAR", "priority", ("case_opened", "case_routed")),
    "sla_seconds": ("DOUBLE", "sla_first_response_seconds", ("case_routed",)),
    "handling_seconds": ("DOUBLE", "handling_seconds", ("message_sent",)),
    "frt_seconds": ("DOUBLE", "seconds", ("first_response",)),
    "assigned_agent_id": ("BIGINT", "agent_id", ("case_assigned",)),
    "status_from": ("VARCHAR", "from", ("case_status_changed", "case_reopened")),
    "status_to": ("VARCHAR", "to", ("case_status_changed",)),
    "wait_seconds": ("DOUBLE", "wait_seconds", ("call_answered", "call_abandoned", "call_ended")),
    "talk_seconds": ("DOUBLE", "talk_seconds", ("call_ended",)),
    "wrap_seconds": ("DOUBLE", "wrap_seconds", ("call_ended",)),
    "other_case_id": ("BIGINT", "other_case_id", ("parallel_contact",)),
    "target_message_id": ("BIGINT", "message_id", ("engagement_recorded",)),
    "likes": ("BIGINT", "likes", ("engagement_recorded",)),
    "replies": ("BIGINT", "replies", ("engagement_recorded",)),
    "views": ("BIGINT", "views", ("engagement_recorded",)),
    "shares": ("BIGINT", "shares", ("engagement_recorded",)),
    "kind": ("VARCHAR", "kind", ("survey_sent", "survey_answered")),
    "score": ("INTEGER", "score", ("survey_answered",)),
}


class EventLogError(ValueError):
    """The events given to metrics do not follow the EVENTS.md contract."""


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def prepare_events(
    con: duckdb.DuckDBPyConnection, events: EventsLike, name: str = "ev", *, keep_data: bool = False
) -> str:
    """Create the typed view ``name`` over ``events`` on ``con``; returns its name."""
    raw = f"{name}_raw"
    if isinstance(events, str | Path):
        path = str(events)
        if not any(ch in path for ch in "*?") and not Path(path).exists():
            raise EventLogError(f"no Parquet file at {path!r}; export one with `somebound export`")
        quoted = path.replace("'", "''")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {raw} AS SELECT * FROM read_parquet('{quoted}')")
    else:
        table = events if isinstance(events, pa.Table) else pa.Table.from_pandas(events)
        con.register(raw, table)
    columns = {r[0]: r[1] for r in con.execute(f"DESCRIBE {raw}").fetchall()}
    missing = [c for c in BASE_COLUMNS if c not in columns]
    if missing:
        raise EventLogError(
            f"events lack column(s) {', '.join(missing)}; EVENTS.md needs "
            f"{', '.join(BASE_COLUMNS)} and data (JSON) or the typed fact_event columns"
        )
    sql = _select_sql(raw, columns, keep_data=keep_data)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
    return name


def _select_sql(raw: str, columns: dict[str, str], *, keep_data: bool = False) -> str:
    at_type = columns["at"].upper()
    if "WITH TIME ZONE" in at_type:  # aware timestamps -> naive UTC, like the store
        at = 'CAST(timezone(\'UTC\', "at") AS TIMESTAMP) AS "at"'
    elif at_type.startswith("TIMESTAMP"):
        at = 'CAST("at" AS TIMESTAMP) AS "at"'
    else:  # SQLite hands back text
        at = 'CAST("at" AS TIMESTAMP) AS "at"'
    parts = [
        "CAST(id AS BIGINT) AS id", "CAST(type AS VARCHAR) AS type", at,
        "CAST(case_id AS BIGINT) AS case_id", "CAST(customer_id AS BIGINT) AS customer_id",
        "CAST(message_id AS BIGINT) AS message_id", "CAST(agent_id AS BIGINT) AS agent_id",
        "CAST(queue AS VARCHAR) AS queue", "CAST(channel AS VARCHAR) AS channel",
        "CAST(bound AS VARCHAR) AS bound",
    ]  # fmt: skip
    has_data = "data" in columns
    need_json = [c for c in FLAT_COLUMNS if c not in columns] if has_data else []
    # One JSON parse per row (``from_json`` into a struct of every key we need), then
    # each typed column picks its field for the event types that define it.
    struct = ", ".join(f'"{FLAT_COLUMNS[c][1]}": "{FLAT_COLUMNS[c][0]}"' for c in need_json)
    src = f"(SELECT *, from_json(data, '{{{struct}}}') AS _j FROM {raw})" if need_json else raw
    for col, (typ, key, types) in FLAT_COLUMNS.items():
        if col in columns:
            parts.append(f"CAST({col} AS {typ}) AS {col}")
        elif col in need_json:
            in_types = ", ".join(f"'{t}'" for t in types)
            parts.append(f'CASE WHEN type IN ({in_types}) THEN _j."{key}" END AS {col}')
        else:
            parts.append(f"CAST(NULL AS {typ}) AS {col}")
    if keep_data:
        parts.append("CAST(data AS VARCHAR) AS data" if has_data else "CAST(NULL AS VARCHAR) AS data")
    return f"SELECT {', '.join(parts)} FROM {src}"


def flatten_events(events: EventsLike) -> pa.Table:
    """Events with the typed columns materialised (the warehouse ``fact_event`` body)."""
    con = connect()
    prepare_events(con, events, keep_data=True)
    return con.sql("SELECT * FROM ev").to_arrow_table()


def events_from_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """Arrow events from dicts shaped like EVENTS.md rows (``data`` as dict or JSON text).

    Handy for tests and for the lead's adapters that read the ``events`` table.
    """
    import json

    cols: dict[str, list[Any]] = {c: [] for c in (*BASE_COLUMNS, "data")}
    for i, r in enumerate(rows):
        for c in BASE_COLUMNS:
            cols[c].append(r.get(c, i + 1 if c == "id" else None))
        d = r.get("data") or {}
        cols["data"].append(d if isinstance(d, str) else json.dumps(d))
    at = pd.to_datetime(pd.Series(cols["at"]), utc=True).dt.tz_localize(None)
    schema = events_schema()
    arrays = []
    for f in schema:
        values = at if f.name == "at" else cols[f.name]
        arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def events_schema() -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.int64()), ("type", pa.string()), ("at", pa.timestamp("us")),
            ("case_id", pa.int64()), ("customer_id", pa.int64()),
            ("message_id", pa.int64()), ("agent_id", pa.int64()), ("queue", pa.string()),
            ("channel", pa.string()), ("bound", pa.string()), ("data", pa.string()),
        ]
    )  # fmt: skip
