"""The small closed vocabularies the whole hub speaks.

They are ``str`` enums so that they serialise as their value in JSON, SQL and YAML
without a translation table at each edge.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    FACEBOOK = "facebook"
    X = "x"
    FEED = "feed"  # RSS/Atom forums and blogs
    CHAT = "chat"
    PHONE = "phone"
    SMS = "sms"


class Bound(StrEnum):
    """Who started the contact: the customer, the company, or nobody can tell."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    SOMEBOUND = "somebound"


class Direction(StrEnum):
    IN = "in"  # from a customer or a member of the public to the company
    OUT = "out"  # from the company


class MessageKind(StrEnum):
    MESSAGE = "message"
    NOTE = "note"  # internal, never sent to the customer
    CALL = "call"  # a phone call, its body is a summary


class CaseStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting for the customer
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


# the open statuses; a plain status string (a row's column) is looked up in it too
OPEN_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING})


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class EventType(StrEnum):
    """Facts appended to the event log; every metric is computed from these."""

    MESSAGE_RECEIVED = "message_received"
    MESSAGE_SENT = "message_sent"
    NOTE_ADDED = "note_added"
    CASE_OPENED = "case_opened"
    CASE_ASSIGNED = "case_assigned"
    CASE_ROUTED = "case_routed"
    CASE_STATUS_CHANGED = "case_status_changed"
    CASE_PRIORITY_CHANGED = "case_priority_changed"
    CASE_REOPENED = "case_reopened"
    FIRST_RESPONSE = "first_response"
    PARALLEL_CONTACT = "parallel_contact"
    CALL_ANSWERED = "call_answered"
    CALL_ABANDONED = "call_abandoned"
    CALL_ENDED = "call_ended"
    DECISION_MADE = "decision_made"
    OUTCOME_RECORDED = "outcome_recorded"
    SURVEY_SENT = "survey_sent"
    SURVEY_ANSWERED = "survey_answered"
    ENGAGEMENT_RECORDED = "engagement_recorded"  # likes/replies/views on a public answer
    SPIKE_RAISED = "spike_raised"
    SPIKE_CLEARED = "spike_cleared"
    IDENTITY_LINKED = "identity_linked"
    IDENTITY_UNLINKED = "identity_unlinked"
    CUSTOMERS_MERGED = "customers_merged"
    CUSTOMERS_UNMERGED = "customers_unmerged"
    CUSTOMER_ERASED = "customer_erased"
