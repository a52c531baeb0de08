"""The REST router on a tiny app: SQLite, create_all, no auth."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from somebound.api.identity_routes import router
from somebound.identity.bands import Thresholds
from somebound.identity.service import IdentityService

from .conftest import hand_model

CSV = (
    "customer_number,given_name,surname,email,city\n"
    "C1,Matti,Virtanen,matti.virtanen@example.fi,Oulu\n"
    "C2,Anna,Korhonen,bad-address,Turku\n"
    "C3,Åsa,Sjöberg,asa.sjoberg@example.se,Turku\n"
)


@pytest.fixture
def client(engine):
    app = FastAPI()
    app.state.engine = engine
    app.state.identity = IdentityService(
        engine, model=hand_model(), thresholds=Thresholds(0.99, 0.5)
    )

    @app.middleware("http")
    async def agent(request: Request, call_next):
        request.state.agent_username = request.headers.get("x-agent", "system")
        return await call_next(request)

    app.include_router(router)
    return TestClient(app)


def test_import_link_review_merge_export_erase(client):
    r = client.post(
        "/identity/customers/import", files={"file": ("crm.csv", CSV.encode(), "text/csv")}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["imported"]) == (2, 2)
    assert body["bad_rows"] == [
        {
            "line": 3,
            "reason": "email 'bad-address' is not an e-mail address",
            "customer_number": "C2",
        }
    ]

    # a verified e-mail links deterministically
    r = client.post(
        "/identity/identify", json={"kind": "email", "key": "Matti.Virtanen@example.fi"}
    )
    assert r.json()["linked"] and r.json()["evidence"] == "verified"
    matti = r.json()["customer_id"]

    # a stranger on X stays unlinked
    r = client.post(
        "/identity/identify",
        json={"kind": "x", "key": "777", "display_name": "Zorro Q", "handle": "zq"},
    )
    assert r.json()["band"] == "none" and not r.json()["linked"]
    stranger_identity = r.json()["identity_id"]

    # an agent links by hand, then unlinks
    r = client.post(
        f"/identity/identities/{stranger_identity}/link",
        json={"customer_id": matti, "reason": "DM confirmed"},
        headers={"x-agent": "liisa"},
    )
    assert r.status_code == 200 and r.json()["customer_id"] == matti
    r = client.get(f"/identity/identities/{stranger_identity}")
    assert r.json()["history"][0]["actor"] == "liisa"
    r = client.post(f"/identity/identities/{stranger_identity}/unlink", json={})
    assert r.status_code == 200 and r.json()["unlinked_from"] == matti
    assert (
        client.post(f"/identity/identities/{stranger_identity}/unlink", json={}).status_code == 409
    )

    # a name-only profile goes to the review queue; the agent confirms it
    r = client.post(
        "/identity/identify",
        json={
            "kind": "facebook",
            "key": "fb-1",
            "display_name": "Asa Sjoberg",
            "profile": {"city": "Turku"},
        },
    )
    assert r.json()["band"] == "review", r.json()
    queue = client.get("/identity/review").json()
    assert [q["id"] for q in queue] == [r.json()["review_item_id"]]
    r = client.post(f"/identity/review/{queue[0]['id']}/confirm", json={"note": "same photo"})
    assert r.status_code == 200 and r.json()["confirmed"]
    assert client.get("/identity/review").json() == []

    # golden record with lineage; merge and unmerge
    asa = queue[0]["customer_id"]
    g = client.get(f"/identity/customers/{asa}/golden").json()
    assert g["fields"]["customer_number"]["value"] == "C3"
    r = client.post(f"/identity/customers/{matti}/merge", json={"merged_id": asa})
    merge_id = r.json()["merge_id"]
    assert client.post(f"/identity/merges/{merge_id}/unmerge").status_code == 200
    assert client.post(f"/identity/merges/{merge_id}/unmerge").status_code == 409

    # export, then erase
    data = client.get(f"/identity/customers/{asa}/export").json()
    assert [i["key"] for i in data["identities"]] == ["fb-1"]
    assert data["decisions"][0]["status"] == "confirmed"
    r = client.post(f"/identity/customers/{asa}/erase", json={"reason": "request"})
    assert r.status_code == 200 and r.json()["identities"] == 1
    assert client.get(f"/identity/customers/{asa}/golden").json()["erased"] is True
    assert client.get("/identity/customers/99999/golden").status_code == 404


def test_bad_import_file_is_a_clear_422(client):
    r = client.post(
        "/identity/customers/import",
        files={"file": ("crm.csv", b"name,email\nx,y@z.fi\n", "text/csv")},
    )
    assert r.status_code == 422
    assert "crm.csv: no 'customer_number' column" in r.json()["detail"]
    r = client.post("/identity/identify", json={"kind": "myspace", "key": "x"})
    assert r.status_code == 422 and "unknown identity kind" in r.json()["detail"]
