"""Real SMTP conversations: smtplib → EmailListener, SmtpSender → a local relay."""

import smtplib
import threading
import time

import pytest

from somebound.channels.email import EmailListener, SmtpSender, parse_email
from somebound.channels.errors import SendError
from somebound.core import Author, Channel
from somebound.core.reply import Reply

CUSTOMER_MAIL = (
    "From: Matti Meikäläinen <matti@example.fi>\r\n"
    "To: tuki@somebound.fi\r\n"
    "Subject: Tilaus 1234 myöhässä\r\n"
    "Message-ID: <m1@example.fi>\r\n"
    "Date: Mon, 02 Mar 2026 10:00:00 +0200\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hei, missä tilaukseni on? Pitäisi olla jo perillä.\r\n"
).encode()


def test_listener_hands_the_exact_bytes_to_the_callback_before_250():
    received: list[tuple[bytes, dict]] = []

    def accept(raw: bytes, info: dict) -> None:
        time.sleep(0.2)  # a slow durable write: the client must still wait for it
        received.append((raw, info))

    with EmailListener(accept, port=0) as listener:
        assert listener.port > 0
        with smtplib.SMTP(listener.host, listener.port, timeout=10) as client:
            refused = client.sendmail("matti@example.fi", ["tuki@somebound.fi"], CUSTOMER_MAIL)
            # sendmail returned, i.e. the server said 250: the callback had finished
            assert len(received) == 1
    assert refused == {}
    raw, info = received[0]
    assert raw == CUSTOMER_MAIL
    assert info["mail_from"] == "matti@example.fi"
    assert info["rcpt_tos"] == ["tuki@somebound.fi"]
    assert info["peer"].startswith("127.0.0.1:")
    message = parse_email(raw, envelope_from=info["mail_from"])
    assert message.body == "Hei, missä tilaukseni on? Pitäisi olla jo perillä."


def test_failing_callback_gives_451_and_unparseable_gives_554():
    def broken_store(raw: bytes, info: dict) -> None:
        raise RuntimeError("database is locked")

    with (
        EmailListener(broken_store, port=0) as listener,
        smtplib.SMTP(listener.host, listener.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPDataError) as info,
    ):
        client.sendmail("a@example.fi", ["tuki@somebound.fi"], CUSTOMER_MAIL)
    assert info.value.smtp_code == 451
    assert b"database is locked" in info.value.smtp_error

    def strict(raw: bytes, info: dict) -> None:
        parse_email(raw)

    with (
        EmailListener(strict, port=0) as listener,
        smtplib.SMTP(listener.host, listener.port, timeout=10) as client,
    ):
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("a@example.fi", ["tuki@somebound.fi"], b"no headers at all")
        assert info.value.smtp_code == 554
        assert b"no header section" in info.value.smtp_error
        # the session survives: the next good mail is accepted
        assert client.sendmail("a@example.fi", ["tuki@somebound.fi"], CUSTOMER_MAIL) == {}


def test_listener_is_not_an_open_relay():
    got: list[bytes] = []
    with (
        EmailListener(
            lambda raw, info: got.append(raw), port=0, accepted_domains=("somebound.fi",)
        ) as listener,
        smtplib.SMTP(listener.host, listener.port, timeout=10) as client,
    ):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            client.sendmail("a@example.fi", ["someone@elsewhere.com"], CUSTOMER_MAIL)
        assert info.value.recipients["someone@elsewhere.com"][0] == 550
        client.sendmail("a@example.fi", ["tuki@somebound.fi"], CUSTOMER_MAIL)
    assert got == [CUSTOMER_MAIL]


def test_concurrent_clients_are_all_accepted():
    got: list[bytes] = []
    lock = threading.Lock()

    def accept(raw: bytes, info: dict) -> None:
        with lock:
            got.append(raw)

    def send(i: int) -> None:
        body = CUSTOMER_MAIL.replace(b"<m1@", f"<m{i}-x@".encode())
        with smtplib.SMTP(listener.host, listener.port, timeout=10) as client:
            client.sendmail("a@example.fi", ["tuki@somebound.fi"], body)

    with EmailListener(accept, port=0) as listener:
        threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(parse_email(r).native_id for r in got) == sorted(
        f"<m{i}-x@example.fi>" for i in range(8)
    )


def _reply_to(message, body: str) -> Reply:
    return Reply(
        channel=Channel.EMAIL,
        body=body,
        to=message.author,
        in_reply_to=message.native_id,
        thread_key=message.thread_key,
        subject=message.subject,
        references=message.references,
    )


def test_smtp_sender_reply_arrives_threaded_with_utf8(relay):
    controller, handler = relay
    original = parse_email(CUSTOMER_MAIL)
    sender = SmtpSender(
        controller.hostname,
        controller.port,
        "tuki@somebound.fi",
        from_name="Somebound-asiakaspalvelu",
    )
    result = sender.send(
        _reply_to(
            original,
            "Hei Matti,\n\npahoittelut viivästyksestä – "
            "tilaus lähtee tänään. Ystävällisin terveisin, Åsa",
        )
    )
    assert handler.arrived.wait(5)
    envelope = handler.received[0]
    assert envelope["mail_from"] == "tuki@somebound.fi"
    assert envelope["rcpt_tos"] == ["matti@example.fi"]
    mail = handler.message()
    assert mail["Subject"] == "Re: Tilaus 1234 myöhässä"
    assert mail["In-Reply-To"] == "<m1@example.fi>"
    assert mail["References"] == "<m1@example.fi>"
    assert mail["Message-ID"] == result.native_id
    assert mail["To"].addresses[0].display_name == "Matti Meikäläinen"
    assert mail["From"].addresses[0].addr_spec == "tuki@somebound.fi"
    assert mail.get_content_charset() == "utf-8"
    assert "tilaus lähtee tänään. Ystävällisin terveisin, Åsa" in mail.get_content()

    # the customer's answer to our reply comes back into the same conversation
    parsed_reply = parse_email(envelope["raw"])
    answer = (
        "From: matti@example.fi\r\nTo: tuki@somebound.fi\r\nSubject: Re: Re: Tilaus\r\n"
        f"Message-ID: <m3@example.fi>\r\nIn-Reply-To: {parsed_reply.native_id}\r\n"
        f"References: {' '.join(parsed_reply.references)} {parsed_reply.native_id}\r\n\r\nKiitos!\r\n"
    ).encode()
    assert parse_email(answer).thread_key == original.thread_key


def test_smtp_sender_keeps_the_chain_and_does_not_stack_prefixes(relay):
    controller, handler = relay
    reply = Reply(
        channel=Channel.EMAIL,
        body="ok",
        to=Author("a@x.fi", email="a@x.fi", profile={"reply_to": "tickets@x.fi"}),
        in_reply_to="<m2@x.fi>",
        references=("<m0@x.fi>", "<m1@x.fi>"),
        subject="VS: Re: Kysymys",
    )
    SmtpSender(controller.hostname, controller.port, "tuki@somebound.fi").send(reply)
    assert handler.arrived.wait(5)
    mail = handler.message()
    assert mail["Subject"] == "Re: Kysymys"
    assert mail["References"] == "<m0@x.fi> <m1@x.fi> <m2@x.fi>"
    assert handler.received[0]["rcpt_tos"] == ["tickets@x.fi"]  # Reply-To wins


def test_smtp_sender_errors_say_whether_to_retry(relay, free_port):
    controller, handler = relay
    handler.refuse_domain = "gone.fi"
    sender = SmtpSender(controller.hostname, controller.port, "tuki@somebound.fi")
    with pytest.raises(SendError) as info:
        sender.send(
            Reply(channel=Channel.EMAIL, body="x", to=Author("a@gone.fi", email="a@gone.fi"))
        )
    assert info.value.status == 550 and info.value.retryable is False

    down = SmtpSender("127.0.0.1", free_port, "tuki@somebound.fi", timeout=2)
    with pytest.raises(SendError) as info:
        down.send(Reply(channel=Channel.EMAIL, body="x", to=Author("a@x.fi", email="a@x.fi")))
    assert info.value.retryable is True

    with pytest.raises(SendError, match="public"):
        sender.send(
            Reply(channel=Channel.EMAIL, body="x", public=True, to=Author("a@x.fi", email="a@x.fi"))
        )
    assert handler.received == []


def test_starttls_offered_and_required(tmp_path):
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    client_ctx.check_hostname = False
    got: list[dict] = []
    with EmailListener(
        lambda raw, info: got.append(info), port=0, tls_context=server_ctx, require_starttls=True
    ) as listener:
        with (
            smtplib.SMTP(listener.host, listener.port, timeout=10) as plain,
            pytest.raises(smtplib.SMTPException),
        ):
            plain.sendmail("a@example.fi", ["tuki@somebound.fi"], CUSTOMER_MAIL)
        with smtplib.SMTP(listener.host, listener.port, timeout=10) as client:
            client.starttls(context=client_ctx)
            client.sendmail("a@example.fi", ["tuki@somebound.fi"], CUSTOMER_MAIL)
    assert len(got) == 1 and got[0]["tls"] is True
