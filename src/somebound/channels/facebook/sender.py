"""Replies to Facebook through the Graph API: public comments and Messenger messages.

Public: ``POST /{object-id}/comments`` with ``{"message": ...}`` on the comment or post
answered (on the top-level comment when ``reply.meta["top_level_comment_id"]`` is set,
because Facebook threads comments only two levels deep). Private: ``POST /me/messages`` (Send API) with ``messaging_type: RESPONSE``;
when the reply answers a *comment* privately (``reply.meta["private_reply_comment_id"]``)
the recipient is ``{"comment_id": ...}``, Facebook's "private replies" feature.
The base URL is configurable so tests and the demo talk to a local fake.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from somebound.channels._http import make_client, post_json
from somebound.channels.errors import SendError
from somebound.channels.facebook.parse import messenger_thread_key
from somebound.core.enums import Channel
from somebound.core.reply import Reply, SendResult

GRAPH_URL = "https://graph.facebook.com/v21.0"
MESSENGER_TEXT_LIMIT = 2000
COMMENT_TEXT_LIMIT = 8000
# Graph error codes that mean "later": unknown, service, too many calls, rate limits.
_TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 368, 613}


def _graph_error(data: dict[str, Any]) -> tuple[str | None, bool | None]:
    error = data.get("error")
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    text = f"{error.get('message', '')} (type {error.get('type')}, code {code}"
    if error.get("error_subcode"):
        text += f", subcode {error['error_subcode']}"
    text += ")"
    transient = error.get("is_transient") is True or code in _TRANSIENT_CODES
    return text, True if transient else None


class GraphSender:
    channel = Channel.FACEBOOK

    def __init__(
        self,
        base_url: str = GRAPH_URL,
        page_token: str = "",
        page_id: str = "",
        *,
        timeout: float | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if not page_token:
            raise ValueError("GraphSender needs a page access token")
        self.page_id = page_id
        self._token = page_token
        self._client = client or make_client(base_url, timeout, {})

    def close(self) -> None:
        self._client.close()

    def send(self, reply: Reply) -> SendResult:
        if not reply.body.strip():
            raise SendError("refusing to send an empty reply", retryable=False)
        return self._public(reply) if reply.public else self._private(reply)

    def _public(self, reply: Reply) -> SendResult:
        target = reply.meta.get("top_level_comment_id") or reply.in_reply_to or reply.thread_key
        if not target:
            raise SendError("a public reply needs in_reply_to (comment id) or thread_key (post id)")
        if len(reply.body) > COMMENT_TEXT_LIMIT:
            raise SendError(
                f"comment is {len(reply.body)} characters; Facebook allows {COMMENT_TEXT_LIMIT}"
            )
        return self._post(
            f"/{target}/comments",
            {"message": reply.body},
            platform="Facebook Graph",
            id_key="id",
            missing="Graph answered without a comment id",
            meta=lambda _answer: {"public": True, "parent_id": target},
        )

    def _private(self, reply: Reply) -> SendResult:
        if len(reply.body) > MESSENGER_TEXT_LIMIT:
            raise SendError(
                f"Messenger text is {len(reply.body)} characters; the limit is "
                f"{MESSENGER_TEXT_LIMIT}: shorten it or split it"
            )
        comment_id = reply.meta.get("private_reply_comment_id")
        if comment_id:
            recipient: dict[str, str] = {"comment_id": str(comment_id)}
        else:
            recipient = {"id": self._psid(reply)}
        payload = {
            "recipient": recipient,
            "messaging_type": "RESPONSE",
            "message": {"text": reply.body},
        }
        return self._post(
            "/me/messages",
            payload,
            platform="Facebook Send API",
            id_key="message_id",
            missing="Send API answered without a message_id",
            meta=lambda data: {"public": False, "recipient_id": data.get("recipient_id")},
        )

    def _post(
        self,
        path: str,
        payload: dict[str, Any],
        *,
        platform: str,
        id_key: str,
        missing: str,
        meta: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> SendResult:
        """POST with the page token; the answer's ``id_key`` is the sent item's native id
        (its absence is a non-retryable ``missing: <answer>``)."""
        data = post_json(
            self._client,
            path,
            payload,
            params={"access_token": self._token},
            platform=platform,
            describe_error=_graph_error,
        )
        native = data.get(id_key)
        if not native:
            raise SendError(f"{missing}: {data}", retryable=False)
        return SendResult(native_id=str(native), sent_at=datetime.now(UTC), meta=meta(data))

    @staticmethod
    def _psid(reply: Reply) -> str:
        psid = reply.meta.get("psid")
        prefix = messenger_thread_key("")
        if not psid and reply.thread_key and reply.thread_key.startswith(prefix):
            psid = reply.thread_key[len(prefix) :]
        psid = psid or reply.to.channel_user_id
        if not psid or str(psid).startswith("anonymous"):
            raise SendError("no Messenger recipient (PSID) for a private reply", retryable=False)
        return str(psid)
