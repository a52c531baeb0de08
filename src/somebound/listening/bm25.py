"""BM25 (Okapi) over stemmed words, for answer search in Finnish, Swedish and English.

Hand-written on purpose (about 60 lines): answer banks and past-reply indexes are small
and grow one document at a time, and each language needs its own Snowball stemmer and
its own statistics. Finnish compounds and inflection make stemming essential: without
it ``laskussa`` never meets ``lasku``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from somebound.listening.stemming import stemmer_for_language
from somebound.listening.text import strip_social_markup, words


def analyse(text: str, language: str | None, *, stem: bool = True) -> list[str]:
    """Words of ``text``, Snowball-stemmed for the language when ``stem``."""
    toks = [w for w in words(strip_social_markup(text, keep_hashtag_words=True)) if len(w) > 1]
    st = stemmer_for_language(language or "") if stem else None
    return [st(w) for w in toks] if st else toks


class BM25Index:
    """An incrementally built BM25 index of ``(doc_id, text)`` in one language."""

    def __init__(self, language: str | None, *, k1: float = 1.2, b: float = 0.75,
                 stem: bool = True) -> None:
        self.language = language
        self.k1, self.b, self.stem = k1, b, stem
        self.ids: list[str] = []
        self._tf: list[Counter[str]] = []
        self._len: list[int] = []
        self._df: Counter[str] = Counter()
        self._postings: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, doc_id: str, text: str) -> None:
        toks = analyse(text, self.language, stem=self.stem)
        tf = Counter(toks)
        i = len(self.ids)
        self.ids.append(doc_id)
        self._tf.append(tf)
        self._len.append(len(toks))
        for term in tf:
            self._df[term] += 1
            self._postings.setdefault(term, []).append(i)

    def extend(self, docs: Iterable[tuple[str, str]]) -> None:
        for doc_id, text in docs:
            self.add(doc_id, text)

    def _idf(self, df: int) -> float:
        n = len(self.ids)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def max_score(self, query: str) -> float:
        """Upper bound of any document's score for ``query``: makes scores from different
        indexes comparable (a score / max_score of 0.6 means the same in each)."""
        terms = set(analyse(query, self.language, stem=self.stem))
        return sum(self._idf(self._df.get(t, 0)) for t in terms) * (self.k1 + 1)

    def search(self, query: str, k: int = 5) -> list[tuple[str, float]]:
        """Best ``k`` documents with their BM25 scores (only documents sharing a term)."""
        n = len(self.ids)
        if not n:
            return []
        avg = sum(self._len) / n or 1.0
        scores: dict[int, float] = {}
        for term in set(analyse(query, self.language, stem=self.stem)):
            post = self._postings.get(term)
            if not post:
                continue
            idf = self._idf(self._df[term])
            for i in post:
                f = self._tf[i][term]
                denom = f + self.k1 * (1 - self.b + self.b * self._len[i] / avg)
                scores[i] = scores.get(i, 0.0) + idf * f * (self.k1 + 1) / denom
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [(self.ids[i], s) for i, s in best]
