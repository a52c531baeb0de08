"""Tables of the agent workspace: follows, notifications and who is looking at a case.

They hold working state of the web pages only; facts about cases stay in the event log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)

from somebound.store import lean
from somebound.store.accounts import _COLS as _AGENT_COLS
from somebound.store.accounts import AgentRow
from somebound.store.accounts import _digest as token_digest
from somebound.store.base import Id, UtcDateTime, metadata, utcnow
from somebound.store.tables import agents, api_tokens, cases

# An agent follows a case or a customer (as Salesforce Chatter does): they hear about it.
web_follows = Table(
    "web_follows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", Id, ForeignKey("agents.id"), nullable=False),
    Column("target_kind", String(16), nullable=False),  # case | customer
    Column("target_id", Id, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("agent_id", "target_kind", "target_id", name="uq_web_follows_target"),
)
Index("ix_web_follows_target", web_follows.c.target_kind, web_follows.c.target_id)

# What a follower is told. ``dedupe_key`` makes the notifier idempotent, so several API
# processes hearing the same change write one row per follower.
web_notifications = Table(
    "web_notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", Id, ForeignKey("agents.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # message | case
    Column("case_id", Id),
    Column("customer_id", Id),
    Column("message_id", Id),
    Column("text", Text, nullable=False),
    Column("dedupe_key", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("read", Boolean, nullable=False, default=False),
    UniqueConstraint("agent_id", "dedupe_key", name="uq_web_notifications_dedupe"),
)
Index("ix_web_notifications_agent", web_notifications.c.agent_id, web_notifications.c.read,
      web_notifications.c.id)

# Who has a case open right now (heartbeats): the collision warning reads it. A table,
# not process memory, so agents served by different API processes still see each other.
web_presence = Table(
    "web_presence",
    metadata,
    Column("case_id", Id, primary_key=True),
    Column("agent_id", Id, ForeignKey("agents.id"), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Column("composing", Boolean, nullable=False, default=False),
)

WEB_TABLES = (web_follows, web_notifications, web_presence)

# -- indexes the inbox list needs on the core ``cases`` table ------------------------------
# The inbox orders open cases by ``sla_due_at IS NULL, sla_due_at, id`` (most urgent first,
# no clock last). An expression index in exactly that order turns "the first 50 of 100k
# open cases" from a scan and a sort into reading the first index entries, with or without
# a queue. Not partial on purpose: a partial index (WHERE status IN ...) is ignored by
# PostgreSQL's generic plans for prepared statements. Solved and closed cases have no SLA
# clock, so they sort after every open case with one and cost nothing on the first pages.
# (Declared here because the web pages are the reason; created by migrations 0002/0003.)
#
# The other sorts ("last update", "opened") and "My cases" have their own index in the same
# shape; without them those pages sorted every open case (229 ms at 100k). The price:
# ``updated_at`` changes with every message, so a case update can no longer be a HOT update
# (every index of ``cases`` gets a new entry). ``ix_cases_assignee_sla_order`` also serves
# the supervisor's load per agent.
INBOX_INDEXES = (
    Index("ix_cases_sla_order", cases.c.sla_due_at.is_(None), cases.c.sla_due_at, cases.c.id),
    Index("ix_cases_queue_sla_order", cases.c.queue, cases.c.sla_due_at.is_(None),
          cases.c.sla_due_at, cases.c.id),
    Index("ix_cases_updated_order", cases.c.updated_at.is_(None), cases.c.updated_at,
          cases.c.id),
    Index("ix_cases_opened_order", cases.c.opened_at.is_(None), cases.c.opened_at, cases.c.id),
    Index("ix_cases_assignee_sla_order", cases.c.assignee_id, cases.c.sla_due_at.is_(None),
          cases.c.sla_due_at, cases.c.id),
)


# -- repositories -----------------------------------------------------------------------

FOLLOW_KINDS = ("case", "customer")


def _insert(conn: Connection, table: Table):  # noqa: ANN202
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def follow(conn: Connection, agent_id: int, kind: str, target_id: int) -> None:
    if kind not in FOLLOW_KINDS:
        raise ValueError(f"can follow a case or a customer, not {kind!r}")
    conn.execute(_insert(conn, web_follows).values(
        agent_id=agent_id, target_kind=kind, target_id=target_id, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["agent_id", "target_kind", "target_id"]))


def unfollow(conn: Connection, agent_id: int, kind: str, target_id: int) -> None:
    conn.execute(delete(web_follows).where(web_follows.c.agent_id == agent_id,
                                           web_follows.c.target_kind == kind,
                                           web_follows.c.target_id == target_id))


_FOLLOWING = select(web_follows.c.target_kind).where(
    web_follows.c.agent_id == bindparam("agent_id"),
    or_(and_(web_follows.c.target_kind == "case", web_follows.c.target_id == bindparam("case_id")),
        and_(web_follows.c.target_kind == "customer",
             web_follows.c.target_id == bindparam("customer_id"))))


def following(conn: Connection, agent_id: int, case_id: int,
              customer_id: int | None) -> dict[str, bool]:
    """Whether the agent follows this case and this customer (one indexed query)."""
    kinds = set(lean.scalars(conn, _FOLLOWING, {
        "agent_id": agent_id, "case_id": case_id, "customer_id": customer_id}))
    return {"case": "case" in kinds, "customer": "customer" in kinds}


def followers(conn: Connection, case_id: int | None,
              customer_id: int | None) -> dict[int, dict[str, datetime]]:
    """agent id -> what of this case/customer they follow ('case', 'customer') and since when.

    The time matters: the notifier may hear of a change after an agent started following,
    though the change was committed before; that agent must not be told about it.
    """
    targets = []
    if case_id is not None:
        targets.append(and_(web_follows.c.target_kind == "case",
                            web_follows.c.target_id == case_id))
    if customer_id is not None:
        targets.append(and_(web_follows.c.target_kind == "customer",
                            web_follows.c.target_id == customer_id))
    out: dict[int, dict[str, datetime]] = {}
    if not targets:
        return out
    for agent_id, kind, since in conn.execute(
            select(web_follows.c.agent_id, web_follows.c.target_kind, web_follows.c.created_at)
            .where(or_(*targets))):
        out.setdefault(int(agent_id), {})[kind] = since
    return out


def followed_cases(conn: Connection, case_ids: list[int]) -> set[int]:
    """Which of these cases anyone follows, directly or through the case's customer: one
    read, so that a batch of changes nobody follows (nearly all) costs no more."""
    if not case_ids:
        return set()
    return set(lean.scalars(conn, _FOLLOWED, {"ids": case_ids}))


_FOLLOWED = select(cases.c.id).where(
    cases.c.id.in_(bindparam("ids", expanding=True)),
    exists().where(or_(
        and_(web_follows.c.target_kind == "case", web_follows.c.target_id == cases.c.id),
        and_(web_follows.c.target_kind == "customer",
             web_follows.c.target_id == cases.c.customer_id))))


def add_notifications(conn: Connection, rows: list[dict]) -> int:
    """Insert notifications, skipping any (agent, dedupe_key) already written; returns new."""
    new = 0
    for row in rows:
        res = conn.execute(_insert(conn, web_notifications).values(
            read=False, created_at=row.get("created_at") or utcnow(),
            **{k: v for k, v in row.items() if k != "created_at"},
        ).on_conflict_do_nothing(index_elements=["agent_id", "dedupe_key"]))
        new += res.rowcount or 0
    return new


UNREAD_CAP = 100


# Who is asking and their unread badge, in one round trip (every page needs both).
_UNREAD = (select(web_notifications.c.id)
           .where(web_notifications.c.agent_id == agents.c.id,
                  web_notifications.c.read.is_(False))
           .limit(UNREAD_CAP).correlate(agents).subquery())
_PAGE_AGENT = (
    select(*_AGENT_COLS,
           select(func.count()).select_from(_UNREAD).scalar_subquery().label("unread"))
    .join(api_tokens, api_tokens.c.agent_id == agents.c.id)
    .where(api_tokens.c.token_sha256 == bindparam("digest"), api_tokens.c.revoked.is_(False),
           agents.c.active.is_(True)))


def page_agent(conn: Connection, token: str) -> tuple[AgentRow, int] | None:
    """The agent a session token belongs to (None: unknown or revoked) and how many unread
    notifications they have (counted up to :data:`UNREAD_CAP`)."""
    found = lean.rows(conn, _PAGE_AGENT, {"digest": token_digest(token)})[1]
    if not found:
        return None
    row = found[0]
    return AgentRow(*row[:-1]), int(row[-1] or 0)


def unread_count(conn: Connection, agent_id: int, cap: int = 100) -> int:
    """Unread notifications, counted up to ``cap`` (the badge says 99+ beyond that)."""
    sub = (select(web_notifications.c.id).where(web_notifications.c.agent_id == agent_id,
                                                web_notifications.c.read.is_(False))
           .limit(cap).subquery())
    return int(conn.execute(select(func.count()).select_from(sub)).scalar() or 0)


def list_notifications(conn: Connection, agent_id: int, limit: int = 50) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(
        select(web_notifications).where(web_notifications.c.agent_id == agent_id)
        .order_by(web_notifications.c.id.desc()).limit(limit))]


def mark_read(conn: Connection, agent_id: int, ids: list[int] | None = None) -> None:
    stmt = update(web_notifications).where(web_notifications.c.agent_id == agent_id,
                                           web_notifications.c.read.is_(False))
    if ids is not None:
        stmt = stmt.where(web_notifications.c.id.in_(ids))
    conn.execute(stmt.values(read=True))


def touch_presence(conn: Connection, case_id: int, agent_id: int, composing: bool = False,
                   at: datetime | None = None) -> None:
    at = at or utcnow()
    conn.execute(_insert(conn, web_presence).values(
        case_id=case_id, agent_id=agent_id, seen_at=at, composing=composing,
    ).on_conflict_do_update(index_elements=["case_id", "agent_id"],
                            set_={"seen_at": at, "composing": composing}))


def leave_case(conn: Connection, case_id: int, agent_id: int) -> None:
    conn.execute(delete(web_presence).where(web_presence.c.case_id == case_id,
                                            web_presence.c.agent_id == agent_id))


_OTHERS_ON_CASE = (
    select(web_presence.c.agent_id, agents.c.display_name, web_presence.c.composing,
           web_presence.c.seen_at)
    .join(agents, agents.c.id == web_presence.c.agent_id)
    .where(web_presence.c.case_id == bindparam("case_id"),
           web_presence.c.agent_id != bindparam("agent_id"),
           web_presence.c.seen_at >= bindparam("since", type_=web_presence.c.seen_at.type))
    .order_by(agents.c.display_name))


def others_on_case(conn: Connection, case_id: int, agent_id: int, fresh_seconds: float = 45,
                   now: datetime | None = None) -> list[dict]:
    """Other agents with this case open in the last ``fresh_seconds`` (the collision list)."""
    since = (now or utcnow()) - timedelta(seconds=fresh_seconds)
    return lean.dicts(conn, _OTHERS_ON_CASE, {"case_id": case_id, "agent_id": agent_id,
                                              "since": since})
