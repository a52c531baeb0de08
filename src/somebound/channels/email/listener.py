"""An SMTP listener that accepts mail as an MX would, and only after it is durable.

The hub answers ``250`` to ``DATA`` only once the ``accept`` callback has returned
(the lead's callback writes the raw bytes to the inbox table), so an acknowledged
email is never lost: if the callback raises, the sending MTA gets a ``451`` and
retries later, or a ``554`` for a message that can never be parsed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from somebound.channels.errors import ParseError

log = logging.getLogger(__name__)

AcceptCallback = Callable[[bytes, dict[str, Any]], None]


def _smtp_text(text: str, limit: int = 400) -> str:
    """One ASCII line, safe to put in an SMTP reply."""
    flat = " ".join(str(text).split())
    return flat.encode("ascii", "replace").decode("ascii")[:limit] or "error"


class _Handler:
    def __init__(self, accept: AcceptCallback, accepted_domains: tuple[str, ...] | None) -> None:
        self._accept = accept
        self._domains = tuple(d.lower() for d in accepted_domains) if accepted_domains else None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list
    ) -> str:
        if self._domains is not None:
            domain = address.rpartition("@")[2].lower().rstrip(">")
            if domain not in self._domains:
                return "550 5.1.1 recipient domain not handled here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # only when decode_data=True, which we never set
            raw = raw.encode("utf-8", "surrogateescape")
        peer = session.peer
        info: dict[str, Any] = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
            "helo": session.host_name,
            "received_at": datetime.now(UTC).isoformat(),
            "smtputf8": bool(envelope.smtp_utf8),
            "tls": session.ssl is not None,
        }
        loop = asyncio.get_running_loop()
        try:
            # the callback does blocking I/O (a database commit): keep the loop free
            await loop.run_in_executor(None, self._accept, bytes(raw), info)
        except ParseError as exc:
            log.info("rejected email from %s: %s", envelope.mail_from, exc)
            return f"554 5.6.0 message rejected: {_smtp_text(str(exc))}"
        except Exception as exc:
            log.exception("accept callback failed; asking the sender to retry")
            return f"451 4.3.0 temporary failure, try again later: {_smtp_text(str(exc), 200)}"
        return "250 2.0.0 OK: queued"


class _Controller(Controller):
    """aiosmtpd's controller, but port 0 binds a free port and reports it back."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None and self.server.sockets:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class EmailListener:
    """Run an SMTP server on ``host:port`` in a background thread.

    ``accept(raw, envelope_info)`` receives the exact bytes of each message (no headers
    added) and a dict with ``mail_from``, ``rcpt_tos``, ``peer``, ``helo``,
    ``received_at``, ``smtputf8`` and ``tls``. Use ``port=0`` to take any free port and read
    :attr:`port` after :meth:`start`. ``accepted_domains`` makes the listener refuse
    recipients outside them (an MX is not an open relay). ``tls_context`` offers
    STARTTLS (``require_starttls`` refuses mail before it), as senders expect of an MX.
    """

    def __init__(
        self,
        accept: AcceptCallback,
        host: str = "127.0.0.1",
        port: int = 2525,
        *,
        accepted_domains: tuple[str, ...] | None = None,
        max_bytes: int = 25 * 1024 * 1024,
        server_hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
    ) -> None:
        self._controller = _Controller(
            _Handler(accept, accepted_domains),
            hostname=host,
            port=port,
            server_hostname=server_hostname,
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
            require_starttls=require_starttls,
        )

    @property
    def host(self) -> str:
        return self._controller.hostname

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> EmailListener:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> EmailListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
