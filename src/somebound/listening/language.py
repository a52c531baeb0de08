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

    def detect(self, text: str, fallback: str | None = None) -> LanguageGuess:
        cleaned = strip_social_markup(text or "")
        if letters(cleaned) < self.min_letters:
            return self._fallback(fallback, 0.0)
        if len(self.languages) == 1:
            return LanguageGuess(self.languages[0], 1.0, "text")
        lang, conf = self._ident.classify(cleaned)
        if conf < self.min_confidence and fallback:
            return self._fallback(fallback, conf)
        return LanguageGuess(lang, float(conf), "text")

    @staticmethod
    def _fallback(fallback: str | None, conf: float) -> LanguageGuess:
        if fallback:
            return LanguageGuess(fallback, conf, "fallback")
        return LanguageGuess(UNKNOWN, conf, "none")


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
