"""Campaign -> outbound cases, end to end: a real SQLite hub store, a real SMTP relay."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import numpy as np
import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from somebound.channels.email import SmtpSender
from somebound.cli import main
from somebound.core.enums import Channel
from somebound.decisions.campaign import run_campaign
from somebound.decisions.outbound import open_campaign_cases
from somebound.decisions.service import DecisionService
from somebound.decisions.synthetic import demo_customers
from somebound.store.identity import create_customer
from somebound.store.tables import cases, customers, events, messages


@dataclass
class Relay:
    received: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        with self.lock:
            self.received.append({"rcpt_tos": list(envelope.rcpt_tos), "raw": bytes(envelope.original_content)})
        return "250 OK"


@pytest.fixture
def relay():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    ctl.start()
    try:
        yield ctl, handler
    finally:
        ctl.stop()


def _hub_customers(engine, n: int, without_email: int = 0) -> list[int]:  # noqa: ANN001
    ids = []
    with engine.begin() as conn:
        for i in range(n):
            cid = create_customer(conn, display_name=f"Asiakas {i}", language="fi")
            email = None if i < without_email else f"asiakas{i}@example.fi"
            conn.execute(update(customers).where(customers.c.id == cid).values(email=email))
            ids.append(cid)
    return ids


def _campaign_rows(catalogue, hub_ids: list[int]) -> list[dict]:  # noqa: ANN001
    cols = demo_customers(len(hub_ids), seed=11)
    cols["customer_id"] = np.array(hub_ids)
    cols["opted_out"] = np.zeros(len(hub_ids), bool)
    cols["consent_email"] = np.ones(len(hub_ids), bool)
    cols["preferred_channel"] = np.array(["email"] * len(hub_ids), dtype=object)
    res = run_campaign(catalogue, cols, cols["customer_id"], channels=("email",))
    return res.rows("spring")


def test_assignment_becomes_outbound_cases_and_mail_once(sqlite_engine, relay, demo_catalogue):
    ctl, handler = relay
    hub_ids = _hub_customers(sqlite_engine, 60, without_email=3)
    rows = _campaign_rows(demo_catalogue, hub_ids)
    assert rows and all(r["channel"] == "email" for r in rows)
    senders = {Channel.EMAIL: SmtpSender(ctl.hostname, ctl.port, "kampanja@somebound.fi")}

    result = open_campaign_cases(sqlite_engine, senders, rows, queue="campaigns", catalogue=demo_catalogue)

    no_email = set(hub_ids[:3])
    expected_ok = [r for r in rows if r["customer_id"] not in no_email]
    assert len(result.opened) == len(expected_ok) > 0
    assert all("no email identity" in r["reason"] for r in result.failed)
    assert {r["customer_id"] for r in result.failed} == {r["customer_id"] for r in rows} & no_email
    with sqlite_engine.connect() as conn:
        opened = conn.execute(select(cases).where(cases.c.queue == "campaigns")).mappings().all()
        msgs = conn.execute(select(messages).where(messages.c.direction == "out")).mappings().all()
        kinds = [e.type for e in conn.execute(select(events.c.type)).all()]
    assert len(opened) == len(expected_ok)
    by_case = {c["id"]: c for c in opened}
    for r in result.opened:
        case = by_case[r["case_id"]]
        assert case["customer_id"] == r["customer_id"]
        assert case["bound"] == "outbound" and case["channel"] == "email"
        assert case["insights"]["origin"] == {"campaign_id": "spring", "action": r["action"],
                                              "treatment": "email", "kind": r["kind"]}
    assert len(msgs) == len(expected_ok)
    assert kinds.count("case_opened") >= len(expected_ok)
    # every opened case's mail reached the relay, addressed to that customer
    rcpts = sorted(x for m in handler.received for x in m["rcpt_tos"])
    assert rcpts == sorted(f"asiakas{hub_ids.index(r['customer_id'])}@example.fi" for r in result.opened)
    mail = message_from_bytes(handler.received[0]["raw"], policy=policy.default)
    assert mail["From"].addresses[0].addr_spec == "kampanja@somebound.fi"

    # a retry contacts nobody twice
    again = open_campaign_cases(sqlite_engine, senders, rows, queue="campaigns", catalogue=demo_catalogue)
    assert not again.opened and len(again.skipped) == len(expected_ok)
    assert len(handler.received) == len(expected_ok)


def test_rows_without_a_sender_or_hub_channel_are_reported_not_sent(sqlite_engine, demo_catalogue):
    hub_ids = _hub_customers(sqlite_engine, 2)
    rows = [
        {"customer_id": hub_ids[0], "action": "fibre_upgrade_1000", "channel": "sms", "campaign_id": "c"},
        {"customer_id": hub_ids[1], "action": "fibre_upgrade_1000", "channel": "agent", "campaign_id": "c"},
        {"customer_id": 999_999, "action": "fibre_upgrade_1000", "channel": "email", "campaign_id": "c"},
    ]
    res = open_campaign_cases(sqlite_engine, {}, rows, catalogue=demo_catalogue)
    reasons = [r["reason"] for r in res.failed]
    assert not res.opened and len(reasons) == 3
    assert "phone identity" in reasons[0] or "no sender" in reasons[0]
    assert "no hub channel" in reasons[1]
    assert "does not exist" in reasons[2]
    with sqlite_engine.connect() as conn:
        assert conn.execute(select(cases.c.id)).first() is None


def test_api_route_opens_cases(sqlite_engine, relay, demo_catalogue):
    ctl, handler = relay
    hub_ids = _hub_customers(sqlite_engine, 40)
    rows = _campaign_rows(demo_catalogue, hub_ids)
    assert rows
    from somebound.api.decisions_routes import router

    app = FastAPI()
    app.state.engine = sqlite_engine
    app.state.senders = {Channel.EMAIL: SmtpSender(ctl.hostname, ctl.port, "kampanja@somebound.fi")}
    app.state.decisions = DecisionService(demo_catalogue)
    app.include_router(router)
    client = TestClient(app)
    body = {"rows": [{k: r[k] for k in ("customer_id", "action", "channel", "campaign_id", "kind")} for r in rows],
            "queue": "campaigns"}
    r = client.post("/campaigns/cases", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["opened"] == len(rows) and out["failed"] == 0
    assert len(handler.received) == len(rows)
    with sqlite_engine.connect() as conn:
        ids = {c for (c,) in conn.execute(select(cases.c.customer_id).where(cases.c.bound == "outbound"))}
    assert ids == {r["customer_id"] for r in rows}
    assert client.post("/campaigns/cases", json=body).json()["skipped"] == len(rows)


def test_cli_open_cases_from_the_optimize_csv(sqlite_url, relay, demo_catalogue, tmp_path, monkeypatch, capsys):
    from somebound.store.engine import make_engine
    from somebound.store.migrate import upgrade

    ctl, handler = relay
    engine = make_engine(sqlite_url)
    upgrade(engine)
    hub_ids = _hub_customers(engine, 30)
    rows = _campaign_rows(demo_catalogue, hub_ids)
    assert rows
    path = tmp_path / "assignment.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    monkeypatch.setenv("SOMEBOUND_SMTP_RELAY_HOST", ctl.hostname)
    monkeypatch.setenv("SOMEBOUND_SMTP_RELAY_PORT", str(ctl.port))
    monkeypatch.setenv("SOMEBOUND_SMTP_FROM", "kampanja@somebound.fi")
    monkeypatch.setenv("SOMEBOUND_SMTP_STARTTLS", "false")
    assert main(["decisions", "open-cases", str(path), "--database", sqlite_url, "--queue", "campaigns"]) == 0
    assert f"opened {len(rows)} outbound cases" in capsys.readouterr().out
    assert len(handler.received) == len(rows)
    with engine.connect() as conn:
        assert conn.execute(select(cases.c.id).where(cases.c.queue == "campaigns")).all().__len__() == len(rows)
    engine.dispose()
