"""Facebook Page webhooks (``object: page``) into messages.

Two kinds of contact arrive here:

* ``changes`` with ``field: feed`` — posts on the page and comments under them. A post
  and all its comments (and replies to comments) are **one public thread with many
  authors**: ``thread_key`` is the post id, ``in_reply_to`` the comment's ``parent_id``.
* ``messaging`` — Messenger conversations with the page: private, one thread per
  person (their page-scoped id, PSID).

Reactions, likes, removals and delivery/read receipts carry no text to answer and are
skipped; everything that is skipped is skipped on purpose, never by a parse failure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from somebound.channels._json import (
    any_time_to_datetime,
    as_id,
    epoch_to_datetime,
    load_object,
    optional,
    require,
)
from somebound.channels.errors import ParseError
from somebound.core.enums import Channel, Direction
from somebound.core.message import Author, Message

POST_ITEMS = frozenset({"post", "status", "photo", "video", "share", "link", "note", "album"})
TEXT_VERBS = frozenset({"add", "edited", "edit"})


def messenger_thread_key(psid: str) -> str:
    """The thread of a private Messenger conversation with one person."""
    return f"messenger:{psid}"


def parse_webhook(body: bytes | str) -> list[Message]:
    """All messages in one webhook delivery (a delivery batches several entries)."""
    data = load_object(body, "facebook webhook", "send the body exactly as Facebook posted it")
    obj = optional(data, "object", str, "", "")
    if obj != "page":
        raise ParseError(
            f"object is {obj!r}; only Page webhooks ('page') are handled here",
            "object",
            "subscribe this endpoint to the Page object only",
        )
    messages: list[Message] = []
    for i, entry in enumerate(require(data, "entry", list, "")):
        path = f"entry[{i}]"
        if not isinstance(entry, dict):
            raise ParseError("expected an object", path)
        page_id = as_id(require(entry, "id", (str, int), path), f"{path}.id")
        entry_time = optional(entry, "time", (int, float), path)
        for j, change in enumerate(optional(entry, "changes", list, path, [])):
            cpath = f"{path}.changes[{j}]"
            if not isinstance(change, dict):
                raise ParseError("expected an object", cpath)
            if optional(change, "field", str, cpath) != "feed":
                continue
            value = require(change, "value", dict, cpath)
            message = _feed_change(value, page_id, entry_time, f"{cpath}.value")
            if message is not None:
                messages.append(message)
        for j, event in enumerate(optional(entry, "messaging", list, path, [])):
            epath = f"{path}.messaging[{j}]"
            if not isinstance(event, dict):
                raise ParseError("expected an object", epath)
            message = _messaging(event, page_id, epath)
            if message is not None:
                messages.append(message)
    return messages


def _time(value: dict[str, Any], key: str, fallback: Any, path: str) -> datetime:
    raw = value.get(key)
    if raw is None:
        raw = fallback
    if raw is None:
        raise ParseError("missing", f"{path}.{key}", "include created_time (Unix seconds)")
    return any_time_to_datetime(raw, f"{path}.{key}")


def _feed_change(value: dict[str, Any], page_id: str, entry_time: Any, path: str) -> Message | None:
    item = optional(value, "item", str, path, "")
    verb = optional(value, "verb", str, path, "")
    if verb not in TEXT_VERBS:
        return None  # remove / hide / unhide: nothing new to read
    if item == "comment":
        native = as_id(require(value, "comment_id", (str, int), path), f"{path}.comment_id")
        post_id = as_id(require(value, "post_id", (str, int), path), f"{path}.post_id")
        parent = value.get("parent_id")
        in_reply_to = as_id(parent, f"{path}.parent_id") if parent is not None else post_id
    elif item in POST_ITEMS:
        native = as_id(require(value, "post_id", (str, int), path), f"{path}.post_id")
        post_id, in_reply_to = native, None
    else:
        return None  # reaction, like, rating without text...
    text = optional(value, "message", str, path, "")
    sent_at = _time(value, "created_time", entry_time, path)
    author = _feed_author(value, page_id, path, native)
    meta: dict[str, Any] = {"item": item, "verb": verb, "page_id": page_id, "post_id": post_id}
    if item == "comment":
        # Facebook nests comments two levels deep: a public answer to a reply goes under
        # the top-level comment it belongs to (GraphSender reads this from Reply.meta).
        meta["top_level_comment_id"] = native if in_reply_to == post_id else in_reply_to
    for key in ("photo", "link", "video"):
        if isinstance(value.get(key), str):
            meta[key] = value[key]
    post = value.get("post")
    if isinstance(post, dict) and isinstance(post.get("permalink_url"), str):
        meta["permalink_url"] = post["permalink_url"]
    if verb != "add":
        meta["edit_of"] = native
        native = f"{native}@edited:{int(sent_at.timestamp())}"
    if not text and not any(k in meta for k in ("photo", "link", "video")):
        return None  # e.g. a sticker-only comment: nothing to read or answer
    return Message(
        channel=Channel.FACEBOOK,
        native_id=native,
        author=author,
        body=text,
        sent_at=sent_at,
        direction=Direction.OUT if author.is_company else Direction.IN,
        thread_key=post_id,
        in_reply_to=in_reply_to,
        references=(post_id,) if item == "comment" and in_reply_to != post_id else (),
        public=True,
        addressed_to_company=not author.is_company,
        meta=meta,
    )


def _feed_author(value: dict[str, Any], page_id: str, path: str, native: str) -> Author:
    sender = value.get("from")
    if sender is None:
        # Graph omits ``from`` for people who have not granted the app access.
        # Each such comment is its own unknown author, never one shared "anonymous" person.
        return Author(channel_user_id=f"anonymous:{native}", profile={"anonymous": True})
    if not isinstance(sender, dict):
        raise ParseError("expected an object with id and name", f"{path}.from")
    user_id = as_id(require(sender, "id", (str, int), f"{path}.from"), f"{path}.from.id")
    return Author(
        channel_user_id=user_id,
        display_name=optional(sender, "name", str, f"{path}.from"),
        is_company=user_id == page_id,
    )


def _messaging(event: dict[str, Any], page_id: str, path: str) -> Message | None:
    sender = as_id(
        require(require(event, "sender", dict, path), "id", (str, int), f"{path}.sender"),
        f"{path}.sender.id",
    )
    recipient_obj = optional(event, "recipient", dict, path, {})
    recipient = str(recipient_obj.get("id", page_id))
    timestamp = require(event, "timestamp", (int, float), path)
    sent_at = epoch_to_datetime(timestamp, f"{path}.timestamp", millis=True)
    message = optional(event, "message", dict, path)
    postback = optional(event, "postback", dict, path)
    if message is None and postback is None:
        return None  # delivery / read / reaction receipts
    meta: dict[str, Any] = {"page_id": page_id}
    if message is not None:
        mpath = f"{path}.message"
        native = as_id(require(message, "mid", (str, int), mpath), f"{mpath}.mid")
        text = optional(message, "text", str, mpath, "")
        is_echo = bool(message.get("is_echo"))
        attachments = []
        for k, att in enumerate(optional(message, "attachments", list, mpath, [])):
            if not isinstance(att, dict):
                raise ParseError("expected an object", f"{mpath}.attachments[{k}]")
            payload = att.get("payload") if isinstance(att.get("payload"), dict) else {}
            attachments.append({"type": str(att.get("type", "file")), "url": payload.get("url")})
        if attachments:
            meta["attachments"] = attachments
            if not text:
                text = " ".join(f"[{a['type']}]" for a in attachments)
        reply_to = message.get("reply_to")
        in_reply_to = (
            str(reply_to["mid"]) if isinstance(reply_to, dict) and "mid" in reply_to else None
        )
        quick = message.get("quick_reply")
        if isinstance(quick, dict) and "payload" in quick:
            meta["quick_reply_payload"] = quick["payload"]
    else:
        assert postback is not None
        ppath = f"{path}.postback"
        text = optional(postback, "title", str, ppath, "")
        native = str(postback.get("mid") or f"postback:{sender}:{int(timestamp)}")
        meta["postback_payload"] = postback.get("payload")
        is_echo, in_reply_to = False, None
    customer = recipient if is_echo else sender
    author = (
        Author(channel_user_id=page_id, is_company=True)
        if is_echo
        else Author(channel_user_id=sender)
    )
    return Message(
        channel=Channel.FACEBOOK,
        native_id=native,
        author=author,
        body=text,
        sent_at=sent_at,
        direction=Direction.OUT if is_echo else Direction.IN,
        thread_key=messenger_thread_key(customer),
        in_reply_to=in_reply_to,
        public=False,
        recipients=(recipient,),
        meta=meta | {"psid": customer, "messenger": True},
    )
