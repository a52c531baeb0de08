from __future__ import annotations

import pytest

from somebound.core.enums import Priority
from somebound.listening.policy_yaml import PolicyError
from somebound.listening.urgency import UrgencyRules, UrgencySignals


@pytest.fixture(scope="module")
def rules():
    return UrgencyRules.from_yaml()


def sig(text="hello", lang="en", score=0.0, **kw):
    return UrgencySignals(text=text, language=lang, sentiment_score=score, **kw)


def test_calm_message_is_low(rules):
    u = rules.assess(sig("Kiitos tiedosta", "fi", 0.5))
    assert (u.score, u.priority, u.reasons) == (0.0, Priority.LOW, ())


def test_inflected_finnish_keyword_matches_prefix(rules):
    u = rules.assess(sig("Katkoksen takia en voi tehdä töitä", "fi"))
    assert "katko" in u.keywords
    assert any("keyword" in r for r in u.reasons)
    assert rules.assess(sig("Avbrottet pågår fortfarande", "sv")).keywords == ("avbrott",)


def test_components_add_up_and_explain(rules):
    u = rules.assess(
        sig("outage again!", "en", -0.9, previous_contacts=2, parallel_contact=True,
            sla_seconds_left=-10, followers=50_000)
    )
    assert u.score == 1.0 and u.priority is Priority.URGENT
    text = " | ".join(u.reasons)
    for part in ("keyword", "negative sentiment", "repeat contact (2 before)", "parallel contact",
                 "SLA overdue", "author reach 50000"):
        assert part in text


def test_sla_ramps_as_time_runs_out(rules):
    far = rules.assess(sig(sla_seconds_left=1500)).score
    near = rules.assess(sig(sla_seconds_left=120)).score
    assert 0 < far < near <= 0.25


def test_yaml_errors_name_the_line(tmp_path):
    with pytest.raises(PolicyError, match=r"u.yaml:3: negative_sentiment.weight must be a number"):
        UrgencyRules.from_yaml("u.yaml", "keywords: {terms: {fi: [kiire]}}\nnegative_sentiment:\n  weight: lots\n")
    with pytest.raises(PolicyError, match=r"u.yaml:2: unknown key 'colour'"):
        UrgencyRules.from_yaml("u.yaml", "keywords: {terms: {}}\ncolour: red\n")
    with pytest.raises(PolicyError, match=r"u.yaml:2: unknown priority 'panic'"):
        UrgencyRules.from_yaml("u.yaml", "levels:\n  panic: 0.9\n")


def test_custom_levels_change_priority():
    rules = UrgencyRules.from_yaml("u.yaml", "keywords: {weight: 0.5, terms: {en: [refund]}}\nlevels: {urgent: 0.4}\n")
    assert rules.assess(sig("refund now")).priority is Priority.URGENT
