"""A NUL character in a contact's text does not cost the contact its case.

PostgreSQL refuses U+0000 in text columns: a chat line or comment carrying one failed its
case's insert, was retried and dead-lettered, and never reached the case list (SQLite
stored it). The JSON channels now replace it with U+FFFD; the raw payload keeps the bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from somebound.api.settings import Settings
from somebound.channels.registry import build_parsers
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
