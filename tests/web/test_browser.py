"""End to end in a real browser: Debian's Chromium driven by Playwright.

The real app runs under uvicorn on a free port with the fake Graph API; a signed Facebook
webhook must show up live in the open inbox, the agent answers publicly with a canned
answer, the fake Graph server receives it and the case shows its first response.
Screenshots of the main pages go to ``$SOMEBOUND_ARTIFACTS/screenshots`` (not committed).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from somebound.api.app import create_app
from somebound.channels import samples
from somebound.channels.fakes import signed_facebook_request
from tests.web.conftest import PAGE_ID, PASSWORD

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)"),
]


def artifacts_dir() -> Path:
    root = Path(os.environ.get("SOMEBOUND_ARTIFACTS") or Path(__file__).parents[2] / "artifacts")
    out = root / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings, template_db, tmp_path) -> Iterator[str]:  # noqa: ANN001
    import uvicorn

    shutil.copyfile(template_db, tmp_path / "db.sqlite")
    app = create_app(settings)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                       timeout_graceful_shutdown=1))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    app.state.engine.dispose()


@pytest.fixture
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def test_comment_arrives_live_and_is_answered_with_a_canned_answer(
        server, browser, settings, graph) -> None:  # noqa: ANN001
    shots = artifacts_dir()
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(f"{server}/inbox")
    assert "/login" in page.url  # not logged in: sent to the login form
    page.fill("#username", "sara")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/inbox")
    page.wait_for_selector("body[data-live='1']")  # the event stream is open
    page.evaluate("window.__noReload = 42")

    text = "Missä tilaamani takki on? Toimitus on myöhässä."
    payload = samples.facebook_webhook(PAGE_ID, changes=[
        samples.facebook_post(PAGE_ID, f"{PAGE_ID}_77", PAGE_ID, "Company", "Talven takit!"),
        samples.facebook_comment(PAGE_ID, f"{PAGE_ID}_77", f"{PAGE_ID}_77_1", "555",
                                 "Matti Virtanen", text)])
    body, headers = signed_facebook_request(payload, settings.facebook_app_secret)
    assert httpx.post(f"{server}/webhooks/facebook", content=body, headers=headers,
                      timeout=10).status_code == 200

    row = page.wait_for_selector("#case-rows tr.case-row:has-text('Matti Virtanen')")
    assert page.evaluate("window.__noReload") == 42  # it arrived without a reload
    assert "somebound" in row.inner_text()
    page.screenshot(path=str(shots / "inbox.png"), full_page=True)

    # keyboard only: j focuses the first case, Enter opens it
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/inbox/cases/*")
    page.wait_for_selector("text=People in this thread")
    assert "not yet" in page.inner_text("#first-response")

    page.fill("#answer-q", "toimitus")
    page.select_option("#answer-lang", "fi")
    answer = page.wait_for_selector("#answer-list button.answer")
    answer.click()
    reply = page.input_value("#reply-body")
    assert reply.startswith("Hei Matti") and "{customer_name}" not in reply
    if "{" in reply:  # a variable only the agent knows (an order number): sending is held
        page.click("#send-reply")
        selected = page.evaluate("(() => { const t = document.querySelector('#reply-body');"
                                 " return t.value.slice(t.selectionStart, t.selectionEnd); })()")
        assert selected.startswith("{") and selected.endswith("}")
        assert graph.comments == []
        reply = re.sub(r"\{[a-z_]+\}", "A-1234", reply)
        page.fill("#reply-body", reply)
    assert page.is_checked("input[name=visibility][value=public]")
    page.screenshot(path=str(shots / "case-composer.png"), full_page=True)
    page.click("#send-reply")

    page.wait_for_function(
        "document.querySelector('#first-response').dataset.at !== ''")
    assert "not yet" not in page.inner_text("#first-response")
    assert [c["message"] for c in graph.comments] == [reply]
    assert graph.comments[0]["parent"] == f"{PAGE_ID}_77_1"
    page.wait_for_selector(f"#messages li.msg-company:has-text('{reply[:20]}')")
    page.screenshot(path=str(shots / "case-answered.png"), full_page=True)

    page.goto(f"{server}/supervisor")
    page.wait_for_selector("#qh-h")
    assert "facebook" in page.inner_text("section:has(#vol-h)")
    page.screenshot(path=str(shots / "supervisor.png"), full_page=True)
    page.close()
