"""One table of malformed inputs and the exact answer each gets.

Targets:

* ``verify_linktor``: ``verify_linktor(payload, arg, SECRET)`` -> bool
* ``verify_linktor/secret``: ``verify_linktor(BODY, SIG, arg)`` -> bool
* ``verify_linktor_request``: ``verify_linktor_request(payload, arg, SECRET, now=NOW)`` -> bool
* ``StandardWebhook.verify``: ``WEBHOOK.verify(payload, arg, now=NOW)``; ``True`` means it
  returned ``None``, an exception class means exactly that class was raised
* ``StandardWebhook(secret)``: ``StandardWebhook(arg)`` then verify the good delivery
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from _support import hmac_hex, standard_signature

from relaywire.webhooks import (
    InvalidHeaderError,
    InvalidSecretError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingHeaderError,
    StandardWebhook,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
    verify_linktor,
    verify_linktor_request,
)

SECRET = "malformed-secret"
BODY = b'{"ok":true}'
RAW_BODY = b"\xff\xfe\x00\x80\xc3\x28 not utf-8"
NOW = 1_700_000_000
SIG = hmac_hex(SECRET, BODY)
RAW_SIG = hmac_hex(SECRET, RAW_BODY)

STD_KEY = b"standard key bytes"
STD_SECRET = "whsec_" + base64.b64encode(STD_KEY).decode()
WEBHOOK = StandardWebhook(STD_SECRET)
MSG_ID = "msg_1"


def std_sig(body: bytes = BODY, msg_id: str = MSG_ID, ts: int = NOW) -> str:
    return standard_signature(STD_KEY, msg_id, ts, body)


STD_SIG = std_sig()
DROP = object()
HUGE = "9" * 8193  # one byte over MAX_HEADER_BYTES


def lk(signature: Any = SIG, timestamp: Any = DROP) -> dict[str, Any]:
    """Linktor headers; DROP leaves a header out."""
    headers = {"X-Linktor-Signature": signature, "X-Linktor-Timestamp": timestamp}
    return {k: v for k, v in headers.items() if v is not DROP}


def std(msg_id: Any = MSG_ID, ts: Any = str(NOW), sig: Any = STD_SIG) -> dict[str, Any]:
    """Standard Webhooks headers; DROP leaves a header out."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig}
    return {k: v for k, v in headers.items() if v is not DROP}


VL = "verify_linktor"
VLS = "verify_linktor/secret"
VLR = "verify_linktor_request"
SV = "StandardWebhook.verify"
SS = "StandardWebhook(secret)"

# (target, payload, arg, expected)
MALFORMED = [
    # ---------------------------------------------------------------- verify_linktor
    pytest.param(VL, BODY, SIG, True, id="lk-control-valid"),
    pytest.param(VL, RAW_BODY, RAW_SIG, True, id="lk-non-utf8-body-verifies"),
    pytest.param(VL, RAW_BODY, SIG, False, id="lk-non-utf8-body-wrong-sig"),
    pytest.param(VL, "x\ud800", SIG, False, id="lk-str-body-lone-surrogate"),
    pytest.param(VL, BODY, "", False, id="lk-empty-signature"),
    pytest.param(VL, BODY, None, False, id="lk-none-signature"),
    pytest.param(VL, BODY, SIG.upper(), False, id="lk-uppercase-hex"),
    pytest.param(VL, BODY, "sha256=" + SIG, False, id="lk-sha256-prefix"),
    pytest.param(VL, BODY, " " + SIG, False, id="lk-leading-space"),
    pytest.param(VL, BODY, SIG + "\r\n", False, id="lk-trailing-crlf"),
    pytest.param(VL, BODY, SIG[:-1] + "ß", False, id="lk-non-ascii"),
    pytest.param(VL, BODY, "\u0660" * 64, False, id="lk-non-ascii-digits"),
    pytest.param(VL, BODY, SIG[:-1] + "\x00", False, id="lk-nul-byte"),
    pytest.param(VL, BODY, "\x00" * 64, False, id="lk-all-nul"),
    pytest.param(VL, BODY, SIG[:-1] + "\udfff", False, id="lk-lone-surrogate"),
    pytest.param(VL, BODY, b"\xff" * 64, False, id="lk-non-utf8-bytes"),
    pytest.param(VL, BODY, "!!!not hex!!!", False, id="lk-garbage"),
    pytest.param(VL, BODY, base64.b64encode(bytes.fromhex(SIG)).decode(), False, id="lk-base64"),
    pytest.param(VL, BODY, SIG * 200, False, id="lk-huge"),
    pytest.param(VL, BODY, 123, TypeError, id="lk-int-signature"),
    pytest.param(VL, 123, SIG, TypeError, id="lk-int-body"),
    pytest.param(VLS, BODY, "", False, id="lk-empty-secret"),
    pytest.param(VLS, BODY, b"", False, id="lk-empty-bytes-secret"),
    pytest.param(VLS, BODY, "s\ud800", False, id="lk-lone-surrogate-secret"),
    pytest.param(VLS, BODY, SECRET.upper(), False, id="lk-wrong-secret"),
    pytest.param(VLS, BODY, 1, TypeError, id="lk-int-secret"),
    # ---------------------------------------------------------------- verify_linktor_request
    pytest.param(VLR, BODY, lk(), True, id="lkr-control-no-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=str(NOW)), True, id="lkr-control-timestamp"),
    pytest.param(VLR, RAW_BODY, lk(RAW_SIG, str(NOW)), True, id="lkr-non-utf8-body"),
    pytest.param(VLR, "x\udc00", lk(), False, id="lkr-str-body-lone-surrogate"),
    pytest.param(VLR, BODY, {}, False, id="lkr-no-headers"),
    pytest.param(VLR, BODY, lk(DROP, str(NOW)), False, id="lkr-missing-signature"),
    pytest.param(VLR, BODY, lk(""), False, id="lkr-empty-signature"),
    pytest.param(VLR, BODY, lk(None), False, id="lkr-none-signature"),
    pytest.param(VLR, BODY, lk(123), False, id="lkr-int-signature"),
    pytest.param(VLR, BODY, lk(SIG.upper()), False, id="lkr-uppercase-hex"),
    pytest.param(VLR, BODY, lk("sha256=" + SIG), False, id="lkr-sha256-prefix"),
    pytest.param(VLR, BODY, lk(SIG + " "), False, id="lkr-whitespace"),
    pytest.param(VLR, BODY, lk(SIG[:-1] + "é"), False, id="lkr-non-ascii-signature"),
    pytest.param(VLR, BODY, lk(SIG[:-1] + "\x00"), False, id="lkr-nul-signature"),
    pytest.param(VLR, BODY, lk(SIG[:-1] + "\ud800"), False, id="lkr-lone-surrogate-sig"),
    pytest.param(VLR, BODY, lk(SIG + " " * 8200), False, id="lkr-huge-signature"),
    pytest.param(VLR, BODY, lk(timestamp=""), True, id="lkr-empty-timestamp-is-absent"),
    pytest.param(VLR, BODY, lk(timestamp=None), True, id="lkr-none-timestamp-is-absent"),
    pytest.param(VLR, BODY, lk(timestamp=NOW), False, id="lkr-int-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp="abc"), False, id="lkr-non-numeric-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=f"{NOW}.5"), False, id="lkr-float-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp="9" * 30), False, id="lkr-overflow-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=f"-{NOW}"), False, id="lkr-negative-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=f" +{NOW}\t"), True, id="lkr-int()-style-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=f"{NOW:_}"), False, id="lkr-underscore-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=HUGE), False, id="lkr-huge-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=b"\xff\xfe"), False, id="lkr-non-utf8-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp="1\ud800"), False, id="lkr-surrogate-timestamp"),
    pytest.param(VLR, BODY, lk(timestamp=str(NOW - 301)), False, id="lkr-stale-timestamp"),
    # ---------------------------------------------------------------- StandardWebhook.verify
    pytest.param(SV, BODY, std(), True, id="std-control-valid"),
    pytest.param(SV, RAW_BODY, std(sig=std_sig(RAW_BODY)), True, id="std-non-utf8-body"),
    pytest.param(SV, "x\ud800", std(), WebhookVerificationError, id="std-str-body-surrogate"),
    pytest.param(SV, BODY, {}, MissingHeaderError, id="std-no-headers"),
    pytest.param(SV, BODY, std(msg_id=DROP), MissingHeaderError, id="std-missing-id"),
    pytest.param(SV, BODY, std(ts=DROP), MissingHeaderError, id="std-missing-timestamp"),
    pytest.param(SV, BODY, std(sig=DROP), MissingHeaderError, id="std-missing-signature"),
    pytest.param(SV, BODY, std(msg_id=""), MissingHeaderError, id="std-empty-id"),
    pytest.param(SV, BODY, std(ts=""), MissingHeaderError, id="std-empty-timestamp"),
    pytest.param(SV, BODY, std(sig=b""), MissingHeaderError, id="std-empty-signature"),
    pytest.param(SV, BODY, std(msg_id=None), MissingHeaderError, id="std-none-id"),
    pytest.param(SV, BODY, std(msg_id=7), InvalidHeaderError, id="std-int-id"),
    pytest.param(SV, BODY, std(ts=NOW), InvalidHeaderError, id="std-int-timestamp"),
    pytest.param(SV, BODY, std(sig=1.0), InvalidHeaderError, id="std-float-signature"),
    pytest.param(SV, BODY, std(msg_id="m\ud800"), InvalidHeaderError, id="std-surrogate-id"),
    pytest.param(SV, BODY, std(msg_id=HUGE), InvalidHeaderError, id="std-huge-id"),
    pytest.param(SV, BODY, std(ts=HUGE), InvalidHeaderError, id="std-huge-timestamp"),
    pytest.param(SV, BODY, std(sig=STD_SIG + " " + HUGE), InvalidHeaderError, id="std-huge-sig"),
    pytest.param(SV, BODY, std(ts="abc"), InvalidTimestampError, id="std-non-numeric-ts"),
    pytest.param(SV, BODY, std(ts=f"{NOW}.5"), InvalidTimestampError, id="std-float-ts"),
    pytest.param(SV, BODY, std(ts="1614265330.5"), InvalidTimestampError, id="std-float-ts-2"),
    pytest.param(SV, BODY, std(ts="9" * 30), InvalidTimestampError, id="std-overflow-ts"),
    pytest.param(SV, BODY, std(ts=f"+{NOW}"), InvalidTimestampError, id="std-plus-ts"),
    pytest.param(SV, BODY, std(ts=f" {NOW}"), InvalidTimestampError, id="std-space-ts"),
    pytest.param(SV, BODY, std(ts=b"\xff"), InvalidTimestampError, id="std-non-utf8-ts"),
    pytest.param(SV, BODY, std(ts=f"-{NOW}"), TimestampOutOfToleranceError, id="std-negative-ts"),
    pytest.param(SV, BODY, std(ts=str(NOW + 301)), TimestampOutOfToleranceError, id="std-future"),
    pytest.param(SV, BODY, std(sig="v1,!!!notbase64!!!"), InvalidSignatureError, id="std-bad-b64"),
    pytest.param(SV, BODY, std(sig=STD_SIG.rstrip("=")), InvalidSignatureError, id="std-unpadded"),
    pytest.param(SV, BODY, std(sig=STD_SIG[3:]), InvalidSignatureError, id="std-no-version"),
    pytest.param(SV, BODY, std(sig="sha256=" + SIG), InvalidSignatureError, id="std-sha256-prefix"),
    pytest.param(SV, BODY, std(sig=STD_SIG.upper()), InvalidSignatureError, id="std-uppercase"),
    pytest.param(SV, BODY, std(sig=STD_SIG + "\n"), InvalidSignatureError, id="std-newline"),
    pytest.param(SV, BODY, std(sig=" " + STD_SIG), True, id="std-leading-space-list"),
    pytest.param(SV, BODY, std(sig=STD_SIG[:-2] + "ü="), InvalidSignatureError, id="std-non-ascii"),
    pytest.param(SV, BODY, std(sig=STD_SIG[:-1] + "\x00"), InvalidSignatureError, id="std-nul"),
    pytest.param(SV, BODY, std(sig=b"v1,\xff\xfe"), InvalidSignatureError, id="std-non-utf8-sig"),
    pytest.param(SV, BODY, std(msg_id="msg_2"), InvalidSignatureError, id="std-other-id"),
    pytest.param(SV, 5, std(), TypeError, id="std-int-body"),
    # ---------------------------------------------------------------- StandardWebhook(secret)
    pytest.param(SS, BODY, STD_SECRET, True, id="secret-control"),
    pytest.param(SS, BODY, STD_KEY, True, id="secret-raw-bytes"),
    pytest.param(SS, BODY, "whsec_!!!!", InvalidSecretError, id="secret-bad-base64"),
    pytest.param(SS, BODY, "whsec_abcde", InvalidSecretError, id="secret-bad-length"),
    pytest.param(SS, BODY, "whsec_", InvalidSecretError, id="secret-prefix-only"),
    pytest.param(SS, BODY, "", InvalidSecretError, id="secret-empty"),
    pytest.param(SS, BODY, b"", InvalidSecretError, id="secret-empty-bytes"),
    pytest.param(SS, BODY, "whsec_\udc00", InvalidSecretError, id="secret-lone-surrogate"),
    pytest.param(SS, BODY, None, TypeError, id="secret-none"),
]

LEAKS = (UnicodeDecodeError, UnicodeEncodeError, ValueError, TypeError, KeyError)


def run(target: str, payload: Any, arg: Any) -> Any:
    if target == VL:
        return verify_linktor(payload, arg, SECRET)
    if target == VLS:
        return verify_linktor(payload, SIG, arg)
    if target == VLR:
        return verify_linktor_request(payload, arg, SECRET, now=NOW)
    if target == SV:
        assert WEBHOOK.verify(payload, arg, now=NOW) is None
        assert WEBHOOK.verify_many([payload], [arg], now=NOW) == [True]
        return True
    if target == SS:
        assert StandardWebhook(arg).verify(payload, std(), now=NOW) is None
        return True
    raise AssertionError(target)


def is_malformed_type(target: str, payload: Any, arg: Any) -> bool:
    """Rows that pass a wrong *type* of argument (not a malformed value) may raise TypeError."""
    if not isinstance(payload, (bytes, str)):
        return True
    if target == VL:  # the signature may be None
        return not isinstance(arg, (bytes, str, type(None)))
    if target in (VLS, SS):  # a secret must be text or bytes
        return not isinstance(arg, (bytes, str))
    return False


@pytest.mark.parametrize(("target", "payload", "arg", "expected"), MALFORMED)
def test_malformed_input(target: str, payload: Any, arg: Any, expected: Any) -> None:
    if isinstance(expected, type) and issubclass(expected, BaseException):
        with pytest.raises(expected) as info:
            run(target, payload, arg)
        assert type(info.value) is expected, f"raised {type(info.value).__name__}"
        if expected is TypeError:
            assert is_malformed_type(target, payload, arg)
        return
    try:
        result = run(target, payload, arg)
    except LEAKS as exc:
        pytest.fail(f"{type(exc).__name__} leaked for a malformed value: {exc}")
    assert result is expected


STANDARD_ROWS = [p for p in MALFORMED if p.values[0] == SV and p.values[3] is not TypeError]


@pytest.mark.parametrize(("target", "payload", "arg", "expected"), STANDARD_ROWS)
def test_standard_batch_agrees_with_single(
    target: str, payload: Any, arg: Any, expected: Any
) -> None:
    """verify_many answers False exactly where verify raises a WebhookVerificationError."""
    assert target == SV
    result = WEBHOOK.verify_many([BODY, payload, BODY], [std(), arg, std()], now=NOW)
    assert result == [True, expected is True, True]


def test_table_covers_every_target_and_outcome() -> None:
    rows = [p.values for p in MALFORMED]
    ids = [p.id for p in MALFORMED]
    assert len(ids) == len(set(ids))
    assert {row[0] for row in rows} == {VL, VLS, VLR, SV, SS}
    outcomes = {row[3] for row in rows if isinstance(row[3], type)}
    assert outcomes >= {
        WebhookVerificationError,
        MissingHeaderError,
        InvalidHeaderError,
        InvalidTimestampError,
        TimestampOutOfToleranceError,
        InvalidSignatureError,
        InvalidSecretError,
    }
