import argparse
import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from somebound.channels import commands
from somebound.channels import samples as s
from somebound.channels.chat import ChatHub
from somebound.channels.errors import ParseError, SignatureError
from somebound.channels.fakes import signed_facebook_request, signed_x_request
from somebound.channels.registry import (
    ChannelSettings,
    build_email_listener,
    build_parsers,
    build_senders,
    parse_native,
    verify_webhook,
)
from somebound.channels.signatures import hmac_sha256_hex
from somebound.core import Channel


def test_settings_from_env():
    settings = ChannelSettings.from_env(
        {
            "SOMEBOUND_FACEBOOK_APP_SECRET": "fb",
            "SOMEBOUND_SMTP_RELAY_HOST": "smtp.example.fi",
            "SOMEBOUND_SMTP_RELAY_PORT": "587",
            "SOMEBOUND_SMTP_STARTTLS": "true",
            "SOMEBOUND_SMTP_FROM": "tuki@somebound.fi",
            "SOMEBOUND_X_HANDLES": "somebound, somebound_fi",
            "UNRELATED": "x",
        }
    )
    assert settings.facebook_app_secret == "fb" and settings.smtp_relay_port == 587
    assert settings.smtp_starttls is True
    assert settings.x_handles == ("somebound", "somebound_fi")
    with pytest.raises(ValueError, match="SOMEBOUND_SMTP_RELAY_PORT"):
        ChannelSettings.from_env({"SOMEBOUND_SMTP_RELAY_PORT": "twenty-five"})


def test_build_senders_only_for_configured_channels():
    assert build_senders(ChannelSettings()) == {}
    senders = build_senders(
        ChannelSettings(
            smtp_relay_host="h", smtp_from="a@b.fi", facebook_page_token="t", x_bearer_token="b"
        ),
        chat_hub=ChatHub(),
    )
    assert set(senders) == {Channel.EMAIL, Channel.FACEBOOK, Channel.X, Channel.CHAT}
    assert all(sender.channel is channel for channel, sender in senders.items())


def test_email_listener_from_settings():
    import smtplib

    got = []
    settings = ChannelSettings(email_listen_port=0, email_domains=("somebound.fi",))
    listener = build_email_listener(settings, lambda raw, info: got.append(raw))
    with listener, smtplib.SMTP(timeout=10) as client:
        client.connect(listener.host, listener.port)
        client.sendmail("a@x.fi", ["tuki@somebound.fi"], b"From: a@x.fi\r\n\r\nhei\r\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("a@x.fi", ["x@other.fi"], b"From: a@x.fi\r\n\r\nhei\r\n")
    assert got == [b"From: a@x.fi\r\n\r\nhei\r\n"]


def test_verify_and_parse_native_for_every_webhook_channel(tmp_path):
    settings = ChannelSettings(
        facebook_app_secret="fb", x_consumer_secret="xs", blob_dir=str(tmp_path)
    )
    fb_body, fb_headers = signed_facebook_request(
        s.facebook_webhook("1", messaging=[s.messenger_message("1", "p", "m1", "hei")]), "fb"
    )
    verify_webhook(Channel.FACEBOOK, fb_body, fb_headers, settings)
    with pytest.raises(SignatureError):
        verify_webhook(Channel.FACEBOOK, fb_body, {}, settings)
    assert parse_native(Channel.FACEBOOK, fb_body, settings)[0].native_id == "m1"

    x_body, x_headers = signed_x_request(
        s.x_webhook("9", tweets=[s.x_tweet("5", "6", "u", "U", "hi")]), "xs"
    )
    verify_webhook(Channel.X, x_body, {k.upper(): v for k, v in x_headers.items()}, settings)
    with pytest.raises(SignatureError):
        verify_webhook(Channel.X, x_body, fb_headers, settings)
    assert parse_native(Channel.X, x_body, settings)[0].native_id == "5"

    cti = json.dumps(s.cti_event("c1", "ringing", "0401234567")).encode()
    with pytest.raises(SignatureError, match="no CTI secret"):
        verify_webhook(Channel.PHONE, cti, {"X-Somebound-Signature": "sha256=00"}, settings)
    cti_settings = ChannelSettings(cti_secret="cti")
    signed = {"X-Somebound-Signature": "sha256=" + hmac_sha256_hex("cti", cti)}
    verify_webhook(Channel.PHONE, cti, signed, cti_settings)
    with pytest.raises(SignatureError):
        verify_webhook(Channel.PHONE, cti + b" ", signed, cti_settings)
    assert parse_native(Channel.PHONE, cti, settings)[0].author.phone == "+358401234567"
    chat = json.dumps(
        {
            "session_id": "s",
            "visitor_id": "v",
            "frame": {"type": "message", "id": "1", "text": "moi"},
        }
    ).encode()
    assert parse_native(Channel.CHAT, chat, settings)[0].native_id == "s:1"
    mail = b"Message-ID: <z@x>\r\n\r\nhei\r\n"
    assert (
        parse_native(Channel.EMAIL, mail, settings, envelope={"mail_from": "a@x.fi"})[
            0
        ].author.email
        == "a@x.fi"
    )
    with pytest.raises(ParseError):
        parse_native(Channel.PHONE, b"{}", settings)
    with pytest.raises(ValueError, match="no adapter"):
        parse_native(Channel.SMS, b"", settings)


def test_feed_record_round_trips_through_the_inbox_parser(tmp_path):
    """The feed watcher stores a polled mention as ``message_to_dict`` JSON; the inbox's
    parser must give back the same message, and refuse anything else with a ParseError."""
    from somebound.channels.feeds import FeedPoller, FeedState, KeywordMatcher
    from somebound.channels.serialize import message_to_dict

    feed = tmp_path / "forum.rss"
    feed.write_text(
        "<?xml version='1.0'?><rss version='2.0'><channel><title>F</title><item>"
        "<guid>f-1</guid><title>Somebound ja Åbo</title><link>http://forum.local/t/1</link>"
        "<description>Onko somebound hyvä?</description><author>nimimerkki</author>"
        "</item></channel></rss>",
        "utf-8",
    )
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    poller = FeedPoller(KeywordMatcher.of(["somebound*"]))
    url = f"http://127.0.0.1:{server.server_port}/forum.rss"
    try:
        (mention,) = poller.poll(FeedState(url=url)).messages
    finally:
        poller.close()
        server.shutdown()
    stored = json.dumps(message_to_dict(mention)).encode()
    parsers = build_parsers(ChannelSettings(blob_dir=str(tmp_path / "blobs")))
    (back,) = parsers[Channel.FEED.value](stored, {"feed": url})
    assert message_to_dict(back) == message_to_dict(mention)
    with pytest.raises(ParseError, match="feed record"):
        parsers[Channel.FEED.value](b'{"native_id": "x"}', {})


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_parse_email_and_import_cdr(tmp_path, capsys):
    mail = tmp_path / "m.eml"
    mail.write_bytes("From: Åsa <asa@x.se>\r\nMessage-ID: <c@x>\r\n\r\nHej då\r\n".encode())
    assert _run(["channels", "parse-email", str(mail)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["body"] == "Hej då" and printed["author"]["display_name"] == "Åsa"

    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"")
    assert _run(["channels", "parse-email", str(bad)]) == 2
    assert "empty" in capsys.readouterr().err

    cdr = tmp_path / "c.csv"
    cdr.write_text(
        "call_id,start_time,caller\nx,2026-03-02T08:00:00Z,0401234567\ny,never,0401234567\n"
    )
    assert _run(["channels", "import-cdr", str(cdr)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["imported"] == 1 and out["errors"][0].startswith("line 3")


def test_inbox_email_parser_uses_the_listener_envelope(tmp_path):
    """The hub stores ``received_at`` as ISO text beside the raw mail; a mail without a
    usable Date takes that time, and the envelope sender stands in for a missing From."""
    parsers = build_parsers(ChannelSettings(blob_dir=str(tmp_path)))
    raw = b"Message-ID: <d@x>\r\nSubject: hei\r\n\r\nmoi\r\n"
    (msg,) = parsers["email"](
        raw, {"mail_from": "aino@x.fi", "received_at": "2026-03-02T08:00:00+00:00"}
    )
    assert msg.author.email == "aino@x.fi"
    assert msg.sent_at.isoformat() == "2026-03-02T08:00:00+00:00"
    assert set(parsers) == {"email", "facebook", "x", "phone", "chat", "feed"}
