"""Request and response bodies of the REST API (they make the OpenAPI docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from somebound.core.enums import Bound, CaseStatus, Channel, Priority


class LoginIn(BaseModel):
    username: str
    password: str


class TokenOut(BaseModel):
    token: str
    agent_id: int
    username: str
    role: str


class CaseOut(BaseModel):
    id: int
    customer_id: int | None
    customer_name: str | None = None
    channel: Channel
    bound: Bound
    status: CaseStatus
    priority: Priority
    queue: str | None
    assignee_id: int | None
    subject: str | None
    language: str | None
    public: bool
    parallel: bool
    opened_at: datetime
    updated_at: datetime
    last_message_at: datetime
    first_response_at: datetime | None
    solved_at: datetime | None
    sla_due_at: datetime | None
    awaiting_since: datetime | None
    message_count: int
    routing_rule: str | None
    insights: dict[str, Any] = Field(default_factory=dict)


class MessageOut(BaseModel):
    id: int
    case_id: int
    channel: Channel
    native_id: str
    direction: str
    kind: str
    author_key: str | None
    author_name: str | None
    is_company: bool
    customer_id: int | None
    agent_id: int | None
    subject: str | None
    body: str
    public: bool
    language: str | None
    in_reply_to: str | None
    sent_at: datetime
    attachments: list[dict[str, Any]]
    meta: dict[str, Any]


class CaseDetail(CaseOut):
    messages: list[MessageOut]
    participants: list[dict[str, Any]]


class CaseList(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None = None


class ReplyIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)
    public: bool | None = Field(None, description="public answer (comment/reply tweet) or "
                                "private (DM/email); default: as the customer wrote")
    handling_seconds: float | None = Field(None, ge=0, description="agent time on this reply")


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=20000)


class AssignIn(BaseModel):
    agent_id: int | None


class StatusIn(BaseModel):
    status: CaseStatus


class PriorityIn(BaseModel):
    priority: Priority


class OutboundIn(BaseModel):
    customer_id: int
    channel: Channel
    body: str = Field(min_length=1)
    subject: str | None = None
    queue: str = "general"


class CustomerOut(BaseModel):
    id: int
    customer_number: str | None
    display_name: str | None
    email: str | None
    phone: str | None
    language: str | None
    attributes: dict[str, Any]
    provisional: bool
    merged_into_id: int | None
    created_at: datetime


class TimelineItem(BaseModel):
    at: datetime
    case_id: int
    channel: Channel
    bound: Bound
    direction: str
    kind: str
    public: bool
    body: str
    message_id: int


class CustomerDetail(CustomerOut):
    identities: list[dict[str, Any]]
    cases: list[CaseOut]
    timeline: list[TimelineItem]


class QueueOut(BaseModel):
    name: str
    team: str | None
    open_count: int
