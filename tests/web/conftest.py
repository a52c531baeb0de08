"""Shared fixtures: the real app on SQLite, a fake Graph API, logged-in browsers-by-HTTP."""

from __future__ import annotations

import itertools
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from somebound.api.app import create_app
from somebound.api.settings import Settings
from somebound.channels import samples
from somebound.channels.fakes import FakeGraphServer, signed_facebook_request
from somebound.store.accounts import create_agent

PAGE_ID = "1000"
PASSWORD = "correct-horse-1"
_ids = itertools.count(1)


@pytest.fixture
def graph() -> Iterator[FakeGraphServer]:
    with FakeGraphServer(page_token="test-page-token", page_id=PAGE_ID) as fake:
        yield fake


@pytest.fixture
def settings(tmp_path: Path, graph: FakeGraphServer) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/db.sqlite", run_smtp=False,
                    blob_dir=str(tmp_path / "blobs"), facebook_graph_url=graph.base_url,
                    facebook_app_secret="test-app-secret", facebook_page_token="test-page-token",
                    facebook_page_id=PAGE_ID,
                    # the pages are under test, not the domain stages: loading their models
                    # inside the worker's first transaction holds SQLite's write lock longer
                    # than the 30 s busy timeout on this machine
                    pipeline_stages=())


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with three agents, made once and copied for each test
    (migrating from scratch takes seconds; copying a file takes milliseconds)."""
    root = tmp_path_factory.mktemp("web-template")
    app = create_app(Settings(database_url=f"sqlite:///{root}/db.sqlite", run_smtp=False,
                              blob_dir=str(root / "blobs")))
    engine = app.state.engine
    with engine.begin() as conn:
        create_agent(conn, "anna", PASSWORD, "Anna Agent", role="agent", team="social")
        create_agent(conn, "ben", PASSWORD, "Ben Builder", role="agent", team="social")
        create_agent(conn, "sara", PASSWORD, "Sara Supervisor", role="supervisor")
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not (root / "db.sqlite-wal").exists() or (root / "db.sqlite-wal").stat().st_size == 0
    return root / "db.sqlite"


@pytest.fixture
def app(settings: Settings, template_db: Path, tmp_path: Path):  # noqa: ANN201
    shutil.copyfile(template_db, tmp_path / "db.sqlite")
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


def login(client: TestClient, username: str) -> TestClient:
    r = client.post("/login", data={"username": username, "password": PASSWORD,
                                    "next": "/inbox"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/inbox", r.text
    return client


def csrf(client: TestClient, path: str = "/settings") -> str:
    m = re.search(r'data-csrf="([0-9a-f]+)"', client.get(path).text)
    assert m, "page has no CSRF token"
    return m.group(1)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app) as c:
        yield login(c, "anna")


def send_comment(client: TestClient, settings: Settings, text: str, *, author: str = "Matti",
                 author_id: str = "555", post_id: str | None = None,
                 with_post: bool = True) -> str:
    """A signed Facebook webhook with a comment (and the page's post it answers)."""
    n = next(_ids)
    post_id = post_id or f"{PAGE_ID}_{n}"
    changes = []
    if with_post:
        changes.append(samples.facebook_post(PAGE_ID, post_id, PAGE_ID, "Company",
                                             f"Our news number {n}"))
    changes.append(samples.facebook_comment(PAGE_ID, post_id, f"{post_id}_c{n}", author_id,
                                            author, text))
    body, headers = signed_facebook_request(samples.facebook_webhook(PAGE_ID, changes=changes),
                                            settings.facebook_app_secret)
    r = client.post("/webhooks/facebook", content=body, headers=headers)
    assert r.status_code == 200, r.text
    return post_id


def wait_for(fn, timeout: float = 10.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def case_id_for(client: TestClient, text: str) -> int:
    """Wait until the inbox lists a case whose thread contains ``text``; its id."""
    from somebound.store.tables import messages

    engine = client.app.state.engine

    def find() -> int | None:
        with engine.connect() as conn:
            return conn.execute(messages.select().with_only_columns(messages.c.case_id)
                                .where(messages.c.body == text)).scalar()

    return int(wait_for(find))
