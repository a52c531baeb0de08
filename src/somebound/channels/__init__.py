"""Channel adapters: each turns its native payload into ``Message`` objects and sends
``Reply`` objects back out. Everything after an adapter is channel-blind.

email (SMTP listener, MIME parsing, SMTP replies) · facebook (Page webhooks, Graph
replies) · x (Account Activity webhooks, v2 replies) · feeds (RSS/Atom polling with
monitored keywords) · chat (WebSocket frames, ChatHub) · phone (CTI events, CDR CSV).
"""

from somebound.channels.errors import (
    ChannelError,
    FetchError,
    ParseError,
    SendError,
    SignatureError,
)

__all__ = ["ChannelError", "FetchError", "ParseError", "SendError", "SignatureError"]
