"""Replies by SMTP through the configured relay, threaded like a mail client would.

A reply carries ``In-Reply-To`` (the message answered) and ``References`` (the chain
plus that message), so the customer's client shows it in the same conversation and
the customer's answer comes back into the same case.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from somebound.channels.errors import SendError
from somebound.core.enums import Channel
from somebound.core.reply import Reply, SendResult

# Reply prefixes in English, Finnish (VS = vastaus), Swedish (SV = svar), German (AW).
_REPLY_PREFIX = re.compile(r"^\s*(re|vs|sv|aw|vast)\s*:\s*", re.IGNORECASE)


def reply_subject(subject: str | None) -> str:
    """``Re: <subject>`` without stacking prefixes (``Re: Re: VS: ...``)."""
    if not subject:
        return "Re: your message"
    base = subject
    while _REPLY_PREFIX.match(base):
        base = _REPLY_PREFIX.sub("", base, count=1)
    return f"Re: {base.strip()}"


def reply_address(reply: Reply) -> str:
    """Where the answer goes: an explicit override, the Reply-To, else the sender."""
    explicit = reply.meta.get("to_address")
    if explicit:
        return str(explicit)
    reply_to = reply.to.profile.get("reply_to") if reply.to.profile else None
    return str(reply_to or reply.to.email or reply.to.channel_user_id)


class SmtpSender:
    """Send :class:`Reply` objects for the email channel through an SMTP relay."""

    channel = Channel.EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        from_address: str,
        *,
        from_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 15.0,
        message_id_domain: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.from_address = from_address
        self.from_name = from_name
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.message_id_domain = message_id_domain or from_address.rpartition("@")[2] or None

    def build(self, reply: Reply) -> EmailMessage:
        """The MIME message for ``reply`` (public so the API can preview it)."""
        if reply.public:
            raise SendError("email has no public replies; send it privately", retryable=False)
        to = reply_address(reply)
        if "@" not in to:
            raise SendError(f"no email address to reply to (got {to!r})", retryable=False)
        msg = EmailMessage()
        msg["From"] = (
            formataddr((self.from_name, self.from_address))
            if self.from_name
            else (self.from_address)
        )
        to_name = reply.to.display_name
        msg["To"] = formataddr((to_name, to)) if to_name else to
        msg["Subject"] = reply_subject(reply.subject)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self.message_id_domain)
        references = list(reply.references)
        if reply.in_reply_to:
            msg["In-Reply-To"] = reply.in_reply_to
            if reply.in_reply_to not in references:
                references.append(reply.in_reply_to)
        if references:
            msg["References"] = " ".join(references)
        msg["Auto-Submitted"] = "no"
        msg.set_content(reply.body, charset="utf-8")
        return msg

    def send(self, reply: Reply) -> SendResult:
        msg = self.build(reply)
        to = reply_address(reply)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
                options = ["SMTPUTF8"] if not to.isascii() else []
                smtp.send_message(
                    msg, from_addr=self.from_address, to_addrs=[to], mail_options=options
                )
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise SendError(
                f"relay refused recipient {to}: {code} {_text(text)}",
                status=code,
                retryable=400 <= code < 500,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendError(
                f"relay answered {exc.smtp_code} {_text(exc.smtp_error)}",
                status=exc.smtp_code,
                retryable=400 <= exc.smtp_code < 500,
            ) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise SendError(
                f"cannot reach SMTP relay {self.host}:{self.port}: {exc}", retryable=True
            ) from exc
        return SendResult(
            native_id=str(msg["Message-ID"]),
            sent_at=datetime.now(UTC),
            meta={
                "to": to,
                "subject": str(msg["Subject"]),
                "references": str(msg.get("References", "")),
            },
        )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
