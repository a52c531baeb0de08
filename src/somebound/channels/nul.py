"""NUL (U+0000) and lone surrogates out of what the channels read.

PostgreSQL cannot store NUL in text: a contact carrying one failed its case's insert, was
retried, dead-lettered and never reached a case (SQLite stored it). Every channel's text
passes here on the way in and NUL becomes U+FFFD, the replacement character; the raw
payload keeps the bytes as they came.

A lone surrogate (U+D800–U+DFFF not in a pair) is not a character at all, and neither
database can store it (UTF-8 has no encoding for it). Only JSON's ``\\uXXXX`` escapes make
one, when a platform cuts an emoji's UTF-16 pair in two at a length limit; it too becomes
U+FFFD.
"""

from __future__ import annotations

import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins the pairs it can


def without_nul(text: str) -> str:
    """``text`` with every NUL replaced by U+FFFD (unchanged, and not copied, without)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", without_nul(text))


def storable_in(value: Any) -> Any:
    """:func:`storable` applied to every string (keys too) in decoded JSON."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_in(k): storable_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_in(v) for v in value]
    return value


def unstorable_escapes(json_text: str) -> bool:
    """Could decoding this JSON text give a NUL or a lone surrogate? Only its escapes can
    (``\\u0000``, ``\\ud8xx``…), so the decoded value needs :func:`storable_in` only then."""
    return "\\u0000" in json_text or "\\ud" in json_text or "\\uD" in json_text
