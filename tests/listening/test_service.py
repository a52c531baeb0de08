from __future__ import annotations

from datetime import datetime, timedelta

from listening_util import make_message

from somebound.core.enums import Channel
from somebound.listening.alerts import email_sink
from somebound.listening.service import ListeningService, spike_keys


def test_process_feeds_spikes_and_alert_sinks():
    mails: list[tuple[str, str]] = []
    failing_calls = []

    def failing(ev):  # a broken webhook must not stop processing
        failing_calls.append(ev)
        raise RuntimeError("webhook down")

    svc = ListeningService.default()
    svc.alert_sinks += [email_sink(lambda s, b: mails.append((s, b))), failing]
    t = datetime(2026, 3, 2, 8)
    for i in range(24 * 60):  # a quiet day: one "kiitos" per minute
        svc.spikes.observe(t + timedelta(minutes=i), "channel:facebook")
    t = datetime(2026, 3, 3, 8)
    results = [
        svc.process(make_message(f"Netti ei toimi {i}", native_id=str(i), user=f"u{i}",
                                 sent_at=t + timedelta(seconds=2 * i)))
        for i in range(40)
    ]
    raised = [ev for r in results for ev in r.spikes if ev.kind == "raised"]
    assert any(ev.key == "channel:facebook" and ev.metric == "volume" for ev in raised)
    assert mails and "[somebound] Spike: " in mails[0][0]
    assert failing_calls and svc.banner.events
    assert results[-1].decision.rule == "service-outage"
    cleared = svc.tick(t + timedelta(hours=1))
    assert cleared and all(ev.kind == "cleared" for ev in cleared)
    assert svc.spikes.active() == []


def test_spike_keys_cover_channel_intent_and_keywords(enricher):
    m = make_message("Katkos taas", channel=Channel.X)
    keys = spike_keys(m, enricher.enrich(m))
    assert keys[0] == "channel:x" and "keyword:katko" in keys
