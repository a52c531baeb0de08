"""The durable inbox: raw payloads are committed here before any sender gets its ack.

Processing claims pending rows in the same transaction that writes their results, so a
worker that dies mid-way leaves its rows pending for the next one (PostgreSQL:
``FOR UPDATE SKIP LOCKED`` lets many workers share the inbox; SQLite has one writer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Select, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from somebound.store import lean
from somebound.store.base import utcnow
from somebound.store.tables import dead_letters, raw_inbox

MAX_ATTEMPTS = 5
NOTIFY_CHANNEL = "somebound_inbox"  # PostgreSQL: a payload was accepted (api/worker.py)


@dataclass(frozen=True)
class RawItem:
    id: int
    channel: str
    source: str
    payload: bytes
    headers: dict


def accept(engine: Engine, channel: str, source: str, payload: bytes,
           headers: Mapping[str, str] | None = None) -> tuple[int, bool]:
    """Store a payload durably; returns (inbox id, was_new).

    The same bytes delivered twice map to the same row, so a sender's retry after a
    lost ack is harmless even before message-level idempotency kicks in.
    """
    with engine.begin() as conn:
        return accept_many(conn, [Accept(channel, source, payload, headers)])[0]


@dataclass(frozen=True)
class Accept:
    """One payload to keep: what :func:`accept_many` takes."""

    channel: str
    source: str
    payload: bytes
    headers: Mapping[str, str] | None = None


def accept_many(conn: Connection, items: list[Accept]) -> list[tuple[int, bool]]:
    """Store payloads in one transaction (one commit, one disk sync for all of them);
    (inbox id, was_new) for each, in order. A payload already stored, or twice in
    ``items``, maps to the one row.

    One prebuilt ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per distinct payload, on
    the driver's cursor (:mod:`somebound.store.lean`): the committer holds the write lock
    while they run, and a group is one or two payloads at steady load. PostgreSQL gets
    them and the ``BEGIN`` before them in one round trip (:func:`lean.rows_together`);
    each row stored there also sends ``NOTIFY`` (delivered once, at commit), which wakes
    other processes' workers, and a payload stored before wakes none. Only payloads that
    were stored before are looked up afterwards.
    """
    digests = [hashlib.sha256(a.payload).hexdigest() for a in items]
    new_rows: dict[tuple[str, str], dict] = {}
    now = utcnow()
    for a, digest in zip(items, digests, strict=True):
        key = (a.channel, digest)
        if key not in new_rows:
            new_rows[key] = {"channel": a.channel, "source": a.source, "payload_sha256": digest,
                             "payload": a.payload, "headers": dict(a.headers or {}),
                             "received_at": now, "status": "pending", "attempts": 0}
    insert_new = _insert_new(conn)  # one statement whatever the group size
    fresh = {}
    for returned in lean.rows_together(conn, [(insert_new, row) for row in new_rows.values()]):
        for id_, channel, digest, *_ in returned:
            fresh[(channel, digest)] = int(id_)
    known: dict[tuple[str, str], int] = {}
    if len(fresh) < len(new_rows):  # some were stored before: their rows' ids
        stored = new_rows.keys() - fresh.keys()
        known = {(channel, digest): int(id_) for id_, channel, digest in lean.rows(conn, _KNOWN, {
            "channels": sorted({c for c, _ in stored}), "digests": sorted({d for _, d in stored})})[1]}
    out, seen = [], set()
    for a, digest in zip(items, digests, strict=True):
        key = (a.channel, digest)
        if key in fresh and key not in seen:
            seen.add(key)
            out.append((fresh[key], True))
        else:
            out.append((fresh.get(key) or known[key], False))
    return out


def _insert_new(conn: Connection):  # noqa: ANN202
    return _INSERT_NEW_PG if conn.dialect.name == "postgresql" else _INSERT_NEW_SQLITE


def dead_letter(engine_or_conn: Engine | Connection, channel: str, source: str, payload: bytes,
                reason: str, headers: Mapping[str, str] | None = None,
                raw_inbox_id: int | None = None) -> int:
    """Keep a rejected payload with the reason it was rejected."""
    stmt = insert(dead_letters).values(
        channel=channel, source=source, reason=reason, payload=payload,
        headers=dict(headers or {}), received_at=utcnow(), raw_inbox_id=raw_inbox_id,
    )
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return int(conn.execute(stmt).inserted_primary_key[0])
    return int(engine_or_conn.execute(stmt).inserted_primary_key[0])


# The worker's statements, built once (a reused statement keeps its compiled form).
_IDS = bindparam("ids", expanding=True)
_PENDING = (
    select(raw_inbox.c.id, raw_inbox.c.channel, raw_inbox.c.source, raw_inbox.c.payload,
           raw_inbox.c.headers)
    .where(raw_inbox.c.status == "pending")
    .order_by(raw_inbox.c.id)
    .limit(bindparam("limit"))
)
_PENDING_LOCKED = _PENDING.with_for_update(skip_locked=True)
_PENDING_AFTER = _PENDING.where(raw_inbox.c.id > bindparam("after"))
_PENDING_WITHIN = _PENDING_AFTER.where(raw_inbox.c.id <= bindparam("until"))
WINDOW = 4  # peek's first read: ids up to this many batches ahead
_STILL_PENDING = select(raw_inbox.c.id).where(raw_inbox.c.status == "pending",
                                              raw_inbox.c.id.in_(_IDS))
# PostgreSQL: one search of the primary key per id, whatever the statistics say. As a
# filter on ``status = 'pending'`` it was planned as a scan of the pending index, which
# still holds every row done since the last vacuum (1–2 ms a batch at 12,000 rows).
_STILL_PENDING_LOCKED = text(
    "SELECT r.id FROM unnest(CAST(:ids AS bigint[])) AS k(id) CROSS JOIN LATERAL ("
    "SELECT id FROM raw_inbox WHERE id = k.id AND status = 'pending' "
    "FOR UPDATE SKIP LOCKED) AS r")
_DONE = update(raw_inbox).where(raw_inbox.c.id.in_(_IDS)).values(
    status="done", processed_at=bindparam("at"), claimed_by=bindparam("by"))
# by (channel, digest), the unique index's order: by the digest alone it reads every row
_KNOWN = select(raw_inbox.c.id, raw_inbox.c.channel, raw_inbox.c.payload_sha256).where(
    raw_inbox.c.channel.in_(bindparam("channels", expanding=True)),
    raw_inbox.c.payload_sha256.in_(bindparam("digests", expanding=True)))
_NEW_ROW = {c: bindparam(c) for c in ("channel", "source", "payload_sha256", "payload",
                                      "headers", "received_at", "status", "attempts")}
_INSERT_NEW_SQLITE, _INSERTED_PG = (
    dialect_insert(raw_inbox).values(_NEW_ROW).on_conflict_do_nothing(
        index_elements=[raw_inbox.c.channel, raw_inbox.c.payload_sha256])
    .returning(raw_inbox.c.id, raw_inbox.c.channel, raw_inbox.c.payload_sha256)
    for dialect_insert in (sqlite_insert, pg_insert))
_INSERTED_PG = _INSERTED_PG.cte("inserted")
# PostgreSQL: the row's NOTIFY in the same statement, sent only when a row was inserted
# (a statement of its own was a round trip more for every accepted group)
_INSERT_NEW_PG = select(_INSERTED_PG.c.id, _INSERTED_PG.c.channel,
                        _INSERTED_PG.c.payload_sha256, func.pg_notify(NOTIFY_CHANNEL, ""))


def _items(conn: Connection, stmt: Select, params: dict[str, int]) -> list[RawItem]:
    return [RawItem(id_, channel, source, bytes(payload), headers or {})
            for id_, channel, source, payload, headers in lean.rows(conn, stmt, params)[1]]


def claim(conn: Connection, limit: int) -> list[RawItem]:
    """Pending rows, locked for this transaction where the database can lock rows."""
    return _items(conn, _PENDING_LOCKED if conn.dialect.name == "postgresql" else _PENDING,
                  {"limit": limit})


def peek(conn: Connection, limit: int, after: int = 0) -> list[RawItem]:
    """The next pending rows (after id ``after``), unlocked: a worker prepares them before
    it takes the lock.

    PostgreSQL first reads the ids just after ``after`` (a window of ``WINDOW`` batches),
    then beyond it only if the window held too few. Without its upper bound, a plan made
    on statistics that saw few pending rows fetched every pending row of a backlog and
    sorted them for the first ``limit``: each batch's read grew with the backlog (9 ms at
    9,000 pending rows, against 0.3 in id order).
    """
    params = {"limit": limit, "after": after}
    if conn.dialect.name != "postgresql":
        return _items(conn, _PENDING_AFTER, params)
    until = after + WINDOW * limit
    items = _items(conn, _PENDING_WITHIN, {**params, "until": until})
    if len(items) < limit:
        items += _items(conn, _PENDING_AFTER, {"limit": limit - len(items), "after": until})
    return items


def claim_ids(conn: Connection, ids: list[int]) -> set[int]:
    """Which of these peeked rows are still pending, now locked for this transaction."""
    if not ids:
        return set()
    stmt = _STILL_PENDING_LOCKED if conn.dialect.name == "postgresql" else _STILL_PENDING
    return set(lean.scalars(conn, stmt, {"ids": ids}))


def mark_done(conn: Connection, ids: list[int], worker: str) -> None:
    if ids:
        lean.run(conn, _DONE, {"ids": ids, "at": utcnow(), "by": worker})


def mark_failed(conn: Connection, item: RawItem, error: str) -> bool:
    """Count a failed attempt; after MAX_ATTEMPTS the row goes to the dead letters.

    Returns True when the row was dead-lettered.
    """
    attempts = conn.execute(select(raw_inbox.c.attempts).where(raw_inbox.c.id == item.id)).scalar()
    attempts = int(attempts or 0) + 1
    dead = attempts >= MAX_ATTEMPTS
    conn.execute(update(raw_inbox).where(raw_inbox.c.id == item.id).values(
        attempts=attempts, last_error=error[:2000], status="dead" if dead else "pending"))
    if dead:
        dead_letter(conn, item.channel, item.source, item.payload,
                    f"processing failed {attempts} times: {error}", item.headers, item.id)
    return dead


def pending_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(raw_inbox)
                            .where(raw_inbox.c.status == "pending")).scalar() or 0)
