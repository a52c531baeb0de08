import pytest

from somebound.identity.bands import Decision, Thresholds, recalibrate


def test_three_bands():
    t = Thresholds(upper=0.9, lower=0.4)
    assert t.band(0.95) == "auto"
    assert t.band(0.9) == "auto"
    assert t.band(0.6) == "review"
    assert t.band(0.39) == "none"
    assert t.band(None) == "none"


def test_invalid_thresholds_rejected():
    with pytest.raises(ValueError, match="lower <= upper"):
        Thresholds(upper=0.3, lower=0.6)


def test_recalibration_follows_agent_verdicts():
    # Agents confirmed everything from 0.7 up and rejected everything below 0.45.
    ds = [Decision(0.70 + i * 0.01, True) for i in range(25)]
    ds += [Decision(0.46 + i * 0.009, i % 2 == 1) for i in range(25)]
    ds += [Decision(0.20 + i * 0.01, False) for i in range(25)]
    new = recalibrate(ds, Thresholds(upper=0.99, lower=0.5), min_support=20)
    assert new.upper == pytest.approx(0.70)
    assert new.lower < 0.5
    assert 0.44 <= new.lower <= 0.47
    assert new.lower <= new.upper


def test_too_few_decisions_change_nothing():
    current = Thresholds(upper=0.97, lower=0.6)
    ds = [Decision(0.8, True)] * 5
    assert recalibrate(ds, current, min_support=20) == current
