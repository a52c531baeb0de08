"""Options (action × channel) and the limited resources they use.

Batch optimisation and real-time decisions must honour the *same* limits, so both read
them from one :class:`ResourceModel`: per-action budget and stock, the total budget and
per-channel daily capacity. Each option's use of a resource is ``base[j, r]`` per
contact plus ``accept[j, r]`` per acceptance (stock is used when an offer is taken, so
its expected use in batch is the propensity).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from somebound.decisions.catalogue import TREATMENT_CHANNELS, Catalogue


@dataclass(frozen=True)
class ResourceModel:
    option_action: np.ndarray  # (J,) index into catalogue.actions
    option_channel: np.ndarray  # (J,) index into TREATMENT_CHANNELS
    option_cost: np.ndarray  # (J,)
    option_value: np.ndarray  # (J,) action value x lever (lever applied when enabled)
    names: tuple[str, ...]  # (m,) e.g. "budget:total", "capacity:call"
    limits: np.ndarray  # (m,)
    base: np.ndarray  # (J, m) use per contact
    accept: np.ndarray  # (J, m) use per acceptance
    action_ids: tuple[str, ...]
    daily: np.ndarray  # (m,) True for resources that renew every day (capacities)
    option_index: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def n_options(self) -> int:
        return len(self.option_action)

    def option_label(self, j: int) -> str:
        return f"{self.action_ids[self.option_action[j]]}/{TREATMENT_CHANNELS[self.option_channel[j]]}"

    def with_limits(self, limits: np.ndarray) -> ResourceModel:
        return ResourceModel(**{**self.__dict__, "limits": np.asarray(limits, float)})

    def usage(self, assign: np.ndarray, propensity: np.ndarray | None = None) -> np.ndarray:
        """Resource use of an assignment vector (-1 = nothing) in expectation."""
        mask = assign >= 0
        counts = np.bincount(assign[mask], minlength=self.n_options).astype(float)
        out = counts @ self.base
        if self.accept.any():
            if propensity is None:
                out += counts @ self.accept
            else:
                rows = np.nonzero(mask)[0]
                psum = np.bincount(assign[mask], weights=propensity[rows, assign[mask]], minlength=self.n_options)
                out += psum @ self.accept
        return out


def build_resources(
    catalogue: Catalogue,
    *,
    days: float = 1.0,
    spent: dict[str, float] | None = None,
    use_lever: bool = True,
) -> ResourceModel:
    """Options and limits of a catalogue. ``days`` scales daily capacities; ``spent``
    subtracts what earlier runs used (budgets and stock)."""
    spent = spent or {}
    opt_a, opt_c, opt_cost, opt_val = [], [], [], []
    index: dict[tuple[str, str], int] = {}
    for ai, a in enumerate(catalogue.actions):
        for ch in TREATMENT_CHANNELS:
            t = a.treatments.get(ch)
            if t is None:
                continue
            index[(a.id, ch)] = len(opt_a)
            opt_a.append(ai)
            opt_c.append(TREATMENT_CHANNELS.index(ch))
            opt_cost.append(t.cost)
            opt_val.append(a.value * (a.lever if use_lever else 1.0))
    names: list[str] = []
    limits: list[float] = []
    daily: list[bool] = []
    J = len(opt_a)
    base_cols: list[np.ndarray] = []
    acc_cols: list[np.ndarray] = []
    opt_a_arr = np.array(opt_a, int)
    opt_c_arr = np.array(opt_c, int)
    cost = np.array(opt_cost, float)

    def add(name: str, limit: float, b: np.ndarray, acc: np.ndarray, is_daily: bool = False) -> None:
        names.append(name)
        limits.append(max(0.0, limit - spent.get(name, 0.0)))
        base_cols.append(b)
        acc_cols.append(acc)
        daily.append(is_daily)

    zero = np.zeros(J)
    for ai, a in enumerate(catalogue.actions):
        if a.budget is not None:
            add(f"budget:{a.id}", a.budget, np.where(opt_a_arr == ai, cost, 0.0), zero)
        if a.stock is not None:
            add(f"stock:{a.id}", a.stock, zero, (opt_a_arr == ai).astype(float))
    if catalogue.total_budget is not None:
        add("budget:total", catalogue.total_budget, cost.copy(), zero)
    for ci, ch in enumerate(TREATMENT_CHANNELS):
        cap = catalogue.channel_capacity.get(ch)
        if cap is not None:
            add(f"capacity:{ch}", cap * days, (opt_c_arr == ci).astype(float), zero, True)
    m = len(names)
    return ResourceModel(
        option_action=opt_a_arr,
        option_channel=opt_c_arr,
        option_cost=cost,
        option_value=np.array(opt_val, float),
        names=tuple(names),
        limits=np.array(limits, float),
        base=np.column_stack(base_cols) if m else np.zeros((J, 0)),
        accept=np.column_stack(acc_cols) if m else np.zeros((J, 0)),
        action_ids=tuple(a.id for a in catalogue.actions),
        daily=np.array(daily, bool),
        option_index=index,
    )


class ResourceLedger:
    """Real-time use of the limited resources, with a hard stop.

    ``try_reserve`` is atomic: an option is served only if every resource it needs has
    room, so concurrent requests cannot overshoot a limit. Stock is reserved when an
    offer is served and released if the customer declines or ignores it, so stock is
    never promised twice. Daily capacities reset when the date changes.
    """

    def __init__(self, model: ResourceModel, today: date | None = None) -> None:
        self.model = model
        self.used = np.zeros(len(model.names))
        self.day = today or date.today()
        self._lock = threading.Lock()
        self._need = model.base + model.accept  # reserve stock up front
        self._max_need = self._need.max(axis=0) if self._need.size else np.zeros(len(model.names))

    def _roll(self, today: date | None) -> None:
        if today is not None and today != self.day:
            self.used[self.model.daily] = 0.0
            self.day = today

    def room(self, today: date | None = None) -> np.ndarray:
        """(J,) True where the option still fits every limit (only tight limits are
        checked, so this stays cheap with hundreds of limits)."""
        with self._lock:
            self._roll(today)
            free = self.model.limits - self.used
        tight = np.nonzero(self._max_need > free + 1e-9)[0]
        if not len(tight):
            return np.ones(self.model.n_options, bool)
        return np.all(self._need[:, tight] <= free[tight][None, :] + 1e-9, axis=1)

    def try_reserve(self, j: int, today: date | None = None) -> bool:
        with self._lock:
            self._roll(today)
            need = self._need[j]
            if np.any(self.used + need > self.model.limits + 1e-9):
                return False
            self.used += need
            return True

    def release_stock(self, j: int) -> None:
        """Give back the stock reserved for an offer that was not accepted."""
        with self._lock:
            self.used = np.maximum(0.0, self.used - self.model.accept[j])

    def exhausted(self) -> list[str]:
        return [n for n, u, lim in zip(self.model.names, self.used, self.model.limits, strict=True) if u >= lim - 1e-9]

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {
            n: {"used": float(u), "limit": float(lim)}
            for n, u, lim in zip(self.model.names, self.used, self.model.limits, strict=True)
        }


class OnlinePricer:
    """Nudges dual prices between batch runs as resources are consumed.

    If a resource is being used faster than the elapsed share of its period, its price
    rises (additively, scaled by ``scale`` = a typical option value), otherwise it decays
    back towards the batch price. A cheap, stable rule of the "pacing" family.
    """

    def __init__(self, prices: np.ndarray, scale: float, rate: float = 0.05) -> None:
        self.anchor = np.asarray(prices, float).copy()
        self.prices = self.anchor.copy()
        self.scale, self.rate = scale, rate

    def update(self, used: np.ndarray, limits: np.ndarray, elapsed: float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(limits > 0, used / limits, 1.0)
        over = share - min(max(elapsed, 0.0), 1.0)
        step = self.rate * self.scale * over / np.maximum(limits, 1.0) * 10
        self.prices = np.maximum(self.anchor * (over < 0), self.prices + step)
        self.prices = np.maximum(self.prices, 0.0)
        return self.prices
