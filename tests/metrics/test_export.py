from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd
import pytest

from somebound.metrics.export import TABLES, ExportError, export_star_schema
from somebound.metrics.kpis import Metrics
from somebound.metrics.synthetic import generate

START, END = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def star(tmp_path_factory):
    data = generate(600, seed=11)
    out = tmp_path_factory.mktemp("wh")
    paths = export_star_schema(out, data.events, cases=data.cases, customers=data.customers,
                               agents=data.agents)  # fmt: skip
    return data, paths


def test_star_schema_files_join_in_duckdb(star):
    data, paths = star
    assert set(paths) == set(TABLES)
    con = duckdb.connect()
    for name, path in paths.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    n_events, n_contacts = con.execute(
        "SELECT (SELECT count(*) FROM fact_event), (SELECT count(*) FROM fact_contact)"
    ).fetchall()[0]
    assert n_events == data.events.num_rows and n_contacts == len(data.cases)
    # Every fact row finds its dimension rows (no orphan keys).
    orphans = con.execute("""
        SELECT
          (SELECT count(*) FROM fact_contact f LEFT JOIN dim_channel c USING (channel_key)
            WHERE c.channel_key IS NULL),
          (SELECT count(*) FROM fact_contact f LEFT JOIN dim_date d
             ON d.date_key = f.opened_date_key WHERE d.date_key IS NULL),
          (SELECT count(*) FROM fact_contact f LEFT JOIN dim_customer c USING (customer_key)
            WHERE c.customer_key IS NULL),
          (SELECT count(*) FROM fact_event e LEFT JOIN dim_agent a USING (agent_key)
            WHERE e.agent_key IS NOT NULL AND a.agent_key IS NULL)
    """).fetchall()[0]
    assert orphans == (0, 0, 0, 0)
    # Per-contact facts agree with the operational cases table.
    by_bound = dict(con.execute(
        "SELECT bound, count(*) FROM fact_contact JOIN dim_channel USING (channel_key) "
        "GROUP BY bound").fetchall())  # fmt: skip
    assert by_bound == data.cases.groupby("bound").size().to_dict()
    fc = con.execute("SELECT case_id, first_response_at FROM fact_contact").df()
    merged = fc.merge(data.cases[["id", "first_response_at"]], left_on="case_id", right_on="id")
    both = merged.dropna(subset=["first_response_at_x", "first_response_at_y"])
    assert len(both) == data.cases["first_response_at"].notna().sum()
    diff = (both["first_response_at_x"] - both["first_response_at_y"]).abs()
    assert diff.max() < pd.Timedelta(milliseconds=1)


def test_kpis_from_exported_parquet_equal_kpis_from_the_raw_log(star):
    data, paths = star
    a = Metrics(data.events, agents=data.agents).kpis(START, END, "channel,bound")
    b = Metrics(str(paths["fact_event"]), agents=data.agents).kpis(START, END, "channel,bound")
    pd.testing.assert_frame_equal(a, b)


def test_missing_columns_are_named():
    data = generate(20)
    with pytest.raises(ExportError, match="cases table lacks column.*solved_at"):
        export_star_schema("/tmp/never", data.events, cases=data.cases.drop(columns="solved_at"))


@pytest.mark.spark
@pytest.mark.slow
def test_spark_reads_the_star_schema(star):
    pyspark = pytest.importorskip("pyspark")
    del pyspark
    from pyspark.sql import SparkSession

    data, paths = star
    spark = (SparkSession.builder.master("local[1]").appName("somebound-export-test")
             .config("spark.ui.enabled", "false").getOrCreate())  # fmt: skip
    try:
        fe = spark.read.parquet(str(paths["fact_event"]))
        fc = spark.read.parquet(str(paths["fact_contact"]))
        ch = spark.read.parquet(str(paths["dim_channel"]))
        assert fe.count() == data.events.num_rows
        rows = fc.join(ch, "channel_key").groupBy("bound").count().collect()
        assert {r["bound"]: r["count"] for r in rows} == data.cases.groupby("bound").size().to_dict()
    finally:
        spark.stop()
