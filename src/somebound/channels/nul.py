"""NUL (U+0000) out of what the channels read.

PostgreSQL cannot store NUL in text: a contact carrying one failed its case's insert, was
retried, dead-lettered and never reached a case (SQLite stored it). Every channel's text
passes here on the way in and NUL becomes U+FFFD, the replacement character; the raw
payload keeps the bytes as they came.
"""

from __future__ import annotations

from typing import Any


def without_nul(text: str) -> str:
    """``text`` with every NUL replaced by U+FFFD (unchanged, and not copied, without)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def without_nul_in(value: Any) -> Any:
    """:func:`without_nul` applied to every string (keys too) in decoded JSON."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {without_nul_in(k): without_nul_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul_in(v) for v in value]
    return value
