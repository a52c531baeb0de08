"""Batch optimisation benchmark: Lagrangian dual (ours) vs the exact LP by HiGHS.

N customers × 20 actions (≈40 action×channel options) with 26 coupling limits
(20 per-action budgets, a total budget, 5 channel capacities). HiGHS (interior point,
via scipy) solves the LP relaxation in the same run: its optimum is the exact baseline
(the integer optimum can only be lower). Prints time ratio and gap to the LP optimum.

    python bench/optimize.py            # N = 10k, 100k (+ HiGHS) and 1M (ours only)
    python bench/optimize.py --quick    # N = 5k
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import numpy as np

from somebound.decisions.optimizer import solve_batch, solve_lp_highs
from somebound.decisions.synthetic import synthetic_problem


def run(n: int, with_highs: bool) -> None:
    t = time.perf_counter()
    pr = synthetic_problem(n, n_actions=20, seed=42)
    build = time.perf_counter() - t
    sol = solve_batch(pr)
    ok = bool(np.all(sol.usage <= pr.limits + 1e-6))
    print(f"N={n:>9,} options={pr.value.shape[1]} limits={len(pr.limits)} (instance built in {build:.1f}s)")
    print(f"  ours : {sol.seconds:8.2f}s  value={sol.value:,.2f}  dual bound={sol.bound:,.2f}  "
          f"certified gap={sol.gap:.5%}  limits respected={ok}  dual evaluations={sol.evaluations}")
    if with_highs:
        lp, _, secs = solve_lp_highs(pr)
        print(f"  HiGHS: {secs:8.2f}s  LP optimum={lp:,.2f}")
        print(f"  => gap to LP optimum {(lp - sol.value) / lp:.5%}; bound - LP {(sol.bound - lp) / lp:.6%}; "
              f"speed-up {secs / sol.seconds:.1f}x")
    del pr, sol
    gc.collect()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None, help="comma list of N (HiGHS up to 100k)")
    args = ap.parse_args()
    sizes = [5_000] if args.quick else [1_000_000, 10_000, 100_000]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        run(n, with_highs=n <= 100_000)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
