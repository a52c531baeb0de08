"""The shared way out over HTTP: one httpx client with timeouts, errors as SendError."""

from __future__ import annotations

from typing import Any

import httpx

from somebound.channels.errors import SendError

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def make_client(
    base_url: str, timeout: float | httpx.Timeout | None, headers: dict[str, str]
) -> httpx.Client:
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        headers={"User-Agent": "somebound/0.1"} | headers,
    )


def post_json(
    client: httpx.Client,
    path: str,
    payload: dict[str, Any],
    *,
    platform: str,
    params: dict[str, str] | None = None,
    describe_error: Any = None,
) -> dict[str, Any]:
    """POST ``payload`` and return the JSON answer, or raise :class:`SendError`.

    Network failures, 429 and 5xx are retryable; other 4xx are not (the same request
    will fail again). ``describe_error(json) -> (message, retryable | None)`` reads the
    platform's error shape.
    """
    try:
        response = client.post(path, json=payload, params=params)
    except httpx.HTTPError as exc:
        raise SendError(
            f"{platform}: cannot reach {client.base_url}: {exc}", retryable=True
        ) from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        message, retryable = (None, None)
        if describe_error is not None and isinstance(data, dict):
            message, retryable = describe_error(data)
        if retryable is None:
            retryable = response.status_code == 429 or response.status_code >= 500
        raise SendError(
            f"{platform} answered {response.status_code}: "
            f"{message or response.text[:300] or response.reason_phrase}",
            status=response.status_code,
            retryable=retryable,
            detail=data,
        )
    if not isinstance(data, dict):
        raise SendError(
            f"{platform} answered {response.status_code} without a JSON object: "
            f"{response.text[:200]!r}",
            status=response.status_code,
            retryable=True,
        )
    return data
