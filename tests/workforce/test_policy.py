"""Staffing policy YAML: the demo loads; mistakes are reported with file and line."""

from __future__ import annotations

import textwrap

import pytest

from somebound.workforce.policy import DEMO_POLICY, PolicyError, load_policy, parse_policy

GOOD = """\
interval_minutes: 30
channels:
  phone:
    aht_seconds: 180
    hours: {mon-fri: "08:00-18:00"}
  night:
    aht_seconds: 200
    hours: {fri: "22:00-02:00"}
shifts:
  - name: day
    start: "08:00"
    hours: 8
"""


def test_demo_policy_loads_with_every_channel_kind():
    p = load_policy(DEMO_POLICY)
    kinds = {c.kind for c in p.channels.values()}
    assert kinds == {"immediate", "deferred"}
    assert p.channels["chat"].concurrency == 3
    assert p.channels["social"].event_channels == ("facebook", "x", "feed")
    assert p.shifts and all(s.length_minutes > 0 for s in p.shifts)


def test_opening_hours_and_midnight_crossing():
    p = parse_policy(GOOD)
    phone = p.channels["phone"].open_mask(30)
    assert phone.sum() == 5 * 20  # 10 h x 2 per hour x 5 days
    assert phone[16] and not phone[15] and not phone[36]  # Mon 08:00 open, 07:30 / 18:00 closed
    night = p.channels["night"].open_mask(30)
    fri_22 = 4 * 48 + 44
    assert night[fri_22] and night[fri_22 + 7] and not night[fri_22 + 8]  # until Sat 02:00
    assert night.sum() == 8


def test_defaults_minimum_two_agents_no_shrinkage():
    p = parse_policy(GOOD)
    assert p.channels["phone"].min_agents == 2
    assert p.channels["phone"].total_shrinkage == 0.0


def test_shrinkage_combines_multiplicatively():
    p = load_policy(DEMO_POLICY)
    assert p.channels["phone"].total_shrinkage == pytest.approx(1 - 0.95 * 0.92 * 0.97)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("channels:\n  phone:\n    aht_seconds: 180\n    colour: red\n", 4, "unknown key 'colour'"),
        ("channels:\n  phone:\n    aht_seconds: -5\n", 3, "aht_seconds must be"),
        ("channels:\n  phone:\n    aht_seconds: 5\n    service_level: 1.5\n", 4, "service_level"),
        ("channels:\n  phone:\n    aht_seconds: 5\n    hours: {mon: '8-17'}\n", 4, "bad time"),
        (
            "channels:\n  phone:\n    aht_seconds: 5\n    hours: {funday: '08:00-17:00'}\n",
            4,
            "bad day",
        ),
        ("channels:\n  phone:\n    aht_seconds: 5\n    model: erlang_a\n", 3, "patience_seconds"),
        ("channels:\n  phone:\n    kind: later\n    aht_seconds: 5\n", 3, "kind must be"),
        ("channels:\n  phone:\n    target_seconds: 5\n", 3, "needs aht_seconds"),
        (
            "channels:\n  p: {aht_seconds: 5}\nshifts:\n  - name: x\n    start: '08:00'\n"
            "    hours: 8\n    channels: [q]\n",
            7,
            "unknown channel 'q'",
        ),
        (
            "channels:\n  p: {aht_seconds: 5}\nshifts:\n  - name: x\n    start: '08:07'\n    hours: 8\n",
            4,
            "15-minute boundary",
        ),
        ("channels: [1, 2\n", 2, "not valid YAML"),
        ("interval_minutes: 7\nchannels:\n  p: {aht_seconds: 5}\n", 1, "divide a day"),
    ],
)
def test_errors_name_file_line_and_problem(tmp_path, text, line, words):
    f = tmp_path / "staffing.yaml"
    f.write_text(textwrap.dedent(text))
    with pytest.raises(PolicyError) as err:
        load_policy(f)
    assert err.value.source == str(f)
    assert err.value.line == line, str(err.value)
    assert words in str(err.value)
    assert str(err.value).startswith(f"{f}:{line}:")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")
