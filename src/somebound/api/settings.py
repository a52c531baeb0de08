"""Hub settings from the environment (twelve-factor): one URL or flag changes the deployment.

:class:`Settings` *is* the channel settings plus the hub's own, so the hub and the
``somebound channels`` CLI read every channel variable under one name and one parser
(``channels.settings``): ``SOMEBOUND_<FIELD>`` for every field, listed in the README's
configuration table. ``Settings()`` is the defaults only; ``Settings.from_env()`` reads
the environment (``create_app()`` and the CLI do), so tests stay independent of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from somebound.channels.settings import ChannelSettings, SettingsError
from somebound.pipeline.stages import ALL_STAGES
from somebound.store.engine import DEFAULT_URL

__all__ = ["Settings", "SettingsError"]


@dataclass(frozen=True)
class Settings(ChannelSettings):
    database_url: str = DEFAULT_URL
    routing_file: str | None = None  # YAML routing policy; the packaged default when unset
    # process the inbox (off when `somebound worker`s run on their own)
    run_worker: bool = True
    # `serve`'s worker processes; unset: 1 on PostgreSQL, 0 (a thread in the API) on SQLite
    worker_processes: int | None = None
    run_smtp: bool = True
    # which domain stages the ingest pipeline runs (listening, identity, decisions)
    pipeline_stages: tuple[str, ...] = ALL_STAGES
    feeds_file: str | None = None  # YAML list of forum/blog feeds to poll
    feed_poll_seconds: float = 60.0
    # handling time recorded for a reply when the agent's client does not say
    default_handling_seconds: float = 120.0
    # signs the web pages' CSRF tokens; the default is for development only
    session_secret: str = field(default="dev-session-secret", repr=False)
