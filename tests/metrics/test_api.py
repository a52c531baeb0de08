from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from somebound.api.metrics_routes import router, survey_router
from somebound.metrics.kpis import Metrics
from somebound.metrics.surveys import make_survey_token
from somebound.metrics.synthetic import generate

SECRET = "test-secret"
START, END = "2026-11-02T00:00:00Z", "2026-11-16T00:00:00Z"


def _events_table(md: sa.MetaData) -> sa.Table:
    return sa.Table(
        "events", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id", sa.Integer), sa.Column("customer_id", sa.Integer),
        sa.Column("message_id", sa.Integer), sa.Column("agent_id", sa.Integer),
        sa.Column("queue", sa.String(64)), sa.Column("channel", sa.String(16)),
        sa.Column("bound", sa.String(16)), sa.Column("data", sa.JSON, nullable=False),
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data = generate(400, seed=3)
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('db')}/t.db")
    md = sa.MetaData()
    events = _events_table(md)
    agents = sa.Table("agents", md, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("team", sa.String(32)))  # fmt: skip
    md.create_all(engine)
    df = data.events.to_pandas()
    rows = []
    for r in df.itertuples(index=False):
        rows.append({
            "id": int(r.id), "type": r.type, "at": r.at.to_pydatetime(),  # naive UTC
            **{c: (None if pd.isna(getattr(r, c)) else int(getattr(r, c)))
               for c in ("case_id", "customer_id", "message_id", "agent_id")},
            "queue": r.queue, "channel": r.channel, "bound": r.bound,
            "data": json.loads(r.data),
        })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.insert(events), rows)
        conn.execute(sa.insert(agents), data.agents[["id", "team"]].to_dict("records"))
    app = FastAPI()
    app.state.engine = engine
    app.state.survey_secret = SECRET
    app.include_router(router)
    app.include_router(survey_router)
    return data, engine, TestClient(app)


def test_kpis_endpoint_equals_direct_computation(world):
    data, _, client = world
    r = client.get("/metrics/kpis", params={"from": START, "to": END, "group_by": "bound"})
    assert r.status_code == 200, r.text
    body = r.json()
    got = pd.DataFrame(body["rows"]).set_index("bound")
    start, end = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)
    want = Metrics(data.events, agents=data.agents).kpis(start, end, "bound").set_index("bound")
    opened = data.cases["opened_at"]
    in_period = data.cases[(opened >= "2026-11-02") & (opened < "2026-11-16")]
    assert got["offered"].to_dict() == in_period.groupby("bound").size().to_dict()
    for col in ("offered", "answered", "sla_met", "service_level", "frt_business_median",
                "cost", "reach", "contacts_per_agent_day"):
        assert got[col].to_dict() == pytest.approx(want[col].to_dict(), nan_ok=True), col
    assert body["currency"] == "EUR"


def test_cost_nps_distribution_and_agents_endpoints(world):
    _, _, client = world
    p = {"from": START, "to": END}
    cost = client.get("/metrics/cost", params=p).json()["rows"]
    assert {r["bound"] for r in cost} == {"inbound", "outbound", "somebound"}
    some = next(r for r in cost if r["bound"] == "somebound")
    assert some["reach"] > some["handled"]  # public answers reach more than their authors
    nps = client.get("/metrics/nps", params={**p, "group_by": "channel"}).json()["rows"]
    assert all(-100 <= r["nps"] <= 100 for r in nps if r["nps"] is not None)
    dist = client.get("/metrics/frt-distribution", params={**p, "clock": "business"}).json()
    assert dist["rows"] and {"bucket", "contacts", "share"} <= set(dist["rows"][0])
    ag = client.get("/metrics/agents", params=p).json()["rows"]
    assert all(r["contacts_per_agent_day"] >= 1 for r in ag)


def test_bad_query_is_422_with_reason(world):
    _, _, client = world
    r = client.get("/metrics/kpis", params={"from": START, "to": END, "group_by": "shoe"})
    assert r.status_code == 422 and "unknown dimension" in r.text
    r = client.get("/metrics/kpis", params={"from": END, "to": START})
    assert r.status_code == 422


def test_survey_answer_roundtrip_and_nps(world):
    _, engine, client = world
    token = make_survey_token(SECRET, 5, "nps")
    assert client.get(f"/surveys/{token}").status_code == 200
    r = client.post(f"/surveys/{token}", json={"score": 10, "comment": "quick!"})
    assert r.status_code == 201, r.text
    again = client.post(f"/surveys/{token}", json={"score": 0})
    assert again.status_code == 409
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT channel, data FROM events WHERE case_id = 5 AND type = 'survey_answered'"
        )).all()
    answers = [json.loads(d) for _, d in row if json.loads(d).get("comment") == "quick!"]
    assert answers == [{"kind": "nps", "score": 10, "comment": "quick!"}]
    now = datetime.now(UTC)
    nps = client.get("/metrics/nps", params={"from": now.replace(hour=0, minute=0).isoformat(),
                                             "group_by": ""}).json()["rows"][0]  # fmt: skip
    assert nps["promoters"] >= 1


def test_survey_rejects_forged_tokens_and_bad_scores(world):
    data, _, client = world
    never_solved = int(data.cases.loc[data.cases.status == "new", "id"].iloc[0])
    token = make_survey_token(SECRET, never_solved, "csat")
    forged = make_survey_token("other-secret", never_solved, "csat")
    assert client.post(f"/surveys/{forged}", json={"score": 5}).status_code == 403
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.post(f"/surveys/{tampered}", json={"score": 5}).status_code == 403
    assert client.post(f"/surveys/{token}", json={"score": 9}).status_code == 400
    assert client.post(f"/surveys/{token}", data={"score": "4"}).status_code == 201
    unknown = make_survey_token(SECRET, 999_999, "nps")
    assert client.post(f"/surveys/{unknown}", json={"score": 5}).status_code == 404
