from __future__ import annotations

import os

import numpy as np
import pytest

from somebound.decisions.optimizer import solve_batch, usage_of
from somebound.decisions.synthetic import synthetic_problem

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def spark():
    pyspark = pytest.importorskip("pyspark")
    del pyspark
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    s = (SparkSession.builder.master("local[1]").appName("somebound-decisions-test")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    yield s
    s.stop()


def test_spark_batch_uses_the_same_kernel_and_honours_limits(spark):
    import pandas as pd

    from somebound.decisions.spark import solve_batch_spark

    pr = synthetic_problem(600, n_actions=5, seed=8)
    v = np.where(np.isfinite(pr.value), pr.value, -1e18)
    pdf = pd.DataFrame(v, columns=[f"v_{j}" for j in range(v.shape[1])])
    pdf.insert(0, "customer_id", np.arange(len(v), dtype=np.int64))
    df = spark.createDataFrame(pdf).repartition(2)
    out, prices, value, bound = solve_batch_spark(df, pr.base, pr.limits, sample=300, polish=3)
    rows = out.toPandas().sort_values("customer_id")
    assign = np.full(len(v), -1)
    assign[rows["customer_id"].to_numpy()] = rows["option"].to_numpy()
    assert np.all(usage_of(assign, pr.base, None, None) <= pr.limits + 1e-6)
    local = solve_batch(pr)
    # same prices within the smoothing tolerance, same quality of solution
    assert abs(bound - local.bound) / local.bound < 1e-3
    assert value >= local.value * 0.99
    assert bound >= value
