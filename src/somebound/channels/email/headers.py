"""Header decoding that survives what real mail servers deliver.

``email.policy.default`` parses headers into rich objects, but on broken input it can
raise from deep inside the header parser. Mail from the wild has raw 8-bit UTF-8 or
ISO-8859-1 in headers, unknown charsets in encoded words and ids without brackets, so
these helpers work from the *raw* header text and never raise.
"""

from __future__ import annotations

import re
from email.header import decode_header
from email.message import Message as StdMessage
from email.utils import getaddresses

from somebound.channels.nul import without_nul

_FOLD = re.compile(r"\r?\n[ \t]*")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_RAW_BYTE = re.compile("[\udc80-\udcff]")  # an 8-bit byte the parser surrogate-escaped
# The forms nearly all mail carries, which ``getaddresses`` would return unchanged: a bare
# address, or ``Name <address>`` with a plain name (words of letters, digits, hyphens
# and apostrophes, single spaces between: no quotes, comments, commas, dots or encoded
# words). Anything else goes to ``getaddresses``; tests/channels/test_email_headers.py
# pins that both agree.
_ADDR = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_ADDRESS = re.compile(rf"({_ADDR})|(\w[\w'-]*(?: [\w'-]+)*) *<({_ADDR})>")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared charset, falling back when the label lies.

    Order: the declared charset (ISO-8859-1 read as its superset Windows-1252, as mail
    clients mislabel it), then UTF-8, then Windows-1252, then ISO-8859-1, which never
    fails. A UTF-8 body labelled ``us-ascii`` therefore still reads as ``ä``.
    """
    candidates: list[str] = []
    if charset:
        label = charset.strip().strip('"').lower()
        if label in ("iso-8859-1", "latin-1", "latin1", "iso_8859-1", "l1"):
            candidates.append("cp1252")
        candidates.append(label)
    candidates += ["utf-8", "cp1252", "latin-1"]
    for name in candidates:
        try:
            return without_nul(data.decode(name))
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return without_nul(data.decode("latin-1"))  # pragma: no cover - latin-1 decodes all


def _unescape_raw(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes become real text."""
    if _RAW_BYTE.search(value) is None:
        return value
    return decode_bytes(value.encode("ascii", "surrogateescape"), None)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words (``=?iso-8859-1?q?J=E4rvi?=``) into text."""
    value = _unescape_raw(_FOLD.sub(" ", value))
    try:
        parts = decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    return "".join(out).strip()


def raw_headers(msg: StdMessage) -> list[tuple[str, str]]:
    """All headers as (lower-case name, unfolded raw value), in order."""
    result = []
    for name, value in msg.raw_items():
        result.append((str(name).strip().lower(),
                       without_nul(_FOLD.sub(" ", str(value)).strip())))
    return result


class Headers:
    """Case-insensitive, decode-on-read view of a message's raw headers."""

    def __init__(self, msg: StdMessage) -> None:
        self._by_name: dict[str, list[str]] = {}  # lower-case name -> values, in order
        for key, value in raw_headers(msg):
            self._by_name.setdefault(key, []).append(value)

    def __bool__(self) -> bool:
        return bool(self._by_name)

    def raw(self, name: str) -> str | None:
        values = self._by_name.get(name.lower())
        return values[0] if values else None

    def all_raw(self, name: str) -> list[str]:
        return list(self._by_name.get(name.lower(), ()))

    def text(self, name: str) -> str | None:
        raw = self.raw(name)
        return None if raw is None else decode_words(raw)

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, address) pairs; display names decoded, addresses kept as sent."""
        values = [_unescape_raw(v) for v in self.all_raw(name)]
        if not values:
            return []
        if len(values) == 1 and (plain := _PLAIN_ADDRESS.fullmatch(values[0].strip())):
            bare, display, address = plain.groups()
            return [("", bare)] if bare else [(display, address)]
        try:
            pairs = getaddresses(values)
        except Exception:
            return []
        result = []
        for display, address in pairs:
            address = address.strip()
            if "@" not in address:
                continue
            result.append((decode_words(display) if display else "", address))
        return result

    def message_ids(self, name: str) -> list[str]:
        """Every ``<id>`` in the header, normalised to ``<local@domain>``."""
        ids: list[str] = []
        for value in self.all_raw(name):
            ids += [f"<{m}>" for m in _MSG_ID.findall(_unescape_raw(value))]
        return ids

    def subset(self, names: tuple[str, ...]) -> dict[str, str]:
        out = {}
        for name in names:
            value = self.text(name)
            if value is not None:
                out[name] = value
        return out
