"""Language of a message: Finnish, Swedish, English (or whatever the company serves).

py3langid's naive-Bayes byte n-gram model is fast (~0.1 ms) and accurate when the
candidate set is restricted to the languages the company actually serves: on short
XED subtitles it confuses Swedish with Norwegian/Danish and Finnish with Estonian
when all 97 languages compete. Social texts add one more trap: hashtags, @mentions,
URLs and emoji carry no language, so they are stripped first; what is left with too few
letters is *unknown* and the customer's known language (when given) is used instead.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from somebound.listening.text import letters, strip_social_markup

UNKNOWN = "und"


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str  # ISO 639-1 code, or "und"
    confidence: float  # 0..1; 0 when the text had nothing to go on
    source: str  # "text" | "fallback" | "none"


class LanguageDetector:
    """Restricted-candidate language identification with a fallback.

    ``min_letters``: fewer letters than this (after removing markup) -> no guess from text.
    ``min_confidence``: a text guess below this yields to the fallback language when one
    is known (a two-word reply "ok kiitos" is still Finnish at 0.9, "ok" is not).
    """

    def __init__(
        self,
        languages: Sequence[str] = ("fi", "sv", "en"),
        *,
        min_letters: int = 2,
        min_confidence: float = 0.6,
    ) -> None:
        if not languages:
            raise ValueError("LanguageDetector: give at least one candidate language")
        self.languages = tuple(languages)
        self.min_letters = min_letters
        self.min_confidence = min_confidence
        ident = copy.copy(_base_identifier())  # shares the model arrays, own candidate set
        try:
            ident.set_languages(list(self.languages))
        except ValueError as exc:
            raise ValueError(f"LanguageDetector: {exc}; use ISO 639-1 codes like 'fi'") from exc
        self._ident = ident
        # The restricted table as float32 once (py3langid keeps float16 and converts on
        # every call); the batch path multiplies all texts with it in one product. C order:
        # the restricted table is a column slice, and SciPy copies a non-contiguous
        # operand on every product (0.3 ms a call, most of a one-message batch).
        self._ptc = np.ascontiguousarray(ident.nb_ptc, dtype=np.float32)

    def detect(self, text: str, fallback: str | None = None) -> LanguageGuess:
        return self.resolve(self.detect_text(text), fallback)

    def detect_text(self, text: str) -> LanguageGuess:
        """What the text alone says (source ``text``, or ``none`` with too few letters)."""
        cleaned = strip_social_markup(text or "")
        if letters(cleaned) < self.min_letters:
            return LanguageGuess(UNKNOWN, 0.0, "none")
        if len(self.languages) == 1:
            return LanguageGuess(self.languages[0], 1.0, "text")
        lang, conf = self._ident.classify(cleaned)
        return LanguageGuess(lang, float(conf), "text")

    def resolve(self, guess: LanguageGuess, fallback: str | None) -> LanguageGuess:
        """Apply the customer's known language to a text-only guess (see the class doc)."""
        if guess.source == "none":
            return self._fallback(fallback, guess.confidence)
        if guess.source == "text" and guess.confidence < self.min_confidence and fallback:
            return self._fallback(fallback, guess.confidence)
        return guess

    @staticmethod
    def _fallback(fallback: str | None, conf: float) -> LanguageGuess:
        if fallback:
            return LanguageGuess(fallback, conf, "fallback")
        return LanguageGuess(UNKNOWN, conf, "none")

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        """:meth:`detect_text` for a batch: the same guesses, scored in one product.

        py3langid's per-call cost is mostly NumPy overhead on a 3-column table; here the
        byte DFA walk stays per text (it is py3langid's own ``visit_counts``) and the
        naive-Bayes scoring and softmax run once for the whole batch.
        """
        out: list[LanguageGuess | None] = [None] * len(texts)
        todo: list[tuple[int, bytes]] = []
        for i, text in enumerate(texts):
            cleaned = strip_social_markup(text or "")
            if letters(cleaned) < self.min_letters:
                out[i] = LanguageGuess(UNKNOWN, 0.0, "none")
            elif len(self.languages) == 1:
                out[i] = LanguageGuess(self.languages[0], 1.0, "text")
            else:
                todo.append((i, cleaned))  # type: ignore[arg-type]
        if todo:
            for i, guess in zip((i for i, _ in todo), self._classify_many([c for _, c in todo]), strict=True):
                out[i] = guess
        return out  # type: ignore[return-value]

    def _classify_many(self, cleaned: list[str]) -> list[LanguageGuess]:
        ident = self._ident
        tables = _dfa_tables(ident)
        if tables is None or ident._alias_pairs:  # other internals, or aliased labels
            return [LanguageGuess(*_as_guess(ident.classify(t))) for t in cleaned]
        from scipy import sparse

        datas = [ident._encode(t) for t in cleaned]
        rows, feats = _walk_many(datas, *tables, ident)
        n = len(datas)
        lengths = np.array([len(d) or 1 for d in datas], dtype=np.float64)
        width = self._ptc.shape[0]
        uniq, counts = np.unique(rows * width + feats, return_counts=True)
        r = uniq // width
        X = sparse.csr_matrix(
            (np.log1p(counts.astype(np.float32)), (r, uniq - r * width)), shape=(n, width)
        )
        scores = np.asarray(X @ self._ptc, dtype=np.float32) + ident.nb_pc.astype(np.float32)
        scores *= (1.0 / np.sqrt(lengths)).astype(np.float32)[:, None]
        featureless = np.bincount(r, minlength=n) == 0
        scores[featureless] = 0.0  # py3langid: no features -> uniform
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
        best = scores.argmax(axis=1)
        classes = ident.nb_classes
        return [
            LanguageGuess(classes[int(b)], float(scores[i, b]), "text") for i, b in enumerate(best)
        ]


def _as_guess(pair: tuple[str, float]) -> tuple[str, float, str]:
    lang, conf = pair
    return lang, float(conf), "text"


_LOCKSTEP_MIN_ROWS = 8  # below this many texts still walking, NumPy steps cost more than Python


@lru_cache(maxsize=4)
def _dfa_tables(ident) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:  # noqa: ANN001
    """py3langid's byte DFA as NumPy arrays (views, no copy of the 39 MB table)."""
    try:
        nm = np.frombuffer(ident.tk_nextmove, dtype=np.uint32)
        return nm, np.asarray(ident._rowbase, dtype=np.int64), np.asarray(ident.tk_output, dtype=np.int64)
    except (AttributeError, TypeError, ValueError):
        return None


def _walk_many(datas: list[bytes], nm: np.ndarray, rowbase: np.ndarray, output: np.ndarray,
               ident) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """py3langid's ``visit_counts`` DFA walk for many texts at once.

    The walk is sequential per text but independent across texts, so all texts step in
    lockstep (longest first, the active rows shrinking as texts end): one vectorised
    step per byte position instead of one Python step per byte. When fewer than
    ``_LOCKSTEP_MIN_ROWS`` texts remain (a long email among short posts), those finish
    in plain Python from the state reached. Returns (row, feature) per visit.
    """
    n = len(datas)
    lens = np.fromiter(map(len, datas), dtype=np.int64, count=n)
    order = np.argsort(-lens, kind="stable")
    slens = lens[order]
    # positions stepped in lockstep: while at least _LOCKSTEP_MIN_ROWS texts are active
    stop = int(slens[min(n, _LOCKSTEP_MIN_ROWS) - 1]) if n >= _LOCKSTEP_MIN_ROWS else 0
    buf = np.zeros((n, stop), dtype=np.int64)
    for j, i in enumerate(order):
        if stop and slens[j]:
            chunk = datas[i][:stop]
            buf[j, : len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
    active = np.searchsorted(-slens, -np.arange(stop), side="left")  # rows with len > p
    state = np.zeros(n, dtype=np.int64)
    out_rows: list[np.ndarray] = []
    out_feats: list[np.ndarray] = []
    for p in range(stop):
        k = int(active[p])
        st = nm[rowbase[state[:k]] + buf[:k, p]].astype(np.int64)
        state[:k] = st
        f = output[st]
        hit = np.flatnonzero(f >= 0)
        if len(hit):
            out_rows.append(order[hit])
            out_feats.append(f[hit])
    tail_rows: list[int] = []
    tail_feats: list[int] = []
    nm_l, rb_l, out_l = ident.tk_nextmove, ident._rowbase, ident.tk_output
    for j in range(n):
        if slens[j] <= stop:
            break
        i = int(order[j])
        s = int(state[j])
        for letter in datas[i][stop:]:
            s = nm_l[rb_l[s] + letter]
            f = out_l[s]
            if f >= 0:
                tail_rows.append(i)
                tail_feats.append(f)
    out_rows.append(np.asarray(tail_rows, dtype=np.int64))
    out_feats.append(np.asarray(tail_feats, dtype=np.int64))
    return np.concatenate(out_rows), np.concatenate(out_feats)


@lru_cache(maxsize=1)
def _base_identifier():  # noqa: ANN202 - py3langid's own type
    """py3langid's model, loaded once per process (restricted copies share its arrays)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


_lock = threading.Lock()
_detectors: dict[tuple[str, ...], LanguageDetector] = {}


def detector_for(languages: Sequence[str]) -> LanguageDetector:
    """One detector per candidate set per process (loading the model costs ~50 ms)."""
    key = tuple(languages)
    det = _detectors.get(key)
    if det is None:
        with _lock:
            det = _detectors.get(key) or LanguageDetector(key)
            _detectors[key] = det
    return det


def detect_language(
    text: str, languages: Sequence[str] = ("fi", "sv", "en"), fallback: str | None = None
) -> LanguageGuess:
    return detector_for(languages).detect(text, fallback)
