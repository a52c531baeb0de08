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

Business-time columns, SLA attainment and costs are added afterwards in NumPy
(:mod:`somebound.metrics.kpis`) because they depend on policy, which may change.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from somebound.metrics.config import CostModel

CASE_FACTS_SQL = """
WITH e AS (
    SELECT * FROM ev WHERE case_id IS NOT NULL AND "at" < $end
),
opened AS (
    SELECT case_id,
           min("at") AS opened_at,
           arg_min(channel, "at") AS channel,
           arg_min(bound, "at") AS bound,
           arg_min(customer_id, "at") AS customer_id,
           arg_min(queue, "at") AS opened_queue,
           arg_min(priority, "at") AS opened_priority,
           arg_min(language, "at") AS language,
           arg_min(public, "at") AS public
    FROM e WHERE type = 'case_opened'
    GROUP BY case_id
    HAVING min("at") >= $start
),
rates AS (SELECT * FROM agent_rates),
work AS (
    SELECT e.*, coalesce(r.hourly, $default_hourly) AS hourly
    FROM e JOIN opened USING (case_id)
    LEFT JOIN rates r ON r.agent_id = e.agent_id
),
agg AS (
    SELECT case_id,
        arg_max(queue, "at") FILTER (WHERE type = 'case_routed') AS routed_queue,
        arg_max(sla_seconds, "at") FILTER (WHERE type = 'case_routed') AS event_sla_seconds,
        arg_max(priority, "at") FILTER (WHERE type = 'case_routed') AS routed_priority,
        min("at") FILTER (WHERE type IN ('first_response', 'call_answered'))
            AS first_response_at,
        arg_min(agent_id, "at") FILTER (
            WHERE type IN ('first_response', 'call_answered') AND agent_id IS NOT NULL
        ) AS responder_id,
        arg_max(assigned_agent_id, "at") FILTER (WHERE type = 'case_assigned')
            AS assignee_id,
        arg_min(agent_id, "at") FILTER (
            WHERE type IN ('message_sent', 'call_ended') AND agent_id IS NOT NULL
        ) AS first_worker_id,
        min("at") FILTER (WHERE type = 'call_abandoned') AS abandoned_at,
        count(*) FILTER (WHERE type = 'call_answered') AS calls_answered,
        min("at") FILTER (WHERE type = 'case_status_changed' AND status_to = 'solved')
            AS solved_at,
        count(*) FILTER (WHERE type = 'case_reopened') AS reopens,
        count(*) FILTER (WHERE type = 'parallel_contact') > 0 AS parallel,
        count(*) FILTER (WHERE type = 'message_sent') AS messages_sent,
        count(*) FILTER (WHERE type = 'message_received') AS messages_received,
        count(*) FILTER (WHERE type = 'call_ended') AS calls_ended,
        count(DISTINCT author) FILTER (WHERE type = 'message_received') AS authors,
        coalesce(bool_or(public) FILTER (WHERE type = 'message_sent'), false)
            AS public_answer,
        coalesce(sum(handling_seconds) FILTER (WHERE type = 'message_sent'), 0)
          + coalesce(sum(coalesce(talk_seconds, 0) + coalesce(wrap_seconds, 0))
                     FILTER (WHERE type = 'call_ended'), 0) AS handling_seconds,
        coalesce(sum(handling_seconds * hourly) FILTER (WHERE type = 'message_sent'), 0)
          + coalesce(sum((coalesce(talk_seconds, 0) + coalesce(wrap_seconds, 0)) * hourly)
                     FILTER (WHERE type = 'call_ended'), 0) AS agent_cost_x3600,
        coalesce(sum(talk_seconds) FILTER (WHERE type = 'call_ended'), 0) AS talk_seconds,
        coalesce(sum(CASE WHEN $round_up THEN ceil(talk_seconds / 60.0)
                          ELSE talk_seconds / 60.0 END)
                 FILTER (WHERE type = 'call_ended'), 0) AS billed_minutes
    FROM work
    GROUP BY case_id
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
        FROM e JOIN opened USING (case_id)
        WHERE type = 'engagement_recorded'
        GROUP BY case_id, target_message_id
    )
    GROUP BY case_id
)
SELECT o.case_id, o.customer_id, o.channel, o.bound,
       coalesce(a.routed_queue, o.opened_queue) AS queue,
       coalesce(a.routed_priority, o.opened_priority) AS priority,
       o.language, coalesce(o.public, false) AS public,
       coalesce(a.responder_id, a.first_worker_id, a.assignee_id) AS agent_id,
       o.opened_at, a.event_sla_seconds,
       CASE WHEN o.bound <> 'outbound' THEN a.first_response_at END AS first_response_at,
       a.abandoned_at IS NOT NULL AND a.calls_answered = 0 AS abandoned,
       a.abandoned_at, a.solved_at, a.reopens, a.parallel,
       a.messages_sent, a.messages_received, a.calls_ended, a.authors, a.public_answer,
       a.handling_seconds, a.agent_cost_x3600 / 3600.0 AS agent_cost,
       a.talk_seconds, a.billed_minutes,
       coalesce(g.engagement, 0) AS engagement
FROM opened o JOIN agg a USING (case_id)
LEFT JOIN engagement g USING (case_id)
"""


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


def case_facts_frame(
    con: duckdb.DuckDBPyConnection,
    start: datetime,
    end: datetime,
    cost: CostModel,
    agents: pd.DataFrame | None,
) -> pd.DataFrame:
    """Run :data:`CASE_FACTS_SQL` over the prepared ``ev`` view of ``con``."""
    con.register("agent_rates", agent_rates(cost, agents))
    return con.execute(
        CASE_FACTS_SQL,
        {
            "start": _naive_utc(start),
            "end": _naive_utc(end),
            "default_hourly": cost.default_hourly,
            "round_up": cost.round_up_minutes,
        },
    ).df()


def _naive_utc(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None)
