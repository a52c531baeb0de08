"""The staffing API on a tiny app (the real app adds auth around this router)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from somebound.api.workforce_routes import router

POLICY = {
    "interval_minutes": 60,
    "channels": {
        "phone": {
            "aht_seconds": 180,
            "target_seconds": 20,
            "service_level": 0.8,
            "hours": "08:00-20:00",
        },
        "chat": {
            "model": "erlang_a",
            "aht_seconds": 300,
            "patience_seconds": 120,
            "concurrency": 2,
            "hours": "08:00-20:00",
        },
    },
    "shifts": [
        {"name": "day", "starts": {"from": "07:00", "to": "12:00", "every_minutes": 60}, "hours": 8}
    ],
}


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def _vols():
    h = np.arange(168) % 24
    prof = np.clip(np.sin((h - 7) / 14 * np.pi), 0, None)
    return {"phone": (200 * prof).tolist(), "chat": (80 * prof).tolist()}


def test_requirements(client):
    r = client.post("/plan/requirements", json={"policy": POLICY, "volumes": _vols()})
    assert r.status_code == 200, r.text
    req = r.json()["requirements"]["phone"]
    assert len(req["required"]) == 168
    assert req["required"][2] == 0 and req["required"][13] > 2
    assert req["service_level"][2] is None and req["service_level"][13] >= 0.8


def test_schedule_from_volumes_and_from_requirements(client):
    r = client.post("/plan/schedule", json={"policy": POLICY, "volumes": _vols()})
    assert r.status_code == 200, r.text
    s = r.json()["schedules"]["phone"]
    assert sum(s["under"]) == 0 and all(x >= 0 for x in s["over"])
    assert sum(x["agents"] for x in s["shifts"]) > 0
    need = [3 if 8 <= h % 24 < 19 else 0 for h in range(168)]
    r2 = client.post("/plan/schedule", json={"policy": POLICY, "requirements": {"phone": need}})
    assert r2.status_code == 200
    got = r2.json()["schedules"]["phone"]
    assert all(s >= n for s, n in zip(got["scheduled"], need, strict=True))
    assert got["scheduled"][2] == 0  # nobody scheduled at night when nothing is needed


def test_crisis(client):
    body = {
        "policy": POLICY,
        "volumes": _vols(),
        "channel": "phone",
        "factor": 3,
        "start_interval": 36,
        "intervals": 4,
    }
    r = client.post("/plan/crisis", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert all(x > 0 for x in d["delta"][36:40]) and d["delta"][50] == 0
    assert d["spike_service_level_after"] < d["spike_service_level_before"]


def test_erlang_calculator(client):
    body = {
        "agents": [14],
        "volume": [100],
        "interval_minutes": 30,
        "aht_seconds": 180,
        "target_seconds": 20,
    }
    r = client.post("/plan/erlang", json=body)
    assert r.status_code == 200
    assert round(r.json()["service_level"][0], 4) == 0.8884
    r = client.post("/plan/erlang", json={**body, "patience_seconds": 120})
    assert r.json()["model"] == "erlang_a" and 0 < r.json()["p_abandon"][0] < 0.1


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (
            "/plan/requirements",
            {"policy": {"channels": {"phone": {"aht_seconds": -1}}}, "volumes": {}},
            "aht_seconds must be",
        ),
        ("/plan/requirements", {"policy": POLICY, "volumes": {"phone": [1.0] * 5}}, "168 values"),
        (
            "/plan/crisis",
            {
                "policy": POLICY,
                "volumes": _vols(),
                "channel": "fax",
                "factor": 2,
                "start_interval": 0,
                "intervals": 1,
            },
            "not in the policy",
        ),
    ],
)
def test_bad_requests_get_422_with_reason(client, path, body, words):
    r = client.post(path, json=body)
    assert r.status_code == 422
    assert words in r.text
