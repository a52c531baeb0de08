"""Polling RSS/Atom feeds of forums and blogs for mentions of the company.

Each poll is a conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the
previous answer), so an unchanged feed costs the remote site one ``304``. The per-feed
:class:`FeedState` is a plain dataclass the caller persists (``to_dict``/``from_dict``)
between polls; the poller itself keeps no state. Entries already seen are skipped, and
only entries matching the monitored keywords become public ``Message`` objects:
somebound mentions nobody addressed to us.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urlsplit

import feedparser
import httpx

from somebound.channels.errors import FetchError, ParseError
from somebound.channels.feeds.keywords import KeywordMatcher
from somebound.channels.html_text import html_to_text
from somebound.core.enums import Channel, Direction
from somebound.core.message import Author, Message

MAX_SEEN = 5000
_DISCOURSE_POST = re.compile(r"(/t/[^/]+/\d+)/\d+/?$")


@dataclass
class FeedState:
    """What the poller must remember about one feed between polls."""

    url: str
    etag: str | None = None
    modified: str | None = None
    seen: list[str] = field(default_factory=list)  # entry ids, oldest first, bounded
    last_status: int | None = None
    last_polled: str | None = None  # ISO 8601 UTC

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedState:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "url" not in known:
            raise ValueError("feed state needs a 'url'")
        known["seen"] = list(known.get("seen") or [])
        return cls(**known)


@dataclass
class PollResult:
    messages: list[Message]
    state: FeedState
    status: int
    not_modified: bool
    new_entries: int = 0
    unmatched_entries: int = 0


def thread_of(link: str | None) -> str | None:
    """The thread an entry belongs to: its link without the ``#post`` anchor.

    Forum engines link a post as the thread URL plus an anchor; Discourse links post
    *n* as ``/t/<slug>/<topic>/<n>``, so the trailing post number is dropped too.
    """
    if not link:
        return None
    base, _fragment = urldefrag(link)
    return _DISCOURSE_POST.sub(r"\1", base)


class FeedPoller:
    """Fetch and filter feeds; give it the keywords, hand it a state per poll."""

    def __init__(
        self,
        matcher: KeywordMatcher,
        *,
        client: httpx.Client | None = None,
        timeout: float = 15.0,
        max_seen: int = MAX_SEEN,
    ) -> None:
        self.matcher = matcher
        self.max_seen = max_seen
        self._client = client or httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            headers={
                "User-Agent": "somebound-feed-poller/0.1",
                "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.8",
            },
        )

    def close(self) -> None:
        self._client.close()

    def poll(self, state: FeedState) -> PollResult:
        """One conditional GET of ``state.url``; returns the new state, never mutates."""
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.modified:
            headers["If-Modified-Since"] = state.modified
        now = datetime.now(UTC)
        try:
            response = self._client.get(state.url, headers=headers)
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch feed {state.url}: {exc}") from exc
        if response.status_code == 304:
            new_state = replace(state, last_status=304, last_polled=now.isoformat())
            return PollResult([], new_state, 304, True)
        if response.status_code >= 400:
            raise FetchError(
                f"feed {state.url} answered {response.status_code} {response.reason_phrase}",
                status=response.status_code,
            )
        messages, seen, new, unmatched = self.parse(
            response.content,
            state,
            content_type=response.headers.get("content-type"),
            fetched_at=now,
        )
        new_state = replace(
            state,
            etag=response.headers.get("etag"),
            modified=response.headers.get("last-modified"),
            seen=seen,
            last_status=response.status_code,
            last_polled=now.isoformat(),
        )
        return PollResult(messages, new_state, response.status_code, False, new, unmatched)

    def parse(
        self,
        content: bytes,
        state: FeedState,
        *,
        content_type: str | None = None,
        fetched_at: datetime | None = None,
    ) -> tuple[list[Message], list[str], int, int]:
        """Messages for new matching entries, the updated seen list, and counts."""
        response_headers = {"content-location": state.url}
        if content_type:
            response_headers["content-type"] = content_type
        parsed = feedparser.parse(content, response_headers=response_headers)
        if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
            raise ParseError(
                f"not an RSS/Atom feed: {parsed.get('bozo_exception')}",
                state.url,
                "point the poller at the feed URL (often /feed, /rss or .atom), not the page",
            )
        fetched_at = fetched_at or datetime.now(UTC)
        feed_info = parsed.feed
        seen = list(state.seen)
        seen_set = set(seen)
        messages: list[Message] = []
        new = unmatched = 0
        for entry in parsed.entries:
            entry_id = _entry_id(entry)
            if entry_id in seen_set:
                continue
            new += 1
            seen.append(entry_id)
            seen_set.add(entry_id)
            message = self._message(entry, entry_id, feed_info, state.url, fetched_at)
            if message is None:
                unmatched += 1
            else:
                messages.append(message)
        return messages, seen[-self.max_seen :], new, unmatched

    def _message(
        self,
        entry: Any,
        entry_id: str,
        feed_info: Any,
        feed_url: str,
        fetched_at: datetime,
    ) -> Message | None:
        title = html_to_text(entry.get("title", "") or "")
        text = _entry_text(entry)
        matched = self.matcher.matches(f"{title}\n{text}")
        if not matched:
            return None
        link = entry.get("link")
        host = urlsplit(link or feed_url).hostname or "feed"
        author_name = entry.get("author") or (entry.get("author_detail") or {}).get("name")
        author_name = (author_name or "").strip() or "anonymous"
        native = (
            entry_id if re.match(r"^(https?:|tag:|urn:)", entry_id) else f"{feed_url}#{entry_id}"
        )
        language = entry.get("language") or feed_info.get("language")
        body = f"{title}\n\n{text}".strip() if title and not text.startswith(title) else text
        return Message(
            channel=Channel.FEED,
            native_id=native,
            author=Author(
                channel_user_id=f"{host}:{author_name}",
                display_name=author_name,
                handle=author_name,
                profile={"site": host},
            ),
            body=body,
            sent_at=_entry_time(entry) or fetched_at,
            direction=Direction.IN,
            thread_key=thread_of(link) or native,
            subject=title or None,
            public=True,
            language=language.split("-")[0].lower()
            if isinstance(language, str) and language
            else None,
            addressed_to_company=False,
            meta={
                "feed_url": feed_url,
                "feed_title": feed_info.get("title"),
                "link": link,
                "entry_id": entry_id,
                "matched_keywords": matched,
                "tags": [t.get("term") for t in entry.get("tags", []) if t.get("term")],
            },
        )


def _entry_id(entry: Any) -> str:
    for key in ("id", "link"):
        value = entry.get(key)
        if value:
            return str(value)
    material = f"{entry.get('title', '')}\x1f{entry.get('summary', '')}".encode()
    return "sha256:" + hashlib.sha256(material).hexdigest()[:32]


def _entry_text(entry: Any) -> str:
    contents = entry.get("content") or []
    for item in contents:
        value = item.get("value")
        if value:
            return _as_text(value, item.get("type"))
    summary = entry.get("summary")
    if summary:
        detail = entry.get("summary_detail") or {}
        return _as_text(summary, detail.get("type"))
    return ""


def _as_text(value: str, content_type: str | None) -> str:
    if content_type and "html" not in content_type:
        return value.strip()
    return html_to_text(value)


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime(*value[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None
