"""Acknowledged means durable: a worker killed mid-way loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from somebound.api.settings import Settings
from somebound.channels.registry import build_parsers
from somebound.core.policy import PolicyError
from somebound.pipeline.routing import RoutingPolicy
from somebound.store import inbox
from somebound.store.engine import make_engine
from somebound.store.migrate import upgrade
from somebound.store.tables import cases, dead_letters, events, messages, raw_inbox
from tests.hub.helpers import fb_comment


def _worker(url: str, crash: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOMEBOUND_DATABASE_URL": url}
    env["SOMEBOUND_CRASH_MIDWAY"] = "1" if crash else "0"
    return subprocess.run([sys.executable, "-m", "somebound.cli", "worker", "--once"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_worker_killed_midway_resumes_from_stored_payloads(any_db_url: str) -> None:
    engine = make_engine(any_db_url)
    upgrade(engine)
    for i in range(3):
        body = fb_comment(f"c{i}", f"post{i}", f"u{i}", f"User {i}", f"Kysymys {i}")
        inbox.accept(engine, "facebook", "webhook:facebook", body)

    crashed = _worker(any_db_url, crash=True)
    assert crashed.returncode == 17, crashed.stderr  # died inside its transaction
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 0
        assert inbox.pending_count(conn) == 3

    done = _worker(any_db_url, crash=False)
    assert done.returncode == 0, done.stderr
    done_again = _worker(any_db_url, crash=False)
    assert "processed 0" in done_again.stdout
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(cases)).scalar() == 3
        assert inbox.pending_count(conn) == 0
        received = conn.execute(select(func.count()).select_from(events)
                                .where(events.c.type == "message_received")).scalar()
    assert received == 3
    engine.dispose()


def test_payload_failing_processing_is_retried_then_dead_lettered(sqlite_engine, tmp_path) -> None:  # noqa: ANN001
    from somebound.pipeline.ingest import Pipeline

    calls = {"n": 0}

    def broken(payload: bytes, headers: dict) -> list:
        calls["n"] += 1
        raise RuntimeError("parser bug")

    inbox.accept(sqlite_engine, "facebook", "webhook:facebook", b"{}")
    good = fb_comment("ok1", "p", "u", "U", "ok")
    inbox.accept(sqlite_engine, "x", "webhook:x", good)
    parsers = build_parsers(Settings(blob_dir=str(tmp_path / "blobs")))
    pipe = Pipeline(sqlite_engine, {"facebook": broken, "x": parsers["facebook"]})
    for _ in range(inbox.MAX_ATTEMPTS):
        pipe.process_pending()
    assert calls["n"] == inbox.MAX_ATTEMPTS
    with sqlite_engine.connect() as conn:
        statuses = dict(conn.execute(select(raw_inbox.c.channel, raw_inbox.c.status)).all())
        reason = conn.execute(select(dead_letters.c.reason)).scalar()
        assert conn.execute(select(func.count()).select_from(messages)).scalar() == 1
    assert statuses == {"facebook": "dead", "x": "done"}, "one bad payload must not block others"
    assert "parser bug" in reason


def test_routing_policy_errors_name_file_line_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "routing.yaml"
    bad.write_text(textwrap.dedent("""\
        queues:
          general: {team: a}
        rules:
          - name: to-nowhere
            when: {channel: email}
            queue: vip
        """))
    with pytest.raises(PolicyError) as err:
        RoutingPolicy.load(bad)
    assert f"{bad}:4" in str(err.value) and "'vip' is not declared" in str(err.value)
    bad.write_text("queues: {general: {}}\nrules:\n  - name: r\n    when: {chanel: email}\n")
    with pytest.raises(PolicyError, match=r":4: rule 'r': cannot match on 'chanel'"):
        RoutingPolicy.load(bad)
    bad.write_text("queues: {general: {}}\nsla: {email: -5}\n")
    with pytest.raises(PolicyError, match="positive number of seconds"):
        RoutingPolicy.load(bad)
    bad.write_text("queues: [oops\n")
    with pytest.raises(PolicyError, match="invalid YAML"):
        RoutingPolicy.load(bad)


def test_cdr_import_keeps_good_rows_and_reports_bad_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite"
    csv = tmp_path / "calls.csv"
    csv.write_text(
        "call_id,caller,start,answered,end,queue,agent\n"
        "k1,0401234567,2026-11-23 09:00:00,2026-11-23 09:00:20,2026-11-23 09:05:00,phone,anna\n"
        "k2,0409999999,not-a-time,,,phone,\n"
        "k3,+46701234567,2026-11-23 10:00:00,,2026-11-23 10:01:00,phone,\n")
    env = {**os.environ, "SOMEBOUND_DATABASE_URL": url}
    out = subprocess.run([sys.executable, "-m", "somebound.cli", "ingest", "cdr", str(csv)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "line 3" in out.stderr
    engine = make_engine(url)
    with engine.connect() as conn:
        callers = set(conn.execute(select(messages.c.author_key)).scalars())
        dead = conn.execute(select(dead_letters.c.reason)).scalars().all()
    assert {"+358401234567", "+46701234567"} <= callers
    assert len(dead) == 1 and "line 3" in dead[0]
