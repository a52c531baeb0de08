"""Phone numbers to E.164 so the same caller is the same key on every channel."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d+")


def to_e164(raw: str, default_country_code: str = "358") -> str | None:
    """Normalise a phone number; ``None`` when it has too few digits to be one.

    Finnish national format (leading 0) gets the default country code; ``00`` is the
    international prefix. Hidden/anonymous callers return ``None``.
    """
    raw = raw.strip()
    if not raw:
        return None
    plus = raw.startswith("+")
    digits = "".join(_DIGITS.findall(raw))
    if len(digits) < 5:
        return None
    if plus:
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("0"):
        return "+" + default_country_code + digits[1:]
    return "+" + digits


def normalise_email(raw: str) -> str:
    """Case-fold an address; the local part is case-insensitive for every real MX."""
    return raw.strip().casefold()
