from __future__ import annotations

import pytest

from somebound.listening import training
from somebound.listening.intent import IntentClassifier, default_intents, load_examples
from somebound.listening.policy_yaml import PolicyError

FEW_SHOT = {
    "billing": [
        "Laskussani on virhe", "Miksi lasku on niin suuri", "Laskun summa on väärä",
        "Fakturan är fel", "Varför är räkningen så hög", "Fel belopp på fakturan",
        "My bill is wrong", "Why is my invoice so high", "Wrong amount on my bill",
        "Laskutuksessa on jotain outoa", "Fakturan stämmer inte", "The invoice total is off",
    ],
    "outage": [
        "Netti ei toimi", "Verkko on poikki", "Yhteys katkeilee jatkuvasti",
        "Internet fungerar inte", "Nätet ligger nere", "Uppkopplingen bryts hela tiden",
        "My internet is down", "The network is not working", "Connection keeps dropping",
        "Mobiilidata ei toimi", "Mobildata fungerar inte", "Mobile data stopped working",
    ],
    "delivery": [
        "Missä pakettini on", "Tilaus ei ole tullut", "Milloin paketti saapuu",
        "Var är mitt paket", "Beställningen har inte kommit", "När kommer paketet",
        "Where is my parcel", "My order has not arrived", "When will the package come",
        "Toimitus on myöhässä", "Leveransen är sen", "The delivery is late",
    ],
}


def test_few_shot_company_intents_in_three_languages():
    texts = [t for ts in FEW_SHOT.values() for t in ts]
    labels = [k for k, ts in FEW_SHOT.items() for _ in ts]
    clf = IntentClassifier.fit(texts, labels)
    probes = {
        "Laskuni on liian iso tässä kuussa": "billing",
        "Nätet fungerar inte igen": "outage",
        "Paketti ei ole vieläkään tullut": "delivery",
        "internet not working again": "outage",
    }
    for text, want in probes.items():
        assert clf.classify(text).best == want, text


def test_confidence_floor_returns_none():
    clf = IntentClassifier.fit(["a b", "c d", "a b c", "c d e"], ["x", "y", "x", "y"],
                               min_confidence=0.99)
    g = clf.classify("zzz")
    assert g.intent is None and g.best in {"x", "y"}


def test_shipped_default_knows_finnish_and_swedish_seed_intents():
    clf = default_intents()
    assert clf.classify("Haluan perua tilaukseni").intent == "cancel_order"
    assert clf.classify("Var är mitt paket?").intent == "track_order"
    assert clf.classify("Where is my order?").intent == "track_order"


def test_examples_file_errors_name_line(tmp_path):
    p = tmp_path / "ex.yaml"
    p.write_text("intents:\n  billing:\n    - ok\n  outage: []\n")
    with pytest.raises(PolicyError, match=r"ex.yaml:4: intent 'outage'"):
        load_examples(p)


def test_train_from_company_file_reports_held_out_accuracy(tmp_path):
    import yaml

    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump({"intents": FEW_SHOT}, allow_unicode=True))
    report = training.train_intent_from_file(p, tmp_path / "intent.npz")
    assert report["examples"] == 36
    assert 0.0 <= report.get("accuracy", 0.0) <= 1.0
    clf = IntentClassifier.load(tmp_path / "intent.npz")
    assert set(clf.intents) == set(FEW_SHOT)
