"""The new part of a reply email, without the quoted history below it.

Sentiment, intent and language detection should read what the customer wrote *now*,
not the agent's previous answer quoted underneath. Mail clients mark the quote with an
attribution line ("On ... wrote:", Finnish "... kirjoitti:", Swedish "... skrev:"),
an Outlook separator or header block, or ``>`` prefixes; the text above the first such
marker is the new part. The full body is kept as the message body.
"""

from __future__ import annotations

import re

_MARKERS = [
    re.compile(r"^\s*On .{4,200}wrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*.{4,200}\b(kirjoitti|skrev|schrieb)\s*:?\s*$", re.IGNORECASE),
    re.compile(
        r"^\s*-{2,}\s*(original message|alkuperäinen viesti|ursprungligt meddelande|"
        r"forwarded message|välitetty viesti|vidarebefordrat meddelande)\s*-{2,}\s*$",
        re.IGNORECASE,
    ),
    re.compile(r"^\s*(from|lähettäjä|från|von)\s*:\s*.+$", re.IGNORECASE),
    re.compile(r"^\s*_{20,}\s*$"),  # Outlook's underline before the header block
]


def new_text(body: str) -> str:
    """``body`` up to the first quote marker, trimmed; the whole body if none is found."""
    lines = body.split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        if line.startswith(">") and all(
            not rest.strip() or rest.startswith(">") for rest in lines[index:]
        ):
            cut = index
            break
        if any(marker.match(line) for marker in _MARKERS):
            cut = index
            break
    text = "\n".join(lines[:cut]).strip()
    return text or body.strip()
