from __future__ import annotations

from datetime import datetime

import pytest

from somebound.core import Author, Channel, Message
from somebound.core.data import shared_data_dir


def needs_data() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not (shared_data_dir() / "sources.json").exists(),
        reason=f"shared training data not found at {shared_data_dir()} (set SOMEBOUND_DATA_DIR)",
    )


def make_message(body: str, **kw) -> Message:
    author = kw.pop("author", None) or Author(
        kw.pop("user", "u1"), followers=kw.pop("followers", None), is_company=kw.pop("is_company", False)
    )
    return Message(
        channel=kw.pop("channel", Channel.FACEBOOK),
        native_id=kw.pop("native_id", "n1"),
        author=author,
        body=body,
        sent_at=kw.pop("sent_at", datetime(2026, 3, 2, 12, 0)),
        public=kw.pop("public", True),
        **kw,
    )
