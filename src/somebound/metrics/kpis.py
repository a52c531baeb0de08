"""KPIs for a period grouped by any dimensions, computed from the event log on demand.

Nothing is pre-computed: :class:`Metrics` folds the events into contact facts with one
DuckDB query (:mod:`somebound.metrics.facts`; or reads the warehouse's ``fact_contact``
when that is provably the same rows), adds the policy-dependent columns (business time,
SLA attainment, cost, reach) in SQL (:mod:`somebound.metrics.enrich_sql`) and aggregates
in the same DuckDB query, so no per-contact frame is built in Python. Change a calendar,
an SLA target or an hourly cost and the same call re-scores history under the new policy.

Dimensions (``group_by``): channel, bound, queue, team, agent, priority, language,
hour, day, week, month (local buckets of the opening time in the report time zone),
hour_of_day, weekday.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from somebound.metrics.clock_sql import local_sql
from somebound.metrics.config import MetricsConfig, default_config
from somebound.metrics.enrich_sql import PolicySql, agents_relation, enriched_sql, policy_sql
from somebound.metrics.eventlog import EventsLike, connect, prepare_events
from somebound.metrics.facts import FOLD_COLUMNS, cost_fingerprint, fold_into_table

DIMENSIONS = (
    "channel", "bound", "queue", "team", "agent", "priority", "language",
    "hour", "day", "week", "month", "hour_of_day", "weekday",
)  # fmt: skip
TIME_DIMENSIONS = ("hour", "day", "week", "month", "hour_of_day", "weekday")
# Dimensions the per-agent activity (contacts per agent per day/week) can be cut by.
ACTIVITY_DIMENSIONS = ("channel", "bound", "queue", "team", "agent", *TIME_DIMENSIONS)

# Fact columns the KPI SQL reads (the rest stay out of the DuckDB scan).
KPI_INPUTS = (
    "handled", "answered", "responded", "frt_seconds", "frt_business_seconds",
    "sla_counted", "sla_met", "abandoned", "handling_seconds", "solved",
    "resolution_seconds", "resolution_business_seconds", "reopened", "parallel",
    "agent_cost", "channel_cost", "cost", "reach",
)  # fmt: skip
FRT_EDGES = (0, 60, 300, 900, 3600, 4 * 3600, 8 * 3600, 24 * 3600, float("inf"))
FRT_LABELS = ("<1m", "1-5m", "5-15m", "15m-1h", "1-4h", "4-8h", "8-24h", ">24h")
NONE = "(none)"
# Parquet metadata key of the export's fact_contact: the agent pricing it was folded under.
FOLD_META = "somebound.fold_cost"


class MetricsQueryError(ValueError):
    """A KPI query asked for something that does not exist (dimension, clock, period)."""


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if _utc(self.end) <= _utc(self.start):
            raise MetricsQueryError(
                f"period end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )


def parse_group_by(group_by: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"channel,bound"`` or ``["channel", "bound"]`` -> validated tuple."""
    if group_by is None:
        return ()
    items = group_by.split(",") if isinstance(group_by, str) else list(group_by)
    dims = tuple(d.strip() for d in items if d and d.strip())
    bad = [d for d in dims if d not in DIMENSIONS]
    if bad:
        raise MetricsQueryError(
            f"unknown dimension {bad[0]!r}; choose from {', '.join(DIMENSIONS)}"
        )
    if len(set(dims)) != len(dims):
        raise MetricsQueryError(f"dimension listed twice in {', '.join(dims)}")
    return dims


class Metrics:
    """KPI queries over one event log under one metrics policy.

    ``events``: Arrow table / DataFrame shaped like EVENTS.md, or a Parquet path (the raw
    log or the exported ``fact_event``). ``agents``: DataFrame with ``id`` and ``team``
    (or a mapping agent id -> team) for team dimensions and team hourly costs. ``tz``:
    time zone of the hour/day/week buckets (default: the default calendar's). ``as_of``:
    the moment the data describes (pass "now" for live pages; default: each period's end),
    so the computation never reads the clock itself.
    """

    def __init__(
        self,
        events: EventsLike,
        *,
        config: MetricsConfig | None = None,
        agents: pd.DataFrame | Mapping[int, str] | None = None,
        tz: str | None = None,
        as_of: datetime | None = None,
    ) -> None:
        self.config = config or default_config()
        self.as_of = as_of
        self.agents = _agents_frame(agents)
        self.tz = tz or self.config.calendars[self.config.default_calendar].timezone
        self.con: duckdb.DuckDBPyConnection = connect()
        self.con.register("agent_teams", agents_relation(self.agents))
        self._contacts: tuple[str, str] | None = None
        # Which path produced the last facts: "fold" (from the events) or "fact_contact"
        # (the warehouse's per-contact rows, when provably identical; see _fold()).
        self.facts_source = ""
        if isinstance(events, str | Path) and Path(events).is_dir():
            # A warehouse export directory: events from fact_event, and fact_contact
            # reused for periods where it equals the fold.
            wh = Path(events)
            prepare_events(self.con, wh / "fact_event.parquet")
            fc, dc = wh / "fact_contact.parquet", wh / "dim_channel.parquet"
            if fc.exists() and dc.exists():
                self._contacts = (str(fc), str(dc))
        elif isinstance(events, str | Path):
            # Parquet: keep a view so each query reads only its columns and row groups.
            prepare_events(self.con, events)
        else:
            # In memory (often with JSON ``data``): parse once into a typed DuckDB table
            # rather than once per fact family in every query.
            prepare_events(self.con, events, name="ev_typed")
            self.con.execute("CREATE TEMP TABLE ev AS SELECT * FROM ev_typed")
        self._facts_cache: dict[tuple, pd.DataFrame] = {}
        # Per period: the fold's relation (a temp table, or a fact_contact scan), its
        # source and the span of its timestamps; per span: the policy's lookup tables.
        self._folds: dict[tuple, tuple[str, str, datetime, datetime]] = {}
        self._policies: dict[tuple, tuple[PolicySql, str]] = {}

    # -- contact facts -------------------------------------------------------------------
    def facts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """One row per case opened in ``[start, end)`` with every derived column.

        The SLA horizon is ``min(end, as_of)``: an unanswered contact still inside its
        target at that moment is not counted yet (neither met nor missed).
        """
        key = (_utc(start), _utc(end), self._horizon(start, end))
        if key not in self._facts_cache:
            sql = self._enriched(start, end)
            f = self.con.sql(sql).to_arrow_table().to_pandas()
            for col in ("opened_at", "first_response_at", "solved_at", "abandoned_at"):
                f[col] = pd.to_datetime(f[col])
            self._facts_cache[key] = f
        return self._facts_cache[key]

    def _horizon(self, start: datetime, end: datetime) -> datetime:
        Period(start, end)
        return min(_utc(end), _utc(self.as_of)) if self.as_of else _utc(end)

    def _enriched(
        self,
        start: datetime,
        end: datetime,
        columns: tuple[str, ...] | None = None,
        *,
        with_team: bool = True,
    ) -> str:
        """SQL of the enriched facts for ``[start, end)`` (see :mod:`enrich_sql`)."""
        horizon = self._horizon(start, end)
        fold, source, lo, hi = self._fold(start, end)
        self.facts_source = source
        pkey = (lo, hi)
        if pkey not in self._policies:
            prefix = f"pol{len(self._policies)}"
            pol = policy_sql(self.config, lo, hi)
            pol.register(self.con, prefix)
            self._policies[pkey] = (pol, prefix)
        pol, prefix = self._policies[pkey]
        return enriched_sql(fold, pol, prefix, horizon, columns=columns, with_team=with_team,
                            teams="agent_teams")  # fmt: skip

    def _fold(self, start: datetime, end: datetime) -> tuple[str, str, datetime, datetime]:
        """The policy-free per-contact rows for ``[start, end)`` as a SQL relation, which
        path made them, and the span ``(lo, hi)`` of their timestamps."""
        key = (_utc(start), _utc(end))
        if key not in self._folds:
            found = self._warehouse_fold(start, end) if self._contacts else None
            if found is None:
                name = f"fold{len(self._folds)}"
                fold_into_table(self.con, name, start, end, self.config.cost, self.agents)
                lo, hi = self.con.sql(
                    f"""SELECT min(opened_at),
                               greatest(max(opened_at), max(first_response_at), max(solved_at))
                        FROM {name}"""
                ).fetchall()[0]
                found = (name, "fold", lo, hi)
            fold, source, lo, hi = found
            lo = _utc(lo) if lo is not None else _utc(start)
            hi = _utc(hi) if hi is not None else lo
            self._folds[key] = (fold, source, lo, hi)
        return self._folds[key]

    def _warehouse_fold(
        self, start: datetime, end: datetime
    ) -> tuple[str, str, datetime | None, datetime | None] | None:
        """The fold's rows for ``[start, end)`` read from the export's ``fact_contact``.

        Only when that is exactly what folding the events would give; else None:
        - agent pricing equals the export's (the fold prices agent time; everything else
          policy-dependent — calendars, SLA, channel fees, reach — is recomputed at query
          time from the fold columns);
        - every selected contact has all its events inside ``[start, end)`` (the fold
          sees only those) and a known channel key;
        - no contact opened before ``start`` was opened again inside the period.
        Otherwise (e.g. last week's report while its contacts continued this week) the
        events in ``fact_event`` are folded as usual.
        """
        assert self._contacts is not None
        fc, dc = (p.replace("'", "''") for p in self._contacts)
        meta = pq.read_schema(self._contacts[0]).metadata or {}
        if meta.get(FOLD_META.encode(), b"").decode() != cost_fingerprint(
            self.config.cost, self.agents
        ):
            return None
        period = f"f.opened_at >= {_ts_sql(start)} AND f.opened_at < {_ts_sql(end)}"
        unsafe, lo, hi = self.con.sql(
            f"""SELECT count(*) FILTER (WHERE {period}
                    AND (first_event_at < {_ts_sql(start)} OR last_event_at >= {_ts_sql(end)}
                         OR channel_key IS NULL))
                  + count(*) FILTER (WHERE f.opened_at < {_ts_sql(start)}
                                     AND last_opened_at >= {_ts_sql(start)}),
                  min(opened_at) FILTER (WHERE {period}),
                  greatest(max(opened_at) FILTER (WHERE {period}),
                           max(first_response_at) FILTER (WHERE {period}),
                           max(solved_at) FILTER (WHERE {period}))
                FROM read_parquet('{fc}') f"""
        ).fetchall()[0]
        if unsafe:
            return None
        rename = {"customer_id": "f.customer_key", "agent_id": "f.agent_key",
                  "channel": "d.channel", "bound": "d.bound"}  # fmt: skip
        cols = ", ".join(f"{rename.get(c, 'f.' + c)} AS {c}" for c in FOLD_COLUMNS)
        rel = f"""(SELECT {cols} FROM read_parquet('{fc}') f
                   LEFT JOIN read_parquet('{dc}') d USING (channel_key) WHERE {period})"""
        return rel, "fact_contact", lo, hi

    def _add_time_dims(
        self, f: pd.DataFrame, col: str, dims: Iterable[str] = TIME_DIMENSIONS
    ) -> None:
        """Local-time buckets of ``col`` (only those asked for: 1M rows cost ~0.1 s each)."""
        want = [d for d in dims if d in TIME_DIMENSIONS]
        if not want:
            return
        local = pd.to_datetime(f[col]).dt.tz_localize("UTC").dt.tz_convert(self.tz)
        local = local.dt.tz_localize(None)
        day = local.dt.normalize()
        make = {
            "hour": lambda: local.dt.floor("h"),
            "day": lambda: day,
            "week": lambda: day - pd.to_timedelta(local.dt.weekday, unit="D"),
            "month": lambda: local.dt.to_period("M").dt.to_timestamp(),
            "hour_of_day": lambda: local.dt.hour,
            "weekday": lambda: local.dt.weekday,
        }
        for d in want:
            f[d] = make[d]()

    # -- KPI table -------------------------------------------------------------------------
    def kpis(
        self,
        start: datetime,
        end: datetime,
        group_by: str | Sequence[str] | None = ("channel", "bound"),
    ) -> pd.DataFrame:
        """Every KPI for contacts opened in ``[start, end)``, one row per group."""
        dims = parse_group_by(group_by)
        base = tuple(d for d in dims if d not in TIME_DIMENSIONS and d != "agent")
        cols = tuple(dict.fromkeys((*base, *KPI_INPUTS, "agent_id", "opened_at")))
        facts = self._enriched(start, end, cols, with_team="team" in dims)
        _, _, lo, hi = self._fold(start, end)  # the openings' span (not an "all time" period)
        local = local_sql("opened_at", self.tz, lo, hi)
        table = self.con.sql(_kpi_sql(dims, local, f"({facts})")).df()
        act = self.agent_productivity(start, end, dims)
        if dims and not act.empty:
            table = table.merge(act, on=list(dims), how="left")
        elif dims:  # not an activity dimension (priority, language)
            for c in act.columns.difference(dims):
                table[c] = np.nan
        else:
            for c in act.columns:
                table[c] = act[c].iloc[0] if len(act) else np.nan
        return table.sort_values(list(dims)).reset_index(drop=True) if dims else table

    def agent_productivity(
        self, start: datetime, end: datetime, group_by: str | Sequence[str] | None = ("agent",)
    ) -> pd.DataFrame:
        """Contacts handled per agent per day and per week, by activity time.

        A contact counts once per agent and day (or week) in which the agent sent a
        message or took a call on it. Dimensions outside :data:`ACTIVITY_DIMENSIONS`
        (priority, language) give NaN.

        Counted with one big ``GROUP BY`` (dims, agent, contact, week) that keeps the
        contact's active weekdays as a bit mask, then a small one per (agent, week):
        distinct (agent, contact, day) = the masks' bits, distinct (agent, day) = the bits
        of their OR. ``count(DISTINCT (...))`` per group cost ~3x more at a million rows.
        """
        dims = parse_group_by(group_by)
        cols = ["contacts_per_agent_day", "contacts_per_agent_week", "agents_active"]
        if any(d not in ACTIVITY_DIMENSIONS for d in dims):
            return pd.DataFrame(columns=[*dims, *cols])
        Period(start, end)
        local = local_sql('ev."at"', self.tz, _utc(start), _utc(end))
        sel, _ = _dim_sql(dims, "local_at")
        d = "".join(f"{x}, " for x in dims)
        team = "LEFT JOIN agent_teams t ON t.id = ev.agent_id" if "team" in dims else ""
        return self.con.sql(
            f"""WITH act AS (
                    SELECT ev.agent_id, case_id, channel, bound, queue, ev.agent_id AS agent,
                           {"t.team" if team else "NULL"} AS team, {local} AS local_at
                    FROM ev {team}
                    WHERE type IN ('message_sent', 'call_ended') AND ev.agent_id IS NOT NULL
                      AND case_id IS NOT NULL AND "at" >= $start AND "at" < $end),
                per_contact AS (
                    SELECT {sel + ", " if dims else ""} agent_id, case_id,
                           date_trunc('week', local_at) AS _week,
                           bit_or(1 << (isodow(local_at) - 1)) AS _days
                    FROM act GROUP BY ALL),
                per_agent_week AS (
                    SELECT {d} agent_id, _week, count(*) AS contacts,
                           sum(bit_count(_days)) AS contact_days,
                           bit_count(bit_or(_days)) AS days
                    FROM per_contact GROUP BY ALL)
                SELECT {d}
                   sum(contact_days) / sum(days) AS contacts_per_agent_day,
                   sum(contacts) / count(*) AS contacts_per_agent_week,
                   count(DISTINCT agent_id) AS agents_active
                FROM per_agent_week {"GROUP BY ALL" if dims else ""}""",
            params={"start": _naive(start), "end": _naive(end)},
        ).df()

    def frt_distribution(
        self,
        start: datetime,
        end: datetime,
        group_by: str | Sequence[str] | None = ("bound",),
        *,
        clock: str = "wall",
        edges: Sequence[float] = FRT_EDGES,
        labels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """First-response time histogram: ``dims..., bucket, contacts, share``."""
        if clock not in ("wall", "business"):
            raise MetricsQueryError(f"clock {clock!r} must be wall or business")
        dims = parse_group_by(group_by)
        labels = list(labels or (FRT_LABELS if tuple(edges) == FRT_EDGES else _labels(edges)))
        if len(labels) != len(edges) - 1:
            raise MetricsQueryError("need one label per bucket (len(edges) - 1)")
        col = "frt_seconds" if clock == "wall" else "frt_business_seconds"
        f = self.facts(start, end)
        f = f.loc[f[col].notna(), [c for c in (*dims, col, "opened_at") if c in f.columns]]
        self._add_time_dims(f, "opened_at", dims)
        f = _dims_filled(f, dims)
        bucket = np.clip(np.searchsorted(np.asarray(edges), f[col].to_numpy(), side="right") - 1,
                         0, len(labels) - 1)  # fmt: skip
        f = f.assign(bucket=pd.Categorical.from_codes(bucket, categories=labels, ordered=True))
        keys = [*dims, "bucket"]
        out = f.groupby(keys, observed=False).size().rename("contacts").reset_index()
        totals = (
            out.groupby(list(dims))["contacts"].transform("sum") if dims else out["contacts"].sum()
        )
        out["share"] = np.where(totals > 0, out["contacts"] / np.maximum(totals, 1), 0.0)
        return out

    def cost(
        self, start: datetime, end: datetime, group_by: str | Sequence[str] | None = ("bound",)
    ) -> pd.DataFrame:
        """Cost per contact and per customer reached (the columns of :meth:`kpis`)."""
        cols = ["offered", "handled", "handling_seconds", "agent_cost", "channel_cost",
                "cost", "cost_per_contact", "reach", "cost_per_reached"]  # fmt: skip
        t = self.kpis(start, end, group_by)
        return t[[*parse_group_by(group_by), *cols]]

    def surveys(
        self, start: datetime, end: datetime, group_by: str | Sequence[str] | None = ("channel",)
    ) -> pd.DataFrame:
        """NPS and CSAT for answers given in ``[start, end)``; same scale for every channel.

        NPS = % promoters (9–10) − % detractors (0–6) of NPS answers; CSAT = % of CSAT
        answers scoring 4–5 on 1–5. The latest answer per case and kind counts.
        """
        dims = parse_group_by(group_by)
        if any(d not in ACTIVITY_DIMENSIONS for d in dims):
            raise MetricsQueryError(f"surveys group by {', '.join(ACTIVITY_DIMENSIONS)} only")
        s = self.con.execute(SURVEY_ROWS_SQL, {"start": _naive(start), "end": _naive(end)}).df()
        team_of = dict(zip(self.agents["id"], self.agents["team"], strict=True))
        s["team"] = s["agent_id"].map(team_of)
        s["agent"] = s["agent_id"]
        self._add_time_dims(s, "at", dims)
        self.con.register("srv", _dims_filled(s, dims))
        keys = ", ".join(dims)
        out = self.con.execute(
            f"""SELECT {keys + ", " if dims else ""}
                count(*) FILTER (WHERE type = 'survey_sent' AND kind = 'nps') AS nps_sent,
                count(*) FILTER (WHERE type = 'survey_answered' AND kind = 'nps') AS nps_answers,
                count(*) FILTER (WHERE type = 'survey_answered' AND kind = 'nps' AND score >= 9)
                    AS promoters,
                count(*) FILTER (WHERE type = 'survey_answered' AND kind = 'nps'
                                 AND score BETWEEN 7 AND 8) AS passives,
                count(*) FILTER (WHERE type = 'survey_answered' AND kind = 'nps' AND score <= 6)
                    AS detractors,
                100.0 * (promoters - detractors) / nullif(nps_answers, 0) AS nps,
                count(*) FILTER (WHERE type = 'survey_sent' AND kind = 'csat') AS csat_sent,
                count(*) FILTER (WHERE type = 'survey_answered' AND kind = 'csat')
                    AS csat_answers,
                100.0 * count(*) FILTER (WHERE type = 'survey_answered' AND kind = 'csat'
                                         AND score >= 4) / nullif(csat_answers, 0) AS csat,
                avg(score) FILTER (WHERE type = 'survey_answered' AND kind = 'csat')
                    AS csat_mean,
                nps_answers / nullif(nps_sent, 0) AS nps_response_rate,
                csat_answers / nullif(csat_sent, 0) AS csat_response_rate
            FROM srv {"GROUP BY " + keys + " ORDER BY " + keys if dims else ""}"""
        ).df()
        self.con.unregister("srv")
        return out


SURVEY_ROWS_SQL = """
WITH c AS (
    SELECT case_id,
           arg_min(channel, "at") FILTER (WHERE type = 'case_opened') AS channel,
           arg_min(bound, "at") FILTER (WHERE type = 'case_opened') AS bound,
           arg_max(queue, "at") FILTER (WHERE queue IS NOT NULL) AS queue,
           arg_max(agent_id, "at") FILTER (
               WHERE type IN ('message_sent', 'call_ended') AND agent_id IS NOT NULL
           ) AS agent_id
    FROM ev WHERE case_id IN (
        SELECT case_id FROM ev WHERE type IN ('survey_sent', 'survey_answered')
          AND "at" >= $start AND "at" < $end)
    GROUP BY case_id
),
s AS (
    SELECT case_id, type, kind,
           arg_max(score, "at") AS score, max("at") AS "at",
           arg_max(channel, "at") AS channel, arg_max(bound, "at") AS bound,
           arg_max(queue, "at") AS queue, arg_max(agent_id, "at") AS agent_id
    FROM ev
    WHERE type IN ('survey_sent', 'survey_answered') AND "at" >= $start AND "at" < $end
    GROUP BY case_id, type, kind
)
SELECT s.case_id, s.type, s.kind, s.score, s."at",
       coalesce(s.channel, c.channel) AS channel, coalesce(s.bound, c.bound) AS bound,
       coalesce(s.queue, c.queue) AS queue, coalesce(s.agent_id, c.agent_id) AS agent_id
FROM s LEFT JOIN c USING (case_id)
"""


_CATEGORICAL = ("channel", "bound", "queue", "team", "priority", "language")


def _dim_sql(dims: tuple[str, ...], local: str) -> tuple[str, str]:
    """``SELECT`` expressions and ``GROUP BY`` keys for ``dims``; ``local`` is the SQL of
    the local wall time the time dimensions bucket (see :func:`clock_sql.local_sql`)."""
    expr = {
        "agent": "CAST(agent AS BIGINT)",
        "hour": f"date_trunc('hour', {local})",
        "day": f"date_trunc('day', {local})",
        "week": f"date_trunc('week', {local})",
        "month": f"date_trunc('month', {local})",
        "hour_of_day": f"hour({local})",
        "weekday": f"isodow({local}) - 1",
    }
    parts = [
        f"coalesce(CAST({d} AS VARCHAR), '{NONE}') AS {d}" if d in _CATEGORICAL
        else f"{expr[d]} AS {d}"
        for d in dims
    ]  # fmt: skip
    return ", ".join(parts), ", ".join(str(i + 1) for i in range(len(dims)))


def _kpi_sql(dims: tuple[str, ...], local: str, source: str) -> str:
    """The KPI aggregate over the enriched facts ``source`` (a relation).

    Median and p90 come from one ``quantile_cont(x, [0.5, 0.9])`` per measure (one sort
    of the group's values instead of two).
    """
    sel, keys = _dim_sql(dims, local)
    quantiles = {"frt": "frt_seconds", "frt_business": "frt_business_seconds",
                 "resolution": "resolution_seconds",
                 "resolution_business": "resolution_business_seconds"}  # fmt: skip

    def stats(name: str) -> str:
        col = quantiles[name]
        return (f"avg({col}) AS {name}_mean, quantile_cont({col}, [0.5, 0.9]) AS _q_{name}, "
                f"_q_{name}[1] AS {name}_median, _q_{name}[2] AS {name}_p90")  # fmt: skip

    return f"""
    SELECT * EXCLUDE ({", ".join(f"_q_{n}" for n in quantiles)}) FROM (
    SELECT {sel + ", " if dims else ""}
        count(*) AS offered,
        count(*) FILTER (WHERE handled) AS handled,
        count(*) FILTER (WHERE answered) AS answered,
        count(*) FILTER (WHERE responded)::DOUBLE / count(*) AS response_rate,
        {stats("frt")}, {stats("frt_business")},
        count(*) FILTER (WHERE sla_counted) AS sla_counted,
        count(*) FILTER (WHERE sla_met) AS sla_met,
        count(*) FILTER (WHERE sla_met)::DOUBLE
            / nullif(count(*) FILTER (WHERE sla_counted), 0) AS service_level,
        count(*) FILTER (WHERE abandoned) AS abandoned,
        sum(handling_seconds) AS handling_seconds,
        sum(handling_seconds) / nullif(count(*) FILTER (WHERE handled), 0) AS aht_seconds,
        count(*) FILTER (WHERE solved) AS solved,
        {stats("resolution")}, {stats("resolution_business")},
        count(*) FILTER (WHERE reopened) AS reopened,
        count(*) FILTER (WHERE reopened)::DOUBLE
            / nullif(count(*) FILTER (WHERE solved), 0) AS reopen_rate,
        count(*) FILTER (WHERE parallel) AS parallel,
        count(*) FILTER (WHERE parallel)::DOUBLE / count(*) AS parallel_rate,
        sum(agent_cost) AS agent_cost, sum(channel_cost) AS channel_cost, sum(cost) AS cost,
        sum(cost) / nullif(count(*) FILTER (WHERE handled), 0) AS cost_per_contact,
        sum(reach) AS reach,
        sum(cost) / nullif(sum(reach), 0) AS cost_per_reached
    FROM (SELECT *, agent_id AS agent FROM {source}) facts
    {"GROUP BY " + keys if dims else ""})
    """


def _dims_filled(f: pd.DataFrame, dims: Iterable[str]) -> pd.DataFrame:
    """Missing categorical keys become ``"(none)"`` so they group and serialise cleanly."""
    out = f
    for d in dims:
        if d in ("channel", "bound", "queue", "team", "priority", "language"):
            if out is f:
                out = f.copy()
            out[d] = out[d].astype(object).where(out[d].notna(), NONE).astype(str)
        elif d == "agent":
            if out is f:
                out = f.copy()
            out[d] = out[d].astype("Int64")
    return out


def _agents_frame(agents: pd.DataFrame | Mapping[int, str] | None) -> pd.DataFrame:
    if agents is None:
        return pd.DataFrame({"id": pd.Series(dtype="int64"), "team": pd.Series(dtype=object)})
    if isinstance(agents, Mapping):
        return pd.DataFrame({"id": list(agents), "team": list(agents.values())})
    missing = {"id", "team"} - set(agents.columns)
    if missing:
        raise MetricsQueryError(f"agents table lacks column(s) {', '.join(sorted(missing))}")
    return agents[["id", "team"]].copy()


def _labels(edges: Sequence[float]) -> list[str]:
    def fmt(s: float) -> str:
        if s == float("inf"):
            return "inf"
        return f"{s / 3600:g}h" if s >= 3600 else (f"{s / 60:g}m" if s >= 60 else f"{s:g}s")

    return [f"{fmt(a)}-{fmt(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _naive(t: datetime) -> datetime:
    return _utc(t).replace(tzinfo=None)


def _ts_sql(t: datetime) -> str:
    return f"TIMESTAMP '{_naive(t).isoformat(sep=' ')}'"


# -- module-level conveniences ---------------------------------------------------------------


def compute_kpis(
    events: EventsLike,
    start: datetime,
    end: datetime,
    group_by: str | Sequence[str] | None = ("channel", "bound"),
    *,
    config: MetricsConfig | None = None,
    agents: pd.DataFrame | Mapping[int, str] | None = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """One-shot :meth:`Metrics.kpis`."""
    return Metrics(events, config=config, agents=agents, tz=tz).kpis(start, end, group_by)
