"""``somebound demo``: a demo company and a replayed day of traffic through the real adapters.

Every contact enters the way production traffic does: mail over SMTP to the hub's
listener, Facebook/X/CTI webhooks signed and POSTed over HTTP, chat frames over the
WebSocket, forum posts from a polled RSS feed. Only Facebook's and X's servers are
stand-ins (local fakes speaking their documented payloads), because they cannot exist here.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import smtplib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import websockets
from sqlalchemy import insert, select

from somebound.api.local_stack import LocalStack
from somebound.api.settings import Settings
from somebound.channels import samples
from somebound.channels.fakes import signed_facebook_request, signed_x_request
from somebound.channels.signatures import hmac_sha256_hex
from somebound.store.accounts import create_agent, issue_token
from somebound.store.tables import agents, customers, identities

DEMO_PASSWORD = "somebound-demo"
AGENTS = [("anna", "Anna Virtanen", "agent", "service", "fi"),
          ("sam", "Sam Lindqvist", "supervisor", "social", "en"),
          ("admin", "Admin", "admin", None, "en")]


@dataclass(frozen=True)
class DemoCustomer:
    number: str
    name: str
    email: str
    phone: str
    language: str
    segment: str
    fb_id: str | None = None
    x_id: str | None = None
    x_handle: str | None = None


CUSTOMERS = [
    DemoCustomer("C-1001", "Matti Meikäläinen", "matti.meikalainen@example.fi", "+358401234567",
                 "fi", "standard", "fb-matti", "3001", "AngryMatti"),
    DemoCustomer("C-1002", "Aino Äijälä", "aino@example.fi", "+358407654321", "fi", "vip",
                 "fb-aino"),
    DemoCustomer("C-1003", "Märta Öberg", "marta.oberg@example.se", "+46701234567", "sv",
                 "standard"),
    DemoCustomer("C-1004", "John Smith", "john.smith@example.com", "+447700900123", "en",
                 "standard", None, "3004", "jsmith"),
    DemoCustomer("C-1005", "Liisa Korhonen", "liisa.korhonen@example.fi", "+358451112223", "fi",
                 "vip", "fb-liisa"),
    DemoCustomer("C-1006", "Pekka Nieminen", "pekka@example.fi", "+358442223334", "fi",
                 "standard"),
]

FI_QUESTIONS = ["Missä tilaukseni on? Tilasin viime viikolla.", "Laskussani on virhe, "
                "voitteko tarkistaa?", "Liittymäni ei toimi tänään, kiire!", "Haluan irtisanoa "
                "sopimukseni.", "Kiitos nopeasta avusta eilen!", "Miten vaihdan osoitteeni?",
                "Netti pätkii koko ajan, tämä on jo kolmas kerta.", "Onko teillä tarjouksia?"]
EN_QUESTIONS = ["Where is my order? It has been a week.", "My invoice looks wrong.",
                "The app keeps crashing, please help asap.", "I want to cancel my contract.",
                "Thanks for the quick help!", "How do I change my address?"]
SV_QUESTIONS = ["Fakturan är fel, kan ni kontrollera?", "Var är min beställning?"]
SOCIAL_CHATTER = ["Onko muillakin katkoja tänään?", "Sama täällä, ei toimi.",
                  "Asiakaspalvelu vastasi nopeasti, kiitos!", "Mikä tässä kestää??",
                  "Has anyone else got this problem?", "Tosi huono palvelu, vaihdan operaattoria."]


def seed_company(stack: LocalStack) -> dict[str, str]:
    """Agents (tokens returned), customers with their channel identities."""
    engine = stack.app.state.engine
    tokens: dict[str, str] = {}
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(select(agents.c.id).limit(1)).first() is not None:
            for username, *_ in AGENTS:
                agent_id = conn.execute(select(agents.c.id)
                                        .where(agents.c.username == username)).scalar()
                tokens[username] = issue_token(conn, agent_id, "demo")
            return tokens
        for username, name, role, team, lang in AGENTS:
            agent_id = create_agent(conn, username, DEMO_PASSWORD, name, role, team, lang)
            tokens[username] = issue_token(conn, agent_id, "demo")
        for c in CUSTOMERS:
            cid = conn.execute(insert(customers).values(
                customer_number=c.number, display_name=c.name, email=c.email, phone=c.phone,
                language=c.language, attributes={"segment": c.segment}, provisional=False,
                created_at=now, updated_at=now)).inserted_primary_key[0]
            keys = [("email", c.email), ("phone", c.phone)]
            if c.fb_id:
                keys.append(("facebook", c.fb_id))
            if c.x_id:
                keys.append(("x", c.x_id))
            for kind, key in keys:
                conn.execute(insert(identities).values(
                    kind=kind, key=key, customer_id=cid, display_name=c.name,
                    handle=c.x_handle if kind == "x" else None, profile={}, first_seen=now,
                    last_seen=now, link_evidence="import", linked_by="crm-import",
                    linked_at=now))
    return tokens


class Traffic:
    """Sends contacts through the real adapters of a running hub."""

    def __init__(self, stack: LocalStack, rng: random.Random):
        self.stack, self.rng = stack, rng
        self.s = stack.settings
        self.http = httpx.Client(base_url=stack.url, timeout=10)
        self.n = 0

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{int(time.time() * 1000)}{self.n}"

    def email(self, c: DemoCustomer, text: str, at: datetime, subject: str | None = None) -> None:
        mail = EmailMessage()
        mail["From"] = f"{c.name} <{c.email}>"
        mail["To"] = self.s.smtp_from
        mail["Subject"] = subject or text.split(".")[0][:60]
        mail["Date"] = at.strftime("%a, %d %b %Y %H:%M:%S +0000")
        mail["Message-ID"] = f"<{self._id('m')}@{c.email.split('@')[1]}>"
        mail.set_content(text + f"\n\nTerveisin / Regards\n{c.name}")
        with smtplib.SMTP(self.s.email_listen_host, self.stack.smtp_port) as smtp:
            smtp.send_message(mail)

    def facebook(self, payload: dict) -> None:
        body, headers = signed_facebook_request(payload, self.s.facebook_app_secret)
        self.http.post("/webhooks/facebook", content=body, headers=headers).raise_for_status()

    def x(self, payload: dict) -> None:
        body, headers = signed_x_request(payload, self.s.x_consumer_secret)
        self.http.post("/webhooks/x", content=body, headers=headers).raise_for_status()

    def call(self, number: str, at: datetime, talk: int, wait: int, answered: bool = True) -> None:
        call_id = self._id("call-")
        steps = [("ringing", at, {})]
        if answered:
            steps += [("answered", at + timedelta(seconds=wait), {"wait_seconds": wait}),
                      ("ended", at + timedelta(seconds=wait + talk),
                       {"wait_seconds": wait, "talk_seconds": talk, "wrap_seconds": 30})]
        else:
            steps += [("abandoned", at + timedelta(seconds=wait), {"wait_seconds": wait})]
        for event, t, extra in steps:
            body = json.dumps({**samples.cti_event(call_id, event, number, queue="phone", at=t),
                               **extra}).encode()
            sig = "sha256=" + hmac_sha256_hex(self.s.cti_secret, body)
            self.http.post("/webhooks/cti", content=body,
                           headers={"X-Somebound-Signature": sig}).raise_for_status()

    def chat(self, text: str, visitor: str) -> None:
        async def run() -> None:
            uri = self.stack.url.replace("http", "ws") + f"/chat/ws/{visitor}?visitor={visitor}"
            async with websockets.connect(uri) as ws:
                await ws.send(json.dumps({"type": "message", "text": text}))
                await asyncio.wait_for(ws.recv(), 10)

        asyncio.run(run())

    def public_thread(self, at: datetime, topic: str, n_comments: int) -> None:
        page = self.s.facebook_page_id
        post_id = f"{page}_{self._id('')}"
        self.facebook(samples.facebook_webhook(page, changes=[samples.facebook_post(
            page, post_id, page, "somebound Oy", topic, at=at)], at=at))
        people = [c for c in CUSTOMERS if c.fb_id] + [None] * 3
        parent = None
        for i in range(n_comments):
            who = self.rng.choice(people)
            uid, name = (who.fb_id, who.name) if who else (f"fb-guest{self.rng.randint(1, 99)}",
                                                          self.rng.choice(["Ville K", "Sanna",
                                                                           "Tero", "Emma"]))
            cid = f"{post_id}_{self._id('c')}"
            self.facebook(samples.facebook_webhook(page, changes=[samples.facebook_comment(
                page, post_id, cid, uid, name, self.rng.choice(SOCIAL_CHATTER),
                parent_id=parent, at=at + timedelta(minutes=3 * (i + 1)))]))
            parent = cid if self.rng.random() < 0.3 else None

    def tweet(self, at: datetime, text: str, user: tuple[str, str, str], followers: int) -> None:
        uid, handle, name = user
        company = self.s.x_handles[0]
        tweet = samples.x_tweet(self._id(""), uid, handle, name, f"@{company} {text}",
                                mentions=[(self.s.x_user_id, company)],
                                followers=followers, at=at)
        self.x(samples.x_webhook(self.s.x_user_id, tweets=[tweet]))


def replay_day(stack: LocalStack, rng: random.Random) -> int:
    """A scripted working day (08:00 → now) in Finnish, Swedish and English."""
    t = Traffic(stack, rng)
    day = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)  # 08:00 EET
    sent = 0
    for i in range(40):
        at = day + timedelta(minutes=12 * i + rng.randint(0, 10))
        c = rng.choice(CUSTOMERS)
        text = rng.choice(FI_QUESTIONS if c.language == "fi" else
                          SV_QUESTIONS if c.language == "sv" else EN_QUESTIONS)
        kind = i % 6
        if kind == 0:
            t.email(c, text, at)
        elif kind == 1:
            t.call(c.phone, at, talk=rng.randint(120, 600), wait=rng.randint(5, 90),
                   answered=rng.random() > 0.15)
        elif kind == 2 and c.fb_id:
            t.facebook(samples.facebook_webhook(stack.settings.facebook_page_id, messaging=[
                samples.messenger_message(stack.settings.facebook_page_id, c.fb_id,
                                          t._id("mid."), text, at=at)]))
        elif kind == 3:
            t.tweet(at, text, (c.x_id or c.number.replace("C-", "4"), c.x_handle or c.number,
                               c.name), followers=rng.choice([40, 300, 25000]))
        elif kind == 4:
            t.chat(text, visitor=f"web-{rng.randint(1000, 9999)}")
        else:
            t.email(c, text, at, subject="Tilaus / Order")
        sent += 1
    # the same customer waiting in two queues: email, then a call about the same thing
    matti = CUSTOMERS[0]
    t.email(matti, "Laskussa on virhe, soitan kohta.", day + timedelta(hours=5))
    t.call(matti.phone, day + timedelta(hours=5, minutes=20), talk=240, wait=45)
    # somebound: a public thread under the company's post, with customers and bystanders
    t.public_thread(day + timedelta(hours=3), "Huoltokatko tänään klo 10–12. Pahoittelemme!", 8)
    t.public_thread(day + timedelta(hours=6), "New app version is out – tell us what you think!",
                    5)
    return sent + 4


def answer_some(stack: LocalStack, token: str, rng: random.Random) -> int:
    """Agents answer part of the morning's cases so first responses exist."""
    client = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"},
                          timeout=15)
    answered = 0
    items = client.get("/cases", params={"limit": 200, "sort": "opened"}).json()["items"]
    for case in items:
        if case["channel"] in ("phone",) or rng.random() < 0.45:
            continue
        body = ("Kiitos viestistä! Selvitämme asian ja palaamme pian." if case["language"] != "en"
                else "Thanks for reaching out! We are looking into it.")
        r = client.post(f"/cases/{case['id']}/reply", json={
            "body": body, "handling_seconds": rng.randint(60, 400)})
        answered += r.status_code == 200
        if rng.random() < 0.3:
            client.post(f"/cases/{case['id']}/status", json={"status": "solved"})
    # outbound: the company starts contacts (a delivery notice, a service message)
    for cust_id, text in ((1, "Tilauksesi on saapunut noutopisteeseen."),
                          (4, "Your appointment has been moved to Thursday 10:00.")):
        client.post("/cases/outbound", json={"customer_id": cust_id, "channel": "email",
                                             "body": text, "subject": "somebound"})
    return answered


def _forum_feed(rng: random.Random) -> tuple[ThreadingHTTPServer, str]:
    """A local forum whose RSS feed grows a mention now and then."""
    posts: list[str] = []

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if rng.random() < 0.5 or not posts:
                n = len(posts) + 1
                posts.append(f"<item><guid>forum-{n}</guid><title>Kokemuksia somebound-"
                             f"liittymästä #{n}</title><link>http://forum.local/t/{n}</link>"
                             f"<description>Onko kenelläkään kokemuksia somebound liittymästä? "
                             f"{rng.choice(SOCIAL_CHATTER)}</description><author>nimimerkki{n}"
                             f"</author></item>")
            body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Foorumi</title>"
                    + "".join(posts) + "</channel></rss>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/forum.rss"


def keep_flowing(stack: LocalStack, rng: random.Random, stop: threading.Event) -> None:
    """After the replay, a new contact every 10–30 s so the live pages move."""
    t = Traffic(stack, rng)
    while not stop.wait(rng.uniform(10, 30)):
        try:
            c = rng.choice(CUSTOMERS)
            now = datetime.now(UTC)
            choice = rng.random()
            if choice < 0.3 and c.fb_id:
                t.public_thread(now, rng.choice(["Uusi tarjous!", "Kerro mielipiteesi"]), 2)
            elif choice < 0.55:
                t.tweet(now, rng.choice(FI_QUESTIONS + EN_QUESTIONS),
                        (c.x_id or c.number.replace("C-", "4"), c.x_handle or c.number, c.name), 500)
            elif choice < 0.8:
                t.email(c, rng.choice(FI_QUESTIONS), now)
            else:
                t.chat(rng.choice(FI_QUESTIONS), visitor=f"web-{rng.randint(1000, 9999)}")
        except Exception as exc:  # noqa: BLE001 - the demo goes on
            print(f"demo traffic: {exc}", flush=True)


def run_demo(port: int = 8000, data_dir: str = "var/demo", fresh: bool = False,
             serve: bool = True, settings: Settings | None = None) -> int:
    """``settings`` (``Settings.from_env()`` from the CLI) configure everything but the
    channels, which the local stack points at this machine."""
    data = Path(data_dir)
    if fresh and data.exists():
        shutil.rmtree(data)
    rng = random.Random(7)
    forum, feed_url = _forum_feed(rng)
    feeds_file = data / "feeds.yaml"
    data.mkdir(parents=True, exist_ok=True)
    feeds_file.write_text(f"feeds:\n  - url: {feed_url}\n    keywords: ['somebound*']\n")
    stack = LocalStack(data, port=port, smtp_port=2525 if serve else 0, settings_overrides={
        "feeds_file": str(feeds_file), "feed_poll_seconds": 20.0},
        base_settings=settings or Settings())
    stack.start()
    try:
        tokens = seed_company(stack)
        print("replaying a day of traffic through SMTP, webhooks, chat and a forum feed…",
              flush=True)
        sent = replay_day(stack, rng)
        time.sleep(2)
        answered = answer_some(stack, tokens["anna"], rng)
        print(f"  {sent} contacts sent, {answered} answered by agents", flush=True)
        print(f"\nsomebound demo: {stack.url}/  (API docs: {stack.url}/docs)")
        print(f"  log in as anna (agent) or sam (supervisor), password {DEMO_PASSWORD!r}")
        print(f"  API token for sam: {tokens['sam']}")
        print(f"  SMTP listener: 127.0.0.1:{stack.smtp_port}; replies go to a local relay "
              f"(127.0.0.1:{stack.relay.port}); Facebook/X replies to local fakes")
        if not serve:
            return 0
        stop = threading.Event()
        flow = threading.Thread(target=keep_flowing, args=(stack, rng, stop), daemon=True)
        flow.start()
        print("  new contacts keep arriving every 10–30 s; Ctrl-C stops", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        stack.stop()
        forum.shutdown()
