from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from somebound.identity.survivorship import (
    FieldValue,
    PolicyError,
    decide,
    load_policy,
    parse_policy,
)

POLICY = load_policy()
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SOCIAL = [s for s, info in POLICY.sources.items() if info.cls == "social"]
NON_SOCIAL = [s for s, info in POLICY.sources.items() if info.cls != "social"]


@given(
    attribute=st.sampled_from(sorted(POLICY.attributes) + ["favourite_colour"]),
    current_source=st.sampled_from(NON_SOCIAL),
    social=st.sampled_from(SOCIAL),
    later=st.integers(min_value=0, max_value=10_000),
)
def test_social_never_overwrites_non_social(attribute, current_source, social, later):
    current = FieldValue("Matti Virtanen", current_source, T0)
    proposed = FieldValue("AngryMatti", social, T0 + timedelta(days=later))
    assert not decide(POLICY, attribute, current, proposed).apply


@given(
    attribute=st.sampled_from([a for a, r in POLICY.attributes.items() if r.master]),
    other=st.sampled_from([s for s in POLICY.sources if s != "crm"]),
)
def test_master_value_is_never_overwritten_by_another_source(attribute, other):
    current = FieldValue("from crm", "crm", T0)
    proposed = FieldValue("fresher", other, T0 + timedelta(days=30))
    verdict = decide(POLICY, attribute, current, proposed)
    assert not verdict.apply
    assert "master" in verdict.reason or "social" in verdict.reason


def test_rules_pick_the_right_winner():
    # most_recent: a newer e-mail from the chat channel replaces an older agent value.
    cur = FieldValue("old@x.fi", "agent", T0)
    assert decide(POLICY, "email", cur, FieldValue("new@x.fi", "chat", T0 + timedelta(1))).apply
    assert not decide(POLICY, "email", cur, FieldValue("new@x.fi", "chat", T0 - timedelta(1))).apply
    # source_precedence: agent outranks email for display_name, not the other way round.
    cur = FieldValue("M. Virtanen", "email", T0)
    assert decide(POLICY, "display_name", cur, FieldValue("Matti Virtanen", "agent", T0)).apply
    cur = FieldValue("Matti Virtanen", "agent", T0)
    assert not decide(POLICY, "display_name", cur, FieldValue("M V", "email", T0)).apply
    # master_only: only the CRM may set the birth date, even when it is empty.
    assert not decide(POLICY, "birth_date", None, FieldValue("1980-01-01", "agent", T0)).apply
    assert decide(POLICY, "birth_date", None, FieldValue("1980-01-01", "crm", T0)).apply
    # a social value may fill a gap
    assert decide(POLICY, "city", None, FieldValue("Oulu", "facebook", T0)).apply


def test_unknown_source_is_an_error():
    with pytest.raises(ValueError, match="unknown data source 'myspace'"):
        decide(POLICY, "city", None, FieldValue("Oulu", "myspace", T0))


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "sources:\n  crm: {trust: 1, class: master}\nattributes:\n  x: {rule: best}\n",
            4,
            "unknown rule 'best'",
        ),
        ("sources:\n  crm: {trust: high, class: master}\n", 2, "trust must be an integer"),
        (
            "sources:\n  crm: {trust: 1, class: master}\nattributes:\n  x: {rule: master_only}\n",
            4,
            "master_only needs a 'master'",
        ),
        (
            "sources:\n  crm: {trust: 1, class: master}\nattributes:\n"
            "  x:\n    rule: source_precedence\n    precedence: [crm, erp]\n",
            6,
            "'erp' is not a declared source",
        ),
        ("sourcez: {}\n", 1, "unknown section 'sourcez'"),
    ],
)
def test_policy_errors_name_file_line_and_problem(text, line, problem):
    with pytest.raises(PolicyError) as err:
        parse_policy(text, "policy.yaml")
    assert str(err.value).startswith(f"policy.yaml:{line}:")
    assert problem in str(err.value)
