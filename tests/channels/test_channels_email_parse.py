import contextlib
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from somebound.channels.blobs import BlobStore
from somebound.channels.email import parse_email
from somebound.channels.errors import ParseError
from somebound.core import Channel, Direction

LATIN1_QP = (
    b"From: =?iso-8859-1?q?P=E4ivi_J=E4rvinen?= <Paivi.Jarvinen@Example.FI>\r\n"
    b"To: Asiakaspalvelu <tuki@somebound.fi>, muut@somebound.fi\r\n"
    b"Cc: Ake <ake@example.se>\r\n"
    b"Subject: =?iso-8859-1?q?Laskussa_on_virhe_-_m=E4=E4r=E4_v=E4=E4r=E4?=\r\n"
    b"Date: Mon, 02 Mar 2026 10:15:00 +0200\r\n"
    b"Message-ID: <CAF123.abc@mail.example.fi>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=ISO-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"Content-Language: fi-FI\r\n"
    b"\r\n"
    b"Hei,\r\n\r\nhelmikuun laskussani on v=E4=E4r=E4 summa: 45,90 =80 eik=E4 39,90 =80.=\r\n"
    b" Voitteko korjata? \xe5\xc5\r\n\r\nTerveisin P=E4ivi\r\n"
)


def test_iso_8859_1_quoted_printable_finnish():
    msg = parse_email(LATIN1_QP)
    assert msg.channel is Channel.EMAIL and msg.direction is Direction.IN and not msg.public
    assert msg.author.channel_user_id == "paivi.jarvinen@example.fi"
    assert msg.author.email == "paivi.jarvinen@example.fi"
    assert msg.author.display_name == "Päivi Järvinen"
    assert msg.subject == "Laskussa on virhe - määrä väärä"
    # =80 is the euro sign in Windows-1252, the superset mail clients really use
    assert "helmikuun laskussani on väärä summa: 45,90 € eikä 39,90 €. Voitteko" in msg.body
    assert "åÅ" in msg.body and msg.body.endswith("Terveisin Päivi")
    assert msg.native_id == "<CAF123.abc@mail.example.fi>"
    assert msg.thread_key == msg.native_id and msg.in_reply_to is None
    assert msg.sent_at == datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
    assert msg.recipients == ("tuki@somebound.fi", "muut@somebound.fi", "ake@example.se")
    assert msg.language == "fi"


def _utf8_mail(**headers) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = headers.pop("From", "Åsa Öberg <asa@example.se>")
    mail["To"] = "support@somebound.com"
    mail["Subject"] = headers.pop("Subject", "Fråga om min beställning")
    mail["Date"] = "Tue, 03 Mar 2026 09:00:00 +0100"
    for key, value in headers.items():
        mail[key.replace("_", "-")] = value
    return mail


def test_utf8_base64_and_threading_by_references_root():
    mail = _utf8_mail(
        Message_ID="<r3@example.se>",
        In_Reply_To="<r2@somebound.com>",
        References="<r1@example.se> <r2@somebound.com>",
    )
    mail.set_content("Hej! Var är mitt paket? Hälsningar, Åsa 😀", cte="base64")
    msg = parse_email(mail.as_bytes())
    assert msg.body == "Hej! Var är mitt paket? Hälsningar, Åsa 😀"
    assert msg.subject == "Fråga om min beställning"
    assert msg.author.display_name == "Åsa Öberg"
    assert msg.thread_key == "<r1@example.se>"
    assert msg.in_reply_to == "<r2@somebound.com>"
    assert msg.references == ("<r1@example.se>", "<r2@somebound.com>")


def test_folded_references_header_in_raw_mail():
    raw = (
        b"From: a@x.fi\r\nMessage-ID: <c@x>\r\nReferences: <root@x>\r\n\t<mid@x>\r\n"
        b"In-Reply-To: <mid@x>\r\n\r\nhei\r\n"
    )
    msg = parse_email(raw)
    assert msg.references == ("<root@x>", "<mid@x>") and msg.thread_key == "<root@x>"


def test_thread_falls_back_to_in_reply_to():
    mail = _utf8_mail(Message_ID="<b@x>", In_Reply_To="<a@x>")
    mail.set_content("ok")
    msg = parse_email(mail.as_bytes())
    assert msg.thread_key == "<a@x>" and msg.in_reply_to == "<a@x>"


def test_multipart_alternative_prefers_plain_and_html_only_becomes_text():
    mail = _utf8_mail(Message_ID="<alt@x>")
    mail.set_content("Plain text wins: äöå")
    mail.add_alternative("<p>HTML <b>loses</b></p>", subtype="html")
    assert parse_email(mail.as_bytes()).body == "Plain text wins: äöå"

    html_only = _utf8_mail(Message_ID="<html@x>")
    html_only.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Hyvä asiakas,</p>"
        "<p>tilaus&nbsp;on <a href='https://example.fi/t/1'>tässä</a>.<br>Kiitos!</p>"
        "<script>alert(1)</script><ul><li>yksi</li><li>kaksi</li></ul></body></html>",
        subtype="html",
    )
    msg = parse_email(html_only.as_bytes())
    assert msg.meta["body_from_html"] is True
    assert "Hyvä asiakas," in msg.body
    assert "tilaus on tässä <https://example.fi/t/1>.\nKiitos!" in msg.body
    assert "- yksi\n- kaksi" in msg.body
    assert (
        "alert" not in msg.body
        and "color" not in msg.body
        and "<" not in msg.body.split("<https")[0]
    )


def test_attachments_are_kept_by_reference_in_the_blob_store(tmp_path):
    mail = _utf8_mail(Message_ID="<att@x>")
    mail.set_content("Liitteenä lasku ja kuva.")
    pdf = b"%PDF-1.4 fake invoice \x00\x01\x02" * 50
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    mail.add_attachment(pdf, maintype="application", subtype="pdf", filename="lasku_äö.pdf")
    mail.add_attachment(png, maintype="image", subtype="png")  # no filename
    forwarded = _utf8_mail(Message_ID="<fwd@x>", Subject="Alkuperäinen")
    forwarded.set_content("vanha viesti")
    mail.add_attachment(forwarded)
    blobs = BlobStore(tmp_path / "blobs")
    msg = parse_email(mail.as_bytes(), blobs=blobs)
    assert msg.body == "Liitteenä lasku ja kuva."
    by_type = {a.content_type: a for a in msg.attachments}
    assert set(by_type) == {"application/pdf", "image/png", "message/rfc822"}
    invoice = by_type["application/pdf"]
    assert invoice.filename == "lasku_äö.pdf" and invoice.size == len(pdf)
    assert blobs.get(invoice.sha256) == pdf
    assert blobs.get(by_type["image/png"].sha256) == png
    assert by_type["image/png"].filename.endswith(".png")
    assert b"vanha viesti" in blobs.get(by_type["message/rfc822"].sha256)
    # the same content again costs no second file
    again = parse_email(mail.as_bytes(), blobs=blobs)
    assert [a.sha256 for a in again.attachments] == [a.sha256 for a in msg.attachments]
    assert (
        len(list((tmp_path / "blobs").rglob("*")))
        - len([p for p in (tmp_path / "blobs").rglob("*") if p.is_dir()])
        == 3
    )


def test_hostile_attachment_filename_cannot_escape(tmp_path):
    mail = _utf8_mail(Message_ID="<evil@x>")
    mail.set_content("x")
    mail.add_attachment(
        b"data", maintype="application", subtype="octet-stream", filename="../../etc/passwd"
    )
    att = parse_email(mail.as_bytes()).attachments[0]
    assert "/" not in att.filename and "\\" not in att.filename
    assert att.filename.endswith("etc_passwd")


def test_missing_message_id_gets_a_stable_synthetic_one():
    raw = b"From: a@example.fi\r\nSubject: hei\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nmoi\r\n"
    first, second = parse_email(raw), parse_email(raw)
    assert first.native_id == second.native_id
    assert first.native_id.endswith("@somebound.invalid>")
    assert first.meta["synthetic_message_id"] is True
    other = parse_email(raw.replace(b"moi", b"moro"))
    assert other.native_id != first.native_id


def test_mislabelled_charset_and_raw_8bit_headers_still_read():
    raw = (
        "From: Jörgen Lindström <jorgen@example.se>\r\n"
        "Subject: Här är min fråga\r\nMessage-ID: <8bit@x>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode() + "Hälsningar från Åbo".encode("latin-1")
    msg = parse_email(raw)
    assert msg.author.display_name == "Jörgen Lindström"
    assert msg.subject == "Här är min fråga"
    assert msg.body == "Hälsningar från Åbo"


def test_unknown_charset_falls_back_instead_of_failing():
    raw = (
        b"From: a@x.fi\r\nMessage-ID: <u@x>\r\nContent-Type: text/plain; charset=x-nonsense\r\n"
        b"Subject: =?x-nonsense?q?hmm?=\r\n\r\nt\xc3\xa4m\xc3\xa4\r\n"
    )
    msg = parse_email(raw)
    assert msg.body == "tämä"
    assert msg.subject == "hmm"


def test_format_flowed_is_unwrapped():
    raw = (
        b"From: a@x.fi\r\nMessage-ID: <f@x>\r\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
        b"T\xc3\xa4m\xc3\xa4 on pitk\xc3\xa4 \r\nrivi.\r\nUusi rivi.\r\n"
    )
    assert parse_email(raw).body == "Tämä on pitkä rivi.\nUusi rivi."


def test_reply_to_and_auto_generated_flags():
    mail = _utf8_mail(
        Message_ID="<auto@x>", Reply_To="noreply-handler@example.se", Auto_Submitted="auto-replied"
    )
    mail.set_content("Olen lomalla.")
    msg = parse_email(mail.as_bytes())
    assert msg.author.profile["reply_to"] == "noreply-handler@example.se"
    assert msg.meta["auto_generated"] is True
    plain = _utf8_mail(Message_ID="<human@x>")
    plain.set_content("ihminen")
    assert parse_email(plain.as_bytes()).meta["auto_generated"] is False


def test_broken_date_uses_received_at():
    raw = b"From: a@x.fi\r\nDate: someday soon\r\nMessage-ID: <d@x>\r\n\r\nbody\r\n"
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_email(raw, received_at=at).sent_at == at


def test_missing_sender_is_a_clear_parse_error_unless_envelope_has_one():
    raw = b"To: tuki@somebound.fi\r\nSubject: ilman lahettajaa\r\n\r\nhei\r\n"
    with pytest.raises(ParseError) as info:
        parse_email(raw)
    assert "From" in str(info.value) and info.value.fix
    assert parse_email(raw, envelope_from="bounce@x.fi").author.email == "bounce@x.fi"
    with pytest.raises(ParseError, match="header From"):
        parse_email(b"From: not an address\r\n\r\nhei\r\n")


@pytest.mark.parametrize(
    "raw", [b"", b"   \r\n", b"just some text without headers", b"\x00\xff\xfe"]
)
def test_non_email_is_a_parse_error(raw):
    with pytest.raises(ParseError):
        parse_email(raw)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_anything_but_parse_error(raw):
    try:
        msg = parse_email(raw)
    except ParseError as exc:
        assert str(exc)
    else:
        assert msg.native_id.startswith("<") and msg.author.email


_header_names = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "References",
        "In-Reply-To",
        "Date",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Reply-To",
        "Content-Disposition",
    ]
)
_header_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "multipart/mixed; boundary=b",
            'multipart/alternative; boundary=""',
            "text/plain; charset=iso-8859-1",
            'text/html; charset="utf-8"',
            "message/rfc822",
            "quoted-printable",
            "base64",
            "=?utf-8?b?w6TDtg==?=",
            "=?iso-8859-1?q?=E4?= <a@b.fi>",
            "<a@b> <c@d>",
            "attachment; filename*=utf-8''%C3%A4.pdf",
            "<>",
            "@",
            '"" <@>',
        ]
    ),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    headers=st.lists(st.tuples(_header_names, _header_values), max_size=8),
    body=st.binary(max_size=400),
)
def test_header_shaped_garbage_never_raises_anything_but_parse_error(headers, body):
    head = "".join(f"{n}: {v}\r\n" for n, v in headers).encode("utf-8", "surrogateescape")
    raw = b"From: x@y.fi\r\n" + head + b"\r\n--b\r\n" + body
    with contextlib.suppress(ParseError):
        parse_email(raw)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Kiitos, nyt toimii!\n\nma 2.3.2026 klo 10.00 Somebound-tuki <tuki@somebound.fi> "
            "kirjoitti:\n> Hei, kokeile uudelleen.",
            "Kiitos, nyt toimii!",
        ),
        (
            "Still broken.\n\nOn Mon, 2 Mar 2026 at 10:00, Support <s@x.com> wrote:\n> Try again",
            "Still broken.",
        ),
        ("Tack!\n\n-----Ursprungligt meddelande-----\nFrån: Support\nHej", "Tack!"),
        ("Vastaus tähän.\n\nLähettäjä: Tuki <tuki@x.fi>\nLähetetty: maanantai", "Vastaus tähän."),
        ("Ok\n> lainaus\n> toinen", "Ok"),
        ("> inline quote\nmy answer below it\n> more quote\nand more", None),
        ("Ei lainausta lainkaan.", "Ei lainausta lainkaan."),
    ],
)
def test_new_text_drops_quoted_history(body, expected):
    mail = _utf8_mail(Message_ID="<q@x>")
    mail.set_content(body)
    msg = parse_email(mail.as_bytes())
    assert msg.body == body  # the full body is kept
    assert msg.meta["new_text"] == (expected if expected is not None else body)


def test_body_found_after_an_attachment_and_inside_related():
    raw = (
        b"From: a@x.fi\r\nMessage-ID: <order@x>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="OUT"\r\n\r\n'
        b"--OUT\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="=?utf-8?q?kuitti_=C3=A4.pdf?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
        b'--OUT\r\nContent-Type: multipart/related; boundary="REL"\r\n\r\n'
        b"--REL\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"
        b"<p>Kuitti liitteen\xe4, kuva alla.</p><img src='cid:k1' alt='logo'>\r\n"
        b"--REL\r\nContent-Type: image/gif\r\nContent-ID: <k1>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n--REL--\r\n--OUT--\r\n"
    )
    msg = parse_email(raw)
    assert msg.body == "Kuitti liitteenä, kuva alla.\n\n[logo]"
    assert msg.meta["body_from_html"] is True
    assert sorted(a.filename for a in msg.attachments) == ["attachment-3.gif", "kuitti ä.pdf"]
    assert {a.content_type for a in msg.attachments} == {"application/pdf", "image/gif"}


def test_broken_multipart_boundary_still_reads_the_text():
    raw = (
        b"From: a@x.fi\r\nMessage-ID: <broken@x>\r\n"
        b"Content-Type: multipart/mixed\r\n\r\nTeksti ilman rajaa\r\n"
    )
    assert parse_email(raw).body == "Teksti ilman rajaa"
