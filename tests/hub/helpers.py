"""Builders for native payloads and a running hub, shared by the hub tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from somebound.channels.facebook.verify import sign as fb_sign

PAGE_ID = "1000"


def fb_comment(comment_id: str, post_id: str, user_id: str, name: str, text: str,
               t: int = 1732350000, parent_id: str | None = None) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": t, "changes": [{
        "field": "feed", "value": {
            "item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post_id,
            "parent_id": parent_id or post_id, "from": {"id": user_id, "name": name},
            "message": text, "created_time": t}}]}]}).encode()


def fb_messenger(mid: str, psid: str, text: str, t_ms: int = 1732350000000) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": t_ms, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": t_ms,
        "message": {"mid": mid, "text": text}}]}]}).encode()


def fb_headers(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Hub-Signature-256": fb_sign(body, secret), "content-type": "application/json"}


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
