from __future__ import annotations

import random

import pytest
from listening_util import needs_data

from somebound.listening import datasets
from somebound.listening.language import LanguageDetector, detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Missä mun paketti on?", "fi"),
        ("Kiitos nopeasta avusta!", "fi"),
        ("Var är mitt paket?", "sv"),
        ("Tack för snabb hjälp!", "sv"),
        ("Where is my parcel?", "en"),
        ("Thanks for the quick help!", "en"),
        ("@Telco netti ei toimi taas #fail https://x.co/abc", "fi"),
    ],
)
def test_short_social_texts(text, lang):
    assert detect_language(text).language == lang


def test_markup_only_is_unknown_or_customer_language():
    assert detect_language("#telco 😀😀 @someone https://t.co/x").language == "und"
    guess = detect_language("#telco 😀😀", fallback="sv")
    assert (guess.language, guess.source) == ("sv", "fallback")


def test_candidates_are_restricted_to_company_languages():
    det = LanguageDetector(("fi", "en"))
    assert det.detect("Var är mitt paket? Jag har väntat länge").language in {"fi", "en"}
    assert LanguageDetector(("sv",)).detect("anything at all").language == "sv"
    with pytest.raises(ValueError, match="ISO 639-1"):
        LanguageDetector(("xx",))


@needs_data()
def test_accuracy_on_short_xed_sentences():
    det = LanguageDetector()
    correct = total = 0
    for lang in ("fi", "sv", "en"):
        rows = [r for r in datasets.xed_sentiment(lang) if len(r.text) <= 40]
        random.Random(1).shuffle(rows)
        for r in rows[:150]:
            total += 1
            correct += det.detect(r.text).language == lang
    assert correct / total >= 0.95
