"""Call events from a CTI / contact-centre telephony system, as JSON webhooks.

A call is an inbound contact like any other: each event (ringing, answered, ended,
abandoned) is a :class:`Message` of kind ``CALL`` in the thread of its ``call_id``, and
the caller's number in E.164 identifies the customer. ``native_id`` is
``"<call_id>:<event>"`` so a redelivered event (and a later CDR import of the same
call) is deduplicated. The pipeline turns answered/ended/abandoned into the
``call_*`` events of the event log using ``meta`` (wait, talk and wrap seconds).

Accepted JSON (field aliases used by common CTI exports in brackets)::

    {"call_id": "c-1", "event": "ringing|answered|ended|abandoned",
     "caller": "+358 40 123 4567" [from, ani, caller_number],
     "called": "0201234567"? [to, dnis], "direction": "inbound|outbound"?,
     "queue": "billing"?, "agent": "anna"? [agent_id],
     "timestamp": "2026-03-02T08:00:00Z" | 1772438400 [time, at],
     "wait_seconds": 12?, "talk_seconds": 300?, "wrap_seconds": 30?,
     "summary": "..."?, "recording_url": "..."?}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from somebound.channels._json import any_time_to_datetime, as_id, load_object
from somebound.channels.errors import ParseError
from somebound.core.enums import Channel, Direction, MessageKind
from somebound.core.message import Author, Message
from somebound.core.phone import to_e164

CALL_EVENTS = ("ringing", "answered", "ended", "abandoned")
DURATIONS = ("wait_seconds", "talk_seconds", "wrap_seconds")
_ALIASES = {
    "caller": ("caller", "from", "ani", "caller_number", "caller_id"),
    "called": ("called", "to", "dnis", "called_number"),
    "agent": ("agent", "agent_id"),
    "timestamp": ("timestamp", "time", "at", "event_time"),
}


def pick(data: dict[str, Any], field: str) -> tuple[str, Any]:
    """(name used, value) of the first alias present for ``field``."""
    for name in _ALIASES.get(field, (field,)):
        if data.get(name) not in (None, ""):
            return name, data[name]
    return field, None


def seconds(value: Any, where: str) -> float:
    """A duration in seconds: numbers, ``"12"``, ``"12,5"`` (Finnish decimal comma)
    or ``"mm:ss"`` / ``"hh:mm:ss"``."""
    if isinstance(value, bool):
        raise ParseError("expected seconds, got true/false", where)
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", ".")
        try:
            if ":" in text:
                number = 0.0
                for part in text.split(":"):
                    number = number * 60 + float(part)
            else:
                number = float(text)
        except ValueError:
            raise ParseError(
                f"not a duration: {value[:30]!r}", where, "give seconds (12, 12.5) or mm:ss"
            ) from None
    else:
        raise ParseError(f"expected seconds, got {type(value).__name__}", where)
    if number != number or number < 0 or number > 7 * 24 * 3600:
        raise ParseError(f"duration {value!r} is negative or absurd", where)
    return number


def call_message(
    *,
    call_id: str,
    event: str,
    caller_raw: str | None,
    called_raw: str | None,
    direction: str,
    queue: str | None,
    agent: str | None,
    at: datetime,
    durations: dict[str, float],
    summary: str | None,
    extra: dict[str, Any],
    default_country_code: str,
) -> Message:
    """The one place a call event becomes a Message (shared with the CDR import)."""
    outbound = direction == "outbound"
    customer_raw = called_raw if outbound else caller_raw
    phone = to_e164(customer_raw or "", default_country_code)
    author = Author(
        channel_user_id=phone or f"anonymous-caller:{call_id}",
        phone=phone,
        profile={} if phone else {"anonymous": True, "raw_number": customer_raw},
    )
    parts = [f"Call {event}", f"{'to' if outbound else 'from'} {phone or 'a hidden number'}"]
    if queue:
        parts.append(f"in queue {queue}")
    if agent:
        parts.append(f"with agent {agent}")
    for key in DURATIONS:
        if key in durations:
            parts.append(f"{key.split('_')[0]} {durations[key]:.0f} s")
    body = ", ".join(parts[:2]) + (" " + ", ".join(parts[2:]) if parts[2:] else "")
    if summary:
        body += f"\n\n{summary}"
    meta: dict[str, Any] = {
        "call_id": call_id,
        "event": event,
        "queue": queue,
        "agent": agent,
        "call_direction": "outbound" if outbound else "inbound",
        "called": to_e164(called_raw or "", default_country_code) if not outbound else None,
        **durations,
        **extra,
    }
    return Message(
        channel=Channel.PHONE,
        native_id=f"{call_id}:{event}",
        author=author,
        body=body,
        sent_at=at,
        direction=Direction.OUT if outbound else Direction.IN,
        kind=MessageKind.CALL,
        thread_key=call_id,
        public=False,
        meta=meta,
    )


def parse_cti_event(body: bytes | str, *, default_country_code: str = "358") -> Message:
    """One CTI webhook body as a call :class:`Message`."""
    data = load_object(body, "cti event", "post one JSON object per call event")
    return cti_event_from_dict(data, default_country_code=default_country_code, where="")


def cti_event_from_dict(
    data: dict[str, Any], *, default_country_code: str = "358", where: str = ""
) -> Message:
    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    if data.get("call_id") in (None, ""):
        raise ParseError("missing", at("call_id"), "include the CTI's call id")
    call_id = as_id(data["call_id"], at("call_id"))
    event = str(data.get("event", "")).strip().lower()
    if event not in CALL_EVENTS:
        raise ParseError(
            f"unknown call event {data.get('event')!r}",
            at("event"),
            f"use one of {', '.join(CALL_EVENTS)}",
        )
    direction = str(data.get("direction") or "inbound").strip().lower()
    if direction not in ("inbound", "outbound"):
        raise ParseError(
            f"unknown direction {direction!r}", at("direction"), "use inbound or outbound"
        )
    _caller_key, caller = pick(data, "caller")
    _called_key, called = pick(data, "called")
    if direction == "inbound" and caller is None:
        raise ParseError(
            "missing",
            at("caller"),
            "include the caller's number; send 'anonymous' for a hidden one",
        )
    time_key, when = pick(data, "timestamp")
    if when is None:
        raise ParseError(
            "missing", at("timestamp"), "include the event time (ISO 8601 or Unix seconds)"
        )
    durations = {
        key: seconds(data[key], at(key)) for key in DURATIONS if data.get(key) not in (None, "")
    }
    _agent_key, agent = pick(data, "agent")
    extra = {k: data[k] for k in ("recording_url", "hangup_by", "ivr_path") if k in data}
    summary = data.get("summary") if isinstance(data.get("summary"), str) else None
    return call_message(
        call_id=call_id,
        event=event,
        caller_raw=None if caller is None else str(caller),
        called_raw=None if called is None else str(called),
        direction=direction,
        queue=str(data["queue"]) if data.get("queue") not in (None, "") else None,
        agent=str(agent) if agent is not None else None,
        at=any_time_to_datetime(when, at(time_key)),
        durations=durations,
        summary=summary,
        extra=extra,
        default_country_code=default_country_code,
    )
