"""Shared helpers for the channel adapter tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A port nobody listens on (bound to 0 and released)."""
    return _free_port()


@dataclass
class RelayHandler:
    """A stand-in SMTP relay: records envelopes, can refuse recipients."""

    refuse_domain: str | None = None
    received: list[dict] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_domain and address.endswith("@" + self.refuse_domain):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "raw": bytes(envelope.original_content),
            }
        )
        self.arrived.set()
        return "250 OK"

    def message(self, index: int = -1) -> EmailMessage:
        return message_from_bytes(self.received[index]["raw"], policy=policy.default)


@pytest.fixture
def relay() -> Iterator[tuple[Controller, RelayHandler]]:
    handler = RelayHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()
