"""One table of malformed inputs and the exact answer each gets.

Targets:

* ``verify_linktor``: ``verify_linktor(payload, arg, SECRET)`` -> bool
* ``verify_linktor/secret``: ``verify_linktor(BODY, SIG, arg)`` -> bool
* ``verify_linktor_request``: ``verify_linktor_request(payload, arg, SECRET, now=NOW)`` -> bool
* ``StandardWebhook.verify``: ``WEBHOOK.verify(payload, arg, now=NOW)``; ``True`` means it
  returned ``None``, an exception class means exactly that class was raised
* ``StandardWebhook(secret)``: ``StandardWebhook(arg)`` then verify the good delivery
* ``<Provider>.verify`` (Stripe, GitHub, Shopify, Slack, Twilio, Meta, Linear, Discord) and
  ``StandardWebhook.verify/v1a``: ``PROVIDERS[target].verify(payload, arg, ...)`` at ``NOW``
  (Twilio with its URL), checked against ``verify_many`` as ``StandardWebhook.verify`` is
* ``<provider>(secret)``: ``cls(secret)`` for ``arg = (cls, secret)``
* ``Meta.answer_challenge``: ``Meta.answer_challenge(arg, "verify-token")``
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from _schemes import (
    DISCORD_KEY,
    TWILIO_URL,
    discord_signature,
    hmac_b64,
    hub_signature,
    linear_body,
    public_bytes,
    slack_signature,
    stripe_header,
    twilio_signature,
    v1a_signature,
    whpk,
)
from _support import hmac_hex, standard_signature

from relaywire.webhooks import (
    ChallengeError,
    Discord,
    GitHub,
    InvalidHeaderError,
    InvalidSecretError,
    InvalidSignatureError,
    InvalidTimestampError,
    Linear,
    Meta,
    MissingHeaderError,
    Shopify,
    Slack,
    StandardWebhook,
    Stripe,
    TimestampOutOfToleranceError,
    Twilio,
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


# ------------------------------------------------------------------ provider deliveries

ST, GH, SH, SL, TW, ME, LI, DI, SA = (
    "Stripe.verify",
    "GitHub.verify",
    "Shopify.verify",
    "Slack.verify",
    "Twilio.verify",
    "Meta.verify",
    "Linear.verify",
    "Discord.verify",
    "StandardWebhook.verify/v1a",
)
PS = "provider(secret)"
MC = "Meta.answer_challenge"

PROVIDERS: dict[str, Any] = {
    ST: Stripe("whsec_malformed"),
    GH: GitHub("gh-malformed"),
    SH: Shopify("shopify-malformed"),
    SL: Slack("slack-malformed"),
    TW: Twilio("twilio-malformed"),
    ME: Meta("meta-malformed"),
    LI: Linear("linear-malformed"),
    DI: Discord(public_bytes(DISCORD_KEY).hex()),
    SA: StandardWebhook(whpk(DISCORD_KEY)),
}
FORM = b"From=%2B15550001&Body=hello+there"
LINEAR_BODY = linear_body(NOW)
LINEAR_SIG = hmac_hex("linear-malformed", LINEAR_BODY)
STRIPE_SIG = hmac_hex("whsec_malformed", f"{NOW}.".encode() + BODY)
HUB_SIG = hub_signature("gh-malformed", BODY)
SHOPIFY_SIG = hmac_b64("shopify-malformed", BODY)
TWILIO_SIG = twilio_signature("twilio-malformed", TWILIO_URL, FORM)
DISCORD_SIG = discord_signature(DISCORD_KEY, str(NOW), BODY)
V1A_SIG = v1a_signature(DISCORD_KEY, MSG_ID, NOW, BODY)


def st(header: Any = f"t={NOW},v1={STRIPE_SIG}") -> dict[str, Any]:
    return {} if header is DROP else {"Stripe-Signature": header}


def sl(sig: Any = DROP, ts: Any = str(NOW), body: bytes = BODY) -> dict[str, Any]:
    sig = slack_signature("slack-malformed", str(ts), body) if sig is DROP else sig
    return {"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}


def di(sig: Any = DISCORD_SIG, ts: Any = str(NOW)) -> dict[str, Any]:
    headers = {"X-Signature-Ed25519": sig, "X-Signature-Timestamp": ts}
    return {k: v for k, v in headers.items() if v is not DROP}


def one(name: str, value: Any) -> dict[str, Any]:
    return {} if value is DROP else {name: value}


MALFORMED += [
    # ---------------------------------------------------------------- Stripe
    pytest.param(ST, BODY, st(), True, id="stripe-control"),
    pytest.param(
        ST,
        RAW_BODY,
        st(stripe_header("whsec_malformed", NOW, RAW_BODY)),
        True,
        id="stripe-non-utf8-body",
    ),
    pytest.param(ST, "x\ud800", st(), WebhookVerificationError, id="stripe-str-body-surrogate"),
    pytest.param(ST, BODY, {}, MissingHeaderError, id="stripe-no-header"),
    pytest.param(ST, BODY, st(""), MissingHeaderError, id="stripe-empty-header"),
    pytest.param(ST, BODY, st(7), InvalidHeaderError, id="stripe-int-header"),
    pytest.param(ST, BODY, st(HUGE), InvalidHeaderError, id="stripe-huge-header"),
    pytest.param(ST, BODY, st(f"v1={STRIPE_SIG}"), InvalidHeaderError, id="stripe-no-t"),
    pytest.param(ST, BODY, st(",,,,"), InvalidHeaderError, id="stripe-only-commas"),
    pytest.param(
        ST, BODY, st(f"t,v1={STRIPE_SIG}"), InvalidHeaderError, id="stripe-t-without-value"
    ),
    pytest.param(
        ST, BODY, st(f"t=abc,v1={STRIPE_SIG}"), InvalidTimestampError, id="stripe-t-letters"
    ),
    pytest.param(
        ST, BODY, st(f"t={NOW}.5,v1={STRIPE_SIG}"), InvalidTimestampError, id="stripe-t-float"
    ),
    pytest.param(
        ST, BODY, st(f"t={'9' * 30},v1={STRIPE_SIG}"), InvalidTimestampError, id="stripe-t-overflow"
    ),
    pytest.param(ST, BODY, st(b"t=\xff,v1=00"), InvalidTimestampError, id="stripe-t-non-utf8"),
    pytest.param(
        ST,
        BODY,
        st(stripe_header("whsec_malformed", NOW + 301, BODY)),
        TimestampOutOfToleranceError,
        id="stripe-future",
    ),
    pytest.param(ST, BODY, st(f"t={NOW}"), InvalidSignatureError, id="stripe-no-v1"),
    pytest.param(
        ST, BODY, st(f"t={NOW},v0={STRIPE_SIG}"), InvalidSignatureError, id="stripe-only-v0"
    ),
    pytest.param(
        ST,
        BODY,
        st(f"t={NOW},v1={STRIPE_SIG.upper()}"),
        InvalidSignatureError,
        id="stripe-uppercase",
    ),
    pytest.param(
        ST, BODY, st(f"t={NOW},v1={STRIPE_SIG[:-1]}é"), InvalidSignatureError, id="stripe-non-ascii"
    ),
    pytest.param(
        ST, BODY, st(f"t={NOW},v1={STRIPE_SIG[:-1]}\x00"), InvalidSignatureError, id="stripe-nul"
    ),
    pytest.param(
        ST, BODY, st(f"t={NOW},v1=={STRIPE_SIG}"), InvalidSignatureError, id="stripe-double-equals"
    ),
    pytest.param(ST, 5, st(), TypeError, id="stripe-int-body"),
    # ---------------------------------------------------------------- GitHub
    pytest.param(GH, BODY, one("X-Hub-Signature-256", HUB_SIG), True, id="github-control"),
    pytest.param(
        GH,
        BODY,
        one("X-Hub-Signature-256", HUB_SIG.upper().replace("SHA256", "sha256")),
        True,
        id="github-uppercase-hex",
    ),
    pytest.param(
        GH,
        RAW_BODY,
        one("X-Hub-Signature-256", hub_signature("gh-malformed", RAW_BODY)),
        True,
        id="github-non-utf8-body",
    ),
    pytest.param(
        GH,
        "x\ud800",
        one("X-Hub-Signature-256", HUB_SIG),
        WebhookVerificationError,
        id="github-surrogate-body",
    ),
    pytest.param(GH, BODY, {}, MissingHeaderError, id="github-no-header"),
    pytest.param(
        GH,
        BODY,
        one("X-Hub-Signature", "sha1=" + "0" * 40),
        MissingHeaderError,
        id="github-sha1-header-only",
    ),
    pytest.param(GH, BODY, one("X-Hub-Signature-256", ""), MissingHeaderError, id="github-empty"),
    pytest.param(
        GH,
        BODY,
        one("X-Hub-Signature-256", HUB_SIG[7:]),
        InvalidSignatureError,
        id="github-no-prefix",
    ),
    pytest.param(
        GH,
        BODY,
        one("X-Hub-Signature-256", "SHA256=" + HUB_SIG[7:]),
        InvalidSignatureError,
        id="github-prefix-case",
    ),
    pytest.param(
        GH,
        BODY,
        one("X-Hub-Signature-256", HUB_SIG[:-2]),
        InvalidSignatureError,
        id="github-truncated",
    ),
    pytest.param(
        GH,
        BODY,
        one("X-Hub-Signature-256", HUB_SIG[:-1] + "g"),
        InvalidSignatureError,
        id="github-bad-hex",
    ),
    pytest.param(
        GH,
        BODY,
        one("X-Hub-Signature-256", b"sha256=\xff" * 9),
        InvalidSignatureError,
        id="github-non-utf8",
    ),
    pytest.param(
        GH, BODY, one("X-Hub-Signature-256", 1.5), InvalidHeaderError, id="github-float-header"
    ),
    pytest.param(GH, BODY, one("X-Hub-Signature-256", HUGE), InvalidHeaderError, id="github-huge"),
    # ---------------------------------------------------------------- Shopify
    pytest.param(SH, BODY, one("X-Shopify-Hmac-Sha256", SHOPIFY_SIG), True, id="shopify-control"),
    pytest.param(
        SH, BODY, one("X-Shopify-Hmac-Sha256", SHOPIFY_SIG.rstrip("=")), True, id="shopify-unpadded"
    ),
    pytest.param(
        SH,
        BODY,
        one("X-Shopify-Hmac-Sha256", SHOPIFY_SIG + "="),
        InvalidSignatureError,
        id="shopify-overpadded",
    ),
    pytest.param(
        SH,
        BODY,
        one("X-Shopify-Hmac-Sha256", hmac_hex("shopify-malformed", BODY)),
        InvalidSignatureError,
        id="shopify-hex",
    ),
    pytest.param(
        SH,
        BODY,
        one("X-Shopify-Hmac-Sha256", SHOPIFY_SIG.replace("+", "-").replace("/", "_")),
        InvalidSignatureError,
        id="shopify-urlsafe",
    ),
    pytest.param(
        SH, BODY, one("X-Shopify-Hmac-Sha256", "!!!!"), InvalidSignatureError, id="shopify-garbage"
    ),
    pytest.param(
        SH,
        BODY,
        one("X-Shopify-Hmac-Sha256", base64.b64encode(b"short").decode()),
        InvalidSignatureError,
        id="shopify-short-tag",
    ),
    pytest.param(
        SH, BODY, one("X-Shopify-Hmac-Sha256", DROP), MissingHeaderError, id="shopify-missing"
    ),
    # ---------------------------------------------------------------- Slack
    pytest.param(SL, BODY, sl(), True, id="slack-control"),
    pytest.param(SL, RAW_BODY, sl(body=RAW_BODY), True, id="slack-non-utf8-body"),
    pytest.param(
        SL,
        BODY,
        {"X-Slack-Request-Timestamp": str(NOW)},
        MissingHeaderError,
        id="slack-no-signature",
    ),
    pytest.param(
        SL, BODY, {"X-Slack-Signature": "v0=00"}, MissingHeaderError, id="slack-no-timestamp"
    ),
    pytest.param(SL, BODY, sl(ts="abc"), InvalidTimestampError, id="slack-letters-ts"),
    pytest.param(SL, BODY, sl(ts=f" {NOW}"), InvalidTimestampError, id="slack-space-ts"),
    pytest.param(SL, BODY, sl(ts=NOW), InvalidHeaderError, id="slack-int-ts"),
    pytest.param(SL, BODY, sl(ts=str(NOW - 301)), TimestampOutOfToleranceError, id="slack-stale"),
    pytest.param(
        SL,
        BODY,
        sl(sig=slack_signature("slack-malformed", str(NOW), BODY)[3:]),
        InvalidSignatureError,
        id="slack-no-version",
    ),
    pytest.param(
        SL,
        BODY,
        sl(sig="v1=" + slack_signature("slack-malformed", str(NOW), BODY)[3:]),
        InvalidSignatureError,
        id="slack-v1",
    ),
    pytest.param(
        SL,
        BODY,
        sl(sig=slack_signature("slack-malformed", str(NOW), BODY).upper()),
        InvalidSignatureError,
        id="slack-uppercase",
    ),
    pytest.param(SL, BODY, sl(sig="v0=" + "é" * 64), InvalidSignatureError, id="slack-non-ascii"),
    # ---------------------------------------------------------------- Twilio
    pytest.param(TW, FORM, one("X-Twilio-Signature", TWILIO_SIG), True, id="twilio-control"),
    pytest.param(
        TW,
        FORM + b"&Extra=",
        one("X-Twilio-Signature", TWILIO_SIG),
        InvalidSignatureError,
        id="twilio-extra-param",
    ),
    pytest.param(
        TW,
        RAW_BODY,
        one("X-Twilio-Signature", TWILIO_SIG),
        InvalidSignatureError,
        id="twilio-non-form-body",
    ),
    pytest.param(
        TW, FORM, one("X-Twilio-Signature", DROP), MissingHeaderError, id="twilio-missing"
    ),
    pytest.param(
        TW,
        FORM,
        one("X-Twilio-Signature", "not base64!"),
        InvalidSignatureError,
        id="twilio-garbage",
    ),
    pytest.param(
        TW,
        FORM,
        one("X-Twilio-Signature", base64.b64encode(bytes(32)).decode()),
        InvalidSignatureError,
        id="twilio-sha256-length",
    ),
    pytest.param(
        TW,
        FORM,
        one("X-Twilio-Signature", TWILIO_SIG.lower()),
        InvalidSignatureError,
        id="twilio-case",
    ),
    pytest.param(
        TW, FORM, one("X-Twilio-Signature", ["x"]), InvalidHeaderError, id="twilio-list-header"
    ),
    pytest.param(
        TW,
        "x\ud800",
        one("X-Twilio-Signature", TWILIO_SIG),
        WebhookVerificationError,
        id="twilio-surrogate-body",
    ),
    # ---------------------------------------------------------------- Meta
    pytest.param(
        ME,
        BODY,
        one("X-Hub-Signature-256", hub_signature("meta-malformed", BODY)),
        True,
        id="meta-control",
    ),
    pytest.param(
        ME, BODY, one("X-Hub-Signature-256", HUB_SIG), InvalidSignatureError, id="meta-other-secret"
    ),
    pytest.param(ME, BODY, one("x-hub-signature-256", DROP), MissingHeaderError, id="meta-missing"),
    # ---------------------------------------------------------------- Linear
    pytest.param(LI, LINEAR_BODY, one("Linear-Signature", LINEAR_SIG), True, id="linear-control"),
    pytest.param(
        LI,
        LINEAR_BODY,
        one("Linear-Signature", LINEAR_SIG.upper()),
        True,
        id="linear-uppercase-hex",
    ),
    pytest.param(
        LI, LINEAR_BODY, one("Linear-Signature", DROP), MissingHeaderError, id="linear-missing"
    ),
    pytest.param(
        LI,
        LINEAR_BODY,
        one("Linear-Signature", "sha256=" + LINEAR_SIG),
        InvalidSignatureError,
        id="linear-prefixed",
    ),
    pytest.param(
        LI,
        LINEAR_BODY,
        one("Linear-Signature", LINEAR_SIG[:-1]),
        InvalidSignatureError,
        id="linear-odd-hex",
    ),
    pytest.param(
        LI,
        BODY,
        one("Linear-Signature", hmac_hex("linear-malformed", BODY)),
        InvalidTimestampError,
        id="linear-no-body-timestamp",
    ),
    pytest.param(
        LI,
        RAW_BODY,
        one("Linear-Signature", hmac_hex("linear-malformed", RAW_BODY)),
        InvalidTimestampError,
        id="linear-non-json-body",
    ),
    pytest.param(
        LI,
        linear_body(NOW - 61),
        one("Linear-Signature", hmac_hex("linear-malformed", linear_body(NOW - 61))),
        TimestampOutOfToleranceError,
        id="linear-stale",
    ),
    # ---------------------------------------------------------------- Discord
    pytest.param(DI, BODY, di(), True, id="discord-control"),
    pytest.param(DI, BODY, di(sig=DISCORD_SIG.upper()), True, id="discord-uppercase-hex"),
    pytest.param(DI, BODY, di(sig=DROP), MissingHeaderError, id="discord-no-signature"),
    pytest.param(DI, BODY, di(ts=DROP), MissingHeaderError, id="discord-no-timestamp"),
    pytest.param(DI, BODY, di(sig=DISCORD_SIG[:-2]), InvalidSignatureError, id="discord-short"),
    pytest.param(DI, BODY, di(sig=DISCORD_SIG + "00"), InvalidSignatureError, id="discord-long"),
    pytest.param(DI, BODY, di(sig="zz" * 64), InvalidSignatureError, id="discord-not-hex"),
    pytest.param(DI, BODY, di(sig="é" * 128), InvalidSignatureError, id="discord-non-ascii"),
    pytest.param(DI, BODY, di(sig="00" * 64), InvalidSignatureError, id="discord-zero-signature"),
    pytest.param(DI, BODY, di(sig="ff" * 64), InvalidSignatureError, id="discord-non-canonical-s"),
    pytest.param(DI, BODY, di(sig=b"\xff" * 128), InvalidSignatureError, id="discord-non-utf8"),
    pytest.param(DI, BODY, di(ts="abc"), InvalidTimestampError, id="discord-letters-ts"),
    pytest.param(
        DI, BODY, di(ts=str(NOW + 301)), TimestampOutOfToleranceError, id="discord-future"
    ),
    pytest.param(DI, BODY, di(ts=str(NOW + 1)), InvalidSignatureError, id="discord-other-ts"),
    pytest.param(DI, 5, di(), TypeError, id="discord-int-body"),
    # ---------------------------------------------------------------- Standard Webhooks v1a
    pytest.param(SA, BODY, std(sig=V1A_SIG), True, id="v1a-control"),
    pytest.param(SA, BODY, std(sig=STD_SIG + " " + V1A_SIG), True, id="v1a-after-v1"),
    pytest.param(SA, BODY, std(sig=STD_SIG), InvalidSignatureError, id="v1a-only-v1"),
    pytest.param(SA, BODY, std(sig="v1a,!!!!"), InvalidSignatureError, id="v1a-bad-base64"),
    pytest.param(
        SA,
        BODY,
        std(sig="v1a," + base64.b64encode(bytes(63)).decode()),
        InvalidSignatureError,
        id="v1a-short",
    ),
    pytest.param(SA, BODY, std(sig=V1A_SIG.rstrip("=")), True, id="v1a-unpadded"),
    pytest.param(
        SA,
        BODY,
        std(sig="v1a," + base64.b64encode(b"\xff" * 64).decode()),
        InvalidSignatureError,
        id="v1a-non-canonical",
    ),
    pytest.param(
        SA, BODY, std(sig="V1A" + V1A_SIG[3:]), InvalidSignatureError, id="v1a-uppercase-version"
    ),
    pytest.param(
        SA,
        BODY,
        std(sig=V1A_SIG[:10] + ("B" if V1A_SIG[10] != "B" else "C") + V1A_SIG[11:]),
        InvalidSignatureError,
        id="v1a-flipped",
    ),
    pytest.param(
        SA, BODY, std(ts=str(NOW + 1), sig=V1A_SIG), InvalidSignatureError, id="v1a-other-ts"
    ),
    # ---------------------------------------------------------------- secrets and keys
    pytest.param(PS, BODY, (Stripe, ""), InvalidSecretError, id="stripe-empty-secret"),
    pytest.param(PS, BODY, (Stripe, []), InvalidSecretError, id="stripe-no-secrets"),
    pytest.param(PS, BODY, (Stripe, ["ok", b""]), InvalidSecretError, id="stripe-one-empty-secret"),
    pytest.param(PS, BODY, (Stripe, None), TypeError, id="stripe-none-secret"),
    pytest.param(PS, BODY, (Slack, "\ud800"), InvalidSecretError, id="slack-surrogate-secret"),
    pytest.param(PS, BODY, (Twilio, b""), InvalidSecretError, id="twilio-empty-token"),
    pytest.param(PS, BODY, (GitHub, 5), TypeError, id="github-int-secret"),
    pytest.param(PS, BODY, (Discord, "zz" * 32), InvalidSecretError, id="discord-not-hex-key"),
    pytest.param(PS, BODY, (Discord, "00" * 32), InvalidSecretError, id="discord-weak-key"),
    pytest.param(PS, BODY, (Discord, b"\x01" * 33), InvalidSecretError, id="discord-long-key"),
    pytest.param(PS, BODY, (Discord, 5), TypeError, id="discord-int-key"),
    pytest.param(PS, BODY, (StandardWebhook, "whpk_AAAA"), InvalidSecretError, id="whpk-short"),
    pytest.param(
        PS,
        BODY,
        (StandardWebhook, "whsk_" + base64.b64encode(bytes(64)).decode()),
        InvalidSecretError,
        id="whsk-mismatched-pair",
    ),
    pytest.param(
        PS,
        BODY,
        (StandardWebhook, [STD_SECRET, "whpk_!"]),
        InvalidSecretError,
        id="key-list-one-bad",
    ),
    # ---------------------------------------------------------------- Meta handshake
    pytest.param(
        MC,
        BODY,
        "hub.mode=subscribe&hub.verify_token=verify-token&hub.challenge=42",
        True,
        id="challenge-control",
    ),
    pytest.param(
        MC,
        BODY,
        {"hub.mode": ["subscribe"], "hub.verify_token": ["verify-token"], "hub.challenge": ["42"]},
        True,
        id="challenge-parse-qs-lists",
    ),
    pytest.param(
        MC,
        BODY,
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=42",
        ChallengeError,
        id="challenge-wrong-token",
    ),
    pytest.param(
        MC,
        BODY,
        {"hub.mode": "subscribe", "hub.verify_token": "verify-token"},
        ChallengeError,
        id="challenge-missing",
    ),
    pytest.param(
        MC,
        BODY,
        {"hub.mode": "subscribe", "hub.verify_token": "verify-token", "hub.challenge": []},
        ChallengeError,
        id="challenge-empty-list",
    ),
    pytest.param(MC, BODY, "%%%", ChallengeError, id="challenge-garbage"),
    pytest.param(MC, BODY, {"hub.mode": 5}, TypeError, id="challenge-int-value"),
    pytest.param(MC, BODY, 5, TypeError, id="challenge-int-params"),
]

VERIFY_TARGETS = {SV, ST, GH, SH, SL, TW, ME, LI, DI, SA}

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
    if target in PROVIDERS:
        verifier = PROVIDERS[target]
        if target == TW:
            assert verifier.verify(payload, arg, url=TWILIO_URL) is None
            assert verifier.verify_many([payload], [arg], urls=[TWILIO_URL]) == [True]
        elif target in (GH, SH, ME):
            assert verifier.verify(payload, arg) is None
            assert verifier.verify_many([payload], [arg]) == [True]
        else:
            assert verifier.verify(payload, arg, now=NOW) is None
            assert verifier.verify_many([payload], [arg], now=NOW) == [True]
        return True
    if target == PS:
        cls, secret = arg
        assert cls(secret) is not None
        return True
    if target == MC:
        assert Meta.answer_challenge(arg, "verify-token") == "42"
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
    if target == PS:  # text, bytes, or a list of them
        secret = arg[1]
        items = secret if isinstance(secret, list) else [secret]
        return not all(isinstance(item, (bytes, str)) for item in items)
    if target == MC:  # a query string, or a mapping whose values are text (or lists of it)
        if isinstance(arg, (str, bytes)):
            return False
        values = arg.values() if isinstance(arg, dict) else [None]
        return not all(isinstance(v, (str, bytes, list)) for v in values)
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


PROVIDER_ROWS = [p for p in MALFORMED if p.values[0] in PROVIDERS and p.values[3] is not TypeError]


@pytest.mark.parametrize(("target", "payload", "arg", "expected"), PROVIDER_ROWS)
def test_provider_batch_agrees_with_single(
    target: str, payload: Any, arg: Any, expected: Any
) -> None:
    """verify_each returns exactly the exception verify raises (and verify_many its absence)."""
    verifier = PROVIDERS[target]
    control = next(p.values for p in MALFORMED if p.values[0] == target and p.values[3] is True)
    payloads = [control[1], payload, control[1]]
    headers = [control[2], arg, control[2]]
    if target == TW:
        options: dict[str, Any] = {"urls": [TWILIO_URL] * 3}
    elif target in (GH, SH, ME):
        options = {}
    else:
        options = {"now": NOW}
    assert verifier.verify_many(payloads, headers, **options) == [True, expected is True, True]
    errors = verifier.verify_each(payloads, headers, **options)
    found = [None if e is None else type(e) for e in errors]
    assert found == [None, None if expected is True else expected, None]


def test_table_covers_every_target_and_outcome() -> None:
    rows = [p.values for p in MALFORMED]
    ids = [p.id for p in MALFORMED]
    assert len(ids) == len(set(ids))
    assert {row[0] for row in rows} == {VL, VLS, VLR, SV, SS, PS, MC} | VERIFY_TARGETS
    outcomes = {row[3] for row in rows if isinstance(row[3], type)}
    assert outcomes >= {
        ChallengeError,
        WebhookVerificationError,
        MissingHeaderError,
        InvalidHeaderError,
        InvalidTimestampError,
        TimestampOutOfToleranceError,
        InvalidSignatureError,
        InvalidSecretError,
    }
