"""Builders for native payloads in the platforms' documented shapes.

The demo generator and the tests build webhooks with these instead of hand-writing
JSON, so a payload shape is written down once, here, next to the parser reading it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def _epoch(at: datetime | None) -> int:
    return int((at or datetime.now(UTC)).timestamp())


def facebook_webhook(
    page_id: str,
    *,
    changes: Sequence[dict[str, Any]] = (),
    messaging: Sequence[dict[str, Any]] = (),
    at: datetime | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": page_id, "time": _epoch(at)}
    if changes:
        entry["changes"] = list(changes)
    if messaging:
        entry["messaging"] = list(messaging)
    return {"object": "page", "entry": [entry]}


def facebook_post(
    page_id: str,
    post_id: str,
    from_id: str,
    from_name: str,
    message: str,
    *,
    at: datetime | None = None,
    item: str = "status",
    verb: str = "add",
) -> dict[str, Any]:
    """A ``feed`` change for a post on the page (by the page itself or a visitor)."""
    return {
        "field": "feed",
        "value": {
            "from": {"id": from_id, "name": from_name},
            "item": item,
            "verb": verb,
            "post_id": post_id,
            "message": message,
            "created_time": _epoch(at),
            "published": 1,
        },
    }


def facebook_comment(
    page_id: str,
    post_id: str,
    comment_id: str,
    from_id: str,
    from_name: str,
    message: str,
    *,
    parent_id: str | None = None,
    at: datetime | None = None,
    verb: str = "add",
) -> dict[str, Any]:
    """A ``feed`` change for a comment; ``parent_id`` is the post or the comment replied to."""
    return {
        "field": "feed",
        "value": {
            "from": {"id": from_id, "name": from_name},
            "post": {
                "id": post_id,
                "status_type": "mobile_status_update",
                "is_published": True,
                "permalink_url": f"https://www.facebook.com/{post_id}",
            },
            "message": message,
            "post_id": post_id,
            "comment_id": comment_id,
            "created_time": _epoch(at),
            "item": "comment",
            "parent_id": parent_id or post_id,
            "verb": verb,
        },
    }


def messenger_message(
    page_id: str,
    psid: str,
    mid: str,
    text: str,
    *,
    at: datetime | None = None,
    is_echo: bool = False,
) -> dict[str, Any]:
    """One ``messaging`` event: a person writing to the page (or the page's echo)."""
    sender, recipient = (page_id, psid) if is_echo else (psid, page_id)
    message: dict[str, Any] = {"mid": mid, "text": text}
    if is_echo:
        message["is_echo"] = True
    return {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": _epoch(at) * 1000,
        "message": message,
    }


def x_tweet(
    tweet_id: str,
    user_id: str,
    screen_name: str,
    name: str,
    text: str,
    *,
    in_reply_to: str | None = None,
    in_reply_to_user_id: str | None = None,
    mentions: Sequence[tuple[str, str]] = (),
    followers: int = 100,
    at: datetime | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """A v1.1 tweet object as ``tweet_create_events`` carries it."""
    when = at or datetime.now(UTC)
    tweet: dict[str, Any] = {
        "created_at": when.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "user": {
            "id": int(user_id),
            "id_str": user_id,
            "name": name,
            "screen_name": screen_name,
            "followers_count": followers,
        },
        "in_reply_to_status_id": int(in_reply_to) if in_reply_to else None,
        "in_reply_to_status_id_str": in_reply_to,
        "in_reply_to_user_id_str": in_reply_to_user_id,
        "entities": {
            "user_mentions": [{"id_str": i, "id": int(i), "screen_name": s} for i, s in mentions]
        },
        "timestamp_ms": str(int(when.timestamp() * 1000)),
    }
    if lang:
        tweet["lang"] = lang
    return tweet


def x_dm(
    event_id: str,
    sender_id: str,
    recipient_id: str,
    text: str,
    *,
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": str(_epoch(at) * 1000),
        "message_create": {
            "target": {"recipient_id": recipient_id},
            "sender_id": sender_id,
            "message_data": {"text": text, "entities": {}},
        },
    }


def x_webhook(
    for_user_id: str,
    *,
    tweets: Sequence[dict[str, Any]] = (),
    dms: Sequence[dict[str, Any]] = (),
    users: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"for_user_id": for_user_id}
    if tweets:
        payload["tweet_create_events"] = list(tweets)
    if dms:
        payload["direct_message_events"] = list(dms)
        payload["users"] = users or {}
    return payload


def cti_event(
    call_id: str,
    event: str,
    caller: str,
    *,
    queue: str | None = None,
    agent: str | None = None,
    at: datetime | None = None,
    **durations: float,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "call_id": call_id,
        "event": event,
        "caller": caller,
        "timestamp": (at or datetime.now(UTC)).isoformat(),
    }
    if queue:
        payload["queue"] = queue
    if agent:
        payload["agent"] = agent
    payload.update(durations)
    return payload
