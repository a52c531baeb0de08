"""Messages as JSON-ready dicts (CLI output, dead-letter previews, fixtures)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from enum import Enum
from typing import Any

from somebound.core.message import Message


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def message_to_dict(message: Message) -> dict[str, Any]:
    return _plain(asdict(message))
