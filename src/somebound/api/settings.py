"""Hub settings from the environment (twelve-factor): one URL or flag changes the deployment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"SOMEBOUND_{name}", default)


@dataclass
class Settings:
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL",
                                                            "sqlite:///var/somebound.db"))
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", "var")))
    routing_file: str | None = field(default_factory=lambda: _env("ROUTING_FILE"))
    # inbound SMTP listener (the hub as an MX) and the outbound relay
    smtp_listen_host: str = field(default_factory=lambda: _env("SMTP_HOST", "127.0.0.1"))
    smtp_listen_port: int = field(default_factory=lambda: int(_env("SMTP_PORT", "2525")))
    smtp_relay_host: str = field(default_factory=lambda: _env("SMTP_RELAY_HOST", "127.0.0.1"))
    smtp_relay_port: int = field(default_factory=lambda: int(_env("SMTP_RELAY_PORT", "2526")))
    mail_from: str = field(default_factory=lambda: _env("MAIL_FROM", "asiakaspalvelu@example.fi"))
    # Facebook Page
    facebook_app_secret: str = field(default_factory=lambda: _env("FACEBOOK_APP_SECRET", "dev-fb-secret"))
    facebook_verify_token: str = field(default_factory=lambda: _env("FACEBOOK_VERIFY_TOKEN", "dev-verify"))
    facebook_page_token: str = field(default_factory=lambda: _env("FACEBOOK_PAGE_TOKEN", "dev-page-token"))
    facebook_page_id: str = field(default_factory=lambda: _env("FACEBOOK_PAGE_ID", "1000"))
    graph_base_url: str = field(default_factory=lambda: _env("GRAPH_BASE_URL", "http://127.0.0.1:8010"))
    # X
    x_consumer_secret: str = field(default_factory=lambda: _env("X_CONSUMER_SECRET", "dev-x-secret"))
    x_bearer_token: str = field(default_factory=lambda: _env("X_BEARER_TOKEN", "dev-x-bearer"))
    x_base_url: str = field(default_factory=lambda: _env("X_BASE_URL", "http://127.0.0.1:8011"))
    x_user_id: str = field(default_factory=lambda: _env("X_USER_ID", "2000"))
    x_handle: str = field(default_factory=lambda: _env("X_HANDLE", "somebound_oy"))
    # CTI (phone) webhooks are signed with a shared secret
    cti_secret: str = field(default_factory=lambda: _env("CTI_SECRET", "dev-cti-secret"))
    # background work in the API process (off when separate `somebound worker`s run)
    run_worker: bool = field(default_factory=lambda: _env("RUN_WORKER", "1") == "1")
    run_smtp: bool = field(default_factory=lambda: _env("RUN_SMTP", "1") == "1")
    feeds_file: str | None = field(default_factory=lambda: _env("FEEDS_FILE"))
    feed_poll_seconds: float = field(default_factory=lambda: float(_env("FEED_POLL_SECONDS", "60")))
    default_handling_seconds: float = 120.0
    session_secret: str = field(default_factory=lambda: _env("SESSION_SECRET", "dev-session-secret"))
