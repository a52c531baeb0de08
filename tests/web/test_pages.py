"""The agent's and the supervisor's pages over HTTP, on the real app and pipeline."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from somebound.store import events as event_log
from somebound.store.base import utcnow
from somebound.store.tables import cases, events, messages, queues
from somebound.store.web import web_notifications
from tests.web.conftest import case_id_for, csrf, login, send_comment, wait_for


def test_pages_redirect_to_login_and_bad_password_is_refused(app) -> None:  # noqa: ANN001
    with TestClient(app) as c:
        r = c.get("/inbox?channel=facebook", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=/inbox%3Fchannel%3Dfacebook"
        r = c.post("/login", data={"username": "anna", "password": "nope-nope-nope"},
                   follow_redirects=False)
        assert r.status_code == 303 and "error=1" in r.headers["location"]
        assert "somebound_token" not in c.cookies
        r = c.post("/login", data={"username": "anna", "password": "correct-horse-1",
                                   "next": "//evil.example/"}, follow_redirects=False)
        assert r.headers["location"] == "/inbox"  # no open redirect
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie


def test_inbox_lists_filters_and_counts_from_the_queue_table(client, settings) -> None:  # noqa: ANN001
    send_comment(client, settings, "Missä tilaukseni viipyy?")
    cid = case_id_for(client, "Missä tilaukseni viipyy?")
    page = client.get("/inbox").text
    assert f'data-case-id="{cid}"' in page
    assert "somebound" in page and "facebook" in page
    # the sidebar shows the maintained count, not a COUNT(*): change it and see it
    with client.app.state.engine.begin() as conn:
        conn.execute(queues.update().where(queues.c.name == "social").values(open_count=4242))
    assert re.search(r'data-queue="social"[^>]*>social <span class="count" data-count="4242"',
                     client.get("/inbox").text)
    assert f'data-case-id="{cid}"' in client.get("/inbox?channel=facebook&bound=somebound").text
    assert f'data-case-id="{cid}"' not in client.get("/inbox?channel=email").text
    assert f'data-case-id="{cid}"' not in client.get("/inbox?bound=inbound").text
    assert f'data-case-id="{cid}"' not in client.get("/inbox?mine=1").text
    bad = client.get("/inbox?channel=pigeon").text
    assert "channel=&#39;pigeon&#39; is not one of" in bad
    assert f'data-case-id="{cid}"' in bad  # the bad filter is dropped, not applied


def test_inbox_sorts_by_sla_time_left_and_pages_with_a_cursor(client, settings) -> None:  # noqa: ANN001
    ids = []
    for i in range(3):
        send_comment(client, settings, f"sort me {i}")
        ids.append(case_id_for(client, f"sort me {i}"))
    now = utcnow()
    with client.app.state.engine.begin() as conn:  # the last case is the most urgent
        for minutes, cid in zip((30, 20, 10), ids, strict=True):
            conn.execute(cases.update().where(cases.c.id == cid)
                         .values(sla_due_at=now + timedelta(minutes=minutes)))
    page = client.get("/inbox?sort=sla").text
    order = [int(x) for x in re.findall(r'class="case-row[^"]*" data-case-id="(\d+)"', page)]
    assert order == sorted(ids, reverse=True)
    import somebound.web.pages as pages

    old, pages.PAGE_SIZE = pages.PAGE_SIZE, 2
    try:
        first = client.get("/inbox?sort=sla").text
        nxt = re.search(r'href="(/inbox\?[^"]*cursor=[^"]+)" rel="next"', first)
        assert nxt
        second = client.get(nxt.group(1).replace("&amp;", "&")).text
        got = re.findall(r'class="case-row[^"]*" data-case-id="(\d+)"', second)
        assert [int(x) for x in got] == [ids[0]]
    finally:
        pages.PAGE_SIZE = old


def test_case_page_thread_roles_customer_360_and_panels(client, settings) -> None:  # noqa: ANN001
    post = send_comment(client, settings, "Tuote hajosi heti", author="Matti", author_id="555")
    cid = case_id_for(client, "Tuote hajosi heti")
    send_comment(client, settings, "Minullakin sama vika", author="Liisa", author_id="777",
                 post_id=post, with_post=False)
    wait_for(lambda: "Minullakin sama vika" in client.get(f"/inbox/cases/{cid}").text)
    with client.app.state.engine.begin() as conn:
        conn.execute(cases.update().where(cases.c.id == cid).values(insights={
            "next_best_action": {"title": "Offer a replacement", "why": "high value"},
            "sentiment": {"label": "negative", "score": -0.8}}))
    page = client.get(f"/inbox/cases/{cid}").text
    people = page.split('id="people-h"')[1].split("</section>")[0]
    assert re.search(r"Matti</strong> — <span class=\"role\">customer", people)
    assert re.search(r"Liisa</strong> — <span class=\"role\">bystander", people)
    assert "Offer a replacement" in page and "negative" in page
    assert 'id="panel-identity"' in page  # the slot exists even when empty
    assert "Timeline across channels" in page
    assert 'value="public" checked' in page  # a public thread answers publicly by default


def test_reply_with_csrf_goes_out_through_graph_and_records_first_response(
        client, settings, graph) -> None:  # noqa: ANN001
    send_comment(client, settings, "Kuinka kauan toimitus kestää?")
    cid = case_id_for(client, "Kuinka kauan toimitus kestää?")
    token = csrf(client, f"/inbox/cases/{cid}")
    answers = client.get(f"/inbox/answers?q=toimitus&lang=fi&case_id={cid}").json()["answers"]
    assert answers and all(a["lang"] == "fi" for a in answers)
    text = answers[0]["text"]
    assert "Matti" in text and "{customer_name}" not in text and "{case_number}" not in text
    assert client.get("/inbox/answers?q=x&lang=de").status_code == 422
    held = client.post(f"/inbox/cases/{cid}/reply", data={
        "body": "Tilauksesi {order_number} on matkalla", "csrf": token})
    assert held.status_code == 422 and "{order_number}" in held.json()["detail"]
    assert graph.comments == []
    text = re.sub(r"\{[a-z_]+\}", "A-1", text)
    r = client.post(f"/inbox/cases/{cid}/reply", data={"body": text, "visibility": "public",
                                                      "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert [c["message"] for c in graph.comments] == [text]
    with client.app.state.engine.connect() as conn:
        row = conn.execute(select(cases.c.first_response_at, cases.c.status)
                           .where(cases.c.id == cid)).first()
    assert row.first_response_at is not None and row.status == "open"
    page = client.get(f"/inbox/cases/{cid}").text
    assert re.search(r'id="first-response" data-at="\d{4}-', page)


def test_state_changes_need_the_csrf_token_and_same_origin(client, settings, graph) -> None:  # noqa: ANN001
    send_comment(client, settings, "csrf probe")
    cid = case_id_for(client, "csrf probe")
    r = client.post(f"/inbox/cases/{cid}/reply", data={"body": "x", "visibility": "public"})
    assert r.status_code == 403
    token = csrf(client)
    r = client.post(f"/inbox/cases/{cid}/note", data={"body": "x", "csrf": token},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert graph.comments == []
    with client.app.state.engine.connect() as conn:
        assert conn.execute(select(messages.c.id).where(messages.c.case_id == cid,
                                                        messages.c.kind == "note")).first() is None


def test_note_status_priority_assignee_through_forms(client, settings) -> None:  # noqa: ANN001
    send_comment(client, settings, "change my case")
    cid = case_id_for(client, "change my case")
    token = csrf(client)
    r = client.post(f"/inbox/cases/{cid}/note", data={"body": "called him", "csrf": token},
                    headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200 and r.json()["ok"]
    r = client.post(f"/inbox/cases/{cid}/update", data={
        "status": "pending", "priority": "urgent", "assignee": "me", "csrf": token},
        follow_redirects=False)
    assert r.status_code == 303
    with client.app.state.engine.connect() as conn:
        row = conn.execute(select(cases).where(cases.c.id == cid)).first()
        types = list(conn.execute(select(events.c.type).where(events.c.case_id == cid))
                     .scalars())
    assert (row.status, row.priority) == ("pending", "urgent") and row.assignee_id is not None
    assert {"note_added", "case_status_changed", "case_priority_changed",
            "case_assigned"} <= set(types)
    page = client.get(f"/inbox/cases/{cid}").text
    assert "called him" in page and "msg-note" in page
    assert f'data-case-id="{cid}"' in client.get("/inbox?mine=1").text
    r = client.post(f"/inbox/cases/{cid}/update", data={"status": "bogus", "csrf": token})
    assert r.status_code == 422


def test_following_a_customer_notifies_when_they_write(app, settings) -> None:  # noqa: ANN001
    with TestClient(app) as anna, TestClient(app) as ben:
        login(anna, "anna")
        login(ben, "ben")
        post = send_comment(anna, settings, "first words", author_id="901", author="Outi")
        cid = case_id_for(anna, "first words")
        token = csrf(ben)
        r = ben.post(f"/inbox/cases/{cid}/follow", data={"target": "customer", "csrf": token},
                     headers={"X-Requested-With": "fetch"})
        assert r.json()["following"] == {"case": False, "customer": True}
        send_comment(anna, settings, "second words", author_id="901", author="Outi",
                     post_id=post, with_post=False)
        engine = app.state.engine

        def notes() -> list:
            with engine.connect() as conn:
                return conn.execute(select(web_notifications.c.agent_id,
                                           web_notifications.c.text)).all()

        rows = wait_for(notes)
        assert all("second words" in t for _, t in rows)
        ben_id = {r.agent_id for r in rows}
        assert len(ben_id) == 1  # only the follower, once
        assert "second words" in ben.get("/notifications").text
        assert re.search(r'id="notif-badge" class="badge"[^>]*>1<', ben.get("/inbox").text)
        assert "second words" not in anna.get("/notifications").text
        ben.post("/notifications/read", data={"csrf": token})
        assert re.search(r'id="notif-badge" class="badge hidden"', ben.get("/inbox").text)


def test_collision_warning_when_another_agent_is_on_the_case(app, settings) -> None:  # noqa: ANN001
    with TestClient(app) as anna, TestClient(app) as ben:
        login(anna, "anna")
        login(ben, "ben")
        send_comment(anna, settings, "two agents one case")
        cid = case_id_for(anna, "two agents one case")
        r = anna.post(f"/inbox/cases/{cid}/presence", data={"composing": "1"},
                      headers={"X-CSRF-Token": csrf(anna)})
        assert r.json() == {"others": []}
        page = ben.get(f"/inbox/cases/{cid}").text
        assert re.search(r'id="collision" class="collision"', page)
        assert "Anna Agent" in page.split('id="collision"')[1].split("</div>")[0]
        assert "typing a reply" in page.split('id="collision"')[1].split("</div>")[0]
        ben_token = csrf(ben)
        others = ben.post(f"/inbox/cases/{cid}/presence", data={"csrf": ben_token}).json()
        assert others["others"][0]["name"] == "Anna Agent"
        anna.post(f"/inbox/cases/{cid}/presence", data={"leave": "1", "csrf": csrf(anna)})
        assert ben.get(f"/inbox/cases/{cid}/presence").json() == {"others": []}


def test_finnish_ui_chosen_in_settings(client) -> None:  # noqa: ANN001
    assert ">Inbox<" in client.get("/inbox").text
    r = client.post("/settings", data={"language": "fi", "available": "1",
                                       "csrf": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/inbox").text
    assert '<html lang="fi">' in page and ">Saapuneet<" in page and "Kaikki jonot" in page
    assert client.post("/settings", data={"language": "tlh", "csrf": csrf(client)}
                       ).status_code == 422


def test_supervisor_page_queue_health_volumes_and_spike_banner(app, settings) -> None:  # noqa: ANN001
    with TestClient(app) as sara, TestClient(app) as anna:
        login(sara, "sara")
        login(anna, "anna")
        assert anna.get("/supervisor").status_code == 403
        send_comment(sara, settings, "supervise me")
        cid = case_id_for(sara, "supervise me")
        now = utcnow()
        with app.state.engine.begin() as conn:
            conn.execute(cases.update().where(cases.c.id == cid)
                         .values(sla_due_at=now - timedelta(minutes=5)))
        page = sara.get("/supervisor").text
        health = page.split('id="qh-h"')[1].split("</section>")[0]
        social = re.search(r'<tr class="alert"><th scope="row"><a href="/inbox\?queue=social">'
                           r"social</a></th><td>(\d+)</td><td>(\d+)</td><td>[^<]+</td>"
                           r"<td>(\d+)</td>", health)
        assert social and int(social.group(2)) >= 1 and int(social.group(3)) >= 1
        volumes = page.split('id="vol-h"')[1]
        assert re.search(r'<th scope="row">facebook</th><td>somebound</td><td>[1-9]', volumes)
        assert "<svg" in volumes and "Sara Supervisor" in page
        assert 'class="spike hidden"' in page
        from somebound.core.enums import EventType
        from somebound.core.events import Event

        with app.state.engine.begin() as conn:
            event_log.append(conn, [Event(type=EventType.SPIKE_RAISED, at=now,
                                          data={"key": "wall:recall", "label": "Recall storm"})])
        assert "Recall storm" in anna.get("/inbox").text
        with app.state.engine.begin() as conn:
            event_log.append(conn, [Event(type=EventType.SPIKE_CLEARED,
                                          at=now + timedelta(seconds=1),
                                          data={"key": "wall:recall"})])
        assert "Recall storm" not in anna.get("/inbox").text


def test_live_stream_requires_login(app) -> None:  # noqa: ANN001
    with TestClient(app) as c:
        assert c.get("/live").status_code == 401
