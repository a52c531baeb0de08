"""The webhook lane answers signed webhook POSTs itself, exactly as the FastAPI routes do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from somebound.api import webhooks
from somebound.api.app import create_app
from somebound.api.settings import Settings
from somebound.api.webhook_lane import WebhookLane
from somebound.store.tables import dead_letters, raw_inbox
from tests.hub.helpers import fb_comment, fb_headers

SECRET = "lane-secret"


def _client(tmp_path, name: str, lane: bool) -> TestClient:  # noqa: ANN001
    settings = Settings(database_url=f"sqlite:///{tmp_path}/{name}.sqlite", run_worker=False,
                        run_smtp=False, facebook_app_secret=SECRET,
                        blob_dir=str(tmp_path / f"blobs_{name}"), pipeline_stages=())
    app = create_app(settings)
    if not lane:  # the middleware stack is built on the first request, so this takes
        app.user_middleware = [m for m in app.user_middleware if m.cls is not WebhookLane]
    return TestClient(app)


@pytest.fixture
def clients(tmp_path) -> Iterator[dict[str, TestClient]]:  # noqa: ANN001
    with _client(tmp_path, "lane", True) as lane, _client(tmp_path, "routes", False) as routes:
        yield {"lane": lane, "routes": routes}


def _kept(client: TestClient) -> tuple[list, list]:
    engine = client.app.state.engine
    with engine.connect() as conn:
        inbox = conn.execute(select(raw_inbox.c.channel, raw_inbox.c.payload)).all()
        dead = conn.execute(select(dead_letters.c.channel, dead_letters.c.reason,
                                   dead_letters.c.payload)).all()
    return [tuple(r) for r in inbox], [tuple(r) for r in dead]


def test_the_lane_answers_without_the_routes(clients, monkeypatch) -> None:  # noqa: ANN001
    def route_must_not_run(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the FastAPI route answered a webhook POST")

    monkeypatch.setattr(webhooks, "_answer", route_must_not_run)
    body = fb_comment("1000_1_c1", "1000_1", "u1", "Ulla", "Hei")
    r = clients["lane"].post("/webhooks/facebook", content=body, headers=fb_headers(body, SECRET))
    assert r.status_code == 200 and r.json()["duplicate"] is False
    assert _kept(clients["lane"])[0] == [("facebook", body)]
    # other requests, the handshake on the same path included, still reach the app
    assert clients["lane"].get("/health").json()["status"] == "ok"
    verify = clients["lane"].get("/webhooks/facebook", params={
        "hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"})
    assert verify.status_code == 403


def test_lane_and_routes_give_the_same_answers_and_keep_the_same_rows(clients) -> None:  # noqa: ANN001
    good = fb_comment("1000_1_c1", "1000_1", "u1", "Ulla", "Hei")
    cases = [
        (good, fb_headers(good, SECRET)),                       # accepted
        (good, fb_headers(good, SECRET)),                       # the same bytes again
        (good, fb_headers(good, "not-the-secret")),             # bad signature
        (b"{not json", fb_headers(b"{not json", SECRET)),       # signed but unparseable
        (good, {"content-type": "application/json"}),           # unsigned
    ]
    answers = {}
    for name, client in clients.items():
        answers[name] = [(r.status_code, r.json()) for r in (
            client.post("/webhooks/facebook", content=body, headers=headers)
            for body, headers in cases)]
    assert answers["lane"] == answers["routes"]
    assert [status for status, _ in answers["lane"]] == [200, 200, 401, 400, 401]
    assert answers["lane"][1][1]["duplicate"] is True
    assert set(answers["lane"][3][1]["detail"]) == {"what", "where", "fix"}
    assert _kept(clients["lane"]) == _kept(clients["routes"])
    assert len(_kept(clients["lane"])[1]) == 3  # every rejected payload kept with its reason


def test_x_and_cti_posts_take_the_lane_too(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(webhooks, "_answer", None)  # calling a route would raise TypeError
    with _client(tmp_path, "other", True) as client:
        for path in ("/webhooks/x", "/webhooks/cti"):
            r = client.post(path, content=b"{}", headers={"content-type": "application/json"})
            assert r.status_code == 401, r.text  # no secret configured: refused, and kept
        assert [c for c, _, _ in _kept(client)[1]] == ["x", "phone"]
