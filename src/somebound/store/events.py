"""Appending facts to the event log. Nothing here updates or deletes an event."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, insert

from somebound.core.events import Event
from somebound.store.bulk import execute_many
from somebound.store.tables import events


def event_row(ev: Event) -> dict:
    return {
        "type": ev.type.value, "at": ev.at, "case_id": ev.case_id,
        "customer_id": ev.customer_id, "message_id": ev.message_id, "agent_id": ev.agent_id,
        "queue": ev.queue, "channel": ev.channel.value if ev.channel else None,
        "bound": ev.bound.value if ev.bound else None, "data": ev.data,
    }


_INSERT = insert(events)  # built once: a reused statement keeps its compiled form


def append(conn: Connection, evs: Iterable[Event]) -> None:
    append_rows(conn, [event_row(e) for e in evs])


def append_rows(conn: Connection, rows: list[dict]) -> None:
    """Rows in :func:`event_row`'s shape, made by a caller that logs many events (the
    ingest batch builds its rows directly, not as events first)."""
    if rows:
        execute_many(conn, _INSERT, rows)
