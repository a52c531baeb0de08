"""Domain types shared by every layer: plain dataclasses and enums, no I/O."""

from somebound.core.enums import (
    Bound,
    CaseStatus,
    Channel,
    Direction,
    EventType,
    MessageKind,
    Priority,
)
from somebound.core.events import Event
from somebound.core.message import Attachment, Author, Message

__all__ = [
    "Attachment",
    "Author",
    "Bound",
    "CaseStatus",
    "Channel",
    "Direction",
    "Event",
    "EventType",
    "Message",
    "MessageKind",
    "Priority",
]
