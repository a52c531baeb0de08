import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from somebound.channels.errors import FetchError, ParseError
from somebound.channels.feeds import FeedPoller, FeedState, KeywordMatcher, thread_of
from somebound.core import Channel

# --- keywords ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Somebound on paras",
        "Onko kellään kokemusta Someboundista?",
        "kiitos Someboundille",
        "Somebound:n asiakaspalvelu",
        "#somebound rocks",
        "SOMEBOUNDIN sovellus",
        "(somebound)",
        "somebound-palvelu",
    ],
)
def test_prefix_keyword_matches_finnish_inflections(text):
    assert KeywordMatcher.of(["somebound*"]).matches(text) == ["somebound*"]


@pytest.mark.parametrize("text", ["nosomebound", "some bound", "someb", "xsomeboundin"])
def test_prefix_keyword_needs_a_word_start(text):
    assert KeywordMatcher.of(["somebound*"]).matches(text) == []


def test_exact_keywords_phrases_and_exclusions():
    matcher = KeywordMatcher.of(["asiakaspalvelu", "huono palvelu", "Åbo*"], exclude=["lotto"])
    assert matcher.matches("Asiakaspalvelu ei vastaa") == ["asiakaspalvelu"]
    assert matcher.matches("asiakaspalvelua ei ole") == []  # no '*': whole word only
    assert matcher.matches("Todella HUONO\n  palvelu tänään") == ["huono palvelu"]
    assert matcher.matches("Åbolands butik") == ["Åbo*"]
    assert matcher.matches("asiakaspalvelu ja lotto") == []


@pytest.mark.parametrize("bad", ["", "*", "a*", "so*me", "somebound**", "*bound"])
def test_invalid_keywords_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match=r"\S"):
        KeywordMatcher.of([bad])


@given(
    suffix=st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöå", max_size=8),
    before=st.text(alphabet=" .,!?\n", min_size=1, max_size=3),
    noise=st.text(alphabet="abcdefghijklmnoprstuvyäö .,", max_size=40),
)
def test_prefix_match_property(suffix, before, noise):
    matcher = KeywordMatcher.of(["somebound*"])
    assert matcher.matches(f"{noise}{before}Somebound{suffix} {noise}") == ["somebound*"]
    if "somebound" not in noise.lower():
        assert matcher.matches(noise) == []


def test_thread_of_links():
    assert thread_of("https://forum.example.fi/viestiketju/123#post-9") == (
        "https://forum.example.fi/viestiketju/123"
    )
    assert thread_of("https://meta.example.com/t/somebound-kokemuksia/4512/7") == (
        "https://meta.example.com/t/somebound-kokemuksia/4512"
    )
    assert thread_of(None) is None


# --- polling a local feed server -------------------------------------------------------

RSS_ITEM = """<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>
<dc:creator>{author}</dc:creator><pubDate>{date}</pubDate>
<description><![CDATA[{html}]]></description></item>"""


def _rss(items: list[dict]) -> bytes:
    body = "".join(RSS_ITEM.format(**item) for item in items)
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Kuluttajafoorumi</title>'
        f"<link>https://forum.example.fi/</link><language>fi-FI</language>{body}</channel></rss>"
    ).encode()


class FeedServer:
    """Serves a feed that tests change; honours If-None-Match / If-Modified-Since."""

    def __init__(self, *, use_etag: bool = True) -> None:
        self.content = b""
        self.version = 0
        self.modified = datetime(2026, 3, 1, tzinfo=UTC)
        self.use_etag = use_etag
        self.requests: list[dict] = []
        self.status_override: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append({k.lower(): v for k, v in self.headers.items()})
                if server.status_override:
                    self.send_response(server.status_override)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = f'"v{server.version}"'
                last_modified = format_datetime(server.modified, usegmt=True)
                if (server.use_etag and self.headers.get("If-None-Match") == etag) or (
                    not server.use_etag and self.headers.get("If-Modified-Since") == last_modified
                ):
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", server.content_type)
                if server.use_etag:
                    self.send_header("ETag", etag)
                self.send_header("Last-Modified", last_modified)
                self.send_header("Content-Length", str(len(server.content)))
                self.end_headers()
                self.wfile.write(server.content)

            def log_message(self, *args):
                pass

        self.content_type = "application/rss+xml; charset=utf-8"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def publish(self, content: bytes, content_type: str | None = None) -> None:
        self.content = content
        self.version += 1
        self.modified = self.modified.replace(day=self.modified.day + 1)
        if content_type:
            self.content_type = content_type

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


ITEMS = [
    {
        "title": "Kokemuksia Someboundista?",
        "link": "https://forum.example.fi/t/42#p1",
        "guid": "https://forum.example.fi/p/1",
        "author": "Kalle_K",
        "date": "Mon, 02 Mar 2026 08:00:00 +0000",
        "html": "<p>Onko kellään kokemusta? Asiakaspalvelu ei vastaa &amp; lasku on väärin.</p>",
    },
    {
        "title": "Kesämökin vuokraus",
        "link": "https://forum.example.fi/t/43#p1",
        "guid": "https://forum.example.fi/p/2",
        "author": "Maija",
        "date": "Mon, 02 Mar 2026 08:05:00 +0000",
        "html": "<p>Ei liity mihinkään.</p>",
    },
    {
        "title": "Re: Kokemuksia",
        "link": "https://forum.example.fi/t/42#p3",
        "guid": "https://forum.example.fi/p/3",
        "author": "Pirkko",
        "date": "Mon, 02 Mar 2026 09:00:00 +0000",
        "html": "Minulla toimi hyvin, <b>Somebound:n</b> chat vastasi heti.",
    },
]


def test_poll_conditional_get_and_changing_feed(feed_server):
    poller = FeedPoller(KeywordMatcher.of(["somebound*"]), timeout=5)
    feed_server.publish(_rss(ITEMS))
    first = poller.poll(FeedState(url=feed_server.url))
    assert first.status == 200 and not first.not_modified
    assert first.new_entries == 3 and first.unmatched_entries == 1
    kokemuksia, reply = first.messages
    assert kokemuksia.channel is Channel.FEED and kokemuksia.public
    assert not kokemuksia.addressed_to_company
    assert kokemuksia.native_id == "https://forum.example.fi/p/1"
    assert kokemuksia.thread_key == reply.thread_key == "https://forum.example.fi/t/42"
    assert kokemuksia.author.channel_user_id == "forum.example.fi:Kalle_K"
    assert kokemuksia.body == (
        "Kokemuksia Someboundista?\n\nOnko kellään kokemusta? "
        "Asiakaspalvelu ei vastaa & lasku on väärin."
    )
    assert kokemuksia.sent_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert kokemuksia.language == "fi"
    assert kokemuksia.meta["matched_keywords"] == ["somebound*"]
    assert "Somebound:n chat vastasi heti" in reply.body
    assert "If-None-Match".lower() not in feed_server.requests[0]

    # the caller persists the state as a plain dict between polls
    stored = first.state.to_dict()
    assert stored["etag"] == '"v1"' and len(stored["seen"]) == 3

    second = poller.poll(FeedState.from_dict(stored))
    assert second.not_modified and second.status == 304 and second.messages == []
    assert feed_server.requests[-1]["if-none-match"] == '"v1"'
    assert feed_server.requests[-1]["if-modified-since"] == stored["modified"]
    assert second.state.seen == first.state.seen

    new_item = {
        "title": "Somebound lopettaa palvelun?",
        "link": "https://forum.example.fi/t/44",
        "guid": "https://forum.example.fi/p/4",
        "author": "Huhu",
        "date": "Tue, 03 Mar 2026 10:00:00 +0000",
        "html": "Kuulin huhun.",
    }
    feed_server.publish(_rss([new_item, *ITEMS]))
    third = poller.poll(second.state)
    assert third.status == 200 and third.new_entries == 1
    assert [m.native_id for m in third.messages] == ["https://forum.example.fi/p/4"]
    assert third.state.etag == '"v2"'
    poller.close()


def test_last_modified_only_server_gets_if_modified_since():
    server = FeedServer(use_etag=False)
    try:
        server.publish(_rss(ITEMS[:1]))
        poller = FeedPoller(KeywordMatcher.of(["somebound*"]), timeout=5)
        first = poller.poll(FeedState(url=server.url))
        assert first.state.etag is None and first.state.modified
        second = poller.poll(first.state)
        assert second.not_modified
        assert server.requests[-1]["if-modified-since"] == first.state.modified
        assert "if-none-match" not in server.requests[-1]
    finally:
        server.close()


def test_iso_8859_1_atom_feed(feed_server):
    atom = (
        '<?xml version="1.0" encoding="iso-8859-1"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="sv"><title>Bloggen</title>'
        "<id>tag:blogg.example.se,2026:feed</id><updated>2026-03-02T10:00:00Z</updated>"
        "<entry><id>tag:blogg.example.se,2026:1</id><title>Mitt möte med Somebound</title>"
        '<link href="https://blogg.example.se/2026/03/somebound"/>'
        "<author><name>Åsa Öberg</name></author><updated>2026-03-02T10:00:00Z</updated>"
        '<content type="html">&lt;p&gt;Jättebra service från Åbo!&lt;/p&gt;</content></entry>'
        "</feed>"
    ).encode("iso-8859-1")
    feed_server.publish(atom, "application/atom+xml")
    result = FeedPoller(KeywordMatcher.of(["somebound*"]), timeout=5).poll(
        FeedState(url=feed_server.url)
    )
    [msg] = result.messages
    assert msg.author.display_name == "Åsa Öberg"
    assert msg.body == "Mitt möte med Somebound\n\nJättebra service från Åbo!"
    assert msg.native_id == "tag:blogg.example.se,2026:1"
    assert msg.thread_key == "https://blogg.example.se/2026/03/somebound"
    assert msg.language == "sv"


def test_fetch_and_parse_failures_are_clear(feed_server):
    poller = FeedPoller(KeywordMatcher.of(["somebound*"]), timeout=5)
    feed_server.status_override = 404
    with pytest.raises(FetchError) as info:
        poller.poll(FeedState(url=feed_server.url))
    assert info.value.status == 404
    feed_server.status_override = None
    feed_server.publish(b"<html><body>Not a feed <b>at all", "text/html")
    with pytest.raises(ParseError) as perr:
        poller.poll(FeedState(url=feed_server.url))
    assert perr.value.where == feed_server.url and "feed URL" in perr.value.fix


def test_seen_list_is_bounded():
    items = [dict(ITEMS[0], guid=f"https://forum.example.fi/p/{i}") for i in range(30)]
    poller = FeedPoller(KeywordMatcher.of(["somebound*"]), max_seen=10)
    messages, seen, new, _ = poller.parse(_rss(items), FeedState(url="https://forum.example.fi/f"))
    assert len(messages) == 30 and new == 30 and len(seen) == 10
    assert seen[-1] == "https://forum.example.fi/p/29"
