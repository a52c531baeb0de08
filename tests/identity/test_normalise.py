from hypothesis import given
from hypothesis import strategies as st

from somebound.identity.normalise import (
    ascii_fold,
    email_local_part,
    nordic_fold,
    phonetic_key,
    prepare_record,
    split_display_name,
)


def test_nordic_spelling_variants_share_a_phonetic_key():
    groups = [
        ["Kärkkäinen", "Karkkainen", "Kaerkkaeinen", "Kärkäinen"],
        ["Mattila", "Matila"],
        ["Virtanen", "Wirtanen"],
        ["Andersson", "Anderson", "Andersen"],
        ["Sjöberg", "Schöberg", "Sjoberg"],
        ["Åsa", "Aasa", "Asa"],
        ["Zacharias", "Sakarias"],
    ]
    for group in groups:
        keys = {phonetic_key(n) for n in group}
        assert len(keys) == 1, (group, keys)


def test_different_names_keep_different_keys():
    assert phonetic_key("Virtanen") != phonetic_key("Korhonen")
    assert phonetic_key("Matti") != phonetic_key("Mikko")


def test_missing_values_are_none_not_empty_strings():
    assert ascii_fold("   ") is None
    assert phonetic_key("") is None
    rec = prepare_record({"display_name": "", "city": " "})
    assert all(v is None for v in rec.values())


@given(st.text(max_size=40))
def test_comparison_columns_are_ascii(text):
    # DuckDB compares bytes, Python code points: only ASCII keeps Splink and the live
    # scorer bit-identical.
    for fn in (ascii_fold, nordic_fold, phonetic_key):
        out = fn(text)
        assert out is None or (out.isascii() and out == out.strip() and out != "")


def test_display_name_split_and_email_local_part():
    assert split_display_name("Matti Virtanen") == ("matti", "virtanen")
    assert split_display_name("Virtanen, Matti") == ("matti", "virtanen")
    assert split_display_name("Matti") == ("matti", None)
    assert email_local_part("Matti.Virtanen+shop@Example.fi") == "mattivirtanen"
    rec = prepare_record({"handle": "@Matti_Virtanen", "email": "x@y.fi"})
    assert rec["email_local"] == "mattivirtanen"
    assert prepare_record({"phone": "040 123 4567"})["phone"] == "+358401234567"
