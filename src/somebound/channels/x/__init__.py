"""X (Twitter): Account Activity CRC and signatures, tweet and DM parsing, v2 replies."""

from somebound.channels.x.parse import dm_conversation_id, dm_thread_key, parse_webhook
from somebound.channels.x.sender import XSender
from somebound.channels.x.verify import crc_response, sign, verify_signature

__all__ = [
    "XSender",
    "crc_response",
    "dm_conversation_id",
    "dm_thread_key",
    "parse_webhook",
    "sign",
    "verify_signature",
]
