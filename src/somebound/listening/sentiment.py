"""Sentiment (negative / neutral / positive with a score) in Finnish, Swedish and English.

One :class:`~somebound.listening.linear.LinearTextClassifier` per language, trained by
``somebound train sentiment`` from XED (polarity of human-annotated emotions; Swedish
labels are projected) plus the AFINN word lists for Finnish and Swedish as lexicon
features. Emoji carry strong polarity in social posts but never occur in XED, so they
are applied as a transparent shift of the model's scores instead of being learnt.

The score is ``P(positive) - P(negative)`` in [-1, 1]; the label is the most likely class.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from somebound.listening.linear import BatchFeatures, LinearTextClassifier, featurize_many
from somebound.listening.text import emoji_chars

MODELS_DIR = Path(__file__).resolve().parent / "models"
LABELS = ("negative", "neutral", "positive")

# Hand-made (somebound's own) emoji polarity, -3..+3.
EMOJI_SCORES: dict[str, float] = {
    "😀": 2, "😃": 2, "😄": 2, "😁": 2, "😊": 2, "🙂": 1, "😍": 3, "🥰": 3, "😘": 2,
    "👍": 2, "👏": 2, "🙏": 1, "🎉": 2, "💯": 2, "❤": 3, "💙": 2, "💚": 2, "💖": 3, "🤩": 3,
    "😂": 1, "🤣": 1, "😉": 1, "✨": 1, "🌟": 2, "⭐": 1,
    "😠": -3, "😡": -3, "🤬": -3, "👎": -2, "😤": -2, "😒": -2, "🙄": -2, "😞": -2, "😢": -2,
    "😭": -2, "😩": -2, "😫": -2, "💩": -3, "🤮": -3, "😰": -2, "😱": -2, "😣": -2, "☹": -2,
    "🙁": -1, "😕": -1, "😑": -1, "💔": -2, "🤦": -2,
}


@dataclass(frozen=True, slots=True)
class Sentiment:
    label: str  # negative | neutral | positive
    score: float  # P(positive) - P(negative), -1..1
    confidence: float  # probability of the chosen label
    model: str  # which model decided: "sentiment_fi", "emoji", ...


def emoji_polarity(text: str) -> float:
    return float(sum(EMOJI_SCORES.get(ch, 0.0) for ch in emoji_chars(text)))


class SentimentAnalyzer:
    """Per-language sentiment; languages without a model fall back to emoji only."""

    def __init__(
        self, models: Mapping[str, LinearTextClassifier], *, emoji_weight: float = 1.5
    ) -> None:
        for lang, model in models.items():
            missing = set(LABELS) - set(model.classes_)
            if missing:
                raise ValueError(
                    f"sentiment model for {lang!r} lacks classes {sorted(missing)}; "
                    f"labels must be {LABELS}"
                )
        self.models = dict(models)
        self.emoji_weight = emoji_weight
        self._order = {
            lang: [m.classes_.index(lbl) for lbl in LABELS] for lang, m in self.models.items()
        }

    @classmethod
    def load(cls, directory: Path = MODELS_DIR) -> SentimentAnalyzer:
        models = {
            p.stem.removeprefix("sentiment_"): LinearTextClassifier.load(p)
            for p in sorted(Path(directory).glob("sentiment_*.npz"))
        }
        if not models:
            raise FileNotFoundError(
                f"{directory}: no sentiment_*.npz models; run `somebound train sentiment`"
            )
        return cls(models)

    def analyse(self, text: str, language: str | None) -> Sentiment:
        emo = emoji_polarity(text)
        model = self.models.get(language or "")
        if model is None:
            return _emoji_only(emo)
        raw = model.decision_one(text)[self._order[language]]  # type: ignore[index]
        return self._finish(raw, emo, language)  # type: ignore[arg-type]

    def analyse_many(
        self, texts: Sequence[str] | BatchFeatures, languages: Sequence[str | None]
    ) -> list[Sentiment]:
        """:meth:`analyse` for a batch: one sparse product per language model.

        Pass the batch's :class:`BatchFeatures` to share its analysis with intent.
        """
        feats = texts if isinstance(texts, BatchFeatures) else featurize_many(list(texts))
        if len(languages) != len(feats):
            raise ValueError(f"analyse_many: {len(feats)} texts but {len(languages)} languages")
        emos = [emoji_polarity(t) for t in feats.texts]
        out: list[Sentiment | None] = [None] * len(feats)
        by_lang: dict[str, list[int]] = defaultdict(list)
        for i, lang in enumerate(languages):
            if lang in self.models:
                by_lang[lang].append(i)  # type: ignore[index]
            else:
                out[i] = _emoji_only(emos[i])
        for lang, rows in by_lang.items():
            raw = self.models[lang].decision_many(feats.subset(rows))[:, self._order[lang]]
            emo = np.array([emos[i] for i in rows], dtype=np.float64)
            shift = (self.emoji_weight * np.tanh(emo / 3.0)).astype(raw.dtype)
            raw = raw + shift[:, None] * np.array([-1.0, 0.0, 1.0], dtype=raw.dtype)
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            prob = e / e.sum(axis=1, keepdims=True)
            best = prob.argmax(axis=1).tolist()
            score = (prob[:, 2] - prob[:, 0]).tolist()
            conf = prob[np.arange(len(rows)), best].tolist()
            name = f"sentiment_{lang}"
            for i, b, sc, cf in zip(rows, best, score, conf, strict=True):
                out[i] = Sentiment(LABELS[b], sc, cf, name)
        return out  # type: ignore[return-value]

    def _finish(self, raw: np.ndarray, emo: float, language: str) -> Sentiment:
        """Emoji shift and softmax over (negative, neutral, positive) scores."""
        if emo:
            shift = self.emoji_weight * math.tanh(emo / 3.0)
            raw = raw + np.array([-shift, 0.0, shift], dtype=raw.dtype)
        e = np.exp(raw - raw.max())
        prob = e / e.sum()
        i = int(prob.argmax())
        return Sentiment(
            LABELS[i], float(prob[2] - prob[0]), float(prob[i]), f"sentiment_{language}"
        )


def _emoji_only(emo: float) -> Sentiment:
    """A language without a model: emoji decide, else neutral."""
    if emo == 0:
        return Sentiment("neutral", 0.0, 1.0, "none")
    p = 1 / (1 + math.exp(-abs(emo)))
    label = "positive" if emo > 0 else "negative"
    return Sentiment(label, math.copysign(p, emo), p, "emoji")


_lock = threading.Lock()
_default: SentimentAnalyzer | None = None


def default_sentiment() -> SentimentAnalyzer:
    """The shipped models, loaded once per process."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = SentimentAnalyzer.load()
    return _default
