"""Reading JSON webhook payloads with errors that name the exact path.

Platforms change payloads and integrators make mistakes; an error such as
``entry[0].changes[1].value.from.id: missing`` lets them fix it without our code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from somebound.channels.errors import ParseError
from somebound.channels.nul import storable_in, unstorable_escapes

T = TypeVar("T")

_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true/false",
}


def load_object(body: bytes | str, where: str, fix: str | None = None) -> dict[str, Any]:
    """Decode a JSON object, or raise :class:`ParseError` saying where the syntax broke."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"body is not UTF-8 (byte {exc.start} is 0x{body[exc.start]:02x})",
                where,
                "send the JSON encoded as UTF-8",
            ) from None
    else:
        text = body
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            where,
            fix or "send a well-formed JSON object",
        ) from None
    if not isinstance(data, dict):
        raise ParseError(
            f"expected a JSON object, got {type(data).__name__}", where, fix or "wrap it in {}"
        )
    if unstorable_escapes(text):  # rare, so the strings are walked only then
        data = storable_in(data)
    return data


def _type_ok(value: Any, typ: type | tuple[type, ...]) -> bool:
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not a number
    return isinstance(value, types)


def _describe(typ: type | tuple[type, ...]) -> str:
    types = typ if isinstance(typ, tuple) else (typ,)
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def require(obj: dict[str, Any], key: str, typ: type | tuple[type, ...], path: str) -> Any:
    """``obj[key]`` of type ``typ``, else a :class:`ParseError` at ``path.key``."""
    where = f"{path}.{key}" if path else key
    if key not in obj or obj[key] is None:
        raise ParseError("missing", where, f"include {key!r} ({_describe(typ)})")
    value = obj[key]
    if not _type_ok(value, typ):
        raise ParseError(
            f"expected {_describe(typ)}, got {type(value).__name__} {str(value)[:40]!r}",
            where,
        )
    return value


def optional(
    obj: dict[str, Any], key: str, typ: type | tuple[type, ...], path: str, default: T = None
) -> Any | T:
    """Like :func:`require` but ``default`` when the key is absent or null."""
    if key not in obj or obj[key] is None:
        return default
    return require(obj, key, typ, path)


def as_id(value: Any, where: str) -> str:
    """Platform ids arrive as strings or (older payloads) numbers; keep them as text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ParseError(f"expected an id (string), got {type(value).__name__}", where)
    text = str(value).strip()
    if not text:
        raise ParseError("empty id", where)
    return text


def epoch_to_datetime(value: Any, where: str, *, millis: bool = False) -> datetime:
    """A Unix time (seconds, or milliseconds when ``millis``) as an aware UTC datetime."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(f"expected a Unix timestamp, got {str(value)[:40]!r}", where)
    seconds = value / 1000 if millis else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError(f"timestamp {value!r} is out of range", where) from None


def iso_to_datetime(value: Any, where: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed) as an aware UTC datetime; naive means UTC."""
    if not isinstance(value, str):
        raise ParseError(f"expected an ISO 8601 time string, got {str(value)[:40]!r}", where)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(
            f"not an ISO 8601 time: {value[:40]!r}", where, "use e.g. 2026-03-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def any_time_to_datetime(value: Any, where: str) -> datetime:
    """Epoch seconds/milliseconds or ISO 8601, as CTI systems and platforms vary."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_to_datetime(value, where, millis=value > 10**11)
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return epoch_to_datetime(number, where, millis=number > 10**11)
    return iso_to_datetime(value, where)
