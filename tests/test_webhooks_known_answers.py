"""Published known-answer vectors: the Standard Webhooks example and RFC 4231 HMAC-SHA256."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
from _support import hmac_hex
from standardwebhooks import Webhook

from relaywire.webhooks import (
    HmacVerifier,
    InvalidSignatureError,
    LinktorVerifier,
    StandardWebhook,
    linktor_signature,
    verify_linktor,
)

# ------------------------------------------------------------------ Standard Webhooks

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def sw_headers(msg_id: str = SW_ID, ts: int | str = SW_TS, sig: str = SW_SIG) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}


def test_standard_sign_gives_the_published_signature() -> None:
    webhook = StandardWebhook(SW_SECRET)
    assert webhook.sign(SW_ID, SW_TS, SW_BODY) == SW_SIG
    assert webhook.sign(SW_ID, datetime.fromtimestamp(SW_TS, tz=timezone.utc), SW_BODY) == SW_SIG
    assert webhook.sign(SW_ID, SW_TS, SW_BODY.decode()) == SW_SIG


def test_standard_secret_variants_give_the_published_signature() -> None:
    bare = SW_SECRET.removeprefix("whsec_")
    assert StandardWebhook(bare).sign(SW_ID, SW_TS, SW_BODY) == SW_SIG
    assert StandardWebhook(base64.b64decode(bare)).sign(SW_ID, SW_TS, SW_BODY) == SW_SIG


def test_standard_verify_accepts_the_published_delivery() -> None:
    webhook = StandardWebhook(SW_SECRET)
    assert webhook.verify(SW_BODY, sw_headers(), now=SW_TS) is None
    assert webhook.verify(SW_BODY, sw_headers(), now=SW_TS + 300) is None
    assert webhook.verify_many([SW_BODY], [sw_headers()], now=SW_TS) == [True]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b'{"test": 2432232315}', sw_headers(), id="body"),
        pytest.param(SW_BODY + b" ", sw_headers(), id="body-trailing-space"),
        pytest.param(SW_BODY, sw_headers(msg_id=SW_ID + "x"), id="id"),
        pytest.param(SW_BODY, sw_headers(msg_id=SW_ID.upper()), id="id-case"),
        pytest.param(SW_BODY, sw_headers(ts=SW_TS + 1), id="timestamp"),
        pytest.param(SW_BODY, sw_headers(sig=SW_SIG[:-2] + "A="), id="signature"),
    ],
)
def test_standard_verify_rejects_tampering(body: bytes, headers: dict[str, str]) -> None:
    webhook = StandardWebhook(SW_SECRET)
    with pytest.raises(InvalidSignatureError):
        webhook.verify(body, headers, now=SW_TS)
    assert webhook.verify_many([body], [headers], now=SW_TS) == [False]


def test_standard_sign_agrees_with_the_reference_library() -> None:
    official = Webhook(SW_SECRET)
    ours = StandardWebhook(SW_SECRET)
    cases = [
        (SW_ID, SW_TS, SW_BODY.decode()),
        ("msg_2", 0, ""),
        ("ïd", 1_700_000_000, "héllo ☃"),
        ("x.y.z", 2_000_000_000, '{"a": [1, 2, 3]}'),
    ]
    for msg_id, ts, body in cases:
        moment = datetime.fromtimestamp(ts, tz=timezone.utc)
        assert ours.sign(msg_id, ts, body) == official.sign(msg_id, moment, body)


# ------------------------------------------------------------------ RFC 4231 (HMAC-SHA256)

RFC4231 = [
    pytest.param(
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        id="case-1",
    ),
    pytest.param(
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        id="case-2",
    ),
    pytest.param(
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        id="case-3",
    ),
    pytest.param(
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        id="case-4",
    ),
    # Case 5 truncates the output to 128 bits; no scheme here truncates, so it is skipped.
    pytest.param(
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        id="case-6",
    ),
    pytest.param(
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data."
        b" The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        id="case-7",
    ),
]


def utf8_or_none(key: bytes) -> str | None:
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


@pytest.mark.parametrize(("key", "data", "expected"), RFC4231)
def test_rfc4231_vectors_are_transcribed_correctly(key: bytes, data: bytes, expected: str) -> None:
    assert hmac_hex(key, data) == expected


@pytest.mark.parametrize(("key", "data", "expected"), RFC4231)
def test_rfc4231_hmac_verifier(key: bytes, data: bytes, expected: str) -> None:
    secrets: list[str | bytes] = [key]
    text_key = utf8_or_none(key)
    if text_key is not None:
        secrets.append(text_key)
    for secret in secrets:
        hex_verifier = HmacVerifier(secret, encoding="hex")
        assert hex_verifier.sign(data) == expected
        assert hex_verifier.verify(data, expected) is True
        assert hex_verifier.verify(data, expected.upper()) is True
        b64 = base64.b64encode(bytes.fromhex(expected)).decode()
        b64_verifier = HmacVerifier(secret, encoding="base64")
        assert b64_verifier.sign(data) == b64
        assert b64_verifier.verify(data, b64) is True


@pytest.mark.parametrize(("key", "data", "expected"), RFC4231)
def test_rfc4231_linktor(key: bytes, data: bytes, expected: str) -> None:
    assert linktor_signature(data, key) == expected
    text_key = utf8_or_none(key)
    if text_key is not None:
        assert linktor_signature(data, text_key) == expected
        assert verify_linktor(data, expected, text_key) is True
    assert verify_linktor(data, expected, key) is True
    assert verify_linktor(data, expected.upper(), key) is False
    assert LinktorVerifier(key).sign(data) == expected


def test_rfc4231_cases_with_non_utf8_keys_exist() -> None:
    # Cases 3, 6 and 7 key with 0xaa bytes, which only a bytes secret can express.
    non_utf8 = [p.id for p in RFC4231 if utf8_or_none(p.values[0]) is None]  # type: ignore[arg-type]
    assert non_utf8 == ["case-3", "case-6", "case-7"]
