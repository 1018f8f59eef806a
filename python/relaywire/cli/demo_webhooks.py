"""The webhook part of ``relaywire demo``: every scheme on a sample delivery, and a speed table.

A sample delivery is signed and verified with each scheme, a tampered copy is rejected, and a
short speed table compares relaywire with the standard-library path side by side in this process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable

from relaywire._timing import best_per_call, format_duration
from relaywire.webhooks import (
    HmacVerifier,
    LinktorVerifier,
    StandardWebhook,
    WebhookVerificationError,
    verify_linktor,
    verify_linktor_request,
)

__all__ = ["SAMPLE_EVENT", "show_schemes", "speed_table"]

SAMPLE_EVENT = {
    "id": "evt_01HZX3",
    "type": "message.received",
    "timestamp": "2026-11-22T10:30:00Z",
    "tenantId": "t_demo",
    "data": {"conversationId": "conv_42", "text": "Olá! Is my order on its way?"},
}
LINKTOR_SECRET = "linktor-demo-secret"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"relaywire demo signing key").decode()
GITHUB_STYLE_SECRET = "provider-demo-secret"


def _outcome(check: Callable[[], object]) -> str:
    """'accepted' or 'rejected (reason)' for a verification that returns a bool or raises."""
    try:
        result = check()
    except WebhookVerificationError as error:
        return f"rejected ({type(error).__name__}: {error})"
    if result is False:
        return "rejected"
    return "accepted"


def _tampered(body: bytes) -> bytes:
    return body.replace(b"on its way", b"cancelled!")


def show_schemes(body: bytes) -> None:
    now = int(time.time())
    print(f"Sample delivery: {len(body)} bytes of JSON ({SAMPLE_EVENT['type']})\n")

    linktor = LinktorVerifier(LINKTOR_SECRET)
    signature = linktor.sign(body)
    headers = {"X-Linktor-Signature": signature, "X-Linktor-Timestamp": str(now)}
    print("Linktor (X-Linktor-Signature: hex HMAC-SHA256 of the raw body)")
    print(f"  signature      {signature}")
    genuine = _outcome(lambda: verify_linktor_request(body, headers, LINKTOR_SECRET))
    print(f"  genuine        {genuine}")
    print(f"  tampered body  {_outcome(lambda: linktor.verify(_tampered(body), signature))}")
    stale = {**headers, "X-Linktor-Timestamp": str(now - 3600)}
    print(f"  an hour old    {_outcome(lambda: linktor.verify_request(body, stale))}\n")

    standard = StandardWebhook(STANDARD_SECRET)
    std_headers = {
        "webhook-id": "msg_2xDemo",
        "webhook-timestamp": str(now),
        "webhook-signature": standard.sign("msg_2xDemo", now, body),
    }
    print("Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature)")
    print(f"  signature      {std_headers['webhook-signature']}")
    print(f"  genuine        {_outcome(lambda: standard.verify(body, std_headers))}")
    print(f"  tampered body  {_outcome(lambda: standard.verify(_tampered(body), std_headers))}")
    replayed = {**std_headers, "webhook-timestamp": str(now - 3600)}
    print(f"  replayed       {_outcome(lambda: standard.verify(body, replayed))}\n")

    generic = HmacVerifier(GITHUB_STYLE_SECRET, encoding="hex", prefix="sha256=")
    generic_signature = generic.sign(body)
    print("Generic HMAC (here GitHub-style: sha256=<hex>)")
    print(f"  signature      {generic_signature}")
    print(f"  genuine        {_outcome(lambda: generic.verify(body, generic_signature))}")
    tampered = _outcome(lambda: generic.verify(_tampered(body), generic_signature))
    print(f"  tampered body  {tampered}\n")


def _stdlib_linktor(body: bytes, signature: str, secret: str) -> bool:
    """The official Linktor SDK's algorithm."""
    if not signature or not secret:
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


def _stdlib_standard(key: bytes, body: bytes, headers: dict[str, str]) -> bool:
    """Standard Webhooks verification written with the standard library."""
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > 300:
        return False
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, candidate[3:])
        for candidate in headers["webhook-signature"].split()
        if candidate.startswith("v1,")
    )


def speed_table() -> None:
    body = os.urandom(256)
    signature = hmac.new(LINKTOR_SECRET.encode(), body, hashlib.sha256).hexdigest()
    standard = StandardWebhook(STANDARD_SECRET)
    key = base64.b64decode(STANDARD_SECRET.removeprefix("whsec_"))
    json_body = json.dumps({"data": "x" * 1000}).encode()[:1024]
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": standard.sign("msg_1", now, json_body),
    }
    verifier = LinktorVerifier(LINKTOR_SECRET)
    bodies = [os.urandom(1024) for _ in range(2000)]
    signatures = [verifier.sign(b) for b in bodies]

    cases: list[tuple[str, str, Callable[[], object], Callable[[], object]]] = [
        (
            "Linktor verify, 256 B",
            "stdlib hmac (official SDK)",
            lambda: _stdlib_linktor(body, signature, LINKTOR_SECRET),
            lambda: verify_linktor(body, signature, LINKTOR_SECRET),
        ),
        (
            "Standard Webhooks verify, 1 KiB",
            "stdlib hmac + base64",
            lambda: _stdlib_standard(key, json_body, headers),
            lambda: standard.verify(json_body, headers),
        ),
        (
            "verify_many, 2,000 x 1 KiB",
            "loop of .verify",
            lambda: [verifier.verify(b, s) for b, s in zip(bodies, signatures, strict=True)],
            lambda: verifier.verify_many(bodies, signatures),
        ),
    ]
    rows = []
    for name, baseline_name, baseline, ours in cases:
        base_time, our_time = best_per_call([baseline, ours], rounds=3, round_seconds=0.03)
        rows.append((name, baseline_name, base_time, our_time))

    print(f"Speed on this machine ({os.cpu_count()} cores), side by side, best of 3 rounds")
    header = ("check", "baseline", "baseline time", "relaywire", "speed-up")
    table = [header] + [
        (name, base, format_duration(bt), format_duration(ot), f"{bt / ot:.1f}x")
        for name, base, bt, ot in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print(
            (
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))
    print("\nFull benchmarks: python benches/bench_webhooks.py; cargo bench --bench hmac_kernel")
