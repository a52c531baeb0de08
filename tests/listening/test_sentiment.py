from __future__ import annotations

import numpy as np
import pytest
from listening_util import needs_data

from somebound.listening import datasets, training
from somebound.listening.linear import LinearTextClassifier
from somebound.listening.sentiment import MODELS_DIR, SentimentAnalyzer, default_sentiment


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [
        ("Tämä on aivan surkeaa palvelua, olen tosi vihainen", "fi", "negative"),
        ("Ihana kiitos, olette parhaita!", "fi", "positive"),
        ("Det här är helt värdelöst, jag hatar er", "sv", "negative"),
        ("Tack så mycket, ni är underbara!", "sv", "positive"),
        ("This is awful, I hate you", "en", "negative"),
        ("Thank you so much, you are wonderful!", "en", "positive"),
    ],
)
def test_clear_cases_in_three_languages(text, lang, label):
    s = default_sentiment().analyse(text, lang)
    assert s.label == label
    assert (s.score > 0) == (label == "positive")


def test_emoji_shift_the_score_and_work_without_a_model():
    an = default_sentiment()
    plain = an.analyse("Paketti tuli tänään", "fi").score
    assert an.analyse("Paketti tuli tänään 😡😡", "fi").score < plain
    assert an.analyse("Paketti tuli tänään 😍🎉", "fi").score > plain
    de = an.analyse("Das Paket kam heute 😡", "de")
    assert (de.label, de.model) == ("negative", "emoji")
    assert an.analyse("Das Paket kam heute", "de").label == "neutral"


def test_model_without_required_classes_is_rejected():
    m = LinearTextClassifier(min_df=1).fit(["good", "bad"] * 3, ["positive", "negative"] * 3)
    with pytest.raises(ValueError, match="lacks classes"):
        SentimentAnalyzer({"fi": m})


@needs_data()
def test_held_out_macro_f1_beats_majority_by_far():
    an = default_sentiment()
    for lang, floor in (("fi", 0.55), ("en", 0.52), ("sv", 0.48)):
        _, test = datasets.split(datasets.xed_sentiment(lang))
        test = test[:500]
        pred = [an.analyse(r.text, lang).label for r in test]
        f1 = training.macro_f1([r.label for r in test], pred)
        assert f1 >= floor, (lang, f1)


@needs_data()
@pytest.mark.slow
def test_shipped_swedish_model_is_reproducible_from_training_code():
    train, _ = datasets.split(datasets.xed_sentiment("sv"))
    fresh = training.fit_sentiment(train, datasets.afinn("sv"), "sv")
    shipped = LinearTextClassifier.load(MODELS_DIR / "sentiment_sv.npz")
    assert fresh.classes_ == shipped.classes_
    assert fresh.vocab_ == shipped.vocab_
    np.testing.assert_allclose(fresh.coef_, shipped.coef_, atol=2e-3, rtol=2e-3)
