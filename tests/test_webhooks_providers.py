"""The provider schemes: Stripe, GitHub, Shopify, Slack, Twilio, Meta, Linear and Discord.

The first half drives every scheme through the same checks (see ``_schemes.CASES``); the second
half holds each provider's own rules, its published example where the provider documents one,
and a cross-check against the provider's own Python library where it installs from PyPI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe
from _schemes import (
    CASE_IDS,
    CASES,
    DISCORD_KEY,
    TWILIO_URL,
    Case,
    discord_signature,
    ed25519_key,
    hmac_b64,
    hmac_hex,
    hub_signature,
    linear_body,
    public_bytes,
    slack_signature,
    stripe_header,
    twilio_signature,
)
from _support import TOLERANCE_ROWS, body_variants, header_kinds, outcome
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

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
)

NOW = 1_700_000_000

# ------------------------------------------------------------------ every scheme alike


def delivery(case: Case, ts: int = NOW, extra: bytes = b"x") -> tuple[bytes, dict[str, str]]:
    body = case.body(ts, extra)
    return body, case.sign(body, ts)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_signature_verifies_in_every_container_and_body_type(case: Case) -> None:
    verifier = case.verifier()
    body, headers = delivery(case)
    for kind in header_kinds(headers):
        for variant in body_variants(body):
            assert verifier.verify(variant, kind, **case.options(NOW)) is None


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_tampered_body_is_rejected(case: Case) -> None:
    verifier = case.verifier()
    body, headers = delivery(case)
    other = case.body(NOW, b"y")
    assert other != body
    with pytest.raises(InvalidSignatureError):
        verifier.verify(other, headers, **case.options(NOW))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_each_missing_or_empty_header_is_named(case: Case) -> None:
    verifier = case.verifier()
    body, headers = delivery(case)
    for name in headers:
        for value in (None, "", b"", "<absent>"):
            broken: dict[str, Any] = dict(headers)
            if value == "<absent>":
                del broken[name]
            else:
                broken[name] = value
            with pytest.raises(MissingHeaderError, match=name.lower()):
                verifier.verify(body, broken, **case.options(NOW))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_unusable_header_values(case: Case) -> None:
    verifier = case.verifier()
    body, headers = delivery(case)
    name = next(iter(headers))
    for value in (5, 1.5, ["x"], "x\ud800", "9" * 8193):
        with pytest.raises(InvalidHeaderError, match=name.lower()):
            verifier.verify(body, {**headers, name: value}, **case.options(NOW))


@pytest.mark.parametrize("case", [c for c in CASES if c.timed], ids=lambda c: c.name)
@pytest.mark.parametrize(("offset", "tolerance", "within"), TOLERANCE_ROWS)
def test_tolerance_both_ways(case: Case, offset: int, tolerance: float, within: bool) -> None:
    verifier = case.verifier()
    body, headers = delivery(case, ts=NOW + offset)
    expected = None if within else TimestampOutOfToleranceError
    found = outcome(lambda: verifier.verify(body, headers, tolerance=tolerance, now=NOW))
    assert found is expected


@pytest.mark.parametrize("case", [c for c in CASES if c.timed], ids=lambda c: c.name)
def test_default_tolerance_and_none(case: Case) -> None:
    verifier = case.verifier()
    assert case.default_tolerance is not None
    limit = int(case.default_tolerance)
    body, headers = delivery(case, ts=NOW - limit)
    assert verifier.verify(body, headers, now=NOW) is None
    body, headers = delivery(case, ts=NOW - limit - 1)
    with pytest.raises(TimestampOutOfToleranceError, match="old"):
        verifier.verify(body, headers, now=NOW)
    body, headers = delivery(case, ts=NOW + limit + 1)
    with pytest.raises(TimestampOutOfToleranceError, match="new"):
        verifier.verify(body, headers, now=NOW)
    # tolerance=None: no timestamp check at all, a year off or not.
    body, headers = delivery(case, ts=NOW - 365 * 86400)
    assert verifier.verify(body, headers, now=NOW, tolerance=None) is None
    assert verifier.verify_many([body], [headers], now=NOW, tolerance=None) == [True]
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tolerance"):
            verifier.verify(body, headers, now=NOW, tolerance=bad)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_batch_answers_equal_single_answers(case: Case) -> None:
    verifier = case.verifier()
    payloads: list[Any] = []
    headers_list: list[Any] = []
    for i in range(300):
        body, headers = delivery(case, ts=NOW - (i % 3) * 40, extra=str(i).encode())
        kind = i % 7
        if kind == 1:
            body = case.body(NOW, b"tampered")
        elif kind == 2:
            headers = {k: v for k, v in list(headers.items())[1:]}
        elif kind == 3:
            headers = {**headers, next(iter(headers)): 12}
        elif kind == 4:
            body = "surrogate \udc00"  # type: ignore[assignment]
        elif kind == 5:
            body = memoryview(body)  # type: ignore[assignment]
        payloads.append(body)
        headers_list.append(headers)
    options = case.options(NOW)
    singles = [
        outcome(lambda p=p, h=h: verifier.verify(p, h, **options))
        for p, h in zip(payloads, headers_list, strict=True)
    ]
    batch = case.batch(NOW, len(payloads))
    assert verifier.verify_many(payloads, headers_list, **batch) == [s is None for s in singles]
    errors = verifier.verify_each(payloads, headers_list, **batch)
    assert [None if e is None else type(e) for e in errors] == singles
    assert all(e is None or isinstance(e, WebhookVerificationError) for e in errors)
    assert 0 < singles.count(None) < len(singles)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_batch_length_mismatch_and_types(case: Case) -> None:
    verifier = case.verifier()
    body, headers = delivery(case)
    with pytest.raises(ValueError, match="verify_many"):
        verifier.verify_many([body, body], [headers], **case.batch(NOW, 2))
    with pytest.raises(TypeError):
        verifier.verify_many([5], [headers], **case.batch(NOW, 1))
    with pytest.raises(TypeError):
        verifier.verify_many([body], [5], **case.batch(NOW, 1))
    assert verifier.verify_many([], [], **case.batch(NOW, 0)) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.timed], ids=lambda c: c.name)
def test_batch_now_per_delivery(case: Case) -> None:
    verifier = case.verifier()
    sent = [NOW - 10_000, NOW, NOW + 10_000]
    pairs = [delivery(case, ts=ts) for ts in sent]
    payloads = [body for body, _ in pairs]
    headers_list = [headers for _, headers in pairs]
    assert verifier.verify_many(payloads, headers_list, now=sent) == [True, True, True]
    assert verifier.verify_many(payloads, headers_list, now=NOW) == [False, True, False]
    with pytest.raises(ValueError, match="times"):
        verifier.verify_many(payloads, headers_list, now=[NOW])
    with pytest.raises(TypeError):
        verifier.verify_many(payloads, headers_list, now="soon")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_repr_hides_the_secret(case: Case) -> None:
    verifier = case.verifier()
    text = repr(verifier)
    assert "redacted" in text
    for secret in (
        "whsec_stripe_test",
        "gh-secret",
        "shpss_secret",
        "slack-signing-secret",
        "twilio-auth-token",
        "meta-app-secret",
        "lin_wh_secret",
        public_bytes(DISCORD_KEY).hex(),
    ):
        assert secret not in text
        assert secret[:8] not in text


@pytest.mark.parametrize("cls", [Stripe, GitHub, Shopify, Slack, Twilio, Meta, Linear])
def test_secrets_are_checked_when_built(cls: type[Any]) -> None:
    for bad in ("", b"", [], (), ["ok", ""], "\ud800"):
        with pytest.raises(InvalidSecretError):
            cls(bad)
    for wrong_type in (None, 5, bytearray(b"k"), {"k"}, ["ok", 5]):
        with pytest.raises(TypeError):
            cls(wrong_type)
    assert cls(b"raw \xff bytes") is not None
    assert cls(("a", "b")) is not None


@pytest.mark.parametrize(
    "case", [c for c in CASES[:8] if c.name != "Discord"], ids=lambda c: c.name
)
def test_rotation_accepts_either_secret(case: Case) -> None:
    body, headers = delivery(case)
    secret = {
        "Stripe": "whsec_stripe_test",
        "GitHub": "gh-secret",
        "Shopify": "shpss_secret",
        "Slack": "slack-signing-secret",
        "Twilio": "twilio-auth-token",
        "Meta": "meta-app-secret",
        "Linear": "lin_wh_secret",
    }[case.name]
    cls = type(case.verifier())
    assert cls(["a new secret", secret]).verify(body, headers, **case.options(NOW)) is None
    assert cls([secret, "a new secret"]).verify(body, headers, **case.options(NOW)) is None
    with pytest.raises(InvalidSignatureError):
        cls(["a new secret"]).verify(body, headers, **case.options(NOW))


# ------------------------------------------------------------------ Stripe

STRIPE_SECRET = "whsec_stripe_test"


def test_stripe_sign_matches_the_reference_and_lists_each_secret() -> None:
    body = b'{"id":"evt_1"}'
    assert Stripe(STRIPE_SECRET).sign(body, timestamp=NOW) == {
        "Stripe-Signature": stripe_header(STRIPE_SECRET, NOW, body)
    }
    rolled = Stripe([STRIPE_SECRET, "whsec_next"]).sign(body, timestamp=NOW)
    assert rolled == {"Stripe-Signature": stripe_header(STRIPE_SECRET, NOW, body, "whsec_next")}


def test_stripe_cross_check_with_the_stripe_library() -> None:
    ours = Stripe(STRIPE_SECRET)
    for body in (b"{}", b'{"id":"evt_1","data":{"object":{"amount":100}}}', "héllo ☃".encode()):
        header = ours.sign(body, timestamp=NOW)["Stripe-Signature"]
        assert stripe.WebhookSignature.verify_header(body, header, STRIPE_SECRET, tolerance=None)
        theirs = stripe.WebhookSignature.generate_signature_header(
            body.decode(), STRIPE_SECRET, timestamp=NOW
        )
        assert theirs == header
        assert ours.verify(body, {"Stripe-Signature": theirs}, now=NOW) is None
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.WebhookSignature.verify_header(
                body + b" ", header, STRIPE_SECRET, tolerance=None
            )


def test_stripe_several_v1_and_other_schemes() -> None:
    body = b'{"id":"evt_2"}'
    good = hmac_hex(STRIPE_SECRET, f"{NOW}.".encode() + body)
    wrong = hmac_hex("whsec_other", f"{NOW}.".encode() + body)
    ours = Stripe(STRIPE_SECRET)
    for header in (
        f"t={NOW},v1={wrong},v1={good}",
        f"t={NOW},v0={wrong},v1={good}",
        f"v1={good},t={NOW}",
    ):
        assert ours.verify(body, {"Stripe-Signature": header}, now=NOW) is None
    for header in (
        f"t={NOW},v0={good}",
        f"t={NOW},v1={good.upper()}",
        f"t={NOW}, v1={good}",
        f"t={NOW}",
    ):
        with pytest.raises(InvalidSignatureError):
            ours.verify(body, {"Stripe-Signature": header}, now=NOW)


def test_stripe_header_errors_name_the_cause() -> None:
    ours = Stripe(STRIPE_SECRET)
    with pytest.raises(InvalidHeaderError, match="t= timestamp"):
        ours.verify(b"{}", {"Stripe-Signature": "v1=abc"}, now=NOW)
    for t in ("abc", "1.5", "", "+1", "9" * 30):
        with pytest.raises(InvalidTimestampError, match="t= value"):
            ours.verify(b"{}", {"Stripe-Signature": f"t={t},v1=abc"}, now=NOW)


def test_stripe_rejects_future_timestamps_where_the_library_does_not() -> None:
    """stripe-python only refuses old timestamps; a tolerance applies both ways here."""
    body = b"{}"
    future = int(time.time()) + 3600
    header = stripe_header(STRIPE_SECRET, future, body)
    assert stripe.WebhookSignature.verify_header(body, header, STRIPE_SECRET, tolerance=300)
    with pytest.raises(TimestampOutOfToleranceError, match="new"):
        Stripe(STRIPE_SECRET).verify(body, {"Stripe-Signature": header})


def test_stripe_non_utf8_body_where_the_library_raises() -> None:
    body = b"\xff\xfe raw"
    header = stripe_header(STRIPE_SECRET, NOW, body)
    with pytest.raises(UnicodeDecodeError):
        stripe.WebhookSignature.verify_header(body, header, STRIPE_SECRET)
    assert Stripe(STRIPE_SECRET).verify(body, {"Stripe-Signature": header}, now=NOW) is None


# ------------------------------------------------------------------ GitHub, Shopify, Meta


def test_github_documented_example() -> None:
    # docs.github.com, "Validating webhook deliveries": secret, payload and signature.
    secret = "It's a Secret to Everybody"
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    github = GitHub(secret)
    assert github.sign(b"Hello, World!") == {"X-Hub-Signature-256": signature}
    assert github.verify(b"Hello, World!", {"X-Hub-Signature-256": signature}) is None
    assert (
        github.verify(
            b"Hello, World!",
            {"x-hub-signature-256": signature.upper().replace("SHA256=", "sha256=")},
        )
        is None
    )
    for wrong in (
        signature[7:],
        "sha1=" + signature[7:],
        "SHA256=" + signature[7:],
        signature + " ",
    ):
        with pytest.raises(InvalidSignatureError):
            github.verify(b"Hello, World!", {"X-Hub-Signature-256": wrong})
    # The legacy SHA-1 header is not read.
    with pytest.raises(MissingHeaderError, match="x-hub-signature-256"):
        github.verify(b"Hello, World!", {"X-Hub-Signature": "sha1=00"})


def test_shopify_base64() -> None:
    body = b'{"id":820982911946154508}'
    expected = hmac_b64("shpss_secret", body)
    shopify = Shopify("shpss_secret")
    assert shopify.sign(body) == {"X-Shopify-Hmac-Sha256": expected}
    assert shopify.verify(body, {"X-Shopify-Hmac-Sha256": expected}) is None
    assert shopify.verify(body, {"X-Shopify-Hmac-Sha256": expected.rstrip("=")}) is None
    for wrong in (hmac_hex("shpss_secret", body), expected.lower(), "!!!"):
        with pytest.raises(InvalidSignatureError):
            shopify.verify(body, {"X-Shopify-Hmac-Sha256": wrong})


def test_meta_signature_is_github_style_with_the_app_secret() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    meta = Meta("meta-app-secret")
    assert meta.sign(body) == {"X-Hub-Signature-256": hub_signature("meta-app-secret", body)}


def test_meta_answer_challenge_from_every_params_form() -> None:
    from starlette.datastructures import QueryParams
    from werkzeug.datastructures import MultiDict

    query = "hub.mode=subscribe&hub.verify_token=tok%20en&hub.challenge=1158201444"
    as_dict = {"hub.mode": "subscribe", "hub.verify_token": "tok en", "hub.challenge": "1158201444"}
    for params in (
        query,
        "?" + query,
        query.encode(),
        as_dict,
        QueryParams(query),
        MultiDict(as_dict),
    ):
        assert Meta.answer_challenge(params, "tok en") == "1158201444"
    assert Meta.answer_challenge(query, b"tok en") == "1158201444"


TOKEN = "s3cr3t-verify-token"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hub.mode": "unsubscribe", "hub.verify_token": TOKEN, "hub.challenge": "1"}, "subscribe"),
        ({"hub.mode": "subscribe", "hub.verify_token": TOKEN[:-1], "hub.challenge": "1"}, "match"),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, "hub.verify_token"),
        ({"hub.mode": "subscribe", "hub.verify_token": TOKEN}, "hub.challenge"),
        ("", "hub.mode"),
        (f"hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=%ff", "UTF-8"),
    ],
)
def test_meta_answer_challenge_refusals(params: Any, message: str) -> None:
    with pytest.raises(ChallengeError, match=message) as info:
        Meta.answer_challenge(params, TOKEN)
    assert isinstance(info.value, WebhookVerificationError)
    assert TOKEN not in str(info.value)
    assert TOKEN[:-1] not in str(info.value)


# ------------------------------------------------------------------ Slack

# api.slack.com, "Verifying requests from Slack": the worked example.
SLACK_DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_DOC_TS = "1531420618"
SLACK_DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmib"
    b"IGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slack_documented_example() -> None:
    slack = Slack(SLACK_DOC_SECRET)
    headers = {"X-Slack-Request-Timestamp": SLACK_DOC_TS, "X-Slack-Signature": SLACK_DOC_SIGNATURE}
    assert slack.sign(SLACK_DOC_BODY, timestamp=int(SLACK_DOC_TS)) == headers
    assert slack.verify(SLACK_DOC_BODY, headers, now=int(SLACK_DOC_TS)) is None


def test_slack_cross_check_with_slack_sdk() -> None:
    theirs = SignatureVerifier("slack-signing-secret")
    ours = Slack("slack-signing-secret")
    for body in (b"", b"payload=%7B%7D", "héllo".encode()):
        headers = ours.sign(body, timestamp=NOW)
        assert (
            theirs.generate_signature(timestamp=str(NOW), body=body) == headers["X-Slack-Signature"]
        )
        assert ours.verify(body, headers, now=NOW) is None
    fresh = ours.sign(b"text=hi")
    assert theirs.is_valid_request(b"text=hi", fresh)
    assert fresh["X-Slack-Request-Timestamp"] == str(int(fresh["X-Slack-Request-Timestamp"]))
    assert abs(int(fresh["X-Slack-Request-Timestamp"]) - time.time()) < 60


def test_slack_signs_the_timestamp_as_sent() -> None:
    body = b"x=1"
    headers = {
        "X-Slack-Request-Timestamp": f"0{NOW}",
        "X-Slack-Signature": slack_signature("k", f"0{NOW}", body),
    }
    assert Slack("k").verify(body, headers, now=NOW) is None
    with pytest.raises(InvalidTimestampError, match="x-slack-request-timestamp"):
        Slack("k").verify(body, {**headers, "X-Slack-Request-Timestamp": f"{NOW}.0"}, now=NOW)


# ------------------------------------------------------------------ Twilio

# twilio.com/docs/usage/security: the worked example (auth token, URL, POST parameters).
TWILIO_DOC_TOKEN = "12345"
TWILIO_DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
TWILIO_DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def form_body(params: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(params).encode()


def test_twilio_documented_example() -> None:
    body = form_body(dict(reversed(list(TWILIO_DOC_PARAMS.items()))))  # order does not matter
    twilio = Twilio(TWILIO_DOC_TOKEN)
    assert twilio.sign(body, url=TWILIO_DOC_URL) == {"X-Twilio-Signature": TWILIO_DOC_SIGNATURE}
    headers = {"X-Twilio-Signature": TWILIO_DOC_SIGNATURE}
    assert twilio.verify(body, headers, url=TWILIO_DOC_URL) is None
    assert twilio.verify(body, headers, url=TWILIO_DOC_URL.encode()) is None
    # Twilio's signing is inconsistent about ports: the URL with its default port passes too.
    assert (
        twilio.verify(body, headers, url="https://mycompany.com:443/myapp.php?foo=1&bar=2") is None
    )
    # Any port is removed for the second try, as twilio's RequestValidator does.
    assert (
        twilio.verify(body, headers, url="https://mycompany.com:8443/myapp.php?foo=1&bar=2") is None
    )
    for url in (
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://mycompany.com/myapp.php?foo=1",
    ):
        with pytest.raises(InvalidSignatureError):
            twilio.verify(body, headers, url=url)
    with pytest.raises(InvalidSignatureError):
        twilio.verify(body + b"&Extra=1", headers, url=TWILIO_DOC_URL)


class MultiValue(dict[str, list[str]]):
    """What twilio's validator reads from a framework: ``getlist`` per name (Django style)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def test_twilio_cross_check_with_the_twilio_library() -> None:
    theirs = RequestValidator("twilio-auth-token")
    ours = Twilio("twilio-auth-token")
    bodies = [
        b"",
        form_body(TWILIO_DOC_PARAMS),
        b"Body=Hello+there%21&Body=again&To=%2B1&Empty=&MediaUrl0=https%3A%2F%2Fx%2Fy",
        b"Body=caf%C3%A9+%E2%98%83&Z=1&A=2",
    ]
    for url in (TWILIO_URL, "http://example.com/path", "https://example.com:8443/x?y=%20"):
        for body in bodies:
            params = MultiValue(parse_qs(body.decode(), keep_blank_values=True))
            signature = ours.sign(body, url=url)["X-Twilio-Signature"]
            assert signature == theirs.compute_signature(url, params)
            assert theirs.validate(url, params, signature)
            assert ours.verify(body, {"X-Twilio-Signature": signature}, url=url) is None


def test_twilio_json_body_hash() -> None:
    theirs = RequestValidator("twilio-auth-token")
    body = json.dumps({"EventType": "onMessageAdded", "Body": "hi"}).encode()
    url = "https://example.com/conversations?bodySHA256=" + hashlib.sha256(body).hexdigest()
    ours = Twilio("twilio-auth-token")
    headers = ours.sign(body, url=url)
    assert headers["X-Twilio-Signature"] == theirs.compute_signature(url, {})
    assert theirs.validate(url, body.decode(), headers["X-Twilio-Signature"])
    assert ours.verify(body, headers, url=url) is None
    with pytest.raises(InvalidSignatureError, match="bodySHA256"):
        ours.verify(body + b" ", headers, url=url)


def test_twilio_url_is_required() -> None:
    body, headers = b"a=1", {"X-Twilio-Signature": twilio_signature("t", TWILIO_URL, b"a=1")}
    with pytest.raises(TypeError):
        Twilio("t").verify(body, headers)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Twilio("t").verify_many([body], [headers])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Twilio("t").verify(body, headers, url=5)  # type: ignore[arg-type]
    with pytest.raises(WebhookVerificationError, match="url"):
        Twilio("t").verify(body, headers, url="\ud800")
    with pytest.raises(ValueError, match="urls"):
        Twilio("t").verify_many([body], [headers], urls=[])


def test_twilio_port_variants_only_change_this_urls_authority() -> None:
    """Found by fuzzing (fuzz/fuzz_targets/webhook_parsers.rs): a relative URL whose query
    holds ``://`` had the port of the URL in its query toggled, so a signature made for that
    other string passed. Only a URL with its own ``scheme://authority`` gets a port variant."""
    twilio = Twilio("t")
    body = b"a=1"
    url = "/sms?next=https://a.com:8443/x"
    mangled = "/sms?next=https://a.com/x"
    signed_for_mangled = {"X-Twilio-Signature": twilio_signature("t", mangled, body)}
    with pytest.raises(InvalidSignatureError):
        twilio.verify(body, signed_for_mangled, url=url)
    signed = {"X-Twilio-Signature": twilio_signature("t", url, body)}
    twilio.verify(body, signed, url=url)
    # An absolute URL still matches with its port toggled.
    absolute = "https://a.com:443/sms"
    signed_without_port = {"X-Twilio-Signature": twilio_signature("t", "https://a.com/sms", body)}
    twilio.verify(body, signed_without_port, url=absolute)


# ------------------------------------------------------------------ Linear


def test_linear_reads_webhook_timestamp_from_the_body() -> None:
    linear = Linear("lin_wh_secret")
    body = linear_body(NOW)
    headers = linear.sign(body)
    assert headers == {"Linear-Signature": hmac_hex("lin_wh_secret", body)}
    assert linear.verify(body, headers, now=NOW + 60) is None
    with pytest.raises(TimestampOutOfToleranceError):
        linear.verify(body, headers, now=NOW + 60.001)
    assert linear.verify(body, headers, now=NOW + 3600, tolerance=3600) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"action":"create"}',
        b'{"webhookTimestamp":"1700000000000"}',
        b'{"webhookTimestamp":1.7e12}',
        b'{"data":{"webhookTimestamp":1700000000000}}',
        b'{"webhookTimestamp":99999999999999999999999}',
        b"not json",
        b"\xff\xfe",
        b"[1700000000000]",
    ],
)
def test_linear_bad_body_timestamps(body: bytes) -> None:
    linear = Linear("k")
    headers = linear.sign(body)
    with pytest.raises(InvalidTimestampError, match="webhookTimestamp"):
        linear.verify(body, headers, now=NOW)
    # Only the signature is checked without a tolerance, and only a signed body is parsed.
    assert linear.verify(body, headers, now=NOW, tolerance=None) is None
    with pytest.raises(InvalidSignatureError):
        linear.verify(body, {"Linear-Signature": "00" * 32}, now=NOW)


# ------------------------------------------------------------------ Discord


def test_discord_cross_check_with_cryptography() -> None:
    discord = Discord(public_bytes(DISCORD_KEY).hex())
    body = b'{"type":1,"id":"123"}'
    headers = {
        "X-Signature-Ed25519": discord_signature(DISCORD_KEY, str(NOW), body),
        "X-Signature-Timestamp": str(NOW),
    }
    assert discord.verify(body, headers, now=NOW) is None
    upper = {**headers, "X-Signature-Ed25519": headers["X-Signature-Ed25519"].upper()}
    assert discord.verify(body, upper, now=NOW) is None
    assert Discord(public_bytes(DISCORD_KEY)).verify(body, headers, now=NOW) is None
    other = ed25519_key(b"\x01" * 32)
    with pytest.raises(InvalidSignatureError):
        Discord(public_bytes(other).hex()).verify(body, headers, now=NOW)
    assert (
        Discord([public_bytes(other).hex(), public_bytes(DISCORD_KEY).hex()]).verify(
            body, headers, now=NOW
        )
        is None
    )
    for bad in (
        headers["X-Signature-Ed25519"][:-2],
        "zz" * 64,
        base64.b64encode(bytes(64)).decode(),
    ):
        with pytest.raises(InvalidSignatureError):
            discord.verify(body, {**headers, "X-Signature-Ed25519": bad}, now=NOW)
    assert not hasattr(discord, "sign")


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("ab" * 31, id="short-hex"),
        pytest.param("zz" * 32, id="not-hex"),
        pytest.param("00" * 32, id="small-order"),
        pytest.param("01" + "00" * 31, id="identity"),
        pytest.param("02" + "00" * 31, id="not-a-point"),
        pytest.param(b"\x01" * 31, id="short-bytes"),
        pytest.param([], id="no-keys"),
    ],
)
def test_discord_bad_public_keys(key: Any) -> None:
    with pytest.raises(InvalidSecretError):
        Discord(key)


def test_discord_rfc8032_vector_through_the_headers() -> None:
    # RFC 8032 section 7.1 test 2 signs the one-byte message "r": the timestamp header "r" and
    # an empty body, with the timestamp check off (it is not a number).
    public = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    signature = (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": "r"}
    assert Discord(public).verify(b"", headers, tolerance=None) is None
    with pytest.raises(InvalidTimestampError):
        Discord(public).verify(b"", headers)


def test_standard_webhook_is_still_the_same_class() -> None:
    assert type(CASES[-1].verifier()) is StandardWebhook
