"""The canned-answer bank agents use, and suggested answers for incoming messages.

Bank format (YAML), validated on load with file/line errors::

    answers:
      - id: outage-status
        title: {fi: Verkkohäiriö, sv: Nätverksstörning, en: Network outage}
        tags: [outage, network]
        intents: [complaint]          # optional: boosts the answer for these intents
        body:
          fi: "Hei {customer_name}! ..."
          sv: "Hej {customer_name}! ..."
          en: "Hi {customer_name}! ..."

Bodies may use only the variables in :data:`VARIABLES`; ``{{`` and ``}}`` are literal
braces. Rendering substitutes in one pass and never evaluates anything, so a customer
name like ``{agent_name}`` or ``{0.__class__}`` stays text.

Suggestions combine BM25 over the bank (in the message's language) with BM25 over past
agent replies that solved similar cases (matched on the customer's message), plus a
boost for answers tagged with the message's intent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from somebound.listening.bm25 import BM25Index
from somebound.listening.policy_yaml import PolicyError, load_yaml_with_marks

DEMO_BANK = Path(__file__).resolve().parent / "answer_bank.yaml"
VARIABLES = frozenset(
    {"customer_name", "case_number", "agent_name", "company_name", "order_number", "date"}
)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class RenderError(ValueError):
    pass


@dataclass(frozen=True)
class Answer:
    id: str
    title: dict[str, str]
    body: dict[str, str]
    tags: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()

    def languages(self) -> list[str]:
        return sorted(self.body)

    def text_for(self, language: str) -> str:
        return " ".join([self.title.get(language, ""), " ".join(self.tags), self.body[language]])


def placeholders(template: str) -> list[str]:
    return [m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1) is not None]


def render(template: str, values: Mapping[str, object], *, strict: bool = True) -> str:
    """Fill ``{variable}`` placeholders in one pass.

    ``strict``: a placeholder without a value raises :class:`RenderError` naming it;
    otherwise it is left visible (``{customer_name}``) for the agent to fill in.
    """
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1)
        if name in values and values[name] is not None:
            return str(values[name])
        missing.append(name)
        return tok

    out = _PLACEHOLDER.sub(sub, template)
    if missing and strict:
        raise RenderError(
            f"no value for {', '.join(sorted(set(missing)))}; pass them or use strict=False"
        )
    return out


@dataclass(frozen=True, slots=True)
class Suggestion:
    source: str  # bank | past
    id: str
    title: str
    body: str
    language: str
    score: float
    why: str


@dataclass
class AnswerBank:
    answers: dict[str, Answer]
    source: str = "<memory>"
    _indexes: dict[str, BM25Index] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self._indexes = {}
        for a in self.answers.values():
            for lang in a.body:
                idx = self._indexes.get(lang)
                if idx is None:
                    idx = self._indexes[lang] = BM25Index(lang)
                idx.add(a.id, a.text_for(lang))

    @property
    def languages(self) -> list[str]:
        return sorted(self._indexes)

    def get(self, answer_id: str) -> Answer:
        try:
            return self.answers[answer_id]
        except KeyError:
            raise KeyError(f"no answer {answer_id!r} in {self.source}") from None

    def render(self, answer_id: str, language: str, values: Mapping[str, object],
               *, strict: bool = True) -> str:
        a = self.get(answer_id)
        if language not in a.body:
            raise KeyError(f"answer {answer_id!r} has no {language!r} body; has {a.languages()}")
        return render(a.body[language], values, strict=strict)

    def search(self, query: str, language: str, k: int = 5) -> list[tuple[Answer, float]]:
        """BM25 search in one language (falls back to English when the bank lacks it)."""
        idx = self._indexes.get(language) or self._indexes.get("en")
        if idx is None:
            return []
        return [(self.answers[i], s) for i, s in idx.search(query, k)]

    def max_score(self, query: str, language: str) -> float:
        idx = self._indexes.get(language) or self._indexes.get("en")
        return idx.max_score(query) if idx else 0.0

    # ----------------------------------------------------------------- loading
    @classmethod
    def from_yaml(cls, path: str | Path = DEMO_BANK, text: str | None = None) -> AnswerBank:
        data, marks = load_yaml_with_marks(path, text)
        if not isinstance(data, dict) or not isinstance(data.get("answers"), list):
            raise PolicyError(path, 1, "expected a mapping with 'answers: [...]'")
        answers: dict[str, Answer] = {}
        for i, raw in enumerate(data["answers"]):
            answers_line = marks[("answers", i)]
            a = _parse_answer(path, marks, i, raw, answers_line)
            if a.id in answers:
                raise PolicyError(path, answers_line, f"duplicate answer id {a.id!r}")
            answers[a.id] = a
        return cls(answers, str(path))


def _lang_map(path: Any, line: int, what: str, value: Any, *, required: bool) -> dict[str, str]:
    if isinstance(value, str):
        return {"*": value}
    if not isinstance(value, dict) or (required and not value):
        raise PolicyError(path, line, f"{what} must map language code -> text (fi: ..., sv: ...)")
    out = {}
    for lang, txt in value.items():
        if not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2}", lang):
            raise PolicyError(path, line, f"{what}: {lang!r} is not a two-letter language code")
        if not isinstance(txt, str) or not txt.strip():
            raise PolicyError(path, line, f"{what}.{lang} must be non-empty text")
        out[lang] = txt.strip()
    return out


def _parse_answer(path: Any, marks: dict, i: int, raw: Any, line: int) -> Answer:
    if not isinstance(raw, dict):
        raise PolicyError(path, line, "each answer must be a mapping with id, title, body")
    allowed = {"id", "title", "tags", "intents", "body"}
    for key in raw:
        if key not in allowed:
            raise PolicyError(path, marks[("answers", i, key)], f"unknown key {key!r}; allowed: {sorted(allowed)}")
    aid = raw.get("id")
    if not isinstance(aid, str) or not _ID.match(aid):
        raise PolicyError(path, line, f"id {aid!r} must be lower-case letters, digits, - _ .")
    body_line = marks.get(("answers", i, "body"), line)
    body = _lang_map(path, body_line, f"answer {aid!r} body", raw.get("body"), required=True)
    if "*" in body:
        raise PolicyError(path, body_line, f"answer {aid!r} body must be per language (fi/sv/en)")
    for lang, txt in body.items():
        bad = sorted(set(placeholders(txt)) - VARIABLES)
        if bad:
            raise PolicyError(
                path, marks.get(("answers", i, "body", lang), body_line),
                f"answer {aid!r} ({lang}): unknown variable(s) {bad}; allowed: {sorted(VARIABLES)}",
            )
    title_raw = raw.get("title", aid)
    title = _lang_map(path, marks.get(("answers", i, "title"), line), f"answer {aid!r} title", title_raw, required=False)
    if "*" in title:
        title = {lang: title["*"] for lang in body}
    tags = raw.get("tags", []) or []
    intents = raw.get("intents", []) or []
    for what, lst in (("tags", tags), ("intents", intents)):
        if not isinstance(lst, list) or not all(isinstance(t, str) for t in lst):
            raise PolicyError(path, marks.get(("answers", i, what), line), f"answer {aid!r}: {what} must be a list of words")
    return Answer(aid, title, body, tuple(tags), tuple(intents))


@dataclass(frozen=True, slots=True)
class PastReply:
    id: str
    customer_text: str
    reply_text: str
    language: str
    solved: bool = True


class PastReplyIndex:
    """Agent replies that solved earlier cases, found through the customer's message."""

    def __init__(self) -> None:
        self._replies: dict[str, PastReply] = {}
        self._indexes: dict[str, BM25Index] = {}

    def __len__(self) -> int:
        return len(self._replies)

    def add(self, reply: PastReply) -> None:
        if not reply.solved or reply.id in self._replies:
            return
        self._replies[reply.id] = reply
        idx = self._indexes.get(reply.language)
        if idx is None:
            idx = self._indexes[reply.language] = BM25Index(reply.language)
        idx.add(reply.id, reply.customer_text)

    def search(self, text: str, language: str, k: int = 5) -> list[tuple[PastReply, float]]:
        idx = self._indexes.get(language)
        return [(self._replies[i], s) for i, s in idx.search(text, k)] if idx else []

    def max_score(self, text: str, language: str) -> float:
        idx = self._indexes.get(language)
        return idx.max_score(text) if idx else 0.0


class AnswerSuggester:
    """Best answers for an incoming message, from the bank and from past replies."""

    def __init__(self, bank: AnswerBank, past: PastReplyIndex | None = None,
                 *, intent_boost: float = 0.5, intent_only_min: float = 0.6) -> None:
        self.bank = bank
        self.past = past or PastReplyIndex()
        self.intent_boost = intent_boost
        self.intent_only_min = intent_only_min

    def suggest(self, text: str, language: str, *, intent: str | None = None,
                intent_confidence: float = 1.0, k: int = 3) -> list[Suggestion]:
        """Best ``k`` answers. An answer tagged with the message's intent gets its lexical
        score multiplied by ``1 + intent_boost * confidence``: the intent refines, it
        never outvotes a clearly better lexical match. Answers found only through their
        intent tag are added (with a small score) when the confidence is at least
        ``intent_only_min``."""
        out: list[Suggestion] = []
        boost = self.intent_boost * max(0.0, min(1.0, intent_confidence))
        # Scores are BM25 / the query's upper bound in that index, so bank answers and
        # past replies compete on one 0..1 scale.
        hits = self.bank.search(text, language, k=max(10, k * 3))
        top = self.bank.max_score(text, language) or 1.0
        for a, s in hits:
            lang = language if language in a.body else ("en" if "en" in a.body else a.languages()[0])
            score = s / top
            why = f"BM25 {s:.2f}"
            if intent and intent in a.intents:
                score *= 1 + boost
                why += f"; intent {intent} x{1 + boost:.2f}"
            out.append(Suggestion("bank", a.id, a.title.get(lang, a.id), a.body[lang], lang, score, why))
        if intent and intent_confidence >= self.intent_only_min:
            seen = {s.id for s in out}
            for a in self.bank.answers.values():
                if intent in a.intents and a.id not in seen and language in a.body:
                    out.append(Suggestion("bank", a.id, a.title.get(language, a.id), a.body[language],
                                          language, 0.02 * boost, f"intent {intent} only"))
        past = self.past.search(text, language, k=k)
        ptop = self.past.max_score(text, language) or 1.0
        for r, s in past:
            out.append(Suggestion("past", r.id, r.customer_text[:80], r.reply_text, r.language,
                                  s / ptop, f"similar solved case (BM25 {s:.2f})"))
        out.sort(key=lambda s: (-s.score, s.source, s.id))
        return out[:k]
