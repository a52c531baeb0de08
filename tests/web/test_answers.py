"""Canned answers: search in fi/sv/en with inflected words, variables, bad bank files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from somebound.web.answers import (
    AnswerBankError,
    ListeningBankAdapter,
    YamlAnswerBank,
    default_bank,
    fill,
    fill_variables,
)


@pytest.mark.parametrize(("query", "lang", "expected"), [
    ("toimituksen viivästys", "fi", "delivery-delayed"),  # inflected forms meet the base form
    ("hyvitystä", "fi", "refund-started"),
    ("leveransen", "sv", "delivery-delayed"),
    ("återbetalning", "sv", "refund-started"),
    ("refund please", "en", "refund-started"),
    ("outage", "en", "outage-known"),
])
def test_search_finds_the_answer_in_each_language(query: str, lang: str, expected: str) -> None:
    hits = YamlAnswerBank.load().search(query, lang)
    assert hits and hits[0]["id"] == expected
    assert all(h["lang"] == lang for h in hits)


def test_empty_query_lists_answers_by_title_and_unknown_words_find_nothing() -> None:
    bank = YamlAnswerBank.load()
    titles = [h["title"] for h in bank.search("", "en", limit=50)]
    assert titles == sorted(titles, key=str.casefold) and len(titles) >= 5
    assert bank.search("zzzxqy", "fi") == []


def test_the_listening_bank_is_preferred_and_searched_in_three_languages() -> None:
    answers = pytest.importorskip("somebound.listening.answers")
    bank = default_bank()
    assert isinstance(bank, ListeningBankAdapter)
    for lang in ("fi", "sv", "en"):
        listed = bank.search("", lang, limit=100)
        assert len(listed) == sum(lang in a.body for a in bank.bank.answers.values())
        assert all(h["lang"] == lang and h["body"] for h in listed)
    word = {"fi": "lasku", "sv": "faktura", "en": "invoice"}
    for lang, q in word.items():
        top = bank.search(q, lang)[0]
        assert top["body"] == answers.AnswerBank.from_yaml().get(top["id"]).body[lang]
        text = fill(bank, top["body"], {"customer_name": "Matti", "case_number": "#9"})
        assert "{customer_name}" not in text and "{case_number}" not in text


def test_fill_variables_keeps_unknown_ones_visible() -> None:
    body = "Hei {customer_name}, tapaus {{ case_number }} / {unknown} / {agent_name}"
    out = fill_variables(body, {"customer_name": "Matti", "case_number": "#7",
                                "agent_name": ""})
    assert out == "Hei Matti, tapaus #7 / {unknown} / {agent_name}"


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60))
def test_fill_variables_never_loses_text_outside_braces(text: str) -> None:
    plain = text.replace("{", "").replace("}", "")
    assert fill_variables(plain, {"customer_name": "X"}) == plain


def test_bad_bank_files_are_named_with_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bank.yaml"
    bad.write_text("answers:\n  - id: x\n    de: {title: T, body: B}\n", encoding="utf-8")
    with pytest.raises(AnswerBankError, match=r"bank.yaml: answer 'x' has no fi, sv or en"):
        YamlAnswerBank.load(bad)
    bad.write_text("answers: [1, 2", encoding="utf-8")
    with pytest.raises(AnswerBankError, match="not valid YAML"):
        YamlAnswerBank.load(bad)
    bad.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(AnswerBankError, match="top-level 'answers:'"):
        YamlAnswerBank.load(bad)
