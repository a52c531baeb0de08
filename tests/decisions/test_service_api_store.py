from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.pool import StaticPool

from somebound.api.decisions_routes import router
from somebound.decisions.catalogue import demo_catalogue_path
from somebound.decisions.service import DecisionService
from somebound.store.base import metadata
from somebound.store.decisions import DecisionRepository, decision_outcomes, decisions

SMALL = """\
channels:
  call: {cost: 1, capacity_per_day: 2}
actions:
  - id: offer
    value: 100
    treatments: [agent, call]
    limits: {stock: 1}
  - id: tip
    value: 5
    treatments: [agent]
    eligibility: ["age >= 18"]
"""


@pytest.fixture()
def repo():
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine, tables=[t for t in metadata.sorted_tables if t.name.startswith("decision")])
    return DecisionRepository(engine)


@pytest.fixture()
def client(repo):
    app = FastAPI()
    app.state.decisions = DecisionService(demo_catalogue_path(), repository=repo, seed=1,
                                          attributes_of=lambda cid: {"age": 30, "segment": "gold"} if cid == "42" else None)
    app.include_router(router)
    return TestClient(app)


def _customer():
    return {"age": 41, "segment": "gold", "churn_risk": 0.5, "has_broadband": True, "broadband_speed": 100,
            "has_mobile": True, "data_usage_gb": 30, "overdue_days": 0, "language": "fi",
            "contract_months_left": 2, "e_invoice": False}


def test_post_decisions_outcomes_and_explanation_over_http(client, repo):
    r = client.post("/decisions", json={"customer_id": "c1", "attributes": _customer(),
                                        "context": {"channel": "phone", "intent": "cancel", "bound": "inbound"},
                                        "deadline_ms": 10000})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ranked"] and body["winner"]["channel"] == "agent"
    assert "fibre_new_household" in body["filtered"]
    ex = client.get(f"/decisions/{body['id']}/explanation").json()
    assert ex["winner"]["action"] == body["winner"]["action"]
    assert "no_broadband" in ex["filtered"]["fibre_new_household"]
    o = client.post("/outcomes", json={"decision_id": body["id"], "outcome": "accepted"})
    assert o.status_code == 200 and o.json()["action"] == body["winner"]["action"]
    with repo.engine.connect() as conn:
        assert conn.execute(select(decisions.c.action)).scalar() == body["winner"]["action"]
        assert conn.execute(select(decision_outcomes.c.outcome)).scalar() == "accepted"
    assert client.post("/outcomes", json={"decision_id": "nope", "outcome": "accepted"}).status_code == 404
    assert client.post("/outcomes", json={"decision_id": body["id"], "outcome": "maybe"}).status_code == 422
    assert client.get("/decisions/nope/explanation").status_code == 404


def test_customer_id_only_uses_the_attribute_lookup(client):
    r = client.post("/decisions", json={"customer_id": 42, "context": {"channel": "chat"}})
    assert r.status_code == 200
    assert client.post("/decisions", json={"context": {"channel": "chat"}}).status_code == 422


def test_catalogue_upload_is_versioned_and_validated(client, repo):
    before = client.get("/actions").json()
    assert before["version"] == 1 and len(before["actions"]) == 12
    bad = client.put("/actions", content="actions:\n  - id: x\n    value: 1\n    treatments: [fax]\n",
                     headers={"content-type": "application/yaml"})
    assert bad.status_code == 422 and bad.json()["detail"]["line"] == 4
    ok = client.put("/actions", content=SMALL, headers={"content-type": "application/yaml"})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    again = client.put("/actions", content=SMALL, headers={"content-type": "application/yaml"})
    assert again.json()["version"] == 2  # same content, same version
    js = client.put("/actions", json={"actions": [{"id": "only", "value": 3, "treatments": ["sms"]}]})
    assert js.status_code == 200 and js.json()["version"] == 3
    assert [a["id"] for a in client.get("/actions").json()["actions"]] == ["only"]
    assert [v["version"] for v in repo.catalogue_versions()] == [2, 3]


def test_prices_endpoint_explains_shadow_prices(client):
    svc = client.app.state.decisions
    svc.set_prices({"capacity:call": 12.5})
    p = client.get("/prices").json()["prices"]["capacity:call"]
    assert p["price"] == 12.5 and "call capacity is worth 12.50" in p["meaning"]


def test_service_history_feeds_contact_policy_and_stock_release(repo):
    clock = [datetime(2026, 6, 1, 12, tzinfo=UTC)]
    svc = DecisionService(demo_catalogue_path(), repository=repo, clock=lambda: clock[0])
    svc.put_catalogue(SMALL)
    d1 = svc.decide(customer_id="7", attributes={"age": 30}, context={"channel": "phone"}, k=1, deadline_ms=None)
    assert d1.winner.action == "offer"
    d2 = svc.decide(customer_id="8", attributes={"age": 30}, context={"channel": "phone"}, k=1, deadline_ms=None)
    assert d2.winner.action == "tip" and "stock:offer" in d2.filtered["offer/agent"]
    svc.record_outcome(d1.id, "declined")  # stock comes back, and customer 7 is suppressed
    d3 = svc.decide(customer_id="8", attributes={"age": 30}, context={"channel": "phone"}, k=1, deadline_ms=None)
    assert d3.winner.action == "offer"
    d4 = svc.decide(customer_id="7", attributes={"age": 30}, context={"channel": "phone"}, k=1, deadline_ms=None)
    assert "declined" in d4.filtered.get("offer/agent", "") or "stock" in d4.filtered.get("offer/agent", "")
    hist = repo.history("7")
    assert hist[0].outcome == "declined" and hist[0].action == "offer"
    # a restarted service reads the latest catalogue version back
    svc2 = DecisionService(demo_catalogue_path(), repository=repo)
    assert svc2.catalogue.version == svc.catalogue.version and len(svc2.catalogue.actions) == 2


def test_outcomes_teach_the_model(repo):
    svc = DecisionService(demo_catalogue_path(), seed=2)
    svc.put_catalogue(SMALL)
    j = svc.engine.resources.option_index[("tip", "agent")]
    before = svc.engine.model.observations(j)
    for _ in range(5):
        d = svc.decide(attributes={"age": 30, "segment": "gold"}, context={"channel": "chat"}, k=1, deadline_ms=None)
        svc.record_outcome(d.id, "accepted", action="tip", channel="agent")
    assert svc.engine.model.observations(j) == before + 5
    assert svc.engine.model.n_pos[j] == 5
