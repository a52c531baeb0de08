"""Who is calling: a bearer token (API) or the same token in a cookie (web pages)."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request, status

from somebound.store.accounts import AgentRow, agent_for_token

COOKIE = "somebound_token"


def token_from(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE)


def require_agent(request: Request) -> AgentRow:
    token = token_from(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing token: send "
                            "'Authorization: Bearer <token>' (POST /auth/login gives one)",
                            headers={"WWW-Authenticate": "Bearer"})
    with request.app.state.engine.connect() as conn:
        agent = agent_for_token(conn, token)
    if agent is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.agent = agent
    request.state.agent_username = agent.username
    return agent


def require_supervisor(agent: AgentRow = Depends(require_agent)) -> AgentRow:
    if agent.role not in ("supervisor", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "supervisors and admins only")
    return agent
