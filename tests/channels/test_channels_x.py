from datetime import UTC, datetime

import pytest

from somebound.channels import samples as s
from somebound.channels import x
from somebound.channels.errors import ParseError, SendError
from somebound.channels.fakes import FakeXServer, signed_x_request, webhook_body
from somebound.core import Author, Channel, Direction
from somebound.core.reply import Reply

US = "2000"  # the company account
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_mention_reply_chain_and_own_tweet_in_one_delivery():
    payload = s.x_webhook(
        US,
        tweets=[
            s.x_tweet(
                "100",
                "31",
                "AngryMatti",
                "Matti",
                "@somebound laskutus on taas sekaisin &amp; kukaan ei vastaa!",
                mentions=[(US, "somebound")],
                followers=5400,
                at=AT,
                lang="fi",
            ),
            s.x_tweet(
                "101",
                US,
                "somebound",
                "Somebound",
                "@AngryMatti Pahoittelut! Laitatko DM?",
                in_reply_to="100",
                in_reply_to_user_id="31",
                mentions=[("31", "AngryMatti")],
                at=AT,
            ),
            s.x_tweet(
                "102",
                "32",
                "tiina_k",
                "Tiina",
                "@AngryMatti @somebound sama ongelma",
                in_reply_to="101",
                in_reply_to_user_id=US,
                mentions=[("31", "AngryMatti"), (US, "somebound")],
                at=AT,
            ),
        ],
    )
    mention, ours, joined = x.parse_webhook(webhook_body(payload))
    assert mention.public and mention.channel is Channel.X
    assert mention.native_id == "100" and mention.thread_key == "100"
    assert mention.body == "@somebound laskutus on taas sekaisin & kukaan ei vastaa!"
    assert mention.addressed_to_company and mention.author.followers == 5400
    assert mention.author.handle == "AngryMatti" and mention.language == "fi"
    assert mention.sent_at == AT
    assert ours.author.is_company and ours.direction is Direction.OUT
    assert not ours.addressed_to_company
    assert ours.thread_key == "100" and ours.in_reply_to == "100"
    # the third tweet answers 101; its root (100) is known from the same delivery
    assert joined.thread_key == "100" and joined.in_reply_to == "101"
    assert joined.references == ("100",) and joined.addressed_to_company


def test_root_lookup_threads_replies_to_tweets_seen_earlier():
    payload = s.x_webhook(
        US,
        tweets=[
            s.x_tweet(
                "205",
                "40",
                "ville",
                "Ville",
                "@Someone no ei se noin mene",
                in_reply_to="204",
                mentions=[("41", "Someone")],
                at=AT,
            )
        ],
    )
    known = {"204": "150"}
    [msg] = x.parse_webhook(webhook_body(payload), root_lookup=known.get)
    assert msg.thread_key == "150" and msg.in_reply_to == "204"
    assert not msg.addressed_to_company  # talks about us nowhere: a side conversation
    [unknown] = x.parse_webhook(webhook_body(payload))
    assert unknown.thread_key == "204"


def test_display_text_range_conversation_id_company_handles_and_retweets():
    tweet = s.x_tweet("300", "50", "asiakas", "A", "@brand_fi @somebound Onko tämä totta?", at=AT)
    tweet["display_text_range"] = [21, 37]
    tweet["conversation_id_str"] = "299"
    retweet = s.x_tweet("301", "51", "b", "B", "RT @somebound: uutisia", at=AT)
    retweet["retweeted_status"] = {"id_str": "1"}
    payload = s.x_webhook(US, tweets=[tweet, retweet])
    [msg] = x.parse_webhook(webhook_body(payload), company_handles=["@Brand_FI"])
    assert msg.body == "Onko tämä totta?"
    assert msg.meta["full_text"].startswith("@brand_fi @somebound")
    assert msg.thread_key == "299"
    assert msg.addressed_to_company is False  # entities list no mention in this sample
    tweet["entities"]["user_mentions"] = [{"id_str": "77", "screen_name": "brand_fi"}]
    [msg] = x.parse_webhook(webhook_body(payload), company_handles=["@Brand_FI"])
    assert msg.addressed_to_company


def test_direct_messages_in_and_out_share_one_private_thread():
    payload = s.x_webhook(
        US,
        dms=[
            s.x_dm("900", "31", US, "Asiakasnumeroni on 12345, laskussa väärä summa", at=AT),
            s.x_dm("901", US, "31", "Kiitos, tarkistamme sen.", at=AT),
        ],
        users={
            "31": {
                "id": "31",
                "name": "Matti",
                "screen_name": "AngryMatti",
                "followers_count": 5400,
            }
        },
    )
    incoming, outgoing = x.parse_webhook(webhook_body(payload))
    assert not incoming.public and incoming.native_id == "dm:900"
    assert incoming.thread_key == outgoing.thread_key == "dm:31-2000"
    assert incoming.author.handle == "AngryMatti" and incoming.author.followers == 5400
    assert incoming.meta["participant_id"] == "31" and incoming.sent_at == AT
    assert outgoing.author.is_company and outgoing.direction is Direction.OUT
    assert outgoing.meta["participant_id"] == "31"
    assert x.dm_conversation_id("31", "2000") == x.dm_conversation_id("2000", "31") == "31-2000"


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b"{}", "for_user_id"),
        (
            b'{"for_user_id": "1", "tweet_create_events": [{"id_str": "5", "text": "x", '
            b'"created_at": "Wed Oct 10 20:19:24 +0000 2018"}]}',
            "tweet_create_events[0].user",
        ),
        (
            b'{"for_user_id": "1", "tweet_create_events": [{"id_str": "5", "user": {"id_str": "2"},'
            b' "created_at": "Wed Oct 10 20:19:24 +0000 2018"}]}',
            "tweet_create_events[0].text",
        ),
        (
            b'{"for_user_id": "1", "tweet_create_events": [{"id_str": "5", "text": "x", "user": '
            b'{"id_str": "2"}, "created_at": "yesterday"}]}',
            "tweet_create_events[0].created_at",
        ),
        (
            b'{"for_user_id": "1", "direct_message_events": [{"type": "message_create", "id": "1",'
            b' "created_timestamp": "1", "message_create": {"sender_id": "2", "target": {}, '
            b'"message_data": {"text": "x"}}}]}',
            "direct_message_events[0].message_create.target.recipient_id",
        ),
    ],
)
def test_unparseable_payloads_say_where(payload, where):
    with pytest.raises(ParseError) as info:
        x.parse_webhook(payload)
    assert info.value.where == where


def test_signed_request_verifies_and_parses():
    payload = s.x_webhook(
        US,
        tweets=[
            s.x_tweet("1", "2", "u", "U", "@somebound hei", at=AT, mentions=[(US, "somebound")])
        ],
    )
    body, headers = signed_x_request(payload, "consumer-secret")
    x.verify_signature(body, headers["x-twitter-webhooks-signature"], "consumer-secret")
    assert [m.native_id for m in x.parse_webhook(body)] == ["1"]


@pytest.fixture
def api():
    with FakeXServer(bearer_token="user-token", user_id=US) as server:
        yield server


def test_public_reply_and_dm_through_the_v2_api(api):
    sender = x.XSender(api.base_url, "user-token", timeout=5)
    result = sender.send(
        Reply(
            channel=Channel.X,
            body="@AngryMatti Pahoittelut, selvitämme! 🙏",
            to=Author("31", handle="AngryMatti"),
            public=True,
            in_reply_to="100",
            thread_key="100",
        )
    )
    request = api.requests[-1]
    assert request.path == "/2/tweets" and request.headers["authorization"] == "Bearer user-token"
    assert request.json == {
        "text": "@AngryMatti Pahoittelut, selvitämme! 🙏",
        "reply": {"in_reply_to_tweet_id": "100"},
    }
    assert result.native_id == api.tweets[0]["id"]

    dm = sender.send(
        Reply(
            channel=Channel.X,
            body="Voitko kertoa asiakasnumerosi?",
            to=Author("31"),
            thread_key="dm:31-2000",
        )
    )
    request = api.requests[-1]
    assert request.path == "/2/dm_conversations/with/31/messages"
    assert request.json == {"text": "Voitko kertoa asiakasnumerosi?"}
    assert dm.native_id == f"dm:{api.dms[0]['dm_event_id']}"
    assert dm.meta["dm_conversation_id"] == "31-2000"


def test_x_errors_and_limits(api):
    reply = Reply(channel=Channel.X, body="hei", to=Author("31"), public=True, in_reply_to="1")
    with pytest.raises(SendError) as info:
        x.XSender(api.base_url, "wrong", timeout=5).send(reply)
    assert info.value.status == 401 and not info.value.retryable
    assert "Unauthorized" in str(info.value)
    sender = x.XSender(api.base_url, "user-token", timeout=5)
    api.fail_next(
        429,
        {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        },
    )
    with pytest.raises(SendError) as info:
        sender.send(reply)
    assert info.value.retryable
    before = len(api.requests)
    with pytest.raises(SendError, match="280"):
        sender.send(Reply(channel=Channel.X, body="a" * 281, to=Author("31"), public=True))
    with pytest.raises(SendError, match="user id"):
        sender.send(Reply(channel=Channel.X, body="hei", to=Author("@handle")))
    assert len(api.requests) == before
