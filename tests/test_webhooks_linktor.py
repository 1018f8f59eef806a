"""The Linktor scheme: ``linktor_signature``, ``verify_linktor``, ``verify_linktor_request`` and
``LinktorVerifier``."""

from __future__ import annotations

import array
from typing import Any

import pytest
from _support import (
    TOLERANCE_ROWS,
    CaseSensitiveHeaders,
    body_variants,
    header_kinds,
    hmac_hex,
)

from relaywire.webhooks import (
    DEFAULT_TOLERANCE,
    LINKTOR_SIGNATURE_HEADER,
    LINKTOR_TIMESTAMP_HEADER,
    MAX_HEADER_BYTES,
    InvalidSecretError,
    LinktorVerifier,
    WebhookVerificationError,
    linktor_signature,
    verify_linktor,
    verify_linktor_request,
)

SECRET = "linktor-s3cret-ключ"
BODY = b'{"id":"evt_1","type":"message.received","text":"ol\xc3\xa1"}'
NOW = 1_700_000_000


SIG = hmac_hex(SECRET, BODY)


# ------------------------------------------------------------------ linktor_signature


def test_signature_is_lowercase_hex_hmac_sha256() -> None:
    sig = linktor_signature(BODY, SECRET)
    assert sig == SIG
    assert len(sig) == 64
    assert sig == sig.lower()
    int(sig, 16)


def test_signature_known_answer() -> None:
    # HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog")
    assert (
        linktor_signature(b"The quick brown fox jumps over the lazy dog", "key")
        == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_signature_secret_str_is_utf8_and_bytes_is_raw() -> None:
    assert linktor_signature(BODY, SECRET) == linktor_signature(BODY, SECRET.encode("utf-8"))
    assert linktor_signature(BODY, b"\xff\x00key") == hmac_hex(b"\xff\x00key", BODY)
    assert linktor_signature(BODY, "a") != linktor_signature(BODY, "b")


def test_signature_of_empty_body_and_empty_secret() -> None:
    assert linktor_signature(b"", SECRET) == hmac_hex(SECRET, b"")
    assert linktor_signature(BODY, "") == hmac_hex(b"", BODY)


@pytest.mark.parametrize("body", [BODY, b"", b"\xff\xfe\x00\x80 not utf-8"])
def test_signature_same_for_every_body_type(body: bytes) -> None:
    expected = hmac_hex(SECRET, body)
    for variant in body_variants(body):
        assert linktor_signature(variant, SECRET) == expected, type(variant)


def test_signature_of_non_contiguous_and_non_byte_buffers() -> None:
    data = bytes(range(256)) * 8
    strided = memoryview(bytearray(data))[::3]
    assert not strided.contiguous
    assert linktor_signature(strided, SECRET) == hmac_hex(SECRET, data[::3])
    reversed_view = memoryview(data)[::-1]
    assert linktor_signature(reversed_view, SECRET) == hmac_hex(SECRET, data[::-1])
    words = array.array("I", range(100))
    assert linktor_signature(words, SECRET) == hmac_hex(SECRET, words.tobytes())
    assert linktor_signature(memoryview(words), SECRET) == hmac_hex(SECRET, words.tobytes())
    matrix = memoryview(data).cast("B", (32, 64))
    assert linktor_signature(matrix, SECRET) == hmac_hex(SECRET, data)


def test_signature_str_body_is_utf8_encoded() -> None:
    text = "héllo ☃ 𝄞"
    assert linktor_signature(text, SECRET) == hmac_hex(SECRET, text.encode("utf-8"))


def test_signature_refuses_lone_surrogates_and_bad_secret_text() -> None:
    with pytest.raises(ValueError, match="surrogates"):
        linktor_signature("body \ud800", SECRET)
    with pytest.raises(InvalidSecretError):
        linktor_signature(BODY, "secret \udcff")


@pytest.mark.parametrize("payload", [123, None, 1.5, ["a"], {"a": 1}, object()])
def test_signature_rejects_other_body_types(payload: Any) -> None:
    with pytest.raises(TypeError, match="payload"):
        linktor_signature(payload, SECRET)


@pytest.mark.parametrize("secret", [123, None, bytearray(b"k"), ["k"]])
def test_signature_rejects_other_secret_types(secret: Any) -> None:
    with pytest.raises(TypeError, match="secret"):
        linktor_signature(BODY, secret)


# ------------------------------------------------------------------ verify_linktor


def test_verify_accepts_the_exact_signature() -> None:
    assert verify_linktor(BODY, SIG, SECRET) is True
    assert verify_linktor(BODY, SIG.encode(), SECRET) is True
    assert verify_linktor(BODY, SIG, SECRET.encode()) is True


@pytest.mark.parametrize("body", [BODY, b"", b"\x00\xff\x80"])
def test_verify_same_answer_for_every_body_type(body: bytes) -> None:
    good = hmac_hex(SECRET, body)
    bad = hmac_hex(SECRET, body + b"x")
    for variant in body_variants(body):
        assert verify_linktor(variant, good, SECRET) is True, type(variant)
        assert verify_linktor(variant, bad, SECRET) is False, type(variant)


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param(b"", id="empty-bytes"),
        pytest.param(SIG.upper(), id="uppercase"),
        pytest.param(SIG[:10].upper() + SIG[10:], id="partly-uppercase"),
        pytest.param("sha256=" + SIG, id="sha256-prefix"),
        pytest.param(" " + SIG, id="leading-space"),
        pytest.param(SIG + "\n", id="trailing-newline"),
        pytest.param(f"\t{SIG} ", id="surrounding-whitespace"),
        pytest.param(SIG[:-1], id="truncated"),
        pytest.param(SIG + "0", id="extended"),
        pytest.param(SIG[:-1] + ("0" if SIG[-1] != "0" else "1"), id="last-char-flipped"),
        pytest.param(SIG[:-1] + "é", id="non-ascii"),
        pytest.param("é" * 32, id="non-ascii-64-bytes"),
        pytest.param(SIG[:-1] + "\x00", id="nul"),
        pytest.param(SIG[:-1] + "\ud800", id="lone-surrogate"),
        pytest.param(SIG.encode()[:-1] + b"\xff", id="non-utf8-bytes"),
        pytest.param(hmac_hex("other", BODY), id="other-secret"),
        pytest.param(hmac_hex(SECRET, BODY + b" "), id="other-body"),
    ],
)
def test_verify_rejects(signature: Any) -> None:
    assert verify_linktor(BODY, signature, SECRET) is False


def test_verify_empty_secret_is_always_false() -> None:
    # Even the signature that an empty key really produces does not verify.
    empty_key_sig = linktor_signature(BODY, "")
    assert verify_linktor(BODY, empty_key_sig, "") is False
    assert verify_linktor(BODY, empty_key_sig, b"") is False


def test_verify_secret_with_lone_surrogates_is_false() -> None:
    assert verify_linktor(BODY, SIG, "s\udc80") is False


def test_verify_str_body_with_lone_surrogates_is_false() -> None:
    assert verify_linktor("bad \ud800 body", SIG, SECRET) is False


@pytest.mark.parametrize("signature", [123, 1.0, ["x"], bytearray(SIG.encode())])
def test_verify_rejects_other_signature_types(signature: Any) -> None:
    with pytest.raises(TypeError, match="signature"):
        verify_linktor(BODY, signature, SECRET)


@pytest.mark.parametrize("secret", [123, None, bytearray(b"k")])
def test_verify_rejects_other_secret_types(secret: Any) -> None:
    with pytest.raises(TypeError, match="secret"):
        verify_linktor(BODY, SIG, secret)


@pytest.mark.parametrize("payload", [123, None, object()])
def test_verify_rejects_other_body_types(payload: Any) -> None:
    with pytest.raises(TypeError, match="payload"):
        verify_linktor(payload, SIG, SECRET)


# ------------------------------------------------------------------ verify_linktor_request


def test_request_with_every_header_container_kind() -> None:
    good = {LINKTOR_SIGNATURE_HEADER: SIG, LINKTOR_TIMESTAMP_HEADER: str(NOW)}
    bad = {LINKTOR_SIGNATURE_HEADER: hmac_hex(SECRET, b"x"), LINKTOR_TIMESTAMP_HEADER: "1"}
    stale = {LINKTOR_SIGNATURE_HEADER: SIG, LINKTOR_TIMESTAMP_HEADER: str(NOW - 301)}
    for headers in header_kinds(good):
        assert verify_linktor_request(BODY, headers, SECRET, now=NOW) is True, headers
    for headers in header_kinds(bad) + header_kinds(stale):
        assert verify_linktor_request(BODY, headers, SECRET, now=NOW) is False, headers


def test_request_case_sensitive_mapping_falls_back_to_items() -> None:
    headers = CaseSensitiveHeaders(
        {"X-LINKTOR-SIGNATURE": SIG, "x-Linktor-Timestamp": str(NOW - 1000)}
    )
    assert headers.get(LINKTOR_SIGNATURE_HEADER) is None
    # The timestamp is found too, so the stale request is refused.
    assert verify_linktor_request(BODY, headers, SECRET, now=NOW) is False
    assert verify_linktor_request(BODY, headers, SECRET, now=NOW - 1000) is True


def test_request_asgi_raw_headers() -> None:
    raw = [
        (b"host", b"example.com"),
        (b"content-type", b"application/json"),
        (b"x-linktor-signature", SIG.encode()),
        (b"x-linktor-timestamp", str(NOW).encode()),
    ]
    assert verify_linktor_request(BODY, raw, SECRET, now=NOW) is True
    assert verify_linktor_request(BODY, tuple(raw), SECRET, now=NOW) is True
    assert verify_linktor_request(BODY, raw, SECRET, now=NOW + 301) is False


def test_request_first_matching_pair_wins() -> None:
    pairs = [("X-Linktor-Signature", SIG), ("x-linktor-signature", "0" * 64)]
    assert verify_linktor_request(BODY, pairs, SECRET) is True
    pairs.reverse()
    assert verify_linktor_request(BODY, pairs, SECRET) is False


@pytest.mark.parametrize("body", [BODY, b"\xff\xfe"])
def test_request_same_answer_for_every_body_type(body: bytes) -> None:
    headers = {LINKTOR_SIGNATURE_HEADER: hmac_hex(SECRET, body)}
    for variant in body_variants(body):
        assert verify_linktor_request(variant, headers, SECRET) is True


def test_request_timestamp_is_optional() -> None:
    assert verify_linktor_request(BODY, {"X-Linktor-Signature": SIG}, SECRET) is True
    assert verify_linktor_request(BODY, {"X-Linktor-Signature": SIG}, SECRET, now=0) is True


@pytest.mark.parametrize("value", ["", b"", None])
def test_request_empty_or_none_timestamp_counts_as_absent(value: Any) -> None:
    headers = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": value}
    assert verify_linktor_request(BODY, headers, SECRET, now=NOW) is True


def test_request_missing_signature_is_false_even_with_timestamp() -> None:
    assert verify_linktor_request(BODY, {"X-Linktor-Timestamp": str(NOW)}, SECRET, now=NOW) is False
    assert verify_linktor_request(BODY, {}, SECRET) is False
    assert verify_linktor_request(BODY, [], SECRET) is False


@pytest.mark.parametrize(("offset", "tolerance", "expected"), TOLERANCE_ROWS)
def test_request_tolerance_boundaries(offset: int, tolerance: float, expected: bool) -> None:
    headers = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": str(NOW + offset)}
    assert verify_linktor_request(BODY, headers, SECRET, tolerance, now=NOW) is expected
    assert verify_linktor_request(BODY, headers, SECRET, tolerance=tolerance, now=NOW) is expected
    verifier = LinktorVerifier(SECRET)
    assert verifier.verify_request(BODY, headers, tolerance, now=NOW) is expected


def test_request_large_integer_now_is_exact() -> None:
    """An earlier build turned ``now`` into nanoseconds as ``now * 1e9`` in floating point,
    which rounds near 2**62 ns and rejected this timestamp at ``tolerance=0``."""
    headers = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": "4611686019"}
    assert verify_linktor_request(BODY, headers, SECRET, 0, now=4_611_686_019) is True
    assert verify_linktor_request(BODY, headers, SECRET, 0, now=4_611_686_019.0) is True
    assert verify_linktor_request(BODY, headers, SECRET, 0, now=4_611_686_019.5) is False
    verifier = LinktorVerifier(SECRET)
    assert verifier.verify_request(BODY, headers, 0, now=4_611_686_019) is True
    assert verifier.verify_request(BODY, headers, 0, now=4_611_686_019.5) is False


def test_request_default_tolerance_is_300() -> None:
    assert DEFAULT_TOLERANCE == 300
    edge = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": str(NOW - 300)}
    past = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": str(NOW - 301)}
    assert verify_linktor_request(BODY, edge, SECRET, now=NOW) is True
    assert verify_linktor_request(BODY, past, SECRET, now=NOW) is False


def test_request_default_now_is_the_clock() -> None:
    import time

    fresh = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": str(int(time.time()))}
    ancient = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": "1000"}
    assert verify_linktor_request(BODY, fresh, SECRET) is True
    assert verify_linktor_request(BODY, ancient, SECRET) is False


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        pytest.param(str(NOW), True, id="plain"),
        pytest.param(str(NOW).encode(), True, id="bytes"),
        pytest.param(f"  {NOW}  ", True, id="spaces"),
        pytest.param(f"\t{NOW}\r\n", True, id="tabs-newlines"),
        pytest.param(f"+{NOW}", True, id="plus-sign"),
        pytest.param(f" +{NOW} ", True, id="plus-sign-spaces"),
        pytest.param(f"0000{NOW}", True, id="leading-zeros"),
        pytest.param(f"-{NOW}", False, id="negative-out-of-window"),
        pytest.param(f"{NOW:_}", False, id="underscores"),
        pytest.param(f"{NOW}.0", False, id="decimal"),
        pytest.param(f"{NOW}.5", False, id="fraction"),
        pytest.param("1.7e9", False, id="exponent"),
        pytest.param(hex(NOW), False, id="hex"),
        pytest.param("+-1", False, id="two-signs"),
        pytest.param("+", False, id="sign-only"),
        pytest.param("   ", False, id="whitespace-only"),
        pytest.param("abc", False, id="letters"),
        pytest.param("9" * 30, False, id="overflow"),
        pytest.param(f"{NOW}abc", False, id="trailing-garbage"),
        pytest.param(f"{NOW} 1", False, id="two-numbers"),
        pytest.param(str(NOW * 1000), False, id="milliseconds"),
    ],
)
def test_request_timestamp_parsing(timestamp: str | bytes, expected: bool) -> None:
    headers = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": timestamp}
    assert verify_linktor_request(BODY, headers, SECRET, now=NOW) is expected


def test_request_negative_timestamp_inside_window() -> None:
    headers = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": " -5 "}
    assert verify_linktor_request(BODY, headers, SECRET, tolerance=10, now=0) is True
    assert verify_linktor_request(BODY, headers, SECRET, tolerance=4, now=0) is False


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Linktor-Signature": 123}, id="signature-int"),
        pytest.param({"X-Linktor-Signature": SIG[:-1] + "\ud800"}, id="signature-surrogate"),
        pytest.param({"X-Linktor-Signature": SIG.upper()}, id="signature-uppercase"),
        pytest.param({"X-Linktor-Signature": "sha256=" + SIG}, id="signature-prefixed"),
        pytest.param({"X-Linktor-Signature": SIG + " "}, id="signature-whitespace"),
        pytest.param({"X-Linktor-Signature": ""}, id="signature-empty"),
        pytest.param({"X-Linktor-Signature": SIG + " " * MAX_HEADER_BYTES}, id="signature-huge"),
        pytest.param({"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": NOW}, id="ts-int"),
        pytest.param({"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": 1.5}, id="ts-float"),
        pytest.param(
            {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": "1\udc80"}, id="ts-surrogate"
        ),
        pytest.param(
            {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": " " * MAX_HEADER_BYTES + str(NOW)},
            id="ts-huge",
        ),
    ],
)
def test_request_unusable_headers_are_false(headers: dict[str, Any]) -> None:
    assert verify_linktor_request(BODY, headers, SECRET, now=NOW) is False
    assert LinktorVerifier(SECRET).verify_request(BODY, headers, now=NOW) is False


def test_request_header_at_the_size_limit_is_read() -> None:
    # Exactly MAX_HEADER_BYTES is allowed: the padded timestamp still parses and is checked.
    padded = str(NOW).rjust(MAX_HEADER_BYTES)
    assert len(padded) == MAX_HEADER_BYTES
    headers = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": padded}
    assert verify_linktor_request(BODY, headers, SECRET, now=NOW) is True
    assert verify_linktor_request(BODY, headers, SECRET, now=NOW + 301) is False


def test_request_empty_or_bad_secret_is_false() -> None:
    headers = {"X-Linktor-Signature": linktor_signature(BODY, "")}
    assert verify_linktor_request(BODY, headers, "") is False
    assert verify_linktor_request(BODY, headers, b"") is False
    assert verify_linktor_request(BODY, {"X-Linktor-Signature": SIG}, "x\ud800") is False


@pytest.mark.parametrize("tolerance", [-1, -0.5, float("nan"), float("inf"), float("-inf")])
def test_request_rejects_bad_tolerance(tolerance: float) -> None:
    headers = {"X-Linktor-Signature": SIG}
    with pytest.raises(ValueError, match="tolerance"):
        verify_linktor_request(BODY, headers, SECRET, tolerance)
    with pytest.raises(ValueError, match="tolerance"):
        LinktorVerifier(SECRET).verify_request(BODY, headers, tolerance)


@pytest.mark.parametrize("now", [float("nan"), float("inf")])
def test_request_rejects_bad_now(now: float) -> None:
    with pytest.raises(ValueError, match="now"):
        verify_linktor_request(BODY, {"X-Linktor-Signature": SIG}, SECRET, now=now)


def test_request_now_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        verify_linktor_request(BODY, {}, SECRET, 300, NOW)  # type: ignore[misc]


def test_request_rejects_non_header_objects() -> None:
    with pytest.raises(TypeError):
        verify_linktor_request(BODY, 42, SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pairs"):
        verify_linktor_request(BODY, ["not-a-pair"], SECRET)


def test_request_wrong_secret_type_is_type_error() -> None:
    with pytest.raises(TypeError, match="secret"):
        verify_linktor_request(BODY, {"X-Linktor-Signature": SIG}, 123)  # type: ignore[arg-type]


# ------------------------------------------------------------------ LinktorVerifier


def test_verifier_matches_module_functions() -> None:
    verifier = LinktorVerifier(SECRET)
    assert verifier.sign(BODY) == SIG == linktor_signature(BODY, SECRET)
    assert verifier.verify(BODY, SIG) is True
    assert verifier.verify(BODY, SIG.upper()) is False
    assert verifier.verify(BODY, None) is False
    assert verifier.verify(BODY, "") is False
    assert verifier.verify(b"other", SIG) is False
    assert verifier.verify("x\ud800", SIG) is False
    assert verifier.verify_request(BODY, {"x-linktor-signature": SIG}) is True


def test_verifier_secret_str_and_bytes_agree() -> None:
    assert LinktorVerifier(SECRET).sign(BODY) == LinktorVerifier(SECRET.encode()).sign(BODY)
    assert LinktorVerifier(b"\xff\xfe").sign(BODY) == hmac_hex(b"\xff\xfe", BODY)


@pytest.mark.parametrize("secret", ["", b"", "bad \udc80"])
def test_verifier_refuses_empty_or_unencodable_secret(secret: Any) -> None:
    with pytest.raises(InvalidSecretError) as info:
        LinktorVerifier(secret)
    assert isinstance(info.value, WebhookVerificationError)


@pytest.mark.parametrize("secret", [None, 1, bytearray(b"k")])
def test_verifier_refuses_other_secret_types(secret: Any) -> None:
    with pytest.raises(TypeError):
        LinktorVerifier(secret)


def test_verifier_sign_and_verify_every_body_type() -> None:
    verifier = LinktorVerifier(SECRET)
    for variant in body_variants(BODY):
        assert verifier.sign(variant) == SIG
        assert verifier.verify(variant, SIG) is True
    with pytest.raises(TypeError):
        verifier.sign(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        verifier.sign("\ud800")


def test_verifier_repr_hides_secret() -> None:
    secret = "very-secret-value-123"
    verifier = LinktorVerifier(secret)
    for text in (repr(verifier), str(verifier)):
        assert secret not in text
        assert "LinktorVerifier" in text
        assert "redacted" in text


def test_verify_many_keeps_order_and_mixes_valid_and_invalid() -> None:
    verifier = LinktorVerifier(SECRET)
    bodies = [b"a", "b", bytearray(b"c"), memoryview(b"d"), b"e", b"f", "g\ud800", b"h", b"i"]
    signatures: list[Any] = [
        hmac_hex(SECRET, b"a"),
        hmac_hex(SECRET, b"b"),
        hmac_hex(SECRET, b"x"),
        hmac_hex(SECRET, b"d"),
        None,
        "",
        hmac_hex(SECRET, b"g"),
        hmac_hex(SECRET, b"h").upper(),
        hmac_hex(SECRET, b"i").encode(),
    ]
    expected = [True, True, False, True, False, False, False, False, True]
    assert verifier.verify_many(bodies, signatures) == expected
    assert [verifier.verify(b, s) for b, s in zip(bodies, signatures, strict=True)] == expected


def test_verify_many_accepts_any_iterables() -> None:
    verifier = LinktorVerifier(SECRET)
    bodies = [b"1", b"2", b"3"]
    sigs = [hmac_hex(SECRET, b) for b in bodies]
    assert verifier.verify_many(iter(bodies), (s for s in sigs)) == [True, True, True]
    assert verifier.verify_many(tuple(bodies), tuple(reversed(sigs))) == [False, True, False]
    assert verifier.verify_many([], []) == []


def test_verify_many_errors() -> None:
    verifier = LinktorVerifier(SECRET)
    with pytest.raises(ValueError, match="verify_many"):
        verifier.verify_many([b"a", b"b"], [SIG])
    with pytest.raises(ValueError, match="verify_many"):
        verifier.verify_many([], [SIG])
    with pytest.raises(TypeError):
        verifier.verify_many([b"a", 3], [SIG, SIG])
    with pytest.raises(TypeError):
        verifier.verify_many([b"a"], [3])
    with pytest.raises(TypeError):
        verifier.verify_many(5, [SIG])  # type: ignore[arg-type]


def test_verify_many_large_batch_equals_single_verifications() -> None:
    verifier = LinktorVerifier(SECRET)
    bodies: list[Any] = []
    sigs: list[Any] = []
    for i in range(5000):
        body = (i.to_bytes(4, "big") * 256)[:1024]
        sig = hmac_hex(SECRET, body)
        kind = i % 5
        if kind == 1:
            sig = sig[::-1]
        elif kind == 2:
            body = bytearray(body)
        elif kind == 3:
            sig = None
        elif kind == 4:
            body = memoryview(body)
        bodies.append(body)
        sigs.append(sig)
    results = verifier.verify_many(bodies, sigs)
    assert len(results) == 5000
    assert results == [verifier.verify(b, s) for b, s in zip(bodies, sigs, strict=True)]
    assert results.count(True) == 3000


def test_verify_many_large_batch_bad_item_late_in_the_batch() -> None:
    verifier = LinktorVerifier(SECRET)
    bodies: list[Any] = [(i.to_bytes(4, "big") * 256)[:1024] for i in range(5000)]
    sigs: list[Any] = [hmac_hex(SECRET, b) for b in bodies]
    bad_body = list(bodies)
    bad_body[4321] = 42
    with pytest.raises(TypeError, match="payload"):
        verifier.verify_many(bad_body, sigs)
    bad_sig = list(sigs)
    bad_sig[4999] = 42
    with pytest.raises(TypeError, match="signature"):
        verifier.verify_many(bodies, bad_sig)
    with pytest.raises(ValueError, match="verify_many"):
        verifier.verify_many(bodies, sigs[:-1])
    # The verifier is unaffected by the failed batches.
    sigs[4321] = "0" * 64
    results = verifier.verify_many(bodies, sigs)
    assert results == [i != 4321 for i in range(5000)]


# ------------------------------------------------------------------ regressions


def test_request_header_iterator_does_not_skip_timestamp_check() -> None:
    """A one-shot iterable of pairs is an "iterable of (name, value) pairs" too.

    Regression: each header was once looked up by iterating ``headers`` afresh, so with an
    iterator the signature lookup consumed the timestamp pair and the stale timestamp went
    unchecked.
    """
    pairs = [(b"x-linktor-timestamp", b"1000"), (b"x-linktor-signature", SIG.encode())]
    assert verify_linktor_request(BODY, pairs, SECRET, now=NOW) is False
    assert verify_linktor_request(BODY, iter(pairs), SECRET, now=NOW) is False


def test_request_asgi_headers_as_two_item_lists() -> None:
    """ASGI allows ``headers`` as an iterable of ``[name, value]`` two-item iterables.

    Regression: only tuples were once unpacked; a list of lists raised TypeError.
    """
    raw = [[b"x-linktor-signature", SIG.encode()], [b"x-linktor-timestamp", str(NOW).encode()]]
    assert verify_linktor_request(BODY, raw, SECRET, now=NOW) is True


def test_request_fractional_now_is_not_rounded_into_the_window() -> None:
    """|now - ts| <= tolerance with now=NOW + 0.5 and ts=NOW - 300 is 300.5 > 300.

    Regression: ``now`` was once floored to whole seconds, accepting the stale timestamp.
    """
    headers = {"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": str(NOW - 300)}
    assert verify_linktor_request(BODY, headers, SECRET, 300, now=NOW + 0.5) is False


def test_module_functions_are_reentrant() -> None:
    """A header mapping may itself run code that verifies a webhook.

    Regression: the module-level key cache was once kept borrowed while Python code (the
    mapping's ``get``) ran, so a nested call panicked with PanicException.
    """

    class Reentrant(CaseSensitiveHeaders):
        def __getitem__(self, key: str) -> Any:
            verify_linktor(b"inner", "0" * 64, "inner-secret")
            return super().__getitem__(key)

    headers = Reentrant({"x-linktor-signature": SIG})
    try:
        result = verify_linktor_request(BODY, headers, SECRET)
    except BaseException as exc:  # PanicException derives from BaseException
        pytest.fail(f"nested verification raised {type(exc).__name__}: {exc}")
    assert result is True
