"""``verify_many`` (and the single verifications) give the same answers from many threads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from _support import hmac_hex

from relaywire.webhooks import (
    HmacVerifier,
    LinktorVerifier,
    StandardWebhook,
    linktor_signature,
    verify_linktor,
)

THREADS = 8
CALLS = 24
NOW = 1_700_000_000


def make_bodies(count: int, size: int) -> list[bytes]:
    return [(i.to_bytes(4, "big") * (size // 4 + 1))[:size] for i in range(count)]


def linktor_batch(count: int, size: int) -> tuple[Callable[[], list[bool]], list[bool]]:
    verifier = LinktorVerifier("thread secret")
    bodies: list[Any] = make_bodies(count, size)
    sigs: list[Any] = [verifier.sign(b) if i % 3 else "0" * 64 for i, b in enumerate(bodies)]
    expected = [verifier.verify(b, s) for b, s in zip(bodies, sigs, strict=True)]
    return (lambda: verifier.verify_many(bodies, sigs)), expected


def standard_batch(count: int, size: int) -> tuple[Callable[[], list[bool]], list[bool]]:
    webhook = StandardWebhook(b"thread key")
    bodies: list[Any] = make_bodies(count, size)
    headers: list[Any] = []
    for i, body in enumerate(bodies):
        ts = NOW + (i % 11) * 60 - 300
        headers.append(
            {
                "webhook-id": f"msg_{i}",
                "webhook-timestamp": str(ts),
                "webhook-signature": webhook.sign(f"msg_{i}", ts, body if i % 4 else b"x"),
            }
        )
    expected = []
    for body, h in zip(bodies, headers, strict=True):
        try:
            webhook.verify(body, h, now=NOW)
            expected.append(True)
        except Exception:
            expected.append(False)
    return (lambda: webhook.verify_many(bodies, headers, now=NOW)), expected


def generic_batch(count: int, size: int) -> tuple[Callable[[], list[bool]], list[bool]]:
    verifier = HmacVerifier("thread secret", encoding="base64", prefix="sha256=")
    bodies: list[Any] = [bytearray(b) for b in make_bodies(count, size)]
    sigs: list[Any] = [verifier.sign(b) if i % 5 else None for i, b in enumerate(bodies)]
    expected = [verifier.verify(b, s) for b, s in zip(bodies, sigs, strict=True)]
    return (lambda: verifier.verify_many(bodies, sigs)), expected


@pytest.mark.parametrize("make", [linktor_batch, standard_batch, generic_batch])
@pytest.mark.parametrize(
    ("count", "size"),
    [pytest.param(50, 64, id="small-serial"), pytest.param(2000, 1024, id="large-parallel")],
)
def test_verify_many_from_many_threads(
    make: Callable[[int, int], tuple[Callable[[], list[bool]], list[bool]]],
    count: int,
    size: int,
) -> None:
    call, expected = make(count, size)
    assert True in expected and False in expected
    serial = [call() for _ in range(2)]
    assert serial == [expected, expected]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(lambda _: call(), range(CALLS)))
    assert len(results) == CALLS
    for result in results:
        assert result == expected


def test_different_verifiers_concurrently() -> None:
    makers = [linktor_batch, standard_batch, generic_batch]
    jobs = [maker(1500, 512) for maker in makers] * 4
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [(pool.submit(call), expected) for call, expected in jobs]
        for future, expected in futures:
            assert future.result() == expected


def test_module_functions_with_different_secrets_per_thread() -> None:
    """The module-level functions cache the last key per thread; concurrent callers with
    different secrets must never see each other's key."""
    body = b'{"thread": true}'

    def work(n: int) -> list[bool]:
        secret = f"secret-{n % 4}"
        other = f"secret-{(n + 1) % 4}"
        answers = []
        for _ in range(200):
            sig = linktor_signature(body, secret)
            assert sig == hmac_hex(secret, body)
            answers.append(verify_linktor(body, sig, secret))
            answers.append(not verify_linktor(body, sig, other))
        return answers

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(work, range(16)))
    assert all(all(answers) for answers in results)
