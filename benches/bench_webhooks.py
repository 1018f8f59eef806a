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
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import hmac
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
    LinktorVerifier,
    StandardWebhook,
    WebhookVerificationError,
    linktor_signature,
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


# ------------------------------------------------------------------------------------------ main


def header_line() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = f"{os.cpu_count()} CPUs" + (f" ({usable} usable)" if usable is not None else "")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{cpus}, Python {python}, {platform.machine()} {platform.system()}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes")
    parser.add_argument("--check", action="store_true", help="exit 1 if any target FAILs")
    return parser.parse_args(argv)


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
    bench_linktor(report, sizes, rounds, round_ns)
    bench_standard(report, sizes, rounds, round_ns)
    for count in (LARGE_BATCH, SMALL_BATCH):
        bench_linktor_batch(report, count, rounds, round_ns)
        bench_standard_batch(report, count, rounds, round_ns)

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
