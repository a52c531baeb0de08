"""Identity resolution's own tables and the repository functions over them and the core tables.

Tables: review queue, link history, field lineage, merge records (with the snapshot that
makes unmerge exact), audit log, trained models and labels. Functions take a SQLAlchemy
``Connection`` and run inside the caller's transaction, so a link plus its history plus
its event commit or roll back together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from somebound.core.enums import EventType
from somebound.identity.bands import Decision, Thresholds
from somebound.identity.importer import ImportBatch
from somebound.identity.model import MatchModel
from somebound.identity.normalise import prepare_record
from somebound.identity.survivorship import FieldValue, SurvivorshipPolicy, Verdict, decide
from somebound.store.base import Id, JsonType, UtcDateTime, metadata, utcnow
from somebound.store.tables import cases, customers, events, identities, messages

if TYPE_CHECKING:  # pandas loads only when the live index is built, not on every CLI start
    import pandas as pd

# -- tables -------------------------------------------------------------------------------

identity_review_items = Table(
    "identity_review_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # link (identity -> customer) | merge
    Column("identity_id", Id, ForeignKey("identities.id")),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("other_customer_id", Id, ForeignKey("customers.id")),  # merge: the duplicate
    Column("probability", Float),
    Column("match_weight", Float),
    Column("explanation", JsonType, nullable=False, default=dict),
    Column("status", String(12), nullable=False, default="open"),  # open|confirmed|rejected
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", UtcDateTime),
    Column("note", Text),
)
Index("ix_identity_review_items_status", identity_review_items.c.status, identity_review_items.c.id)

identity_link_history = Table(
    "identity_link_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("identity_id", Id, ForeignKey("identities.id"), nullable=False),
    Column("action", String(8), nullable=False),  # link | unlink
    Column("customer_id", Id),
    Column("previous_customer_id", Id),
    Column("evidence", String(16)),
    Column("score", Float),
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", Text),
    Column("merge_id", Id),  # the provisional-customer merge this link caused
)
Index("ix_identity_link_history_identity", identity_link_history.c.identity_id)

customer_field_lineage = Table(
    "customer_field_lineage",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("attribute", String(64), nullable=False),
    Column("value", JsonType),
    Column("previous_value", JsonType),
    Column("source", String(32), nullable=False),
    Column("set_at", UtcDateTime, nullable=False),  # when the source says it was true
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("applied", Boolean, nullable=False),  # False: proposed, lost on survivorship
    Column("reason", Text),
    Column("actor", String(64)),
    Column("merge_id", Id),
)
Index(
    "ix_customer_field_lineage_customer",
    customer_field_lineage.c.customer_id,
    customer_field_lineage.c.attribute,
)

customer_merges = Table(
    "customer_merges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("survivor_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("merged_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("status", String(10), nullable=False, default="merged"),  # merged | unmerged
    Column("snapshot", JsonType, nullable=False),
    Column("reason", Text),
    Column("merged_by", String(64), nullable=False),
    Column("merged_at", UtcDateTime, nullable=False),
    Column("unmerged_by", String(64)),
    Column("unmerged_at", UtcDateTime),
)

identity_audit = Table(
    "identity_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("customer_id", Id),
    Column("identity_id", Id),
    Column("details", JsonType, nullable=False, default=dict),
)

identity_models = Table(
    "identity_models",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("model", JsonType, nullable=False),
    Column("thresholds", JsonType, nullable=False),
    Column("metrics", JsonType, nullable=False, default=dict),
    Column("active", Boolean, nullable=False, default=True),
)

identity_labels = Table(
    "identity_labels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("identity_id", Id),
    Column("customer_id", Id, nullable=False),
    Column("other_customer_id", Id),
    Column("is_match", Boolean, nullable=False),
    Column("probability", Float),
    Column("source", String(16), nullable=False),  # review | manual | unlink
    Column("actor", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

# Golden-record attributes kept as columns of ``customers``; the rest live in
# ``customers.attributes``.
CUSTOMER_COLUMNS = ("customer_number", "display_name", "email", "phone", "language")


class NotFound(LookupError):
    """A referenced customer/identity/review item/merge does not exist."""


class Conflict(ValueError):
    """The operation contradicts the current state (e.g. unmerge twice)."""


# -- small helpers -----------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"__dt__": value.isoformat()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__dt__"}:
            return datetime.fromisoformat(value["__dt__"])
        return {k: _from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_jsonable(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """JSON for export: datetimes as ISO strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _row(conn: Connection, table: Table, row_id: int, what: str) -> dict[str, Any]:
    r = (
        conn.execute(select(table).where(table.c.id == bindparam("_id")), {"_id": row_id})
        .mappings()
        .first()
    )
    if r is None:
        raise NotFound(f"{what} {row_id} does not exist")
    return dict(r)


def get_customer(conn: Connection, customer_id: int) -> dict[str, Any]:
    return _row(conn, customers, customer_id, "customer")


def get_identity(conn: Connection, identity_id: int) -> dict[str, Any]:
    return _row(conn, identities, identity_id, "identity")


def live_customer_id(conn: Connection, customer_id: int) -> int:
    """Follow ``merged_into_id`` to the surviving customer."""
    seen = set()
    while True:
        row = conn.execute(
            select(customers.c.merged_into_id).where(customers.c.id == customer_id)
        ).first()
        if row is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if row[0] is None or customer_id in seen:
            return customer_id
        seen.add(customer_id)
        customer_id = row[0]


def audit(
    conn: Connection,
    actor: str,
    action: str,
    *,
    customer_id: int | None = None,
    identity_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(identity_audit).values(
            at=utcnow(),
            actor=actor,
            action=action,
            customer_id=customer_id,
            identity_id=identity_id,
            details=_plain(dict(details or {})),
        )
    )


def _event(
    conn: Connection, type_: EventType, customer_id: int | None, data: dict[str, Any]
) -> None:
    conn.execute(
        insert(events).values(
            type=str(type_), at=utcnow(), customer_id=customer_id, data=_plain(data)
        )
    )


# -- customers and survivorship -------------------------------------------------------------


def create_customer(
    conn: Connection,
    *,
    provisional: bool = False,
    display_name: str | None = None,
    language: str | None = None,
    customer_number: str | None = None,
) -> int:
    """A bare customer (the pipeline's provisional customer for an unknown author)."""
    now = utcnow()
    res = conn.execute(
        insert(customers),
        dict(
            display_name=display_name,
            language=language,
            attributes={},
            provisional=provisional,
            erased=False,
            created_at=now,
            updated_at=now,
            customer_number=customer_number,
        ),
    )
    return int(res.inserted_primary_key[0])


def _current_field_values(conn: Connection, customer_id: int) -> dict[str, FieldValue]:
    rows = conn.execute(
        select(customer_field_lineage)
        .where(
            customer_field_lineage.c.customer_id == bindparam("_cid"),
            customer_field_lineage.c.applied.is_(True),
        )
        .order_by(customer_field_lineage.c.id),
        {"_cid": customer_id},
    ).mappings()
    out: dict[str, FieldValue] = {}
    for r in rows:
        out[r["attribute"]] = FieldValue(r["value"], r["source"], r["set_at"])
    return out


def _customer_value(row: Mapping[str, Any], attribute: str) -> Any:
    if attribute in CUSTOMER_COLUMNS:
        return row[attribute]
    return (row["attributes"] or {}).get(attribute)


def set_customer_fields(
    conn: Connection,
    customer_id: int,
    values: Mapping[str, Any],
    *,
    source: str,
    policy: SurvivorshipPolicy,
    at: datetime | None = None,
    actor: str = "system",
    merge_id: int | None = None,
) -> dict[str, Verdict]:
    """Propose attribute values from ``source``; survivorship decides each; all are lineaged.

    Every proposal lands in the lineage (applied or not, with the reason), so the golden
    record can show what each source says and an agent can see why a value lost.
    """
    at = at or utcnow()
    row = get_customer(conn, customer_id)
    current = _current_field_values(conn, customer_id)
    verdicts: dict[str, Verdict] = {}
    lineage_rows: list[dict[str, Any]] = []
    col_updates: dict[str, Any] = {}
    attrs = dict(row["attributes"] or {})
    now = utcnow()
    for attribute, value in values.items():
        if value is None or value == "":
            continue
        existing = _customer_value(row, attribute)
        cur = current.get(attribute)
        if cur is None and existing is not None:
            # set before lineage existed (e.g. by the pipeline): unknown provenance is
            # treated as the lowest-trust channel data, never as master.
            cur = FieldValue(existing, "_unknown", row["updated_at"])
        verdict = decide(policy, attribute, cur, FieldValue(value, source, at))
        verdicts[attribute] = verdict
        if verdict.reason == "same value" and cur is not None and cur.source == source:
            continue  # a re-import of the same value is not news
        lineage_rows.append(
            dict(
                customer_id=customer_id,
                attribute=attribute,
                value=value,
                previous_value=existing,
                source=source,
                set_at=at,
                recorded_at=now,
                applied=verdict.apply,
                reason=verdict.reason,
                actor=actor,
                merge_id=merge_id,
            )
        )
        if verdict.apply:
            if attribute in CUSTOMER_COLUMNS:
                col_updates[attribute] = value
            else:
                attrs[attribute] = value
    # Values go in as execute() parameters, not .values(): SQLAlchemy then compiles and
    # caches one statement instead of building a new one per row (10x on bulk imports).
    if lineage_rows:
        conn.execute(insert(customer_field_lineage), lineage_rows)
    if col_updates or attrs != (row["attributes"] or {}):
        _update_customer(conn, customer_id, {**col_updates, "attributes": attrs, "updated_at": now})
    return verdicts


def _update_customer(conn: Connection, customer_id: int, values: dict[str, Any]) -> None:
    stmt = update(customers).where(customers.c.id == bindparam("_cid"))
    conn.execute(stmt, {"_cid": customer_id, **values})


def golden_record(conn: Connection, customer_id: int) -> dict[str, Any]:
    """The surviving value of each attribute with its source, plus what every source said."""
    row = get_customer(conn, customer_id)
    lineage = (
        conn.execute(
            select(customer_field_lineage)
            .where(customer_field_lineage.c.customer_id == customer_id)
            .order_by(customer_field_lineage.c.id)
        )
        .mappings()
        .all()
    )
    fields: dict[str, dict[str, Any]] = {}
    for attribute in [*CUSTOMER_COLUMNS, *sorted((row["attributes"] or {}).keys())]:
        value = _customer_value(row, attribute)
        if value is not None:
            fields[attribute] = {"value": value, "source": None, "set_at": None, "sources": {}}
    for r in lineage:
        f = fields.setdefault(
            r["attribute"],
            {
                "value": _customer_value(row, r["attribute"]),
                "source": None,
                "set_at": None,
                "sources": {},
            },
        )
        f["sources"][r["source"]] = {
            "value": r["value"],
            "set_at": r["set_at"].isoformat(),
            "applied": r["applied"],
            "reason": r["reason"],
        }
        if r["applied"]:
            f["source"], f["set_at"] = r["source"], r["set_at"].isoformat()
    return {
        "customer_id": customer_id,
        "provisional": row["provisional"],
        "merged_into_id": row["merged_into_id"],
        "erased": row["erased"],
        "fields": fields,
    }


def field_lineage(conn: Connection, customer_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(customer_field_lineage)
        .where(customer_field_lineage.c.customer_id == customer_id)
        .order_by(customer_field_lineage.c.id)
    ).mappings()
    return [_plain(dict(r)) for r in rows]


# -- identities and links -------------------------------------------------------------------


def upsert_identity(
    conn: Connection,
    kind: str,
    key: str,
    *,
    display_name: str | None = None,
    handle: str | None = None,
    profile: Mapping[str, Any] | None = None,
    seen_at: datetime | None = None,
) -> int:
    """The identity (kind, normalised key), created on first sight, last_seen kept fresh."""
    seen_at = seen_at or utcnow()
    row = conn.execute(
        select(
            identities.c.id, identities.c.first_seen, identities.c.last_seen, identities.c.profile
        ).where(identities.c.kind == kind, identities.c.key == key)
    ).first()
    if row is None:
        res = conn.execute(
            insert(identities).values(
                kind=kind,
                key=key,
                display_name=display_name,
                handle=handle,
                profile=dict(profile or {}),
                first_seen=seen_at,
                last_seen=seen_at,
            )
        )
        return int(res.inserted_primary_key[0])
    values: dict[str, Any] = {
        "first_seen": min(row.first_seen, seen_at),
        "last_seen": max(row.last_seen, seen_at),
    }
    if display_name:
        values["display_name"] = display_name
    if handle:
        values["handle"] = handle
    if profile:
        values["profile"] = {**(row.profile or {}), **profile}
    conn.execute(update(identities).where(identities.c.id == row.id).values(**values))
    return int(row.id)


def link_identity(
    conn: Connection,
    identity_id: int,
    customer_id: int,
    *,
    evidence: str,
    actor: str,
    score: float | None = None,
    reason: str | None = None,
    policy: SurvivorshipPolicy | None = None,
) -> dict[str, Any]:
    """Link an identity to a customer, reversibly.

    If the identity belonged to a *provisional* customer that has no other identity, the
    provisional customer is merged into the real one: its cases and messages move with
    the identity, and :func:`unlink_identity` moves them back (it unmerges).
    """
    ident = get_identity(conn, identity_id)
    customer_id = live_customer_id(conn, customer_id)
    target = get_customer(conn, customer_id)
    if target["erased"]:
        raise Conflict(f"customer {customer_id} is erased")
    previous = ident["customer_id"]
    if previous == customer_id:
        return {"identity_id": identity_id, "customer_id": customer_id, "changed": False}
    merge_id = None
    if previous is not None:
        prev = get_customer(conn, previous)
        others = conn.execute(
            select(func.count())
            .select_from(identities)
            .where(identities.c.customer_id == previous, identities.c.id != identity_id)
        ).scalar_one()
        if prev["provisional"] and others == 0:
            merge_id = merge_customers(
                conn,
                customer_id,
                previous,
                actor=actor,
                policy=policy,
                reason=f"identity {identity_id} linked ({evidence})",
                link_event=False,
            )
    now = utcnow()
    conn.execute(
        update(identities)
        .where(identities.c.id == identity_id)
        .values(
            customer_id=customer_id,
            link_evidence=evidence,
            linked_by=actor,
            linked_at=now,
            match_score=score,
        )
    )
    _record_link(
        conn,
        identity_id,
        "link",
        customer_id,
        previous,
        actor,
        now,
        reason,
        evidence=evidence,
        score=score,
        merge_id=merge_id,
    )
    _event(
        conn,
        EventType.IDENTITY_LINKED,
        customer_id,
        {
            "identity_id": identity_id,
            "evidence": evidence,
            "score": score,
            "actor": actor,
            "previous_customer_id": previous,
            "merge_id": merge_id,
        },
    )
    if evidence in ("agent", "confirmed"):
        source = "manual" if evidence == "agent" else "review"
        _label(conn, identity_id, customer_id, True, source, actor, now, score)
    return {
        "identity_id": identity_id,
        "customer_id": customer_id,
        "changed": True,
        "previous_customer_id": previous,
        "merge_id": merge_id,
    }


def unlink_identity(
    conn: Connection, identity_id: int, *, actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Undo the identity's current link: back to where it was before (and unmerge)."""
    ident = get_identity(conn, identity_id)
    if ident["customer_id"] is None:
        raise Conflict(f"identity {identity_id} is not linked")
    last = (
        conn.execute(
            select(identity_link_history)
            .where(
                identity_link_history.c.identity_id == identity_id,
                identity_link_history.c.action == "link",
            )
            .order_by(identity_link_history.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    unlinked_from = ident["customer_id"]
    now = utcnow()
    restored_to = None
    if (
        last is not None
        and last["merge_id"] is not None
        and _merge_status(conn, last["merge_id"]) == "merged"
    ):
        unmerge(conn, last["merge_id"], actor=actor, event=False)
        restored_to = get_identity(conn, identity_id)["customer_id"]
    else:
        restored_to = last["previous_customer_id"] if last is not None else None
        if restored_to is not None:
            restored = get_customer(conn, restored_to)
            if restored["merged_into_id"] is not None or restored["erased"]:
                restored_to = None
        conn.execute(
            update(identities)
            .where(identities.c.id == identity_id)
            .values(
                customer_id=restored_to,
                link_evidence="provisional" if restored_to else None,
                linked_by=actor if restored_to else None,
                linked_at=now if restored_to else None,
                match_score=None,
            )
        )
    _record_link(conn, identity_id, "unlink", restored_to, unlinked_from, actor, now, reason)
    _label(conn, identity_id, unlinked_from, False, "unlink", actor, now, ident["match_score"])
    _event(
        conn,
        EventType.IDENTITY_UNLINKED,
        unlinked_from,
        {"identity_id": identity_id, "actor": actor, "restored_to": restored_to},
    )
    return {"identity_id": identity_id, "unlinked_from": unlinked_from, "customer_id": restored_to}


def _record_link(
    conn: Connection,
    identity_id: int,
    action: str,
    customer_id: int | None,
    previous_customer_id: int | None,
    actor: str,
    at: datetime,
    reason: str | None,
    *,
    evidence: str | None = None,
    score: float | None = None,
    merge_id: int | None = None,
) -> None:
    """One row of an identity's link history: ``action`` (link | unlink) moved it from
    ``previous_customer_id`` to ``customer_id``."""
    conn.execute(
        insert(identity_link_history).values(
            identity_id=identity_id,
            action=action,
            customer_id=customer_id,
            previous_customer_id=previous_customer_id,
            evidence=evidence,
            score=score,
            actor=actor,
            at=at,
            reason=reason,
            merge_id=merge_id,
        )
    )


def _label(
    conn: Connection,
    identity_id: int | None,
    customer_id: int,
    is_match: bool,
    source: str,
    actor: str,
    at: datetime,
    probability: float | None,
    *,
    other_customer_id: int | None = None,
) -> None:
    """A training label for the match model: the identity (or ``other_customer_id``) is,
    or is not, ``customer_id``; ``source`` says who said so (review | manual | unlink)."""
    conn.execute(
        insert(identity_labels).values(
            identity_id=identity_id,
            customer_id=customer_id,
            other_customer_id=other_customer_id,
            is_match=is_match,
            probability=probability,
            source=source,
            actor=actor,
            at=at,
        )
    )


def link_history(conn: Connection, identity_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(identity_link_history)
        .where(identity_link_history.c.identity_id == identity_id)
        .order_by(identity_link_history.c.id)
    ).mappings()
    return [_plain(dict(r)) for r in rows]


# -- merge / unmerge ----------------------------------------------------------------------------


def _merge_status(conn: Connection, merge_id: int) -> str:
    return str(_row(conn, customer_merges, merge_id, "merge")["status"])


_SNAPSHOT_CUSTOMER_COLS = (
    "customer_number",
    "display_name",
    "email",
    "phone",
    "language",
    "attributes",
    "provisional",
    "merged_into_id",
    "erased",
    "updated_at",
)
_SNAPSHOT_IDENTITY_COLS = ("customer_id", "link_evidence", "linked_by", "linked_at", "match_score")


def merge_customers(
    conn: Connection,
    survivor_id: int,
    merged_id: int,
    *,
    actor: str,
    policy: SurvivorshipPolicy | None = None,
    reason: str | None = None,
    link_event: bool = True,
) -> int:
    """Merge ``merged_id`` into ``survivor_id``; returns the merge id for :func:`unmerge`.

    Identities, cases and messages of the merged customer move to the survivor; the
    merged customer stays as a row with ``merged_into_id`` (so old references resolve);
    the merged customer's field values are proposed to the survivor through
    survivorship (under the source that set them). The snapshot taken first holds
    exactly what unmerge needs to put back.
    """
    if survivor_id == merged_id:
        raise Conflict("cannot merge a customer into itself")
    survivor = get_customer(conn, survivor_id)
    merged = get_customer(conn, merged_id)
    for c in (survivor, merged):
        if c["merged_into_id"] is not None:
            raise Conflict(f"customer {c['id']} is already merged into {c['merged_into_id']}")
        if c["erased"]:
            raise Conflict(f"customer {c['id']} is erased")
    ident_rows = (
        conn.execute(
            select(identities.c.id, *(identities.c[c] for c in _SNAPSHOT_IDENTITY_COLS)).where(
                identities.c.customer_id == merged_id
            )
        )
        .mappings()
        .all()
    )
    case_ids = list(
        conn.execute(select(cases.c.id).where(cases.c.customer_id == merged_id)).scalars()
    )
    message_ids = list(
        conn.execute(select(messages.c.id).where(messages.c.customer_id == merged_id)).scalars()
    )
    snapshot = {
        "survivor": {c: survivor[c] for c in _SNAPSHOT_CUSTOMER_COLS},
        "merged": {c: merged[c] for c in _SNAPSHOT_CUSTOMER_COLS},
        "identities": [dict(r) for r in ident_rows],
        "cases": case_ids,
        "messages": message_ids,
    }
    now = utcnow()
    res = conn.execute(
        insert(customer_merges).values(
            survivor_id=survivor_id,
            merged_id=merged_id,
            status="merged",
            snapshot=_jsonable(snapshot),
            reason=reason,
            merged_by=actor,
            merged_at=now,
        )
    )
    merge_id = int(res.inserted_primary_key[0])
    for owned in (identities, cases, messages):
        conn.execute(
            update(owned).where(owned.c.customer_id == merged_id).values(customer_id=survivor_id)
        )
    conn.execute(
        update(customers)
        .where(customers.c.id == merged_id)
        .values(merged_into_id=survivor_id, updated_at=now)
    )
    if policy is not None:
        current = _current_field_values(conn, merged_id)
        by_source: dict[tuple[str, datetime], dict[str, Any]] = {}
        for attribute in [*CUSTOMER_COLUMNS, *(merged["attributes"] or {})]:
            if attribute == "customer_number":
                continue  # the master key stays with its own record (it is unique)
            value = _customer_value(merged, attribute)
            if value is None:
                continue
            fv = current.get(attribute)
            src, at = (
                (fv.source, fv.at)
                if fv
                else ("agent" if merged["provisional"] else "crm", merged["updated_at"])
            )
            if src not in policy.sources:
                src = "agent"
            by_source.setdefault((src, at), {})[attribute] = value
        for (src, at), vals in by_source.items():
            set_customer_fields(
                conn,
                survivor_id,
                vals,
                source=src,
                policy=policy,
                at=at,
                actor=actor,
                merge_id=merge_id,
            )
    if link_event:
        _event(
            conn,
            EventType.CUSTOMERS_MERGED,
            survivor_id,
            {"merge_id": merge_id, "merged_id": merged_id, "actor": actor},
        )
    audit(
        conn,
        actor,
        "merge",
        customer_id=survivor_id,
        details={"merge_id": merge_id, "merged_id": merged_id, "reason": reason},
    )
    return merge_id


def unmerge(conn: Connection, merge_id: int, *, actor: str, event: bool = True) -> dict[str, Any]:
    """Put back exactly what :func:`merge_customers` changed.

    Both customer rows get their snapshot values, the moved identities their previous
    link fields, the moved cases and messages their previous owner; lineage the merge
    wrote is removed. What happened to the survivor *after* the merge stays.
    """
    m = _row(conn, customer_merges, merge_id, "merge")
    if m["status"] != "merged":
        raise Conflict(f"merge {merge_id} is already undone")
    snap = _from_jsonable(m["snapshot"])
    later = conn.execute(
        select(func.count())
        .select_from(customer_merges)
        .where(
            customer_merges.c.status == "merged",
            customer_merges.c.id > merge_id,
            or_(
                customer_merges.c.merged_id == m["survivor_id"],
                customer_merges.c.merged_id == m["merged_id"],
            ),
        )
    ).scalar_one()
    if later:
        raise Conflict(f"merge {merge_id}: a later merge involves these customers; undo it first")
    survivor_id, merged_id = m["survivor_id"], m["merged_id"]
    _restore_survivor_fields(conn, merge_id, survivor_id, snap["survivor"])
    conn.execute(
        delete(customer_field_lineage).where(customer_field_lineage.c.merge_id == merge_id)
    )
    conn.execute(update(customers).where(customers.c.id == merged_id).values(**snap["merged"]))
    for ident in snap["identities"]:
        ident_id = ident.pop("id")
        conn.execute(update(identities).where(identities.c.id == ident_id).values(**ident))
    for owned, ids in ((cases, snap["cases"]), (messages, snap["messages"])):
        if ids:
            conn.execute(update(owned).where(owned.c.id.in_(ids)).values(customer_id=merged_id))
    now = utcnow()
    conn.execute(
        update(customer_merges)
        .where(customer_merges.c.id == merge_id)
        .values(status="unmerged", unmerged_by=actor, unmerged_at=now)
    )
    if event:
        _event(
            conn,
            EventType.CUSTOMERS_UNMERGED,
            survivor_id,
            {"merge_id": merge_id, "merged_id": merged_id, "actor": actor},
        )
    audit(
        conn,
        actor,
        "unmerge",
        customer_id=survivor_id,
        details={"merge_id": merge_id, "merged_id": merged_id},
    )
    return {"merge_id": merge_id, "survivor_id": survivor_id, "merged_id": merged_id}


def _restore_survivor_fields(
    conn: Connection, merge_id: int, survivor_id: int, before: dict[str, Any]
) -> None:
    """Give back the survivor's attributes the merge set, unless something set them since."""
    rows = conn.execute(
        select(
            customer_field_lineage.c.id,
            customer_field_lineage.c.attribute,
            customer_field_lineage.c.merge_id,
            customer_field_lineage.c.applied,
        )
        .where(customer_field_lineage.c.customer_id == survivor_id)
        .order_by(customer_field_lineage.c.id)
    ).all()
    merge_attrs = {r.attribute for r in rows if r.merge_id == merge_id and r.applied}
    first_merge_row = min((r.id for r in rows if r.merge_id == merge_id), default=None)
    later = {
        r.attribute
        for r in rows
        if r.merge_id != merge_id
        and r.applied
        and first_merge_row is not None
        and r.id > first_merge_row
    }
    restore = merge_attrs - later
    if not restore:
        return
    row = get_customer(conn, survivor_id)
    values: dict[str, Any] = {}
    attrs = dict(row["attributes"] or {})
    before_attrs = before.get("attributes") or {}
    for attribute in restore:
        if attribute in CUSTOMER_COLUMNS:
            values[attribute] = before.get(attribute)
        elif attribute in before_attrs:
            attrs[attribute] = before_attrs[attribute]
        else:
            attrs.pop(attribute, None)
    values["attributes"] = attrs
    if not later:
        values["updated_at"] = before["updated_at"]
    conn.execute(update(customers).where(customers.c.id == survivor_id).values(**values))


def list_merges(conn: Connection, customer_id: int | None = None) -> list[dict[str, Any]]:
    q = select(
        customer_merges.c.id,
        customer_merges.c.survivor_id,
        customer_merges.c.merged_id,
        customer_merges.c.status,
        customer_merges.c.reason,
        customer_merges.c.merged_by,
        customer_merges.c.merged_at,
        customer_merges.c.unmerged_at,
    )
    if customer_id is not None:
        q = q.where(
            or_(
                customer_merges.c.survivor_id == customer_id,
                customer_merges.c.merged_id == customer_id,
            )
        )
    return [_plain(dict(r)) for r in conn.execute(q.order_by(customer_merges.c.id)).mappings()]


# -- review queue --------------------------------------------------------------------------------


def enqueue_review(
    conn: Connection,
    *,
    kind: str,
    customer_id: int,
    identity_id: int | None = None,
    other_customer_id: int | None = None,
    probability: float | None = None,
    match_weight: float | None = None,
    explanation: Mapping[str, Any] | None = None,
) -> int:
    """Queue a pair for a person; an identical open item is reused, not duplicated."""
    if kind not in ("link", "merge"):
        raise ValueError(f"review kind must be 'link' or 'merge', not {kind!r}")
    if kind == "link" and identity_id is None:
        raise ValueError("a link review needs an identity_id")
    if kind == "merge" and other_customer_id is None:
        raise ValueError("a merge review needs other_customer_id")
    if kind == "merge" and other_customer_id is not None and other_customer_id < customer_id:
        customer_id, other_customer_id = other_customer_id, customer_id
    cond = [
        identity_review_items.c.kind == kind,
        identity_review_items.c.status == "open",
        identity_review_items.c.customer_id == customer_id,
    ]
    cond.append(
        identity_review_items.c.identity_id == identity_id
        if identity_id is not None
        else identity_review_items.c.identity_id.is_(None)
    )
    cond.append(
        identity_review_items.c.other_customer_id == other_customer_id
        if other_customer_id is not None
        else identity_review_items.c.other_customer_id.is_(None)
    )
    existing = conn.execute(select(identity_review_items.c.id).where(and_(*cond))).first()
    if existing is not None:
        return int(existing[0])
    res = conn.execute(
        insert(identity_review_items).values(
            kind=kind,
            identity_id=identity_id,
            customer_id=customer_id,
            other_customer_id=other_customer_id,
            probability=probability,
            match_weight=match_weight,
            explanation=_plain(dict(explanation or {})),
            status="open",
            created_at=utcnow(),
        )
    )
    return int(res.inserted_primary_key[0])


def list_review(conn: Connection, status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(identity_review_items)
        .where(identity_review_items.c.status == status)
        .order_by(identity_review_items.c.probability.desc(), identity_review_items.c.id)
        .limit(limit)
    ).mappings()
    return [_plain(dict(r)) for r in rows]


def decide_review(
    conn: Connection,
    item_id: int,
    *,
    confirm: bool,
    actor: str,
    note: str | None = None,
    policy: SurvivorshipPolicy | None = None,
) -> dict[str, Any]:
    """An agent's verdict: confirm links/merges, reject records a non-match. Both are labels."""
    item = _row(conn, identity_review_items, item_id, "review item")
    if item["status"] != "open":
        raise Conflict(f"review item {item_id} is already {item['status']}")
    now = utcnow()
    cust, other, p = item["customer_id"], item["other_customer_id"], item["probability"]
    result: dict[str, Any] = {"item_id": item_id, "confirmed": confirm}
    if confirm:
        if item["kind"] == "link":
            result.update(
                link_identity(
                    conn,
                    item["identity_id"],
                    item["customer_id"],
                    evidence="confirmed",
                    actor=actor,
                    score=item["probability"],
                    reason=f"review item {item_id}",
                    policy=policy,
                )
            )
        else:
            result["merge_id"] = merge_customers(
                conn,
                item["customer_id"],
                item["other_customer_id"],
                actor=actor,
                policy=policy,
                reason=f"review item {item_id}",
            )
    else:  # a non-match: the identity (link) or the other customer (merge) is someone else
        _label(
            conn, item["identity_id"], cust, False, "review", actor, now, p, other_customer_id=other
        )
    if item["kind"] == "merge" and confirm:
        _label(conn, None, cust, True, "review", actor, now, p, other_customer_id=other)
    conn.execute(
        update(identity_review_items)
        .where(identity_review_items.c.id == item_id)
        .values(
            status="confirmed" if confirm else "rejected",
            decided_by=actor,
            decided_at=now,
            note=note,
        )
    )
    audit(
        conn,
        actor,
        "review_confirm" if confirm else "review_reject",
        customer_id=item["customer_id"],
        identity_id=item["identity_id"],
        details={"item_id": item_id, "kind": item["kind"]},
    )
    return result


def review_decisions(conn: Connection) -> list[Decision]:
    """Agents' verdicts on queued pairs with the model's probability (for recalibration)."""
    rows = conn.execute(
        select(identity_review_items.c.probability, identity_review_items.c.status).where(
            identity_review_items.c.status.in_(("confirmed", "rejected")),
            identity_review_items.c.probability.is_not(None),
        )
    )
    return [Decision(float(p), s == "confirmed") for p, s in rows]


# -- models -----------------------------------------------------------------------------------


def save_model(
    conn: Connection,
    model: MatchModel,
    thresholds: Thresholds,
    metrics: Mapping[str, Any] | None = None,
) -> int:
    conn.execute(update(identity_models).values(active=False))
    res = conn.execute(
        insert(identity_models).values(
            created_at=utcnow(),
            model=model.to_dict(),
            thresholds={"upper": thresholds.upper, "lower": thresholds.lower},
            metrics=_plain(dict(metrics or {})),
            active=True,
        )
    )
    return int(res.inserted_primary_key[0])


def load_active_model(conn: Connection) -> tuple[MatchModel, Thresholds] | None:
    row = (
        conn.execute(
            select(identity_models)
            .where(identity_models.c.active.is_(True))
            .order_by(identity_models.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return MatchModel.from_dict(row["model"]), Thresholds(**row["thresholds"])


def update_thresholds(conn: Connection, thresholds: Thresholds) -> None:
    conn.execute(
        update(identity_models)
        .where(identity_models.c.active.is_(True))
        .values(thresholds={"upper": thresholds.upper, "lower": thresholds.lower})
    )


# -- exact keys and the master frame ------------------------------------------------------------


@dataclass
class SqlExactKeys:
    """The resolver's deterministic lookups, against the core tables.

    With ``conn`` the lookups run on the caller's connection: the ingest pipeline
    resolves inside its batch transaction, and on SQLite a second connection would wait
    for the write lock that very transaction holds.
    """

    engine: Engine
    conn: Connection | None = None

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        if self.conn is not None:
            yield self.conn
        else:
            with self.engine.connect() as conn:
                yield conn

    def linked_customer(self, kind: str, key: str) -> int | None:
        with self._connect() as conn:
            row = conn.execute(_LINKED, {"kind": kind, "key": key}).first()
            if row is None or row.provisional:
                return None  # a provisional customer is not an answer: keep looking
            return live_customer_id(conn, row.customer_id)

    def _by(self, column: Any, value: str) -> int | None:
        with self._connect() as conn:
            ids = list(conn.execute(_LIVE_BY[column.name], {"value": value}).scalars())
            # two customers with the same address is a dedupe question, not a link
            return ids[0] if len(ids) == 1 else None

    def customer_by_email(self, email: str) -> int | None:
        found = self._by(customers.c.email, email)
        return found if found is not None else self._linked_verified("email", email)

    def customer_by_phone(self, phone: str) -> int | None:
        found = self._by(customers.c.phone, phone)
        return found if found is not None else self._linked_verified("phone", phone)

    def _linked_verified(self, kind: str, key: str) -> int | None:
        return self.linked_customer(kind, key)


# The live resolver's lookups, built once (a reused statement keeps its compiled form;
# building one per lookup costs more than the indexed query itself).
_LINKED = (
    select(identities.c.customer_id, customers.c.provisional)
    .join(customers, customers.c.id == identities.c.customer_id)
    .where(identities.c.kind == bindparam("kind"), identities.c.key == bindparam("key"))
)
_LIVE_BY = {
    column.name: select(customers.c.id)
    .where(
        column == bindparam("value"),
        customers.c.merged_into_id.is_(None),
        customers.c.erased.is_(False),
        customers.c.provisional.is_(False),
    )
    .limit(2)
    for column in (customers.c.email, customers.c.phone)
}


def master_records(conn: Connection) -> pd.DataFrame:
    """Prepared comparison columns of every live, non-provisional customer (``unique_id`` = id)."""
    import pandas as pd

    rows = conn.execute(
        select(customers).where(
            customers.c.merged_into_id.is_(None),
            customers.c.erased.is_(False),
            customers.c.provisional.is_(False),
        )
    ).mappings()
    out = []
    for r in rows:
        out.append({"unique_id": int(r["id"]), **customer_match_record(r)})
    cols = ["unique_id", *prepare_record({}).keys()]
    return pd.DataFrame(out, columns=cols)


def customer_match_record(row: Mapping[str, Any]) -> dict[str, Any]:
    attrs = row["attributes"] or {}
    return prepare_record(
        {
            "given_name": attrs.get("given_name"),
            "surname": attrs.get("surname"),
            "display_name": row["display_name"],
            "email": row["email"],
            "phone": row["phone"],
            "city": attrs.get("city"),
            "postcode": attrs.get("postcode"),
            "birth_date": attrs.get("birth_date"),
        }
    )


# -- import -------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    bad: int
    customer_ids: list[int]


def apply_import(
    conn: Connection,
    batch: ImportBatch,
    *,
    policy: SurvivorshipPolicy,
    source: str = "crm",
    actor: str = "import",
    at: datetime | None = None,
) -> ImportResult:
    """Upsert the good rows by ``customer_number`` through survivorship (with lineage)."""
    at = at or utcnow()
    policy.source(source)
    created = updated = unchanged = 0
    ids: list[int] = []
    by_number = select(customers.c.id).where(customers.c.customer_number == bindparam("n"))
    for _line, row in batch.rows:
        number = row["customer_number"]
        existing = conn.execute(by_number, {"n": number}).first()
        if existing is None:
            cid = create_customer(conn, customer_number=number)
            conn.execute(
                insert(customer_field_lineage),
                dict(
                    customer_id=cid,
                    attribute="customer_number",
                    value=number,
                    previous_value=None,
                    source=source,
                    set_at=at,
                    recorded_at=utcnow(),
                    applied=True,
                    reason="created by import",
                    actor=actor,
                    merge_id=None,
                ),
            )
            values = {k: v for k, v in row.items() if k != "customer_number"}
            set_customer_fields(conn, cid, values, source=source, policy=policy, at=at, actor=actor)
            created += 1
        else:
            cid = live_customer_id(conn, int(existing[0]))
            values = {k: v for k, v in row.items() if k != "customer_number"}
            verdicts = set_customer_fields(
                conn, cid, values, source=source, policy=policy, at=at, actor=actor
            )
            if any(v.apply for v in verdicts.values()):
                updated += 1
            else:
                unchanged += 1
        ids.append(cid)
    audit(
        conn,
        actor,
        "import",
        details={
            "path": batch.path,
            "created": created,
            "updated": updated,
            "unchanged": unchanged,
            "bad_rows": [{"line": b.line, "reason": b.reason} for b in batch.bad],
        },
    )
    return ImportResult(created, updated, unchanged, len(batch.bad), ids)


# -- privacy: export and erase --------------------------------------------------------------------


def export_customer(conn: Connection, customer_id: int) -> dict[str, Any]:
    """Everything held about a customer (and the records merged into it), as plain JSON."""
    customer = get_customer(conn, customer_id)
    merged_ids = [customer_id]
    frontier = [customer_id]
    while frontier:
        nxt = list(
            conn.execute(
                select(customers.c.id).where(customers.c.merged_into_id.in_(frontier))
            ).scalars()
        )
        merged_ids.extend(nxt)
        frontier = nxt

    def rows(table: Table, cond: Any) -> list[dict[str, Any]]:
        return [
            _plain(dict(r))
            for r in conn.execute(select(table).where(cond).order_by(table.c.id)).mappings()
        ]

    ident_rows = rows(identities, identities.c.customer_id.in_(merged_ids))
    ident_ids = [i["id"] for i in ident_rows]
    case_rows = rows(cases, cases.c.customer_id.in_(merged_ids))
    case_ids = [c["id"] for c in case_rows]
    return {
        "format": "somebound.customer_export/1",
        "exported_at": utcnow().isoformat(),
        "customer": _plain(customer),
        "merged_records": rows(
            customers, and_(customers.c.id.in_(merged_ids), customers.c.id != customer_id)
        ),
        "golden_record": golden_record(conn, customer_id),
        "field_lineage": rows(
            customer_field_lineage, customer_field_lineage.c.customer_id.in_(merged_ids)
        ),
        "identities": ident_rows,
        "link_history": rows(
            identity_link_history, identity_link_history.c.identity_id.in_(ident_ids)
        )
        if ident_ids
        else [],
        "cases": case_rows,
        "messages": rows(
            messages, or_(messages.c.customer_id.in_(merged_ids), messages.c.case_id.in_(case_ids))
        )
        if case_ids
        else rows(messages, messages.c.customer_id.in_(merged_ids)),
        "events": rows(
            events, or_(events.c.customer_id.in_(merged_ids), events.c.case_id.in_(case_ids))
        )
        if case_ids
        else rows(events, events.c.customer_id.in_(merged_ids)),
        "decisions": rows(
            identity_review_items,
            or_(
                identity_review_items.c.customer_id.in_(merged_ids),
                identity_review_items.c.other_customer_id.in_(merged_ids),
            ),
        ),
        "merges": list_merges(conn, customer_id),
        "audit": rows(identity_audit, identity_audit.c.customer_id.in_(merged_ids)),
    }


ERASED = "[erased]"


def erase_customer(
    conn: Connection, customer_id: int, *, actor: str, reason: str
) -> dict[str, Any]:
    """Right to erasure: redact what identifies the person, keep anonymous aggregates.

    Message bodies/subjects/author names, identity keys and profiles, customer fields and
    lineage values are removed; cases, messages and events stay as rows (channel, times,
    counts) so volumes, response times and costs still add up. An audit record says who
    erased whom and why, without personal data.
    """
    customer = get_customer(conn, customer_id)
    if customer["erased"]:
        raise Conflict(f"customer {customer_id} is already erased")
    ids = [
        customer_id,
        *conn.execute(
            select(customers.c.id).where(customers.c.merged_into_id == customer_id)
        ).scalars(),
    ]
    case_ids = list(conn.execute(select(cases.c.id).where(cases.c.customer_id.in_(ids))).scalars())
    msg_cond = messages.c.customer_id.in_(ids)
    if case_ids:
        msg_cond = or_(
            msg_cond, and_(messages.c.case_id.in_(case_ids), messages.c.direction == "in")
        )
    n_msgs = conn.execute(
        update(messages)
        .where(msg_cond)
        .values(
            body=ERASED, subject=None, author_name=None, author_key=None, attachments=[], meta={}
        )
    ).rowcount
    if case_ids:
        conn.execute(update(cases).where(cases.c.id.in_(case_ids)).values(subject=None))
    ident_ids = list(
        conn.execute(select(identities.c.id).where(identities.c.customer_id.in_(ids))).scalars()
    )
    for iid in ident_ids:
        conn.execute(
            update(identities)
            .where(identities.c.id == iid)
            .values(
                key=f"erased:{hashlib.sha256(str(iid).encode()).hexdigest()[:16]}",
                display_name=None,
                handle=None,
                profile={},
            )
        )
    conn.execute(
        update(identity_link_history)
        .where(identity_link_history.c.identity_id.in_(ident_ids or [-1]))
        .values(reason=None)
    )
    conn.execute(
        update(customer_field_lineage)
        .where(customer_field_lineage.c.customer_id.in_(ids))
        .values(value=None, previous_value=None)
    )
    conn.execute(
        update(customer_merges)
        .where(or_(customer_merges.c.survivor_id.in_(ids), customer_merges.c.merged_id.in_(ids)))
        .values(snapshot={"erased": True}, reason=None)
    )
    conn.execute(
        update(identity_review_items)
        .where(
            or_(
                identity_review_items.c.customer_id.in_(ids),
                identity_review_items.c.other_customer_id.in_(ids),
            )
        )
        .values(explanation={}, note=None)
    )
    conn.execute(
        update(customers)
        .where(customers.c.id.in_(ids))
        .values(
            customer_number=None,
            display_name=None,
            email=None,
            phone=None,
            attributes={},
            erased=True,
            updated_at=utcnow(),
        )
    )
    summary = {
        "customers": len(ids),
        "identities": len(ident_ids),
        "messages": n_msgs,
        "cases": len(case_ids),
    }
    audit(conn, actor, "erase", customer_id=customer_id, details={"reason": reason, **summary})
    _event(conn, EventType.CUSTOMER_ERASED, customer_id, {"actor": actor, **summary})
    return summary


def identities_of(conn: Connection, customer_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(identities).where(identities.c.customer_id == customer_id).order_by(identities.c.id)
    ).mappings()
    return [_plain(dict(r)) for r in rows]


def unlinked_identities(conn: Connection, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Identities with no customer or only a provisional one (what batch linking scores)."""
    q = (
        select(identities)
        .select_from(identities.outerjoin(customers, customers.c.id == identities.c.customer_id))
        .where(
            or_(identities.c.customer_id.is_(None), customers.c.provisional.is_(True)),
            ~identities.c.key.like("erased:%"),
        )
    )
    if ids is not None:
        q = q.where(identities.c.id.in_(list(ids)))
    return [dict(r) for r in conn.execute(q.order_by(identities.c.id)).mappings()]
