import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from somebound.channels import facebook, x
from somebound.channels.errors import ParseError, SignatureError
from somebound.channels.fakes import signed_facebook_request, signed_x_request


def test_parse_error_names_what_where_and_fix():
    err = ParseError("missing", "entry[0].changes[1].value.from.id", "include from.id")
    text = str(err)
    assert "entry[0].changes[1].value.from.id" in text
    assert "missing" in text and "include from.id" in text
    assert err.to_dict() == {
        "what": "missing",
        "where": "entry[0].changes[1].value.from.id",
        "fix": "include from.id",
    }
    assert isinstance(err, ValueError)


def test_facebook_signature_is_hex_hmac_of_raw_body():
    body = '{"object":"page","entry":[{"message":"Hyvää päivää"}]}'.encode()
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert facebook.sign(body, "s3cret") == expected
    facebook.verify_signature(body, expected, "s3cret")
    facebook.verify_signature(body, expected.upper().replace("SHA256=", "sha256="), "s3cret")


@pytest.mark.parametrize(
    ("header", "secret", "body"),
    [
        (None, "s3cret", b"{}"),
        ("", "s3cret", b"{}"),
        ("sha1=abcd", "s3cret", b"{}"),
        ("sha256=" + "0" * 64, "s3cret", b"{}"),
    ],
)
def test_facebook_signature_rejections(header, secret, body):
    with pytest.raises(SignatureError):
        facebook.verify_signature(body, header, secret)


def test_facebook_signature_rejects_other_secret_and_altered_body():
    body, headers = signed_facebook_request({"object": "page", "entry": []}, "right")
    with pytest.raises(SignatureError, match="does not match"):
        facebook.verify_signature(body, headers["X-Hub-Signature-256"], "wrong")
    with pytest.raises(SignatureError):
        facebook.verify_signature(body + b" ", headers["X-Hub-Signature-256"], "right")
    with pytest.raises(SignatureError, match="no Facebook app secret"):
        facebook.verify_signature(body, headers["X-Hub-Signature-256"], "")


def test_facebook_handshake():
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert facebook.verify_handshake(params, "tok") == "1158201444"
    with pytest.raises(SignatureError, match="verify_token"):
        facebook.verify_handshake(params | {"hub.verify_token": "nope"}, "tok")
    with pytest.raises(SignatureError, match="hub.mode"):
        facebook.verify_handshake(params | {"hub.mode": "unsubscribe"}, "tok")
    with pytest.raises(SignatureError, match="challenge"):
        facebook.verify_handshake({k: v for k, v in params.items() if k != "hub.challenge"}, "tok")


def test_x_crc_response_is_base64_hmac_of_token():
    digest = hmac.new(b"consumer", b"crc-token-123", hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode()
    assert x.crc_response("crc-token-123", "consumer") == {"response_token": expected}
    with pytest.raises(SignatureError):
        x.crc_response("", "consumer")


def test_x_signature_roundtrip_and_rejection():
    body, headers = signed_x_request({"for_user_id": "1"}, "consumer")
    x.verify_signature(body, headers["x-twitter-webhooks-signature"], "consumer")
    with pytest.raises(SignatureError):
        x.verify_signature(body, headers["x-twitter-webhooks-signature"], "other")
    with pytest.raises(SignatureError, match="missing"):
        x.verify_signature(body, None, "consumer")


@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=40))
def test_signatures_verify_exactly_the_signed_body(body, secret):
    facebook.verify_signature(body, facebook.sign(body, secret), secret)
    x.verify_signature(body, x.sign(body, secret), secret)


@given(
    body=st.binary(min_size=1, max_size=256),
    secret=st.text(min_size=1, max_size=20),
    index=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_altered_byte_is_rejected(body, secret, index, flip):
    i = index % len(body)
    altered = body[:i] + bytes([body[i] ^ flip]) + body[i + 1 :]
    with pytest.raises(SignatureError):
        facebook.verify_signature(altered, facebook.sign(body, secret), secret)
    with pytest.raises(SignatureError):
        x.verify_signature(altered, x.sign(body, secret), secret)


@given(header=st.one_of(st.none(), st.text(max_size=100)), body=st.binary(max_size=64))
def test_garbage_headers_only_ever_raise_signature_error(header, body):
    for verify in (facebook.verify_signature, x.verify_signature):
        try:
            verify(body, header, "secret")
        except SignatureError:
            pass
        else:  # only the true signature may pass
            assert header in (facebook.sign(body, "secret"), x.sign(body, "secret"))
