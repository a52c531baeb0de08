"""The pages are matched before the API (api/route_guard.py) without changing what any
path resolves to, what the OpenAPI schema says, or how an API request is routed."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from starlette.routing import Match

from somebound.api.app import _guard_first
from somebound.api.route_guard import SegmentGuard, first_segment, segments_of
from somebound.web import pages


def _scope(path: str, method: str = "GET") -> dict:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}


def test_pages_are_tried_first_and_api_paths_pass_the_guard_untouched(app) -> None:  # noqa: ANN001
    guard = app.router.routes[0]
    assert isinstance(guard, SegmentGuard)
    assert guard.segments == segments_of(r.path for r in pages.router.routes)
    assert {"inbox", "login", "supervisor", ""} <= guard.segments
    assert guard.matches(_scope("/inbox/cases/7"))[0] == Match.FULL
    assert guard.matches(_scope("/"))[0] == Match.FULL
    assert guard.matches(_scope("/inbox/cases/7/reply"))[0] == Match.PARTIAL  # POST only
    for path in (
        "/cases",
        "/cases/7",
        "/webhooks/facebook",
        "/health",
        "/docs",
        "/static/web/app.css",
        "/identity/review",
    ):
        assert guard.matches(_scope(path)) == (Match.NONE, {}), path
    # a proxy's root_path is not part of the route path
    assert guard.matches({**_scope("/hub/inbox"), "root_path": "/hub"})[0] == Match.FULL


def test_the_guard_changes_no_route_nor_the_schema(app) -> None:  # noqa: ANN001
    guard = app.router.routes[0]
    with_guard = app.openapi()
    app.router.routes.remove(guard)
    app.openapi_schema = None
    assert app.openapi() == with_guard
    assert guard.routes[0] in app.router.routes  # the pages' own entry stayed in place


def test_requests_reach_the_same_handlers(client) -> None:  # noqa: ANN001
    assert client.get("/inbox").status_code == 200
    assert client.get("/inbox/cases/999999").status_code == 404
    assert client.get("/inbox/cases/abc").status_code == 404  # {case_id:int}
    assert client.get("/nope").status_code == 404
    api = client.get("/cases")  # the API (the session cookie is a token there too)
    assert api.status_code == 200 and api.headers["content-type"] == "application/json"
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/logout").status_code == 405  # POST only, as before
    assert client.get("/static/web/app.js").status_code == 200
    client.cookies.clear()
    r = client.get("/inbox/cases/5?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/inbox/cases/5%3Fx%3D1"


def test_no_guard_when_another_route_could_claim_a_page_segment(caplog) -> None:  # noqa: ANN001
    app = FastAPI()
    api = APIRouter()
    api.add_api_route("/inbox/export", lambda: {}, methods=["GET"])
    app.include_router(api)
    before = len(app.router.routes)
    app.include_router(pages.router)
    added = app.router.routes[before:]
    with caplog.at_level(logging.WARNING):
        _guard_first(app, [(pages.router, added)], ["/inbox/export"])
    assert not any(isinstance(r, SegmentGuard) for r in app.router.routes)
    assert "inclusion order" in caplog.text
    assert first_segment("/inbox/x") == "inbox" and segments_of(["/{any}"]) is None
