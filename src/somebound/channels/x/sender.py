"""Replies on X through the v2 API: reply tweets and direct messages.

Public: ``POST /2/tweets`` with ``{"text", "reply": {"in_reply_to_tweet_id"}}``.
Private: ``POST /2/dm_conversations/with/{participant_id}/messages`` with ``{"text"}``.
``bearer_token`` is an OAuth 2.0 *user-context* token of the company account (app-only
tokens cannot post). The base URL is configurable so tests and the demo use a fake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from somebound.channels._http import make_client, post_json
from somebound.channels.errors import SendError
from somebound.core.enums import Channel
from somebound.core.reply import Reply, SendResult

X_API_URL = "https://api.x.com"
TWEET_LIMIT = 280  # X weighs some characters double; this is the plain-Latin limit
DM_LIMIT = 10000


def _x_error(data: dict[str, Any]) -> tuple[str | None, bool | None]:
    if "detail" in data or "title" in data:
        return f"{data.get('title', '')}: {data.get('detail', '')}".strip(": "), None
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return "; ".join(str(e.get("message") or e.get("detail") or e) for e in errors), None
    return None, None


class XSender:
    channel = Channel.X

    def __init__(
        self,
        base_url: str = X_API_URL,
        bearer_token: str = "",
        *,
        timeout: float | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if not bearer_token:
            raise ValueError("XSender needs an OAuth 2.0 user-context bearer token")
        self._client = client or make_client(
            base_url, timeout, {"Authorization": f"Bearer {bearer_token}"}
        )

    def close(self) -> None:
        self._client.close()

    def send(self, reply: Reply) -> SendResult:
        if not reply.body.strip():
            raise SendError("refusing to send an empty reply", retryable=False)
        return self._tweet(reply) if reply.public else self._dm(reply)

    def _tweet(self, reply: Reply) -> SendResult:
        if len(reply.body) > TWEET_LIMIT:
            raise SendError(
                f"reply is {len(reply.body)} characters; a post allows {TWEET_LIMIT}: "
                "shorten it or answer by DM"
            )
        payload: dict[str, Any] = {"text": reply.body}
        target = reply.in_reply_to or reply.thread_key
        if target:
            payload["reply"] = {"in_reply_to_tweet_id": str(target)}
        data = post_json(
            self._client, "/2/tweets", payload, platform="X API", describe_error=_x_error
        )
        tweet = data.get("data") if isinstance(data.get("data"), dict) else {}
        if not tweet.get("id"):
            raise SendError(f"X answered without a post id: {data}", retryable=False)
        return SendResult(
            native_id=str(tweet["id"]),
            sent_at=datetime.now(UTC),
            meta={"public": True, "in_reply_to": target},
        )

    def _dm(self, reply: Reply) -> SendResult:
        if len(reply.body) > DM_LIMIT:
            raise SendError(f"DM is {len(reply.body)} characters; X allows {DM_LIMIT}")
        participant = str(reply.meta.get("participant_id") or reply.to.channel_user_id or "")
        if not participant.isdigit():
            raise SendError(f"no X user id to DM (got {participant!r})", retryable=False)
        data = post_json(
            self._client,
            f"/2/dm_conversations/with/{participant}/messages",
            {"text": reply.body},
            platform="X API",
            describe_error=_x_error,
        )
        event = data.get("data") if isinstance(data.get("data"), dict) else {}
        if not event.get("dm_event_id"):
            raise SendError(f"X answered without a dm_event_id: {data}", retryable=False)
        return SendResult(
            native_id=f"dm:{event['dm_event_id']}",
            sent_at=datetime.now(UTC),
            meta={"public": False, "dm_conversation_id": event.get("dm_conversation_id")},
        )
