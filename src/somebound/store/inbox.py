"""The durable inbox: raw payloads are committed here before any sender gets its ack.

Processing claims pending rows in the same transaction that writes their results, so a
worker that dies mid-way leaves its rows pending for the next one (PostgreSQL:
``FOR UPDATE SKIP LOCKED`` lets many workers share the inbox; SQLite has one writer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select, update

from somebound.store.base import utcnow
from somebound.store.tables import dead_letters, raw_inbox

MAX_ATTEMPTS = 5


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
    digest = hashlib.sha256(payload).hexdigest()
    with engine.begin() as conn:
        existing = conn.execute(
            select(raw_inbox.c.id).where(raw_inbox.c.channel == channel,
                                         raw_inbox.c.payload_sha256 == digest)
        ).scalar()
        if existing is not None:
            return int(existing), False
        new_id = conn.execute(
            insert(raw_inbox).values(
                channel=channel, source=source, payload_sha256=digest, payload=payload,
                headers=dict(headers or {}), received_at=utcnow(), status="pending", attempts=0,
            )
        ).inserted_primary_key[0]
    return int(new_id), True


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


def claim(conn: Connection, limit: int) -> list[RawItem]:
    """Pending rows, locked for this transaction where the database can lock rows."""
    stmt = (
        select(raw_inbox.c.id, raw_inbox.c.channel, raw_inbox.c.source, raw_inbox.c.payload,
               raw_inbox.c.headers)
        .where(raw_inbox.c.status == "pending")
        .order_by(raw_inbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [RawItem(r.id, r.channel, r.source, bytes(r.payload), r.headers or {})
            for r in conn.execute(stmt)]


def mark_done(conn: Connection, ids: list[int], worker: str) -> None:
    if ids:
        conn.execute(update(raw_inbox).where(raw_inbox.c.id.in_(ids)).values(
            status="done", processed_at=utcnow(), claimed_by=worker))


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
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(raw_inbox)
                            .where(raw_inbox.c.status == "pending")).scalar() or 0)
