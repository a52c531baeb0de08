"""The one message model every channel adapter produces.

Everything after an adapter is channel-blind: it sees a :class:`Message`, never a
Facebook entry or a MIME tree. The fields are therefore the union of what threading,
identification, triage and metrics need, each with a channel-neutral meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from somebound.core.enums import Channel, Direction, MessageKind


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a message, as the channel knows them.

    ``channel_user_id`` is the stable id on that channel (an email address, an E.164
    phone number, a Facebook PSID/user id, an X user id, a chat visitor id, a forum
    nickname). ``email``/``phone`` are set when the channel proves them.
    """

    channel_user_id: str
    display_name: str | None = None
    handle: str | None = None
    email: str | None = None
    phone: str | None = None
    followers: int | None = None  # reach where the channel reports it
    is_company: bool = False  # the company's own page/account
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment kept by reference: the bytes live in the blob store, not here."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Message:
    """A contact turned into the hub's own shape.

    ``native_id`` is unique per channel and is what makes redelivery idempotent.
    ``thread_key`` names the conversation on the channel (email root Message-ID,
    Facebook post id, X conversation id, chat session, call id); ``in_reply_to`` the
    native id of the message answered, when the channel says so.
    ``public`` is True for posts and comments everyone can read.
    """

    channel: Channel
    native_id: str
    author: Author
    body: str
    sent_at: datetime
    direction: Direction = Direction.IN
    kind: MessageKind = MessageKind.MESSAGE
    thread_key: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str | None = None
    public: bool = False
    language: str | None = None
    addressed_to_company: bool = True
    recipients: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
