"""HMAC-SHA256 webhook signatures, compared in constant time.

Facebook signs the raw body with the app secret and sends ``sha256=<hex>`` in
``X-Hub-Signature-256``; X signs it with the consumer secret and sends
``sha256=<base64>`` in ``x-twitter-webhooks-signature`` (and answers its CRC
challenge the same way). Both are checked on the *raw bytes* before any parsing:
re-serialised JSON would not match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from somebound.channels.errors import SignatureError

PREFIX = "sha256="


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def hmac_sha256_hex(secret: str | bytes, body: bytes) -> str:
    return hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def hmac_sha256_b64(secret: str | bytes, body: bytes) -> str:
    digest = hmac.new(_key(secret), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def check_prefixed(header: str | None, expected: str, *, header_name: str) -> None:
    """Raise :class:`SignatureError` unless ``header`` is ``sha256=<expected>``.

    The comparison is :func:`hmac.compare_digest` so that the time taken does not leak
    how many leading characters of a forged signature were right.
    """
    if not header:
        raise SignatureError(f"missing {header_name} header: the request is not signed")
    header = header.strip()
    if not header.lower().startswith(PREFIX):
        raise SignatureError(f"{header_name} must start with 'sha256=', got {header[:20]!r}")
    given = header[len(PREFIX) :].encode("ascii", errors="replace")
    if not hmac.compare_digest(given, expected.encode("ascii")):
        raise SignatureError(f"{header_name} does not match the body: wrong secret or altered body")
