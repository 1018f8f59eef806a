"""The generic scheme: ``HmacVerifier``."""

from __future__ import annotations

import base64
import sys
from typing import Any

import pytest
from _support import body_variants, hmac_hex, hmac_sha256

from relaywire.webhooks import HmacVerifier, InvalidSecretError, WebhookVerificationError

SECRET = "generic-sécret"
BODY = b'{"event":"ping","n":1}'


TAG = hmac_sha256(SECRET, BODY)
HEX = TAG.hex()
B64 = base64.b64encode(TAG).decode()


# ------------------------------------------------------------------ construction


def test_defaults() -> None:
    verifier = HmacVerifier(SECRET)
    assert verifier.encoding == "hex"
    assert verifier.prefix == ""


def test_properties_reflect_arguments() -> None:
    verifier = HmacVerifier(SECRET, encoding="base64", prefix="sha256=")
    assert verifier.encoding == "base64"
    assert verifier.prefix == "sha256="
    with pytest.raises(AttributeError):
        verifier.prefix = "x"  # type: ignore[misc]


@pytest.mark.parametrize("encoding", ["HEX", "Base64", "base32", "", "hex ", "b64"])
def test_bad_encoding(encoding: str) -> None:
    with pytest.raises(ValueError, match="encoding"):
        HmacVerifier(SECRET, encoding=encoding)  # type: ignore[arg-type]


def test_encoding_and_prefix_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        HmacVerifier(SECRET, "hex")  # type: ignore[misc]


@pytest.mark.parametrize("secret", ["", b"", "x\ud800"])
def test_bad_secret(secret: Any) -> None:
    with pytest.raises(InvalidSecretError) as info:
        HmacVerifier(secret)
    assert isinstance(info.value, WebhookVerificationError)


@pytest.mark.parametrize("secret", [None, 7, bytearray(b"k"), memoryview(b"k")])
def test_secret_of_wrong_type(secret: Any) -> None:
    with pytest.raises(TypeError, match="secret"):
        HmacVerifier(secret)


def test_repr_hides_secret_and_shows_settings() -> None:
    secret = "hunter2-top-secret"
    verifier = HmacVerifier(secret, encoding="base64", prefix="sha256=")
    text = repr(verifier)
    assert secret not in text
    assert secret not in str(verifier)
    assert "redacted" in text
    assert "base64" in text
    assert "sha256=" in text


# ------------------------------------------------------------------ sign


def test_sign_hex() -> None:
    assert HmacVerifier(SECRET).sign(BODY) == HEX
    assert HmacVerifier(SECRET, encoding="hex", prefix="sha256=").sign(BODY) == "sha256=" + HEX


def test_sign_base64() -> None:
    assert HmacVerifier(SECRET, encoding="base64").sign(BODY) == B64
    assert HmacVerifier(SECRET, encoding="base64", prefix="v0=").sign(BODY) == "v0=" + B64


def test_sign_non_ascii_prefix() -> None:
    verifier = HmacVerifier(SECRET, prefix="\u03c3=")
    assert verifier.sign(BODY) == "\u03c3=" + HEX
    assert verifier.verify(BODY, "\u03c3=" + HEX) is True
    assert verifier.verify(BODY, ("\u03c3=" + HEX).encode()) is True


def test_secret_str_and_bytes_agree() -> None:
    assert HmacVerifier(SECRET).sign(BODY) == HmacVerifier(SECRET.encode()).sign(BODY)
    assert HmacVerifier(b"\xff\x00\xfe").sign(BODY) == hmac_hex(b"\xff\x00\xfe", BODY)


@pytest.mark.parametrize("body", [BODY, b"", b"\x80\xff not utf-8"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_every_body_type_gives_same_answers(body: bytes, encoding: Any) -> None:
    verifier = HmacVerifier(SECRET, encoding=encoding, prefix="sha256=")
    expected = verifier.sign(body)
    wrong = verifier.sign(body + b".")
    for variant in body_variants(body):
        assert verifier.sign(variant) == expected
        assert verifier.verify(variant, expected) is True
        assert verifier.verify(variant, wrong) is False


def test_sign_refuses_bad_bodies() -> None:
    verifier = HmacVerifier(SECRET)
    with pytest.raises(TypeError, match="payload"):
        verifier.sign(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="surrogates"):
        verifier.sign("\udfff")


# ------------------------------------------------------------------ verify


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        pytest.param(HEX, True, id="lowercase"),
        pytest.param(HEX.upper(), True, id="uppercase"),
        pytest.param(HEX[:32].upper() + HEX[32:], True, id="mixed-case"),
        pytest.param(HEX.encode(), True, id="bytes"),
        pytest.param(HEX[:-1], False, id="truncated"),
        pytest.param(HEX + "0", False, id="extended"),
        pytest.param(HEX[:-1] + "g", False, id="non-hex-digit"),
        pytest.param(" " + HEX, False, id="leading-space"),
        pytest.param(HEX + "\n", False, id="trailing-newline"),
        pytest.param("0x" + HEX, False, id="0x-prefix"),
        pytest.param("sha256=" + HEX, False, id="unexpected-prefix"),
        pytest.param(B64, False, id="base64-form"),
        pytest.param(hmac_hex(SECRET, BODY + b"x"), False, id="other-body"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="none"),
        pytest.param(HEX[:-1] + "\ud800", False, id="lone-surrogate"),
        pytest.param(HEX[:-1] + "é", False, id="non-ascii"),
        pytest.param(HEX[:-1] + "\x00", False, id="nul"),
        pytest.param(" ".join(HEX[i : i + 2] for i in range(0, 64, 2)), False, id="spaced-hex"),
    ],
)
def test_verify_hex(signature: Any, expected: bool) -> None:
    assert HmacVerifier(SECRET).verify(BODY, signature) is expected


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        pytest.param(B64, True, id="padded"),
        pytest.param(B64.rstrip("="), True, id="unpadded"),
        pytest.param(B64.encode(), True, id="bytes"),
        pytest.param(B64.swapcase(), False, id="case-swapped"),
        pytest.param(B64[:-2], False, id="truncated"),
        pytest.param(B64.replace("+", "-").replace("/", "_"), False, id="urlsafe"),
        pytest.param(B64 + "\n", False, id="trailing-newline"),
        pytest.param(" " + B64, False, id="leading-space"),
        pytest.param(HEX, False, id="hex-form"),
        pytest.param(base64.b64encode(TAG[:-1]).decode(), False, id="short-tag"),
        pytest.param(base64.b64encode(TAG + b"\x00").decode(), False, id="long-tag"),
        pytest.param("!!!!", False, id="not-base64"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="none"),
        pytest.param(B64[:-2] + "é=", False, id="non-ascii"),
    ],
)
def test_verify_base64(signature: Any, expected: bool) -> None:
    assert B64.endswith("=") and not B64.endswith("==")
    assert HmacVerifier(SECRET, encoding="base64").verify(BODY, signature) is expected


def test_verify_base64_rejects_non_canonical_trailing_bits() -> None:
    # The last significant character of a 32-byte tag carries two unused bits; setting them
    # encodes the same bytes non-canonically (Python's lenient decoder would accept it).
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(B64[-2])
    twin = B64[:-2] + alphabet[last | 1] + "="
    assert twin != B64
    assert base64.b64decode(twin) == TAG
    assert HmacVerifier(SECRET, encoding="base64").verify(BODY, twin) is False


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_prefix_must_match_exactly(encoding: Any) -> None:
    verifier = HmacVerifier(SECRET, encoding=encoding, prefix="sha256=")
    good = verifier.sign(BODY)
    bare = good.removeprefix("sha256=")
    assert verifier.verify(BODY, good) is True
    for signature in (
        bare,
        "SHA256=" + bare,
        "sha256:" + bare,
        "sha256= " + bare,
        " sha256=" + bare,
        "sha256=sha256=" + bare,
        "sha1=" + bare,
        "sha256=",
    ):
        assert verifier.verify(BODY, signature) is False, signature


def test_verify_str_body_with_lone_surrogate_is_false() -> None:
    assert HmacVerifier(SECRET).verify("x\ud800", HEX) is False


@pytest.mark.parametrize("signature", [5, 5.0, [HEX], bytearray(HEX.encode())])
def test_verify_wrong_signature_type(signature: Any) -> None:
    with pytest.raises(TypeError, match="signature"):
        HmacVerifier(SECRET).verify(BODY, signature)


@pytest.mark.parametrize("payload", [5, None, object()])
def test_verify_wrong_body_type(payload: Any) -> None:
    with pytest.raises(TypeError, match="payload"):
        HmacVerifier(SECRET).verify(payload, HEX)


# ------------------------------------------------------------------ verify_many


def test_verify_many_order_and_mixed_items() -> None:
    verifier = HmacVerifier(SECRET, encoding="base64", prefix="t=")
    payloads: list[Any] = [b"a", "b", bytearray(b"c"), memoryview(b"d"), b"e", "f\ud800", b"g"]
    signatures: list[Any] = [
        verifier.sign(b"a"),
        verifier.sign(b"b").rstrip("="),
        verifier.sign(b"x"),
        verifier.sign(b"d").encode(),
        None,
        verifier.sign(b"f"),
        verifier.sign(b"g").removeprefix("t="),
    ]
    expected = [True, True, False, True, False, False, False]
    assert verifier.verify_many(payloads, signatures) == expected
    assert [verifier.verify(p, s) for p, s in zip(payloads, signatures, strict=True)] == expected


def test_verify_many_iterables_and_errors() -> None:
    verifier = HmacVerifier(SECRET)
    assert verifier.verify_many(iter([BODY]), (s for s in [HEX.upper()])) == [True]
    assert verifier.verify_many([], []) == []
    with pytest.raises(ValueError, match="verify_many"):
        verifier.verify_many([BODY], [HEX, HEX])
    with pytest.raises(TypeError):
        verifier.verify_many([BODY], [1])
    with pytest.raises(TypeError):
        verifier.verify_many([1.5], [HEX])


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_verify_many_large_batch_equals_single_verifications(encoding: Any) -> None:
    verifier = HmacVerifier(SECRET, encoding=encoding, prefix="sha256=")
    payloads: list[Any] = []
    signatures: list[Any] = []
    for i in range(5000):
        body = (i.to_bytes(4, "big") * 256)[:1024]
        signature: Any = verifier.sign(body)
        kind = i % 4
        if kind == 1:
            signature = verifier.sign(body + b"!")
        elif kind == 2:
            encoded = signature.removeprefix("sha256=")
            encoded = encoded.upper() if encoding == "hex" else encoded.rstrip("=")
            signature = "sha256=" + encoded
        elif kind == 3:
            body = bytearray(body)
        payloads.append(body)
        signatures.append(signature)
    results = verifier.verify_many(payloads, signatures)
    assert results == [verifier.verify(p, s) for p, s in zip(payloads, signatures, strict=True)]
    assert results.count(False) == 1250


def test_verify_many_large_batch_bad_item_late_in_the_batch() -> None:
    verifier = HmacVerifier(SECRET)
    payloads: list[Any] = [(i.to_bytes(4, "big") * 256)[:1024] for i in range(3000)]
    signatures: list[Any] = [verifier.sign(p) for p in payloads]
    broken = list(signatures)
    broken[2999] = 3.5
    with pytest.raises(TypeError, match="signature"):
        verifier.verify_many(payloads, broken)
    assert verifier.verify_many(payloads, signatures) == [True] * 3000


# ------------------------------------------------------------------ regressions


def test_verify_base64_rejects_wrong_padding() -> None:
    """A 32-byte tag is 43 base64 characters plus exactly one "="; "==" is wrong padding,
    neither "with" nor "without" padding (``base64.b64decode(..., validate=True)`` refuses it).

    Regression: padding was once stripped without checking it, so this was accepted.
    """
    verifier = HmacVerifier(SECRET, encoding="base64")
    over_padded = B64 + "="
    if sys.version_info >= (3, 11):  # 3.10's validate=True checks only the alphabet
        with pytest.raises(ValueError):
            base64.b64decode(over_padded, validate=True)
    assert verifier.verify(BODY, over_padded) is False
