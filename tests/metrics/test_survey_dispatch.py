"""Surveys go out by themselves when an agent solves a case, through the case's channel.

A real hub (HTTP, SMTP listener, recording SMTP relay, fake Graph API) as in tests/hub:
the customer writes, the agent answers and solves the case through the REST API, the
invitation arrives at the relay / the Messenger Send API, and its link records an answer
that ``/metrics/nps`` then counts.
"""

from __future__ import annotations

import re
import smtplib
import threading
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import func, select

from somebound.api.local_stack import LocalStack
from somebound.channels.fakes import signed_facebook_request
from somebound.metrics.config import default_config
from somebound.metrics.survey_dispatch import send_survey
from somebound.store.tables import events
from tests.hub.conftest import agent_client
from tests.hub.helpers import fb_messenger, wait_for

SECRET = "survey-test-secret"


@pytest.fixture
def hub(tmp_path, any_db_url) -> Iterator[LocalStack]:  # noqa: ANN001
    with LocalStack(tmp_path / "hub", database_url=any_db_url) as s:
        s.app.state.survey_secret = SECRET
        s.app.state.public_base_url = s.url
        yield s


def _email_case(hub: LocalStack, client: httpx.Client, sender: str = "marta@example.se") -> int:
    mail = EmailMessage()
    mail["From"], mail["To"] = f"Märta <{sender}>", "asiakaspalvelu@example.fi"
    mail["Subject"], mail["Message-ID"] = "Lasku väärin", f"<{sender}.1@example.se>"
    mail.set_content("Laskussa on virhe, voitteko korjata?")
    with smtplib.SMTP("127.0.0.1", hub.smtp_port) as smtp:
        smtp.send_message(mail)
    case = wait_for(lambda: client.get("/cases", params={"channel": "email"}).json()["items"])
    return int(case[0]["id"])


def _survey_events(hub: LocalStack, case_id: int) -> int:
    with hub.app.state.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(events).where(
            events.c.case_id == case_id, events.c.type == "survey_sent")).scalar_one()


def test_solving_an_email_case_sends_one_survey_whose_answer_nps_counts(hub: LocalStack):
    client = agent_client(hub)
    case_id = _email_case(hub, client)
    assert client.post(f"/cases/{case_id}/reply", json={"body": "Korjattu."}).status_code == 200
    wait_for(lambda: len(hub.relay.received) == 1)
    r = client.post(f"/cases/{case_id}/status", json={"status": "solved"})
    assert r.status_code == 200, r.text
    invite = wait_for(lambda: hub.relay.received[1:])[0]
    assert invite.rcpt_tos == ["marta@example.se"]
    text = invite.message.get_body(("plain",)).get_content()
    assert "suosittelisit" in text  # the case's language (Finnish)
    link = re.search(r"(http://\S+/surveys/\S+)", text).group(1)
    assert link.startswith(hub.url)
    assert _survey_events(hub, case_id) == 1

    answer = httpx.post(link, json={"score": 10})
    assert answer.status_code == 201, answer.text
    rows = client.get("/metrics/nps", params={"group_by": "channel"}).json()["rows"]
    email = next(r for r in rows if r["channel"] == "email")
    assert (email["nps_sent"], email["nps_answers"], email["promoters"]) == (1, 1, 1)
    assert email["nps"] == 100.0

    # Reopened and solved again (and a repeated "solved"): still one invitation.
    assert client.post(f"/cases/{case_id}/status", json={"status": "open"}).status_code == 200
    assert client.post(f"/cases/{case_id}/status", json={"status": "solved"}).status_code == 200
    assert client.post(f"/cases/{case_id}/status", json={"status": "solved"}).status_code == 200
    assert len(hub.relay.received) == 2 and _survey_events(hub, case_id) == 1


def test_messenger_case_gets_its_survey_through_the_send_api(hub: LocalStack):
    client = agent_client(hub)
    body, headers = signed_facebook_request(fb_messenger("m_9", "psid-77", "Where is my order?"),
                                            hub.settings.facebook_app_secret)
    httpx.post(hub.url + "/webhooks/facebook", content=body, headers=headers)
    case = wait_for(lambda: client.get("/cases", params={"channel": "facebook"}).json()["items"])
    case_id = int(case[0]["id"])
    client.post(f"/cases/{case_id}/reply", json={"body": "On its way."})
    before = len(hub.graph.messages)
    assert client.post(f"/cases/{case_id}/status", json={"status": "solved"}).status_code == 200
    sent = hub.graph.messages[before:]
    assert len(sent) == 1 and sent[0]["recipient"]["id"] == "psid-77"
    assert f"{hub.url}/surveys/" in sent[0]["text"]
    assert _survey_events(hub, case_id) == 1


def test_policy_switches_surveys_off_or_limits_channels(hub: LocalStack):
    client = agent_client(hub)
    policy = default_config()
    hub.app.state.metrics_config = replace(policy, surveys=replace(policy.surveys, send=False))
    first = _email_case(hub, client, "a@example.se")
    client.post(f"/cases/{first}/status", json={"status": "solved"})
    hub.app.state.metrics_config = replace(
        policy, surveys=replace(policy.surveys, channels=frozenset({"chat"})))
    client.post(f"/cases/{first}/status", json={"status": "open"})
    client.post(f"/cases/{first}/status", json={"status": "solved"})
    assert hub.relay.received == [] and _survey_events(hub, first) == 0
    # Switched back on, the next solve sends it (the case was never surveyed).
    hub.app.state.metrics_config = policy
    client.post(f"/cases/{first}/status", json={"status": "open"})
    client.post(f"/cases/{first}/status", json={"status": "solved"})
    wait_for(lambda: hub.relay.received)
    assert _survey_events(hub, first) == 1


def test_concurrent_dispatch_sends_once(hub: LocalStack):
    client = agent_client(hub)
    case_id = _email_case(hub, client)
    policy = replace(default_config().surveys, send=False)  # the hook stays quiet
    hub.app.state.metrics_config = replace(default_config(), surveys=policy)
    assert client.post(f"/cases/{case_id}/status", json={"status": "solved"}).status_code == 200
    on = replace(policy, send=True)
    results, errors = [], []

    def go() -> None:
        try:
            results.append(send_survey(hub.app.state.engine, hub.app.state.senders, case_id, on,
                                       secret=SECRET, base_url=hub.url))
        except Exception as exc:  # SQLite may refuse a concurrent writer: not a second send
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 1, (results, errors)
    assert len(hub.relay.received) == 1 and _survey_events(hub, case_id) == 1
