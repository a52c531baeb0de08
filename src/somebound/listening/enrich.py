"""The listening stage of the pipeline: enrich every message.

``Enricher.enrich(message, context)`` returns language, sentiment, intent, urgency and
author reach. Models are loaded once (the first :func:`default_enricher` call, or when
the app builds an :class:`Enricher`) and scoring is pure: the same message and context
always give the same enrichment. Cost is a few hundred microseconds per message (see
bench/listening.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from somebound.core.enums import Bound, Priority
from somebound.core.message import Message
from somebound.listening.intent import IntentClassifier, default_intents
from somebound.listening.language import LanguageDetector
from somebound.listening.sentiment import SentimentAnalyzer, default_sentiment
from somebound.listening.urgency import UrgencyRules, UrgencySignals


@dataclass(frozen=True, slots=True)
class EnrichContext:
    """What the pipeline knows beyond the message itself."""

    languages: tuple[str, ...] = ("fi", "sv", "en")  # the company's served languages
    customer_language: str | None = None  # known language of the customer, the fallback
    previous_contacts: int = 0  # earlier contacts on the same matter (repeat contact)
    parallel_contact: bool = False  # the customer waits in another channel's queue too
    sla_seconds_left: float | None = None
    bound: Bound | None = None


@dataclass(frozen=True, slots=True)
class Enrichment:
    language: str
    language_confidence: float
    language_source: str  # text | fallback | none
    sentiment: str
    sentiment_score: float
    sentiment_confidence: float
    intent: str | None
    intent_confidence: float
    urgency: float
    priority: Priority
    urgency_reasons: tuple[str, ...]
    keywords: tuple[str, ...]
    reach: int | None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["priority"] = self.priority.value
        d["urgency_reasons"] = list(self.urgency_reasons)
        d["keywords"] = list(self.keywords)
        return d


class Enricher:
    """Holds the loaded models; ``enrich`` is the pipeline stage."""

    def __init__(
        self,
        *,
        sentiment: SentimentAnalyzer,
        intents: IntentClassifier | None,
        urgency: UrgencyRules,
        languages: Sequence[str] = ("fi", "sv", "en"),
    ) -> None:
        self.sentiment = sentiment
        self.intents = intents
        self.urgency = urgency
        self.languages = tuple(languages)
        self._detectors: dict[tuple[str, ...], LanguageDetector] = {
            self.languages: LanguageDetector(self.languages)
        }

    @classmethod
    def default(cls, languages: Sequence[str] = ("fi", "sv", "en")) -> Enricher:
        return cls(
            sentiment=default_sentiment(),
            intents=default_intents(),
            urgency=UrgencyRules.from_yaml(),
            languages=languages,
        )

    def _detector(self, languages: tuple[str, ...]) -> LanguageDetector:
        det = self._detectors.get(languages)
        if det is None:
            det = self._detectors[languages] = LanguageDetector(languages)
        return det

    def enrich_text(self, text: str, context: EnrichContext | None = None, *,
                    followers: int | None = None, language: str | None = None) -> Enrichment:
        """Enrich bare text (the API's analyse endpoint, benchmarks)."""
        ctx = context or EnrichContext(languages=self.languages)
        if language:
            lang, lconf, lsrc = language, 1.0, "given"
        else:
            g = self._detector(ctx.languages).detect(text, ctx.customer_language)
            lang, lconf, lsrc = g.language, g.confidence, g.source
        sent = self.sentiment.analyse(text, lang)
        if self.intents is not None and text.strip():
            ig = self.intents.classify(text)
            intent, iconf = ig.intent, ig.confidence
        else:
            intent, iconf = None, 0.0
        urg = self.urgency.assess(
            UrgencySignals(
                text=text,
                language=lang,
                sentiment_score=sent.score,
                previous_contacts=ctx.previous_contacts,
                parallel_contact=ctx.parallel_contact,
                sla_seconds_left=ctx.sla_seconds_left,
                followers=followers,
            )
        )
        return Enrichment(
            language=lang,
            language_confidence=round(lconf, 4),
            language_source=lsrc,
            sentiment=sent.label,
            sentiment_score=round(sent.score, 4),
            sentiment_confidence=round(sent.confidence, 4),
            intent=intent,
            intent_confidence=round(iconf, 4),
            urgency=urg.score,
            priority=urg.priority,
            urgency_reasons=urg.reasons,
            keywords=urg.keywords,
            reach=followers,
        )

    def enrich(self, message: Message, context: EnrichContext | None = None) -> Enrichment:
        """Enrich one message. A language the adapter already knows is trusted."""
        text = message.body if message.subject is None else f"{message.subject}\n{message.body}"
        return self.enrich_text(
            text, context, followers=message.author.followers, language=message.language
        )


_lock = threading.Lock()
_default: Enricher | None = None


def default_enricher() -> Enricher:
    """The process-wide enricher with the shipped models (lazy, thread-safe)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Enricher.default()
    return _default
