"""X Account Activity events into messages.

``tweet_create_events`` are public: mentions of the company, replies to it and its
own tweets. A conversation is named by its *root* tweet: X's ``conversation_id`` when
the payload has it, else the root the caller already knows for the tweet answered
(``root_lookup``, backed by the store), else the tweet answered itself — so a reply
chain stays one case even when its events arrive one by one.
``direct_message_events`` are private; a DM thread is X's one-to-one conversation id
(``"<smaller id>-<larger id>"``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from somebound.channels._json import as_id, epoch_to_datetime, load_object, optional, require
from somebound.channels.errors import ParseError
from somebound.core.enums import Channel, Direction
from somebound.core.message import Author, Message

RootLookup = Callable[[str], str | None]


def dm_conversation_id(a: str, b: str) -> str:
    """X's id for the one-to-one DM conversation between two users."""
    low, high = sorted((a, b), key=lambda v: (len(v), v))  # numeric order for digit ids
    return f"{low}-{high}"


def dm_thread_key(a: str, b: str) -> str:
    return f"dm:{dm_conversation_id(a, b)}"


def parse_webhook(
    body: bytes | str,
    *,
    root_lookup: RootLookup | None = None,
    company_handles: Iterable[str] = (),
) -> list[Message]:
    """All messages in one Account Activity delivery.

    ``company_handles`` (screen names, without ``@``) count as the company in addition
    to ``for_user_id``, for brands with several accounts.
    """
    data = load_object(body, "x webhook", "send the body exactly as X posted it")
    for_user = as_id(require(data, "for_user_id", (str, int), ""), "for_user_id")
    handles = {h.lstrip("@").casefold() for h in company_handles}
    messages: list[Message] = []
    roots: dict[str, str] = {}
    for i, tweet in enumerate(optional(data, "tweet_create_events", list, "", [])):
        path = f"tweet_create_events[{i}]"
        if not isinstance(tweet, dict):
            raise ParseError("expected a tweet object", path)
        message = _tweet(tweet, for_user, handles, roots, root_lookup, path)
        if message is not None:
            roots[message.native_id] = message.thread_key or message.native_id
            messages.append(message)
    users = optional(data, "users", dict, "", {})
    for i, event in enumerate(optional(data, "direct_message_events", list, "", [])):
        path = f"direct_message_events[{i}]"
        if not isinstance(event, dict):
            raise ParseError("expected an event object", path)
        message = _direct_message(event, for_user, users, path)
        if message is not None:
            messages.append(message)
    return messages


def _tweet_time(tweet: dict[str, Any], path: str) -> datetime:
    if tweet.get("timestamp_ms") is not None:
        return epoch_to_datetime(tweet["timestamp_ms"], f"{path}.timestamp_ms", millis=True)
    created = require(tweet, "created_at", str, path)
    for fmt in ("%a %b %d %H:%M:%S %z %Y",):
        try:
            return datetime.strptime(created, fmt).astimezone(UTC)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ParseError(
            f"unrecognised time {created[:40]!r}",
            f"{path}.created_at",
            "use X's format, e.g. 'Wed Oct 10 20:19:24 +0000 2018'",
        ) from None


def _tweet_text(tweet: dict[str, Any], path: str) -> tuple[str, str]:
    """(text to read, full text): the display range drops the leading @-mentions."""
    extended = tweet.get("extended_tweet")
    source = extended if isinstance(extended, dict) and "full_text" in extended else tweet
    full = source.get("full_text") or source.get("text")
    if not isinstance(full, str):
        raise ParseError("missing", f"{path}.text", "include text (or extended_tweet.full_text)")
    shown = full
    rng = source.get("display_text_range")
    if (
        isinstance(rng, list)
        and len(rng) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in rng)
    ):
        shown = full[rng[0] : rng[1]] or full
    return html.unescape(shown).strip(), html.unescape(full)


def _tweet(
    tweet: dict[str, Any],
    for_user: str,
    handles: set[str],
    roots: dict[str, str],
    root_lookup: RootLookup | None,
    path: str,
) -> Message | None:
    if "retweeted_status" in tweet:
        return None  # a retweet shares someone else's words; nothing new to answer
    tweet_id = as_id(tweet.get("id_str") or tweet.get("id"), f"{path}.id_str")
    user = require(tweet, "user", dict, path)
    upath = f"{path}.user"
    user_id = as_id(user.get("id_str") or user.get("id"), f"{upath}.id_str")
    screen_name = optional(user, "screen_name", str, upath)
    is_company = user_id == for_user or (
        screen_name is not None and screen_name.casefold() in handles
    )
    text, full_text = _tweet_text(tweet, path)
    reply_to_raw = tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id")
    in_reply_to = as_id(reply_to_raw, f"{path}.in_reply_to_status_id_str") if reply_to_raw else None
    conversation = tweet.get("conversation_id_str") or tweet.get("conversation_id")
    if conversation:
        thread_key = str(conversation)
    elif in_reply_to:
        thread_key = roots.get(in_reply_to) or (root_lookup(in_reply_to) if root_lookup else None)
        thread_key = thread_key or in_reply_to
    else:
        thread_key = tweet_id
    mentions = []
    entities = tweet.get("entities") if isinstance(tweet.get("entities"), dict) else {}
    for mention in entities.get("user_mentions") or []:
        if isinstance(mention, dict):
            mentions.append(
                (
                    str(mention.get("id_str") or mention.get("id") or ""),
                    str(mention.get("screen_name") or ""),
                )
            )
    reply_to_user = str(
        tweet.get("in_reply_to_user_id_str") or tweet.get("in_reply_to_user_id") or ""
    )
    addressed = not is_company and (
        reply_to_user == for_user
        or any(mid == for_user or name.casefold() in handles for mid, name in mentions)
    )
    followers = user.get("followers_count")
    author = Author(
        channel_user_id=user_id,
        display_name=optional(user, "name", str, upath),
        handle=screen_name,
        followers=followers
        if isinstance(followers, int) and not isinstance(followers, bool)
        else None,
        is_company=is_company,
        profile={k: user[k] for k in ("verified", "location", "description") if k in user},
    )
    meta: dict[str, Any] = {
        "for_user_id": for_user,
        "mentions": [name for _mid, name in mentions],
        "full_text": full_text,
    }
    if reply_to_user:
        meta["in_reply_to_user_id"] = reply_to_user
    if tweet.get("quoted_status_id_str"):
        meta["quoted_status_id"] = str(tweet["quoted_status_id_str"])
    return Message(
        channel=Channel.X,
        native_id=tweet_id,
        author=author,
        body=text,
        sent_at=_tweet_time(tweet, path),
        direction=Direction.OUT if is_company else Direction.IN,
        thread_key=thread_key,
        in_reply_to=in_reply_to,
        references=(thread_key,) if in_reply_to and thread_key != in_reply_to else (),
        public=True,
        language=_language(tweet.get("lang")),
        addressed_to_company=addressed,
        meta=meta,
    )


def _language(lang: Any) -> str | None:
    """X's BCP 47 guess; ``und`` (undetermined) and junk mean no guess."""
    if not isinstance(lang, str) or not lang or lang == "und":
        return None
    return lang.split("-")[0].lower()


def _direct_message(
    event: dict[str, Any], for_user: str, users: dict[str, Any], path: str
) -> Message | None:
    if event.get("type") != "message_create":
        return None
    event_id = as_id(require(event, "id", (str, int), path), f"{path}.id")
    create = require(event, "message_create", dict, path)
    cpath = f"{path}.message_create"
    sender = as_id(require(create, "sender_id", (str, int), cpath), f"{cpath}.sender_id")
    target = require(create, "target", dict, cpath)
    recipient = as_id(
        require(target, "recipient_id", (str, int), f"{cpath}.target"),
        f"{cpath}.target.recipient_id",
    )
    data = require(create, "message_data", dict, cpath)
    text = html.unescape(optional(data, "text", str, f"{cpath}.message_data", ""))
    sent_at = epoch_to_datetime(
        require(event, "created_timestamp", (str, int), path),
        f"{path}.created_timestamp",
        millis=True,
    )
    outgoing = sender == for_user
    customer = recipient if outgoing else sender
    info = users.get(sender) if isinstance(users.get(sender), dict) else {}
    followers = info.get("followers_count")
    author = Author(
        channel_user_id=sender,
        display_name=info.get("name") if isinstance(info.get("name"), str) else None,
        handle=info.get("screen_name") if isinstance(info.get("screen_name"), str) else None,
        followers=followers
        if isinstance(followers, int) and not isinstance(followers, bool)
        else None,
        is_company=outgoing,
    )
    meta: dict[str, Any] = {"for_user_id": for_user, "participant_id": customer}
    attachment = data.get("attachment")
    if isinstance(attachment, dict):
        media = attachment.get("media") if isinstance(attachment.get("media"), dict) else {}
        meta["attachments"] = [
            {"type": str(attachment.get("type", "media")), "url": media.get("media_url_https")}
        ]
    return Message(
        channel=Channel.X,
        native_id=f"dm:{event_id}",
        author=author,
        body=text,
        sent_at=sent_at,
        direction=Direction.OUT if outgoing else Direction.IN,
        thread_key=dm_thread_key(sender, recipient),
        public=False,
        recipients=(recipient,),
        meta=meta,
    )
