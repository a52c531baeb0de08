"""The hub's core tables: inbox, customers and identities, cases, messages, events.

Core (not ORM) tables: the ingest path is a handful of set-based statements per batch,
and Core keeps those statements visible in the repositories.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from somebound.store.base import Id, JsonType, UtcDateTime, metadata

# -- accept: every payload is durable here before it is acknowledged ----------------

raw_inbox = Table(
    "raw_inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("source", String(32), nullable=False),  # webhook:facebook, smtp, cti, ...
    Column("payload_sha256", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JsonType, nullable=False, default=dict),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(8), nullable=False, default="pending"),  # pending|done|dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(64)),
    Column("claimed_at", UtcDateTime),
    Column("processed_at", UtcDateTime),
    Column("last_error", Text),
    UniqueConstraint("channel", "payload_sha256", name="uq_raw_inbox_channel_sha"),
)
Index("ix_raw_inbox_pending", raw_inbox.c.status, raw_inbox.c.id)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("headers", JsonType, nullable=False, default=dict),
    Column("received_at", UtcDateTime, nullable=False),
    Column("raw_inbox_id", Id),
)

# -- organisation -------------------------------------------------------------------

teams = Table(
    "teams",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
)

queues = Table(
    "queues",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("team", String(64)),
    Column("description", Text),
    # Denormalised open-case count kept by the pipeline in the same transaction as
    # the case change, so the inbox never runs COUNT(*) over 100k cases.
    Column("open_count", Integer, nullable=False, default=0),
)

agents = Table(
    "agents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("email", String(254)),
    Column("role", String(16), nullable=False, default="agent"),  # agent|supervisor|admin
    Column("team", String(64)),
    Column("password_hash", String(256), nullable=False),
    Column("language", String(8), nullable=False, default="en"),
    Column("max_load", Integer, nullable=False, default=5),
    Column("available", Boolean, nullable=False, default=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", Id, ForeignKey("agents.id"), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("revoked", Boolean, nullable=False, default=False),
)

# -- customers and their channel identities -----------------------------------------

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_number", String(64), unique=True),  # the CRM's master key
    Column("display_name", String(256)),
    Column("email", String(254)),
    Column("phone", String(32)),
    Column("language", String(8)),
    Column("attributes", JsonType, nullable=False, default=dict),
    Column("provisional", Boolean, nullable=False, default=False),
    Column("merged_into_id", Id, ForeignKey("customers.id")),
    Column("erased", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_customers_email", customers.c.email)
Index("ix_customers_phone", customers.c.phone)

identities = Table(
    "identities",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # email | phone | facebook | x | feed | chat: the kind of key, not the channel
    Column("kind", String(16), nullable=False),
    Column("key", String(254), nullable=False),  # normalised: casefolded email, E.164
    Column("customer_id", Id, ForeignKey("customers.id")),  # NULL = unlinked
    Column("display_name", String(256)),
    Column("handle", String(128)),
    Column("profile", JsonType, nullable=False, default=dict),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    # verified | confirmed | probabilistic | agent | provisional | import
    Column("link_evidence", String(16)),
    Column("linked_by", String(64)),
    Column("linked_at", UtcDateTime),
    Column("match_score", Float),
    UniqueConstraint("kind", "key", name="uq_identities_kind_key"),
)
Index("ix_identities_customer", identities.c.customer_id)

# -- cases and messages -------------------------------------------------------------

cases = Table(
    "cases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # NULL only while a public thread holds nothing but the company's own post
    Column("customer_id", Id, ForeignKey("customers.id")),
    Column("channel", String(16), nullable=False),
    Column("bound", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("queue", String(64)),
    Column("assignee_id", Id, ForeignKey("agents.id")),
    Column("subject", Text),
    Column("thread_key", String(512)),
    Column("language", String(8)),
    Column("public", Boolean, nullable=False, default=False),
    Column("parallel", Boolean, nullable=False, default=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("last_message_at", UtcDateTime, nullable=False),
    Column("first_response_at", UtcDateTime),
    Column("solved_at", UtcDateTime),
    Column("sla_due_at", UtcDateTime),
    # when the oldest still-unanswered inbound message arrived; NULL when answered
    Column("awaiting_since", UtcDateTime),
    Column("message_count", Integer, nullable=False, default=0),
    Column("routing_rule", String(128)),
    # what the enrichment stages said (sentiment, intent, urgency, next best action)
    Column("insights", JsonType, nullable=False, default=dict),
)
Index("ix_cases_thread", cases.c.channel, cases.c.thread_key)
Index("ix_cases_customer_status", cases.c.customer_id, cases.c.status)
Index("ix_cases_queue_status_due", cases.c.queue, cases.c.status, cases.c.sla_due_at)
Index("ix_cases_status_due", cases.c.status, cases.c.sla_due_at)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("native_id", String(512), nullable=False),
    Column("direction", String(4), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("identity_id", Id, ForeignKey("identities.id")),
    Column("customer_id", Id, ForeignKey("customers.id")),
    Column("agent_id", Id, ForeignKey("agents.id")),
    Column("author_key", String(254)),
    Column("author_name", String(256)),
    Column("is_company", Boolean, nullable=False, default=False),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    Column("public", Boolean, nullable=False, default=False),
    Column("language", String(8)),
    Column("in_reply_to", String(512)),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("attachments", JsonType, nullable=False, default=list),
    Column("meta", JsonType, nullable=False, default=dict),
    Column("raw_inbox_id", Id),
    # listening's view of an inbound message (language, sentiment, intent, urgency)
    Column("insights", JsonType),
    UniqueConstraint("channel", "native_id", name="uq_messages_channel_native"),
)
Index("ix_messages_case", messages.c.case_id, messages.c.sent_at)
Index("ix_messages_customer", messages.c.customer_id, messages.c.sent_at)

# -- facts ----------------------------------------------------------------------------

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("type", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("case_id", Id),
    Column("customer_id", Id),
    Column("message_id", Id),
    Column("agent_id", Id),
    Column("queue", String(64)),
    Column("channel", String(16)),
    Column("bound", String(16)),
    Column("data", JsonType, nullable=False, default=dict),
)
Index("ix_events_at", events.c.at)
Index("ix_events_case", events.c.case_id)
Index("ix_events_type_at", events.c.type, events.c.at)

# -- channel polling state (feeds) -------------------------------------------------------

channel_state = Table(
    "channel_state",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("state", JsonType, nullable=False, default=dict),
    Column("updated_at", UtcDateTime, nullable=False),
)
