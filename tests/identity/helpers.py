"""Rows in the lead's core tables, with just the columns they require."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from somebound.store import identity as repo
from somebound.store.base import utcnow
from somebound.store.tables import cases, customers, events, identities, messages


def add_case(conn: Connection, customer_id: int, subject: str = "Where is my order?") -> int:
    now = utcnow()
    res = conn.execute(
        insert(cases).values(
            customer_id=customer_id,
            channel="x",
            bound="somebound",
            status="open",
            priority="normal",
            subject=subject,
            opened_at=now,
            updated_at=now,
            last_message_at=now,
            insights={},
        )
    )
    return int(res.inserted_primary_key[0])


def add_message(
    conn: Connection,
    case_id: int,
    customer_id: int,
    identity_id: int | None,
    body: str,
    native_id: str,
) -> int:
    now = utcnow()
    res = conn.execute(
        insert(messages).values(
            case_id=case_id,
            channel="x",
            native_id=native_id,
            direction="in",
            kind="message",
            identity_id=identity_id,
            customer_id=customer_id,
            author_key="@AngryMatti",
            author_name="Matti V",
            body=body,
            sent_at=now,
            received_at=now,
            attachments=[],
            meta={},
        )
    )
    return int(res.inserted_primary_key[0])


def provisional_author(conn: Connection, handle: str, body: str) -> tuple[int, int, int, int]:
    """What the pipeline does for an unknown author: provisional customer, case, message."""
    cid = repo.create_customer(conn, provisional=True, display_name=handle)
    iid = repo.upsert_identity(conn, "x", handle.lower(), display_name=handle, handle=handle)
    conn.execute(
        identities.update()
        .where(identities.c.id == iid)
        .values(
            customer_id=cid, link_evidence="provisional", linked_by="pipeline", linked_at=utcnow()
        )
    )
    case_id = add_case(conn, cid)
    msg_id = add_message(conn, case_id, cid, iid, body, native_id=f"tweet-{case_id}")
    return cid, iid, case_id, msg_id


STATE_TABLES = (customers, identities, cases, messages, repo.customer_field_lineage)


def dump(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """The whole observable state of customers, identities, cases, messages, lineage."""
    return {
        t.name: [dict(r) for r in conn.execute(select(t).order_by(t.c.id)).mappings()]
        for t in STATE_TABLES
    }


def event_types(conn: Connection) -> list[str]:
    return list(conn.execute(select(events.c.type).order_by(events.c.id)).scalars())
