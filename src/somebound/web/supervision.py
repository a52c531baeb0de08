"""The supervisor's figures: queue health now, agents' load, today's volumes and FRT.

Queue health reads the indexed case columns (status, sla_due_at) and the denormalised
``queues.open_count``; today's volumes and first-response times are one GROUP BY over
the event log (the same facts every KPI comes from).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select

from somebound.core.enums import CaseStatus, EventType
from somebound.store import lean
from somebound.store.tables import agents, cases, events, queues

OPEN = [s.value for s in CaseStatus if s.is_open]
AT_RISK = timedelta(minutes=15)


def queue_health(conn: Connection, now: datetime) -> list[dict]:
    """Per queue: open cases, waiting for us, oldest waiting, SLA breached and at risk."""
    soon = now + AT_RISK
    stats = {r.queue: r for r in conn.execute(
        select(cases.c.queue,
               func.count(cases.c.awaiting_since).label("waiting"),
               func.min(cases.c.awaiting_since).label("oldest"),
               func.sum(case((cases.c.sla_due_at < now, 1), else_=0)).label("breached"),
               func.sum(case((and_(cases.c.sla_due_at >= now, cases.c.sla_due_at < soon), 1),
                             else_=0)).label("at_risk"))
        .where(cases.c.status.in_(OPEN), cases.c.awaiting_since.is_not(None))
        .group_by(cases.c.queue))}
    out = []
    for q in conn.execute(select(queues.c.name, queues.c.team, queues.c.open_count)
                          .order_by(queues.c.name)):
        s = stats.get(q.name)
        oldest = s.oldest if s else None
        out.append({"queue": q.name, "team": q.team, "open": q.open_count,
                    "waiting": int(s.waiting or 0) if s else 0,
                    "oldest": oldest,
                    "oldest_seconds": (now - oldest).total_seconds() if oldest else None,
                    "breached": int(s.breached or 0) if s else 0,
                    "at_risk": int(s.at_risk or 0) if s else 0})
    return out


def agent_load(conn: Connection) -> list[dict]:
    """Active agents, whether they are available, and how many open cases they hold."""
    load = dict(conn.execute(select(cases.c.assignee_id, func.count())
                             .where(cases.c.status.in_(OPEN), cases.c.assignee_id.is_not(None))
                             .group_by(cases.c.assignee_id)).all())
    return [{"id": a.id, "name": a.display_name, "team": a.team, "role": a.role,
             "available": bool(a.available), "load": int(load.get(a.id, 0)),
             "max_load": a.max_load}
            for a in conn.execute(select(agents).where(agents.c.active.is_(True))
                                  .order_by(agents.c.display_name))]


@dataclass
class VolumeRow:
    channel: str
    bound: str
    received: int
    sent: int
    opened: int
    first_responses: int
    frt_avg_seconds: float | None


def today_volumes(conn: Connection, start: datetime, end: datetime) -> list[VolumeRow]:
    """Messages in and out, cases opened and first-response time by channel × bound."""
    seconds = events.c.data["seconds"].as_float()
    t = events.c.type
    rows = conn.execute(
        select(events.c.channel, events.c.bound,
               func.sum(case((t == EventType.MESSAGE_RECEIVED.value, 1), else_=0)),
               func.sum(case((t == EventType.MESSAGE_SENT.value, 1), else_=0)),
               func.sum(case((t == EventType.CASE_OPENED.value, 1), else_=0)),
               func.sum(case((t == EventType.FIRST_RESPONSE.value, 1), else_=0)),
               func.avg(case((t == EventType.FIRST_RESPONSE.value, seconds), else_=None)))
        .where(t.in_([EventType.MESSAGE_RECEIVED.value, EventType.MESSAGE_SENT.value,
                      EventType.CASE_OPENED.value, EventType.FIRST_RESPONSE.value]),
               events.c.at >= start, events.c.at < end)
        .group_by(events.c.channel, events.c.bound)
        .order_by(events.c.channel, events.c.bound))
    return [VolumeRow(r[0] or "?", r[1] or "?", int(r[2] or 0), int(r[3] or 0), int(r[4] or 0),
                      int(r[5] or 0), float(r[6]) if r[6] is not None else None) for r in rows]


# Every page's spike banner runs this: built once, values bound (see api.queries).
_SPIKE_EVENTS = (select(events.c.id, events.c.type, events.c.at, events.c.data)
                 .where(or_(events.c.type == EventType.SPIKE_RAISED.value,
                            events.c.type == EventType.SPIKE_CLEARED.value),
                        events.c.at >= bindparam("since", type_=events.c.at.type))
                 .order_by(events.c.at, events.c.id))


def open_spikes(conn: Connection, now: datetime, app_state: object | None = None,
                lookback: timedelta = timedelta(hours=24)) -> list[dict]:
    """Spikes raised and not yet cleared: the event log's (every process writes there) plus
    any the in-process listening detector holds that are not logged yet."""
    listening = getattr(app_state, "listening", None) if app_state is not None else None
    detector = getattr(listening, "spikes", None)
    active = getattr(detector, "active", None) or getattr(listening, "open_spikes", None)
    live: list[dict] = []
    if callable(active):
        for sp in active():
            sp = dict(sp) if isinstance(sp, dict) else vars(sp)
            since = sp.get("since") or sp.get("at")
            sp["at"] = datetime.fromisoformat(since) if isinstance(since, str) else since
            sp.setdefault("label", f"{sp.get('key')} ({sp.get('metric', 'volume')})")
            live.append(sp)
    open_: dict[str, dict] = {}
    for _id, type_, at, data in lean.rows(conn, _SPIKE_EVENTS, {"since": now - lookback})[1]:
        data = data or {}
        key = str(data.get("key") or data.get("topic") or "spike")
        if type_ == EventType.SPIKE_RAISED.value:
            open_[key] = {"key": key, "at": at, **data}
        else:
            open_.pop(key, None)
    for sp in live:
        open_.setdefault(str(sp.get("key") or "spike"), sp)
    return list(open_.values())
