from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from listening_util import make_message

from somebound.api.listening_routes import router
from somebound.listening.service import ListeningService


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    app.include_router(router)
    app.state.listening = ListeningService.default()
    return TestClient(app)


def test_analyse(client):
    r = client.post("/listening/analyse", json={"text": "Netti ei toimi taas!! 😡", "followers": 20000})
    assert r.status_code == 200
    body = r.json()
    assert body["language"] == "fi" and body["sentiment"] == "negative"
    assert body["priority"] == "urgent" and body["urgency_reasons"]
    assert client.post("/listening/analyse", json={"text": "x", "customer_language": "Finnish"}).status_code == 422
    r = client.post("/listening/analyse", json={"text": "x", "languages": ["de"]})
    assert r.status_code == 422 and "not served" in r.json()["detail"]
    only_sv = client.post("/listening/analyse", json={"text": "Kiitos paljon avusta", "languages": ["sv"]})
    assert only_sv.json()["language"] == "sv"


def test_answers_search_and_suggest(client):
    r = client.get("/answers/search", params={"q": "väärä lasku", "lang": "fi"})
    assert r.status_code == 200 and r.json()["results"][0]["id"] == "invoice-error"
    r = client.get("/answers/suggest", params={"message": "Var är mitt paket?"})
    body = r.json()
    assert body["language"] == "sv" and body["suggestions"][0]["id"] == "order-tracking"
    assert body["suggestions"][0]["language"] == "sv"


def test_spikes_and_influence_follow_processed_messages(client):
    svc = client.app.state.listening
    t = datetime(2026, 3, 2, 12)
    for i in range(40):
        svc.process(make_message(f"Katkos taas {i}", user=f"fan{i % 8}", native_id=str(i),
                                 sent_at=t + timedelta(seconds=i), followers=10,
                                 meta={"reply_to_author": "matti"}))
    assert client.get("/listening/spikes").status_code == 200
    r = client.get("/authors/matti/influence")
    assert r.status_code == 200 and r.json()["rank"] == 1 and r.json()["in_edges"] == 40
    assert client.get("/authors/nobody/influence").status_code == 404


def test_unconfigured_app_says_so():
    app = FastAPI()
    app.include_router(router)
    r = TestClient(app).get("/listening/spikes")
    assert r.status_code == 503 and "app.state.listening" in r.json()["detail"]
