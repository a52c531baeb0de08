"""Weekly shift scheduling as a set-covering integer program (HiGHS via scipy.optimize.milp).

Why set covering: the planner chooses how many agents start each candidate shift
pattern (a start time on a weekday, a length, fixed breaks); every interval's requirement
must be covered by the agents on duty and not on break. It is the textbook
Dantzig (1954) model, small enough for HiGHS to prove optimality or a tight gap in
seconds for a week at 15-minute intervals with a few hundred patterns.

The week is cyclic: a shift that starts on Sunday 22:00 covers Monday 00:00-06:00 of the
same template week, so night shifts crossing midnight (and the week end) are allowed.
Understaffing is allowed at a high penalty so that an impossible requirement (e.g. more
agents than a ``max_agents`` cap) still gives a plan and shows where it falls short.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csc_array, hstack, identity

from somebound.workforce.erlang import IntArray

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Break:
    """A break ``minutes`` long starting ``after_minutes`` into the shift.

    With ``latest_after_minutes`` the break may start anywhere in that window (in steps
    of ``step_minutes``); each placement becomes its own pattern variant, which lets the
    solver stagger breaks so they do not all leave the same hole.
    """

    after_minutes: int
    minutes: int
    latest_after_minutes: int | None = None
    step_minutes: int = 30

    def placements(self) -> list[Break]:
        last = (
            self.latest_after_minutes
            if self.latest_after_minutes is not None
            else self.after_minutes
        )
        return [
            Break(a, self.minutes) for a in range(self.after_minutes, last + 1, self.step_minutes)
        ]


@dataclass(frozen=True)
class ShiftPattern:
    """One candidate shift: weekday (0=Mon), start minute of day, length, breaks, cost."""

    name: str
    day: int
    start_minute: int
    length_minutes: int
    breaks: tuple[Break, ...] = ()
    cost: float = 1.0

    @property
    def label(self) -> str:
        h, m = divmod(self.start_minute, 60)
        return f"{self.name} {DAY_NAMES[self.day]} {h:02d}:{m:02d}"

    def coverage(self, interval_minutes: int) -> IntArray:
        """0/1 vector over the cyclic week: 1 where the agent is on duty and not on break."""
        per_week = 7 * 24 * 60 // interval_minutes
        cov = np.zeros(per_week, dtype=np.int64)
        first = (self.day * 24 * 60 + self.start_minute) // interval_minutes
        steps = self.length_minutes // interval_minutes
        cov[(first + np.arange(steps)) % per_week] = 1
        for br in self.breaks:
            b0 = first + br.after_minutes // interval_minutes
            cov[(b0 + np.arange(max(1, br.minutes // interval_minutes))) % per_week] = 0
        return cov


@dataclass(frozen=True)
class ShiftTemplate:
    """Policy-level description that expands into one pattern per (day, start)."""

    name: str
    start_minutes: tuple[int, ...]
    length_minutes: int
    days: tuple[int, ...] = tuple(range(7))
    breaks: tuple[Break, ...] = ()
    cost: float | None = None  # default: paid hours (length in hours)
    channels: tuple[str, ...] = ()  # empty: usable on every channel

    def patterns(self) -> list[ShiftPattern]:
        cost = self.cost if self.cost is not None else self.length_minutes / 60.0
        variants = list(itertools.product(*(b.placements() for b in self.breaks)))
        return [
            ShiftPattern(self.name, d, s, self.length_minutes, tuple(v), cost)
            for d in self.days
            for s in self.start_minutes
            for v in variants
        ]


def expand_templates(
    templates: Iterable[ShiftTemplate], channel: str | None = None
) -> list[ShiftPattern]:
    """All patterns of the templates usable on ``channel`` (all when None)."""
    out: list[ShiftPattern] = []
    for t in templates:
        if channel is None or not t.channels or channel in t.channels:
            out.extend(t.patterns())
    return out


@dataclass
class Schedule:
    """The solved plan: agents per pattern and the resulting coverage per interval."""

    patterns: list[ShiftPattern]
    agents: IntArray  # agents starting each pattern
    requirement: IntArray
    scheduled: IntArray  # agents on duty (not on break) per interval
    cost: float
    mip_gap: float  # relative gap HiGHS proved (0 = optimal)
    status: str
    seconds: float = 0.0
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def over(self) -> IntArray:
        return np.maximum(self.scheduled - self.requirement, 0)

    @property
    def under(self) -> IntArray:
        return np.maximum(self.requirement - self.scheduled, 0)

    def shifts(self) -> list[dict[str, object]]:
        """Non-empty shifts as plain rows (for JSON and reports)."""
        return [
            {
                "shift": p.label,
                "name": p.name,
                "day": DAY_NAMES[p.day],
                "start_minute": p.start_minute,
                "length_minutes": p.length_minutes,
                "agents": int(k),
            }
            for p, k in zip(self.patterns, self.agents, strict=True)
            if k > 0
        ]


def coverage_matrix(patterns: Sequence[ShiftPattern], interval_minutes: int) -> csc_array:
    """Sparse (intervals x patterns) 0/1 matrix of who covers what."""
    if not patterns:
        raise ValueError("no shift patterns: define at least one shift template in the policy")
    cols = [p.coverage(interval_minutes) for p in patterns]
    return csc_array(np.stack(cols, axis=1).astype(float))


def solve_schedule(
    requirement: Sequence[int] | np.ndarray,
    patterns: Sequence[ShiftPattern],
    interval_minutes: int,
    *,
    mip_rel_gap: float = 0.01,
    time_limit: float = 60.0,
    under_penalty: float | None = None,
    max_agents: int | None = None,
) -> Schedule:
    """Cheapest agents-per-pattern covering ``requirement`` (one week, cyclic).

    minimise  sum_p cost_p x_p + penalty * sum_t u_t
    s.t.      sum_p a_tp x_p + u_t >= r_t,   x integer >= 0,  u >= 0
              sum_p x_p <= max_agents (optional head-count cap)
    """
    r = np.asarray(requirement, dtype=float)
    per_week = 7 * 24 * 60 // interval_minutes
    if r.shape != (per_week,):
        raise ValueError(
            f"requirement must have {per_week} values (one week at {interval_minutes} min), got {r.shape}"
        )
    if (24 * 60) % interval_minutes:
        raise ValueError("interval_minutes must divide a day")
    patterns = list(patterns)
    a = coverage_matrix(patterns, interval_minutes)
    n_p = len(patterns)
    cost = np.array([p.cost for p in patterns])
    penalty = under_penalty if under_penalty is not None else 10.0 * max(cost.max(), 1.0) * 8
    c = np.concatenate([cost, np.full(per_week, penalty)])
    cover = LinearConstraint(hstack([a, identity(per_week, format="csc")]).tocsc(), lb=r, ub=np.inf)
    constraints = [cover]
    if max_agents is not None:
        row = np.concatenate([np.ones(n_p), np.zeros(per_week)])[None, :]
        constraints.append(LinearConstraint(row, lb=0, ub=max_agents))
    integrality = np.concatenate([np.ones(n_p), np.zeros(per_week)])
    t0 = time.perf_counter()
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(0, np.inf),
        options={"mip_rel_gap": mip_rel_gap, "time_limit": time_limit, "disp": False},
    )
    seconds = time.perf_counter() - t0
    if res.x is None:
        raise RuntimeError(f"HiGHS found no schedule: {res.message}")
    x = np.round(res.x[:n_p]).astype(np.int64)
    scheduled = (a @ x.astype(float)).round().astype(np.int64)
    gap = float(getattr(res, "mip_gap", np.nan) or 0.0)
    return Schedule(
        patterns=patterns,
        agents=x,
        requirement=r.astype(np.int64),
        scheduled=scheduled,
        cost=float(cost @ x),
        mip_gap=gap,
        status=str(res.message),
        seconds=seconds,
        extras={
            "objective": float(res.fun),
            "dual_bound": float(getattr(res, "mip_dual_bound", np.nan)),
        },
    )
