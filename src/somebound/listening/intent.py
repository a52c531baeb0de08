"""Intent / topic: a classifier a company trains from its own labelled examples.

The same linear character-n-gram model as sentiment, so 10-30 examples per intent in
any mix of Finnish, Swedish and English are enough to start (character n-grams share
stems across inflections). The shipped default is trained on Bitext's customer-support
intents (English) plus a small hand-written Finnish/Swedish seed set
(``intent_examples.yaml``); a company replaces it with ``somebound train intent``.

Examples file format (YAML)::

    intents:
      track_order:
        - Where is my parcel?
        - Missä mun paketti on?
      cancel_order: [...]
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from somebound.listening.linear import BatchFeatures, LinearTextClassifier
from somebound.listening.policy_yaml import PolicyError, load_yaml_with_marks

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "intent.npz"
SEED_EXAMPLES = Path(__file__).resolve().parent / "intent_examples.yaml"


@dataclass(frozen=True, slots=True)
class IntentGuess:
    intent: str | None  # None when below the confidence floor
    confidence: float
    best: str  # the top class even when below the floor


class IntentClassifier:
    """Wraps a fitted :class:`LinearTextClassifier` with a confidence floor."""

    def __init__(self, model: LinearTextClassifier, *, min_confidence: float = 0.3) -> None:
        self.model = model
        self.min_confidence = min_confidence

    @classmethod
    def fit(
        cls, texts: list[str], intents: list[str], *, min_confidence: float = 0.3
    ) -> IntentClassifier:
        return cls(LinearTextClassifier(C=10.0).fit(texts, intents), min_confidence=min_confidence)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> IntentClassifier:
        return cls(LinearTextClassifier.load(path))

    @property
    def intents(self) -> list[str]:
        return list(self.model.classes_)

    def classify(self, text: str) -> IntentGuess:
        return self._guess(self.model.proba_one(text))

    def classify_many(self, texts: Sequence[str] | BatchFeatures) -> list[IntentGuess]:
        """:meth:`classify` for a batch (one sparse product; share ``BatchFeatures``)."""
        prob = self.model.proba_many(texts)
        if not len(prob):
            return []
        best = prob.argmax(axis=1).tolist()
        conf = prob[range(len(best)), best].tolist()
        names = self.model.classes_
        floor = self.min_confidence
        return [IntentGuess(names[b] if c >= floor else None, c, names[b]) for b, c in zip(best, conf, strict=True)]

    def _guess(self, prob) -> IntentGuess:  # noqa: ANN001 - a 1-d NumPy row
        i = int(prob.argmax())
        best = self.model.classes_[i]
        conf = float(prob[i])
        return IntentGuess(best if conf >= self.min_confidence else None, conf, best)


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from an examples YAML; errors name file, line and problem."""
    root, marks = load_yaml_with_marks(path)
    if not isinstance(root, dict) or not isinstance(root.get("intents"), dict):
        raise PolicyError(path, 1, "expected a mapping with key 'intents: {name: [examples]}'")
    pairs: list[tuple[str, str]] = []
    for name, examples in root["intents"].items():
        line = marks.get(("intents", name), 1)
        if not isinstance(examples, list) or not examples:
            raise PolicyError(path, line, f"intent {name!r}: give a non-empty list of examples")
        for ex in examples:
            if not isinstance(ex, str) or not ex.strip():
                raise PolicyError(path, line, f"intent {name!r}: examples must be non-empty text")
            pairs.append((ex.strip(), str(name)))
    return pairs


_lock = threading.Lock()
_default: IntentClassifier | None = None


def default_intents() -> IntentClassifier:
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = IntentClassifier.load()
    return _default
