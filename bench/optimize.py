"""Batch optimisation benchmark: Lagrangian dual (ours) vs the exact LP by HiGHS.

N customers × 20 actions (≈40 action×channel options) with 26 coupling limits
(20 per-action budgets, a total budget, 5 channel capacities). HiGHS solves the LP
relaxation in the same run: its optimum is the exact baseline (the integer optimum can
only be lower). Prints wall and CPU time (the machine is shared: CPU time is the figure
that load does not distort), the load average, the certified gap, the gap to the LP
optimum and the speed-up.

    python bench/optimize.py                    # N = 1M (ours), 10k and 100k (+ HiGHS)
    python bench/optimize.py --sizes 1000000    # one size
    python bench/optimize.py --highs-max 10000  # HiGHS only up to 10k (100k takes long)
    python bench/optimize.py --quick            # N = 5k
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np

from somebound.decisions.optimizer import GAP_ALERT, solve_batch, solve_lp_highs
from somebound.decisions.synthetic import synthetic_problem


def load() -> str:
    return "load avg " + "/".join(f"{x:.2f}" for x in os.getloadavg())


def run(n: int, with_highs: bool, method: str) -> None:
    t = time.perf_counter()
    pr = synthetic_problem(n, n_actions=20, seed=42)
    build = time.perf_counter() - t
    cpu = time.process_time()
    sol = solve_batch(pr)
    cpu = time.process_time() - cpu
    ok = bool(np.all(sol.usage <= pr.limits + 1e-6))
    print(f"N={n:>9,} options={pr.value.shape[1]} limits={len(pr.limits)} (instance built in {build:.1f}s)")
    print(f"  ours : {sol.seconds:8.2f}s wall {cpu:8.2f}s CPU  value={sol.value:,.2f}  dual bound={sol.bound:,.2f}  "
          f"certified gap={sol.gap:.5%} (alert above {GAP_ALERT:.1%}: {sol.alert})  limits respected={ok}  "
          f"dual evaluations={sol.evaluations}  [{load()}]")
    if with_highs:
        cpu = time.process_time()
        lp, _, secs = solve_lp_highs(pr, method=method)
        cpu = time.process_time() - cpu
        print(f"  HiGHS ({method}): {secs:8.2f}s wall {cpu:8.2f}s CPU  LP optimum={lp:,.2f}  [{load()}]")
        print(f"  => gap to LP optimum {(lp - sol.value) / lp:.5%}; bound - LP {(sol.bound - lp) / lp:.6%}; "
              f"speed-up {secs / sol.seconds:.1f}x wall")
    del pr, sol
    gc.collect()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None, help="comma list of N")
    ap.add_argument("--highs-max", type=int, default=100_000, help="largest N also solved by HiGHS")
    ap.add_argument("--highs-method", default="highs-ds",
                    help="highs-ds (dual simplex: the faster of the two here) or highs-ipm")
    args = ap.parse_args()
    sizes = [5_000] if args.quick else [1_000_000, 10_000, 100_000]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        run(n, with_highs=n <= args.highs_max, method=args.highs_method)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
