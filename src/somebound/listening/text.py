"""Text clean-up shared by every listening stage.

Social texts are short and noisy: URLs, @mentions, #hashtags and emoji carry little
language signal but a lot of bytes. Each stage wants the same cleaned view, so the
rules live here once.
"""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
_SPACE = re.compile(r"\s+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")  # ASCII has no So (symbol, other) characters


def strip_social_markup(text: str, *, keep_hashtag_words: bool = False) -> str:
    """Text without URLs, @mentions and (by default) #hashtags.

    Hashtags are often brand names or English slang in a Finnish post, so language
    identification drops them; sentiment and search keep the word (``#fail`` -> ``fail``).
    """
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _HASHTAG.sub((lambda m: " " + m.group(1) + " ") if keep_hashtag_words else " ", text)
    return _SPACE.sub(" ", text).strip()


def letters(text: str) -> int:
    """How many alphabetic characters a text has (emoji, digits, punctuation excluded)."""
    return sum(1 for ch in text if ch.isalpha())


def words(text: str) -> list[str]:
    """Lower-cased alphabetic words (apostrophes and hyphens kept inside a word)."""
    return [w.casefold() for w in _WORD.findall(text)]


def emoji_chars(text: str) -> list[str]:
    """Pictographic characters (So category), one entry per character.

    Only non-ASCII characters can be in So, so the category is looked up for those alone
    (this runs twice per message on the enrichment path).
    """
    if text.isascii():
        return []
    return [ch for ch in _NON_ASCII.findall(text) if unicodedata.category(ch) == "So"]
