"""Contact facts: one row per case, folded from the event log by one DuckDB query.

Every KPI is an aggregate over these rows, so the definitions live here once:

- a *contact* is a case; it belongs to the period (and hour/day/week) it was **opened**
  in, and only events before the period end are seen, so last week's report does not
  change when this week happens;
- *first response* is the first ``first_response`` or ``call_answered`` event; it is only
  defined for inbound and somebound contacts (an outbound contact starts with our message);
- *responded*: inbound/somebound — we answered; outbound — the customer answered us;
- *handled*: some agent work happened (a message sent or a call answered/made);
- *handling seconds*: ``message_sent.handling_seconds`` + ``call_ended`` talk + wrap;
- *reach* (who saw the answer): 1 for a private contact we handled; for a public thread the
  distinct authors plus the public engagement on our answers, counted as
  ``max(views, likes + replies + shares)`` of the latest reading per answer (views already
  include most people who liked, so adding them would count people twice; channels that
  report no views fall back to the engagement count as a lower bound).

Business-time columns, SLA attainment and costs are added afterwards in SQL
(:mod:`somebound.metrics.enrich_sql`) because they depend on policy, which may change.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from somebound.metrics.config import CostModel

CASE_FACTS_SQL = """
WITH opened_rows AS MATERIALIZED (
    SELECT case_id, "at", channel, bound, customer_id, queue, priority, language, public
    FROM ev
    WHERE type = 'case_opened' AND case_id IS NOT NULL AND "at" >= $start AND "at" < $end
),
-- A case has one case_opened (and one case_routed) almost always: such rows are taken as
-- they are, and only the few cases with several are aggregated (the earliest opening,
-- the latest routing). A GROUP BY with arg_min/arg_max over every case cost ~4x more.
opened_twice AS (SELECT case_id FROM opened_rows GROUP BY case_id HAVING count(*) > 1),
opened AS MATERIALIZED (
    SELECT case_id, "at" AS opened_at, channel, bound, customer_id, queue AS opened_queue,
           priority AS opened_priority, language, public
    FROM opened_rows WHERE case_id NOT IN (SELECT case_id FROM opened_twice)
    UNION ALL
    SELECT case_id, opened_at, o.channel, o.bound, o.customer_id, o.queue, o.priority,
           o.language, o.public
    FROM (
        SELECT case_id, min("at") AS opened_at,
               arg_min({'channel': channel, 'bound': bound, 'customer_id': customer_id,
                        'queue': queue, 'priority': priority, 'language': language,
                        'public': public}, "at") AS o
        FROM opened_rows WHERE case_id IN (SELECT case_id FROM opened_twice)
        GROUP BY case_id
    )
),
-- Every later fact of a contact opened in the period happens in [start, end): scanning
-- only that slice keeps a one-day query cheap on a years-long log. Each fact family is
-- folded over its own (small) slice of event types, then joined per case. (No shared
-- CTE for the slice: each family scans only the columns it needs.)
routed_rows AS MATERIALIZED (
    SELECT case_id, "at", queue, sla_seconds, priority
    FROM ev WHERE {slice} AND type = 'case_routed'
),
routed_twice AS (SELECT case_id FROM routed_rows GROUP BY case_id HAVING count(*) > 1),
routed AS (
    SELECT case_id, queue AS routed_queue, sla_seconds AS event_sla_seconds,
           priority AS routed_priority
    FROM routed_rows WHERE case_id NOT IN (SELECT case_id FROM routed_twice)
    UNION ALL
    SELECT case_id, arg_max(queue, "at"), arg_max(sla_seconds, "at"), arg_max(priority, "at")
    FROM routed_rows WHERE case_id IN (SELECT case_id FROM routed_twice) GROUP BY case_id
),
responded AS (
    SELECT case_id, min("at") AS first_response_at,
           arg_min(agent_id, "at") FILTER (WHERE agent_id IS NOT NULL) AS responder_id,
           count(*) FILTER (WHERE type = 'call_answered') AS calls_answered
    FROM ev WHERE {slice} AND type IN ('first_response', 'call_answered') GROUP BY case_id
),
assigned AS (
    SELECT case_id, arg_max(assigned_agent_id, "at") AS assignee_id
    FROM ev WHERE {slice} AND type = 'case_assigned' GROUP BY case_id
),
status AS (
    SELECT case_id,
           min("at") FILTER (WHERE type = 'case_status_changed' AND status_to = 'solved')
               AS solved_at,
           count(*) FILTER (WHERE type = 'case_reopened') AS reopens,
           count(*) FILTER (WHERE type = 'parallel_contact') > 0 AS parallel,
           min("at") FILTER (WHERE type = 'call_abandoned') AS abandoned_at
    FROM ev
    WHERE {slice} AND type IN ('case_status_changed', 'case_reopened', 'parallel_contact', 'call_abandoned')
    GROUP BY case_id
),
work AS (
    -- handling_seconds is only set on message_sent, talk/wrap only on call_ended.
    SELECT case_id,
        count(*) FILTER (WHERE type = 'message_sent') AS messages_sent,
        count(*) FILTER (WHERE type = 'message_received') AS messages_received,
        count(*) FILTER (WHERE type = 'call_ended') AS calls_ended,
        coalesce(bool_or(public AND type = 'message_sent'), false) AS public_answer,
        sum(coalesce(handling_seconds, 0) + coalesce(talk_seconds, 0)
            + coalesce(wrap_seconds, 0)) AS handling_seconds,
        sum((coalesce(handling_seconds, 0) + coalesce(talk_seconds, 0)
             + coalesce(wrap_seconds, 0)) * coalesce(r.hourly, $default_hourly))
            AS agent_cost_x3600,
        coalesce(sum(talk_seconds), 0) AS talk_seconds,
        coalesce(sum(CASE WHEN $round_up THEN ceil(talk_seconds / 60.0)
                          ELSE talk_seconds / 60.0 END), 0) AS billed_minutes,
        arg_min(e.agent_id, "at") FILTER (
            WHERE e.agent_id IS NOT NULL AND type <> 'message_received'
        ) AS first_worker_id
    FROM ev e LEFT JOIN agent_rates r ON r.agent_id = e.agent_id
    WHERE {slice} AND type IN ('message_sent', 'message_received', 'call_ended')
    GROUP BY case_id
),
authors AS (
    SELECT case_id, count(DISTINCT author) AS authors
    FROM ev WHERE {slice} AND type = 'message_received' GROUP BY case_id
),
engagement AS (
    SELECT case_id,
           sum(greatest(coalesce(views, 0),
                        coalesce(likes, 0) + coalesce(replies, 0) + coalesce(shares, 0)))
               AS engagement
    FROM (
        SELECT case_id, target_message_id,
               arg_max(likes, "at") AS likes, arg_max(replies, "at") AS replies,
               arg_max(views, "at") AS views, arg_max(shares, "at") AS shares
        FROM ev WHERE {slice} AND type = 'engagement_recorded'
        GROUP BY case_id, target_message_id
    )
    GROUP BY case_id
)
SELECT o.case_id, o.customer_id, o.channel, o.bound,
       coalesce(rt.routed_queue, o.opened_queue) AS queue,
       coalesce(rt.routed_priority, o.opened_priority) AS priority,
       o.language, coalesce(o.public, false) AS public,
       coalesce(rs.responder_id, w.first_worker_id, a.assignee_id) AS agent_id,
       o.opened_at, rt.event_sla_seconds,
       CASE WHEN o.bound IS DISTINCT FROM 'outbound' THEN rs.first_response_at END
           AS first_response_at,
       st.abandoned_at IS NOT NULL AND coalesce(rs.calls_answered, 0) = 0 AS abandoned,
       st.abandoned_at, st.solved_at, coalesce(st.reopens, 0) AS reopens,
       coalesce(st.parallel, false) AS parallel,
       coalesce(w.messages_sent, 0) AS messages_sent,
       coalesce(w.messages_received, 0) AS messages_received,
       coalesce(w.calls_ended, 0) AS calls_ended, coalesce(au.authors, 0) AS authors,
       coalesce(w.public_answer, false) AS public_answer,
       coalesce(w.handling_seconds, 0) AS handling_seconds,
       coalesce(w.agent_cost_x3600, 0) / 3600.0 AS agent_cost,
       coalesce(w.talk_seconds, 0) AS talk_seconds,
       coalesce(w.billed_minutes, 0) AS billed_minutes,
       CAST(coalesce(g.engagement, 0) AS DOUBLE) AS engagement
FROM opened o
LEFT JOIN routed rt USING (case_id)
LEFT JOIN responded rs USING (case_id)
LEFT JOIN assigned a USING (case_id)
LEFT JOIN status st USING (case_id)
LEFT JOIN work w USING (case_id)
LEFT JOIN authors au USING (case_id)
LEFT JOIN engagement g USING (case_id)
""".replace("{slice}", 'case_id IS NOT NULL AND "at" >= $start AND "at" < $end')


def agent_rates(cost: CostModel, agents: pd.DataFrame | None) -> pd.DataFrame:
    """``agent_id -> hourly`` with agent overrides over team rates (default elsewhere)."""
    rows: dict[int, float] = {}
    if agents is not None and len(agents):
        teams = agents["team"].astype("string").fillna("")
        for aid, team in zip(agents["id"].astype("int64"), teams, strict=True):
            if team in cost.team_hourly:
                rows[int(aid)] = cost.team_hourly[team]
    rows.update(cost.agent_hourly)
    return pd.DataFrame(
        {"agent_id": pd.Series(list(rows), dtype="int64"),
         "hourly": pd.Series(list(rows.values()), dtype="float64")}
    )  # fmt: skip


def fold_into_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    start: datetime,
    end: datetime,
    cost: CostModel,
    agents: pd.DataFrame | None,
) -> None:
    """Run :data:`CASE_FACTS_SQL` over the prepared ``ev`` view of ``con`` into the temp
    table ``name``, which later queries read as a relation."""
    con.register("agent_rates", agent_rates(cost, agents))
    try:
        con.execute(
            f"CREATE TEMP TABLE {name} AS {CASE_FACTS_SQL}",
            {"start": _naive_utc(start), "end": _naive_utc(end),
             "default_hourly": cost.default_hourly, "round_up": cost.round_up_minutes},
        )  # fmt: skip
    finally:
        con.unregister("agent_rates")


# The columns CASE_FACTS_SQL returns, in order (the policy-free per-contact fold).
FOLD_COLUMNS = (
    "case_id", "customer_id", "channel", "bound", "queue", "priority", "language", "public",
    "agent_id", "opened_at", "event_sla_seconds", "first_response_at", "abandoned",
    "abandoned_at", "solved_at", "reopens", "parallel", "messages_sent", "messages_received",
    "calls_ended", "authors", "public_answer", "handling_seconds", "agent_cost",
    "talk_seconds", "billed_minutes", "engagement",
)  # fmt: skip


def cost_fingerprint(cost: CostModel, agents: pd.DataFrame | None) -> str:
    """The only policy the fold itself depends on (agent pricing), as a stable string.

    The warehouse's ``fact_contact`` stores it; a query under another pricing refolds.
    """
    import json

    rates = agent_rates(cost, agents).sort_values("agent_id")
    return json.dumps({
        "default_hourly": float(cost.default_hourly), "round_up": bool(cost.round_up_minutes),
        "rates": [[int(a), float(h)] for a, h in zip(rates["agent_id"], rates["hourly"],
                                                     strict=True)],
    }, sort_keys=True)  # fmt: skip


def _naive_utc(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None)
