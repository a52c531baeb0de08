"""Critic -> advocate from the hub's store: did answering a critic turn them around?

:func:`somebound.listening.influence.critic_to_advocate` is the pure computation (per
author: mean sentiment before and after the company's first answer; critics, converted
and their share per channel and team). This module feeds it from the ``messages`` /
``cases`` / ``agents`` / ``queues`` tables:

* an author's messages are the inbound (``direction = 'in'``), non-company messages
  with their ``author_key``; their sentiment is the score listening stored with the
  message (``messages.insights.sentiment.score``) or, for messages stored without
  insights (listening disabled, older rows, imports), the shipped model's score
  computed now in one vectorised pass (in the stored ``language`` when known);
* the company's answer to an author is the first outbound, non-note message in a case
  where the author wrote before it; the earliest such answer over the author's cases
  counts. Its team is the answering agent's team, else the team of the case's queue;
* the channel is the one the author used before the answer.

It only reads; SQL is the edge here, the arithmetic stays in ``influence``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from somebound.listening.influence import AuthorTurn, SentimentPoint, critic_to_advocate
from somebound.store.tables import agents, cases, messages, queues

# texts, languages (None = detect) -> sentiment scores in -1..1
Scorer = Callable[[Sequence[str], Sequence[str | None]], list[float]]


@dataclass(frozen=True, slots=True)
class CriticReport:
    turns: list[AuthorTurn]
    by_channel: dict[str, dict[str, float]]
    by_team: dict[str, dict[str, float]]
    scored_now: int  # messages without stored insights, scored at query time

    def totals(self) -> dict[str, float]:
        critics = sum(1 for t in self.turns if t.critic and t.after is not None)
        converted = sum(1 for t in self.turns if t.converted)
        return {"critics": critics, "converted": converted,
                "share": round(converted / critics, 4) if critics else 0.0}


def stored_score(insights: Any) -> float | None:
    """The sentiment score listening stored with a message, if any."""
    if isinstance(insights, dict):
        s = insights.get("sentiment")
        if isinstance(s, dict) and isinstance(s.get("score"), int | float):
            return float(s["score"])
    return None


def critic_report(
    conn: Connection,
    score: Scorer,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    critic_below: float = -0.2,
    neutral_at_least: float = -0.05,
) -> CriticReport:
    """Read authors' messages and the company's first answers; compute the turns."""
    m = messages.c
    where = [m.direction == "in", m.is_company.is_(False), m.author_key.is_not(None),
             m.kind != "note"]
    if since is not None:
        where.append(m.sent_at >= since)
    if until is not None:
        where.append(m.sent_at < until)
    if channel is not None:
        where.append(m.channel == channel)
    inbound = conn.execute(
        select(m.case_id, m.channel, m.author_key, m.sent_at, m.subject, m.body, m.language,
               m.insights).where(*where).order_by(m.sent_at, m.id)
    ).all()
    if not inbound:
        return CriticReport([], {}, {}, 0)
    case_ids = sorted({r.case_id for r in inbound})
    first_answer = _first_answers(conn, case_ids, until)

    scores: list[float | None] = [stored_score(r.insights) for r in inbound]
    missing = [i for i, s in enumerate(scores) if s is None]
    if missing:
        texts = [_text(inbound[i]) for i in missing]
        for i, s in zip(missing, score(texts, [inbound[i].language for i in missing]), strict=True):
            scores[i] = s

    points = [SentimentPoint(r.author_key, r.sent_at, float(s), r.channel)  # type: ignore[arg-type]
              for r, s in zip(inbound, scores, strict=True)]
    answered: dict[str, tuple[datetime, str | None]] = {}
    for r in inbound:
        ans = first_answer.get(r.case_id)
        if ans is None or not r.sent_at < ans[0]:
            continue  # no answer in that case yet, or the author wrote only after it
        old = answered.get(r.author_key)
        if old is None or ans[0] < old[0]:
            answered[r.author_key] = ans
    turns, summary = critic_to_advocate(points, answered, critic_below=critic_below,
                                        neutral_at_least=neutral_at_least)
    return CriticReport(turns, summary["channel"], summary["team"], len(missing))


def _text(row: Any) -> str:
    return row.body if not row.subject else f"{row.subject}\n{row.body}"


def _first_answers(conn: Connection, case_ids: list[int],
                   until: datetime | None) -> dict[int, tuple[datetime, str | None]]:
    """case id -> (time of the company's first answer, team that gave it)."""
    m = messages.c
    out: dict[int, tuple[datetime, str | None]] = {}
    for lo in range(0, len(case_ids), 500):  # keep IN lists modest on every database
        chunk = case_ids[lo:lo + 500]
        where = [m.case_id.in_(chunk), m.direction == "out", m.kind != "note"]
        if until is not None:
            where.append(m.sent_at < until)
        rows = conn.execute(
            select(m.case_id, m.sent_at, m.meta, agents.c.team.label("agent_team"),
                   queues.c.team.label("queue_team"))
            .select_from(messages.join(cases, cases.c.id == m.case_id)
                         .outerjoin(agents, agents.c.id == m.agent_id)
                         .outerjoin(queues, queues.c.name == cases.c.queue))
            .where(*where).order_by(m.case_id, m.sent_at, m.id)
        ).all()
        for r in rows:
            # an agent reply still sending, or refused by the channel, answered nobody
            if (r.meta or {}).get("delivery", "sent") != "sent":
                continue
            if r.case_id not in out:
                out[r.case_id] = (r.sent_at, r.agent_team or r.queue_team)
    return out
