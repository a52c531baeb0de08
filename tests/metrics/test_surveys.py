from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from somebound.metrics.surveys import (
    InvalidSurveyAnswer,
    InvalidSurveyToken,
    csat,
    make_survey_token,
    nps,
    survey_invitation,
    verify_survey_token,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_nps_definition():
    r = nps([10, 9, 8, 7, 6, 0, 10])
    assert (r.promoters, r.passives, r.detractors, r.answers) == (3, 2, 2, 7)
    assert r.nps == pytest.approx(100 * (3 - 2) / 7)
    assert nps([]).nps is None


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200))
def test_nps_bounds_and_partition(scores):
    r = nps(scores)
    assert r.promoters + r.passives + r.detractors == len(scores)
    assert -100 <= r.nps <= 100
    assert (r.nps == 100) == all(s >= 9 for s in scores)


def test_csat_and_scale_validation():
    r = csat([5, 4, 3, 1])
    assert r.csat == 50.0 and r.mean == pytest.approx(3.25)
    with pytest.raises(InvalidSurveyAnswer, match="1–5"):
        csat([6])
    with pytest.raises(InvalidSurveyAnswer):
        nps([True])


def test_token_roundtrip_and_tampering():
    tok = make_survey_token("s3cret", 42, "nps", now=NOW)
    got = verify_survey_token("s3cret", tok, now=NOW)
    assert (got.case_id, got.kind) == (42, "nps")
    with pytest.raises(InvalidSurveyToken, match="signature"):
        verify_survey_token("other", tok, now=NOW)
    other = make_survey_token("s3cret", 43, "nps", now=NOW)
    # Someone's valid signature glued to another payload does not verify.
    forged = other.split(".")[0] + "." + tok.split(".")[1]
    with pytest.raises(InvalidSurveyToken):
        verify_survey_token("s3cret", forged, now=NOW)
    with pytest.raises(InvalidSurveyToken, match="expired"):
        verify_survey_token("s3cret", tok, now=NOW + timedelta(days=31))
    with pytest.raises(InvalidSurveyToken, match="malformed"):
        verify_survey_token("s3cret", "garbage", now=NOW)


def test_invitation_in_customer_language_with_link():
    text = survey_invitation("k", 7, "csat", "https://hub.example/", "fi", now=NOW)
    assert text.startswith("Kuinka tyytyväinen")
    token = text.rsplit("/surveys/", 1)[1]
    assert verify_survey_token("k", token, now=NOW).case_id == 7
    assert "recommend" in survey_invitation("k", 7, "nps", "https://h", "de", now=NOW)
