"""Where spike events go: the supervisor banner, a webhook, e-mail.

The detector is pure; these sinks are the thin I/O edge. ``ListeningService`` calls each
configured sink with every raised/cleared :class:`SpikeEvent`; a failing sink is logged
and never stops message processing.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from somebound.listening.spikes import SpikeEvent

log = logging.getLogger(__name__)
Sink = Callable[[SpikeEvent], None]


def event_payload(ev: SpikeEvent) -> dict[str, Any]:
    return {
        "type": f"spike_{ev.kind}",
        "at": ev.at.isoformat(),
        "key": ev.key,
        "metric": ev.metric,
        "value": round(ev.value, 4),
        "baseline": round(ev.baseline, 4),
    }


class BannerFeed:
    """The latest spike events, for the supervisor page banner (polling or websocket)."""

    def __init__(self, size: int = 100) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=size)

    def __call__(self, ev: SpikeEvent) -> None:
        self.events.append(event_payload(ev))


def webhook_sink(url: str, *, timeout: float = 3.0, headers: dict[str, str] | None = None) -> Sink:
    """POST each event as JSON to ``url`` (e.g. a chat-ops incoming webhook)."""
    import httpx

    def send(ev: SpikeEvent) -> None:
        httpx.post(url, json=event_payload(ev), timeout=timeout, headers=headers or {})

    return send


def email_sink(send_mail: Callable[[str, str], None]) -> Sink:
    """Wrap the app's mail sender ``send_mail(subject, body)``."""

    def send(ev: SpikeEvent) -> None:
        verb = "Spike" if ev.kind == "raised" else "Spike over"
        subject = f"[somebound] {verb}: {ev.key} ({ev.metric})"
        body = (
            f"{ev.key}: {ev.metric} {ev.value:.2f} against a baseline of {ev.baseline:.2f} "
            f"at {ev.at.isoformat()}."
        )
        send_mail(subject, body)

    return send


def deliver(sinks: list[Sink], events: list[SpikeEvent]) -> None:
    for ev in events:
        for sink in sinks:
            try:
                sink(ev)
            except Exception:  # noqa: BLE001 - an alert channel must not break ingestion
                log.exception("spike alert sink %r failed for %s", sink, ev.key)
