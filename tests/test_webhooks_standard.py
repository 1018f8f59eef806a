"""The Standard Webhooks scheme: ``StandardWebhook``."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from _support import (
    TOLERANCE_ROWS,
    CaseSensitiveHeaders,
    body_variants,
    header_kinds,
    outcome,
    standard_signature,
)

from relaywire.webhooks import (
    MAX_HEADER_BYTES,
    STANDARD_ID_HEADER,
    STANDARD_SIGNATURE_HEADER,
    STANDARD_TIMESTAMP_HEADER,
    InvalidHeaderError,
    InvalidSecretError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingHeaderError,
    StandardWebhook,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
NOW = TS

WH = StandardWebhook(SECRET)


def reference_sig(msg_id: str | bytes, ts: int, body: bytes, key: bytes = KEY) -> str:
    return standard_signature(key, msg_id, ts, body)


SIG = reference_sig(MSG_ID, TS, BODY)


def headers_for(
    body: bytes = BODY, msg_id: str = MSG_ID, ts: int = TS, **overrides: Any
) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": reference_sig(msg_id, ts, body),
    }
    headers.update({name.replace("_", "-"): value for name, value in overrides.items()})
    return headers


# ------------------------------------------------------------------ construction and sign


def test_header_name_constants() -> None:
    assert (STANDARD_ID_HEADER, STANDARD_TIMESTAMP_HEADER, STANDARD_SIGNATURE_HEADER) == (
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    )


def test_sign_matches_reference() -> None:
    assert WH.sign(MSG_ID, TS, BODY) == SIG
    assert WH.sign("other", 1, b"") == reference_sig("other", 1, b"")
    assert WH.sign("ïd-ü", -5, b"\xff\x00") == reference_sig("ïd-ü", -5, b"\xff\x00")
    assert WH.sign(MSG_ID, 0, BODY) == reference_sig(MSG_ID, 0, BODY)


def test_secret_forms_are_equivalent() -> None:
    bare = SECRET.removeprefix("whsec_")
    for secret in (SECRET, bare, KEY):
        assert StandardWebhook(secret).sign(MSG_ID, TS, BODY) == SIG
    # A str secret is base64 text; bytes are the raw key, never decoded.
    assert StandardWebhook(SECRET.encode()).sign(MSG_ID, TS, BODY) == reference_sig(
        MSG_ID, TS, BODY, key=SECRET.encode()
    )


def test_unpadded_base64_secret() -> None:
    key = b"0123456789"
    padded = base64.b64encode(key).decode()
    assert padded.endswith("=")
    unpadded = padded.rstrip("=")
    expected = reference_sig(MSG_ID, TS, BODY, key=key)
    assert StandardWebhook("whsec_" + padded).sign(MSG_ID, TS, BODY) == expected
    assert StandardWebhook("whsec_" + unpadded).sign(MSG_ID, TS, BODY) == expected


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("", id="empty"),
        pytest.param("whsec_", id="prefix-only"),
        pytest.param(b"", id="empty-bytes"),
        pytest.param("whsec_!!!!", id="not-base64"),
        pytest.param("whsec_abc$def", id="bad-char"),
        pytest.param("whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id="space"),
        pytest.param("whsec_A", id="one-char"),
        pytest.param("whsec_QUJD===", id="too-much-padding"),
        pytest.param("whsec_\ud800", id="lone-surrogate"),
    ],
)
def test_bad_secret(secret: Any) -> None:
    with pytest.raises(InvalidSecretError) as info:
        StandardWebhook(secret)
    assert isinstance(info.value, WebhookVerificationError)


# A list of secrets is accepted (rotation), so a list is wrong only when an item is.
@pytest.mark.parametrize("secret", [None, 1, 1.5, bytearray(b"k"), [None], {"whsec_x"}])
def test_secret_of_wrong_type(secret: Any) -> None:
    with pytest.raises(TypeError):
        StandardWebhook(secret)


def test_sign_with_aware_datetime() -> None:
    moment = datetime.fromtimestamp(TS, tz=timezone.utc)
    assert WH.sign(MSG_ID, moment, BODY) == SIG
    other_zone = moment.astimezone(timezone(timedelta(hours=-7)))
    assert WH.sign(MSG_ID, other_zone, BODY) == SIG


def test_sign_with_datetime_floors_fractions() -> None:
    moment = datetime.fromtimestamp(TS, tz=timezone.utc) + timedelta(microseconds=999_999)
    assert WH.sign(MSG_ID, moment, BODY) == SIG
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=timezone.utc)
    assert WH.sign(MSG_ID, before_epoch, BODY) == reference_sig(MSG_ID, -1, BODY)


def test_sign_with_naive_datetime_uses_its_timestamp() -> None:
    naive = datetime(2021, 2, 25, 15, 2, 10)
    assert WH.sign(MSG_ID, naive, BODY) == reference_sig(MSG_ID, int(naive.timestamp()), BODY)


@pytest.mark.parametrize("timestamp", [1.5, "1614265330", None, 2**64, b"1"])
def test_sign_rejects_other_timestamp_types(timestamp: Any) -> None:
    with pytest.raises(TypeError, match="timestamp"):
        WH.sign(MSG_ID, timestamp, BODY)


def test_sign_every_body_type() -> None:
    for variant in body_variants(BODY):
        assert WH.sign(MSG_ID, TS, variant) == SIG
    with pytest.raises(TypeError):
        WH.sign(MSG_ID, TS, 12)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        WH.sign(MSG_ID, TS, "\ud800")


def test_repr_hides_secret() -> None:
    text = repr(WH)
    assert "StandardWebhook" in text
    assert "redacted" in text
    for secret_part in (SECRET, SECRET.removeprefix("whsec_"), "MfKQ9r8"):
        assert secret_part not in text
        assert secret_part not in str(WH)
    assert "abc" not in repr(StandardWebhook(b"abc"))


# ------------------------------------------------------------------ verify


def test_known_vector_verifies() -> None:
    assert WH.verify(BODY, headers_for(), now=NOW) is None


def test_verify_every_header_container_kind() -> None:
    for headers in header_kinds(headers_for()):
        assert WH.verify(BODY, headers, now=NOW) is None, headers
    for headers in header_kinds(headers_for(webhook_signature=reference_sig(MSG_ID, TS, b"x"))):
        with pytest.raises(InvalidSignatureError):
            WH.verify(BODY, headers, now=NOW)


def test_verify_case_sensitive_mapping() -> None:
    headers = CaseSensitiveHeaders(
        {"Webhook-Id": MSG_ID, "WEBHOOK-TIMESTAMP": str(TS), "webhook-Signature": SIG}
    )
    assert headers.get("webhook-id") is None
    assert WH.verify(BODY, headers, now=NOW) is None


def test_verify_asgi_raw_headers() -> None:
    raw = [(b"content-type", b"application/json")] + [
        (name.encode(), value.encode()) for name, value in headers_for().items()
    ]
    assert WH.verify(BODY, raw, now=NOW) is None


@pytest.mark.parametrize("body", [BODY, b"", b"\xff\xfe\x80 raw bytes"])
def test_verify_same_answer_for_every_body_type(body: bytes) -> None:
    headers = headers_for(body)
    for variant in body_variants(body):
        assert WH.verify(variant, headers, now=NOW) is None
        with pytest.raises(InvalidSignatureError):
            WH.verify(variant, headers_for(body + b"!"), now=NOW)


def test_verify_bytes_header_values() -> None:
    headers = {name: value.encode() for name, value in headers_for().items()}
    assert WH.verify(BODY, headers, now=NOW) is None
    raw_id = b"msg-\xff\xfe"
    raw_headers = {
        "webhook-id": raw_id,
        "webhook-timestamp": str(TS).encode(),
        "webhook-signature": reference_sig(raw_id, TS, BODY).encode(),
    }
    assert WH.verify(BODY, raw_headers, now=NOW) is None


def test_verify_any_listed_v1_signature() -> None:
    wrong = reference_sig(MSG_ID, TS, b"wrong")
    for listed in (
        f"{wrong} {SIG}",
        f"{SIG} {wrong}",
        f"v2,{SIG[3:]} {SIG}",
        f"v1,bm9wZQ== v1a,xyz {SIG}",
        f"{wrong}  {SIG}",
        f" {SIG}",
    ):
        assert WH.verify(BODY, headers_for(webhook_signature=listed), now=NOW) is None


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(reference_sig(MSG_ID, TS, b"x"), id="other-body"),
        pytest.param(SIG[3:], id="no-version"),
        pytest.param("v2," + SIG[3:], id="other-version"),
        pytest.param("V1," + SIG[3:], id="uppercase-version"),
        pytest.param("v1=" + SIG[3:], id="wrong-separator"),
        pytest.param(SIG.rstrip("="), id="unpadded-base64"),
        pytest.param(SIG + "=", id="over-padded"),
        pytest.param(SIG.replace("+", "-").replace("/", "_"), id="urlsafe-alphabet"),
        pytest.param(SIG.swapcase().replace("V1,", "v1,"), id="case-swapped"),
        pytest.param(SIG + "\n", id="trailing-newline"),
        pytest.param(f"{reference_sig(MSG_ID, TS, b'x')},{SIG}", id="comma-joined"),
        pytest.param(f"{reference_sig(MSG_ID, TS, b'x')}\t{SIG}", id="tab-separated"),
        pytest.param("v1,", id="empty-tag"),
        pytest.param("v1,!!!!", id="bad-base64"),
        pytest.param("v1," + base64.b64encode(KEY).decode(), id="the-key"),
        pytest.param("sha256=" + SIG[3:], id="sha256-prefix"),
        pytest.param(SIG[:-2] + "é=", id="non-ascii"),
        pytest.param(SIG[:-1] + "\x00", id="nul"),
    ],
)
def test_verify_rejects_signature(signature: str) -> None:
    with pytest.raises(InvalidSignatureError):
        WH.verify(BODY, headers_for(webhook_signature=signature), now=NOW)


def test_verify_rejects_tampered_id_and_timestamp() -> None:
    with pytest.raises(InvalidSignatureError):
        WH.verify(BODY, headers_for(webhook_id=MSG_ID + "x", webhook_signature=SIG), now=NOW)
    with pytest.raises(InvalidSignatureError):
        WH.verify(BODY, headers_for(webhook_timestamp=str(TS + 1), webhook_signature=SIG), now=NOW)


def test_verify_with_another_key_fails() -> None:
    other = StandardWebhook(b"another key")
    with pytest.raises(InvalidSignatureError):
        other.verify(BODY, headers_for(), now=NOW)


def test_leading_zeros_in_timestamp_are_signed_as_the_number() -> None:
    # The signed content uses the parsed number, as the reference implementation does.
    headers = headers_for(webhook_timestamp="00" + str(TS))
    assert WH.verify(BODY, headers, now=NOW) is None


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("value", ["", b"", None, "<absent>"])
def test_missing_header(header: str, value: Any) -> None:
    headers = headers_for()
    if value == "<absent>":
        del headers[header]
    else:
        headers[header] = value
    with pytest.raises(MissingHeaderError, match=header):
        WH.verify(BODY, headers, now=NOW)


def test_missing_all_headers() -> None:
    for headers in ({}, [], CaseSensitiveHeaders({}), httpx.Headers()):
        with pytest.raises(MissingHeaderError):
            WH.verify(BODY, headers, now=NOW)


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1614265330, id="int"),
        pytest.param(1.5, id="float"),
        pytest.param(["v1,x"], id="list"),
        pytest.param(bytearray(b"x"), id="bytearray"),
        pytest.param("x\ud800", id="lone-surrogate"),
        pytest.param("1" * (MAX_HEADER_BYTES + 1), id="too-long-str"),
        pytest.param(b"1" * (MAX_HEADER_BYTES + 1), id="too-long-bytes"),
        pytest.param("é" * (MAX_HEADER_BYTES // 2 + 1), id="too-long-utf8"),
    ],
)
def test_invalid_header(header: str, value: Any) -> None:
    headers = headers_for()
    headers[header] = value
    with pytest.raises(InvalidHeaderError, match=header):
        WH.verify(BODY, headers, now=NOW)


def test_header_at_the_size_limit_is_read() -> None:
    sig_list = (SIG + " ") * 100
    sig_list = sig_list.ljust(MAX_HEADER_BYTES, " ")
    assert len(sig_list) == MAX_HEADER_BYTES
    assert WH.verify(BODY, headers_for(webhook_signature=sig_list), now=NOW) is None
    with pytest.raises(InvalidHeaderError):
        WH.verify(BODY, headers_for(webhook_signature=sig_list + " "), now=NOW)


def test_invalid_header_wins_over_missing_header() -> None:
    headers = {"webhook-signature": 5}
    with pytest.raises(InvalidHeaderError):
        WH.verify(BODY, headers, now=NOW)


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("abc", id="letters"),
        pytest.param(f"{TS}.5", id="fraction"),
        pytest.param(f"{TS}.0", id="decimal"),
        pytest.param(f"+{TS}", id="plus-sign"),
        pytest.param(f" {TS}", id="leading-space"),
        pytest.param(f"{TS} ", id="trailing-space"),
        pytest.param(f"{TS:_}", id="underscores"),
        pytest.param("1.6e9", id="exponent"),
        pytest.param("-", id="minus-only"),
        pytest.param("--1", id="double-minus"),
        pytest.param("١٦١٤٢٦٥٣٣٠", id="non-ascii-digits"),
        pytest.param(b"\xff", id="non-utf8-bytes"),
        pytest.param("9" * 30, id="overflow"),
        pytest.param(str(2**63), id="overflow-by-one"),
        pytest.param(str(-(2**63) - 1), id="negative-overflow"),
    ],
)
def test_invalid_timestamp(timestamp: str | bytes) -> None:
    with pytest.raises(InvalidTimestampError):
        WH.verify(BODY, headers_for(webhook_timestamp=timestamp), now=NOW)


def test_timestamp_at_i64_max_is_out_of_tolerance() -> None:
    with pytest.raises(TimestampOutOfToleranceError):
        WH.verify(BODY, headers_for(webhook_timestamp=str(2**63 - 1)), now=NOW)


@pytest.mark.parametrize(
    ("offset", "tolerance", "expected"),
    [
        (offset, tolerance, None if within else TimestampOutOfToleranceError)
        for offset, tolerance, within in TOLERANCE_ROWS
    ],
)
def test_tolerance_boundaries(offset: int, tolerance: float, expected: Any) -> None:
    # Sign for the shifted timestamp so the only possible failure is tolerance.
    ts = TS + offset
    headers = headers_for(ts=ts)
    assert outcome(lambda: WH.verify(BODY, headers, tolerance=tolerance, now=NOW)) is expected


def test_large_integer_now_is_exact() -> None:
    """An earlier build turned ``now`` into nanoseconds as ``now * 1e9`` in floating point,
    which rounds near 2**62 ns and rejected this timestamp at ``tolerance=0``."""
    webhook = StandardWebhook(b"\x00")
    ts = 4_611_686_019
    sig = webhook.sign("a", ts, b"")
    assert sig == standard_signature(b"\x00", "a", ts, b"")
    headers = {"webhook-id": "a", "webhook-timestamp": str(ts), "webhook-signature": sig}
    assert webhook.verify(b"", headers, now=4_611_686_019, tolerance=0) is None
    assert webhook.verify(b"", headers, now=4_611_686_019.0, tolerance=0) is None
    with pytest.raises(TimestampOutOfToleranceError):
        webhook.verify(b"", headers, now=4_611_686_019 + 0.5, tolerance=0)


def test_too_old_and_too_new_messages() -> None:
    with pytest.raises(TimestampOutOfToleranceError, match="old"):
        WH.verify(BODY, headers_for(), now=NOW + 301)
    with pytest.raises(TimestampOutOfToleranceError, match="new"):
        WH.verify(BODY, headers_for(), now=NOW - 301)


def test_negative_timestamps() -> None:
    headers = headers_for(ts=-100)
    assert WH.verify(BODY, headers, now=-50, tolerance=50) is None
    with pytest.raises(TimestampOutOfToleranceError):
        WH.verify(BODY, headers, now=NOW)


def test_tolerance_checked_before_signature() -> None:
    headers = headers_for(webhook_signature="v1,bogus")
    with pytest.raises(TimestampOutOfToleranceError):
        WH.verify(BODY, headers, now=NOW + 1000)


def test_default_now_is_the_clock() -> None:
    import time

    now = int(time.time())
    assert WH.verify(BODY, headers_for(ts=now)) is None
    with pytest.raises(TimestampOutOfToleranceError):
        WH.verify(BODY, headers_for())


def test_tolerance_and_now_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        WH.verify(BODY, headers_for(), 300)  # type: ignore[misc]


@pytest.mark.parametrize("tolerance", [-1, -0.001, float("nan"), float("inf")])
def test_bad_tolerance(tolerance: float) -> None:
    with pytest.raises(ValueError, match="tolerance"):
        WH.verify(BODY, headers_for(), tolerance=tolerance, now=NOW)
    with pytest.raises(ValueError, match="tolerance"):
        WH.verify_many([BODY], [headers_for()], tolerance=tolerance, now=NOW)


@pytest.mark.parametrize("now", [float("nan"), float("-inf")])
def test_bad_now(now: float) -> None:
    with pytest.raises(ValueError, match="now"):
        WH.verify(BODY, headers_for(), now=now)


def test_lone_surrogate_body_raises_base_error() -> None:
    with pytest.raises(WebhookVerificationError) as info:
        WH.verify("bad \udc00 body", headers_for(), now=NOW)
    assert type(info.value) is WebhookVerificationError


@pytest.mark.parametrize("payload", [5, None, ["x"], object()])
def test_other_body_types(payload: Any) -> None:
    with pytest.raises(TypeError, match="payload"):
        WH.verify(payload, headers_for(), now=NOW)


def test_non_header_objects() -> None:
    with pytest.raises(TypeError):
        WH.verify(BODY, 5, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pairs"):
        WH.verify(BODY, ["webhook-id"], now=NOW)


def test_exception_hierarchy() -> None:
    for cls in (
        MissingHeaderError,
        InvalidHeaderError,
        InvalidTimestampError,
        TimestampOutOfToleranceError,
        InvalidSignatureError,
        InvalidSecretError,
    ):
        assert issubclass(cls, WebhookVerificationError)
        assert cls is not WebhookVerificationError
    assert issubclass(WebhookVerificationError, Exception)


# ------------------------------------------------------------------ verify_many


def test_verify_many_order_and_mixed_items() -> None:
    payloads: list[Any] = [BODY, b"tampered", BODY, BODY, "x\ud800", bytearray(BODY), BODY, BODY]
    headers: list[Any] = [
        headers_for(),
        headers_for(),
        headers_for(webhook_id=""),
        headers_for(webhook_timestamp=5),
        headers_for(),
        headers_for(),
        headers_for(ts=TS + 1000),
        [(k.encode(), v.encode()) for k, v in headers_for().items()],
    ]
    expected = [True, False, False, False, False, True, False, True]
    assert WH.verify_many(payloads, headers, now=NOW) == expected
    singles = [
        outcome(lambda p=p, h=h: WH.verify(p, h, now=NOW)) is None
        for p, h in zip(payloads, headers, strict=True)
    ]
    assert singles == expected


def test_verify_many_applies_tolerance_and_now() -> None:
    headers = [headers_for(ts=TS + offset) for offset in (-10, 0, 10)]
    payloads = [BODY] * 3
    assert WH.verify_many(payloads, headers, now=NOW) == [True, True, True]
    assert WH.verify_many(payloads, headers, tolerance=5, now=NOW) == [False, True, False]
    assert WH.verify_many(payloads, headers, tolerance=10, now=NOW + 10) == [False, True, True]


def test_verify_many_iterables_and_errors() -> None:
    assert WH.verify_many(iter([BODY]), (h for h in [headers_for()]), now=NOW) == [True]
    assert WH.verify_many([], [], now=NOW) == []
    with pytest.raises(ValueError, match="verify_many"):
        WH.verify_many([BODY, BODY], [headers_for()], now=NOW)
    with pytest.raises(TypeError):
        WH.verify_many([1], [headers_for()], now=NOW)
    with pytest.raises(TypeError):
        WH.verify_many([BODY], [5], now=NOW)


def test_verify_many_large_batch_equals_single_verifications() -> None:
    payloads: list[Any] = []
    headers: list[Any] = []
    for i in range(5000):
        body = (i.to_bytes(4, "little") * 256)[:1024]
        item = headers_for(body, msg_id=f"msg_{i}", ts=TS + (i % 7) * 100)
        kind = i % 6
        if kind == 1:
            item["webhook-signature"] = reference_sig(f"msg_{i}", TS, b"nope")
        elif kind == 2:
            del item["webhook-id"]
        elif kind == 3:
            payloads.append(memoryview(body))
            headers.append(item)
            continue
        elif kind == 4:
            item["webhook-timestamp"] = "not-a-number"
        payloads.append(body)
        headers.append(item)
    results = WH.verify_many(payloads, headers, now=NOW)
    assert len(results) == 5000
    singles = [
        outcome(lambda p=p, h=h: WH.verify(p, h, now=NOW)) is None
        for p, h in zip(payloads, headers, strict=True)
    ]
    assert results == singles
    assert 0 < results.count(True) < 5000


def test_verify_many_large_batch_bad_item_late_in_the_batch() -> None:
    payloads: list[Any] = [(i.to_bytes(4, "big") * 256)[:1024] for i in range(3000)]
    headers: list[Any] = [headers_for(p, msg_id=f"m{i}") for i, p in enumerate(payloads)]
    for index, bad in ((2999, 5), (2500, ["not-a-pair"])):
        broken = list(headers)
        broken[index] = bad
        with pytest.raises(TypeError):
            WH.verify_many(payloads, broken, now=NOW)
    broken_payloads = list(payloads)
    broken_payloads[2048] = None
    with pytest.raises(TypeError, match="payload"):
        WH.verify_many(broken_payloads, headers, now=NOW)
    headers[1234] = headers_for(b"other", msg_id="m1234")
    payloads[2345] = "surrogate \udc00"
    results = WH.verify_many(payloads, headers, now=NOW)
    assert results == [i not in (1234, 2345) for i in range(3000)]


# ------------------------------------------------------------------ regressions


def test_sign_and_verify_round_trip_at_i64_min() -> None:
    """``sign`` accepts -2**63 and writes "-9223372036854775808"; that fits in an i64.

    Regression: the parser once accumulated the magnitude as a positive i64 and reported
    Overflow (InvalidTimestampError) for -2**63.
    """
    ts = -(2**63)
    sig = WH.sign(MSG_ID, ts, BODY)
    assert sig == reference_sig(MSG_ID, ts, BODY)
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(ts), "webhook-signature": sig}
    assert WH.verify(BODY, headers, now=float(ts)) is None


def test_header_iterator_is_read_once() -> None:
    """Regression: each header was once looked up by iterating ``headers`` afresh, so an
    iterator of pairs was exhausted by the first lookups and headers listed earlier were
    reported missing."""
    pairs = list(headers_for().items())
    assert WH.verify(BODY, iter(pairs), now=NOW) is None
    pairs.reverse()
    assert WH.verify(BODY, pairs, now=NOW) is None
    assert WH.verify(BODY, iter(pairs), now=NOW) is None


def test_asgi_headers_as_two_item_lists() -> None:
    """Regression: ASGI allows ``[name, value]`` lists as pairs; they once raised TypeError."""
    raw = [[k.encode(), v.encode()] for k, v in headers_for().items()]
    assert WH.verify(BODY, raw, now=NOW) is None


def test_fractional_now_is_not_rounded_into_the_window() -> None:
    """Timestamp TS - 300 seen at now=TS + 0.5 is 300.5 s old, beyond a 300 s tolerance.

    Regression: ``now`` was once floored to whole seconds, so it was accepted.
    """
    with pytest.raises(TimestampOutOfToleranceError):
        WH.verify(BODY, headers_for(ts=TS - 300), tolerance=300, now=TS + 0.5)
