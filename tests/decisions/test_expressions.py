from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somebound.decisions.expressions import ExpressionError, compile_expression

RULES = [
    "age >= 18 and segment in ('gold', 'silver')",
    "not opted_out or churn_risk > 0.5",
    "age * 2 - 10 < spend",
    "segment not in ('bronze',) and 18 <= age < 65",
    "missing(spend) or spend % 3 == 0",
    "abs(churn_risk - 0.5) <= 0.25",
]


@pytest.mark.parametrize(
    "bad",
    ["__import__('os').system('x')", "a.b", "x[0]", "lambda: 1", "[x for x in y]", "open('f')", "f(**k)", "a if b else c"],
)
def test_unsafe_or_unknown_constructs_are_rejected(bad):
    with pytest.raises(ExpressionError) as err:
        compile_expression(bad)
    assert "not allowed" in str(err.value) or "cannot parse" in str(err.value)


def test_names_are_reported_and_missing_values_fail_closed():
    e = compile_expression("age >= 18 and segment == 'gold'")
    assert e.names == {"age", "segment"}
    assert e.truth({"age": 20, "segment": "gold"})
    assert not e.truth({"segment": "gold"})  # age missing -> comparison false
    assert not e.truth({"age": 17, "segment": "gold"})


row = st.fixed_dictionaries(
    {
        "age": st.one_of(st.none(), st.integers(0, 99)),
        "segment": st.one_of(st.none(), st.sampled_from(["gold", "silver", "bronze"])),
        "opted_out": st.booleans(),
        "churn_risk": st.floats(0, 1),
        "spend": st.one_of(st.none(), st.integers(0, 300)),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(row, min_size=1, max_size=20))
def test_vectorised_masks_agree_with_scalar_evaluation(rows):
    n = len(rows)
    cols = {
        "age": np.array([np.nan if r["age"] is None else r["age"] for r in rows], float),
        "segment": np.array([r["segment"] for r in rows], dtype=object),
        "opted_out": np.array([r["opted_out"] for r in rows]),
        "churn_risk": np.array([r["churn_risk"] for r in rows]),
        "spend": np.array([np.nan if r["spend"] is None else r["spend"] for r in rows], float),
    }
    for src in RULES:
        e = compile_expression(src)
        scalar = np.array([e.truth(r) for r in rows])
        np.testing.assert_array_equal(e.mask(cols, n), scalar, err_msg=src)
