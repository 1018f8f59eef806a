"""Every scheme relaywire.webhooks verifies is a source scheme of the receiver: a delivery signed
the provider's way (by the reference signers in tests/_schemes.py) is stored under the scheme's
default delivery id, a tampered copy is refused with 401, and the same delivery again is a
duplicate."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from _schemes import PROVIDERS, Provider, hmac_hex, linear_body

from relaywire.ingest import SCHEMES, Receiver, Source, read


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
