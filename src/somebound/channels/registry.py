"""Which parser, signature check and sender each channel uses, from one settings object.

The only place that knows which adapter function serves which channel: the hub
(``create_app``, ``somebound worker``, the local stack) and the ``somebound channels``
CLI both build from here, so they cannot drift apart.

The API stores a webhook's raw bytes durably first and a worker parses them later, so
parsing is exposed as :func:`parse_native` (channel + raw bytes → messages) and
:func:`build_parsers` (the same as the inbox's ``{channel: parser}`` table), and the
signature check as :func:`verify_webhook`, all channel-blind for the caller.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from somebound.channels import chat, email, facebook, phone, x
from somebound.channels._json import load_object
from somebound.channels.blobs import BlobStore
from somebound.channels.errors import ParseError, SignatureError
from somebound.channels.settings import ChannelSettings, SettingsError
from somebound.channels.signatures import check_prefixed, hmac_sha256_hex
from somebound.core.enums import Channel
from somebound.core.message import Author, Message
from somebound.core.reply import Sender

__all__ = [
    "ChannelSettings",
    "Parser",
    "SettingsError",
    "build_email_listener",
    "build_parsers",
    "build_senders",
    "parse_native",
    "verify_webhook",
]

# (raw bytes, the metadata stored beside them in the inbox) → messages
Parser = Callable[[bytes, Mapping[str, Any]], list[Message]]
CTI_SIGNATURE_HEADER = "X-Somebound-Signature"
# channels whose raw payloads the inbox keeps (SMS has no adapter yet)
PARSED_CHANNELS = (
    Channel.EMAIL,
    Channel.FACEBOOK,
    Channel.X,
    Channel.PHONE,
    Channel.CHAT,
    Channel.FEED,
)


def build_senders(
    settings: ChannelSettings, chat_hub: chat.ChatHub | None = None
) -> dict[Channel, Sender]:
    """A sender for every channel that is configured; others are simply absent."""
    senders: dict[Channel, Sender] = {}
    if settings.smtp_relay_host and settings.smtp_from:
        senders[Channel.EMAIL] = email.SmtpSender(
            settings.smtp_relay_host,
            settings.smtp_relay_port,
            settings.smtp_from,
            from_name=settings.smtp_from_name,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    if settings.facebook_page_token:
        senders[Channel.FACEBOOK] = facebook.GraphSender(
            settings.facebook_graph_url,
            settings.facebook_page_token,
            settings.facebook_page_id or "",
        )
    if settings.x_bearer_token:
        senders[Channel.X] = x.XSender(settings.x_api_url, settings.x_bearer_token)
    if chat_hub is not None:
        senders[Channel.CHAT] = chat.ChatSender(chat_hub)
    return senders


def build_email_listener(
    settings: ChannelSettings, accept: Callable[[bytes, dict[str, Any]], None]
) -> email.EmailListener:
    """The MX-style SMTP listener (not started) configured from ``settings``."""
    tls = None
    if settings.email_tls_cert and settings.email_tls_key:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(settings.email_tls_cert, settings.email_tls_key)
    return email.EmailListener(
        accept,
        settings.email_listen_host,
        settings.email_listen_port,
        accepted_domains=settings.email_domains or None,
        tls_context=tls,
        require_starttls=settings.email_require_tls and tls is not None,
    )


def verify_webhook(
    channel: Channel, body: bytes, headers: Mapping[str, str], settings: ChannelSettings
) -> None:
    """Check a webhook's signature before anything else touches it.

    Raises :class:`SignatureError` (→ 401/403), also when the channel's secret is unset.
    CTI call events carry ``X-Somebound-Signature: sha256=<hex HMAC of the body>`` with
    ``cti_secret``. Email arrives by SMTP and chat through the API's socket, so they pass.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if channel is Channel.FACEBOOK:
        facebook.verify_signature(
            body, lower.get("x-hub-signature-256"), settings.facebook_app_secret or ""
        )
    elif channel is Channel.X:
        x.verify_signature(
            body, lower.get("x-twitter-webhooks-signature"), settings.x_consumer_secret or ""
        )
    elif channel is Channel.PHONE:
        if not settings.cti_secret:
            raise SignatureError("no CTI secret configured: refusing unsigned trust")
        check_prefixed(
            lower.get(CTI_SIGNATURE_HEADER.lower()),
            hmac_sha256_hex(settings.cti_secret, body),
            header_name=CTI_SIGNATURE_HEADER,
        )
    elif channel not in (Channel.EMAIL, Channel.CHAT):
        raise SignatureError(f"no webhook is accepted for channel {channel}")


def parse_native(
    channel: Channel,
    raw: bytes,
    settings: ChannelSettings,
    *,
    blobs: BlobStore | None = None,
    envelope: Mapping[str, Any] | None = None,
    x_root_lookup: Callable[[str], str | None] | None = None,
) -> list[Message]:
    """Raw bytes as stored in the inbox → messages. Raises ParseError when unparseable.

    Chat raw bytes are the JSON ``{"session_id", "visitor_id", "frame"}`` the WebSocket
    endpoint stores; feed raw bytes are the JSON message the feed watcher stores (feeds
    are polled, not pushed). Email ``envelope`` is the listener's ``envelope_info``
    (``mail_from``; ``received_at`` as a datetime or ISO text stands in for a bad Date).
    """
    if channel is Channel.EMAIL:
        envelope = envelope or {}
        received = envelope.get("received_at")
        return [
            email.parse_email(
                raw,
                blobs=blobs if blobs is not None else BlobStore(settings.blob_dir),
                envelope_from=envelope.get("mail_from"),
                received_at=datetime.fromisoformat(received)
                if isinstance(received, str)
                else received,
            )
        ]
    if channel is Channel.FACEBOOK:
        return facebook.parse_webhook(raw)
    if channel is Channel.X:
        return x.parse_webhook(raw, root_lookup=x_root_lookup, company_handles=settings.x_handles)
    if channel is Channel.PHONE:
        return [phone.parse_cti_event(raw, default_country_code=settings.default_country_code)]
    if channel is Channel.CHAT:
        data = load_object(raw, "chat record")
        message = chat.parse_chat_frame(
            str(data.get("session_id", "")), str(data.get("visitor_id", "")), data.get("frame")
        )
        return [message] if message is not None else []
    if channel is Channel.FEED:
        return [_feed_record(raw)]
    raise ValueError(f"channel {channel} has no adapter that parses raw payloads")


def build_parsers(settings: ChannelSettings) -> dict[str, Parser]:
    """``{channel value: parser}`` for the durable inbox: :func:`parse_native` with one
    blob store, the inbox metadata as the email envelope."""
    blobs = BlobStore(settings.blob_dir)

    def parser(channel: Channel) -> Parser:
        def parse(raw: bytes, meta: Mapping[str, Any]) -> list[Message]:
            return parse_native(channel, raw, settings, blobs=blobs, envelope=meta)

        return parse

    return {channel.value: parser(channel) for channel in PARSED_CHANNELS}


def _feed_record(raw: bytes) -> Message:
    """A polled feed item as the watcher keeps it (``serialize.message_to_dict`` JSON)."""
    d = load_object(raw, "feed record")
    try:
        author = d["author"]
        return Message(
            channel=Channel.FEED,
            native_id=d["native_id"],
            author=Author(
                channel_user_id=author["channel_user_id"],
                display_name=author.get("display_name"),
                handle=author.get("handle"),
                profile=author.get("profile") or {},
            ),
            body=d["body"],
            sent_at=datetime.fromisoformat(d["sent_at"]).astimezone(UTC),
            thread_key=d.get("thread_key"),
            in_reply_to=d.get("in_reply_to"),
            subject=d.get("subject"),
            public=True,
            language=d.get("language"),
            addressed_to_company=bool(d.get("addressed_to_company", False)),
            meta=d.get("meta") or {},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"not a stored feed message: {exc!r}", "feed record") from None
