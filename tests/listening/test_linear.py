from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from somebound.listening.linear import Lexicon, LinearTextClassifier, _prepare

TEXTS = [
    "love this great service", "awesome thanks so much", "great fast help", "really happy now",
    "terrible slow awful", "this is awful and broken", "worst service ever", "hate the delays",
    "the parcel arrived today", "my order number is 123", "where is the store", "opening hours please",
] * 3
LABELS = (["positive"] * 4 + ["negative"] * 4 + ["neutral"] * 4) * 3


def test_exported_model_matches_scikit_learn_pipeline():
    model = LinearTextClassifier(min_df=1, C=2.0).fit(TEXTS, LABELS)
    prepared = [_prepare(t) for t in TEXTS]
    wv = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, max_features=20_000)
    cv = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, max_features=30_000)
    X = sparse.hstack([wv.fit_transform(prepared), cv.fit_transform(prepared)], format="csr")
    ref = LogisticRegression(C=2.0, class_weight="balanced", max_iter=2000).fit(X, LABELS)
    probe = ["great help thanks", "awful broken parcel", "where is my order", "zzz"]
    Xp = sparse.hstack([wv.transform(probe), cv.transform(probe)], format="csr")
    np.testing.assert_allclose(model.predict_proba(probe), ref.predict_proba(Xp), atol=2e-4)


def test_save_load_roundtrip_keeps_predictions(tmp_path):
    lex = Lexicon({"great": 3.0, "awful": -3.0})
    model = LinearTextClassifier(min_df=1, lexicon=lex).fit(TEXTS, LABELS)
    path = model.save(tmp_path / "m.npz", meta={"x": 1})
    loaded = LinearTextClassifier.load(path)
    probe = ["great stuff", "awful stuff", "opening hours"]
    np.testing.assert_allclose(loaded.predict_proba(probe), model.predict_proba(probe), atol=5e-3)
    assert loaded.predict(probe) == model.predict(probe)
    assert loaded.lexicon is not None and loaded.lexicon.scores["great"] == 3.0
    assert loaded.meta_ == {"x": 1}


def test_lexicon_uses_stems_and_emoji():
    lex = Lexicon({"hyvä": 3.0, "😡": -3.0}, stemmer="finnish")
    pos, neg = lex.features("hyvää palvelua 😡")
    assert pos > 0 and neg > 0
    assert lex.features("ei mitään") == (0.0, 0.0)


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="two distinct labels"):
        LinearTextClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        LinearTextClassifier().fit(["a", "b"], ["x"])
    bad = tmp_path / "bad.npz"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="bad.npz"):
        LinearTextClassifier.load(bad)
    with pytest.raises(RuntimeError, match="not fitted"):
        LinearTextClassifier().decision_one("x")
