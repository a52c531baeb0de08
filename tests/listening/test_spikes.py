from __future__ import annotations

from datetime import datetime, timedelta

from somebound.core.enums import Channel, EventType
from somebound.listening.simulate import InjectedSpike, evaluate, stream
from somebound.listening.spikes import SpikeDetector, binom_sf, poisson_sf

START = datetime(2026, 3, 2)


def test_tail_probabilities_match_scipy():
    from scipy import stats

    assert abs(poisson_sf(7, 2.5) - stats.poisson.sf(6, 2.5)) < 1e-12
    assert abs(binom_sf(8, 20, 0.2) - stats.binom.sf(7, 20, 0.2)) < 1e-12


def test_volume_spike_raised_fast_and_cleared():
    spike = InjectedSpike(START + timedelta(days=1, hours=14), minutes=20, rate_factor=10)
    events = stream(START, 1.75, spikes=(spike,), seed=4)
    r = evaluate(events, (spike,))
    assert r.delays[0] is not None and r.delays[0] <= 120
    assert r.false_alarms == 0
    assert r.cleared >= 1


def test_negative_share_spike_without_volume_change():
    spike = InjectedSpike(START + timedelta(days=1, hours=13), minutes=30, rate_factor=1.5,
                          negative_share=0.85)
    events = stream(START, 1.75, peak=4.0, spikes=(spike,), seed=2)
    det = SpikeDetector()
    raised = [ev for at, neg in events for ev in det.observe(at, "intent:complaint", neg)
              if ev.kind == "raised" and ev.metric == "negative_share"]
    assert raised and spike.start <= raised[0].at <= spike.start + timedelta(minutes=30)
    assert raised[0].value > raised[0].baseline + 0.25


def test_quiet_stream_raises_nothing():
    assert evaluate(stream(START, 2, seed=9), ()).false_alarms == 0


def test_events_follow_the_event_log_contract():
    det = SpikeDetector()
    t = START
    for i in range(24 * 60):  # a quiet day, one message a minute
        det.observe(t + timedelta(minutes=i), "channel:facebook")
    t = START + timedelta(days=1)
    out = []
    for i in range(60):
        out += det.observe(t + timedelta(seconds=i), "channel:facebook", negative=True)
    raised = [e for e in out if e.kind == "raised"]
    assert raised, "60 messages in a minute over a baseline of 1/min must raise"
    ev = raised[0].to_event()
    assert ev.type is EventType.SPIKE_RAISED and ev.channel is Channel.FACEBOOK
    assert set(ev.data) == {"key", "metric", "value", "baseline"}
    assert det.active() and det.active()[0]["key"] == "channel:facebook"
    cleared = det.tick(t + timedelta(minutes=30))
    assert {e.kind for e in cleared} == {"cleared"}
    assert cleared[0].to_event().type is EventType.SPIKE_CLEARED
    assert det.active() == []
