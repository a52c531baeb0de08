"""Benchmark: one week at 15-minute intervals, ~100 candidate shift patterns.

Measures the time HiGHS (scipy.optimize.milp) needs to prove a schedule within 1 % of
optimal, next to two baselines measured in the same run: OR-Tools CP-SAT on the same
integer program with the same 1 % gap, and "LP relaxation rounded up" (fast, but with
no guarantee: its distance from the proven bound is printed).

    python bench/schedule.py          # ~100 patterns, requirement peaking near 60 agents
    python bench/schedule.py --quick  # ~50 patterns, 30-minute intervals
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import linprog

from somebound.workforce.erlang_a import erlang_a_required
from somebound.workforce.schedule import (
    Break,
    ShiftTemplate,
    coverage_matrix,
    expand_templates,
    solve_schedule,
)


def requirement(iv: int, peak_calls: float) -> np.ndarray:
    """Erlang A requirement for a phone line open 07-22 weekdays, 09-18 weekends."""
    per_day = 1440 // iv
    n = 7 * per_day
    h = (np.arange(n) % per_day) * iv / 60
    day = np.arange(n) // per_day
    prof = np.exp(-0.5 * ((h - 11.5) / 3.0) ** 2) + 0.6 * np.exp(-0.5 * ((h - 19) / 1.5) ** 2)
    prof *= np.where(day >= 5, 0.5, 1.0) * np.where(day == 0, 1.15, 1.0)
    open_ = np.where(day < 5, (h >= 7) & (h < 22), (h >= 9) & (h < 18))
    lam = peak_calls * prof / (iv * 60)
    need = erlang_a_required(lam, 240, 180, 20, 0.8)
    need = np.where(open_, np.maximum(need, 2), 0)
    return np.ceil(need / 0.85).astype(int)  # 15 % shrinkage


def templates(quick: bool) -> list[ShiftTemplate]:
    if quick:
        return [
            ShiftTemplate(
                "day", tuple(range(6 * 60, 14 * 60 + 1, 120)), 480, breaks=(Break(240, 30),)
            ),
            ShiftTemplate("late", (14 * 60,), 480, breaks=(Break(240, 30),)),
            ShiftTemplate("part", (10 * 60, 17 * 60), 240, days=tuple(range(5)), cost=4.4),
        ]
    return [
        ShiftTemplate(
            "day", tuple(range(6 * 60, 13 * 60 + 1, 60)), 480, breaks=(Break(240, 30),)
        ),  # 8 starts x 7 days
        ShiftTemplate("late", (14 * 60, 15 * 60), 480, breaks=(Break(240, 30),)),  # 2 x 7
        ShiftTemplate("night", (22 * 60,), 480, breaks=(Break(240, 30),)),  # crosses midnight
        ShiftTemplate("part", (10 * 60, 16 * 60, 18 * 60), 240, days=tuple(range(5)), cost=4.4),
    ]


def cpsat(req: np.ndarray, pats, iv: int, gap: float, limit: float) -> tuple[float, float, float]:
    from ortools.sat.python import cp_model

    a = coverage_matrix(pats, iv).toarray().astype(int)
    m = cp_model.CpModel()
    ub = int(req.max()) + 1
    x = [m.new_int_var(0, ub, f"x{j}") for j in range(len(pats))]
    u = [m.new_int_var(0, int(r), f"u{t}") for t, r in enumerate(req)]
    cost = [round(p.cost * 10) for p in pats]  # CP-SAT needs integer costs (tenths)
    for t in range(len(req)):
        cols = np.flatnonzero(a[t])
        m.add(sum(x[j] for j in cols) + u[t] >= int(req[t]))
    pen = 10 * max(cost) * 8
    m.minimize(sum(c * v for c, v in zip(cost, x, strict=True)) + pen * sum(u))
    solver = cp_model.CpSolver()
    solver.parameters.relative_gap_limit = gap
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = 2
    t0 = time.perf_counter()
    solver.solve(m)
    secs = time.perf_counter() - t0
    obj, bound = solver.objective_value / 10, solver.best_objective_bound / 10
    return secs, obj, (obj - bound) / max(obj, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    iv = 30 if args.quick else 15
    req = requirement(iv, 120.0 * iv / 15 if not args.quick else 240.0)
    pats = expand_templates(templates(args.quick))
    print(
        f"intervals: {req.size} ({iv} min), candidate patterns: {len(pats)}, "
        f"peak requirement: {req.max()}, agent-hours required: {req.sum() * iv / 60:.0f}"
    )

    s = solve_schedule(req, pats, iv, mip_rel_gap=0.01, time_limit=120)
    print("HiGHS set covering (scipy.optimize.milp), gap target 1 %")
    print(
        f"  time {s.seconds:8.2f} s   cost {s.cost:8.1f}   proven gap {s.mip_gap * 100:.3f} %   "
        f"dual bound {s.extras['dual_bound']:.1f}   status: {s.status}"
    )
    print(
        f"  agents on shift: {int(s.agents.sum())}; intervals short: {int((s.under > 0).sum())}; "
        f"over-staffing {s.over.sum() * iv / 60:.1f} agent-hours "
        f"({s.over.sum() / max(req.sum(), 1) * 100:.1f} % of required)"
    )

    t_cp, obj_cp, gap_cp = cpsat(req, pats, iv, 0.01, 120.0)
    print("OR-Tools CP-SAT, same model, gap target 1 % (baseline, same run)")
    print(
        f"  time {t_cp:8.2f} s   cost {obj_cp:8.1f}   proven gap {gap_cp * 100:.3f} %   "
        f"HiGHS speed-up {t_cp / max(s.seconds, 1e-9):.1f}x"
    )

    a = coverage_matrix(pats, iv)
    cost = np.array([p.cost for p in pats])
    t0 = time.perf_counter()
    lp = linprog(cost, A_ub=-a, b_ub=-req, bounds=(0, None), method="highs")
    x = np.ceil(lp.x - 1e-9)
    t_lp = time.perf_counter() - t0
    print("LP relaxation rounded up (baseline, same run; no optimality guarantee)")
    print(
        f"  time {t_lp:8.2f} s   cost {cost @ x:8.1f}   above HiGHS' proven bound by "
        f"{(cost @ x / s.extras['dual_bound'] - 1) * 100:.1f} %"
    )


if __name__ == "__main__":
    main()
