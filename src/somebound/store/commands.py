"""``somebound db upgrade|current`` and ``somebound agents create``."""

from __future__ import annotations

import argparse
import getpass

from somebound.store.engine import database_url, make_engine


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema (Alembic migrations)")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="apply every migration")
    up.add_argument("--database-url", default=None)
    up.set_defaults(func=_upgrade)
    cur = dbsub.add_parser("current", help="show the applied revision(s)")
    cur.add_argument("--database-url", default=None)
    cur.set_defaults(func=_current)

    agents = sub.add_parser("agents", help="hub accounts")
    asub = agents.add_subparsers(dest="agents_command", required=True)
    create = asub.add_parser("create", help="create an agent/supervisor/admin and print a token")
    create.add_argument("username")
    create.add_argument("--role", default="agent", choices=["agent", "supervisor", "admin"])
    create.add_argument("--name", default=None)
    create.add_argument("--team", default=None)
    create.add_argument("--language", default="en", choices=["en", "fi"])
    create.add_argument("--password", default=None, help="default: asked interactively")
    create.add_argument("--database-url", default=None)
    create.set_defaults(func=_create_agent)


def _upgrade(args: argparse.Namespace) -> int:
    from somebound.store.migrate import current_heads, upgrade

    engine = make_engine(args.database_url)
    upgrade(engine)
    print(f"{database_url(args.database_url)}: at {', '.join(sorted(current_heads(engine)))}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from somebound.store.migrate import current_heads

    print(", ".join(sorted(current_heads(make_engine(args.database_url)))) or "(empty)")
    return 0


def _create_agent(args: argparse.Namespace) -> int:
    from somebound.store.accounts import create_agent, issue_token
    from somebound.store.migrate import upgrade

    password = args.password or getpass.getpass(f"password for {args.username}: ")
    engine = make_engine(args.database_url)
    upgrade(engine)
    with engine.begin() as conn:
        agent_id = create_agent(conn, args.username, password, args.name, args.role, args.team,
                                args.language)
        token = issue_token(conn, agent_id, "cli")
    print(f"agent {args.username} (id {agent_id}, {args.role}); API token: {token}")
    return 0
