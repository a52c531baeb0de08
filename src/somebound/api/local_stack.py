"""A whole hub on this machine: the API over real HTTP, its SMTP listener, and the
outside world's stand-ins (a recording SMTP relay, fake Graph and X API servers).

``make demo``, the end-to-end tests and the benchmarks all start the same stack, so what
the tests prove is what the demo shows.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import uvicorn
from aiosmtpd.controller import Controller

from somebound.api.app import create_app
from somebound.api.settings import Settings
from somebound.channels.fakes import FakeGraphServer, FakeXServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RelayedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self):  # noqa: ANN201
        return message_from_bytes(self.raw, policy=policy.default)


class RecordingRelay:
    """The "outside" SMTP relay: accepts every mail and keeps it for inspection."""

    def __init__(self, port: int = 0):
        self.received: list[RelayedMail] = []
        relay = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN202, N802
                relay.received.append(RelayedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                                  bytes(envelope.original_content
                                                        or envelope.content)))
                return "250 OK"

        self.port = port or free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> RecordingRelay:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # run in a thread: leave signals alone
        pass


@dataclass
class LocalStack:
    """``base_settings`` (the defaults, or ``Settings.from_env()`` for the demo) with every
    channel pointed at this machine: the stack's own secrets, listener port, relay and
    fakes; ``settings_overrides`` (field name → value) go on top."""

    data_dir: Path
    database_url: str | None = None
    port: int = 0
    smtp_port: int = 0
    settings_overrides: dict = field(default_factory=dict)
    base_settings: Settings = field(default_factory=Settings)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.graph = FakeGraphServer(page_token="local-page-token", page_id="1000")
        self.x = FakeXServer(bearer_token="local-x-bearer", user_id="2000")
        self.relay = RecordingRelay()
        self.port = self.port or free_port()
        self.smtp_port = self.smtp_port or free_port()
        local = dict(
            database_url=self.database_url or f"sqlite:///{self.data_dir}/somebound.db",
            blob_dir=str(self.data_dir / "blobs"),
            email_listen_host="127.0.0.1", email_listen_port=self.smtp_port, email_domains=(),
            email_tls_cert=None, email_tls_key=None, email_require_tls=False,
            smtp_relay_host="127.0.0.1", smtp_relay_port=self.relay.port,
            smtp_from="asiakaspalvelu@example.fi", smtp_username=None, smtp_password=None,
            smtp_starttls=False,
            facebook_app_secret="local-fb-secret", facebook_verify_token="local-verify",
            facebook_page_token="local-page-token", facebook_page_id="1000",
            x_consumer_secret="local-x-secret", x_bearer_token="local-x-bearer",
            x_user_id="2000", x_handles=("somebound_oy",), cti_secret="local-cti-secret",
        )
        self.settings = replace(self.base_settings, **{**local, **self.settings_overrides})
        self._thread: threading.Thread | None = None
        self.app = None
        self.server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalStack:
        self.graph.start()
        self.x.start()
        self.relay.start()
        self.settings = replace(self.settings, facebook_graph_url=self.graph.base_url,
                                x_api_url=self.x.base_url)
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                ws="websockets-sansio")
        self.server = _Server(config)
        self._thread = threading.Thread(target=self.server.run, name="hub-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the hub did not start within 30 s")

    def stop(self) -> None:
        if self.server:
            self.server.should_exit = True
        if self._thread:
            self._thread.join(timeout=15)
        self.relay.stop()
        self.x.stop()
        self.graph.stop()
        if self.app is not None:
            self.app.state.engine.dispose()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
