"""Readers for the shared training data (``somebound.core.data.shared_data_dir()``).

Kept apart from the models so that training, benchmarks and tests split the data the
same deterministic way (a hash of the text, not a random generator), and nothing is
ever copied into the repository.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from somebound.core.data import shared_data_dir

XED_FILES = {
    "en": "xed_en_emotions.csv",
    "fi": "xed_fi_emotions.csv",
    "sv": "xed_sv_projected_emotions.csv",
}
AFINN_FILES = {"fi": "afinn_fi.csv", "sv": "afinn_sv.csv"}
# XED's polarity column: joy/trust positive, anger/disgust/fear/sadness negative,
# anticipation/surprise "mixed_or_other" which is the closest thing it has to neutral.
POLARITY_TO_SENTIMENT = {"negative": "negative", "positive": "positive", "mixed_or_other": "neutral"}


@dataclass(frozen=True, slots=True)
class Labelled:
    text: str
    label: str
    language: str | None = None


def _path(name: str, data_dir: Path | None) -> Path:
    path = (data_dir or shared_data_dir()) / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: training data not found; set SOMEBOUND_DATA_DIR to the folder holding "
            "sources.json (see docs/listening.md)"
        )
    return path


def is_held_out(text: str, fraction: float = 0.2) -> bool:
    """Deterministic split: the same text is always on the same side."""
    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    return (h % 10_000) < fraction * 10_000


def split(rows: list[Labelled], fraction: float = 0.2) -> tuple[list[Labelled], list[Labelled]]:
    train = [r for r in rows if not is_held_out(r.text, fraction)]
    test = [r for r in rows if is_held_out(r.text, fraction)]
    return train, test


def xed_sentiment(language: str, data_dir: Path | None = None) -> list[Labelled]:
    """XED sentences with polarity mapped to negative / neutral / positive."""
    path = _path(XED_FILES[language], data_dir)
    seen: set[str] = set()
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = row["text"].strip()
            if not text or text in seen:
                continue
            seen.add(text)
            out.append(Labelled(text, POLARITY_TO_SENTIMENT[row["polarity"]], language))
    return out


def afinn(language: str, data_dir: Path | None = None) -> dict[str, float]:
    path = _path(AFINN_FILES[language], data_dir)
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["term"].strip().casefold(): float(row["score"]) for row in csv.DictReader(fh)}


def banking77(part: str = "train", data_dir: Path | None = None) -> list[Labelled]:
    path = _path(f"banking77_{part}.csv", data_dir)
    with path.open(encoding="utf-8", newline="") as fh:
        return [Labelled(r["text"], r["category"], "en") for r in csv.DictReader(fh)]


def bitext(data_dir: Path | None = None, *, varied: bool = False) -> list[dict[str, str]]:
    """Bitext customer-support rows (instruction, intent, category, response)."""
    name = "bitext_cs_4514_varied_replies.csv" if varied else "bitext_cs_6480_canonical_replies.csv"
    path = _path(name, data_dir)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def bitext_intents(data_dir: Path | None = None) -> list[Labelled]:
    return [Labelled(r["instruction"], r["intent"], "en") for r in bitext(data_dir)]
