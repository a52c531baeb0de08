"""Facebook Page: webhook handshake and signature, feed + Messenger parsing, Graph replies."""

from somebound.channels.facebook.parse import messenger_thread_key, parse_webhook
from somebound.channels.facebook.sender import GraphSender
from somebound.channels.facebook.verify import sign, verify_handshake, verify_signature

__all__ = [
    "GraphSender",
    "messenger_thread_key",
    "parse_webhook",
    "sign",
    "verify_handshake",
    "verify_signature",
]
