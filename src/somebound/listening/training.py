"""Reproducible training of the shipped listening models (``somebound train``).

Everything is deterministic: the train/held-out split is a hash of the text, inputs are
sorted, and L-BFGS logistic regression has no randomness, so running the same command
on the same data rewrites the same weights. Held-out figures are written beside the
models in ``training_report.json`` and quoted in docs/listening.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from somebound.listening import datasets
from somebound.listening.intent import SEED_EXAMPLES, IntentClassifier, load_examples
from somebound.listening.linear import Lexicon, LinearTextClassifier
from somebound.listening.sentiment import MODELS_DIR

SNOWBALL = {"fi": "finnish", "sv": "swedish", "en": "english"}
SENTIMENT_C = 1.0


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(list(y_true), list(y_pred), average="macro"))


def accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    return sum(a == b for a, b in zip(y_true, y_pred, strict=True)) / max(1, len(y_true))


def fit_sentiment(
    rows: Sequence[datasets.Labelled], lexicon: dict[str, float] | None, language: str
) -> LinearTextClassifier:
    rows = sorted(rows, key=lambda r: (r.text, r.label))
    lex = Lexicon(lexicon, stemmer=SNOWBALL.get(language)) if lexicon else None
    return LinearTextClassifier(C=SENTIMENT_C, lexicon=lex).fit(
        [r.text for r in rows], [r.label for r in rows]
    )


def train_sentiment(
    out_dir: Path = MODELS_DIR,
    languages: Sequence[str] = ("fi", "sv", "en"),
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Train one model per language on XED (+AFINN for fi/sv); report held-out macro-F1."""
    report: dict[str, Any] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        rows = datasets.xed_sentiment(lang, data_dir)
        train, test = datasets.split(rows)
        lexicon = datasets.afinn(lang, data_dir) if lang in datasets.AFINN_FILES else None
        model = fit_sentiment(train, lexicon, lang)
        pred = model.predict([r.text for r in test])
        gold = [r.label for r in test]
        majority = Counter(r.label for r in train).most_common(1)[0][0]
        report[lang] = {
            "train": len(train),
            "held_out": len(test),
            "macro_f1": round(macro_f1(gold, pred), 4),
            "accuracy": round(accuracy(gold, pred), 4),
            "majority_macro_f1": round(macro_f1(gold, [majority] * len(gold)), 4),
            "lexicon": "AFINN-165 " + lang if lexicon else None,
        }
        model.save(
            out_dir / f"sentiment_{lang}.npz",
            meta={"data": datasets.XED_FILES[lang], "held_out": report[lang]},
        )
    return report


def intent_training_rows(data_dir: Path | None = None) -> list[tuple[str, str]]:
    """Bitext instructions (train split) + the shipped fi/sv/en seed examples."""
    rows = [(r.text, r.label) for r in datasets.bitext_intents(data_dir)]
    train = [(t, y) for t, y in rows if not datasets.is_held_out(t)]
    if SEED_EXAMPLES.exists():
        train += load_examples(SEED_EXAMPLES)
    return sorted(set(train))


def train_intent(out_dir: Path = MODELS_DIR, data_dir: Path | None = None) -> dict[str, Any]:
    rows = intent_training_rows(data_dir)
    clf = IntentClassifier.fit([t for t, _ in rows], [y for _, y in rows])
    held = [r for r in datasets.bitext_intents(data_dir) if datasets.is_held_out(r.text)]
    pred = clf.model.predict([r.text for r in held])
    report = {
        "train": len(rows),
        "held_out": len(held),
        "intents": len(clf.intents),
        "accuracy": round(accuracy([r.label for r in held], pred), 4),
        "data": "bitext_cs_6480_canonical_replies.csv + intent_examples.yaml",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    clf.model.save(out_dir / "intent.npz", meta={"held_out": report})
    return report


def train_intent_from_file(examples: Path, out: Path) -> dict[str, Any]:
    """A company's own intents: YAML examples -> model, with a held-out accuracy estimate."""
    pairs = sorted(set(load_examples(examples)))
    train = [p for p in pairs if not datasets.is_held_out(p[0], 0.2)]
    test = [p for p in pairs if datasets.is_held_out(p[0], 0.2)]
    report: dict[str, Any] = {"examples": len(pairs)}
    if test and len({y for _, y in train}) >= 2:
        probe = IntentClassifier.fit([t for t, _ in train], [y for _, y in train])
        report["held_out"] = len(test)
        report["accuracy"] = round(
            accuracy([y for _, y in test], probe.model.predict([t for t, _ in test])), 4
        )
    final = IntentClassifier.fit([t for t, _ in pairs], [y for _, y in pairs])
    final.model.save(out, meta={"source": str(examples), "report": report})
    return report


def train_sentiment_from_csv(path: Path, out_dir: Path) -> dict[str, Any]:
    """A company's own labelled messages: CSV text,label,language -> one model per language."""
    import csv

    by_lang: dict[str, list[datasets.Labelled]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"text", "label", "language"}
        if not need <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}:1: header must contain {sorted(need)}")
        for lineno, row in enumerate(reader, start=2):
            if row["label"] not in ("negative", "neutral", "positive"):
                raise ValueError(
                    f"{path}:{lineno}: label {row['label']!r} must be negative|neutral|positive"
                )
            by_lang.setdefault(row["language"], []).append(
                datasets.Labelled(row["text"], row["label"], row["language"])
            )
    report: dict[str, Any] = {}
    for lang, rows in sorted(by_lang.items()):
        train, test = datasets.split(rows)
        model = fit_sentiment(train or rows, None, lang)
        if test:
            report[lang] = {
                "held_out": len(test),
                "macro_f1": round(
                    macro_f1([r.label for r in test], model.predict([r.text for r in test])), 4
                ),
            }
        fit_sentiment(rows, None, lang).save(out_dir / f"sentiment_{lang}.npz")
    return report


def write_report(out_dir: Path, section: str, report: dict[str, Any]) -> Path:
    path = out_dir / "training_report.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[section] = report
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
