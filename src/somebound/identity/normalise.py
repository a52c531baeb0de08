"""Turn raw profile fields into the comparison columns both Splink and the live scorer see.

Why a Nordic normalisation instead of Soundex/Metaphone/NYSIIS: those encode *English*
letter-to-sound rules (silent ``gh``, ``th``, ``ph``...). Finnish and Swedish spelling is
nearly phonemic, so the variation that matters between a CRM record and a social profile
is different:

* diacritics dropped or spelt out: ``Kärkkäinen`` / ``Karkkainen`` / ``Kaerkkaeinen``;
  ``Åsa`` / ``Aasa`` / ``Asa``;
* doubled letters (gemination) typed once: ``Mattila`` / ``Matila``, ``Pekka`` / ``Peka``;
* letter variants of the same sound: ``w``/``v`` (Wirtanen), ``z``/``ts`` (initial
  ``z``/``s``), ``c``/``ch``/``k``,
  ``q``/``k``, ``x``/``ks``, ``ph``/``f``, Swedish ``hj``/``dj``/``lj``/``gj`` = ``j``
  and ``sj``/``sch``/``skj``/``stj`` = one sibilant;
* patronymic suffixes: ``Andersson`` / ``Anderson`` / ``Andersen``;
* vowel typos, which a consonant skeleton absorbs.

:func:`nordic_fold` does the first four and is also what makes the string similarity
columns plain ASCII. That matters for correctness, not only recall: DuckDB's
``jaro_winkler_similarity`` works on UTF-8 *bytes* while Python works on code points, so
only ASCII columns give bit-identical scores in Splink and in the live scorer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from somebound.core.phone import normalise_email, to_e164

_SPELLED_OUT = (("ae", "a"), ("oe", "o"), ("ue", "y"))
_LETTER_MAP = str.maketrans({"ä": "a", "ö": "o", "å": "a", "ü": "y", "æ": "a", "ø": "o"})
_MULTI = (
    ("sch", "s"),
    ("skj", "s"),
    ("stj", "s"),
    ("sj", "s"),
    ("hj", "j"),
    ("dj", "j"),
    ("lj", "j"),
    ("gj", "j"),
    ("ph", "f"),
    ("ch", "k"),
    ("th", "t"),
    ("dt", "t"),
    ("ck", "k"),
    ("qu", "kv"),
    ("x", "ks"),
    ("z", "ts"),
    ("w", "v"),
    ("q", "k"),
    ("c", "k"),
)
_NON_ALPHA = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
_DOUBLED = re.compile(r"(.)\1+")
_VOWELS = re.compile(r"[aeiouy]")


def ascii_fold(text: str | None) -> str | None:
    """Casefold, map Nordic letters to their usual ASCII fallback, drop other accents.

    ``None`` for missing or empty values: Splink's null level treats only NULL as
    missing, so an empty string must never reach it.
    """
    if text is None:
        return None
    text = str(text).strip().casefold().translate(_LETTER_MAP)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _SPACES.sub(" ", re.sub(r"[^a-z0-9@.+ '-]", "", text)).strip()
    return text or None


def nordic_fold(name: str | None) -> str | None:
    """A spelling-insensitive form of a Finnish/Swedish name (see the module doc)."""
    text = ascii_fold(name)
    if text is None:
        return None
    text = _NON_ALPHA.sub(" ", text.replace("-", " "))
    for spelled, letter in _SPELLED_OUT:
        text = text.replace(spelled, letter)
    text = re.sub(r"\bz", "s", text)  # word-initial z is an s (Zacharias = Sakarias)
    for seq, rep in _MULTI:
        text = text.replace(seq, rep)
    text = _DOUBLED.sub(r"\1", text)
    words = []
    for word in text.split():
        for suffix in ("sen", "son"):
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                word = word[: -len(suffix)] + "son"
        words.append(word)
    return " ".join(words) or None


def phonetic_key(name: str | None) -> str | None:
    """First letter plus the consonant skeleton of the folded name (vowels absorb typos).

    ``Virtanen`` and ``Wirtanen`` -> ``vrtn``; ``Jönsson`` and ``Jonson`` -> ``jnsn``.
    Only the first word is keyed: a blocking key for a given name should not depend on a
    second given name that one source has and the other has not.
    """
    folded = nordic_fold(name)
    if not folded:
        return None
    word = folded.split()[0]
    key = word[0] + _VOWELS.sub("", word[1:])
    return _DOUBLED.sub(r"\1", key) or None


def name_tokens(name: str | None) -> list[str]:
    """Folded name words, for splitting a display name into given name and surname."""
    folded = ascii_fold(name)
    if not folded:
        return []
    return [t for t in _NON_ALPHA.sub(" ", folded).split() if t]


def email_local_part(email: str | None) -> str | None:
    """The mailbox part of an address without dots and ``+tags`` (Gmail-style aliases).

    People reuse it as their handle elsewhere, so it is compared with social handles.
    """
    if not email or "@" not in email:
        return None
    local = normalise_email(email).split("@", 1)[0].split("+", 1)[0]
    return handle_key(local)


def handle_key(handle: str | None) -> str | None:
    """A handle (``@Matti_Virtanen85``) folded to compare with e-mail local parts."""
    text = ascii_fold(handle)
    if not text:
        return None
    text = re.sub(r"[^a-z0-9]", "", text.lstrip("@"))
    return text or None


def split_display_name(display_name: str | None) -> tuple[str | None, str | None]:
    """``"Matti Virtanen"`` -> (``matti``, ``virtanen``); ``"Virtanen, Matti"`` too.

    A single token is taken as the given name: social profiles more often show a first
    name alone than a surname alone.
    """
    if not display_name:
        return None, None
    if "," in display_name:
        last, _, first = display_name.partition(",")
        first_tokens, last_tokens = name_tokens(first), name_tokens(last)
        return (first_tokens[0] if first_tokens else None), (
            " ".join(last_tokens) if last_tokens else None
        )
    tokens = name_tokens(display_name)
    if not tokens:
        return None, None
    if len(tokens) == 1:
        return tokens[0], None
    return tokens[0], tokens[-1]


def normalise_phone(raw: str | None) -> str | None:
    return to_e164(raw) if raw else None


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    try:
        import math

        if isinstance(value, float) and math.isnan(value):
            return None
    except TypeError:  # pragma: no cover - defensive
        pass
    text = str(value).strip()
    return text or None


def prepare_record(raw: Mapping[str, Any]) -> dict[str, str | None]:
    """The comparison columns of one person record (customer or channel identity).

    Accepts the field names the hub uses everywhere: ``given_name``, ``surname``,
    ``display_name`` (split when the parts are missing), ``email``, ``phone``,
    ``handle``, ``city``, ``postcode``, ``birth_date`` (ISO ``YYYY-MM-DD`` or
    ``YYYYMMDD``). Missing values become ``None``.
    """
    given = _clean(raw.get("given_name"))
    surname = _clean(raw.get("surname"))
    if given is None and surname is None:
        given, surname = split_display_name(_clean(raw.get("display_name")))
    email = _clean(raw.get("email"))
    handle = _clean(raw.get("handle"))
    birth = _clean(raw.get("birth_date"))
    return {
        "given_name": ascii_fold(given),
        "surname": ascii_fold(surname),
        "given_key": phonetic_key(given),
        "surname_key": phonetic_key(surname),
        "email_local": handle_key(handle) if handle else email_local_part(email),
        "phone": normalise_phone(_clean(raw.get("phone"))),
        "city": ascii_fold(_clean(raw.get("city"))),
        "postcode": ascii_fold(_clean(raw.get("postcode"))),
        "birth_date": birth.replace("-", "") if birth else None,
    }
