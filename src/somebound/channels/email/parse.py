"""RFC 5322 / MIME email into a :class:`~somebound.core.Message`.

Threading follows what mail clients do: the conversation is named by the *root* of
``References`` (the first id), else ``In-Reply-To``, else the message's own
``Message-ID``, so every reply in a chain lands in the same case even when a client
drops part of the chain. Attachments become references into the :class:`BlobStore`.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from somebound.channels.blobs import BlobStore
from somebound.channels.email.headers import Headers, decode_bytes, decode_words
from somebound.channels.email.quoted import new_text
from somebound.channels.errors import ParseError
from somebound.channels.html_text import html_to_text
from somebound.channels.nul import without_nul
from somebound.core.enums import Channel, Direction
from somebound.core.message import Attachment, Author, Message
from somebound.core.phone import normalise_email

FIX_RFC5322 = "send an RFC 5322 message: header lines, a blank line, then the body"
_KEPT_HEADERS = (
    "from",
    "to",
    "cc",
    "reply-to",
    "date",
    "list-id",
    "auto-submitted",
    "precedence",
    "x-mailer",
    "user-agent",
)


def parse_email(
    raw: bytes,
    *,
    blobs: BlobStore | None = None,
    envelope_from: str | None = None,
    received_at: datetime | None = None,
) -> Message:
    """Parse one email as received by the MX.

    ``envelope_from`` (SMTP ``MAIL FROM``) is used only when the ``From`` header has no
    usable address. ``received_at`` stands in for a missing or broken ``Date``. With
    ``blobs`` the attachment bytes are stored; without it they are only hashed.
    Raises :class:`ParseError` for anything that is not an email, never anything else.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_email needs bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise ParseError("the message is empty", "email", FIX_RFC5322)
    try:
        return _parse(raw, blobs, envelope_from, received_at)
    except ParseError:
        raise
    except (OSError, MemoryError):
        raise  # a full disk or exhausted memory is ours to fix, not the sender's
    except Exception as exc:  # the stdlib parser has corner cases that raise
        raise ParseError(
            f"malformed MIME structure ({type(exc).__name__}: {str(exc)[:120]})",
            "email",
            FIX_RFC5322,
        ) from exc


def _parse(
    raw: bytes,
    blobs: BlobStore | None,
    envelope_from: str | None,
    received_at: datetime | None,
) -> Message:
    # compat32 headers stay plain strings: ``policy.default`` builds a header object on
    # every access (3-5x slower overall) and we decode raw headers ourselves anyway.
    msg = BytesParser(_class=EmailMessage, policy=policy.compat32).parsebytes(raw)
    headers = Headers(msg)
    if not headers:
        raise ParseError("no header section found", "email headers", FIX_RFC5322)

    author = _author(headers, envelope_from)
    subject = headers.text("subject")
    sent_at = _date(headers.raw("date")) or received_at or datetime.now(UTC)

    body_part = find_body(msg)
    if body_part is None and msg.get_content_maintype() == "multipart" and not msg.is_multipart():
        body_part = msg  # a broken boundary: the text is still there, read it as plain
    body, body_is_html = _body_text(body_part)
    attachments = tuple(_attachments(msg, body_part, blobs))

    references = tuple(headers.message_ids("references"))
    in_reply_to_ids = headers.message_ids("in-reply-to")
    in_reply_to = (
        in_reply_to_ids[0] if in_reply_to_ids else (references[-1] if references else None)
    )
    own_ids = headers.message_ids("message-id")
    if own_ids:
        native_id = own_ids[0]
    else:
        bare = (headers.raw("message-id") or "").strip()
        native_id = (
            f"<{bare}>"
            if bare and " " not in bare and "@" in bare
            else (_synthetic_id(author.channel_user_id, headers.raw("date"), subject, body))
        )
    thread_key = references[0] if references else (in_reply_to or native_id)
    if references and in_reply_to and in_reply_to not in references:
        references = references + (in_reply_to,)

    recipients = tuple(
        normalise_email(address)
        for name in ("to", "cc")
        for _display, address in headers.addresses(name)
    )
    language = headers.text("content-language")
    return Message(
        channel=Channel.EMAIL,
        native_id=native_id,
        author=author,
        body=body,
        sent_at=sent_at,
        direction=Direction.IN,
        thread_key=thread_key,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        public=False,
        language=language.split(",")[0].strip().split("-")[0].lower() or None if language else None,
        recipients=recipients,
        attachments=attachments,
        meta={
            "message_id": native_id,
            "synthetic_message_id": not own_ids and native_id.endswith("@somebound.invalid>"),
            "headers": headers.subset(_KEPT_HEADERS),
            "body_from_html": body_is_html,
            "new_text": new_text(body),  # without the quoted history, for listening
            "auto_generated": _auto_generated(headers, msg),
            "envelope_from": envelope_from,
            "defects": [type(d).__name__ for d in msg.defects][:20],
        },
    )


def _author(headers: Headers, envelope_from: str | None) -> Author:
    from_pairs = headers.addresses("from")
    if from_pairs:
        display, address = from_pairs[0]
    elif envelope_from and "@" in envelope_from:
        display, address = "", envelope_from.strip().strip("<>")
    else:
        where = "header From" if headers.raw("from") is not None else "headers"
        what = (
            f"no usable sender address in From: {headers.text('from')!r}"
            if headers.raw("from") is not None
            else "no From header and no SMTP envelope sender"
        )
        raise ParseError(what, where, "every email needs From: Name <user@example.com>")
    email = normalise_email(address)
    profile = {}
    reply_to = headers.addresses("reply-to")
    if reply_to and normalise_email(reply_to[0][1]) != email:
        profile["reply_to"] = normalise_email(reply_to[0][1])
    return Author(
        channel_user_id=email,
        display_name=display or None,
        email=email,
        profile=profile,
    )


def _date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000": the sender did not know its zone; UTC is RFC's guess
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def part_text(part: EmailMessage) -> str:
    """The decoded text of a leaf part (transfer encoding, charset, format=flowed)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = decode_bytes(payload, part.get_content_charset())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if (
        part.get_content_subtype() == "plain"
        and str(part.get_param("format", "")).lower() == "flowed"
    ):
        text = _unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
    return text


def _unflow(text: str, *, delsp: bool) -> str:
    """RFC 3676: a line ending in a space continues on the next one."""
    out: list[str] = []
    buffer = ""
    for line in text.split("\n"):
        if line.endswith(" ") and line != "-- ":
            buffer += line[:-1] if delsp else line
        else:
            out.append(buffer + line)
            buffer = ""
    if buffer:
        out.append(buffer)
    return "\n".join(out)


def _body_text(part: EmailMessage | None) -> tuple[str, bool]:
    if part is None:
        return "", False
    text = part_text(part)
    if part.get_content_subtype() == "html":
        return html_to_text(text), True
    return text.strip("\n"), False


def _subparts(part: EmailMessage) -> list[EmailMessage]:
    """Children of a multipart; none when a broken boundary left the payload a string."""
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, EmailMessage)] if isinstance(payload, list) else []


def _body_candidates(part: EmailMessage, prefs: tuple[str, ...]):
    """(preference, part) for readable parts, in document order — the stdlib rule of
    ``MIMEPart.get_body``, rewritten to work on plain-string (compat32) headers."""
    if part.get_content_disposition() == "attachment":
        return
    maintype, _, subtype = part.get_content_type().partition("/")
    if maintype == "text":
        if subtype in prefs:
            yield prefs.index(subtype), part
        return
    if maintype != "multipart":
        return
    children = _subparts(part)
    if subtype == "related" and children:
        start = part.get_param("start")
        root = next((c for c in children if start and c.get("content-id") == start), children[0])
        yield from _body_candidates(root, prefs)
        return
    for child in children:
        yield from _body_candidates(child, prefs)


def find_body(msg: EmailMessage, prefs: tuple[str, ...] = ("plain", "html")) -> EmailMessage | None:
    """The part to read as the body: the most preferred text part, first one wins."""
    best, best_rank = None, len(prefs)
    for rank, part in _body_candidates(msg, prefs):
        if rank < best_rank:
            best, best_rank = part, rank
            if rank == 0:
                break
    return best


def _leaves(part: EmailMessage):
    """Leaf parts, treating an attached message (message/rfc822) as one leaf."""
    if part.get_content_maintype() == "message":
        yield part
    elif part.is_multipart():
        for sub in _subparts(part):
            yield from _leaves(sub)
    else:
        yield part


def _attachments(msg: EmailMessage, body_part: EmailMessage | None, blobs: BlobStore | None):
    for index, part in enumerate(_leaves(msg), start=1):
        if part is body_part:
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        maintype = part.get_content_maintype()
        if not (disposition == "attachment" or filename or maintype not in ("text", "multipart")):
            continue  # an alternative rendering of the body, not a file
        data = _part_bytes(part)
        content_type = part.get_content_type()
        if filename and "=?" in str(filename):  # RFC 2047 in a parameter, as Outlook sends it
            filename = decode_words(str(filename))
        elif filename:
            filename = without_nul(str(filename))
        if not filename:
            ext = (
                ".eml"
                if maintype == "message"
                else (mimetypes.guess_extension(content_type) or ".bin")
            )
            filename = f"attachment-{index}{ext}"
        digest = blobs.put(data) if blobs is not None else hashlib.sha256(data).hexdigest()
        yield Attachment(
            filename=_safe_filename(str(filename)),
            content_type=content_type,
            size=len(data),
            sha256=digest,
        )


def _part_bytes(part: EmailMessage) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            try:
                return inner[0].as_bytes(policy=policy.SMTP)
            except Exception:
                return str(inner[0]).encode("utf-8", "surrogateescape")
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


def _safe_filename(name: str) -> str:
    """A filename that cannot climb out of a directory or break a header."""
    cleaned = _UNSAFE.sub("_", name).strip(" .") or "attachment"
    return cleaned[-200:]


def _synthetic_id(sender: str, date: str | None, subject: str | None, body: str) -> str:
    """A stable Message-ID for mail without one, so redelivery still deduplicates."""
    material = "\x1f".join([sender, date or "", subject or "", body]).encode("utf-8", "replace")
    return f"<{hashlib.sha256(material).hexdigest()[:40]}@somebound.invalid>"


def _auto_generated(headers: Headers, msg: EmailMessage) -> bool:
    """Bounces, autoresponders and bulk mail: the hub must not auto-answer these."""
    auto = (headers.text("auto-submitted") or "no").strip().lower()
    precedence = (headers.text("precedence") or "").strip().lower()
    return (
        auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or msg.get_content_type() == "multipart/report"
        or headers.raw("x-autoreply") is not None
    )
