"""Errors every channel adapter raises, readable by a person at the other end.

The API layer turns :class:`ParseError` and :class:`SignatureError` into a 4xx and a
dead-letter row, so their text must say *what* is wrong, *where* in the payload, and
*how to fix it* without anyone opening the code.
"""

from __future__ import annotations


class ChannelError(Exception):
    """Base class: anything an adapter refuses or fails to do."""


class ParseError(ChannelError, ValueError):
    """A native payload that cannot become a :class:`~somebound.core.Message`.

    ``what`` is the problem, ``where`` the place in the payload (a JSON path, a header
    name, a CSV line), ``fix`` what the sender should change.
    """

    def __init__(self, what: str, where: str, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.where}: {self.what}"
        return f"{text} (fix: {self.fix})" if self.fix else text

    def to_dict(self) -> dict[str, str | None]:
        """The shape the API returns in a 4xx body and the dead-letter row keeps."""
        return {"what": self.what, "where": self.where, "fix": self.fix}


class SignatureError(ChannelError):
    """A webhook whose signature is missing or does not match: never parse it."""


class FetchError(ChannelError):
    """Polling a remote source (an RSS/Atom feed) failed; the poll can be retried."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class SendError(ChannelError):
    """A reply the channel did not accept.

    ``retryable`` says whether sending the same reply later may succeed (network errors,
    rate limits, 5xx, SMTP 4xx) or never will (bad recipient, text too long, 4xx).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        detail: object = None,
    ) -> None:
        self.status = status
        self.retryable = retryable
        self.detail = detail
        super().__init__(message)
