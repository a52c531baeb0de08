"""KPIs for a period grouped by any dimensions, computed from the event log on demand.

Nothing is pre-computed: :class:`Metrics` folds the events into contact facts with one
DuckDB query (:mod:`somebound.metrics.facts`), adds the policy-dependent columns
(business time, SLA attainment, cost, reach) with NumPy, and aggregates with DuckDB
SQL. Change a calendar, an SLA target or an hourly cost and the same call re-scores
history under the new policy.

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

from somebound.metrics.calendar import business_seconds
from somebound.metrics.config import MetricsConfig, default_config
from somebound.metrics.eventlog import EventsLike, connect, prepare_events
from somebound.metrics.facts import FOLD_COLUMNS, case_facts_frame, cost_fingerprint

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
        self._contacts: tuple[str, str] | None = None
        # Which path produced the last facts(): "fold" (from the events) or "fact_contact"
        # (the warehouse's per-contact rows, when provably identical; see facts()).
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

    # -- contact facts -------------------------------------------------------------------
    def facts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """One row per case opened in ``[start, end)`` with every derived column.

        The SLA horizon is ``min(end, as_of)``: an unanswered contact still inside its
        target at that moment is not counted yet (neither met nor missed).
        """
        Period(start, end)
        horizon = min(_utc(end), _utc(self.as_of)) if self.as_of else _utc(end)
        key = (_utc(start), _utc(end), horizon)
        if key not in self._facts_cache:
            f = self._warehouse_facts(start, end) if self._contacts else None
            if f is None:
                f = case_facts_frame(self.con, start, end, self.config.cost, self.agents)
                self.facts_source = "fold"
            else:
                self.facts_source = "fact_contact"
            self._facts_cache[key] = self._enrich(f, horizon)
        return self._facts_cache[key]

    def _warehouse_facts(self, start: datetime, end: datetime) -> pd.DataFrame | None:
        """The fold's rows for ``[start, end)`` read from the export's ``fact_contact``.

        Only when that is exactly what folding the events would give; else None:
        - agent pricing equals the export's (the fold prices agent time; everything else
          policy-dependent — calendars, SLA, channel fees, reach — is recomputed by
          :meth:`_enrich` at query time);
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
        params = {"start": _naive(start), "end": _naive(end)}
        unsafe = self.con.sql(
            f"""SELECT count(*) FILTER (WHERE opened_at >= $start AND opened_at < $end
                    AND (first_event_at < $start OR last_event_at >= $end
                         OR channel_key IS NULL))
                  + count(*) FILTER (WHERE opened_at < $start AND last_opened_at >= $start)
                FROM read_parquet('{fc}')""",
            params=params,
        ).fetchall()[0][0]
        if unsafe:
            return None
        rename = {"customer_id": "f.customer_key", "agent_id": "f.agent_key",
                  "channel": "d.channel", "bound": "d.bound"}  # fmt: skip
        cols = ", ".join(f"{rename.get(c, 'f.' + c)} AS {c}" for c in FOLD_COLUMNS)
        return self.con.sql(
            f"""SELECT {cols} FROM read_parquet('{fc}') f
                LEFT JOIN read_parquet('{dc}') d USING (channel_key)
                WHERE f.opened_at >= $start AND f.opened_at < $end""",
            params=params,
        ).to_arrow_table().to_pandas()

    def _enrich(self, f: pd.DataFrame, horizon: datetime) -> pd.DataFrame:
        cfg = self.config
        for col in ("opened_at", "first_response_at", "solved_at", "abandoned_at"):
            f[col] = pd.to_datetime(f[col])
        team_of = dict(zip(self.agents["id"], self.agents["team"], strict=True))
        f["team"] = f["agent_id"].map(team_of)
        f["agent"] = f["agent_id"]
        opened = f["opened_at"].to_numpy("datetime64[us]")
        frt_at = f["first_response_at"].to_numpy("datetime64[us]")
        solved_at = f["solved_at"].to_numpy("datetime64[us]")
        hz = np.full(len(f), np.datetime64(horizon.replace(tzinfo=None), "us"))
        f["frt_seconds"] = (frt_at - opened) / np.timedelta64(1, "s")
        f["resolution_seconds"] = (solved_at - opened) / np.timedelta64(1, "s")
        elapsed_wall = (hz - opened) / np.timedelta64(1, "s")
        frt_b = np.full(len(f), np.nan)
        res_b = np.full(len(f), np.nan)
        elapsed_b = np.full(len(f), np.nan)
        # Hash-factorize (not np.unique: sorting a million Python strings took most of
        # the enrichment time) and look up each distinct queue's calendar once.
        q_codes, q_names = pd.factorize(f["queue"], use_na_sentinel=True)
        for qi in range(-1, len(q_names)):
            m = q_codes == qi
            if not m.any():
                continue
            cal = cfg.calendar_for_queue(q_names[qi] if qi >= 0 else None)
            frt_b[m] = business_seconds(cal, opened[m], frt_at[m])
            res_b[m] = business_seconds(cal, opened[m], solved_at[m])
            elapsed_b[m] = business_seconds(cal, opened[m], hz[m])
        f["frt_business_seconds"] = frt_b
        f["resolution_business_seconds"] = res_b

        # SLA: resolve each distinct (channel, queue, recorded target) once.
        ch_codes, ch_names = pd.factorize(f["channel"], use_na_sentinel=True)
        sla_codes, sla_vals = pd.factorize(f["event_sla_seconds"], use_na_sentinel=True)
        # One int64 key per (channel, queue, recorded target) and a hash factorize of it:
        # np.unique(axis=0) sorted the rows lexicographically and cost ~10x more.
        nq, ns = len(q_names) + 1, len(sla_vals) + 1
        combo = ((ch_codes.astype(np.int64) + 1) * nq + (q_codes + 1)) * ns + (sla_codes + 1)
        inverse, keys = pd.factorize(combo)
        key_target = np.full(len(keys), np.nan)
        key_business = np.zeros(len(keys), bool)
        for i, key in enumerate(keys):
            c, rest = divmod(int(key), nq * ns)
            q, e = divmod(rest, ns)
            c, q, e = c - 1, q - 1, e - 1
            t = cfg.sla.resolve(
                ch_names[c] if c >= 0 else None,
                q_names[q] if q >= 0 else None,
                float(sla_vals[e]) if e >= 0 else None,
            )
            if t is not None:
                key_target[i] = t.first_response_seconds
                key_business[i] = t.clock == "business"
        target = key_target[inverse]
        business_clock = key_business[inverse]
        inbound_like = (f["bound"] != "outbound").to_numpy()
        target = np.where(inbound_like, target, np.nan)
        answered = f["first_response_at"].notna().to_numpy()
        abandoned = f["abandoned"].fillna(False).to_numpy(bool)
        frt_clock = np.where(business_clock, frt_b, f["frt_seconds"].to_numpy())
        elapsed = np.where(business_clock, elapsed_b, elapsed_wall)
        has_target = ~np.isnan(target)
        f["sla_target_seconds"] = target
        f["sla_clock"] = np.where(has_target, np.where(business_clock, "business", "wall"), None)
        f["sla_counted"] = has_target & (answered | abandoned | (elapsed > target))
        f["sla_met"] = has_target & answered & ~abandoned & (frt_clock <= target)
        f["answered"] = answered
        f["needs_response"] = inbound_like
        f["responded"] = np.where(inbound_like, answered, f["messages_received"].to_numpy() > 0)
        f["handled"] = answered | (f["messages_sent"].to_numpy() > 0) | (
            f["calls_ended"].to_numpy() > 0
        )
        f["solved"] = f["solved_at"].notna()
        f["reopened"] = f["reopens"].to_numpy() > 0

        # Cost: agent time (already priced per agent in SQL) + channel fees.
        cost = cfg.cost
        ch = f["channel"]

        def fee(key: str) -> np.ndarray:
            per = {c: cost.channel_fee(c, key) for c in cost.channels}
            return ch.map(per).fillna(0.0).to_numpy(float)

        f["channel_cost"] = (
            fee("per_contact")
            + fee("per_message_sent") * f["messages_sent"].to_numpy()
            + fee("per_message_received") * f["messages_received"].to_numpy()
            + fee("per_minute") * f["billed_minutes"].to_numpy(float)
        )
        f["cost"] = f["agent_cost"].to_numpy(float) + f["channel_cost"].to_numpy()
        public = ((f["bound"] == "somebound") | f["public_answer"]).to_numpy(bool)
        handled = f["handled"].to_numpy(bool)
        f["reach"] = np.where(
            handled,
            np.where(public, f["authors"].to_numpy(float) + f["engagement"].to_numpy(float), 1.0),
            0.0,
        )
        return f

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
        full = self.facts(start, end)
        cols = [c for c in (*dims, *KPI_INPUTS, "opened_at") if c in full.columns]
        self.con.register("facts", full[cols])
        table = self.con.sql(_kpi_sql(dims, self.tz)).df()
        self.con.unregister("facts")
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
        """
        dims = parse_group_by(group_by)
        cols = ["contacts_per_agent_day", "contacts_per_agent_week", "agents_active"]
        if any(d not in ACTIVITY_DIMENSIONS for d in dims):
            return pd.DataFrame(columns=[*dims, *cols])
        self.con.register("agent_teams", self.agents)
        # Local time per 15-minute bucket (a few thousand ICU conversions) instead of one
        # per activity row, when that is exact for the zone; else per row.
        buckets = _local_buckets(start, end, self.tz)
        if buckets is not None:
            self.con.register("local_q", buckets)
            local = "lq.local_at"
            join = 'LEFT JOIN local_q lq ON lq.bucket = epoch_us(ev."at") // 900000000'
        else:
            local, join = _local('"at"', self.tz), ""
        sel, keys = _dim_sql(dims, "local_at", self.tz, is_local=True)
        out = self.con.sql(
            f"""WITH act AS (
                    SELECT ev.agent_id, case_id, channel, bound, queue, {local} AS local_at,
                           t.team, ev.agent_id AS agent,
                           date_trunc('day', {local}) AS _day,
                           date_trunc('week', {local}) AS _week
                    FROM ev LEFT JOIN agent_teams t ON t.id = ev.agent_id {join}
                    WHERE type IN ('message_sent', 'call_ended') AND ev.agent_id IS NOT NULL
                      AND case_id IS NOT NULL AND "at" >= $start AND "at" < $end)
                SELECT {sel + ", " if dims else ""}
                   count(DISTINCT (agent_id, case_id, _day)) / count(DISTINCT (agent_id, _day))
                       AS contacts_per_agent_day,
                   count(DISTINCT (agent_id, case_id, _week))
                       / count(DISTINCT (agent_id, _week)) AS contacts_per_agent_week,
                   count(DISTINCT agent_id) AS agents_active
                FROM act {"GROUP BY " + keys if dims else ""}""",
            params={"start": _naive(start), "end": _naive(end)},
        ).df()
        self.con.unregister("agent_teams")
        if buckets is not None:
            self.con.unregister("local_q")
        return out

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
        totals = out.groupby(list(dims))["contacts"].transform("sum") if dims else out[
            "contacts"
        ].sum()
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
            raise MetricsQueryError(
                f"surveys group by {', '.join(ACTIVITY_DIMENSIONS)} only"
            )
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


def _local(col: str, tz: str) -> str:
    """SQL: a naive-UTC timestamp column as naive local time in ``tz``."""
    zone = tz.replace("'", "''")
    return f"timezone('{zone}', timezone('UTC', {col}))"


_CATEGORICAL = ("channel", "bound", "queue", "team", "priority", "language")


QUARTER_US = 900_000_000


def _local_buckets(start: datetime, end: datetime, tz: str) -> pd.DataFrame | None:
    """Local wall time of every UTC 15-minute bucket start in ``[start, end)``.

    Hour, day, week and month of any instant equal those of its bucket start when the
    zone's offsets are whole quarters of an hour and do not change inside a bucket; that
    is checked here (true for every zone in use today), else None (convert per row).
    """
    lo = int(pd.Timestamp(_utc(start)).value // 1000) // QUARTER_US
    hi = -(-int(pd.Timestamp(_utc(end)).value // 1000) // QUARTER_US)
    if hi - lo > 2_000_000:  # decades: not worth a table
        return None
    bucket = np.arange(lo, hi + 1, dtype=np.int64)
    first = pd.to_datetime(bucket * QUARTER_US, unit="us", utc=True)
    last = pd.to_datetime(bucket * QUARTER_US + QUARTER_US - 1, unit="us", utc=True)
    try:
        lf = first.tz_convert(tz).tz_localize(None)
        ll = last.tz_convert(tz).tz_localize(None)
    except Exception:  # noqa: BLE001 - unknown zone: let the SQL path raise its error
        return None
    off_first = (lf - first.tz_localize(None)).to_numpy("timedelta64[us]").astype(np.int64)
    off_last = (ll - last.tz_localize(None)).to_numpy("timedelta64[us]").astype(np.int64)
    if (off_first != off_last).any() or (off_first % QUARTER_US).any():
        return None
    return pd.DataFrame({"bucket": bucket, "local_at": lf.to_numpy("datetime64[us]")})


def _dim_sql(
    dims: tuple[str, ...], at_col: str, tz: str, *, is_local: bool = False
) -> tuple[str, str]:
    """``SELECT`` expressions and ``GROUP BY`` keys for ``dims`` (time in local ``tz``).

    ``is_local``: ``at_col`` already holds local wall time.
    """
    local = at_col if is_local else _local(at_col, tz)
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


def _kpi_sql(dims: tuple[str, ...], tz: str) -> str:
    sel, keys = _dim_sql(dims, "opened_at", tz)
    q = "quantile_cont"
    return f"""
    SELECT {sel + ", " if dims else ""}
        count(*) AS offered,
        count(*) FILTER (WHERE handled) AS handled,
        count(*) FILTER (WHERE answered) AS answered,
        count(*) FILTER (WHERE responded)::DOUBLE / count(*) AS response_rate,
        avg(frt_seconds) AS frt_mean, median(frt_seconds) AS frt_median,
        {q}(frt_seconds, 0.9) AS frt_p90,
        avg(frt_business_seconds) AS frt_business_mean,
        median(frt_business_seconds) AS frt_business_median,
        {q}(frt_business_seconds, 0.9) AS frt_business_p90,
        count(*) FILTER (WHERE sla_counted) AS sla_counted,
        count(*) FILTER (WHERE sla_met) AS sla_met,
        count(*) FILTER (WHERE sla_met)::DOUBLE
            / nullif(count(*) FILTER (WHERE sla_counted), 0) AS service_level,
        count(*) FILTER (WHERE abandoned) AS abandoned,
        sum(handling_seconds) AS handling_seconds,
        sum(handling_seconds) / nullif(count(*) FILTER (WHERE handled), 0) AS aht_seconds,
        count(*) FILTER (WHERE solved) AS solved,
        avg(resolution_seconds) AS resolution_mean,
        median(resolution_seconds) AS resolution_median,
        {q}(resolution_seconds, 0.9) AS resolution_p90,
        avg(resolution_business_seconds) AS resolution_business_mean,
        median(resolution_business_seconds) AS resolution_business_median,
        {q}(resolution_business_seconds, 0.9) AS resolution_business_p90,
        count(*) FILTER (WHERE reopened) AS reopened,
        count(*) FILTER (WHERE reopened)::DOUBLE
            / nullif(count(*) FILTER (WHERE solved), 0) AS reopen_rate,
        count(*) FILTER (WHERE parallel) AS parallel,
        count(*) FILTER (WHERE parallel)::DOUBLE / count(*) AS parallel_rate,
        sum(agent_cost) AS agent_cost, sum(channel_cost) AS channel_cost, sum(cost) AS cost,
        sum(cost) / nullif(count(*) FILTER (WHERE handled), 0) AS cost_per_contact,
        sum(reach) AS reach,
        sum(cost) / nullif(sum(reach), 0) AS cost_per_reached
    FROM facts
    {"GROUP BY " + keys if dims else ""}
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
