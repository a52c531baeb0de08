"""The policy-dependent contact columns as one DuckDB query over the policy-free fold.

The fold (:mod:`somebound.metrics.facts`, or the warehouse's ``fact_contact``) says what
happened to each contact; this module adds what the *policy* makes of it, at query time:
wall and business first-response/resolution times, the SLA target, clock and outcome,
channel fees and total cost, reach, team. It used to be NumPy over a per-contact pandas
frame; as SQL it runs in DuckDB's threads straight over Parquet and the KPI aggregate
consumes it without materialising a million-row frame in Python.

The policy enters as small constants rendered into the SQL, never stored in the data:

- business time: a per-calendar lookup (:mod:`somebound.metrics.clock_sql`) over the span
  of the data; the calendar of each contact is its queue's (``business_hours.queues``);
- SLA: :meth:`SlaPolicy.resolve` itself is called for every (queue entry, channel entry)
  pair of the policy (plus "any other"), with and without a recorded target, so the SQL
  only looks its answer up and cannot drift from the Python rule;
- fees per channel and agent teams: ``CASE`` constants / a join with the agents table.

``tests/metrics/test_enrich_sql.py`` compares every column with a per-contact Python
reference on random logs and policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from somebound.metrics.calendar import BusinessCalendar
from somebound.metrics.clock_sql import ClockTable, _epoch_us, build_clock_table
from somebound.metrics.config import MetricsConfig, SlaPolicy
from somebound.metrics.facts import FOLD_COLUMNS

# Columns the enriched relation adds, in order (after FOLD_COLUMNS).
ENRICHED_COLUMNS = (
    "team", "agent", "frt_seconds", "resolution_seconds", "frt_business_seconds",
    "resolution_business_seconds", "sla_target_seconds", "sla_clock", "sla_counted",
    "sla_met", "answered", "needs_response", "responded", "handled", "solved", "reopened",
    "channel_cost", "cost", "reach",
)  # fmt: skip
_OTHER = "\x00other"  # stands for "a queue/channel the policy does not name"
_SENTINEL = -7.25  # a recorded target no policy can have (targets are positive)


@dataclass(frozen=True)
class PolicySql:
    """The pieces of SQL (and the lookup tables they need) for one policy and span."""

    config: MetricsConfig
    clock: ClockTable
    calendar_names: tuple[str, ...]

    def register(self, con: duckdb.DuckDBPyConnection, prefix: str) -> None:
        self.clock.register(con, f"{prefix}_clk")


def policy_sql(config: MetricsConfig, lo: datetime, hi: datetime, **clock_kw) -> PolicySql:  # noqa: ANN003
    """Lookup tables for the calendars in use over ``[lo, hi]`` (the data's span)."""
    names = [config.default_calendar]
    for cal in config.queue_calendars.values():
        if cal not in names:
            names.append(cal)
    cals: tuple[BusinessCalendar, ...] = tuple(config.calendars[n] for n in names)
    return PolicySql(config, build_clock_table(cals, lo, hi, **clock_kw), tuple(names))


def enriched_sql(
    fold: str,
    p: PolicySql,
    prefix: str,
    horizon: datetime,
    *,
    columns: tuple[str, ...] | None = None,
    with_team: bool = True,
    teams: str = "agent_teams",
) -> str:
    """SQL: ``fold``'s rows (FOLD_COLUMNS) plus :data:`ENRICHED_COLUMNS`.

    ``prefix``: the name given to :meth:`PolicySql.register`; ``teams``: a relation
    ``id, team`` (:func:`agents_relation`), joined when ``with_team``. ``columns``:
    output only these.
    """
    cfg = p.config
    cal = _case(
        "coalesce(queue, '')",
        {q: p.calendar_names.index(c) for q, c in cfg.queue_calendars.items()},
        0,
    )
    lookup = p.clock.lookup_sql(
        "f0", "_cal",
        {"_c_open": "opened_at", "_c_frt": "first_response_at", "_c_sol": "solved_at"},
        f"{prefix}_clk",
    )  # fmt: skip
    horizon_cum = _case(
        "_cal", {i: p.clock.cum_at(i, horizon) for i in range(len(p.calendar_names))}, None
    )
    sla_key, (s0, b0, s1, b1, use_ev) = _sla_lists(cfg.sla)
    fee = {k: _case("channel", {c: f for c, fees in cfg.cost.channels.items()
                                if (f := float(fees.get(k, 0.0)))}, 0.0)
           for k in ("per_contact", "per_message_sent", "per_message_received", "per_minute")}  # fmt: skip
    team_join = f"LEFT JOIN {teams} t ON t.id = f.agent_id" if with_team else ""
    team = "t.team" if with_team else "CAST(NULL AS VARCHAR)"
    fold_cols = ", ".join(f"f.{c}" for c in FOLD_COLUMNS)
    sql = f"""
    WITH f0 AS (SELECT *, CAST({cal} AS INTEGER) AS _cal FROM {fold}),
    f1 AS ({lookup}),
    f2 AS (
        SELECT *,
            event_sla_seconds IS NOT NULL AND NOT isnan(event_sla_seconds) AS _has_ev,
            bound IS DISTINCT FROM 'outbound' AS _needs,
            first_response_at IS NOT NULL AS _answered,
            coalesce(abandoned, false) AS _abandoned,
            (epoch_us(first_response_at) - epoch_us(opened_at)) / 1e6 AS _frt,
            (_c_frt - _c_open) / 1e6 AS _frt_b,
            {sla_key} AS _sk
        FROM f1
    ),
    f3 AS (
        SELECT *,
            CASE WHEN NOT _needs THEN NULL
                 WHEN _has_ev THEN (CASE WHEN {use_ev}[_sk] THEN event_sla_seconds
                                         ELSE {s1}[_sk] END)
                 ELSE {s0}[_sk] END AS _target,
            CASE WHEN _has_ev THEN {b1}[_sk] ELSE {b0}[_sk] END AS _business
        FROM f2
    )
    SELECT {fold_cols},
        {team} AS team, f.agent_id AS agent,
        f._frt AS frt_seconds,
        (epoch_us(f.solved_at) - epoch_us(f.opened_at)) / 1e6 AS resolution_seconds,
        f._frt_b AS frt_business_seconds,
        (f._c_sol - f._c_open) / 1e6 AS resolution_business_seconds,
        f._target AS sla_target_seconds,
        CASE WHEN f._target IS NULL THEN NULL WHEN f._business THEN 'business' ELSE 'wall' END
            AS sla_clock,
        f._target IS NOT NULL AND (f._answered OR f._abandoned OR coalesce(
            CASE WHEN f._business THEN ({horizon_cum} - f._c_open) / 1e6
                 ELSE ({_epoch_us(horizon)} - epoch_us(f.opened_at)) / 1e6 END > f._target,
            false)) AS sla_counted,
        f._target IS NOT NULL AND f._answered AND NOT f._abandoned
            AND coalesce(CASE WHEN f._business THEN f._frt_b ELSE f._frt END <= f._target,
                         false) AS sla_met,
        f._answered AS answered,
        f._needs AS needs_response,
        CASE WHEN f._needs THEN f._answered ELSE f.messages_received > 0 END AS responded,
        f._answered OR f.messages_sent > 0 OR f.calls_ended > 0 AS handled,
        f.solved_at IS NOT NULL AS solved,
        f.reopens > 0 AS reopened,
        {fee["per_contact"]} + {fee["per_message_sent"]} * f.messages_sent
            + {fee["per_message_received"]} * f.messages_received
            + {fee["per_minute"]} * f.billed_minutes AS channel_cost,
        f.agent_cost + channel_cost AS cost,
        CASE WHEN NOT handled THEN 0.0
             WHEN coalesce(f.bound = 'somebound', false) OR f.public_answer
                 THEN CAST(f.authors AS DOUBLE) + f.engagement
             ELSE 1.0 END AS reach
    FROM f3 f {team_join}
    """
    if columns is not None:
        sql = f"SELECT {', '.join(columns)} FROM ({sql})"
    return sql


def _sla_lists(sla: SlaPolicy) -> tuple[str, tuple[str, str, str, str, str]]:
    """SQL of a 1-based key ``_sk`` over (queue entry, channel entry) of the policy, and
    constant lists indexed by it: target and business-clock flag without (``s0``, ``b0``)
    and with (``s1``, ``b1``) a recorded target, and whether the recorded value is used.

    Every answer comes from :meth:`SlaPolicy.resolve` for a representative of each key
    (a name the policy does not list stands for every such queue/channel).
    """
    queues = [*sorted(sla.queues), _OTHER]
    channels = [*sorted(sla.channels), _OTHER]
    lists: dict[str, list[object]] = {k: [] for k in ("s0", "b0", "s1", "b1", "u")}
    for q in queues:
        for c in channels:
            t0 = sla.resolve(c, q, None)
            t1 = sla.resolve(c, q, _SENTINEL)
            used = t1 is not None and t1.first_response_seconds == _SENTINEL
            lists["s0"].append(t0.first_response_seconds if t0 else None)
            lists["b0"].append(bool(t0 and t0.clock == "business"))
            lists["s1"].append(None if used or t1 is None else t1.first_response_seconds)
            lists["b1"].append(bool(t1 and t1.clock == "business"))
            lists["u"].append(used)
    nc = len(channels)
    qi = _case("coalesce(queue, '')", {q: i for i, q in enumerate(queues[:-1])}, len(queues) - 1)
    ci = _case("coalesce(channel, '')", {c: i for i, c in enumerate(channels[:-1])}, nc - 1)
    key = f"({qi} * {nc} + {ci} + 1)"

    def render(values: list[object], typ: str) -> str:
        return f"CAST([{', '.join(_lit(float(v) if typ == 'DOUBLE' and v is not None else v) for v in values)}] AS {typ}[])"

    return key, (render(lists["s0"], "DOUBLE"), render(lists["b0"], "BOOLEAN"),
                 render(lists["s1"], "DOUBLE"), render(lists["b1"], "BOOLEAN"),
                 render(lists["u"], "BOOLEAN"))  # fmt: skip


def _lit(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):  # a DOUBLE exactly (a bare 0.07 would be a DECIMAL)
        return f"CAST('{v!r}' AS DOUBLE)"
    return "'" + str(v).replace("'", "''") + "'"


def _case(expr: str, mapping: dict, default: object, *, raw: bool = False) -> str:
    """``CASE expr WHEN key THEN value ... ELSE default END``; values are literals, or
    SQL when ``raw``; branches equal to the default are dropped."""
    val = (lambda v: v) if raw else _lit
    d = val(default)
    branches = [f"WHEN {_lit(k)} THEN {val(v)}" for k, v in mapping.items() if val(v) != d]
    return f"(CASE {expr} {' '.join(branches)} ELSE {d} END)" if branches else str(d)


def _in(keys: object) -> str:
    items = [_lit(str(k)) for k in keys]  # type: ignore[attr-defined]
    return ", ".join(items) if items else "NULL"


def agents_relation(agents: pd.DataFrame) -> pd.DataFrame:
    """``id, team`` typed for the join (object ids/teams from callers vary)."""
    last = agents.drop_duplicates("id", keep="last")  # like a dict built from the rows
    return pd.DataFrame({
        "id": pd.array(last["id"], dtype="Int64"),
        "team": last["team"].astype(object).where(last["team"].notna(), None),
    })  # fmt: skip
