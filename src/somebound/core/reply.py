"""What goes out: a reply handed to a channel adapter, and what the channel said back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from somebound.core.enums import Channel
from somebound.core.message import Author


@dataclass(frozen=True, slots=True)
class Reply:
    """A message the company sends on a case's channel.

    ``in_reply_to`` is the native id of the message answered (a comment id, a tweet id,
    an email Message-ID); ``thread_key`` the case's conversation on the channel.
    ``public`` picks a public answer (comment, reply tweet) over a private one (DM).
    """

    channel: Channel
    body: str
    to: Author
    public: bool = False
    in_reply_to: str | None = None
    thread_key: str | None = None
    subject: str | None = None
    references: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    native_id: str
    sent_at: datetime
    meta: dict[str, Any] = field(default_factory=dict)


class Sender(Protocol):
    """A channel's way out. Raises :class:`somebound.channels.errors.SendError`."""

    channel: Channel

    def send(self, reply: Reply) -> SendResult: ...
