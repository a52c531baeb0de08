"""One object the app holds for listening: loaded models, policies and streaming state.

The API (``somebound.api.listening_routes``) reads it from ``app.state.listening``; the
pipeline calls :meth:`ListeningService.process` per message. It does no I/O itself:
persisting events and sending alerts (webhook, email, supervisor banner) is for the
edges that receive the returned :class:`~somebound.listening.spikes.SpikeEvent` list.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from somebound.core.message import Message
from somebound.listening.alerts import BannerFeed, Sink, deliver
from somebound.listening.answers import AnswerBank, AnswerSuggester, PastReplyIndex
from somebound.listening.engagement import EngagementDecision, EngagementPolicy
from somebound.listening.enrich import EnrichContext, Enricher, Enrichment
from somebound.listening.influence import Influence, Interaction, influence_scores
from somebound.listening.spikes import SpikeConfig, SpikeDetector, SpikeEvent


def spike_keys(message: Message, enrichment: Enrichment) -> list[str]:
    """The streams a message counts in: its channel, intent and matched keywords."""
    keys = [f"channel:{message.channel.value}"]
    if enrichment.intent:
        keys.append(f"intent:{enrichment.intent}")
    keys += [f"keyword:{k}" for k in enrichment.keywords]
    return keys


@dataclass
class ProcessResult:
    enrichment: Enrichment
    decision: EngagementDecision
    spikes: list[SpikeEvent]


@dataclass
class ListeningService:
    enricher: Enricher
    policy: EngagementPolicy
    suggester: AnswerSuggester
    spikes: SpikeDetector = field(default_factory=SpikeDetector)
    interactions: list[Interaction] = field(default_factory=list)
    followers: dict[str, int] = field(default_factory=dict)
    alert_sinks: list[Sink] = field(default_factory=list)
    banner: BannerFeed = field(default_factory=BannerFeed)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def default(
        cls,
        *,
        engagement: str | Path | None = None,
        answer_bank: str | Path | None = None,
        languages: Sequence[str] = ("fi", "sv", "en"),
        spike_config: SpikeConfig | None = None,
    ) -> ListeningService:
        bank = AnswerBank.from_yaml(answer_bank) if answer_bank else AnswerBank.from_yaml()
        return cls(
            enricher=Enricher.default(languages),
            policy=EngagementPolicy.from_yaml(engagement) if engagement else EngagementPolicy.from_yaml(),
            suggester=AnswerSuggester(bank, PastReplyIndex()),
            spikes=SpikeDetector(spike_config),
        )

    def process(self, message: Message, context: EnrichContext | None = None) -> ProcessResult:
        """Enrich, decide engagement, feed the spike detector and the interaction graph."""
        return self._after(message, self.enricher.enrich(message, context), context)

    def process_many(
        self, messages: Sequence[Message], contexts: Sequence[EnrichContext | None] | None = None
    ) -> list[ProcessResult]:
        """:meth:`process` for a batch whose contexts are known up front (vectorised
        enrichment; decisions, spikes and the graph still see the messages in order)."""
        contexts = list(contexts) if contexts is not None else [None] * len(messages)
        enrichments = self.enricher.enrich_many(messages, contexts)
        return [self._after(m, e, c) for m, e, c in zip(messages, enrichments, contexts, strict=True)]

    def prefetch(self, messages: Sequence[Message]) -> None:
        """Analyse a claimed batch's texts in one pass before ``process`` is called per
        message (see :meth:`Enricher.prefetch`); results are the same either way."""
        self.enricher.prefetch(messages)

    def _after(self, message: Message, enrichment: Enrichment,
               context: EnrichContext | None) -> ProcessResult:
        decision = self.policy.decide(message, enrichment, context)
        with self._lock:
            events: list[SpikeEvent] = []
            negative = enrichment.sentiment == "negative"
            for key in spike_keys(message, enrichment):
                events += self.spikes.observe(message.sent_at, key, negative)
            self.record_author(message)
        if events:
            deliver([self.banner, *self.alert_sinks], events)
        return ProcessResult(enrichment, decision, events)

    def tick(self, now: datetime) -> list[SpikeEvent]:
        """Call every few seconds from a worker: clears spikes once the wall is quiet."""
        with self._lock:
            events = self.spikes.tick(now)
        if events:
            deliver([self.banner, *self.alert_sinks], events)
        return events

    def record_author(self, message: Message) -> None:
        """Remember reach and interactions (reply target, mentions, shares) from ``meta``.

        Adapters put ``meta["reply_to_author"]``, ``meta["mentions"]`` (list) and
        ``meta["shared_author"]`` when the channel tells them.
        """
        a = message.author.channel_user_id
        if message.author.followers is not None:
            self.followers[a] = message.author.followers
        topic = message.meta.get("topic")
        target = message.meta.get("reply_to_author")
        if target:
            self.interactions.append(Interaction(a, str(target), "reply", topic, message.sent_at))
        for m in message.meta.get("mentions", ()) or ():
            self.interactions.append(Interaction(a, str(m), "mention", topic, message.sent_at))
        shared = message.meta.get("shared_author")
        if shared:
            self.interactions.append(Interaction(a, str(shared), "share", topic, message.sent_at))

    def influence(self, author: str, topic: str | None = None) -> Influence | None:
        scores = influence_scores(self.interactions, self.followers, topic=topic)
        return scores.get(author)
