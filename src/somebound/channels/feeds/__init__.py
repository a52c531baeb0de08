"""Forums and blogs: RSS/Atom polling with conditional GET and monitored keywords."""

from somebound.channels.feeds.keywords import KeywordMatcher, compile_keyword
from somebound.channels.feeds.poller import FeedPoller, FeedState, PollResult, thread_of

__all__ = [
    "FeedPoller",
    "FeedState",
    "KeywordMatcher",
    "PollResult",
    "compile_keyword",
    "thread_of",
]
