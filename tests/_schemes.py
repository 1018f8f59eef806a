"""Plain-Python references for the provider schemes, and one table of them for the tests.

Every reference here is written with ``hmac``, ``hashlib``, ``base64``, ``urllib.parse`` and, for
Ed25519, the ``cryptography`` package: none calls ``relaywire`` to compute an expected answer.
A :class:`Case` describes one scheme the way the tests drive it: how to build its verifier,
how to sign a delivery with the reference, and which keyword arguments its ``verify`` takes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relaywire.webhooks import (
    Discord,
    GitHub,
    Linear,
    Meta,
    Shopify,
    Slack,
    StandardWebhook,
    Stripe,
    Twilio,
)

# ------------------------------------------------------------------ references


def hmac_hex(secret: str | bytes, message: bytes, digest: Any = hashlib.sha256) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, digest).hexdigest()


def hmac_b64(secret: str | bytes, message: bytes, digest: Any = hashlib.sha256) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, message, digest).digest()).decode()


def stripe_header(secret: str, t: int, body: bytes, *extra_secrets: str) -> str:
    """``t=<t>,v1=<hex>`` (one ``v1`` per secret): HMAC-SHA256 of ``"{t}.{body}"``."""
    signatures = [f"v1={hmac_hex(s, f'{t}.'.encode() + body)}" for s in (secret, *extra_secrets)]
    return ",".join([f"t={t}", *signatures])


def hub_signature(secret: str, body: bytes) -> str:
    """GitHub's and Meta's ``X-Hub-Signature-256``."""
    return "sha256=" + hmac_hex(secret, body)


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac_hex(secret, b"v0:" + timestamp.encode() + b":" + body)


def twilio_signature(token: str, url: str, body: bytes) -> str:
    """HMAC-SHA1 of the URL and the sorted form parameters (a JSON body's URL carries
    ``bodySHA256`` and is signed alone)."""
    query = dict(parse_qsl(url.partition("?")[2], keep_blank_values=True))
    signed = url.encode()
    if "bodySHA256" not in query:
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        signed += "".join(name + value for name, value in sorted(set(pairs))).encode()
    return hmac_b64(token, signed, hashlib.sha1)


def ed25519_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def whsk(seed: bytes) -> str:
    return "whsk_" + base64.b64encode(seed).decode()


def whpk(key: Ed25519PrivateKey) -> str:
    return "whpk_" + base64.b64encode(public_bytes(key)).decode()


def v1a_signature(key: Ed25519PrivateKey, msg_id: str, ts: int, body: bytes) -> str:
    signed = f"{msg_id}.{ts}.".encode() + body
    return "v1a," + base64.b64encode(key.sign(signed)).decode()


def discord_signature(key: Ed25519PrivateKey, timestamp: str, body: bytes) -> str:
    return key.sign(timestamp.encode() + body).hex()


def linear_body(ts: int, extra: bytes = b"") -> bytes:
    """A Linear delivery whose ``webhookTimestamp`` is ``ts`` seconds, in milliseconds."""
    event = {"action": "create", "type": "Issue", "webhookTimestamp": ts * 1000}
    return json.dumps(event).encode()[:-1] + b', "note": ' + json.dumps(extra.hex()).encode() + b"}"


# ------------------------------------------------------------------ the table

TWILIO_URL = "https://example.com/twilio/sms?tenant=7"
DISCORD_SEED = bytes(range(32))
DISCORD_KEY = ed25519_key(DISCORD_SEED)


@dataclass(frozen=True)
class Case:
    """One scheme as the tests drive it.

    ``sign(body, ts)`` returns reference headers for a delivery sent at ``ts``; ``body(ts,
    extra)`` a body for it (``extra`` varies the content); ``options(now)`` the keyword
    arguments of ``verify`` at ``now``; ``batch(now, n)`` those of ``verify_many``.
    """

    name: str
    verifier: Callable[[], Any]
    sign: Callable[[bytes, int], dict[str, str]]
    timed: bool
    body: Callable[[int, bytes], bytes] = field(default=lambda ts, extra: b'{"n":"' + extra + b'"}')
    default_tolerance: float | None = 300.0
    url: str | None = None

    def options(self, now: float) -> dict[str, Any]:
        if self.url is not None:
            return {"url": self.url}
        return {"now": now} if self.timed else {}

    def batch(self, now: float, count: int) -> dict[str, Any]:
        if self.url is not None:
            return {"urls": [self.url] * count}
        return {"now": now} if self.timed else {}


def _form(ts: int, extra: bytes) -> bytes:
    return (
        b"From=%2B15550001&To=%2B15550002&Body="
        + extra.hex().encode()
        + b"&Sent="
        + str(ts).encode()
    )


CASES: list[Case] = [
    Case(
        "Stripe",
        lambda: Stripe("whsec_stripe_test"),
        lambda body, ts: {"Stripe-Signature": stripe_header("whsec_stripe_test", ts, body)},
        timed=True,
    ),
    Case(
        "GitHub",
        lambda: GitHub("gh-secret"),
        lambda body, ts: {"X-Hub-Signature-256": hub_signature("gh-secret", body)},
        timed=False,
        default_tolerance=None,
    ),
    Case(
        "Shopify",
        lambda: Shopify("shpss_secret"),
        lambda body, ts: {"X-Shopify-Hmac-Sha256": hmac_b64("shpss_secret", body)},
        timed=False,
        default_tolerance=None,
    ),
    Case(
        "Slack",
        lambda: Slack("slack-signing-secret"),
        lambda body, ts: {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": slack_signature("slack-signing-secret", str(ts), body),
        },
        timed=True,
    ),
    Case(
        "Twilio",
        lambda: Twilio("twilio-auth-token"),
        lambda body, ts: {
            "X-Twilio-Signature": twilio_signature("twilio-auth-token", TWILIO_URL, body)
        },
        timed=False,
        body=_form,
        default_tolerance=None,
        url=TWILIO_URL,
    ),
    Case(
        "Meta",
        lambda: Meta("meta-app-secret"),
        lambda body, ts: {"X-Hub-Signature-256": hub_signature("meta-app-secret", body)},
        timed=False,
        default_tolerance=None,
    ),
    Case(
        "Linear",
        lambda: Linear("lin_wh_secret"),
        lambda body, ts: {"Linear-Signature": hmac_hex("lin_wh_secret", body)},
        timed=True,
        body=linear_body,
        default_tolerance=60.0,
    ),
    Case(
        "Discord",
        lambda: Discord(public_bytes(DISCORD_KEY).hex()),
        lambda body, ts: {
            "X-Signature-Ed25519": discord_signature(DISCORD_KEY, str(ts), body),
            "X-Signature-Timestamp": str(ts),
        },
        timed=True,
    ),
    Case(
        "StandardWebhook(v1a)",
        lambda: StandardWebhook(whpk(DISCORD_KEY)),
        lambda body, ts: {
            "webhook-id": "msg_case",
            "webhook-timestamp": str(ts),
            "webhook-signature": v1a_signature(DISCORD_KEY, "msg_case", ts, body),
        },
        timed=True,
    ),
]

CASE_IDS = [case.name for case in CASES]


# ------------------------------------------------------------------ source schemes


@dataclass(frozen=True)
class Provider:
    """One scheme of :data:`relaywire.sources.SCHEMES` (``linktor`` and ``hmac`` aside) as a
    sender uses it: its secret, a body and the reference signature of it at ``ts``, and the
    delivery id the scheme's default rule reads."""

    scheme: str
    secret: str
    body: Callable[[int], bytes]
    sign: Callable[[bytes, int], dict[str, str]]
    expected_id: Callable[[bytes, dict[str, str]], str]
    options: dict[str, Any] | None = None


def digest(body: bytes, headers: dict[str, str]) -> str:
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
