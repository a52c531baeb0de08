"""Monitored keywords: which forum and blog entries are about us.

Finnish inflects names by suffix (*Somebound*, *Someboundin*, *Someboundille*,
*Somebound:lle*), so a keyword ending in ``*`` matches any word *starting* with it.
Without ``*`` a keyword matches as a whole word; ``:``, ``-`` and ``#`` are word
boundaries, so ``#somebound`` and ``Somebound:n`` still match ``somebound``. Spaces in a
keyword match any run of whitespace. Matching is case-insensitive and Unicode-aware
(``ä``, ``ö``, ``å`` are letters). ``exclude`` keywords veto an entry (e.g. an unrelated
product that shares the name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_WORD_CHARS = re.compile(r"^[\w][\w\s'’.&+-]*\*?$", re.UNICODE)


def compile_keyword(keyword: str) -> re.Pattern[str]:
    """The regular expression for one keyword, or :class:`ValueError` saying why not."""
    text = " ".join(keyword.split())
    if not text:
        raise ValueError("empty keyword: remove it or give a word")
    if text.count("*") > 1 or ("*" in text and not text.endswith("*")):
        raise ValueError(
            f"keyword {keyword!r}: '*' is allowed only once, at the end (prefix match)"
        )
    prefix = text.endswith("*")
    stem = text.rstrip("*").strip()
    if len(stem) < 2:
        raise ValueError(f"keyword {keyword!r}: a prefix needs at least 2 characters")
    if not _WORD_CHARS.match(text):
        raise ValueError(f"keyword {keyword!r}: must start with a letter or digit")
    body = r"\s+".join(re.escape(part) for part in stem.split(" "))
    tail = r"\w*" if prefix else r"(?!\w)"
    return re.compile(rf"(?<!\w){body}{tail}", re.IGNORECASE | re.UNICODE)


@dataclass(frozen=True)
class KeywordMatcher:
    """Decide whether a text mentions any monitored keyword (and none excluded)."""

    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    _patterns: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False, repr=False)
    _excluded: tuple[re.Pattern[str], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keywords:
            raise ValueError("give at least one monitored keyword, e.g. 'somebound*'")
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "exclude", tuple(self.exclude))
        object.__setattr__(self, "_patterns", tuple((k, compile_keyword(k)) for k in self.keywords))
        object.__setattr__(self, "_excluded", tuple(compile_keyword(k) for k in self.exclude))

    @classmethod
    def of(cls, keywords: Iterable[str], exclude: Iterable[str] = ()) -> KeywordMatcher:
        return cls(tuple(keywords), tuple(exclude))

    def matches(self, text: str) -> list[str]:
        """The keywords found in ``text``; empty when none is, or an exclusion is."""
        if any(p.search(text) for p in self._excluded):
            return []
        return [keyword for keyword, pattern in self._patterns if pattern.search(text)]
