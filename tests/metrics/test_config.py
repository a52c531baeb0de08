from __future__ import annotations

import pytest

from somebound.metrics.config import default_config, load_config, parse_config, parse_duration
from somebound.metrics.yamlmarks import MetricsConfigError


def test_shipped_default_policy_loads_with_finnish_calendar():
    cfg = default_config()
    office = cfg.calendars["office"]
    assert office.timezone == "Europe/Helsinki"
    assert cfg.calendar_for_queue("social").name == "social"
    assert cfg.calendar_for_queue("no-such-queue").name == "office"
    assert cfg.sla.resolve("phone", None, None).clock == "wall"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("calendars:\n  a:\n    timezone: Mars/Olympus\n", 3, "time zone"),
        ("calendars:\n  a:\n    hours:\n      mon: ['8-16']\n", 4, "HH:MM-HH:MM"),
        ("calendars:\n  a:\n    hours:\n      funday: ['08:00-16:00']\n", 4, "weekday"),
        ("calendars:\n  a:\n    hours:\n      mon: ['16:00-08:00']\n", 4, "after the start"),
        ("business_hours:\n  default: nope\n", 2, "no calendar named"),
        ("sla:\n  channels:\n    fax: {first_response: 1h}\n", 3, "unknown channel"),
        ("sla:\n  default: {first_response: soon}\n", 2, "positive duration"),
        ("sla:\n  queues:\n    vip: {first_response: 1h, clock: moon}\n", 3, "business or wall"),
        ("cost:\n  agent_hourly:\n    default: -3\n", 3, "non-negative"),
        ("cost:\n  channels:\n    sms:\n      per_sms: 0.1\n", 4, "unknown fee"),
        ("costs: {}\n", 1, "unknown section"),
    ],
)
def test_errors_name_file_line_and_problem(text: str, line: int, needle: str):
    with pytest.raises(MetricsConfigError) as err:
        parse_config(text, source="m.yaml")
    assert f"m.yaml:{line}:" in str(err.value)
    assert needle in str(err.value)


def test_load_config_from_file_quotes_its_path(tmp_path):
    p = tmp_path / "metrics.yaml"
    p.write_text("sla:\n  prefer: sometimes\n")
    with pytest.raises(MetricsConfigError, match=rf"{p}:2: sla.prefer"):
        load_config(p)


def test_sla_resolution_order():
    cfg = parse_config(
        "sla:\n  default: {first_response: 8h}\n  channels: {email: {first_response: 2h}}\n"
        "  queues: {vip: {first_response: 10m, clock: wall}}\n"
    )
    assert cfg.sla.resolve("email", "vip", 999).first_response_seconds == 600
    assert cfg.sla.resolve("email", "other", 999).first_response_seconds == 7200
    assert cfg.sla.resolve("chat", "other", 999).first_response_seconds == 999
    assert cfg.sla.resolve("chat", "other", None).first_response_seconds == 8 * 3600
    prefer_event = parse_config("sla:\n  prefer: event\n  channels: {email: {first_response: 2h}}\n")
    assert prefer_event.sla.resolve("email", None, 999).first_response_seconds == 999


@pytest.mark.parametrize(("raw", "secs"), [(90, 90), ("90s", 90), ("15m", 900), ("8h", 28800),
                                           ("2d", 172800), ("0", None), ("x", None)])
def test_durations(raw, secs):
    assert parse_duration(raw) == secs


def test_surveys_section_is_validated_with_the_line():
    from somebound.metrics.config import parse_config as parse
    from somebound.metrics.yamlmarks import MetricsConfigError as Err

    ok = parse("surveys: {send: false, kind: csat, channels: [email, chat]}\n", source="m.yaml")
    assert (ok.surveys.send, ok.surveys.kind, ok.surveys.channels) == (
        False, "csat", frozenset({"email", "chat"}))
    with pytest.raises(Err, match=r"m.yaml:4: surveys.channels.1: unknown channel 'fax'"):
        parse("surveys:\n  channels:\n    - email\n    - fax\n", source="m.yaml")
    with pytest.raises(Err, match="unknown survey kind 'ces'"):
        parse("surveys: {kind: ces}\n", source="m.yaml")
