from __future__ import annotations

import argparse
import csv
import json

from somebound.listening import commands
from somebound.listening.sentiment import SentimentAnalyzer


def _parser():
    p = argparse.ArgumentParser()
    commands.register(p.add_subparsers(dest="command", required=True))
    return p


def test_train_own_sentiment_from_csv(tmp_path, capsys):
    path = tmp_path / "mine.csv"
    rows = [("Loistavaa palvelua", "positive"), ("Surkeaa touhua", "negative"), ("Paketti tuli", "neutral")]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "language"])
        for i in range(20):
            for text, label in rows:
                w.writerow([f"{text} {i}", label, "fi"])
    args = _parser().parse_args(["train", "--labelled", str(path), "--out", str(tmp_path / "m")])
    assert args.func(args) == 0
    assert "sentiment" in json.loads(capsys.readouterr().out)
    an = SentimentAnalyzer.load(tmp_path / "m")
    assert an.analyse("Surkeaa touhua taas", "fi").label == "negative"


def test_bad_label_is_reported_with_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("text,label,language\nhyvä,positive,fi\npaha,angry,fi\n", encoding="utf-8")
    args = _parser().parse_args(["train", "--labelled", str(path), "--out", str(tmp_path)])
    assert args.func(args) == 2
    assert "bad.csv:3: label 'angry'" in capsys.readouterr().err


def test_listen_prints_enrichment_and_decision(capsys):
    args = _parser().parse_args(["listen", "Var", "är", "mitt", "paket?"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["enrichment"]["language"] == "sv" and out["decision"]["action"] in {"answer", "watch", "ignore"}
