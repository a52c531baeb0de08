"""What makes the pages fast must not change what they show or how they fail:
the inbox rows rendered in Python (web/rows.py) against the Jinja2 markup they replaced,
their escaping in the real page, and the pool's ping-only-when-idle (store/engine.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from jinja2 import Environment
from sqlalchemy import text

from somebound.store import engine as engine_module
from somebound.store.engine import make_engine
from somebound.store.tables import cases, customers
from somebound.web.render import environment
from somebound.web.rows import case_rows
from tests.web.conftest import case_id_for, send_comment

# The row markup as the template had it before web/rows.py: the reference oracle.
REFERENCE_ROW = """{% for c in rows %}
  <tr class="case-row prio-{{ c.priority }}{% if c.sla_due_at and c.sla_due_at < now %} overdue{% endif %}" data-case-id="{{ c.id }}">
    <td><a href="/inbox/cases/{{ c.id }}" class="case-link">{{ c.id }}</a></td>
    <td class="subject"><a href="/inbox/cases/{{ c.id }}" tabindex="-1">{{ c.subject[:80] if c.subject else t_nosubject }}</a>
      {% if c.parallel %}<span class="flag parallel" title="{{ t_parallel_title }}">{{ t_parallel }}</span>{% endif %}
      {% if c.public %}<span class="flag public">{{ t_public }}</span>{% endif %}</td>
    <td>{{ c.customer_name or "—" }}</td>
    <td><span class="chan chan-{{ c.channel }}">{{ c.channel }}</span></td>
    <td><span class="bound bound-{{ c.bound }}">{{ c.bound }}</span></td>
    <td>{{ c.status }}</td>
    <td>{{ c.priority }}</td>
    <td>{{ c.queue or "—" }}</td>
    <td class="sla" data-due="{{ c.sla_due_at|iso }}">{{ c.sla_due_at|sla_left(now) }}</td>
  </tr>
{% endfor %}"""


def _norm(html: str) -> str:
    return re.sub(r"\s+", " ", html).strip()


@pytest.mark.parametrize("lang", ["en", "fi"])
def test_python_rows_match_the_template_they_replaced(lang: str) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    hostile = '<script>alert("x")</script> & \'q\''
    rows = [
        {"id": 1, "priority": "urgent", "sla_due_at": now - timedelta(hours=3, minutes=5),
         "subject": hostile, "parallel": True, "public": True, "customer_name": "<b>Matti</b>",
         "channel": "facebook", "bound": "somebound", "status": "new", "queue": "so<cial"},
        {"id": 2, "priority": "low", "sla_due_at": None, "subject": None, "parallel": False,
         "public": False, "customer_name": None, "channel": "email", "bound": "inbound",
         "status": "open", "queue": None},
        {"id": 3, "priority": "normal", "sla_due_at": now + timedelta(minutes=42),
         "subject": "x" * 200, "parallel": True, "public": False, "customer_name": "Åsa",
         "channel": "x", "bound": "outbound", "status": "pending", "queue": "general"},
        {"id": 4, "priority": "high", "sla_due_at": now + timedelta(days=2, hours=1),
         "subject": "", "parallel": False, "public": True, "customer_name": "",
         "channel": "chat", "bound": "inbound", "status": "open", "queue": "chat"},
    ]
    env = environment(lang)
    texts = {"no_subject": "(no <subject>)", "parallel": "parallel",
             "parallel_title": 'on "another" channel', "public": "public & open"}
    ref_env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    ref_env.filters.update(env.filters)
    want = ref_env.from_string(REFERENCE_ROW).render(
        rows=rows, now=now, t_nosubject=texts["no_subject"], t_parallel=texts["parallel"],
        t_parallel_title=texts["parallel_title"], t_public=texts["public"])
    got = str(case_rows(rows, now, env.filters["sla_left"], texts))
    assert _norm(got) == _norm(want)
    assert "<script>" not in got and "&lt;script&gt;" in got and "<b>Matti" not in got


def test_inbox_page_escapes_what_customers_wrote(client, settings) -> None:  # noqa: ANN001
    send_comment(client, settings, "escape check")
    cid = case_id_for(client, "escape check")
    with client.app.state.engine.begin() as conn:
        cust = conn.execute(cases.select().where(cases.c.id == cid)).mappings().one()
        conn.execute(cases.update().where(cases.c.id == cid).values(
            subject='<img src=x onerror=alert(1)> & "quotes"', parallel=True))
        conn.execute(customers.update().where(customers.c.id == cust["customer_id"])
                     .values(display_name="<script>evil()</script>"))
    page = client.get("/inbox").text
    row = re.search(rf'<tr class="case-row[^"]*" data-case-id="{cid}">.*?</tr>', page, re.S)
    assert row, "the case is not listed"
    html = row.group(0)
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;quotes&#34;" in html
    assert "&lt;script&gt;evil()&lt;/script&gt;" in html
    assert 'class="flag parallel"' in html and 'class="flag public"' in html
    # the live partial (the same rows) is escaped too
    assert "<script>evil" not in client.get("/inbox", headers={"x-partial": "1"}).text


def test_pool_pings_only_connections_that_sat_idle(pg_database: str, monkeypatch) -> None:  # noqa: ANN001
    engine = make_engine(pg_database)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as conn:  # in steady use: no extra round trip
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
        assert pings == []
        # the server drops the pooled connection while it sits idle (restart, firewall)
        with make_engine(pg_database).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as conn:  # pinged, found dead, replaced: the page works
            assert conn.execute(text("SELECT 1")).scalar() == 1
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        assert pings
    finally:
        engine.dispose()


@pytest.mark.parametrize("body", ["", "short", "x" * 105, "x" * 106, "word " * 40,
                                  "a" * 150, "ääkköset ja " * 12, None])
def test_case_timeline_truncates_as_the_jinja_filter_did(body: str | None) -> None:
    from somebound.web.pages import _truncate

    env = environment("en")
    assert _truncate(body) == env.from_string("{{ b|truncate(100) }}").render(b=body or "")


@pytest.mark.parametrize("lang", ["en", "fi"])
def test_cached_filter_form_is_the_template_for_exactly_those_filters(lang: str) -> None:
    """web/render.py renders the inbox's filter form once per language and choice of filters:
    each choice must get its own form (selected options, hidden queue), escaped."""
    from somebound.web.pages import FILTERS

    env = environment(lang)
    choices = [{}, {"queue": "social"}, {"status": "new", "sort": "updated"},
               {"mine": "1", "language": '"><script>x()</script>'}, {"queue": "social"}]
    for chosen in choices:
        got = str(env.globals["filters_form"](chosen, FILTERS))
        fresh = env.get_template("_inbox_filters.html").render(filters=chosen, options=FILTERS)
        assert got == fresh.strip()
    assert 'name="queue" value="social"' in str(env.globals["filters_form"]({"queue": "social"},
                                                                            FILTERS))
    assert 'name="queue"' not in str(env.globals["filters_form"]({}, FILTERS))
    hostile = str(env.globals["filters_form"](choices[3], FILTERS))
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
