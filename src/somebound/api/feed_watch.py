"""Forum and blog listening: poll the configured feeds, keep matching items durably.

Feeds file (YAML)::

    feeds:
      - url: https://keskustelu.example.fi/c/somebound.rss
        keywords: ["somebound*", "sombound*"]

Each new matching entry goes into the durable inbox (channel ``feed``) before the
poller's state (ETag, Last-Modified, seen ids) is saved, so a crash between the two only
means the next poll offers the same entries again, which the inbox and the message
uniqueness swallow.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from somebound.channels.errors import FetchError
from somebound.channels.feeds.keywords import KeywordMatcher
from somebound.channels.feeds.poller import FeedPoller, FeedState
from somebound.channels.serialize import message_to_dict
from somebound.core.policy import PolicyError, line_of, load_policy_yaml
from somebound.store import inbox
from somebound.store.base import utcnow
from somebound.store.tables import channel_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedConfig:
    url: str
    keywords: tuple[str, ...]


def load_feeds(path: str | Path) -> list[FeedConfig]:
    doc = load_policy_yaml(path)
    items = doc.get("feeds") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise PolicyError(str(path), line_of(doc), "expected 'feeds:' with a list of feeds")
    out = []
    for item in items:
        if not isinstance(item, dict) or not item.get("url"):
            raise PolicyError(str(path), line_of(item), "each feed needs a 'url'")
        kws = item.get("keywords") or []
        if not isinstance(kws, list) or not kws:
            raise PolicyError(str(path), line_of(item), f"feed {item['url']}: 'keywords' must be "
                              "a non-empty list", "e.g. keywords: ['somebound*']")
        out.append(FeedConfig(str(item["url"]), tuple(str(k) for k in kws)))
    return out


def poll_once(engine: Engine, feed: FeedConfig, poller: FeedPoller | None = None) -> int:
    """One conditional GET of one feed; returns how many new items were accepted."""
    key = f"feed:{feed.url}"
    with engine.connect() as conn:
        raw = conn.execute(select(channel_state.c.state).where(channel_state.c.key == key)).scalar()
    state = FeedState.from_dict(raw) if raw else FeedState(url=feed.url)
    own = poller is None
    poller = poller or FeedPoller(KeywordMatcher(feed.keywords))
    try:
        result = poller.poll(state)
    finally:
        if own:
            poller.close()
    accepted = 0
    for msg in result.messages:
        body = json.dumps(message_to_dict(msg), sort_keys=True).encode()
        _, new = inbox.accept(engine, "feed", "poll", body, {"feed": feed.url})
        accepted += int(new)
    with engine.begin() as conn:
        values = {"state": result.state.to_dict(), "updated_at": utcnow()}
        if raw is None:
            conn.execute(channel_state.insert().values(key=key, **values))
        else:
            conn.execute(channel_state.update().where(channel_state.c.key == key).values(**values))
    return accepted


class FeedWatcher:
    """Background thread polling every feed every ``interval`` seconds."""

    def __init__(self, engine: Engine, feeds: list[FeedConfig], interval: float,
                 on_new=None):  # noqa: ANN001
        self.engine, self.feeds, self.interval, self.on_new = engine, feeds, interval, on_new
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        total = 0
        for feed in self.feeds:
            try:
                total += poll_once(self.engine, feed)
            except FetchError as exc:
                log.warning("feed %s: %s", feed.url, exc)
        if total and self.on_new:
            self.on_new()
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="feed-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
