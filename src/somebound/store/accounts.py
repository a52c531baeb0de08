"""Agents and API tokens: argon2-hashed passwords, tokens stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from somebound.store.base import utcnow
from somebound.store.tables import agents, api_tokens

_hasher = PasswordHasher()


@dataclass(frozen=True)
class AgentRow:
    id: int
    username: str
    display_name: str
    role: str
    team: str | None
    language: str


_COLS = (agents.c.id, agents.c.username, agents.c.display_name, agents.c.role, agents.c.team,
         agents.c.language)


def create_agent(conn: Connection, username: str, password: str, display_name: str | None = None,
                 role: str = "agent", team: str | None = None, language: str = "en",
                 email: str | None = None) -> int:
    if role not in ("agent", "supervisor", "admin"):
        raise ValueError(f"role must be agent, supervisor or admin, not {role!r}")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    return int(conn.execute(insert(agents).values(
        username=username, display_name=display_name or username, email=email, role=role,
        team=team, password_hash=_hasher.hash(password), language=language, max_load=5,
        available=True, active=True, created_at=utcnow(),
    )).inserted_primary_key[0])


def authenticate(conn: Connection, username: str, password: str) -> AgentRow | None:
    row = conn.execute(select(*_COLS, agents.c.password_hash)
                       .where(agents.c.username == username, agents.c.active.is_(True))).first()
    if row is None:
        _hasher.hash(password)  # same cost for unknown users: no username oracle by timing
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(update(agents).where(agents.c.id == row.id)
                     .values(password_hash=_hasher.hash(password)))
    return AgentRow(*row[:6])


def issue_token(conn: Connection, agent_id: int, name: str = "api") -> str:
    token = "sb_" + secrets.token_urlsafe(32)
    conn.execute(insert(api_tokens).values(
        agent_id=agent_id, token_sha256=_digest(token), name=name, created_at=utcnow(),
        revoked=False))
    return token


def agent_for_token(conn: Connection, token: str) -> AgentRow | None:
    row = conn.execute(
        select(*_COLS).join(api_tokens, api_tokens.c.agent_id == agents.c.id)
        .where(api_tokens.c.token_sha256 == _digest(token), api_tokens.c.revoked.is_(False),
               agents.c.active.is_(True))
    ).first()
    return AgentRow(*row) if row else None


def revoke_token(conn: Connection, token: str) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.token_sha256 == _digest(token))
                 .values(revoked=True))


def get_agent(conn: Connection, agent_id: int) -> AgentRow | None:
    row = conn.execute(select(*_COLS).where(agents.c.id == agent_id)).first()
    return AgentRow(*row) if row else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
