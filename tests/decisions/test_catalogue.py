from __future__ import annotations

import pytest

from somebound.decisions.catalogue import parse_catalogue
from somebound.decisions.yamlsource import PolicyError

GOOD = """\
rules:
  adult: "age >= 18"
groups:
  sales:
    eligibility: [adult]
  retail:
    parent: sales
    eligibility: ["has_mobile"]
actions:
  - id: phone
    group: retail
    value: 100
    treatments: {email: {}, call: {cost: 9}}
    suitability: ["churn_risk < 0.5"]
    limits: {stock: 10, budget: 50}
"""


def test_demo_catalogue_loads(demo_catalogue):
    ids = [a.id for a in demo_catalogue.actions]
    assert "retention_call_premium" in ids and "payment_reminder" in ids
    kinds = {a.type for a in demo_catalogue.actions}
    assert kinds == {"normal", "mandatory", "transactional"}
    assert demo_catalogue.channel_capacity["call"] == 600


def test_group_rules_are_inherited_outermost_first():
    cat = parse_catalogue(GOOD)
    a = cat.action("phone")
    assert a.rules["eligibility"] == ("adult", "has_mobile")
    assert a.rules["suitability"] == ("churn_risk < 0.5",)
    assert a.treatments["call"].cost == 9 and a.treatments["email"].cost > 0
    assert a.stock == 10 and a.budget == 50


def test_digest_changes_with_content_only():
    assert parse_catalogue(GOOD).digest == parse_catalogue(GOOD + "\n# comment\n").digest
    assert parse_catalogue(GOOD).digest != parse_catalogue(GOOD.replace("value: 100", "value: 101")).digest


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace("{email: {}, call: {cost: 9}}", "{fax: {}}"), 13, "unknown channel 'fax'"),
        (GOOD.replace('"churn_risk < 0.5"', '"churn_risk.real < 0.5"'), 14, "Attribute is not allowed"),
        (GOOD.replace("    parent: sales\n", "    parent: nosuch\n"), 6, "unknown parent"),
        (GOOD.replace("    value: 100\n", "    value: lots\n"), 12, "'value' must be a number"),
        (GOOD.replace("    group: retail\n", "    group: retail\n    colour: red\n"), 12, "unknown key 'colour'"),
        (GOOD + "  - id: phone\n    value: 1\n    treatments: [sms]\n", 16, "duplicate action id"),
        ("actions: [\n", 2, "YAML syntax"),
    ],
)
def test_errors_name_the_line_and_the_problem(text, line, fragment):
    with pytest.raises(PolicyError) as err:
        parse_catalogue(text, "cat.yaml")
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"cat.yaml:{line}:")
