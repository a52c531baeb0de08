"""Warehouse export: the event log and case facts as a Parquet star schema.

```
              dim_date     dim_channel
                  \\         /
 dim_customer -- fact_contact -- dim_agent          (one row per case)
                  /         \\
              fact_event  (one row per event, typed columns + the raw JSON)
```

Files are plain Parquet (zstd, microsecond timestamps without time zone = UTC, 64-bit
keys), so DuckDB (``read_parquet('out/fact_event.parquet')``), Spark
(``spark.read.parquet``), pandas and Polars read them without a schema registry.
``fact_event`` carries the typed columns KPIs need, so :class:`~somebound.metrics.kpis.Metrics`
over the exported file skips JSON parsing entirely; ``fact_contact`` carries every
per-contact measure (wall and business times, SLA outcome, cost, reach) as computed under
the policy in force at export time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from somebound.core.enums import Bound, Channel
from somebound.metrics.calendar import business_seconds
from somebound.metrics.config import MetricsConfig, default_config
from somebound.metrics.eventlog import EventsLike, connect, prepare_events
from somebound.metrics.facts import cost_fingerprint
from somebound.metrics.kpis import FOLD_META, Metrics

TABLES = ("fact_contact", "fact_event", "dim_customer", "dim_agent", "dim_channel", "dim_date")
CHANNEL_KIND = {"phone": "voice", "chat": "live", "email": "written", "sms": "written",
                "facebook": "social", "x": "social", "feed": "social"}  # fmt: skip

CASE_COLUMNS = ("id", "customer_id", "channel", "bound", "status", "priority", "queue",
                "assignee_id", "opened_at", "first_response_at", "solved_at", "language",
                "parallel")  # fmt: skip
CUSTOMER_COLUMNS = ("id", "display_name", "language", "provisional", "created_at")
AGENT_COLUMNS = ("id", "username", "display_name", "team")


class ExportError(ValueError):
    """An input table for the export lacks a column the star schema needs."""


def dim_channel() -> pd.DataFrame:
    """Every channel x bound, with a stable integer key."""
    rows = [
        (i * 10 + j + 1, c.value, b.value, CHANNEL_KIND[c.value], b is Bound.SOMEBOUND)
        for i, c in enumerate(Channel)
        for j, b in enumerate(Bound)
    ]
    return pd.DataFrame(rows, columns=["channel_key", "channel", "bound", "channel_kind",
                                       "public"])  # fmt: skip


def dim_date(first: date, last: date, config: MetricsConfig) -> pd.DataFrame:
    """One row per day with calendar attributes and the default calendar's open seconds."""
    days = pd.date_range(first, last, freq="D")
    cal = config.calendars[config.default_calendar]
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(cal.timezone)
    starts = [datetime.combine(d.date(), datetime.min.time(), tzinfo=tz) for d in days]
    ends = [s + timedelta(days=1) for s in starts]
    open_s = business_seconds(
        cal,
        np.array([s.astimezone(UTC).replace(tzinfo=None) for s in starts], "datetime64[us]"),
        np.array([e.astimezone(UTC).replace(tzinfo=None) for e in ends], "datetime64[us]"),
    )
    iso = days.isocalendar()
    return pd.DataFrame({
        "date_key": (days.year * 10000 + days.month * 100 + days.day).astype("int32"),
        "date": days.date, "year": days.year.astype("int16"),
        "quarter": days.quarter.astype("int8"), "month": days.month.astype("int8"),
        "month_name": days.month_name(), "iso_year": iso["year"].to_numpy().astype("int16"),
        "iso_week": iso["week"].to_numpy().astype("int8"),
        "weekday": days.weekday.astype("int8"), "weekday_name": days.day_name(),
        "is_weekend": days.weekday >= 5,
        "is_holiday": [d.date() in cal.holidays for d in days],
        "open_seconds": open_s,
    })  # fmt: skip


def _need(df: pd.DataFrame | None, cols: tuple[str, ...], name: str) -> pd.DataFrame | None:
    if df is None:
        return None
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ExportError(f"{name} table lacks column(s) {', '.join(missing)}")
    return df


def build_star_schema(
    events: EventsLike,
    *,
    cases: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    agents: pd.DataFrame | None = None,
    config: MetricsConfig | None = None,
) -> dict[str, pa.Table]:
    """The six star-schema tables as Arrow tables (see :func:`export_star_schema`)."""
    config = config or default_config()
    cases = _need(cases, CASE_COLUMNS, "cases")
    customers = _need(customers, CUSTOMER_COLUMNS, "customers")
    agents = _need(agents, AGENT_COLUMNS, "agents")

    con = connect()
    prepare_events(con, events, keep_data=True)
    chan = dim_channel()
    con.register("dim_channel", chan)
    lo, hi = con.execute('SELECT min("at"), max("at") FROM ev').fetchall()[0]
    if lo is None:
        raise ExportError("the event log is empty: nothing to export")
    fact_event = con.sql(
        """SELECT ev.*, c.channel_key,
                  CAST(strftime("at", '%Y%m%d') AS INTEGER) AS date_key,
                  customer_id AS customer_key, agent_id AS agent_key
           FROM ev LEFT JOIN dim_channel c USING (channel, bound)
           ORDER BY type, case_id NULLS LAST, "at", id"""
    ).to_arrow_table()
    # Sorted by type, then case, then time: every fact family of the fold and the agent
    # activity read only the row groups of their event types (Parquet min/max of
    # ``type``: the contacts-per-agent scan reads 3 of 10 row groups at 10M events, the
    # fold ~30% less CPU than with the case-major order); within a type a contact's
    # events are neighbours (the per-case hash aggregates get locality), and since case
    # ids grow with time the row groups' min/max of "at" stay narrow for short periods.

    metrics = Metrics(fact_event.drop_columns(["channel_key", "date_key", "customer_key",
                                               "agent_key"]),
                      config=config, agents=agents)  # fmt: skip
    facts = metrics.facts(lo, hi + timedelta(seconds=1))
    # Where each contact's events lie: a query may reuse this row only if the fold over
    # its own period would have seen exactly the same events (see Metrics.facts).
    spans = con.sql(
        """SELECT case_id, min("at") AS first_event_at, max("at") AS last_event_at,
                  max("at") FILTER (WHERE type = 'case_opened') AS last_opened_at
           FROM ev WHERE case_id IS NOT NULL GROUP BY case_id"""
    ).df()
    facts = facts.merge(spans, on="case_id", how="left")
    keep = [c for c in facts.columns if c not in ("agent", "hour", "day", "week", "month",
                                                  "hour_of_day", "weekday")]  # fmt: skip
    facts = facts[keep].rename(columns={"agent_id": "agent_key", "customer_id": "customer_key"})
    facts = facts.merge(chan[["channel_key", "channel", "bound"]], on=["channel", "bound"],
                        how="left")  # fmt: skip
    facts["opened_date_key"] = facts["opened_at"].dt.strftime("%Y%m%d").astype("int32")
    facts = facts.drop(columns=["channel", "bound"])  # via channel_key -> dim_channel
    if cases is not None:
        extra = cases[["id", "status", "assignee_id"]].rename(
            columns={"id": "case_id", "status": "current_status"}
        )
        facts = facts.merge(extra, on="case_id", how="left")

    tables = {
        "fact_event": fact_event,
        "fact_contact": _with_meta(
            _arrow(facts), {FOLD_META: cost_fingerprint(config.cost, metrics.agents)}
        ),
        "dim_channel": _arrow(chan),
        "dim_date": _arrow(dim_date(lo.date(), hi.date(), config)),
    }
    if customers is not None:
        dc = customers[list(CUSTOMER_COLUMNS)].rename(columns={"id": "customer_key"})
    else:
        ids = pd.unique(fact_event.column("customer_key").drop_null().to_numpy())
        dc = pd.DataFrame({"customer_key": ids, "display_name": None, "language": None,
                           "provisional": None, "created_at": pd.NaT})  # fmt: skip
    tables["dim_customer"] = _arrow(dc)
    if agents is not None:
        da = agents[list(AGENT_COLUMNS)].rename(columns={"id": "agent_key"})
    else:
        ids = pd.unique(fact_event.column("agent_key").drop_null().to_numpy())
        da = pd.DataFrame({"agent_key": ids, "username": None, "display_name": None,
                           "team": None})  # fmt: skip
    cost = config.cost
    da["hourly_cost"] = [
        cost.agent_hourly.get(int(k), cost.team_hourly.get(t or "", cost.default_hourly))
        for k, t in zip(da["agent_key"], da["team"], strict=True)
    ]
    tables["dim_agent"] = _arrow(da)
    return tables


def export_star_schema(
    out_dir: str | Path,
    events: EventsLike,
    *,
    cases: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    agents: pd.DataFrame | None = None,
    config: MetricsConfig | None = None,
) -> dict[str, Path]:
    """Write ``fact_contact``, ``fact_event`` and the four dimensions as Parquet files.

    Returns ``{table: path}``. Re-running overwrites the files (the export is a
    snapshot computed from the log, never an incremental counter).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = build_star_schema(
        events, cases=cases, customers=customers, agents=agents, config=config
    )
    paths = {}
    for name in TABLES:
        path = out / f"{name}.parquet"
        pq.write_table(
            tables[name], path, compression="zstd", row_group_size=1_000_000,
            coerce_timestamps="us", allow_truncated_timestamps=True,
        )  # fmt: skip
        paths[name] = path
    return paths


def _with_meta(table: pa.Table, meta: dict[str, str]) -> pa.Table:
    return table.replace_schema_metadata(
        {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in meta.items()}}
    )


def _arrow(df: pd.DataFrame) -> pa.Table:
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            s = df[c]
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            df[c] = s.astype("datetime64[us]")
        elif df[c].dtype == object and df[c].map(type).eq(bool).any():
            df[c] = df[c].astype("boolean")
    return pa.Table.from_pandas(df, preserve_index=False)
