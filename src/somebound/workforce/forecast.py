"""Contact volume per channel per interval: counting, MSTL forecasting and backtesting.

Why MSTL: contact centres have a daily and a weekly cycle on top of a slow trend; MSTL
(statsforecast) peels both seasonal components off and forecasts the rest with ETS, in
seconds for months of 15-minute data. Every forecast is judged against the seasonal
naive baseline ("same interval last week") on held-out weeks, because a model that
cannot beat last week is not worth planning with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def counts_per_interval(
    events: pd.DataFrame,
    interval_minutes: int,
    *,
    channel_map: dict[str, str] | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Contacts per interval (rows) and planning channel (columns) from timestamped rows.

    ``events`` needs columns ``channel`` and ``at`` (one row per contact). ``channel_map``
    renames event channels into planning channels (e.g. facebook -> social); rows whose
    channel is not in the map are dropped when a map is given. Empty intervals are 0.
    """
    if not {"channel", "at"} <= set(events.columns):
        raise ValueError("need columns 'channel' and 'at' (one row per contact)")
    df = events[["channel", "at"]].copy()
    df["at"] = pd.to_datetime(df["at"], utc=False)
    if getattr(df["at"].dt, "tz", None) is not None:
        df["at"] = df["at"].dt.tz_convert("UTC").dt.tz_localize(None)
    if channel_map is not None:
        df["channel"] = df["channel"].map(channel_map)
        df = df.dropna(subset=["channel"])
    freq = f"{interval_minutes}min"
    df["slot"] = df["at"].dt.floor(freq)
    table = df.groupby(["slot", "channel"]).size().unstack("channel", fill_value=0)
    lo = start if start is not None else (table.index.min() if len(table) else None)
    hi = end if end is not None else (table.index.max() if len(table) else None)
    if lo is None:
        return pd.DataFrame()
    index = pd.date_range(pd.Timestamp(lo).floor(freq), pd.Timestamp(hi).floor(freq), freq=freq)
    return table.reindex(index, fill_value=0).astype(float).rename_axis("interval")


def counts_from_interval_table(table: pd.DataFrame, interval_minutes: int) -> pd.DataFrame:
    """Wide counts from a long table with ``interval_start, channel, count`` columns."""
    need = {"interval_start", "channel", "count"}
    if not need <= set(table.columns):
        raise ValueError(f"need columns {sorted(need)}")
    t = table.copy()
    t["interval_start"] = pd.to_datetime(t["interval_start"])
    wide = t.pivot_table(index="interval_start", columns="channel", values="count", aggfunc="sum")
    freq = f"{interval_minutes}min"
    index = pd.date_range(wide.index.min(), wide.index.max(), freq=freq)
    return wide.reindex(index, fill_value=0).fillna(0.0).astype(float).rename_axis("interval")


def _long(counts: pd.DataFrame) -> pd.DataFrame:
    out = counts.reset_index(names="ds").melt(id_vars="ds", var_name="unique_id", value_name="y")
    return out[["unique_id", "ds", "y"]]


@dataclass
class VolumeForecaster:
    """MSTL (daily + weekly seasonality, ETS trend) per channel, scikit-learn style.

    ``fit`` stores the fitted models in ``models_``; ``predict(h)`` returns non-negative
    forecasts for the next ``h`` intervals. ``method="seasonal_naive"`` gives the
    baseline with the same interface.
    """

    interval_minutes: int = 15
    method: str = "mstl"
    models_: object | None = field(default=None, repr=False)
    columns_: list[str] = field(default_factory=list, repr=False)
    last_: pd.Timestamp | None = field(default=None, repr=False)

    @property
    def seasons(self) -> list[int]:
        day = 24 * 60 // self.interval_minutes
        return [day, 7 * day]

    def fit(self, counts: pd.DataFrame) -> VolumeForecaster:
        if len(counts) < 2 * self.seasons[1]:
            raise ValueError(
                f"need at least two weeks of history ({2 * self.seasons[1]} intervals), got {len(counts)}"
            )
        from statsforecast import StatsForecast  # slow first import (numba): only when needed
        from statsforecast.models import MSTL, AutoETS, SeasonalNaive

        if self.method == "mstl":
            model = MSTL(season_length=self.seasons, trend_forecaster=AutoETS(model="ZZN"))
        elif self.method == "seasonal_naive":
            model = SeasonalNaive(season_length=self.seasons[1])
        else:
            raise ValueError("method must be 'mstl' or 'seasonal_naive'")
        sf = StatsForecast(models=[model], freq=f"{self.interval_minutes}min", n_jobs=1)
        sf.fit(_long(counts))
        self.models_ = sf
        self.columns_ = [str(c) for c in counts.columns]
        self.last_ = pd.Timestamp(counts.index.max())
        return self

    def predict(self, h: int) -> pd.DataFrame:
        if self.models_ is None:
            raise RuntimeError("call fit() first")
        fc = self.models_.predict(h=h)  # type: ignore[attr-defined]
        col = [c for c in fc.columns if c not in ("unique_id", "ds")][0]
        wide = fc.pivot(index="ds", columns="unique_id", values=col)[self.columns_]
        return wide.clip(lower=0.0).rename_axis("interval")


def backtest(counts: pd.DataFrame, interval_minutes: int, holdout_weeks: int = 1) -> pd.DataFrame:
    """MAE and RMSE of MSTL vs seasonal naive on the last ``holdout_weeks`` weeks.

    Each held-out week is forecast from the data before it (rolling origin).
    """
    week = 7 * 24 * 60 // interval_minutes
    rows = []
    for k in range(holdout_weeks, 0, -1):
        train = counts.iloc[: len(counts) - k * week]
        test = counts.iloc[len(counts) - k * week : len(counts) - (k - 1) * week]
        for method in ("mstl", "seasonal_naive"):
            pred = VolumeForecaster(interval_minutes, method).fit(train).predict(len(test))
            err = pred.to_numpy() - test.to_numpy()
            for j, ch in enumerate(counts.columns):
                rows.append(
                    {
                        "fold": holdout_weeks - k,
                        "channel": ch,
                        "method": method,
                        "mae": float(np.abs(err[:, j]).mean()),
                        "rmse": float(np.sqrt((err[:, j] ** 2).mean())),
                    }
                )
    return pd.DataFrame(rows).groupby(["channel", "method"], as_index=False)[["mae", "rmse"]].mean()


def synthetic_counts(
    weeks: int,
    interval_minutes: int = 15,
    *,
    scale: dict[str, float] | None = None,
    seed: int = 0,
    start: str = "2026-01-05",
) -> pd.DataFrame:
    """Poisson volumes with a daily and weekly profile (demo data and tests)."""
    scale = scale or {"phone": 40.0, "chat": 25.0, "email": 15.0, "social": 10.0}
    per_day = 24 * 60 // interval_minutes
    n = weeks * 7 * per_day
    idx = pd.date_range(start, periods=n, freq=f"{interval_minutes}min")
    hour = (np.arange(n) % per_day) * interval_minutes / 60.0
    day = (np.arange(n) // per_day) % 7
    rng = np.random.default_rng(seed)
    cols = {}
    for i, (ch, s) in enumerate(scale.items()):
        peak = 11.0 + i * 1.5
        daily = np.exp(-0.5 * ((hour - peak) / 3.5) ** 2) + 0.05
        weekly = np.where(day >= 5, 0.45, 1.0) * (1.0 + 0.1 * (day == 0))
        cols[ch] = rng.poisson(s * daily * weekly).astype(float)
    return pd.DataFrame(cols, index=idx).rename_axis("interval")
