"""Import call detail records (CDR) exported from a telephony system as CSV.

Every good row becomes the *final* event of its call (``ended``, or ``abandoned`` for
calls nobody answered) with the same ``native_id`` a live CTI webhook would have
produced, so importing a day that was also streamed live adds nothing twice. Every
bad row is reported with its line number and reason; good rows are kept.

Columns (header row required, case-insensitive, any order; ``,`` ``;`` or tab):
``call_id``, ``start_time`` (required), ``caller`` (required for inbound),
``called``, ``direction``, ``queue``, ``agent``, ``answer_time``, ``end_time``,
``wait_seconds``, ``talk_seconds``, ``wrap_seconds``, ``disposition``
(answered / abandoned / missed / no_answer / busy / failed). Times are ISO 8601 or
Unix seconds; ``answer_time``/``end_time`` give the wait and talk seconds when those
columns are absent. Finnish Excel exports (``;`` separated, decimal comma,
Windows-1252) work as they are.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from somebound.channels._json import any_time_to_datetime
from somebound.channels.errors import ParseError
from somebound.channels.nul import without_nul
from somebound.channels.phone.cti import DURATIONS, call_message, seconds
from somebound.core.message import Message

_HEADER_ALIASES = {
    "call_id": ("call_id", "callid", "id", "uniqueid"),
    "start_time": ("start_time", "start", "started_at", "calldate", "timestamp"),
    "answer_time": ("answer_time", "answered_at", "answer"),
    "end_time": ("end_time", "end", "ended_at"),
    "caller": ("caller", "from", "src", "ani", "caller_number", "clid"),
    "called": ("called", "to", "dst", "dnis", "called_number"),
    "direction": ("direction",),
    "queue": ("queue", "service", "skill"),
    "agent": ("agent", "agent_id", "dstchannel_agent"),
    "wait_seconds": ("wait_seconds", "wait", "queue_seconds"),
    "talk_seconds": ("talk_seconds", "talk", "billsec"),
    "wrap_seconds": ("wrap_seconds", "wrap", "acw_seconds"),
    "disposition": ("disposition", "status", "result"),
}
UNANSWERED = frozenset(
    {"abandoned", "missed", "no_answer", "no answer", "unanswered", "busy", "failed", "noanswer"}
)
ANSWERED = frozenset({"answered", "completed", "ended", "ok", ""})


@dataclass(frozen=True)
class RowError:
    """One rejected CSV row: 1-based ``line`` in the file, the ``column`` when known."""

    line: int
    reason: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


def _read_text(source: str | os.PathLike[str]) -> str:
    """The CSV's text: a file as UTF-8, as UTF-16 after a byte-order mark (Excel's
    "Unicode Text" export), else as cp1252 (Excel's Finnish default)."""
    if isinstance(source, os.PathLike) or (
        isinstance(source, str)
        and "\n" not in source
        and len(source) < 4096
        and Path(source).is_file()
    ):
        data = Path(source).read_bytes()
        encodings = (("utf-16",) if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
                     else ("utf-8-sig", "cp1252"))
        for encoding in encodings:
            try:
                return without_nul(data.decode(encoding))
            except UnicodeDecodeError:
                continue
        return without_nul(data.decode("latin-1"))
    return without_nul(str(source))


def _header_map(header: list[str]) -> tuple[dict[str, int], list[str]]:
    lowered = [h.strip().lower().replace(" ", "_") for h in header]
    mapping: dict[str, int] = {}
    for field, aliases in _HEADER_ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                mapping[field] = lowered.index(alias)
                break
    missing = [f for f in ("call_id", "start_time") if f not in mapping]
    return mapping, missing


def import_cdr_csv(
    source: str | os.PathLike[str],
    *,
    default_country_code: str = "358",
    timezone: str = "UTC",
) -> tuple[list[Message], list[RowError]]:
    """Parse a CDR CSV file (a path) or CSV text; returns (messages, row errors).

    ``timezone`` (an IANA name such as ``Europe/Helsinki``) is the zone of times
    written without an offset, as PBX exports usually are.

    A file whose header lacks the required columns raises :class:`ParseError` (no row
    could be read); individual bad rows never do.
    """
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParseError(
            f"unknown time zone {timezone!r}", "timezone", "e.g. Europe/Helsinki"
        ) from None
    text = _read_text(source)
    if not text.strip():
        raise ParseError("the CSV is empty", "cdr csv line 1", "export with a header row")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise ParseError(f"no header row ({exc})", "cdr csv line 1") from None
    mapping, missing = _header_map(header)
    if missing:
        raise ParseError(
            f"header lacks {', '.join(missing)} (found: {', '.join(h.strip() for h in header)})",
            "cdr csv line 1",
            "name the columns call_id, start_time, caller, ... (see docs/channels.md)",
        )
    messages: list[Message] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, f"broken CSV quoting: {exc}"))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        values = {field: row[index].strip() for field, index in mapping.items()}
        try:
            message = _row_message(values, default_country_code, tz)
        except ParseError as exc:
            errors.append(
                RowError(line, exc.what + (f" ({exc.fix})" if exc.fix else ""), exc.where)
            )
            continue
        key = message.native_id
        if key in seen:
            errors.append(
                RowError(
                    line,
                    f"duplicate call_id {message.meta['call_id']!r} (first on line {seen[key]})",
                    "call_id",
                )
            )
            continue
        seen[key] = line
        messages.append(message)
    return messages, errors


_LOCAL_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y klo %H.%M", "%Y-%m-%d %H:%M")


def _time(values: dict[str, str], column: str, tz: ZoneInfo) -> datetime | None:
    """ISO 8601, Unix seconds or Finnish ``2.3.2026 8:05``; naive times are in ``tz``."""
    raw = values.get(column, "")
    if not raw:
        return None
    text = raw.strip()
    if text.isdigit():
        return any_time_to_datetime(text, column)
    try:  # ISO 8601 first: by far the most common export format, and the fastest
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _LOCAL_FORMATS:
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(UTC)
            except ValueError:
                continue
        raise ParseError(
            f"not a time: {text[:40]!r}", column, "use ISO 8601 (2026-03-02T08:05:00+02:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _row_message(values: dict[str, str], default_country_code: str, tz: ZoneInfo) -> Message:
    call_id = values.get("call_id", "")
    if not call_id:
        raise ParseError("empty call_id", "call_id")
    start = _time(values, "start_time", tz)
    if start is None:
        raise ParseError("empty start_time", "start_time", "give the call's start time")
    answer = _time(values, "answer_time", tz)
    end = _time(values, "end_time", tz)
    durations: dict[str, float] = {}
    for key in DURATIONS:
        if values.get(key):
            durations[key] = seconds(values[key], key)
    if answer is not None and "wait_seconds" not in durations:
        durations["wait_seconds"] = max(0.0, (answer - start).total_seconds())
    if answer is not None and end is not None and "talk_seconds" not in durations:
        durations["talk_seconds"] = max(0.0, (end - answer).total_seconds())
    if end is not None and end < start:
        raise ParseError("end_time is before start_time", "end_time")
    disposition = values.get("disposition", "").lower()
    if disposition in UNANSWERED:
        event = "abandoned"
    elif disposition in ANSWERED:
        event = "ended"
    else:
        raise ParseError(
            f"unknown disposition {disposition!r}", "disposition", "use answered or abandoned"
        )
    if event == "abandoned" and durations.get("talk_seconds"):
        raise ParseError("abandoned call with talk time", "talk_seconds")
    direction = (values.get("direction") or "inbound").lower()
    if direction not in ("inbound", "outbound"):
        raise ParseError(f"unknown direction {direction!r}", "direction", "inbound or outbound")
    caller = values.get("caller") or None
    if direction == "inbound" and caller is None:
        raise ParseError("empty caller", "caller", "give the number, or 'anonymous' if hidden")
    at = end or start + timedelta(
        seconds=durations.get("wait_seconds", 0.0) + durations.get("talk_seconds", 0.0)
    )
    extra: dict[str, Any] = {"source": "cdr", "started_at": start.isoformat()}
    return call_message(
        call_id=call_id,
        event=event,
        caller_raw=caller,
        called_raw=values.get("called") or None,
        direction=direction,
        queue=values.get("queue") or None,
        agent=values.get("agent") or None,
        at=at,
        durations=durations,
        summary=None,
        extra=extra,
        default_country_code=default_country_code,
    )
