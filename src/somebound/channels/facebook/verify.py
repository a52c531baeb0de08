"""Facebook webhook authenticity: the subscribe handshake and the body signature."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from somebound.channels.errors import SignatureError
from somebound.channels.signatures import check_prefixed, hmac_sha256_hex

SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify_handshake(params: Mapping[str, str], verify_token: str) -> str:
    """Answer the ``GET`` subscription check: return ``hub.challenge`` to echo back.

    Facebook sends ``hub.mode=subscribe``, ``hub.verify_token`` (the token configured
    in the app dashboard) and ``hub.challenge``. Anything else is refused with
    :class:`SignatureError` (the API answers 403).
    """
    mode = params.get("hub.mode")
    if mode != "subscribe":
        raise SignatureError(f"hub.mode must be 'subscribe', got {mode!r}")
    token = params.get("hub.verify_token") or ""
    if not verify_token or not hmac.compare_digest(token.encode(), verify_token.encode()):
        raise SignatureError("hub.verify_token does not match the configured verify token")
    challenge = params.get("hub.challenge")
    if not challenge:
        raise SignatureError("hub.challenge is missing")
    return challenge


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Facebook sends for ``body``."""
    return "sha256=" + hmac_sha256_hex(app_secret, body)


def verify_signature(body: bytes, header: str | None, app_secret: str) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs the raw ``body``."""
    if not app_secret:
        raise SignatureError("no Facebook app secret configured: refusing unsigned trust")
    check_prefixed(
        header.lower() if header else header,  # hex digits: case carries no meaning
        hmac_sha256_hex(app_secret, body),
        header_name=SIGNATURE_HEADER,
    )
