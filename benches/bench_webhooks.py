"""Webhook verification: relaywire against the pure-Python paths it replaces.

Run from the repository root::

    pip install -e '.[bench]'             # adds the ``standardwebhooks`` baseline
    python benches/bench_webhooks.py          # default run, under a minute on 2 cores
    python benches/bench_webhooks.py --quick  # 3 rounds, 5 sizes, a few seconds
    python benches/bench_webhooks.py --check  # exit 1 if a target FAILs

Method
------
Every case is a group of contenders (one baseline and one or more relaywire calls) measured in the
same process, side by side. Each contender's loop is first sized so that one round takes about
40 ms (20 ms with ``--quick``). The contenders then run in alternation, A, B, A, B, ... for 15
rounds (3 with ``--quick``), each round timed with ``time.perf_counter_ns`` around the whole loop
with the garbage collector disabled. The per-op time of a contender is its best (minimum) round
divided by the loop count, and the ratio is ``baseline / relaywire``: above 1 means relaywire is
that many times faster. Alternating the contenders exposes them to the same machine noise
(frequency scaling, neighbours on a shared host), and the minimum keeps the least disturbed round.

Every contender is checked once before it is timed, so a row can never measure a fast failure.

Cases
-----
1. Linktor verify, over random bodies of 64 B to 1 MiB: ``verify_linktor`` and
   ``LinktorVerifier.verify`` against the check the official Linktor SDK does
   (``hmac.new(...).hexdigest()`` then ``hmac.compare_digest``). From 64 KiB up, where hashing
   dominates, relaywire is also set against ``hmac.digest(key, body, "sha256")``, the fastest
   stdlib one-shot (no hex, no comparison), to show the hash kernel itself. The module function
   keys the HMAC once per secret and reuses it, as a receiver calling it with one secret would see;
   the SDK path keys it on every call, as the SDK does.
2. Standard Webhooks verify, over JSON bodies of 64 B to 1 MiB:
   ``standardwebhooks.webhooks.Webhook.verify`` against ``StandardWebhook.verify``. The bodies are
   valid JSON objects shaped like real deliveries (see ``json_body``) because the library parses
   the body after a successful check (``json.loads``) and returns it, while relaywire only
   verifies. An informative row at 1 KiB adds
   ``orjson.loads(body)`` after relaywire's verify for the like-for-like cost.
3. Batches: ``verify_many`` against a Python loop of ``verify`` with the same verifier, for
   ``LinktorVerifier`` and ``StandardWebhook``, on 10,000 distinct 1 KiB bodies, and 100 bodies
   (informative). ``verify_many`` releases the GIL and may use every core, so the batch ratios
   depend on the CPU count printed in the header. Batch rows give per-body times.
4. Providers, one 1 KiB delivery each, against the provider's own library: Stripe
   (``stripe.WebhookSignature.verify_header``, not ``construct_event``, which also parses), Slack
   (``slack_sdk`` ``SignatureVerifier.is_valid_request``) and Twilio (``twilio``
   ``RequestValidator.validate`` on the form parameters a framework already parsed; relaywire
   parses the raw form body itself). Headers are what a framework hands over: the provider's
   headers among eight usual ones, names in lowercase.
5. Ed25519: ``Discord.verify`` against the same check written with ``cryptography`` (OpenSSL),
   and a Standard Webhooks ``v1a`` row (informative); ``Discord.verify_many`` of 10,000 against
   a loop of ``Discord.verify`` (batch verification, on every core).
6. Archives (``--cases archive``; minutes, several GiB of memory): ``verify_arrow`` over a table
   of 1,000,000 deliveries of 1 KiB against ``StandardWebhook.verify_many`` on the same
   deliveries as Python objects; ``relaywire verify`` on a 1,000,000-line JSON lines archive
   (deliveries per second, against a Python loop of ``json.loads`` + ``standardwebhooks`` on its
   first 100,000 lines); and the README's Dask recipe on a Parquet archive with 1 and 2 worker
   processes, each worker limited to one core (``RAYON_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``)
   so that the ratio shows the recipe scaling out, as across machines. ``--cases verify`` runs
   the ``relaywire verify`` row alone.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
import json
import os
import platform
import random
import string
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from types import ModuleType
from typing import Any

import orjson

from relaywire.webhooks import (
    Discord,
    LinktorVerifier,
    Slack,
    StandardWebhook,
    Stripe,
    Twilio,
    WebhookVerificationError,
    linktor_signature,
    verify_arrow,
    verify_linktor,
)

KIB = 1024
MIB = 1024 * KIB
FULL_SIZES = (64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB)
QUICK_SIZES = (64, 256, KIB, 64 * KIB, MIB)
#: Sizes from which the Linktor case also compares against a bare ``hmac.digest``.
DIGEST_MIN_SIZE = 64 * KIB
BATCH_BODY_SIZE = KIB
LARGE_BATCH = 10_000
SMALL_BATCH = 100

LINKTOR_SECRET = "whsk_linktor_benchmark_secret_0123456789"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"relaywire-bench-secret-24b").decode("ascii")

#: ``relaywire`` must be at most 1.15x slower: a ratio of at least 1 / 1.15.
WITHIN_1_15 = 1 / 1.15


# ------------------------------------------------------------------------------------- baselines


def load_standardwebhooks() -> ModuleType:
    """Imports ``standardwebhooks.webhooks``, or exits with the command that installs it."""
    try:
        import standardwebhooks.webhooks as module
    except ImportError:
        sys.exit(
            "standardwebhooks is not installed; it is the Standard Webhooks baseline.\n"
            "Install the benchmark extra from the repository root: pip install '.[bench]'"
        )
    return module


def linktor_sdk_verify(payload: bytes, signature: str, secret: str) -> bool:
    """The signature check of the official Linktor SDK, stdlib only."""
    if not signature or not secret:
        return False
    expected = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


def relaywire_verify_and_parse(
    webhook: StandardWebhook, payload: bytes, headers: dict[str, str]
) -> Any:
    """relaywire's Standard Webhooks check followed by a parse, as the library returns."""
    webhook.verify(payload, headers)
    return orjson.loads(payload)


def linktor_loop(
    verifier: LinktorVerifier, payloads: Sequence[bytes], signatures: Sequence[str]
) -> list[bool]:
    """One ``verify`` per body: what ``verify_many`` replaces."""
    return [verifier.verify(b, s) for b, s in zip(payloads, signatures, strict=True)]


def standard_loop(
    webhook: StandardWebhook, payloads: Sequence[bytes], headers: Sequence[dict[str, str]]
) -> list[bool]:
    """One ``verify`` per body, exceptions turned into ``False``: what ``verify_many`` replaces."""
    results = []
    for payload, header in zip(payloads, headers, strict=True):
        try:
            webhook.verify(payload, header)
        except WebhookVerificationError:
            results.append(False)
        else:
            results.append(True)
    return results


# ------------------------------------------------------------------------------------------ data


def random_body(rng: random.Random, size: int) -> bytes:
    """``size`` random bytes."""
    return rng.randbytes(size)


def json_body(rng: random.Random, size: int) -> bytes:
    """A webhook-shaped JSON event of exactly ``size`` bytes (``size`` >= 64).

    Realistic deliveries are small nested objects (ids, a type, a timestamp, a few fields of
    data), not one long string; the message text is padded to reach the size exactly. Small
    sizes keep only as much of the event as fits.
    """
    event: dict[str, Any] = {
        "type": "message.received",
        "id": f"evt_{rng.getrandbits(48):012x}",
        "timestamp": "2026-11-22T10:30:00Z",
        "data": {
            "conversationId": f"conv_{rng.getrandbits(32):08x}",
            "contact": {
                "id": f"ct_{rng.getrandbits(32):08x}",
                "name": "Ada",
                "channel": "whatsapp",
            },
            "message": {"direction": "inbound", "contentType": "text", "text": ""},
            "metadata": {"attempt": 1, "priority": "normal", "tags": ["support", "order"]},
        },
    }
    minimal: dict[str, Any] = {"type": "bench.event", "data": {"message": {"text": ""}}}
    for candidate in (event, minimal):
        bare = orjson.dumps(candidate)
        pad = size - len(bare)
        if pad >= 0:
            candidate["data"]["message"]["text"] = "".join(
                rng.choices(string.ascii_letters + " ", k=pad)
            )
            body = orjson.dumps(candidate)
            assert len(body) == size
            return body
    raise ValueError(f"a JSON body cannot be as small as {size} bytes")


def standard_headers(webhook: StandardWebhook, msg_id: str, payload: bytes) -> dict[str, str]:
    """Fresh Standard Webhooks headers signing ``payload``."""
    timestamp = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook.sign(msg_id, timestamp, payload),
    }


# ---------------------------------------------------------------------------------------- timing


@contextmanager
def gc_disabled() -> Iterator[None]:
    """Disables the garbage collector for the block, restoring its previous state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_loop(fn: Callable[..., Any], args: tuple[Any, ...], n: int) -> int:
    """Nanoseconds for ``n`` calls of ``fn(*args)``, with the arguments spelled out in the call."""
    # One loop per arity, so that no contender pays for unpacking ``*args`` on every call.
    with gc_disabled():
        if not args:
            start = time.perf_counter_ns()
            for _ in repeat(None, n):
                fn()
            return time.perf_counter_ns() - start
        if len(args) == 1:
            (a,) = args
            start = time.perf_counter_ns()
            for _ in repeat(None, n):
                fn(a)
            return time.perf_counter_ns() - start
        if len(args) == 2:
            a, b = args
            start = time.perf_counter_ns()
            for _ in repeat(None, n):
                fn(a, b)
            return time.perf_counter_ns() - start
        if len(args) == 3:
            a, b, c = args
            start = time.perf_counter_ns()
            for _ in repeat(None, n):
                fn(a, b, c)
            return time.perf_counter_ns() - start
    raise ValueError(f"no timing loop for {len(args)} arguments")


@dataclass
class Contender:
    """One timed call, ``fn(*args)``, which must return ``expected``."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    expected: Any
    loops: int = field(default=0, init=False)
    best_ns: float = field(default=float("inf"), init=False)

    def check(self) -> None:
        """Fails loudly if the call does not succeed, so no row times an early failure."""
        result = self.fn(*self.args)
        if result != self.expected:
            raise AssertionError(f"{self.name}: expected {self.expected!r}, got {result!r}")

    def calibrate(self, round_ns: int) -> None:
        """Sizes the loop so that one round takes about ``round_ns``."""
        n = 1
        while True:
            elapsed = time_loop(self.fn, self.args, n)
            if elapsed >= round_ns // 10 or n >= 1 << 24:
                break
            n *= 4
        self.loops = max(1, round(n * round_ns / max(elapsed, 1)))

    def run_round(self) -> None:
        """Times one round and keeps the best per-op time."""
        elapsed = time_loop(self.fn, self.args, self.loops)
        self.best_ns = min(self.best_ns, elapsed / self.loops)


def measure(contenders: Sequence[Contender], rounds: int, round_ns: int) -> None:
    """Checks, calibrates, then times the contenders in alternating rounds."""
    for contender in contenders:
        contender.check()
        contender.calibrate(round_ns)
    gc.collect()
    for _ in range(rounds):
        for contender in contenders:
            contender.run_round()


# ---------------------------------------------------------------------------------------- report


@dataclass
class Target:
    """A lower bound on the ratio; informative targets never fail ``--check``."""

    minimum: float
    label: str
    informative: bool = False

    def verdict(self, ratio: float) -> str:
        passed = ratio >= self.minimum
        if self.informative:
            return "pass (info)" if passed else "fail (info)"
        return "PASS" if passed else "FAIL"


@dataclass
class Row:
    """One line of the table: a relaywire contender against a baseline from the same group."""

    case: str
    size: str
    baseline: Contender
    relaywire: Contender
    target: Target | None = None
    per: int = 1  # Items per call: per-op times are divided by it (batches report per body).

    @property
    def ratio(self) -> float:
        return self.baseline.best_ns / self.relaywire.best_ns

    @property
    def failed(self) -> bool:
        target = self.target
        return target is not None and not target.informative and self.ratio < target.minimum


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  {row.case} [{row.size}]: {format_ratio(row.ratio)}", file=sys.stderr)

    def table(self) -> str:
        header = (
            "| case | body size | baseline | baseline per-op | relaywire per-op "
            "| ratio (x faster) | target | result |"
        )
        lines = [header, "|" + "---|" * 8]
        for row in self.rows:
            target = row.target
            cells = [
                row.case,
                row.size,
                row.baseline.name,
                format_ns(row.baseline.best_ns / row.per),
                format_ns(row.relaywire.best_ns / row.per),
                format_ratio(row.ratio),
                target.label if target else "",
                target.verdict(row.ratio) if target else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def format_size(size: int) -> str:
    if size >= MIB:
        return f"{size // MIB} MiB"
    if size >= KIB:
        return f"{size // KIB} KiB"
    return f"{size} B"


def format_ns(ns: float) -> str:
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} us"
    return f"{ns / 1_000_000:.2f} ms"


def format_ratio(ratio: float) -> str:
    return f"{ratio:.2f}x"


# ----------------------------------------------------------------------------------------- cases


def linktor_target(size: int) -> Target | None:
    if size == 256:
        return Target(3.0, ">= 3.0x")
    if size == 64 * KIB:
        return Target(WITHIN_1_15, ">= 0.87x (within 1.15x)")
    return None


def bench_linktor(report: Report, sizes: Sequence[int], rounds: int, round_ns: int) -> None:
    """Case 1: one Linktor signature, relaywire against the SDK's stdlib check."""
    rng = random.Random(1)
    key = LINKTOR_SECRET.encode("utf-8")
    verifier = LinktorVerifier(LINKTOR_SECRET)
    for size in sizes:
        body = random_body(rng, size)
        signature = linktor_signature(body, LINKTOR_SECRET)
        sdk = Contender(
            "Linktor SDK (hmac.new+compare_digest)",
            linktor_sdk_verify,
            (body, signature, LINKTOR_SECRET),
            True,
        )
        module_fn = Contender(
            "verify_linktor", verify_linktor, (body, signature, LINKTOR_SECRET), True
        )
        method = Contender("LinktorVerifier.verify", verifier.verify, (body, signature), True)
        group = [sdk, module_fn, method]
        digest = None
        if size >= DIGEST_MIN_SIZE:
            expected_digest = bytes.fromhex(signature)
            digest = Contender(
                "hmac.digest (no hex, no compare)",
                hmac.digest,
                (key, body, "sha256"),
                expected_digest,
            )
            group.append(digest)
        measure(group, rounds, round_ns)

        label = format_size(size)
        report.add(
            Row("Linktor verify: verify_linktor()", label, sdk, module_fn, linktor_target(size))
        )
        report.add(Row("Linktor verify: LinktorVerifier.verify()", label, sdk, method))
        if digest is not None:
            info = None
            if size == 64 * KIB:
                info = Target(WITHIN_1_15, ">= 0.87x (informative)", informative=True)
            report.add(
                Row("Linktor verify_linktor() vs bare digest", label, digest, module_fn, info)
            )


def bench_standard(report: Report, sizes: Sequence[int], rounds: int, round_ns: int) -> None:
    """Case 2: one Standard Webhooks message, relaywire against the ``standardwebhooks`` package."""
    library = load_standardwebhooks()
    rng = random.Random(2)
    theirs = library.Webhook(STANDARD_SECRET)
    ours = StandardWebhook(STANDARD_SECRET)
    for size in sizes:
        body = json_body(rng, size)
        headers = standard_headers(ours, f"msg_{size}", body)
        parsed = orjson.loads(body)
        baseline = Contender(
            "standardwebhooks Webhook.verify (+json.loads)", theirs.verify, (body, headers), parsed
        )
        verify = Contender("StandardWebhook.verify", ours.verify, (body, headers), None)
        group = [baseline, verify]
        with_parse = None
        if size == KIB:
            with_parse = Contender(
                "StandardWebhook.verify + orjson.loads",
                relaywire_verify_and_parse,
                (ours, body, headers),
                parsed,
            )
            group.append(with_parse)
        measure(group, rounds, round_ns)

        label = format_size(size) + " JSON"
        target = Target(10.0, ">= 10x") if size == KIB else None
        report.add(Row("Standard Webhooks verify", label, baseline, verify, target))
        if with_parse is not None:
            report.add(
                Row("Standard Webhooks verify + orjson.loads (info)", label, baseline, with_parse)
            )


def bench_linktor_batch(report: Report, count: int, rounds: int, round_ns: int) -> None:
    """Case 3a: ``LinktorVerifier.verify_many`` against a loop of ``verify``."""
    rng = random.Random(3)
    verifier = LinktorVerifier(LINKTOR_SECRET)
    bodies = [random_body(rng, BATCH_BODY_SIZE) for _ in range(count)]
    signatures = [verifier.sign(body) for body in bodies]
    all_true = [True] * count
    loop = Contender(
        "Python loop of LinktorVerifier.verify",
        linktor_loop,
        (verifier, bodies, signatures),
        all_true,
    )
    many = Contender(
        "LinktorVerifier.verify_many", verifier.verify_many, (bodies, signatures), all_true
    )
    measure([loop, many], rounds, round_ns)
    if count == LARGE_BATCH:
        target = Target(1.5, ">= 1.5x")
        case = "Linktor verify_many"
    else:
        target = None
        case = "Linktor verify_many (info)"
    size = f"{count:,} x {format_size(BATCH_BODY_SIZE)}"
    report.add(Row(case, size, loop, many, target, per=count))


def bench_standard_batch(report: Report, count: int, rounds: int, round_ns: int) -> None:
    """Case 3b: ``StandardWebhook.verify_many`` against a loop of ``verify`` in try/except."""
    rng = random.Random(4)
    webhook = StandardWebhook(STANDARD_SECRET)
    bodies = [json_body(rng, BATCH_BODY_SIZE) for _ in range(count)]
    headers = [standard_headers(webhook, f"msg_{i}", body) for i, body in enumerate(bodies)]
    all_true = [True] * count
    loop = Contender(
        "Python loop of StandardWebhook.verify", standard_loop, (webhook, bodies, headers), all_true
    )
    many = Contender(
        "StandardWebhook.verify_many", webhook.verify_many, (bodies, headers), all_true
    )
    measure([loop, many], rounds, round_ns)
    size = f"{count:,} x {format_size(BATCH_BODY_SIZE)} JSON"
    report.add(Row("Standard Webhooks verify_many (info)", size, loop, many, per=count))


# ------------------------------------------------------------------------------ provider cases


def load(module: str, extra: str = "bench") -> ModuleType:
    """Imports a baseline library, or exits with the command that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        sys.exit(f"{module} is not installed; it is a baseline. pip install '.[{extra}]'")


def request_headers(signed: dict[str, str], size: int) -> dict[str, str]:
    """What a web framework hands a receiver: the provider's headers among the usual ones."""
    headers = {
        "host": "hooks.example.com",
        "user-agent": "Provider-Webhooks/1.0",
        "content-type": "application/json",
        "content-length": str(size),
        "accept": "*/*",
        "accept-encoding": "gzip",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "https",
    }
    headers.update({name.lower(): value for name, value in signed.items()})
    return headers


def form_body(rng: random.Random, size: int) -> bytes:
    """An ``application/x-www-form-urlencoded`` body of about ``size`` bytes (20 fields)."""
    from urllib.parse import urlencode

    width = max(1, size // 20 - 12)
    fields = {
        f"Field{i:02d}": "".join(rng.choices(string.ascii_letters, k=width)) for i in range(20)
    }
    return urlencode(fields).encode()


def bench_providers(report: Report, rounds: int, round_ns: int) -> None:
    """Case 4: Stripe, Slack and Twilio at 1 KiB against their own libraries."""
    stripe = load("stripe")
    slack_signature = load("slack_sdk.signature")
    twilio_validator = load("twilio.request_validator")
    rng = random.Random(5)
    now = int(time.time())

    body = json_body(rng, KIB)
    ours = Stripe("whsec_relaywire_bench_secret")
    headers = request_headers(ours.sign(body, timestamp=now), len(body))

    def stripe_library(payload: bytes, request: dict[str, str]) -> bool:
        return bool(
            stripe.WebhookSignature.verify_header(
                payload, request["stripe-signature"], "whsec_relaywire_bench_secret", 300
            )
        )

    baseline = Contender(
        "stripe WebhookSignature.verify_header", stripe_library, (body, headers), True
    )
    verify = Contender("Stripe.verify", ours.verify, (body, headers), None)
    measure([baseline, verify], rounds, round_ns)
    report.add(Row("Stripe verify", "1 KiB JSON", baseline, verify, Target(5.0, ">= 5x")))

    slack = Slack("slack-bench-signing-secret")
    headers = request_headers(slack.sign(body, timestamp=now), len(body))
    theirs = slack_signature.SignatureVerifier("slack-bench-signing-secret")
    baseline = Contender(
        "slack_sdk SignatureVerifier.is_valid_request",
        theirs.is_valid_request,
        (body, headers),
        True,
    )
    verify = Contender("Slack.verify", slack.verify, (body, headers), None)
    measure([baseline, verify], rounds, round_ns)
    report.add(Row("Slack verify", "1 KiB JSON", baseline, verify, Target(5.0, ">= 5x")))

    from urllib.parse import parse_qsl

    form = form_body(rng, KIB)
    url = "https://hooks.example.com/twilio/sms?tenant=bench"
    twilio = Twilio("twilio-bench-auth-token")
    headers = request_headers(twilio.sign(form, url=url), len(form))
    headers["content-type"] = "application/x-www-form-urlencoded"
    params = dict(parse_qsl(form.decode(), keep_blank_values=True))
    validator = twilio_validator.RequestValidator("twilio-bench-auth-token")

    def twilio_library(request: dict[str, str]) -> bool:
        return bool(validator.validate(url, params, request["x-twilio-signature"]))

    baseline = Contender(
        "twilio RequestValidator.validate (parsed params)", twilio_library, (headers,), True
    )
    verify = Contender(
        "Twilio.verify (raw form body)",
        lambda b, h: twilio.verify(b, h, url=url),
        (form, headers),
        None,
    )
    measure([baseline, verify], rounds, round_ns)
    report.add(
        Row(
            "Twilio verify",
            f"{format_size(len(form))} form",
            baseline,
            verify,
            Target(5.0, ">= 5x"),
        )
    )


# ------------------------------------------------------------------------------ Ed25519


def bench_ed25519(report: Report, rounds: int, round_ns: int) -> None:
    """Case 5: one Ed25519 signature, and a batch of 10,000."""
    load("cryptography")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    rng = random.Random(6)
    private = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    public = private.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    now = int(time.time())
    body = json_body(rng, KIB)

    def discord_headers(payload: bytes) -> dict[str, str]:
        signature = private.sign(str(now).encode() + payload).hex()
        signed = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": str(now)}
        return request_headers(signed, len(payload))

    headers = discord_headers(body)

    def with_cryptography(payload: bytes, request: dict[str, str]) -> bool:
        try:
            public.verify(
                bytes.fromhex(request["x-signature-ed25519"]),
                request["x-signature-timestamp"].encode() + payload,
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    discord = Discord(raw.hex())
    baseline = Contender(
        "cryptography Ed25519 verify (OpenSSL)", with_cryptography, (body, headers), True
    )
    verify = Contender("Discord.verify", discord.verify, (body, headers), None)
    measure([baseline, verify], rounds, round_ns)
    report.add(
        Row("Ed25519 verify (Discord)", "1 KiB JSON", baseline, verify, Target(1.0, ">= 1.0x"))
    )

    whpk = "whpk_" + base64.b64encode(raw).decode()
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    signer = StandardWebhook("whsk_" + base64.b64encode(seed).decode())
    std_headers = request_headers(
        {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(now),
            "webhook-signature": signer.sign("msg_1", now, body),
        },
        len(body),
    )

    def v1a_with_cryptography(payload: bytes, request: dict[str, str]) -> bool:
        signed = f"{request['webhook-id']}.{request['webhook-timestamp']}.".encode() + payload
        for entry in request["webhook-signature"].split(" "):
            version, _, encoded = entry.partition(",")
            if version == "v1a":
                try:
                    public.verify(base64.b64decode(encoded), signed)
                    return True
                except (InvalidSignature, ValueError):
                    continue
        return False

    ours = StandardWebhook(whpk)
    baseline = Contender(
        "cryptography Ed25519 verify (OpenSSL)", v1a_with_cryptography, (body, std_headers), True
    )
    verify = Contender("StandardWebhook(whpk_).verify", ours.verify, (body, std_headers), None)
    measure([baseline, verify], rounds, round_ns)
    report.add(Row("Standard Webhooks v1a verify (info)", "1 KiB JSON", baseline, verify))

    bodies = [json_body(rng, KIB) for _ in range(LARGE_BATCH)]
    headers_list = [discord_headers(b) for b in bodies]
    all_true = [True] * LARGE_BATCH

    def loop(payloads: list[bytes], requests: list[dict[str, str]]) -> list[bool]:
        results = []
        for payload, request in zip(payloads, requests, strict=True):
            try:
                discord.verify(payload, request)
            except WebhookVerificationError:
                results.append(False)
            else:
                results.append(True)
        return results

    baseline = Contender("Python loop of Discord.verify", loop, (bodies, headers_list), all_true)
    many = Contender(
        "Discord.verify_many (batch, every core)",
        discord.verify_many,
        (bodies, headers_list),
        all_true,
    )
    measure([baseline, many], max(3, rounds // 3), round_ns)
    size = f"{LARGE_BATCH:,} x {format_size(KIB)} JSON"
    report.add(
        Row(
            "Ed25519 verify_many (Discord)",
            size,
            baseline,
            many,
            Target(1.8, ">= 1.8x"),
            per=LARGE_BATCH,
        )
    )


# ------------------------------------------------------------------------------ archives

ARCHIVE_SECRET = "whsec_" + base64.b64encode(b"relaywire archive bench secret").decode()


def archive_deliveries(
    count: int,
) -> tuple[StandardWebhook, list[bytes], list[dict[str, str]], int]:
    """``count`` distinct signed Standard Webhooks deliveries of 1 KiB (random bytes)."""
    webhook = StandardWebhook(ARCHIVE_SECRET)
    now = int(time.time())
    rng = random.Random(7)
    pool = b"".join(
        rng.randbytes(MIB) for _ in range(count // KIB + 1)
    )  # randbytes caps at 256 MiB
    bodies = [pool[i * KIB : (i + 1) * KIB] for i in range(count)]
    headers = [
        {
            "webhook-id": f"msg_{i}",
            "webhook-timestamp": str(now),
            "webhook-signature": webhook.sign(f"msg_{i}", now, b),
        }
        for i, b in enumerate(bodies)
    ]
    return webhook, bodies, headers, now


def bench_arrow(report: Report, count: int, rounds: int) -> None:
    """Case 6a: verify_arrow against verify_many on the same deliveries."""
    pa = load("pyarrow", "arrow")
    load("pyarrow.compute", "arrow")
    print(f"  building {count:,} deliveries for the Arrow case...", file=sys.stderr)
    webhook, bodies, headers, now = archive_deliveries(count)
    table = pa.table(
        {
            "body": pa.array(bodies, pa.binary()),
            "webhook-id": [h["webhook-id"] for h in headers],
            "webhook-timestamp": [h["webhook-timestamp"] for h in headers],
            "webhook-signature": [h["webhook-signature"] for h in headers],
        }
    )
    many = Contender(
        "StandardWebhook.verify_many (Python objects)",
        lambda: webhook.verify_many(bodies, headers, now=now).count(True),
        (),
        count,
    )
    arrow = Contender(
        "verify_arrow (Arrow columns)",
        lambda: pa.compute.sum(verify_arrow(webhook, table, now=now)).as_py(),
        (),
        count,
    )
    measure([many, arrow], rounds, 1)
    size = f"{count:,} x {format_size(KIB)}"
    report.add(
        Row("verify_arrow vs verify_many", size, many, arrow, Target(0.8, ">= 0.8x"), per=count)
    )


def write_jsonl_archive(path: str, count: int) -> None:
    webhook = StandardWebhook(ARCHIVE_SECRET)
    now = int(time.time())
    rng = random.Random(8)
    template = json_body(rng, KIB)
    with open(path, "wb") as out:
        for i in range(count):
            # Every line the same size: a 16-character event type that counts.
            body = template.replace(b'"type":"message.received"', b'"type":"m%015d"' % i, 1)
            line = {
                "source": "standard",
                "id": f"msg_{i}",
                "received_at": now,
                "headers": {
                    "webhook-id": f"msg_{i}",
                    "webhook-timestamp": str(now),
                    "webhook-signature": webhook.sign(f"msg_{i}", now, body),
                },
                "body": body.decode(),
            }
            out.write(orjson.dumps(line) + b"\n")


def bench_cli(report: Report, count: int, workdir: str) -> None:
    """Case 6b: ``relaywire verify`` on a JSON lines archive, deliveries per second."""
    import subprocess

    library = load_standardwebhooks()
    archive = os.path.join(workdir, "archive.jsonl")
    config = os.path.join(workdir, "sources.toml")
    print(f"  writing a {count:,}-line archive...", file=sys.stderr)
    write_jsonl_archive(archive, count)
    with open(config, "w") as out:
        out.write('[[sources]]\nname = "standard"\npath = "/hooks"\nscheme = "standard"\n')
        out.write(f'secrets = ["{ARCHIVE_SECRET}"]\n')

    sample = min(count, 100_000)
    theirs = library.Webhook(ARCHIVE_SECRET)

    def python_loop() -> int:
        passed = 0
        with open(archive, "rb") as lines:
            for _, raw in zip(range(sample), lines, strict=False):
                item = json.loads(raw)
                try:
                    theirs.verify(item["body"], item["headers"])
                    passed += 1
                except Exception:
                    pass
        return passed

    started = time.perf_counter_ns()
    assert python_loop() == sample
    loop = Contender(
        f"Python loop: json.loads + standardwebhooks ({sample:,} lines)", python_loop, (), sample
    )
    loop.best_ns = (time.perf_counter_ns() - started) / sample

    command = [
        sys.executable,
        "-m",
        "relaywire",
        "verify",
        "--config",
        config,
        "--no-progress",
        archive,
    ]
    started = time.perf_counter_ns()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter_ns() - started
    if result.returncode != 0:
        raise AssertionError(f"relaywire verify failed: {result.stdout}{result.stderr}")
    ours = Contender("relaywire verify (whole command)", lambda: None, (), None)
    ours.best_ns = elapsed / count
    rate = count / (elapsed / 1e9)
    report.add(
        Row(
            f"relaywire verify: {rate:,.0f} deliveries/s",
            f"{count:,} lines x {format_size(KIB)}",
            loop,
            ours,
        )
    )


def bench_dask(report: Report, files: int, rows: int, workdir: str) -> None:
    """Case 6c: the README's Dask recipe with 1 and 2 worker processes (one core each)."""
    pa = load("pyarrow", "dask")
    pq = load("pyarrow.parquet", "dask")
    distributed = load("dask.distributed", "dask")
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- dask-recipe -->\s*```python\n(.*?)```", text, re.S)
    assert match is not None, "the README has no dask-recipe block"
    recipe: dict[str, Any] = {"__name__": "relaywire_readme_dask_recipe"}
    exec(compile(match[1], "README.md (dask-recipe)", "exec"), recipe)

    print(f"  writing {files} Parquet files of {rows:,} deliveries...", file=sys.stderr)
    _, bodies, headers, now = archive_deliveries(rows)
    paths = []
    for file in range(files):
        table = pa.table(
            {
                "body": pa.array(bodies, pa.binary()),
                "webhook-id": [h["webhook-id"] for h in headers],
                "webhook-timestamp": [h["webhook-timestamp"] for h in headers],
                "webhook-signature": [h["webhook-signature"] for h in headers],
                "received_at": pa.array([float(now)] * rows),
            }
        )
        path = os.path.join(workdir, f"part-{file:03d}.parquet")
        pq.write_table(table, path)
        paths.append(path)

    saved = {
        key: os.environ.get(key)
        for key in ("WEBHOOK_SECRETS", "RAYON_NUM_THREADS", "OMP_NUM_THREADS")
    }
    os.environ.update(WEBHOOK_SECRETS=ARCHIVE_SECRET, RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1")
    contenders = []
    try:
        for workers in (1, 2):
            with (
                distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                recipe["verify_archive"](client, paths[:workers])  # warm the workers up
                best = float("inf")
                for _ in range(3):
                    started = time.perf_counter_ns()
                    total, failed = recipe["verify_archive"](client, paths)
                    best = min(best, time.perf_counter_ns() - started)
                    assert (total, failed) == (files * rows, 0)
                contender = Contender(
                    f"recipe, {workers} worker process{'es' if workers > 1 else ''}",
                    lambda: None,
                    (),
                    None,
                )
                contender.best_ns = best / (files * rows)
                contenders.append(contender)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    one, two = contenders
    size = f"{files} files x {rows:,} x {format_size(KIB)}"
    report.add(Row("Dask recipe: speed-up from 1 to 2 workers (info)", size, one, two, per=1))


# ------------------------------------------------------------------------------------------ main


def header_line() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = f"{os.cpu_count()} CPUs" + (f" ({usable} usable)" if usable is not None else "")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{cpus}, Python {python}, {platform.machine()} {platform.system()}"


CASES = ("linktor", "standard", "batch", "providers", "ed25519", "archive", "verify")
DEFAULT_CASES = ("linktor", "standard", "batch", "providers", "ed25519")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes")
    parser.add_argument("--check", action="store_true", help="exit 1 if any target FAILs")
    parser.add_argument(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help=f"comma-separated, from {', '.join(CASES)} (default: all but archive and verify; "
        "verify is the relaywire verify row of archive alone)",
    )
    parser.add_argument(
        "--archive-size",
        type=int,
        default=1_000_000,
        help="deliveries in the archive cases (default: %(default)s; --quick: 100,000)",
    )
    args = parser.parse_args(argv)
    args.cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_standardwebhooks()  # Fail before any timing if the baseline is missing.
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    rounds = 3 if args.quick else 15
    round_ns = (20 if args.quick else 40) * 1_000_000

    print(f"# relaywire webhook benchmark ({header_line()})")
    print(
        f"# {'quick' if args.quick else 'default'} mode: best of {rounds} interleaved rounds "
        f"of ~{round_ns // 1_000_000} ms per contender; ratio = baseline / relaywire"
    )
    started = time.perf_counter()
    report = Report()
    if "linktor" in args.cases:
        bench_linktor(report, sizes, rounds, round_ns)
    if "standard" in args.cases:
        bench_standard(report, sizes, rounds, round_ns)
    if "batch" in args.cases:
        for count in (LARGE_BATCH, SMALL_BATCH):
            bench_linktor_batch(report, count, rounds, round_ns)
            bench_standard_batch(report, count, rounds, round_ns)
    if "providers" in args.cases:
        bench_providers(report, rounds, round_ns)
    if "ed25519" in args.cases:
        bench_ed25519(report, rounds, round_ns)
    if "archive" in args.cases:
        import tempfile

        size = min(args.archive_size, 100_000) if args.quick else args.archive_size
        bench_arrow(report, size, 2 if args.quick else 3)
        with tempfile.TemporaryDirectory(prefix="relaywire-bench-") as workdir:
            bench_cli(report, size, workdir)
            bench_dask(report, 4, max(1, size // 8), workdir)
    elif "verify" in args.cases:
        import tempfile

        size = min(args.archive_size, 100_000) if args.quick else args.archive_size
        with tempfile.TemporaryDirectory(prefix="relaywire-bench-") as workdir:
            bench_cli(report, size, workdir)

    print()
    print(report.table())
    print()
    print(
        "Notes: Standard Webhooks bodies are webhook-shaped JSON events (nested ids, type, "
        "timestamp, contact, message) because standardwebhooks' verify json.loads() the body and "
        "returns it; relaywire's verify does not parse (see the "
        "'+ orjson.loads' row). Batch rows give per-body times; verify_many may use every core. "
        "'(info)' rows and targets never fail --check."
    )
    print(f"Finished in {time.perf_counter() - started:.1f} s.")

    failed = [row for row in report.rows if row.failed]
    if failed:
        print(f"{len(failed)} target(s) FAILED.")
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
