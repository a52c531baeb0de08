"""Canned answers for the reply composer: search in Finnish, Swedish or English, fill variables.

The answer bank proper is ``somebound.listening.answers.AnswerBank`` (its YAML bank, BM25
per language); the composer only needs ``search(q, lang) -> [{id, title, body, lang}]`` and
``fill(body, values)``. When the listening module is not installed, a small bank of our own (``canned_answers.yaml``) with a BM25 ranking over
word prefixes (so Finnish inflections such as *toimitus/toimituksen* meet) stands in.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml

BUILTIN_BANK = Path(__file__).parent / "canned_answers.yaml"
ANSWER_LANGUAGES = ("fi", "sv", "en")
_WORD = re.compile(r"\w+", re.UNICODE)
_VAR = re.compile(r"\{\{?\s*([a-z_]+)\s*\}?\}")
PREFIX = 5  # characters of a word compared: a crude, language-blind stemmer


class AnswerSource(Protocol):
    def search(self, q: str, lang: str, limit: int = 8) -> list[dict[str, Any]]: ...

    def fill(self, body: str, values: dict[str, Any]) -> str: ...


class AnswerBankError(ValueError):
    pass


@dataclass(frozen=True)
class CannedAnswer:
    id: str
    lang: str
    title: str
    body: str
    tags: tuple[str, ...] = ()


def _terms(text: str) -> list[str]:
    return [w[:PREFIX] for w in _WORD.findall(text.casefold())]


class YamlAnswerBank:
    """Answers from a YAML file: ``answers: [{id, tags, fi|sv|en: {title, body}}]``."""

    def __init__(self, answers: list[CannedAnswer]):
        self.answers = answers
        self._docs = [Counter(_terms(f"{a.title} {a.title} {' '.join(a.tags)} {a.body}"))
                      for a in answers]
        self._avg = sum(sum(d.values()) for d in self._docs) / max(len(self._docs), 1)

    @classmethod
    def load(cls, path: Path = BUILTIN_BANK) -> YamlAnswerBank:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise AnswerBankError(f"{path}: not valid YAML: {exc}") from exc
        items = data.get("answers") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise AnswerBankError(f"{path}: expected a top-level 'answers:' list")
        out: list[CannedAnswer] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "id" not in item:
                raise AnswerBankError(f"{path}: answers[{i}] needs an 'id'")
            tags = tuple(str(t) for t in item.get("tags") or ())
            langs = [lang for lang in ANSWER_LANGUAGES if lang in item]
            if not langs:
                raise AnswerBankError(f"{path}: answer {item['id']!r} has no fi, sv or en text")
            for lang in langs:
                text = item[lang]
                if not isinstance(text, dict) or not text.get("body"):
                    raise AnswerBankError(f"{path}: answer {item['id']!r}.{lang} needs "
                                          "'title' and 'body'")
                out.append(CannedAnswer(str(item["id"]), lang, str(text.get("title") or
                                                                    item["id"]),
                                        str(text["body"]), tags))
        return cls(out)

    def search(self, q: str, lang: str, limit: int = 8) -> list[dict[str, Any]]:
        """BM25 over the answers in ``lang``; an empty query lists them all by title."""
        terms = _terms(q)
        pool = [(a, d) for a, d in zip(self.answers, self._docs, strict=True)
                if lang in ("", "any") or a.lang == lang]
        if not terms:
            ranked = sorted(pool, key=lambda p: p[0].title.casefold())
            return [_public(a, 0.0) for a, _ in ranked[:limit]]
        n = len(pool)
        df = Counter(t for _, d in pool for t in set(d))
        scored = []
        for a, d in pool:
            length = sum(d.values())
            score = 0.0
            for t in terms:
                tf = d.get(t, 0)
                if not tf:
                    continue
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / self._avg))
            if score > 0:
                scored.append((score, a))
        scored.sort(key=lambda s: (-s[0], s[1].title))
        return [_public(a, s) for s, a in scored[:limit]]

    def fill(self, body: str, values: dict[str, Any]) -> str:
        return fill_variables(body, values)


def _public(a: CannedAnswer, score: float) -> dict[str, Any]:
    return {"id": a.id, "lang": a.lang, "title": a.title, "body": a.body,
            "score": round(score, 3)}


class ListeningBankAdapter:
    """``somebound.listening.answers.AnswerBank`` behind the composer's small interface."""

    def __init__(self, bank: Any):
        self.bank = bank

    def search(self, q: str, lang: str, limit: int = 8) -> list[dict[str, Any]]:
        if not q.strip():  # the composer lists every answer before anything is typed
            found = [(a, 0.0) for a in self.bank.answers.values() if lang in a.body]
            found.sort(key=lambda p: (p[0].title.get(lang) or p[0].id).casefold())
        else:
            found = self.bank.search(q, lang, k=limit)
        out = []
        for a, score in found[:limit]:
            body_lang = lang if lang in a.body else "en" if "en" in a.body else next(iter(a.body))
            out.append({"id": a.id, "lang": body_lang,
                        "title": a.title.get(body_lang) or a.title.get("en") or a.id,
                        "body": a.body[body_lang], "score": round(float(score), 3)})
        return out

    def fill(self, body: str, values: dict[str, Any]) -> str:
        from somebound.listening.answers import render

        return render(body, values, strict=False)  # unknown variables stay for the agent


@lru_cache(maxsize=1)
def default_bank() -> AnswerSource:
    """The listening module's bank when it is installed, else the built-in YAML bank."""
    try:
        from somebound.listening.answers import AnswerBank
    except ImportError:
        return YamlAnswerBank.load()
    return ListeningBankAdapter(AnswerBank.from_yaml())


def fill(bank: AnswerSource, body: str, values: dict[str, Any]) -> str:
    """Fill a found answer's variables the way its bank defines them."""
    filler = getattr(bank, "fill", None)
    return filler(body, values) if callable(filler) else fill_variables(body, values)


def fill_variables(body: str, values: dict[str, Any]) -> str:
    """Replace ``{customer_name}`` / ``{{ customer_name }}``; unknown variables stay visible."""

    def sub(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        return m.group(0) if value in (None, "") else str(value)

    return _VAR.sub(sub, body)
