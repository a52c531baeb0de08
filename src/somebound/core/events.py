"""Facts are events: an append-only record every metric is computed from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from somebound.core.enums import Bound, Channel, EventType


@dataclass(frozen=True, slots=True)
class Event:
    """One fact. Denormalised channel/bound/queue so metrics need no joins."""

    type: EventType
    at: datetime
    case_id: int | None = None
    customer_id: int | None = None
    message_id: int | None = None
    agent_id: int | None = None
    queue: str | None = None
    channel: Channel | None = None
    bound: Bound | None = None
    data: dict[str, Any] = field(default_factory=dict)
