"""The header view's fast path for plain addresses gives what ``getaddresses`` gives.

Most mail names its sender as ``user@example.fi`` or ``Name <user@example.fi>``; those
skip the stdlib's address parser (a fifth of an email's parse). Any header the fast
path takes must read exactly as the full parser reads it.
"""

from __future__ import annotations

from email.message import Message as StdMessage
from email.utils import getaddresses

from hypothesis import given, settings
from hypothesis import strategies as st

from somebound.channels.email.headers import _PLAIN_ADDRESS, Headers, decode_words


def _full_parser(value: str) -> list[tuple[str, str]]:
    return [(decode_words(display) if display else "", address.strip())
            for display, address in getaddresses([value]) if "@" in address.strip()]


def _headers(value: str) -> Headers:
    msg = StdMessage()
    msg["From"] = value
    return Headers(msg)


_local = st.from_regex(r"[A-Za-z0-9_%+-]{1,8}(\.[A-Za-z0-9_%+-]{1,5}){0,2}", fullmatch=True)
_domain = st.from_regex(r"[A-Za-z0-9-]{1,8}(\.[A-Za-z0-9-]{1,5}){0,2}", fullmatch=True)
_name = st.text(st.sampled_from("abcxyzÄÖÅäöåé019_ '-"), min_size=1, max_size=20)


@settings(max_examples=400)
@given(_local, _domain, _name, st.sampled_from(["{a}", "{n} <{a}>", "{n}<{a}>", "  {a} ",
                                                 "{n}  <{a}>", "<{a}>"]))
def test_plain_forms_read_as_the_full_parser_reads_them(local: str, domain: str, name: str,
                                                         form: str) -> None:
    value = form.format(a=f"{local}@{domain}", n=name)
    assert _headers(value).addresses("from") == _full_parser(value)


@settings(max_examples=400)
@given(st.from_regex(_PLAIN_ADDRESS, fullmatch=True))
def test_whatever_the_fast_path_takes_reads_as_the_full_parser_reads_it(value: str) -> None:
    assert _headers(value).addresses("from") == _full_parser(value)


def test_other_forms_still_go_through_the_full_parser() -> None:
    quoted = '"Meikäläinen, Matti" <matti@example.fi>'
    assert _PLAIN_ADDRESS.fullmatch(quoted) is None
    assert _headers(quoted).addresses("from") == [("Meikäläinen, Matti", "matti@example.fi")]
    encoded = "=?iso-8859-1?q?J=E4rvi?= <j@example.fi>"
    assert _headers(encoded).addresses("from") == [("Järvi", "j@example.fi")]
    two = "a@example.fi, B <b@example.fi>"
    assert _headers(two).addresses("from") == [("", "a@example.fi"), ("B", "b@example.fi")]


def test_header_names_are_case_insensitive_and_repeats_kept_in_order() -> None:
    msg = StdMessage()
    msg["Received"] = "one"
    msg["RECEIVED"] = "two"
    msg["Subject"] = "Tilaus"
    headers = Headers(msg)
    assert headers.raw("received") == "one"
    assert headers.all_raw("Received") == ["one", "two"]
    assert headers.raw("subject") == "Tilaus"
    assert headers.raw("x-missing") is None and headers.all_raw("x-missing") == []
