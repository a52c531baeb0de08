from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from listening_util import make_message

from somebound.core.enums import Channel, Priority
from somebound.listening.engagement import EngagementPolicy
from somebound.listening.policy_yaml import PolicyError

POLICY = """
rules:
  - name: vip-negative
    when: {sentiment: [negative], min_followers: 1000, channel: [x, facebook]}
    then: {action: answer, priority: urgent, queue: vip}
  - name: outage
    when: {keywords: [katko, outage]}
    then: {action: answer, queue: tech}
  - name: not-for-us
    when: {addressed: false}
    then: {action: ignore, priority: low}
default: {action: watch}
"""


@pytest.fixture(scope="module")
def policy():
    return EngagementPolicy.from_yaml("p.yaml", POLICY)


def test_first_matching_rule_decides_and_explains(policy, enricher):
    m = make_message("Tämä on surkeaa, vihaan teitä", followers=5000, channel=Channel.X)
    d = policy.decide(m, enricher.enrich(m))
    assert (d.action, d.priority, d.queue, d.rule) == ("answer", Priority.URGENT, "vip", "vip-negative")
    assert "sentiment=negative" in d.reasons and any("followers 5000" in r for r in d.reasons)


def test_keyword_rule_takes_urgency_priority_when_none_given(policy, enricher):
    m = make_message("Katkos jatkuu edelleen", followers=10)
    e = enricher.enrich(m)
    d = policy.decide(m, e)
    assert d.rule == "outage" and d.priority == e.priority and d.queue == "tech"


def test_default_when_nothing_matches(policy, enricher):
    m = make_message("Thanks, see you", addressed_to_company=True)
    d = policy.decide(m, enricher.enrich(m))
    assert (d.rule, d.action) == ("default", "watch")
    m2 = make_message("Thanks, see you", addressed_to_company=False)
    assert policy.decide(m2, enricher.enrich(m2)).action == "ignore"


def test_shipped_policy_ignores_own_posts_and_answers_outages(enricher):
    pol = EngagementPolicy.from_yaml()
    own = make_message("Uusi tarjous!", is_company=True)
    assert pol.decide(own, enricher.enrich(own)).action == "ignore"
    m = make_message("Netti ei toimi taas")
    d = pol.decide(m, enricher.enrich(m))
    assert (d.action, d.priority, d.rule) == ("answer", Priority.URGENT, "service-outage")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("rules:\n  - name: a\n    when: {colour: red}\n    then: {action: answer}\n", r"p.yaml:3: unknown condition 'colour'"),
        ("rules:\n  - name: a\n    then: {action: shout}\n", r"p.yaml:3: action must be one of"),
        ("rules:\n  - name: a\n    when: {sentiment: [angry]}\n    then: {action: answer}\n", r"p.yaml:3: sentiment: unknown \['angry'\]"),
        ("rules:\n  - name: a\n    then: {action: answer}\n  - name: a\n    then: {action: watch}\n", r"p.yaml:4: duplicate rule name 'a'"),
        ("rules:\n  - name: a\n    when: {min_followers: many}\n    then: {action: answer}\n", r"p.yaml:3: min_followers: must be a number"),
        ("rules: [\n", r"p.yaml:\d+: not valid YAML"),
        ("rules:\n  - name: a\n    then: {action: answer, priority: asap}\n", r"p.yaml:3: priority must be one of"),
    ],
)
def test_policy_errors_name_file_line_problem(text, pattern):
    with pytest.raises(PolicyError, match=pattern):
        EngagementPolicy.from_yaml("p.yaml", text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(max_size=200), followers=st.one_of(st.none(), st.integers(0, 10**8)),
       public=st.booleans())
def test_any_message_gets_a_valid_decision(enricher, body, followers, public):
    pol = EngagementPolicy.from_yaml()
    m = make_message(body, followers=followers, public=public)
    d = pol.decide(m, enricher.enrich(m))
    assert d.action in ("answer", "watch", "ignore") and d.rule and d.reasons
