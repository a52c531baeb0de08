"""Counting contacts per interval and the MSTL forecast against seasonal naive."""

from __future__ import annotations

import pandas as pd
import pytest

from somebound.workforce.forecast import (
    VolumeForecaster,
    backtest,
    counts_from_interval_table,
    counts_per_interval,
    synthetic_counts,
)


def test_counts_per_interval_floors_maps_and_fills_gaps():
    ev = pd.DataFrame(
        {
            "channel": ["phone", "facebook", "x", "phone", "fax"],
            "at": [
                "2026-01-05 08:01",
                "2026-01-05 08:14",
                "2026-01-05 08:15",
                "2026-01-05 09:00",
                "2026-01-05 08:00",
            ],
        }
    )
    c = counts_per_interval(
        ev, 15, channel_map={"phone": "phone", "facebook": "social", "x": "social"}
    )
    assert list(c.columns) == ["phone", "social"]
    assert len(c) == 5  # 08:00 .. 09:00 inclusive, empty intervals kept as 0
    assert c.loc["2026-01-05 08:00", "phone"] == 1 and c.loc["2026-01-05 08:00", "social"] == 1
    assert c.loc["2026-01-05 08:15", "social"] == 1
    assert c.loc["2026-01-05 08:30"].sum() == 0


def test_timezone_aware_timestamps_become_utc():
    ev = pd.DataFrame(
        {"channel": ["phone"], "at": [pd.Timestamp("2026-01-05 10:05", tz="Europe/Helsinki")]}
    )
    c = counts_per_interval(ev, 30)
    assert c.index[0] == pd.Timestamp("2026-01-05 08:00")


def test_interval_table_input():
    t = pd.DataFrame(
        {
            "interval_start": ["2026-01-05 08:00", "2026-01-05 09:00"],
            "channel": ["chat", "chat"],
            "count": [4, 6],
        }
    )
    c = counts_from_interval_table(t, 30)
    assert c["chat"].tolist() == [4.0, 0.0, 6.0]


def test_too_short_history_is_a_clear_error():
    with pytest.raises(ValueError, match="two weeks"):
        VolumeForecaster(60).fit(synthetic_counts(1, 60))


@pytest.mark.slow
def test_mstl_beats_seasonal_naive_on_held_out_week():
    counts = synthetic_counts(4, 60, scale={"phone": 120.0, "social": 40.0}, seed=11)
    res = backtest(counts, 60, holdout_weeks=1).set_index(["channel", "method"])
    for ch in ("phone", "social"):
        assert res.loc[(ch, "mstl"), "mae"] < res.loc[(ch, "seasonal_naive"), "mae"]
    fc = VolumeForecaster(60).fit(counts).predict(168)
    assert len(fc) == 168 and (fc >= 0).all().all()
    assert fc.index[0] == counts.index[-1] + pd.Timedelta(hours=1)
