"""X Account Activity API authenticity: the CRC challenge and the body signature.

X proves a webhook URL is ours by sending ``GET ?crc_token=...``; we answer with the
HMAC-SHA256 of the token keyed by the consumer secret, base64, prefixed ``sha256=``.
Every event POST is signed the same way over the raw body in
``x-twitter-webhooks-signature``.
"""

from __future__ import annotations

from somebound.channels.errors import SignatureError
from somebound.channels.signatures import check_prefixed, hmac_sha256_b64

SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def crc_response(crc_token: str, consumer_secret: str) -> dict[str, str]:
    """The JSON body answering X's CRC check."""
    if not crc_token:
        raise SignatureError("crc_token is missing from the CRC request")
    if not consumer_secret:
        raise SignatureError("no X consumer secret configured")
    token = hmac_sha256_b64(consumer_secret, crc_token.encode("utf-8"))
    return {"response_token": f"sha256={token}"}


def sign(body: bytes, consumer_secret: str) -> str:
    """The ``x-twitter-webhooks-signature`` value X sends for ``body``."""
    return "sha256=" + hmac_sha256_b64(consumer_secret, body)


def verify_signature(body: bytes, header: str | None, consumer_secret: str) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs the raw ``body``."""
    if not consumer_secret:
        raise SignatureError("no X consumer secret configured: refusing unsigned trust")
    check_prefixed(header, hmac_sha256_b64(consumer_secret, body), header_name=SIGNATURE_HEADER)
