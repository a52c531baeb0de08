"""The batch optimiser on Spark: same scoring and per-customer argmax, prices on the driver.

Customers stay partitioned on the executors. The driver holds only the ~tens of dual
prices and runs the same projected Newton as the in-process solver; every function
evaluation is a Spark job in which each partition runs the *same* NumPy kernel
(:class:`somebound.decisions.optimizer._Smoothed`) and returns its share of the smoothed
dual's value, gradient and Hessian (all sums over customers). A last pass computes
the per-customer argmax at the final prices (:func:`adjusted_scores`,
:func:`argmax_assign`) and the exact dual bound; over-used limits are repaired on the
driver from the (one-column) assignment, so the result honours every limit.

Input: a Spark DataFrame with a ``customer_id`` column and one ``v_<j>`` column of
expected value per option (``-inf`` = not allowed), as produced by scoring the
propensity model in a ``mapInPandas`` with the same code as :mod:`campaign`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from somebound.decisions.optimizer import (
    _newton,
    _Smoothed,
    adjusted_scores,
    argmax_assign,
    drop_to_limits,
)


class _SparkSmoothed:
    """The smoothed dual evaluated by the executors; value, gradient and Hessian are
    sums over customers, so each partition runs the in-process kernel and the driver adds."""

    def __init__(
        self, df: Any, cols: list[str], base: np.ndarray, limits: np.ndarray, scale: float, n: int
    ) -> None:
        self.df, self.cols, self.base, self.limits, self.scale, self.n = (
            df,
            cols,
            base,
            limits,
            scale,
            n,
        )
        self.evals = 0

    def __call__(self, mu: np.ndarray, tau: float, hessian: bool = False):  # noqa: ANN204
        import pandas as pd

        self.evals += 1
        m = len(self.limits)
        cols, base, limits, scale, n = self.cols, self.base, self.limits, self.scale, self.n

        def part(batches):  # noqa: ANN001, ANN202
            for pdf in batches:
                v = pdf[cols].to_numpy(dtype=np.float64)
                fn = _Smoothed(v, base, None, None, np.zeros(m), limits, scale, n)
                res = fn(mu, tau, hessian=hessian)
                f, g = res[0], res[1]
                h = res[2] if hessian else np.zeros((m, m))
                yield pd.DataFrame(
                    {
                        "f": [f],
                        **{f"g{r}": [g[r]] for r in range(m)},
                        **{f"h{k}": [x] for k, x in enumerate(h.ravel())},
                    }
                )

        schema = ", ".join(
            [
                "f double",
                *[f"g{r} double" for r in range(m)],
                *[f"h{k} double" for k in range(m * m)],
            ]
        )
        sums = self.df.select(*cols).mapInPandas(part, schema).toPandas().sum()
        rhs = np.ones(m)  # normalised limits
        lam = mu * n
        f = float(sums["f"]) + float(lam @ rhs) / n
        g = sums[[f"g{r}" for r in range(m)]].to_numpy() + rhs
        if not hessian:
            return f, g
        return f, g, sums[[f"h{k}" for k in range(m * m)]].to_numpy().reshape(m, m)


def solve_batch_spark(
    df: Any,
    base: np.ndarray,
    limits: np.ndarray,
    *,
    taus: tuple[float, ...] = (0.03, 0.003, 0.001),
    sample: int = 50_000,
    polish: int = 4,
    seed: int = 0,
) -> tuple[Any, np.ndarray, float, float]:
    """Returns (assignment DataFrame [customer_id, option], prices, value, dual bound).

    Prices come from the same projected Newton on the smoothed dual as in-process: a
    warm start on a driver-side sample of ``sample`` customers, then ``polish``
    iterations whose function evaluations are distributed over all customers.
    """
    import pandas as pd
    from pyspark.sql import functions as F

    J, m = base.shape
    cols = [f"v_{j}" for j in range(J)]
    best_expr = F.greatest(
        F.lit(0.0), *[F.when(F.col(c) > 0, F.col(c)).otherwise(0.0) for c in cols]
    )
    agg = (
        df.select(best_expr.alias("b")).agg(F.count("b").alias("n"), F.mean("b").alias("s")).first()
    )
    n, scale = int(agg["n"]), float(agg["s"] or 1.0) or 1.0
    active = limits > 0
    idx = np.nonzero(active)[0]
    lam = np.zeros(m)
    if len(idx):
        # warm start on the driver from a sample (limits scaled to its share) ...
        frac = min(1.0, sample / max(n, 1))
        spdf = (
            df.select(*cols).sample(fraction=frac, seed=seed).toPandas()
            if frac < 1
            else df.select(*cols).toPandas()
        )
        share = max(len(spdf), 1) / n
        local = _Smoothed(
            spdf.to_numpy(np.float64),
            base[:, idx],
            None,
            None,
            limits[idx] * share,
            limits[idx] * share,
            scale,
            max(len(spdf), 1),
        )
        mu = np.zeros(len(idx))
        for tau in taus:
            mu = _newton(local, mu, tau)
        # ... then a few distributed Newton steps on everyone at the finest temperature
        if frac < 1:
            fn = _SparkSmoothed(df, cols, base[:, idx], limits[idx], scale, n)
            mu = _newton(fn, mu, taus[-1], max_iter=polish)
        lam[idx] = mu * n * scale / limits[idx]

    def assign_part(batches):  # noqa: ANN001, ANN202
        for pdf in batches:
            v = pdf[cols].to_numpy(dtype=np.float64)
            s = adjusted_scores(v, lam, base, None, None)
            a, best = argmax_assign(s)
            val = np.where(a >= 0, v[np.arange(len(a)), np.maximum(a, 0)], 0.0)
            yield pd.DataFrame(
                {
                    "customer_id": pdf["customer_id"].to_numpy(),
                    "option": a,
                    "value": val,
                    "best": best,
                }
            )

    pdf = (
        df.select("customer_id", *cols)
        .mapInPandas(assign_part, "customer_id long, option long, value double, best double")
        .toPandas()
    )
    a = pdf["option"].to_numpy()
    vals = pdf["value"].to_numpy()
    bound = float(pdf["best"].sum() + lam @ limits)
    a, _ = drop_to_limits(a, vals, base, None, None, limits)
    pdf["option"] = a
    total = float(vals[a >= 0].sum())
    out = df.sparkSession.createDataFrame(pdf[pdf["option"] >= 0][["customer_id", "option"]])
    return out, lam, total, max(bound, total)
