"""Standard Webhooks, complete: ``v1a`` Ed25519 (``whsk_`` / ``whpk_``), several keys per
verifier (rotation), ``tolerance=None`` and the ``svix-`` header aliases.

``v1`` is cross-checked against the ``standardwebhooks`` package; ``v1a``, which no official
Standard Webhooks library implements yet, against the ``cryptography`` package's Ed25519.
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest
from _schemes import ed25519_key, public_bytes, v1a_signature, whpk, whsk
from _support import header_kinds, outcome, standard_signature
from cryptography.exceptions import InvalidSignature

from relaywire.webhooks import (
    InvalidHeaderError,
    InvalidSecretError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingHeaderError,
    StandardWebhook,
    TimestampOutOfToleranceError,
)

SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
KEY = ed25519_key(SEED)
WHSK = whsk(SEED)
WHPK = whpk(KEY)
HMAC_KEY = b"relaywire standard key bytes 24"
WHSEC = "whsec_" + base64.b64encode(HMAC_KEY).decode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
TS = 1674087231
BODY = b'{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z"}'


def headers(
    signature: str, msg_id: str = MSG_ID, ts: int = TS, prefix: str = "webhook"
) -> dict[str, str]:
    return {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(ts),
        f"{prefix}-signature": signature,
    }


# ------------------------------------------------------------------ keys


def test_rfc8032_key_pair_in_whsk_whpk_form() -> None:
    # RFC 8032 section 7.1, test 1: the seed's public key is the published one.
    assert public_bytes(KEY) == PUBLIC
    assert "whpk_" + base64.b64encode(PUBLIC).decode() == WHPK
    signature = StandardWebhook(WHSK).sign(MSG_ID, TS, BODY)
    assert StandardWebhook(WHPK).verify(BODY, headers(signature), now=TS) is None


def test_v1a_sign_is_ed25519_over_the_signed_content() -> None:
    signature = StandardWebhook(WHSK).sign(MSG_ID, TS, BODY)
    version, _, encoded = signature.partition(",")
    assert version == "v1a"
    raw = base64.b64decode(encoded, validate=True)
    assert len(raw) == 64
    KEY.public_key().verify(raw, f"{MSG_ID}.{TS}.".encode() + BODY)
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(raw, f"{MSG_ID}.{TS}.".encode() + BODY + b" ")
    # Ed25519 is deterministic: the reference library signs identically.
    assert signature == v1a_signature(KEY, MSG_ID, TS, BODY)


@pytest.mark.parametrize("seed", [bytes(32), bytes(range(32)), b"\xff" * 32, SEED])
@pytest.mark.parametrize("body", [b"", BODY, b"\xff\x00 raw", "ünïcode ☃".encode()])
def test_v1a_cross_check_with_cryptography(seed: bytes, body: bytes) -> None:
    key = ed25519_key(seed)
    ours = StandardWebhook(whsk(seed))
    moment = datetime.fromtimestamp(TS, tz=timezone.utc)
    assert ours.sign(MSG_ID, moment, body) == v1a_signature(key, MSG_ID, TS, body)
    theirs = v1a_signature(key, MSG_ID, TS, body)
    for verifier in (ours, StandardWebhook(whpk(key))):
        assert verifier.verify(body, headers(theirs), now=TS) is None
        with pytest.raises(InvalidSignatureError):
            verifier.verify(body + b"!", headers(theirs), now=TS)


def test_seed_plus_public_form() -> None:
    long_form = "whsk_" + base64.b64encode(SEED + PUBLIC).decode()
    assert StandardWebhook(long_form).sign(MSG_ID, TS, BODY) == StandardWebhook(WHSK).sign(
        MSG_ID, TS, BODY
    )
    mismatched = "whsk_" + base64.b64encode(SEED + bytes(32)).decode()
    with pytest.raises(InvalidSecretError, match="second half"):
        StandardWebhook(mismatched)


@pytest.mark.parametrize(
    ("key", "match"),
    [
        pytest.param("whsk_", "32", id="whsk-empty"),
        pytest.param("whsk_" + base64.b64encode(bytes(31)).decode(), "31 bytes", id="whsk-short"),
        pytest.param("whsk_" + base64.b64encode(bytes(33)).decode(), "33 bytes", id="whsk-long"),
        pytest.param("whsk_!!!", "base64", id="whsk-not-base64"),
        pytest.param("whpk_" + base64.b64encode(bytes(32)).decode(), "weak", id="whpk-small-order"),
        pytest.param(
            "whpk_" + base64.b64encode(b"\x02" + bytes(31)).decode(), "point", id="whpk-off-curve"
        ),
        pytest.param("whpk_" + base64.b64encode(PUBLIC[:16]).decode(), "16 bytes", id="whpk-short"),
        pytest.param(
            "whpk_" + base64.urlsafe_b64encode(b"\xfb" * 32).decode(), "base64", id="whpk-urlsafe"
        ),
        pytest.param([], "at least one", id="empty-list"),
        pytest.param([WHSEC, "whsec_"], "empty", id="one-bad-in-a-list"),
    ],
)
def test_bad_ed25519_keys(key: Any, match: str) -> None:
    with pytest.raises(InvalidSecretError, match=match) as info:
        StandardWebhook(key)
    assert SEED.hex() not in str(info.value)


def test_a_public_key_cannot_sign() -> None:
    with pytest.raises(InvalidSecretError, match="whsk_"):
        StandardWebhook(WHPK).sign(MSG_ID, TS, BODY)
    # ...but a list with something that signs does, and the public key is skipped.
    assert StandardWebhook([WHPK, WHSEC]).sign(MSG_ID, TS, BODY) == standard_signature(
        HMAC_KEY, MSG_ID, TS, BODY
    )


def test_repr_hides_every_key_kind() -> None:
    for key in (WHSK, WHPK, [WHSEC, WHSK]):
        text = repr(StandardWebhook(key))
        assert "redacted" in text
        for secret in (WHSK, WHSK[5:20], WHSEC[6:20], WHPK[5:20]):
            assert secret not in text


# ------------------------------------------------------------------ mixed headers and rotation


def test_sign_with_several_keys_lists_one_signature_each() -> None:
    signed = StandardWebhook([WHSEC, WHSK]).sign(MSG_ID, TS, BODY)
    v1, v1a = signed.split(" ")
    assert v1 == standard_signature(HMAC_KEY, MSG_ID, TS, BODY)
    assert v1a == v1a_signature(KEY, MSG_ID, TS, BODY)


@pytest.mark.parametrize(
    ("verifier_keys", "expected"),
    [
        ([WHSEC], None),
        ([WHPK], None),
        ([WHSK], None),
        (["whsec_" + base64.b64encode(b"another key").decode(), WHPK], None),
        (["whsec_" + base64.b64encode(b"another key").decode()], InvalidSignatureError),
        ([whpk(ed25519_key(b"\x07" * 32))], InvalidSignatureError),
        ([whpk(ed25519_key(b"\x07" * 32)), WHSEC], None),
    ],
)
def test_header_mixing_v1_and_v1a(verifier_keys: list[str], expected: Any) -> None:
    mixed = " ".join(
        [
            "v1,bm9wZQ==",
            standard_signature(HMAC_KEY, MSG_ID, TS, BODY),
            "v1a," + base64.b64encode(bytes(64)).decode(),
            v1a_signature(KEY, MSG_ID, TS, BODY),
            "v2,zzz",
        ]
    )
    verifier = StandardWebhook(verifier_keys)
    assert outcome(lambda: verifier.verify(BODY, headers(mixed), now=TS)) is expected
    assert verifier.verify_many([BODY], [headers(mixed)], now=TS) == [expected is None]


def test_rotation_accepts_old_and_new_secrets() -> None:
    old, new = b"old signing key!", b"new signing key!"
    verifier = StandardWebhook(["whsec_" + base64.b64encode(k).decode() for k in (old, new)])
    for key in (old, new):
        assert (
            verifier.verify(BODY, headers(standard_signature(key, MSG_ID, TS, BODY)), now=TS)
            is None
        )
    with pytest.raises(InvalidSignatureError):
        verifier.verify(BODY, headers(standard_signature(b"third key", MSG_ID, TS, BODY)), now=TS)
    # Raw key bytes and tuples work in a list too.
    assert (
        StandardWebhook((old, new)).verify(
            BODY, headers(standard_signature(new, MSG_ID, TS, BODY)), now=TS
        )
        is None
    )


def test_v1_rotation_cross_check_with_standardwebhooks() -> None:
    from standardwebhooks import Webhook

    secrets = [
        "whsec_" + base64.b64encode(k).decode() for k in (b"first secret key", b"second secret key")
    ]
    signed = StandardWebhook(secrets).sign(MSG_ID, TS, BODY)
    moment = datetime.fromtimestamp(TS, tz=timezone.utc)
    assert signed == " ".join(Webhook(s).sign(MSG_ID, moment, BODY.decode()) for s in secrets)
    import time

    now = int(time.time())
    fresh = StandardWebhook(secrets).sign(MSG_ID, now, BODY)
    for secret in secrets:
        assert Webhook(secret).verify(BODY, headers(fresh, ts=now)) == {
            "type": "contact.created",
            "timestamp": "2022-11-03T20:26:10.344522Z",
        }


# ------------------------------------------------------------------ tolerance=None


def test_tolerance_none_skips_only_the_timestamp_check() -> None:
    verifier = StandardWebhook(WHSEC)
    old = headers(standard_signature(HMAC_KEY, MSG_ID, TS, BODY))
    with pytest.raises(TimestampOutOfToleranceError):
        verifier.verify(BODY, old)
    assert verifier.verify(BODY, old, tolerance=None) is None
    assert verifier.verify_many([BODY], [old], tolerance=None) == [True]
    # The timestamp is still signed and still has to be an integer.
    with pytest.raises(InvalidSignatureError):
        verifier.verify(BODY, {**old, "webhook-timestamp": str(TS + 1)}, tolerance=None)
    with pytest.raises(InvalidTimestampError):
        verifier.verify(BODY, {**old, "webhook-timestamp": "soon"}, tolerance=None)


# ------------------------------------------------------------------ svix aliases


def test_svix_headers_are_read_as_aliases() -> None:
    verifier = StandardWebhook([WHSEC, WHPK])
    for signature in (
        standard_signature(HMAC_KEY, MSG_ID, TS, BODY),
        v1a_signature(KEY, MSG_ID, TS, BODY),
    ):
        svix = headers(signature, prefix="svix")
        for kind in header_kinds(svix):
            assert verifier.verify(BODY, kind, now=TS) is None
        assert verifier.verify_many([BODY], [svix], now=TS) == [True]


def test_webhook_headers_win_over_svix_headers() -> None:
    verifier = StandardWebhook(WHSEC)
    good = headers(standard_signature(HMAC_KEY, MSG_ID, TS, BODY))
    decoy = headers("v1,bm9wZQ==", msg_id="other", ts=TS + 5, prefix="svix")
    both = {**decoy, **good}
    for kind in header_kinds(both):
        assert verifier.verify(BODY, kind, now=TS) is None
    # Per header: a missing webhook-id is filled from svix-id.
    mixed = {**good, "svix-id": MSG_ID}
    del mixed["webhook-id"]
    assert verifier.verify(BODY, mixed, now=TS) is None


def test_alias_errors_name_the_header_read() -> None:
    verifier = StandardWebhook(WHSEC)
    svix = headers("v1,x", ts=TS, prefix="svix")
    with pytest.raises(InvalidTimestampError, match="svix-timestamp"):
        verifier.verify(BODY, {**svix, "svix-timestamp": "soon"}, now=TS)
    with pytest.raises(InvalidHeaderError, match="svix-signature"):
        verifier.verify(BODY, {**svix, "svix-signature": 5}, now=TS)
    with pytest.raises(MissingHeaderError, match="webhook-id"):
        verifier.verify(BODY, {k: v for k, v in svix.items() if k != "svix-id"}, now=TS)


def test_pairs_with_aliases_are_read_once() -> None:
    verifier = StandardWebhook(WHSEC)
    svix = headers(standard_signature(HMAC_KEY, MSG_ID, TS, BODY), prefix="svix")
    pairs = [(b"content-type", b"application/json")] + [
        (k.encode(), v.encode()) for k, v in svix.items()
    ]
    assert verifier.verify(BODY, iter(pairs), now=TS) is None


# ------------------------------------------------------------------ batches of v1a


def v1a_batch(count: int) -> tuple[list[Any], list[Any]]:
    payloads: list[Any] = []
    headers_list: list[Any] = []
    for i in range(count):
        body = b'{"n":%d}' % i
        signature = v1a_signature(KEY, f"msg_{i}", TS, body)
        item = headers(signature, msg_id=f"msg_{i}")
        kind = i % 9
        if kind == 1:
            body += b" "
        elif kind == 2:
            item["webhook-signature"] = "v1a," + base64.b64encode(bytes(64)).decode()
        elif kind == 3:
            item["webhook-signature"] = signature[:-4] + "AAA="
        elif kind == 4:
            item["webhook-timestamp"] = str(TS + 1000)
        payloads.append(body)
        headers_list.append(item)
    return payloads, headers_list


@pytest.mark.parametrize("count", [3, 50, 2000])
def test_v1a_batch_equals_single_verifications(count: int) -> None:
    verifier = StandardWebhook(WHPK)
    payloads, headers_list = v1a_batch(count)
    singles = [
        outcome(lambda p=p, h=h: verifier.verify(p, h, now=TS))
        for p, h in zip(payloads, headers_list, strict=True)
    ]
    assert verifier.verify_many(payloads, headers_list, now=TS) == [s is None for s in singles]
    errors = verifier.verify_each(payloads, headers_list, now=TS)
    assert [None if e is None else type(e) for e in errors] == singles
    assert None in singles and InvalidSignatureError in singles


def test_v1a_batch_all_valid_from_several_threads() -> None:
    verifier = StandardWebhook([WHPK])
    bodies = [b"body %d" % i for i in range(600)]
    headers_list = [headers(v1a_signature(KEY, "m", TS, body), msg_id="m") for body in bodies]
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: verifier.verify_many(bodies, headers_list, now=TS), range(4))
        )
    assert results == [[True] * 600] * 4
