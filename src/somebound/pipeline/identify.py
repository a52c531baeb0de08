"""Identify: who wrote this message, as a customer record.

Exact keys first (case-folded email, E.164 phone, the channel's own user id). An
unknown author is handed to the probabilistic resolver seam (identity issue) and, when
nobody plausible is found, gets a *provisional* customer, so every case has someone to
belong to and a later link can merge the provisional record into the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, bindparam, update

from somebound.core.enums import Channel
from somebound.core.message import Author, Message
from somebound.core.phone import normalise_email, to_e164
from somebound.store.tables import customers, identities

if TYPE_CHECKING:
    from somebound.pipeline.batch import Batch

_KIND_BY_CHANNEL = {
    Channel.EMAIL: "email",
    Channel.PHONE: "phone",
    Channel.SMS: "phone",
    Channel.FACEBOOK: "facebook",
    Channel.X: "x",
    Channel.CHAT: "chat",
    Channel.FEED: "feed",
}


@dataclass(frozen=True)
class IdentityKey:
    kind: str
    key: str


@dataclass(frozen=True)
class Identified:
    identity_id: int
    customer_id: int
    customer: dict  # attributes routing may look at (segment, language, ...)
    new_customer: bool
    suggestions: tuple[dict, ...] = ()  # possible customers an agent should confirm


@dataclass(frozen=True)
class Resolved:
    """What the probabilistic resolver made of a new identity.

    ``customer_id`` is set only when the match is certain enough to link now; a
    plausible but uncertain match leaves it ``None`` (the author gets a provisional
    customer) and lists the candidates in ``suggestions`` for the review queue.
    """

    customer_id: int | None = None
    suggestions: tuple[dict, ...] = ()
    detail: object = None  # the resolver's own result, handed back to ``record``


_LINK = update(identities).where(identities.c.id == bindparam("_id"))


class Resolver(Protocol):
    """The probabilistic seam, called for identities the exact keys do not know."""

    def resolve_new(self, conn: Connection, key: IdentityKey, author: Author) -> Resolved:
        """Decide only: an existing customer to link to, candidates to review, or nothing."""
        ...

    def record(self, conn: Connection, identity_id: int, resolved: Resolved) -> None:
        """Write the link (with its lineage) or the review item in the batch's transaction.

        Called after the identity row exists; for a certain match the row was stored
        unlinked so the resolver's own link records who linked it, why and with what score.
        """
        ...


def identity_key(channel: Channel, author: Author) -> IdentityKey | None:
    kind = _KIND_BY_CHANNEL[channel]
    if kind == "email":
        raw = author.email or author.channel_user_id
        return IdentityKey("email", normalise_email(raw)) if raw else None
    if kind == "phone":
        e164 = author.phone or to_e164(author.channel_user_id or "")
        return IdentityKey("phone", e164) if e164 else None
    if not author.channel_user_id:
        return None
    return IdentityKey(kind, author.channel_user_id)


def identify(batch: Batch, msg: Message, resolver: Resolver | None = None) -> Identified | None:
    """Find or create the customer behind a message's author (None for the company)."""
    if msg.author.is_company:
        return None
    conn = batch.conn
    key = identity_key(msg.channel, msg.author)
    if key is None:
        key = IdentityKey(_KIND_BY_CHANNEL[msg.channel], f"anonymous:{msg.native_id}")
    known = batch.identities.get((key.kind, key.key))
    now = msg.sent_at
    if known is not None and known[1] is not None:
        batch.seen[known[0]] = max(now, batch.seen.get(known[0], now))
        cust_id, attrs = batch.customer(known[1])
        return Identified(known[0], cust_id, attrs, False)
    resolved = resolver.resolve_new(conn, key, msg.author) if resolver else Resolved()
    customer_id = resolved.customer_id
    new_customer = customer_id is None
    if customer_id is None:
        customer_id = _create_provisional(batch, key, msg.author, now)
        batch.customers[customer_id] = (customer_id, {})
        stored, evidence = customer_id, "provisional"
    else:
        stored, evidence = None, None  # the resolver's record() links it with lineage
    if known is None:
        identity_id = batch.add(identities, {
            "kind": key.kind, "key": key.key, "customer_id": stored,
            "display_name": msg.author.display_name, "handle": msg.author.handle,
            "profile": _profile(msg.author), "first_seen": now, "last_seen": now,
            "link_evidence": evidence, "linked_by": "pipeline" if stored else None,
            "linked_at": now if stored else None,
        })
    else:
        identity_id = known[0]
        conn.execute(_LINK, {"_id": identity_id, "customer_id": stored, "last_seen": now,
                             "link_evidence": evidence,
                             "linked_by": "pipeline" if stored else None,
                             "linked_at": now if stored else None})
    if resolver is not None and resolved.detail is not None:
        batch.write_pending()  # the resolver's link/review rows refer to the identity
        resolver.record(conn, identity_id, resolved)
    batch.identities[(key.kind, key.key)] = (identity_id, customer_id)
    cust_id, attrs = batch.customer(customer_id)
    return Identified(identity_id, cust_id, attrs, new_customer, resolved.suggestions)


def _profile(author: Author) -> dict:
    profile = dict(author.profile)
    if author.followers is not None:
        profile["followers"] = author.followers
    return profile


def _create_provisional(batch: Batch, key: IdentityKey, author: Author, now: datetime) -> int:
    return batch.add(customers, {
        "display_name": author.display_name or author.handle or key.key,
        "email": key.key if key.kind == "email" else author.email,
        "phone": key.key if key.kind == "phone" else author.phone,
        "attributes": {}, "provisional": True, "created_at": now, "updated_at": now,
    })
