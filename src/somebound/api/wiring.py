"""Channel wiring: the parsers the worker uses and the senders replies go out through.

The only place that knows which adapter function serves which channel.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from somebound.api.settings import Settings
from somebound.channels.blobs import BlobStore
from somebound.core.enums import Channel
from somebound.core.message import Message
from somebound.core.reply import Sender

Parser = Callable[[bytes, dict], list[Message]]


def build_parsers(settings: Settings) -> dict[str, Parser]:
    from somebound.channels.email.parse import parse_email
    from somebound.channels.facebook.parse import parse_webhook as parse_facebook
    from somebound.channels.x.parse import parse_webhook as parse_x

    blobs = BlobStore(Path(settings.data_dir) / "blobs")

    def email(payload: bytes, headers: dict) -> list[Message]:
        received = headers.get("received_at")
        return [parse_email(payload, blobs=blobs, envelope_from=headers.get("mail_from"),
                            received_at=datetime.fromisoformat(received) if received else None)]

    def x(payload: bytes, headers: dict) -> list[Message]:
        return parse_x(payload, company_handles=[settings.x_handle])

    parsers: dict[str, Parser] = {
        Channel.EMAIL.value: email,
        Channel.FACEBOOK.value: lambda p, h: parse_facebook(p),
        Channel.X.value: x,
    }
    try:
        from somebound.channels.phone import parse_cti_event

        parsers[Channel.PHONE.value] = lambda p, h: [parse_cti_event(p)]
    except ImportError:
        pass
    try:
        from somebound.channels.chat import parse_chat_frame

        def chat(payload: bytes, headers: dict) -> list[Message]:
            env = json.loads(payload)  # {"session_id", "visitor_id", "frame"}, see chat_ws
            msg = parse_chat_frame(env["session_id"], env["visitor_id"], env["frame"])
            return [msg] if msg is not None else []

        parsers[Channel.CHAT.value] = chat
    except ImportError:
        pass
    parsers[Channel.FEED.value] = _parse_feed_item
    return parsers


def _parse_feed_item(payload: bytes, headers: dict) -> list[Message]:
    """Feed items are parsed by the poller; the inbox keeps them as serialised Messages
    (``channels.serialize.message_to_dict``), so this only turns the dict back."""
    from somebound.core.message import Author

    d = json.loads(payload)
    author = d["author"]
    return [Message(
        channel=Channel.FEED, native_id=d["native_id"],
        author=Author(channel_user_id=author["channel_user_id"],
                      display_name=author.get("display_name"), handle=author.get("handle"),
                      profile=author.get("profile") or {}),
        body=d["body"], sent_at=datetime.fromisoformat(d["sent_at"]).astimezone(UTC),
        thread_key=d.get("thread_key"), in_reply_to=d.get("in_reply_to"),
        subject=d.get("subject"), public=True, language=d.get("language"),
        addressed_to_company=bool(d.get("addressed_to_company", False)),
        meta=d.get("meta") or {},
    )]


def build_senders(settings: Settings, chat_hub: object | None = None) -> dict[Channel, Sender]:
    from somebound.channels.email.sender import SmtpSender
    from somebound.channels.facebook.sender import GraphSender
    from somebound.channels.x.sender import XSender

    senders: dict[Channel, Sender] = {
        Channel.EMAIL: SmtpSender(settings.smtp_relay_host, settings.smtp_relay_port,
                                  settings.mail_from),
        Channel.FACEBOOK: GraphSender(settings.graph_base_url, settings.facebook_page_token,
                                      settings.facebook_page_id),
        Channel.X: XSender(settings.x_base_url, settings.x_bearer_token),
    }
    if chat_hub is not None:
        from somebound.channels.chat import ChatSender

        senders[Channel.CHAT] = ChatSender(chat_hub)
    return senders
