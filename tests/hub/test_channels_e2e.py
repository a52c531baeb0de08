"""Every channel end to end through its real protocol: in through the adapter, into a case,
and the agent's answer out through the same channel."""

from __future__ import annotations

import asyncio
import json
import smtplib
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import websockets
from sqlalchemy import select

from somebound.api.local_stack import LocalStack
from somebound.channels.fakes import signed_facebook_request, signed_x_request
from somebound.channels.signatures import hmac_sha256_hex
from somebound.store.tables import dead_letters, messages, raw_inbox
from tests.hub.conftest import agent_client
from tests.hub.helpers import fb_comment, fb_messenger, wait_for


def cases_of(client: httpx.Client, **params) -> list[dict]:  # noqa: ANN003
    params.setdefault("status", ["new", "open", "pending", "solved"])
    return client.get("/cases", params=params).json()["items"]


def test_facebook_comment_thread_reply_public_and_redelivery(stack: LocalStack) -> None:
    client = agent_client(stack)
    secret = stack.settings.facebook_app_secret
    r = httpx.get(stack.url + "/webhooks/facebook", params={
        "hub.mode": "subscribe", "hub.verify_token": stack.settings.facebook_verify_token,
        "hub.challenge": "1158201444"})
    assert r.status_code == 200 and r.text == "1158201444"
    bad = httpx.get(stack.url + "/webhooks/facebook", params={
        "hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "x"})
    assert bad.status_code == 403

    body = fb_comment("1000_1_c1", "1000_1", "u77", "Aino Äijälä", "Milloin tilaus tulee? 😊")
    body, headers = signed_facebook_request(body, secret)
    assert httpx.post(stack.url + "/webhooks/facebook", content=body, headers=headers).is_success
    second = fb_comment("1000_1_c2", "1000_1", "u78", "Pekka", "Sama kysymys", t=1732350100,
                        parent_id="1000_1_c1")
    second, h2 = signed_facebook_request(second, secret)
    httpx.post(stack.url + "/webhooks/facebook", content=second, headers=h2)
    # the same delivery again (Facebook retries when it misses our 200)
    again = httpx.post(stack.url + "/webhooks/facebook", content=body, headers=headers)
    assert again.json()["duplicate"] is True

    case = wait_for(lambda: [c for c in cases_of(client, channel="facebook")
                             if c["message_count"] == 2])[0]
    assert case["bound"] == "somebound" and case["public"] is True
    detail = client.get(f"/cases/{case['id']}").json()
    assert [m["body"] for m in detail["messages"]] == ["Milloin tilaus tulee? 😊", "Sama kysymys"]
    assert {p["name"]: p["role"] for p in detail["participants"]} == {
        "Aino Äijälä": "customer", "Pekka": "bystander"}

    r = client.post(f"/cases/{case['id']}/reply", json={"body": "Hei! Tilaus tulee huomenna."})
    assert r.status_code == 200, r.text
    assert r.json()["first_response"] is True
    assert stack.graph.comments and stack.graph.comments[-1]["message"] == \
        "Hei! Tilaus tulee huomenna."
    after = client.get(f"/cases/{case['id']}").json()
    assert after["first_response_at"] is not None
    assert after["messages"][-1]["direction"] == "out"
    assert after["messages"][-1]["native_id"] == r.json()["native_id"]


def test_messenger_dm_is_private_inbound_and_reply_goes_to_send_api(stack: LocalStack) -> None:
    client = agent_client(stack)
    body, headers = signed_facebook_request(fb_messenger("m_1", "psid-42", "Laskussa virhe"),
                                            stack.settings.facebook_app_secret)
    httpx.post(stack.url + "/webhooks/facebook", content=body, headers=headers)
    case = wait_for(lambda: cases_of(client, channel="facebook"))[0]
    assert case["bound"] == "inbound" and case["public"] is False
    r = client.post(f"/cases/{case['id']}/reply", json={"body": "Korjaamme laskun."})
    assert r.status_code == 200, r.text
    assert stack.graph.messages[-1]["recipient"]["id"] == "psid-42"
    # a public answer to a private conversation is refused with a reason
    r = client.post(f"/cases/{case['id']}/reply", json={"body": "x", "public": True})
    assert r.status_code == 422 and "private" in r.json()["detail"]


def test_bad_signature_and_bad_payload_are_rejected_and_kept(stack: LocalStack) -> None:
    body = fb_comment("c9", "p9", "u1", "A", "hei")
    r = httpx.post(stack.url + "/webhooks/facebook", content=body,
                   headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert r.status_code == 401 and "signature" in r.json()["error"]
    r = httpx.post(stack.url + "/webhooks/facebook", content=body)
    assert r.status_code == 401 and "missing" in r.json()["error"]
    junk, headers = signed_facebook_request(b'{"object": "page", "entry": [{"id": 5}]',
                                            stack.settings.facebook_app_secret)
    r = httpx.post(stack.url + "/webhooks/facebook", content=junk, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]
    with stack.app.state.engine.connect() as conn:
        kept = conn.execute(select(dead_letters.c.reason, dead_letters.c.payload)).all()
        assert conn.execute(select(raw_inbox.c.id)).first() is None
    assert len(kept) == 3
    assert bytes(kept[2].payload) == junk


def test_x_crc_mention_and_reply_tweet(stack: LocalStack) -> None:
    client = agent_client(stack)
    r = httpx.get(stack.url + "/webhooks/x", params={"crc_token": "abc"})
    assert r.json()["response_token"].startswith("sha256=")
    payload = {"for_user_id": "2000", "tweet_create_events": [{
        "id_str": "1850000000000000001", "created_at": "Mon Nov 23 08:00:00 +0000 2026",
        "text": "@somebound_oy liittymä ei toimi, kiire!",
        "user": {"id_str": "555", "screen_name": "AngryMatti", "name": "Matti",
                 "followers_count": 12000},
        "entities": {"user_mentions": [{"id_str": "2000", "screen_name": "somebound_oy"}]},
    }]}
    body, headers = signed_x_request(payload, stack.settings.x_consumer_secret)
    assert httpx.post(stack.url + "/webhooks/x", content=body, headers=headers).is_success
    case = wait_for(lambda: cases_of(client, channel="x"))[0]
    # an outage ("ei toimi") from an author with 12k followers: listening's engagement
    # rule sends it to the urgent social queue, above routing's "kiire" -> high
    assert case["bound"] == "somebound" and case["priority"] == "urgent"
    assert case["queue"] == "social-urgent"
    r = client.post(f"/cases/{case['id']}/reply", json={"body": "Pahoittelut! Katsomme heti."})
    assert r.status_code == 200, r.text
    assert stack.x.tweets[-1]["in_reply_to_tweet_id"] == "1850000000000000001"
    bad = httpx.post(stack.url + "/webhooks/x", content=body,
                     headers={"x-twitter-webhooks-signature": "sha256=AAAA"})
    assert bad.status_code == 401


def test_email_in_by_smtp_reply_out_by_relay_and_threading(stack: LocalStack) -> None:
    client = agent_client(stack)
    mail = EmailMessage()
    mail["From"] = "Märta Öberg <marta@example.se>"
    mail["To"] = "asiakaspalvelu@example.fi"
    mail["Subject"] = "Lasku ja hyvitys – äöå"
    mail["Message-ID"] = "<q1@example.se>"
    mail.set_content("Hej! Fakturan är fel, voitteko hyvittää?", charset="iso-8859-1")
    with smtplib.SMTP("127.0.0.1", stack.smtp_port) as smtp:
        smtp.send_message(mail)
    case = wait_for(lambda: cases_of(client, channel="email"))[0]
    assert case["bound"] == "inbound" and case["subject"] == "Lasku ja hyvitys – äöå"
    r = client.post(f"/cases/{case['id']}/reply", json={"body": "Hyvitämme laskun. Hälsningar"})
    assert r.status_code == 200, r.text
    out = wait_for(lambda: stack.relay.received)[-1]
    assert out.rcpt_tos == ["marta@example.se"]
    sent = out.message
    assert sent["In-Reply-To"] == "<q1@example.se>"
    assert "Hyvitämme laskun" in sent.get_body(("plain",)).get_content()
    # the customer answers our reply: it joins the same case
    answer = EmailMessage()
    answer["From"] = "marta@example.se"
    answer["To"] = "asiakaspalvelu@example.fi"
    answer["Subject"] = "Re: Lasku"
    answer["Message-ID"] = "<q2@example.se>"
    answer["In-Reply-To"] = sent["Message-ID"]
    answer["References"] = f"<q1@example.se> {sent['Message-ID']}"
    answer.set_content("Tack!")
    with smtplib.SMTP("127.0.0.1", stack.smtp_port) as smtp:
        smtp.send_message(answer)
    wait_for(lambda: client.get(f"/cases/{case['id']}").json()["message_count"] == 3)
    assert len(cases_of(client, channel="email")) == 1


def test_cti_call_events_signed_and_unsigned(stack: LocalStack) -> None:
    client = agent_client(stack)
    secret = stack.settings.cti_secret
    for event, extra in (("ringing", {}), ("answered", {"wait_seconds": 12}),
                         ("ended", {"wait_seconds": 12, "talk_seconds": 200})):
        body = json.dumps({"call_id": "c-1", "event": event, "caller": "040 765 4321",
                           "queue": "phone", "timestamp": "2026-11-23T08:00:00Z", **extra}).encode()
        r = httpx.post(stack.url + "/webhooks/cti", content=body, headers={
            "X-Somebound-Signature": "sha256=" + hmac_sha256_hex(secret, body)})
        assert r.status_code == 200, r.text
    case = wait_for(lambda: [c for c in cases_of(client, channel="phone")
                             if c["status"] == "solved"])[0]
    assert case["bound"] == "inbound"
    customer = client.get(f"/customers/{case['customer_id']}").json()
    assert customer["phone"] == "+358407654321"
    r = httpx.post(stack.url + "/webhooks/cti", content=b'{"call_id": "c-2"}')
    assert r.status_code == 401


def test_web_chat_both_ways(stack: LocalStack) -> None:
    client = agent_client(stack)
    got: list[dict] = []

    async def visitor() -> None:
        uri = stack.url.replace("http", "ws") + "/chat/ws/sess-1?visitor=v-9"
        async with websockets.connect(uri) as ws:
            await ws.send(json.dumps({"type": "message", "text": "Hei, tarvitsen apua"}))
            got.append(json.loads(await ws.recv()))  # ack
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    got.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
                    return
                except TimeoutError:
                    continue

    t = threading.Thread(target=lambda: asyncio.run(visitor()))
    t.start()
    case = wait_for(lambda: cases_of(client, channel="chat"))[0]
    r = client.post(f"/cases/{case['id']}/reply", json={"body": "Hei! Miten voin auttaa?"})
    assert r.status_code == 200, r.text
    t.join(timeout=20)
    assert len(got) == 2
    assert "Miten voin auttaa" in json.dumps(got[1], ensure_ascii=False)


def test_a_halved_emoji_reaches_its_case_by_webhook_and_by_chat(stack: LocalStack) -> None:
    """A platform that cuts text at a length limit can halve an emoji's UTF-16 pair: the
    JSON then escapes a lone surrogate (``\\ud83d``), which neither database can store.
    Before, the webhook's contact was dead-lettered after 5 tries and the chat socket
    failed on its own envelope; now the half becomes U+FFFD."""
    client = agent_client(stack)
    halved = "Kuva tulossa \ud83d"
    body = fb_comment("1000_9_c1", "1000_9", "u91", "Aino", halved)
    assert b"\\ud83d" in body
    body, headers = signed_facebook_request(body, stack.settings.facebook_app_secret)
    assert httpx.post(stack.url + "/webhooks/facebook", content=body, headers=headers).is_success

    acks: list[dict] = []

    async def visitor() -> None:
        uri = stack.url.replace("http", "ws") + "/chat/ws/sess-9?visitor=v-91"
        async with websockets.connect(uri) as ws:
            await ws.send(json.dumps({"type": "message", "text": halved}))
            acks.append(json.loads(await ws.recv()))

    asyncio.run(visitor())
    assert acks[0]["type"] == "ack", acks
    for channel in ("facebook", "chat"):
        case = wait_for(lambda ch=channel: cases_of(client, channel=ch))[0]
        detail = client.get(f"/cases/{case['id']}").json()
        assert [m["body"] for m in detail["messages"]] == ["Kuva tulossa \ufffd"]


def test_feed_items_matching_keywords_become_somebound_mentions(stack: LocalStack) -> None:
    from somebound.api.feed_watch import FeedConfig, poll_once

    client = agent_client(stack)
    items = ["<item><guid>a1</guid><title>Somebound-liittymä pätkii</title>"
             "<link>http://forum/t/1</link><description>Onko muilla ongelmia somebound "
             "verkon kanssa?</description><author>nick1</author>"
             "<pubDate>Mon, 23 Nov 2026 08:00:00 GMT</pubDate></item>",
             "<item><guid>a2</guid><title>Kissat</title><link>http://forum/t/2</link>"
             "<description>Ei liity mihinkään</description>"
             "<pubDate>Mon, 23 Nov 2026 08:05:00 GMT</pubDate></item>"]
    seen_headers: list[str | None] = []

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen_headers.append(self.headers.get("If-None-Match"))
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.end_headers()
                return
            body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>"
                    + "".join(items) + "</channel></rss>").encode()
            self.send_response(200)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        feed = FeedConfig(f"http://127.0.0.1:{server.server_port}/rss", ("somebound*",))
        assert poll_once(stack.app.state.engine, feed) == 1
        assert poll_once(stack.app.state.engine, feed) == 0
        assert seen_headers == [None, '"v1"']
        stack.app.state.worker.wake()
        case = wait_for(lambda: cases_of(client, channel="feed"))[0]
        assert case["bound"] == "somebound"
        with stack.app.state.engine.connect() as conn:
            bodies = conn.execute(select(messages.c.body)).scalars().all()
        assert len(bodies) == 1 and "somebound" in bodies[0].casefold()
    finally:
        server.shutdown()


def test_api_requires_a_token(sqlite_stack: LocalStack) -> None:
    assert httpx.get(sqlite_stack.url + "/cases").status_code == 401
    assert httpx.get(sqlite_stack.url + "/cases",
                     headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.post(sqlite_stack.url + "/auth/login",
                      json={"username": "x", "password": "y"}).status_code == 401
    assert httpx.get(sqlite_stack.url + "/health").status_code == 200
    assert "/cases/{case_id}/reply" in httpx.get(sqlite_stack.url + "/openapi.json").json()["paths"]
