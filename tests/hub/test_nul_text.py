"""A NUL character in a contact's text does not cost the contact its case.

PostgreSQL refuses U+0000 in text columns: a chat line or comment carrying one failed its
case's insert, was retried and dead-lettered, and never reached the case list (SQLite
stored it). Every channel's reading now replaces it with U+FFFD (channels/nul.py); the
raw payload keeps the bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from somebound.api.settings import Settings
from somebound.channels.feeds import FeedPoller, FeedState, KeywordMatcher
from somebound.channels.nul import storable
from somebound.channels.registry import build_parsers
from somebound.channels.serialize import message_to_dict
from somebound.pipeline.ingest import Pipeline, Stages
from somebound.store import inbox
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade
from somebound.store.tables import messages, raw_inbox
from tests.hub.helpers import fb_comment


def test_text_with_nul_reaches_its_case_on_both_databases(any_db_url: str,
                                                          tmp_path: Path) -> None:
    engine = make_engine(any_db_url)
    upgrade(engine)
    chat = {"session_id": "s1", "visitor_id": "v1", "frame": {
        "type": "message", "text": "laskussa\u0000virhe", "id": "f1",
        "sent_at": "2026-11-23T08:00:00+00:00"}}
    raw_chat = json.dumps(chat).encode()
    assert b"\\u0000" in raw_chat
    ids = [inbox.accept(engine, "chat", "t", raw_chat)[0],
           inbox.accept(engine, "facebook", "t",
                        fb_comment("1000_1_c1", "1000_1", "u1", "Nul\u0000Name", "a\u0000b"))[0],
           inbox.accept(engine, "chat", "t", json.dumps({**chat, "frame": {
               **chat["frame"], "id": "f2", "text": "ei mitään erikoista"}}).encode())[0]]
    pipe = Pipeline(engine, build_parsers(Settings(blob_dir=str(tmp_path / "b"))), Stages())
    pipe.process_pending()
    with engine.connect() as conn:
        status = dict(conn.execute(select(raw_inbox.c.id, raw_inbox.c.status)).all())
        bodies = sorted(conn.execute(select(messages.c.body)).scalars())
        names = set(conn.execute(select(messages.c.author_name)).scalars())
        kept = conn.execute(select(raw_inbox.c.payload).where(raw_inbox.c.id == ids[0])).scalar()
    engine.dispose()
    assert [status[i] for i in ids] == ["done"] * 3
    assert bodies == ["a\ufffdb", "ei mitään erikoista", "laskussa\ufffdvirhe"]
    assert "Nul\ufffdName" in names
    assert bytes(kept) == raw_chat  # the payload as it came


def _mail(n: int, headers: str, body: bytes) -> bytes:
    return (f"From: Asiakas {n} <a{n}@example.fi>\r\nTo: tuki@example.fi\r\n"
            f"Message-ID: <nul{n}@example.fi>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\n{headers}\r\n").encode() + body


def test_email_with_nul_reaches_its_case_on_both_databases(any_db_url: str,
                                                           tmp_path: Path) -> None:
    """NUL as a raw byte in an 8-bit body, as quoted-printable ``=00``, in an encoded-word
    subject and as a raw byte in a display name and an attachment's file name."""
    engine = make_engine(any_db_url)
    upgrade(engine)
    mails = [
        _mail(1, "Subject: raw\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n", b"tilaus\x00puuttuu\r\n"),
        _mail(2, "Subject: =?utf-8?q?lasku=00virhe?=\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n", b"hei=00maailma\r\n"),
        _mail(3, "Subject: liite\r\nContent-Type: multipart/mixed; boundary=b\r\n",
              b"--b\r\nContent-Type: text/plain\r\n\r\nkatso liite\r\n--b\r\n"
              b"Content-Type: application/pdf\r\n"
              b"Content-Disposition: attachment; filename=\"la\x00sku.pdf\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"),
    ]
    mails[0] = mails[0].replace(b"Asiakas 1", b"Asia\x00kas")
    ids = [inbox.accept(engine, "email", "t", m, {"mail_from": f"a{i}@example.fi"})[0]
           for i, m in enumerate(mails, start=1)]
    pipe = Pipeline(engine, build_parsers(Settings(blob_dir=str(tmp_path / "b"))), Stages())
    pipe.process_pending()
    with engine.connect() as conn:
        status = dict(conn.execute(select(raw_inbox.c.id, raw_inbox.c.status)).all())
        rows = {r.native_id: r for r in conn.execute(
            select(messages.c.native_id, messages.c.body, messages.c.subject,
                   messages.c.author_name, messages.c.attachments))}
    engine.dispose()
    assert [status[i] for i in ids] == ["done"] * 3
    assert rows["<nul1@example.fi>"].body == "tilaus\ufffdpuuttuu"
    assert rows["<nul1@example.fi>"].author_name == "Asia\ufffdkas"
    assert rows["<nul2@example.fi>"].body == "hei\ufffdmaailma"
    assert rows["<nul2@example.fi>"].subject == "lasku\ufffdvirhe"
    assert [a["filename"] for a in rows["<nul3@example.fi>"].attachments] == ["la\ufffdsku.pdf"]


def test_feed_item_with_nul_reaches_its_case_on_both_databases(any_db_url: str,
                                                               tmp_path: Path) -> None:
    """feedparser turns ``&#0;`` into a NUL; the watcher keeps the item as JSON, whose
    reading replaces it."""
    engine = make_engine(any_db_url)
    upgrade(engine)
    rss = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Foorumi</title><item>'
           b"<title>somebound&#0;vika</title><description>Onko muilla somebound&#0;ongelmia?"
           b"</description><link>https://foorumi.example/t/1</link><guid>g1</guid>"
           b"<pubDate>Mon, 23 Nov 2026 08:00:00 +0000</pubDate></item></channel></rss>")
    poller = FeedPoller(KeywordMatcher.of(["somebound"]))
    try:
        found = poller.parse(rss, FeedState(url="https://foorumi.example/rss"))[0]
    finally:
        poller.close()
    assert len(found) == 1 and "\x00" in found[0].body  # what feedparser gives
    body = json.dumps(message_to_dict(found[0]), sort_keys=True).encode()
    inbox.accept(engine, "feed", "poll", body, {"feed": "https://foorumi.example/rss"})
    Pipeline(engine, build_parsers(Settings(blob_dir=str(tmp_path / "b"))), Stages()
             ).process_pending()
    with engine.connect() as conn:
        status = conn.execute(select(raw_inbox.c.status)).scalars().all()
        stored = conn.execute(select(messages.c.body, messages.c.subject)).one()
    engine.dispose()
    assert status == ["done"]
    assert "\x00" not in stored.body and "somebound\ufffdongelmia" in stored.body
    assert stored.subject == "somebound\ufffdvika"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), st.recursive(
    st.text() | st.integers() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8), max_size=4))
def test_every_string_a_json_payload_gives_can_be_stored(payload: dict) -> None:
    """Whatever text a payload's escapes spell (NUL, halves of surrogate pairs), what the
    JSON reader gives encodes as UTF-8 and has no NUL; text without them is unchanged."""
    from somebound.channels._json import load_object

    raw = json.dumps(payload)  # ASCII: every non-ASCII character escaped, as some send it
    got = load_object(raw.encode(), "test payload")

    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in (k, *strings(v))]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    for text in strings(got):
        assert "\x00" not in text
        text.encode("utf-8")  # raises on a lone surrogate
    if all(storable(s) == s for s in strings(payload)):
        assert got == payload
