"""Property tests: every provider scheme agrees with its plain-Python reference (``_schemes``)
and, where one installs, with the provider's own library, on arbitrary input; arbitrary headers
never raise anything but a ``WebhookVerificationError``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote_plus

import pytest
import stripe
from _schemes import (
    CASE_IDS,
    CASES,
    Case,
    discord_signature,
    ed25519_key,
    hmac_b64,
    hmac_hex,
    public_bytes,
    slack_signature,
    stripe_header,
    twilio_signature,
    v1a_signature,
    whpk,
    whsk,
)
from _support import outcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from relaywire.webhooks import (
    Discord,
    GitHub,
    InvalidSignatureError,
    Shopify,
    Slack,
    StandardWebhook,
    Stripe,
    Twilio,
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = 1_700_000_000

# The providers' libraries refuse secrets that are only whitespace; so do these tests.
text_secrets = st.text(min_size=1, max_size=40).filter(str.strip)
bodies = st.binary(max_size=2048)
timestamps = st.integers(NOW - 300, NOW + 300)
seeds = st.binary(min_size=32, max_size=32)


@SETTINGS
@given(text_secrets, bodies, timestamps)
def test_stripe_matches_reference(secret: str, body: bytes, ts: int) -> None:
    ours = Stripe(secret)
    header = stripe_header(secret, ts, body)
    assert ours.sign(body, timestamp=ts) == {"Stripe-Signature": header}
    assert ours.verify(body, {"Stripe-Signature": header}, now=NOW) is None
    with pytest.raises(InvalidSignatureError):
        ours.verify(body + b"\x00", {"Stripe-Signature": header}, now=NOW)


@SETTINGS
@given(text_secrets, st.text(max_size=300), timestamps)
def test_stripe_matches_the_stripe_library(secret: str, text: str, ts: int) -> None:
    body = text.encode("utf-8", "replace")
    header = Stripe(secret).sign(body, timestamp=ts)["Stripe-Signature"]
    assert header == stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=ts
    )
    assert stripe.WebhookSignature.verify_header(body, header, secret, tolerance=None)


@SETTINGS
@given(text_secrets, bodies, timestamps)
def test_slack_matches_reference_and_slack_sdk(secret: str, body: bytes, ts: int) -> None:
    headers = Slack(secret).sign(body, timestamp=ts)
    assert headers["X-Slack-Signature"] == slack_signature(secret, str(ts), body)
    assert Slack(secret).verify(body, headers, now=NOW) is None
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return  # slack_sdk decodes the body strictly; relaywire never decodes it
    theirs = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=text)
    assert theirs == headers["X-Slack-Signature"]


@SETTINGS
@given(text_secrets, bodies)
def test_body_signatures_match_reference(secret: str, body: bytes) -> None:
    assert GitHub(secret).sign(body) == {"X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body)}
    assert Shopify(secret).sign(body) == {"X-Shopify-Hmac-Sha256": hmac_b64(secret, body)}


names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8)
values = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
urls = st.sampled_from(
    [
        "https://example.com/hook",
        "https://example.com/hook?tenant=1&x=%20y",
        "http://example.com:8080/voice",
        "https://example.com:443/sms?z=1",
        "http://[::1]:9000/p",
    ]
)


class MultiValue(dict[str, list[str]]):
    def getlist(self, name: str) -> list[str]:
        return self[name]


@SETTINGS
@given(text_secrets, st.lists(st.tuples(names, values), max_size=10), urls)
def test_twilio_matches_reference_and_the_twilio_library(
    token: str, params: list[tuple[str, str]], url: str
) -> None:
    body = "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in params).encode()
    ours = Twilio(token)
    signature = ours.sign(body, url=url)["X-Twilio-Signature"]
    assert signature == twilio_signature(token, url, body)
    assert ours.verify(body, {"X-Twilio-Signature": signature}, url=url) is None
    theirs = RequestValidator(token)
    multi = MultiValue(parse_qs(body.decode(), keep_blank_values=True))
    assert theirs.compute_signature(url, multi) == signature
    assert theirs.validate(url, multi, signature)


@SETTINGS
@given(seeds, bodies, st.integers(0, 2**40))
def test_ed25519_schemes_match_cryptography(seed: bytes, body: bytes, ts: int) -> None:
    key = ed25519_key(seed)
    discord = Discord(public_bytes(key).hex())
    headers = {
        "X-Signature-Ed25519": discord_signature(key, str(ts), body),
        "X-Signature-Timestamp": str(ts),
    }
    assert discord.verify(body, headers, tolerance=None) is None
    signature = StandardWebhook(whsk(seed)).sign("msg", ts, body)
    assert signature == v1a_signature(key, "msg", ts, body)
    std = {"webhook-id": "msg", "webhook-timestamp": str(ts), "webhook-signature": signature}
    assert StandardWebhook(whpk(key)).verify(body, std, tolerance=None) is None


header_names = st.sampled_from(
    sorted({name for case in CASES for name in case.sign(b"", NOW)} | {"x-other", "content-type"})
).flatmap(lambda n: st.sampled_from([n, n.lower(), n.upper()]))
header_values = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=120),
    st.integers(),
    st.none(),
    st.sampled_from(["t=1700000000,v1=", "v0=", "sha256=", "v1a,", "1700000000", "ab" * 64]),
)


@settings(SETTINGS, max_examples=100)
@given(
    st.data(),
    st.dictionaries(header_names, header_values, max_size=6),
    st.one_of(bodies, st.text(max_size=50)),
)
def test_arbitrary_headers_never_raise_foreign_errors(
    data: st.DataObject, headers: dict[str, Any], body: Any
) -> None:
    for case in CASES:
        verifier = case.verifier()
        single = outcome(lambda v=verifier, c=case: v.verify(body, headers, **c.options(NOW)))
        assert single is not None  # nothing random carries a valid signature
        batch = case.batch(NOW, 1)
        assert verifier.verify_many([body], [headers], **batch) == [False]
        [error] = verifier.verify_each([body], [headers], **batch)
        assert type(error) is single
    pairs = data.draw(st.lists(st.tuples(header_names, header_values), max_size=6))
    for case in CASES:
        assert (
            outcome(lambda c=case: c.verifier().verify(body, pairs, **c.options(NOW))) is not None
        )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_case_signs_what_it_verifies(case: Case) -> None:
    """The table itself: each reference delivery verifies (so the properties above are not
    passing for want of a valid delivery)."""
    body = case.body(NOW, b"table")
    assert case.verifier().verify(body, case.sign(body, NOW), **case.options(NOW)) is None
