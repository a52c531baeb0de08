"""The vectorised batch path gives the per-message results, for any mix of texts.

``enrich_many``, ``prefetch`` and ``process_many`` exist only to be cheaper; if they ever
disagree with ``enrich`` / ``process`` a message would be triaged differently depending
on how it arrived. Hypothesis mixes real fi/sv/en sentences with markup, emoji, empty
and arbitrary Unicode text, adapter-given languages and customer-language fallbacks.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from listening_util import make_message

from somebound.core import Author
from somebound.listening.enrich import PREFETCH_MIN, EnrichContext, Enrichment
from somebound.listening.language import LanguageDetector, _walk_many
from somebound.listening.linear import featurize_many
from somebound.listening.service import ListeningService

SENTENCES = [
    "Netti ei toimi taas!! 😡", "Kiitos nopeasta avusta 👍", "Missä mun paketti on?",
    "Var är mitt paket? Beställde för en vecka sen", "Tack för hjälpen!", "Fakturan är fel igen 😤",
    "Where is my order??", "Thanks for sorting it out so fast!", "Charged twice, not happy",
    "Laskussa on virhe, veloititte kahdesti", "Nätet ligger nere i hela Vasa", "#telco 😂😂",
    "@Telco https://t.co/x", "ok", "", "   ", "HELLO THERE, IS ANYONE ANSWERING", "ok kiitos",
    "Jag vill säga upp mitt abonnemang omedelbart", "I want to cancel my order asap",
]
texts = st.one_of(st.sampled_from(SENTENCES), st.text(max_size=120),
                  st.lists(st.sampled_from(SENTENCES), min_size=2, max_size=4).map(" ".join),
                  st.text(alphabet="aäöeiklmnorstuvå #@!?😡👍.", max_size=400))
contexts = st.builds(
    EnrichContext,
    customer_language=st.sampled_from([None, "fi", "sv", "en"]),
    previous_contacts=st.integers(0, 4),
    parallel_contact=st.booleans(),
    sla_seconds_left=st.one_of(st.none(), st.floats(-600, 4000)),
)
items = st.tuples(texts, contexts, st.sampled_from([None, None, None, "fi", "en"]),
                  st.one_of(st.none(), st.integers(0, 50_000)))


def _close(a: Enrichment, b: Enrichment) -> None:
    """Same labels and reasons; scores may differ in the last float32 digit."""
    da, db = a.as_dict(), b.as_dict()
    for k in ("language_confidence", "sentiment_score", "sentiment_confidence",
              "intent_confidence", "urgency"):
        assert abs(da.pop(k) - db.pop(k)) <= 2e-4, k
    assert da == db


def _messages(batch):
    return [make_message(t, native_id=str(i), language=lang,
                         author=Author(f"u{i}", followers=f))
            for i, (t, _, lang, f) in enumerate(batch)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(items, min_size=1, max_size=25))
def test_enrich_many_equals_enrich_one_by_one(enricher, batch) -> None:
    msgs = _messages(batch)
    ctxs = [c for _, c, _, _ in batch]
    enricher.clear_prefetch()
    one = [enricher.enrich(m, c) for m, c in zip(msgs, ctxs, strict=True)]
    many = enricher.enrich_many(msgs, ctxs)
    for a, b in zip(one, many, strict=True):
        _close(a, b)
    # prefetch, then one at a time (the ingest pipeline's way) agrees as well
    enricher.prefetch(msgs)
    for m, c, a in zip(msgs, ctxs, one, strict=True):
        _close(enricher.enrich(m, c), a)
    enricher.clear_prefetch()


@settings(max_examples=40, deadline=None)
@given(st.lists(texts, min_size=1, max_size=40))
def test_batched_language_id_is_py3langid_exactly(batch) -> None:
    det = LanguageDetector(("fi", "sv", "en"))
    for a, b in zip((det.detect_text(t) for t in batch), det.detect_many(batch), strict=True):
        assert (a.language, a.source) == (b.language, b.source)
        assert abs(a.confidence - b.confidence) < 1e-4


def test_lockstep_walk_matches_py3langid_visits_with_a_long_tail() -> None:
    """Short posts walk in lockstep; a long email among them finishes in Python."""
    from collections import Counter

    from py3langid.langid import visit_counts

    det = LanguageDetector(("fi", "sv", "en"))
    ident = det._ident
    datas = [ident._encode(t) for t in SENTENCES * 3 + ["Hyvä asiakas, " * 300]]
    from somebound.listening.language import _dfa_tables

    rows, feats = _walk_many(datas, *_dfa_tables(ident), ident)
    for r, data in enumerate(datas):
        expected = visit_counts(ident.tk_nextmove, ident._rowbase, ident.tk_output, data) or Counter()
        assert Counter(feats[rows == r].tolist()) == expected


def test_decision_many_equals_decision_one(enricher) -> None:
    model = enricher.sentiment.models["fi"]
    batch = SENTENCES * 2
    one = np.vstack([model.decision_one(t) for t in batch])
    many = model.decision_many(featurize_many(batch))
    np.testing.assert_allclose(many, one, atol=1e-4)
    assert model.decision_many([]).shape == (0, len(model.classes_))


def test_process_many_feeds_spikes_and_graph_like_process(enricher) -> None:
    t = datetime(2026, 3, 2, 12)
    msgs = [make_message(f"Katkos taas {i}, netti ei toimi", user=f"fan{i % 8}", native_id=str(i),
                         sent_at=t + timedelta(seconds=i), meta={"reply_to_author": "matti"})
            for i in range(60)]
    a, b = ListeningService.default(), ListeningService.default()
    one = [a.process(m) for m in msgs]
    many = b.process_many(msgs)
    assert [r.decision for r in one] == [r.decision for r in many]
    assert [[(s.kind, s.key, s.metric) for s in r.spikes] for r in one] == \
        [[(s.kind, s.key, s.metric) for s in r.spikes] for r in many]
    assert a.spikes.active() == b.spikes.active()
    assert a.influence("matti") == b.influence("matti")
    assert b.influence("matti").in_edges == 60


def test_prefetch_is_keyed_by_text_and_language(enricher) -> None:
    """A prefetched analysis is not reused for another candidate set or given language."""
    m = make_message("Tack för hjälpen!")
    enricher.prefetch([m, *(make_message(t) for t in SENTENCES[:PREFETCH_MIN])])
    assert ("Tack för hjälpen!", ("fi", "sv", "en"), None) in enricher._prefetched
    only_fi = replace(EnrichContext(), languages=("fi",))
    assert enricher.enrich(m, only_fi).language == "fi"
    assert enricher.enrich(m).language == "sv"
    assert enricher.enrich(make_message("Tack för hjälpen!", language="en")).language == "en"
    enricher.clear_prefetch()


def test_a_small_batch_is_not_prefetched_and_enriches_the_same(enricher, monkeypatch) -> None:
    """Below PREFETCH_MIN texts the vectorised pass is skipped (it costs more than the texts
    one at a time); ``enrich`` then analyses each as it would without a prefetch."""
    msgs = [make_message(t, native_id=str(i)) for i, t in enumerate(SENTENCES[:3])]
    enricher.clear_prefetch()
    alone = [enricher.enrich(m) for m in msgs]
    calls: list[int] = []
    real = enricher.analyse_texts
    monkeypatch.setattr(enricher, "analyse_texts",
                        lambda texts, *a, **k: calls.append(len(texts)) or real(texts, *a, **k))
    enricher.prefetch(msgs)
    assert calls == [] and not enricher._prefetched
    assert [enricher.enrich(m) for m in msgs] == alone
    enricher.prefetch([make_message(t) for t in (SENTENCES * 2)[:PREFETCH_MIN]])
    assert calls == [PREFETCH_MIN]  # from PREFETCH_MIN texts on, one vectorised pass
    enricher.clear_prefetch()
