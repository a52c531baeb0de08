"""KPIs over a warehouse export directory equal KPIs folded from the raw event log.

The export's ``fact_contact`` is reused only when it provably equals the fold for the
asked period (same agent pricing, every contact's events inside the period); the tests
pin both the answers (identical to the raw log) and which path produced them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from somebound.metrics.config import default_config, parse_config
from somebound.metrics.export import export_star_schema
from somebound.metrics.kpis import Metrics
from somebound.metrics.synthetic import generate

from .conftest import POLICY

START = datetime(2026, 11, 2, tzinfo=UTC)
ALL = (START - timedelta(days=1), START + timedelta(days=60))  # every event inside
PART = (START + timedelta(days=3), START + timedelta(days=8))  # contacts cross both ends
DIMS = "channel,bound,queue,team,agent,day"


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    data = generate(500, start=START, seed=5)
    policy = parse_config(POLICY, source="test.yaml")
    out = tmp_path_factory.mktemp("wh")
    export_star_schema(out, data.events, agents=data.agents, config=policy)
    return data, policy, out


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def _facts(m: Metrics, period) -> pd.DataFrame:  # noqa: ANN001
    f = m.facts(*period)
    return f.sort_values("case_id").reset_index(drop=True)[sorted(f.columns)]


def test_whole_log_period_reads_fact_contact_and_equals_the_fold(wh):
    data, policy, out = wh
    raw = Metrics(data.events, agents=data.agents, config=policy)
    w = Metrics(str(out), agents=data.agents, config=policy)
    _same(w.kpis(*ALL, DIMS), raw.kpis(*ALL, DIMS))
    assert w.facts_source == "fact_contact" and raw.facts_source == "fold"
    _same(_facts(w, ALL), _facts(raw, ALL))


def test_partial_period_refolds_the_events(wh):
    data, policy, out = wh
    raw = Metrics(data.events, agents=data.agents, config=policy)
    w = Metrics(str(out), agents=data.agents, config=policy)
    _same(w.kpis(*PART, DIMS), raw.kpis(*PART, DIMS))
    assert w.facts_source == "fold"  # solved/answered after the period end exist


def test_other_agent_pricing_refolds_and_other_sla_recomputes(wh):
    data, _, out = wh
    cfg = default_config()  # other hourly costs than the export's policy
    w = Metrics(str(out), agents=data.agents, config=cfg)
    _same(w.kpis(*ALL, DIMS), Metrics(data.events, agents=data.agents, config=cfg).kpis(*ALL, DIMS))
    assert w.facts_source == "fold"
    # Same pricing, stricter SLA and another calendar: still fact_contact, re-scored.
    stricter = parse_config(
        POLICY.replace("first_response: 8h", "first_response: 1h").replace(
            '"08:00-16:00"', '"09:00-12:00"'
        ),
        source="t.yaml",
    )
    as_of = START + timedelta(days=5)
    w = Metrics(str(out), agents=data.agents, config=stricter, as_of=as_of)
    raw = Metrics(data.events, agents=data.agents, config=stricter, as_of=as_of)
    _same(w.kpis(*ALL, DIMS), raw.kpis(*ALL, DIMS))
    assert w.facts_source == "fact_contact"
    assert not w.kpis(*ALL, "bound")["service_level"].equals(
        Metrics(str(out), agents=data.agents, config=default_config()).kpis(*ALL, "bound")[
            "service_level"
        ]
    )


def test_export_sorts_events_by_type_then_case_and_records_the_pricing(wh):
    _, _, out = wh
    fe = pq.read_table(out / "fact_event.parquet",
                       columns=["type", "case_id", "at", "id"]).to_pandas()  # fmt: skip
    assert fe["type"].is_monotonic_increasing
    for _, block in fe.groupby("type", sort=False):
        with_case = block[block["case_id"].notna()]
        assert with_case.equals(with_case.sort_values(["case_id", "at", "id"]))
        assert block["case_id"].isna().sum() == 0 or block["case_id"].tail(1).isna().all()
    meta = pq.read_schema(out / "fact_contact.parquet").metadata
    assert b"somebound.fold_cost" in meta
