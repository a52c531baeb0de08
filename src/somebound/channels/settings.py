"""Channel settings from the environment: one dataclass field is one ``SOMEBOUND_<FIELD>``.

Why one mechanical rule: the hub (``somebound serve|worker|demo``) and the
``somebound channels`` CLI read the same dataclass (the hub's ``api.settings.Settings``
extends :class:`ChannelSettings`), so a variable set once configures both identically,
and the README's table can be checked against the fields. A value that does not fit its
field's type raises :class:`SettingsError` naming the variable, at start-up rather than at
the first webhook.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self, Union, get_args, get_origin, get_type_hints

from somebound.channels.facebook.sender import GRAPH_URL
from somebound.channels.x.sender import X_API_URL

ENV_PREFIX = "SOMEBOUND_"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

# Names earlier versions read; setting one now is an error that says what replaced it,
# so an old deployment does not silently lose its configuration.
RENAMED = {
    "SOMEBOUND_SMTP_HOST": "SOMEBOUND_EMAIL_LISTEN_HOST",
    "SOMEBOUND_SMTP_PORT": "SOMEBOUND_EMAIL_LISTEN_PORT",
    "SOMEBOUND_MAIL_FROM": "SOMEBOUND_SMTP_FROM",
    "SOMEBOUND_GRAPH_BASE_URL": "SOMEBOUND_FACEBOOK_GRAPH_URL",
    "SOMEBOUND_X_BASE_URL": "SOMEBOUND_X_API_URL",
    "SOMEBOUND_X_HANDLE": "SOMEBOUND_X_HANDLES",
}


class SettingsError(ValueError):
    """A setting in the environment that cannot be used; the message names the variable."""


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _base_type(hint: Any) -> Any:
    """``str | None`` → ``str``: an optional field parses like its type."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _convert(name: str, raw: str, hint: Any) -> Any:
    kind = _base_type(hint)
    if kind is bool:
        if raw.lower() in TRUE:
            return True
        if raw.lower() in FALSE:
            return False
        raise SettingsError(f"{name}={raw!r}: expected true or false (1/0, yes/no)")
    if kind is int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected a whole number") from None
        if name.endswith("_PORT") and not 0 <= value <= 65535:
            raise SettingsError(f"{name}={raw!r}: a port is 0–65535 (0 picks a free one)")
        if value < 0:
            raise SettingsError(f"{name}={raw!r}: expected 0 or more")
        return value
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: expected a number such as 60 or 0.5") from None
    if kind == tuple[str, ...]:
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if kind is str:
        return raw
    raise TypeError(f"{name}: no environment parser for {hint!r}")  # a programming error


def env_values(cls: type, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The fields of dataclass ``cls`` that ``environ`` sets, converted to their types.

    An unset variable keeps the field's default. An empty one means "none" where a field
    can say so (a list is empty, an optional value unset: ``SOMEBOUND_PIPELINE_STAGES=``
    turns every stage off) and the default elsewhere, as ``VAR=`` in a compose file
    means "not set". Raises :class:`SettingsError`.
    """
    env = os.environ if environ is None else environ
    for old, new in RENAMED.items():
        if old in env:
            raise SettingsError(f"{old} is no longer read: set {new} instead")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        name = env_name(f.name)
        if name not in env:
            continue
        raw, hint = env[name].strip(), hints[f.name]
        if raw:
            values[f.name] = _convert(name, raw, hint)
        elif _base_type(hint) == tuple[str, ...]:
            values[f.name] = ()
        elif _base_type(hint) is not hint:  # optional
            values[f.name] = None
    return values


@dataclass(frozen=True)
class ChannelSettings:
    """Secrets, endpoints and options of every channel. A channel whose credentials are
    unset has no sender and its webhooks are refused: nothing runs on a guessable secret.
    Tuples are comma-separated; booleans ``1/0``, ``true/false``, ``yes/no``. Secrets are
    left out of ``repr`` so that logging the settings does not leak them."""

    # Facebook Page
    facebook_app_secret: str | None = field(default=None, repr=False)
    facebook_verify_token: str | None = field(default=None, repr=False)
    facebook_page_token: str | None = field(default=None, repr=False)
    facebook_page_id: str | None = None
    facebook_graph_url: str = GRAPH_URL
    # X
    x_consumer_secret: str | None = field(default=None, repr=False)
    x_bearer_token: str | None = field(default=None, repr=False)
    x_user_id: str | None = None
    x_handles: tuple[str, ...] = ()
    x_api_url: str = X_API_URL
    # inbound email: the hub's SMTP listener (the hub as an MX)
    email_listen_host: str = "127.0.0.1"
    email_listen_port: int = 2525
    email_domains: tuple[str, ...] = ()
    email_tls_cert: str | None = None  # PEM files; with both set the listener offers STARTTLS
    email_tls_key: str | None = None
    email_require_tls: bool = False
    # outbound email: replies go to this relay
    smtp_relay_host: str | None = None
    smtp_relay_port: int = 25
    smtp_from: str | None = None
    smtp_from_name: str | None = None
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    # phone
    cti_secret: str | None = field(default=None, repr=False)
    default_country_code: str = "358"
    phone_timezone: str = "Europe/Helsinki"
    # email attachments, content-addressed
    blob_dir: str = "var/blobs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Defaults overridden by ``SOMEBOUND_<FIELD>`` variables (``os.environ`` by default)."""
        return cls(**env_values(cls, environ))

    @classmethod
    def env_vars(cls) -> list[str]:
        """Every variable this class reads, in field order (the README table lists these)."""
        return [env_name(f.name) for f in fields(cls)]
