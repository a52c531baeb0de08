from datetime import UTC, datetime

import pytest

from somebound.channels import facebook
from somebound.channels import samples as s
from somebound.channels.errors import ParseError, SendError
from somebound.channels.fakes import FakeGraphServer, signed_facebook_request, webhook_body
from somebound.core import Author, Channel, Direction
from somebound.core.reply import Reply

PAGE = "1000"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_post_comments_and_replies_form_one_public_thread_with_many_authors():
    payload = s.facebook_webhook(
        PAGE,
        changes=[
            s.facebook_post(
                PAGE,
                f"{PAGE}_55",
                PAGE,
                "Somebound Oy",
                "Uusi palvelu julkaistu! Mitä pidätte?",
                at=AT,
            ),
            s.facebook_comment(
                PAGE,
                f"{PAGE}_55",
                "55_1",
                "201",
                "Liisa Virtanen",
                "Miksi sovellus kaatuu jatkuvasti? 😡",
                at=AT,
            ),
            s.facebook_comment(
                PAGE,
                f"{PAGE}_55",
                "55_2",
                "202",
                "Pekka Nieminen",
                "Sama täällä, ärsyttää!",
                parent_id="55_1",
                at=AT,
            ),
            s.facebook_comment(
                PAGE,
                f"{PAGE}_55",
                "55_3",
                PAGE,
                "Somebound Oy",
                "Pahoittelemme, korjaus tulossa.",
                parent_id="55_1",
                at=AT,
            ),
        ],
    )
    post, comment, reply, company_reply = facebook.parse_webhook(webhook_body(payload))
    assert {m.thread_key for m in (post, comment, reply, company_reply)} == {f"{PAGE}_55"}
    assert all(m.public and m.channel is Channel.FACEBOOK for m in (post, comment, reply))
    assert post.author.is_company and post.direction is Direction.OUT
    assert not post.addressed_to_company and post.in_reply_to is None
    assert comment.native_id == "55_1" and comment.in_reply_to == f"{PAGE}_55"
    assert comment.author == Author(channel_user_id="201", display_name="Liisa Virtanen")
    assert comment.body == "Miksi sovellus kaatuu jatkuvasti? 😡"
    assert comment.sent_at == AT and comment.direction is Direction.IN
    assert reply.in_reply_to == "55_1" and reply.references == (f"{PAGE}_55",)
    assert reply.body == "Sama täällä, ärsyttää!"
    assert company_reply.author.is_company and company_reply.direction is Direction.OUT
    assert comment.meta["permalink_url"].endswith(f"{PAGE}_55")
    # answers to either go under the top-level comment: Facebook nests two levels deep
    assert comment.meta["top_level_comment_id"] == "55_1"
    assert reply.meta["top_level_comment_id"] == "55_1"


def test_visitor_post_on_the_page_and_edits_and_skips():
    payload = s.facebook_webhook(
        PAGE,
        changes=[
            s.facebook_post(
                PAGE, f"{PAGE}_77", "301", "Anna K", "Is the shop open on Sunday?", at=AT
            ),
            s.facebook_comment(
                PAGE, f"{PAGE}_55", "55_1", "201", "Liisa", "Korjattu teksti", at=AT, verb="edited"
            ),
            s.facebook_comment(
                PAGE, f"{PAGE}_55", "55_9", "201", "Liisa", "", at=AT, verb="remove"
            ),
            {
                "field": "feed",
                "value": {
                    "item": "reaction",
                    "verb": "add",
                    "reaction_type": "like",
                    "post_id": f"{PAGE}_55",
                    "from": {"id": "9"},
                },
            },
            {"field": "ratings", "value": {"item": "rating"}},
        ],
    )
    visitor_post, edit = facebook.parse_webhook(webhook_body(payload))
    assert visitor_post.native_id == f"{PAGE}_77" and visitor_post.addressed_to_company
    assert not visitor_post.author.is_company and visitor_post.direction is Direction.IN
    assert edit.native_id.startswith("55_1@edited:") and edit.meta["edit_of"] == "55_1"
    assert edit.body == "Korjattu teksti"


def test_messenger_messages_are_private_one_thread_per_person():
    payload = s.facebook_webhook(
        PAGE,
        messaging=[
            s.messenger_message(
                PAGE, "psid-42", "m_1", "Hei, voinko vaihtaa toimitusosoitteen?", at=AT
            ),
            s.messenger_message(
                PAGE, "psid-42", "m_2", "Totta kai! Mikä on uusi osoite?", at=AT, is_echo=True
            ),
            {
                "sender": {"id": "psid-42"},
                "recipient": {"id": PAGE},
                "timestamp": 1,
                "delivery": {"mids": ["m_2"]},
            },
            {
                "sender": {"id": "psid-43"},
                "recipient": {"id": PAGE},
                "timestamp": 1772443800000,
                "message": {
                    "mid": "m_3",
                    "attachments": [
                        {"type": "image", "payload": {"url": "https://cdn.example/kuva.jpg"}}
                    ],
                },
            },
        ],
    )
    question, echo, picture = facebook.parse_webhook(webhook_body(payload))
    assert not question.public and question.thread_key == facebook.messenger_thread_key("psid-42")
    assert question.author.channel_user_id == "psid-42" and question.sent_at == AT
    assert echo.direction is Direction.OUT and echo.author.is_company
    assert echo.thread_key == question.thread_key and echo.meta["psid"] == "psid-42"
    assert picture.body == "[image]"
    assert picture.meta["attachments"] == [{"type": "image", "url": "https://cdn.example/kuva.jpg"}]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b"{not json", "facebook webhook"),
        (b"[1, 2]", "facebook webhook"),
        (b'{"object": "instagram", "entry": []}', "object"),
        (b'{"object": "page"}', "entry"),
        (
            b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": '
            b'{"item": "comment", "verb": "add", "post_id": "1_2", "message": "x", '
            b'"created_time": 1}}]}]}',
            "entry[0].changes[0].value.comment_id",
        ),
        (
            b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": '
            b'{"item": "comment", "verb": "add", "post_id": "1_2", "comment_id": "2_3", '
            b'"message": "x", "from": {"name": "x"}, "created_time": 1}}]}]}',
            "entry[0].changes[0].value.from.id",
        ),
        (
            b'{"object": "page", "entry": [{"id": "1", "messaging": [{"sender": {"id": "5"}, '
            b'"timestamp": "soon", "message": {"mid": "m"}}]}]}',
            "entry[0].messaging[0].timestamp",
        ),
        ('{"object": "page", "entry": ["ä"]}'.encode("latin-1"), "facebook webhook"),
    ],
)
def test_unparseable_payloads_say_where(payload, where):
    with pytest.raises(ParseError) as info:
        facebook.parse_webhook(payload)
    assert info.value.where == where


def test_signed_request_verifies_and_parses_end_to_end():
    payload = s.facebook_webhook(
        PAGE,
        changes=[
            s.facebook_comment(PAGE, f"{PAGE}_1", "1_1", "201", "Åke Öst", "Hur mår ni?", at=AT)
        ],
    )
    body, headers = signed_facebook_request(payload, "app-secret")
    facebook.verify_signature(body, headers["X-Hub-Signature-256"], "app-secret")
    [message] = facebook.parse_webhook(body)
    assert message.author.display_name == "Åke Öst"


@pytest.fixture
def graph():
    with FakeGraphServer(page_token="page-token", page_id=PAGE) as server:
        yield server


def _sender(graph) -> facebook.GraphSender:
    return facebook.GraphSender(graph.base_url, "page-token", PAGE, timeout=5)


def test_public_reply_is_a_comment_on_the_comment_answered(graph):
    reply = Reply(
        channel=Channel.FACEBOOK,
        body="Hei Liisa! Korjaus julkaistaan tänään ✅",
        to=Author("201"),
        public=True,
        in_reply_to="55_1",
        thread_key=f"{PAGE}_55",
    )
    result = _sender(graph).send(reply)
    [request] = graph.requests
    assert request.method == "POST" and request.path == "/v21.0/55_1/comments"
    assert request.query["access_token"] == ["page-token"]
    assert request.json == {"message": "Hei Liisa! Korjaus julkaistaan tänään ✅"}
    assert graph.comments[0]["id"] == result.native_id and result.meta["public"] is True

    nested = Reply(
        channel=Channel.FACEBOOK,
        body="Pekka, sama korjaus koskee sinua.",
        to=Author("202"),
        public=True,
        in_reply_to="55_2",
        meta={"top_level_comment_id": "55_1"},
    )
    _sender(graph).send(nested)
    assert graph.requests[-1].path == "/v21.0/55_1/comments"

    to_post = Reply(
        channel=Channel.FACEBOOK,
        body="Kiitos kaikille!",
        to=Author("x"),
        public=True,
        thread_key=f"{PAGE}_55",
    )
    _sender(graph).send(to_post)
    assert graph.requests[-1].path == f"/v21.0/{PAGE}_55/comments"


def test_private_replies_use_the_send_api(graph):
    sender = _sender(graph)
    result = sender.send(
        Reply(
            channel=Channel.FACEBOOK,
            body="Uusi osoite päivitetty.",
            to=Author("psid-42"),
            thread_key=facebook.messenger_thread_key("psid-42"),
        )
    )
    request = graph.requests[-1]
    assert request.path == "/v21.0/me/messages"
    assert request.json == {
        "recipient": {"id": "psid-42"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Uusi osoite päivitetty."},
    }
    assert result.native_id == graph.messages[0]["message_id"]

    sender.send(
        Reply(
            channel=Channel.FACEBOOK,
            body="Laitoimme sinulle viestin.",
            to=Author("201"),
            meta={"private_reply_comment_id": "55_1"},
        )
    )
    assert graph.requests[-1].json["recipient"] == {"comment_id": "55_1"}


def test_graph_errors_become_send_errors_with_retry_advice(graph):
    reply = Reply(
        channel=Channel.FACEBOOK, body="x", to=Author("201"), public=True, in_reply_to="55_1"
    )
    bad_token = facebook.GraphSender(graph.base_url, "expired", PAGE, timeout=5)
    with pytest.raises(SendError) as info:
        bad_token.send(reply)
    assert "Invalid OAuth access token" in str(info.value) and "code 190" in str(info.value)
    assert info.value.retryable is False and info.value.status == 400

    graph.fail_next(
        400,
        {
            "error": {
                "message": "(#613) Calls to this api have exceeded the rate limit.",
                "type": "OAuthException",
                "code": 613,
            }
        },
    )
    with pytest.raises(SendError) as info:
        _sender(graph).send(reply)
    assert info.value.retryable is True

    graph.fail_next(503, {})
    with pytest.raises(SendError) as info:
        _sender(graph).send(reply)
    assert info.value.retryable is True and info.value.status == 503


def test_limits_are_checked_before_calling_graph(graph, free_port):
    sender = _sender(graph)
    with pytest.raises(SendError, match="2000"):
        sender.send(Reply(channel=Channel.FACEBOOK, body="ä" * 2001, to=Author("psid-1")))
    with pytest.raises(SendError, match="PSID"):
        sender.send(Reply(channel=Channel.FACEBOOK, body="x", to=Author("anonymous:55_1")))
    with pytest.raises(SendError, match="empty"):
        sender.send(Reply(channel=Channel.FACEBOOK, body="  ", to=Author("psid-1")))
    assert graph.requests == []
    unreachable = facebook.GraphSender(f"http://127.0.0.1:{free_port}/v21.0", "t", PAGE, timeout=2)
    with pytest.raises(SendError) as info:
        unreachable.send(Reply(channel=Channel.FACEBOOK, body="x", to=Author("psid-1")))
    assert info.value.retryable is True
