"""Every scheme relaywire.webhooks verifies is a source scheme of the receiver: a delivery signed
the provider's way (by the reference signers in tests/_schemes.py) is stored under the scheme's
default delivery id, a tampered copy is refused with 401, and the same delivery again is a
duplicate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from _schemes import (
    DISCORD_KEY,
    TWILIO_URL,
    discord_signature,
    hmac_b64,
    hmac_hex,
    hub_signature,
    linear_body,
    public_bytes,
    slack_signature,
    stripe_header,
    twilio_signature,
    v1a_signature,
    whpk,
)

from relaywire.ingest import SCHEMES, Receiver, Source, read


@dataclass(frozen=True)
class Provider:
    scheme: str
    secret: str
    body: Callable[[int], bytes]
    sign: Callable[[bytes, int], dict[str, str]]
    expected_id: Callable[[bytes, dict[str, str]], str]
    options: dict[str, Any] | None = None


def digest(body: bytes, headers: dict[str, str]) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


PROVIDERS = [
    Provider(
        "stripe",
        "whsec_stripe_test",
        lambda ts: b'{"id":"evt_1Stripe","type":"invoice.paid"}',
        lambda body, ts: {"Stripe-Signature": stripe_header("whsec_stripe_test", ts, body)},
        lambda body, headers: "evt_1Stripe",
    ),
    Provider(
        "github",
        "gh-secret",
        lambda ts: b'{"action":"opened"}',
        lambda body, ts: {
            "X-Hub-Signature-256": hub_signature("gh-secret", body),
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        },
        lambda body, headers: headers["X-GitHub-Delivery"],
    ),
    Provider(
        "shopify",
        "shpss_secret",
        lambda ts: b'{"id":820982911946154508}',
        lambda body, ts: {
            "X-Shopify-Hmac-Sha256": hmac_b64("shpss_secret", body),
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        },
        lambda body, headers: headers["X-Shopify-Webhook-Id"],
    ),
    Provider(
        "slack",
        "slack-signing-secret",
        lambda ts: b'{"type":"event_callback","event_id":"Ev01"}',
        lambda body, ts: {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": slack_signature("slack-signing-secret", str(ts), body),
        },
        digest,
    ),
    Provider(
        "twilio",
        "twilio-auth-token",
        lambda ts: b"From=%2B15550001&To=%2B15550002&Body=hello",
        lambda body, ts: {
            "X-Twilio-Signature": twilio_signature("twilio-auth-token", TWILIO_URL, body),
            "Content-Type": "application/x-www-form-urlencoded",
            "I-Twilio-Idempotency-Token": "e3a5f3a4-0d2e-4b8f-9d7c-1c2b3a4d5e6f",
        },
        lambda body, headers: headers["I-Twilio-Idempotency-Token"],
        {"url": TWILIO_URL},
    ),
    Provider(
        "meta",
        "meta-app-secret",
        lambda ts: b'{"object":"whatsapp_business_account","entry":[]}',
        lambda body, ts: {"X-Hub-Signature-256": hub_signature("meta-app-secret", body)},
        digest,
    ),
    Provider(
        "linear",
        "lin_wh_secret",
        lambda ts: linear_body(ts),
        lambda body, ts: {
            "Linear-Signature": hmac_hex("lin_wh_secret", body),
            "Linear-Delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72",
        },
        lambda body, headers: headers["Linear-Delivery"],
    ),
    Provider(
        "discord",
        public_bytes(DISCORD_KEY).hex(),
        lambda ts: b'{"id":"1055823421","type":2}',
        lambda body, ts: {
            "X-Signature-Ed25519": discord_signature(DISCORD_KEY, str(ts), body),
            "X-Signature-Timestamp": str(ts),
        },
        lambda body, headers: "1055823421",
    ),
    Provider(
        "standard",
        whpk(DISCORD_KEY),  # Standard Webhooks v1a: Ed25519, a whpk_ public key verifies
        lambda ts: b'{"type":"user.created"}',
        lambda body, ts: {
            "webhook-id": "msg_v1a",
            "webhook-timestamp": str(ts),
            "webhook-signature": v1a_signature(DISCORD_KEY, "msg_v1a", ts, body),
        },
        lambda body, headers: "msg_v1a",
    ),
]


def test_every_scheme_of_relaywire_webhooks_is_registered() -> None:
    assert {p.scheme for p in PROVIDERS} | {"linktor", "hmac"} == set(SCHEMES)


@pytest.mark.parametrize("provider", PROVIDERS, ids=[p.scheme for p in PROVIDERS])
def test_a_signed_delivery_is_stored_and_a_tampered_one_refused(
    tmp_path: Path, provider: Provider
) -> None:
    sink = f"sqlite:///{tmp_path}/events.db"
    source = Source(
        provider.scheme,
        f"/hooks/{provider.scheme}",
        provider.scheme,
        secrets=["an-old-secret-being-rotated-out", provider.secret]
        if provider.scheme not in ("discord", "standard")
        else [provider.secret],
        options=provider.options or {},
    )
    now = int(time.time())
    body = provider.body(now)
    headers = provider.sign(body, now)
    with Receiver([source], sink) as receiver, httpx.Client(base_url=receiver.url) as client:
        stored = client.post(source.path, content=body, headers=headers)
        assert (stored.status_code, stored.json()) == (200, {"status": "stored"})
        again = client.post(source.path, content=body, headers=headers)
        assert again.json() == {"status": "duplicate"}
        tampered = client.post(source.path, content=body + b" ", headers=headers)
        assert tampered.status_code == 401
        unsigned = client.post(source.path, content=body)
        assert unsigned.status_code == 401
    [delivery] = read(sink)
    assert (delivery.source, delivery.id, delivery.body) == (
        provider.scheme,
        provider.expected_id(body, headers),
        body,
    )


def test_twilio_needs_the_url_it_posts_to() -> None:
    from relaywire.ingest import IngestApp, IngestConfigError

    with pytest.raises(IngestConfigError, match="scheme 'twilio' needs url"):
        IngestApp([Source("sms", "/sms", "twilio", secrets=["t"])], "sqlite:///unused.db")


def test_linear_keeps_its_own_tighter_tolerance(tmp_path: Path) -> None:
    """A Linear delivery 2 minutes old is refused by Linear's default 60 s, accepted when the
    source sets 300."""
    ts = int(time.time()) - 120
    body = linear_body(ts)
    headers = {"Linear-Signature": hmac_hex("lin_wh_secret", body), "Linear-Delivery": "d-1"}
    for tolerance, status in ((None, 401), (300, 200)):
        source = Source("linear", "/l", "linear", secrets=["lin_wh_secret"], tolerance=tolerance)
        with Receiver([source], f"sqlite:///{tmp_path}/{tolerance}.db") as receiver:
            reply = httpx.post(receiver.url + "/l", content=body, headers=headers)
        assert reply.status_code == status
