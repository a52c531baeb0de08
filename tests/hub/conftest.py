"""A running hub (real HTTP, real SMTP, fake Graph/X) for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from somebound.api.local_stack import LocalStack
from somebound.store.accounts import create_agent, issue_token


@pytest.fixture
def stack(tmp_path, any_db_url) -> Iterator[LocalStack]:  # noqa: ANN001
    with LocalStack(tmp_path / "hub", database_url=any_db_url) as s:
        yield s


@pytest.fixture
def sqlite_stack(tmp_path) -> Iterator[LocalStack]:  # noqa: ANN001
    with LocalStack(tmp_path / "hub") as s:
        yield s


def agent_client(stack: LocalStack, username: str = "anna") -> httpx.Client:
    with stack.app.state.engine.begin() as conn:
        agent_id = create_agent(conn, username, "salasana-123", username.title(), "supervisor")
        token = issue_token(conn, agent_id)
    return httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"},
                        timeout=10)
