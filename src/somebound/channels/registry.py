"""Which parser, signature check and sender each channel uses, from one settings object.

The API stores a webhook's raw bytes durably first and a worker parses them later, so
parsing is exposed as :func:`parse_native` (channel + raw bytes → messages) and the
signature check as :func:`verify_webhook`, both channel-blind for the caller.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, get_type_hints

from somebound.channels import chat, email, facebook, phone, x
from somebound.channels._json import load_object
from somebound.channels.blobs import BlobStore
from somebound.channels.errors import SignatureError
from somebound.channels.facebook.sender import GRAPH_URL
from somebound.channels.x.sender import X_API_URL
from somebound.core.enums import Channel
from somebound.core.message import Message
from somebound.core.reply import Sender

ENV_PREFIX = "SOMEBOUND_"


@dataclass(frozen=True)
class ChannelSettings:
    """Secrets, endpoints and options of every channel; each field has an env var
    ``SOMEBOUND_<FIELD>`` (e.g. ``SOMEBOUND_FACEBOOK_APP_SECRET``). Tuples are
    comma-separated, booleans ``1/true/yes``."""

    facebook_app_secret: str | None = None
    facebook_verify_token: str | None = None
    facebook_page_token: str | None = None
    facebook_page_id: str | None = None
    facebook_graph_url: str = GRAPH_URL
    x_consumer_secret: str | None = None
    x_bearer_token: str | None = None
    x_user_id: str | None = None
    x_handles: tuple[str, ...] = ()
    x_api_url: str = X_API_URL
    smtp_relay_host: str | None = None
    smtp_relay_port: int = 25
    smtp_from: str | None = None
    smtp_from_name: str | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_listen_host: str = "127.0.0.1"
    email_listen_port: int = 2525
    email_domains: tuple[str, ...] = ()
    email_tls_cert: str | None = None  # PEM files; with both set the listener offers STARTTLS
    email_tls_key: str | None = None
    email_require_tls: bool = False
    blob_dir: str = "var/blobs"
    feed_keywords: tuple[str, ...] = ("somebound*",)
    feed_exclude: tuple[str, ...] = ()
    default_country_code: str = "358"
    phone_timezone: str = "Europe/Helsinki"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ChannelSettings:
        env = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            if name not in env:
                continue
            raw = env[name].strip()
            hint = hints[f.name]
            if hint is int:
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ValueError(f"{name}={raw!r}: expected a whole number") from None
            elif hint is bool:
                if raw.lower() not in ("1", "true", "yes", "0", "false", "no", ""):
                    raise ValueError(f"{name}={raw!r}: expected true/false")
                values[f.name] = raw.lower() in ("1", "true", "yes")
            elif hint == tuple[str, ...]:
                values[f.name] = tuple(p.strip() for p in raw.split(",") if p.strip())
            else:
                values[f.name] = raw or None
        return cls(**values)


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

    Raises :class:`SignatureError` (→ 403). Channels without platform signatures
    (email arrives by SMTP, CTI and chat are authenticated by the API) pass.
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
    elif channel not in (Channel.EMAIL, Channel.PHONE, Channel.CHAT):
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
    endpoint stores; email ``envelope`` is the listener's ``envelope_info``.
    """
    if channel is Channel.EMAIL:
        envelope = envelope or {}
        return [
            email.parse_email(
                raw,
                blobs=blobs if blobs is not None else BlobStore(settings.blob_dir),
                envelope_from=envelope.get("mail_from"),
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
    raise ValueError(f"channel {channel} has no raw payload to parse (feeds are polled)")
