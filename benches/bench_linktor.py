"""relaywire's ``linktor`` against the official Linktor Python SDK 1.0.0's algorithms, side by side.

Run from the repository root::

    pip install -e '.[emulator]'                     # the emulator answers the parse case's list
    python benches/bench_linktor.py                  # everything, well under a minute on 2 cores
    python benches/bench_linktor.py --only verify,parse --rounds 9
    python benches/bench_linktor.py --check          # exit 1 if a target FAILs

The official package cannot be installed (it is not on the index, and as shipped it does not
import: spec/linktor.md 5, bug 1), so each baseline is the official algorithm written out here
as the spec describes it (sections 1.3, 1.8 and 5), on the same models and data.

Sections (``--only``)
---------------------
* ``verify``: ``linktor.verify_webhook_signature(body, signature, secret)`` against the official
  check: ``False`` for an empty signature or secret, else
  ``hmac.new(secret.encode("utf-8"), body, sha256).hexdigest()`` and ``hmac.compare_digest`` on
  the two strings (a ``str`` body is encoded first). Random bodies of 64 B, 256 B and 1 KiB
  (target >= 3x) and 4 KiB and 64 KiB (informative).
* ``parse``: one ``GET /conversations?limit=100`` answer of the emulator in the SDK protocol
  (100 conversations with their last messages, ~75 KB), into ``PaginatedResponse[Conversation]``.
  Baseline: the official path, ``response.json()`` on an ``httpx.Response`` holding the body,
  then ``PaginatedResponse[Conversation].model_validate`` of the dict (target >= 2x). Ours: the
  helper our resources call for an SDK-protocol list, ``linktor._dialect.parse_json_model`` on
  the reply: ``relaywire.models.validate_json``, the model's native plan (``ModelPlan.build``)
  with pydantic's ``model_validate_json`` when the plan declines. Informative rows: the plan's
  fallback cost (the same body with its timestamps spelled with a space, which the plan
  declines) and pydantic's own routes to the same models, each checked to give a result equal
  to the baseline's.
* ``server``: one ``GET /api/v1/conversations?page_size=100`` answer of the emulator in the
  self-hosted server's dialect (``documented`` profile: ``{"data": [...], "meta": {...}}``,
  snake_case, string content), through ``client.conversations.list(limit=100)``, the
  client's request execution answering with that body (the request is built as usual).
  Baseline: ``json.loads`` + the client's Python paging and adaptation (``linktor._dialect``)
  + ``PaginatedResponse[Conversation].model_validate``, as the client did before its native
  ``DialectPlan`` (target >= 2x). Informative row: the client with the native plan off.
* ``realtime``: ``_linktor_burst_server.py`` (its own process) sends message frames to one
  client; the cell is the client's CPU (``time.process_time()``) per event, from sending the
  command to the last event. Burst regime: 20,000 frames in ONE write (``--burst-frames``;
  target >= 5x); paced regime: 1,000 frames, one per socket read (``--paced-frames``,
  ``--paced-delay``; target >= 1x). Both for SDK-shaped ``message`` frames and for the
  self-hosted server's ``new_message`` frames. Baseline: ``websockets.connect`` + ``async for``
  + ``json.loads`` + ``MessageEvent.model_validate`` of the payload (server frames: the
  client's Python adaptation, ``linktor.websocket._message_event``). Ours: ``LinktorWebSocket``
  ``async for`` (``EnvelopeDecoder(events=RealtimeEvents, defer=True)``); informative rows: the
  same client with its native events off, and a floor that builds no event at all (the same
  transport and native decoder giving each payload as a plain ``dict``, taken by the same kind
  of loop). ``--stream-rounds`` rounds, alternating.
* ``webhook``: ``linktor.construct_event(body, headers, secret)`` on a 1 KiB
  ``message.received`` delivery with the six headers the emulator sends (target >= 5x).
  Baseline: the official ``construct_event`` (``verify_webhook``: the header names lowercased,
  the timestamp checked, ``hmac.new(...).hexdigest()`` + ``hmac.compare_digest``; then
  ``json.loads`` + the structure check + ``WebhookEvent(**data)``). Informative rows: only the
  signature header, with a ``ReplayGuard``, the native reader switched off, and a floor that
  builds no model (the native signature, ``hmac.compare_digest`` and ``orjson.loads``).
* ``import``: a fresh interpreter (in an empty working directory) times the statement with
  ``time.perf_counter()`` around it: ``import linktor`` (target < 150 ms), ``from linktor import
  LinktorClient``, ``from linktor import Conversation`` and the first ``LinktorClient(...)``
  (informative). The baseline column is ``import httpx, pydantic``: the official ``import
  linktor`` loads both and then defines ~130 models, so it is a lower bound of the official cost
  (the spec measured ~0.2 s in all).
* ``construct``: ``LinktorClient(api_key="x")`` and ``LinktorAsyncClient(api_key="x")``, in
  both dialects (the server one by a base URL ending in ``/api/v1``), after the first
  (target < 1 ms each). Baseline: what the official constructor does, an ``httpx.Client`` (or
  ``httpx.AsyncClient``) with its base URL, default headers and timeout (a fresh SSL context each).

Method
------
In-process cases (verify, parse, server, webhook, construct) measure all contenders of a group
in one process. Each contender is checked first (a row never times a failure), then its loop is
sized to take about 40 ms. The contenders then take turns over the rounds (A, B, C, then
C, B, A, ...), the garbage collector off while a loop runs; each cell is the median of its
rounds' per-op times.
Import runs alternate the statements the same way, one fresh interpreter each. ``ratio`` is
``baseline / relaywire`` (above 1: relaywire is that many times faster); ``needed`` is the
issue's target, a ratio or an absolute bound on relaywire's time.
"""

from __future__ import annotations

import argparse
import gc
import hmac
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from hashlib import sha256
from itertools import repeat
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECTIONS = ("verify", "parse", "server", "realtime", "webhook", "import", "construct")

KIB = 1024
VERIFY_SIZES = (64, 256, KIB, 4 * KIB, 64 * KIB)
VERIFY_TARGET_MAX_SIZE = KIB
SECRET = "whsk_linktor_benchmark_secret_0123456789"
PAGE_SIZE = 100

TARGET_VERIFY = 3.0
TARGET_PARSE = 2.0
TARGET_SERVER = 2.0
TARGET_BURST = 5.0
TARGET_PACED = 1.0
TARGET_CONSTRUCT_EVENT = 5.0
TARGET_IMPORT_MS = 150.0
TARGET_CONSTRUCT_MS = 1.0

SERVER_BASE_URL = "https://linktor.example.com/api/v1"
OFFICIAL_BASE_URL = "https://api.linktor.io"

IMPORT_STATEMENTS = {
    "deps": "import httpx, pydantic",
    "import": "import linktor",
    "client": "from linktor import LinktorClient",
    "model": "from linktor import Conversation",
    "first": "from linktor import LinktorClient; LinktorClient(api_key='x')",
}
IMPORT_PROBE = """\
import time
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
import sys
module = sys.modules.get("linktor")
print(elapsed, getattr(module, "__file__", "-"))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the official algorithms (spec/linktor.md 1.3, 1.8, 5) ------------------------------------


def official_compute_signature(payload: str | bytes, secret: str) -> str:
    """``linktor.utils.webhook.compute_signature`` of the official SDK."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), payload, sha256).hexdigest()


def official_verify_webhook_signature(payload: str | bytes, signature: str, secret: str) -> bool:
    """``linktor.utils.webhook.verify_webhook_signature`` of the official SDK."""
    if not signature or not secret:
        return False
    expected = official_compute_signature(payload, secret)
    return hmac.compare_digest(signature, expected)


def official_parse_page(model: Any, response: Any) -> Any:
    """The official list path: ``response.json()``, then pydantic validation of the dict
    (``PaginatedResponse[T]`` is parametrized on every call, as the SDK does)."""
    from linktor.types import PaginatedResponse

    return PaginatedResponse[model].model_validate(response.json())


def official_headers(api_key: str) -> dict[str, str]:
    """The default headers of the official ``HttpClient`` (spec 1.3)."""
    return {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-API-Key": api_key,
    }


def official_sync_client(base_url: str, api_key: str) -> Any:
    """What the official ``LinktorClient(...)`` builds: an ``httpx.Client`` per client."""
    import httpx

    return httpx.Client(
        base_url=base_url.rstrip("/"), headers=official_headers(api_key), timeout=30.0
    )


def official_async_client(base_url: str, api_key: str) -> Any:
    """What the official ``LinktorAsyncClient(...)`` builds: an ``httpx.AsyncClient``."""
    import httpx

    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"), headers=official_headers(api_key), timeout=30.0
    )


# --- timing -----------------------------------------------------------------------------------


@contextmanager
def gc_disabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_loop(fn: Callable[..., Any], args: tuple[Any, ...], n: int) -> int:
    """Nanoseconds for ``n`` calls of ``fn(*args)``, the arguments spelled out in the call (so
    that a contender of a few hundred nanoseconds does not pay for ``*args`` unpacking)."""
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
class Series:
    """Per-op times (ns) of one contender, one value per round."""

    name: str
    samples: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


@dataclass
class Contender(Series):
    """An in-process call ``fn(*args)``; ``check`` validates its result before any timing."""

    fn: Callable[..., Any] = print
    args: tuple[Any, ...] = ()
    check: Callable[[Any], bool] = bool
    loops: int = 0

    def verify(self) -> None:
        result = self.fn(*self.args)
        if not self.check(result):
            raise AssertionError(f"{self.name}: unexpected result {result!r:.200}")

    def calibrate(self, round_ns: int) -> None:
        n = 1
        while True:
            elapsed = time_loop(self.fn, self.args, n)
            if elapsed >= round_ns // 10 or n >= 1 << 24:
                break
            n *= 4
        self.loops = max(1, round(n * round_ns / max(elapsed, 1)))

    def run_round(self) -> None:
        self.samples.append(time_loop(self.fn, self.args, self.loops) / self.loops)


def in_turns(items: Sequence[Any], round_number: int) -> Sequence[Any]:
    """The contenders in order on even rounds, reversed on odd ones."""
    return items if round_number % 2 == 0 else list(reversed(items))


def measure(contenders: Sequence[Contender], rounds: int, round_ns: int) -> None:
    for contender in contenders:
        contender.verify()
        contender.calibrate(round_ns)
    gc.collect()
    for round_number in range(rounds):
        for contender in in_turns(contenders, round_number):
            contender.run_round()


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needed:
    """A target: a minimum ratio (``ratio``) or a maximum time of ours (``max_ns``)."""

    ratio: float | None = None
    max_ns: float | None = None

    def label(self) -> str:
        if self.ratio is not None:
            return f">= {self.ratio:g}x"
        assert self.max_ns is not None
        return f"< {format_ns(self.max_ns)}"

    def met(self, ratio: float | None, ours: float | None) -> bool:
        if self.ratio is not None:
            return ratio is not None and ratio >= self.ratio
        return ours is not None and self.max_ns is not None and ours < self.max_ns


@dataclass
class Row:
    section: str
    case: str
    baseline: Series | None
    ours: Series | None
    needed: Needed | None = None

    @property
    def ratio(self) -> float | None:
        base = self.baseline.median if self.baseline else None
        mine = self.ours.median if self.ours else None
        return base / mine if base is not None and mine else None

    def verdict(self) -> str:
        if self.needed is None:
            return "info"
        mine = self.ours.median if self.ours else None
        return "PASS" if self.needed.met(self.ratio, mine) else "FAIL"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        ratio = row.ratio
        mine = row.ours.median if row.ours else None
        shown = f"{ratio:.2f}x" if ratio is not None else format_ns(mine) if mine else "-"
        log(f"  {row.case}: {shown} ({row.verdict()})")

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)

    def table(self) -> str:
        lines = [
            "| case | baseline | relaywire | ratio | needed | result |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            ratio = row.ratio
            lines.append(
                "| "
                + " | ".join(
                    [
                        row.case,
                        cell(row.baseline),
                        cell(row.ours),
                        f"{ratio:.2f}x" if ratio is not None else "-",
                        row.needed.label() if row.needed else "-",
                        row.verdict(),
                    ]
                )
                + " |"
            )
        return "\n".join(lines)

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.verdict() == "FAIL"]


def cell(series: Series | None) -> str:
    if series is None:
        return "-"
    if series.error is not None:
        return "error"
    value = series.median
    return format_ns(value) if value is not None else "-"


def format_ns(ns: float) -> str:
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} us"
    return f"{ns / 1_000_000:.2f} ms" if ns < 100_000_000 else f"{ns / 1_000_000:.1f} ms"


def format_size(size: int) -> str:
    return f"{size // KIB} KiB" if size >= KIB else f"{size} B"


# --- verify -----------------------------------------------------------------------------------


def bench_verify(report: Report, rounds: int, round_ns: int) -> None:
    import linktor

    ours_fn = linktor.verify_webhook_signature
    rng = random.Random(1)
    for size in VERIFY_SIZES:
        body = rng.randbytes(size)
        signature = official_compute_signature(body, SECRET)
        wrong = official_compute_signature(body + b"!", SECRET)
        for fn in (official_verify_webhook_signature, ours_fn):
            if fn(body, wrong, SECRET) is not False:
                raise AssertionError(f"{fn!r} accepted a wrong signature")
        baseline = Contender(
            "official", fn=official_verify_webhook_signature, args=(body, signature, SECRET)
        )
        ours = Contender("relaywire", fn=ours_fn, args=(body, signature, SECRET))
        for contender in (baseline, ours):
            contender.check = lambda result: result is True
        measure([baseline, ours], rounds, round_ns)
        needed = Needed(ratio=TARGET_VERIFY) if size <= VERIFY_TARGET_MAX_SIZE else None
        report.add(
            Row(
                "verify",
                f"`verify_webhook_signature`, {format_size(size)}",
                baseline,
                ours,
                needed,
            )
        )


# --- parse ------------------------------------------------------------------------------------


def conversation_store_grower() -> Callable[[Any], None]:
    """Grows the emulator's store to 100 conversations: 72 more over three channels and five
    contacts, tags, some metadata, some assigned to the demo agent, each with one to three
    messages (text and images, inbound and agent replies, some of them read)."""

    def grow(store: Any) -> None:
        rng = random.Random(7)
        channels = [
            "ch_demo",
            store.create_channel({"name": "Support bot", "type": "telegram"})["id"],
            store.create_channel({"name": "Website", "type": "webchat"})["id"],
        ]
        tags = ["billing", "order", "vip", "refund", "shipping", "bug", "lead"]
        for index in range(PAGE_SIZE - len(store.conversations)):
            fields: dict[str, Any] = {
                "channel_id": channels[index % len(channels)],
                "contact_id": f"ct_demo_{index % 5 + 1}",
                "tags": rng.sample(tags, rng.randint(1, 3)),
            }
            if index % 3 == 0:
                fields["metadata"] = {
                    "source": rng.choice(["web", "ads", "referral"]),
                    "orderId": f"ord_{rng.getrandbits(32):08x}",
                    "priority": rng.randint(1, 5),
                }
            conversation = store.create_conversation(fields)
            cid = conversation["id"]
            store.add_message(
                cid,
                direction="inbound",
                content={"text": f"Hi, where is my order {index}? It was due yesterday."},
                sender_type="contact",
                sender_id=conversation["contact_id"],
            )
            if index % 4 == 1:
                store.add_message(
                    cid,
                    direction="inbound",
                    content_type="image",
                    content={
                        "media": {
                            "url": f"https://cdn.example.com/u/{index}.jpg",
                            "mime_type": "image/jpeg",
                            "caption": "the box arrived like this",
                            "size": rng.randint(10_000, 900_000),
                        }
                    },
                    sender_type="contact",
                    sender_id=conversation["contact_id"],
                )
            if index % 2 == 0:
                store.update_conversation(cid, {"assigned_to": "usr_demo", "status": "pending"})
                reply = store.add_message(
                    cid,
                    direction="outbound",
                    content={"text": "Sorry about that! Let me check the tracking for you."},
                    sender_type="user",
                    sender_id="usr_demo",
                    metadata={"template": None, "agentName": "Demo Admin"},
                )
                if index % 4 == 0:
                    store.set_message_status(reply["id"], "read")

    return grow


def conversation_list_body() -> bytes:
    """``GET /conversations?limit=100`` as the emulator answers it in the SDK protocol.

    The emulator's 28 seeded conversations, plus 72 more over three channels and five contacts:
    tags, some metadata, some assigned to the demo agent, each with one to three messages (text
    and images, inbound and agent replies, some of them read), so every item carries its last
    message with its nested content.
    """
    try:
        import httpx

        from relaywire.emulator import Emulator
    except ImportError as exc:
        sys.exit(f"the parse case needs the emulator: pip install -e '.[emulator]' ({exc})")

    grow = conversation_store_grower()
    with Emulator() as emu:
        emu.call(grow, emu.linktor)
        response = httpx.get(
            f"{emu.linktor_url}/conversations",
            params={"limit": PAGE_SIZE},
            headers={"X-API-Key": "lk_demo", "Accept": "application/json"},
            timeout=30.0,
        )
    response.raise_for_status()
    body = response.content
    page = json.loads(body)
    if len(page["data"]) != PAGE_SIZE or sum(1 for c in page["data"] if c["lastMessage"]) == 0:
        raise AssertionError(f"the emulator's list is not {PAGE_SIZE} conversations with messages")
    return body


def bench_parse(report: Report, rounds: int, round_ns: int) -> None:
    import httpx
    import orjson
    import pydantic_core
    from pydantic import TypeAdapter

    from linktor._dialect import parse_json_model
    from linktor._plan import Reply
    from linktor._resources import _page_model
    from linktor.types import Conversation, PaginatedResponse
    from relaywire.models import plan_for, validate_json

    body = conversation_list_body()
    url = "https://api.linktor.io/conversations?limit=100"
    response = httpx.Response(
        200,
        content=body,
        headers={"content-type": "application/json"},
        request=httpx.Request("GET", url),
    )
    reply = Reply(200, body, {"content-type": "application/json"}, "GET", url)
    page_model = PaginatedResponse[Conversation]
    expected = official_parse_page(Conversation, response)
    expected_dump = expected.model_dump(mode="json")
    data_array = orjson.dumps(orjson.loads(body)["data"])
    decoded = json.loads(body)

    def same_page(result: Any) -> bool:
        return (
            type(result) is type(expected)
            and result == expected
            and result.model_dump(mode="json") == expected_dump
        )

    def same_list(result: Any) -> bool:
        return (
            isinstance(result, list)
            and result == expected.data
            and [c.model_dump(mode="json") for c in result] == expected_dump["data"]
        )

    validator = page_model.__pydantic_validator__
    schema = page_model.__pydantic_core_schema__
    keys_only = pydantic_core.SchemaValidator(schema, {"cache_strings": "keys"})
    no_cache = pydantic_core.SchemaValidator(schema, {"cache_strings": False})
    page_adapter = TypeAdapter(page_model)
    list_adapter = TypeAdapter(list[Conversation])

    baseline = Contender(
        "official", fn=official_parse_page, args=(Conversation, response), check=same_page
    )
    ours = Contender(
        "relaywire",
        fn=lambda: parse_json_model(_page_model(Conversation), reply),
        check=same_page,
    )
    plan = plan_for(page_model)
    if plan is None or plan.build(body) is None:
        raise AssertionError("the conversation page has no native plan, or the plan declined it")
    # A body the plan declines (pydantic reads `2026-11-22 17:44:36.000Z`; the plan only the
    # canonical `T` spelling), so the whole of it goes to `model_validate_json`.
    spaced = re.sub(rb'"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d\.\d+Z)"', rb'"\1 \2"', body)
    if plan.build(spaced) is not None or spaced == body:
        raise AssertionError("the spaced body was not declined")
    alternatives: list[tuple[str, Contender]] = [
        (
            "`ModelPlan.build` alone (no Reply, no fallback check)",
            Contender("", fn=plan.build, args=(body,), check=same_page),
        ),
        (
            "a body the plan declines (timestamps with a space): plan, then `model_validate_json`",
            Contender("", fn=validate_json, args=(page_model, spaced), check=same_page),
        ),
        (
            "`model_validate_json(strict=True)`",
            Contender("", fn=partial(page_model.model_validate_json, body, strict=True)),
        ),
        (
            "`__pydantic_validator__.validate_json` (no Python wrapper)",
            Contender("", fn=validator.validate_json, args=(body,)),
        ),
        (
            "`TypeAdapter(PaginatedResponse[Conversation]).validate_json`",
            Contender("", fn=page_adapter.validate_json, args=(body,)),
        ),
        (
            '`validate_json`, `cache_strings="keys"`',
            Contender("", fn=keys_only.validate_json, args=(body,)),
        ),
        (
            "`validate_json`, `cache_strings=False`",
            Contender("", fn=no_cache.validate_json, args=(body,)),
        ),
        (
            "`model_validate_json(by_name=False)` (aliases only: not a drop-in)",
            Contender(
                "", fn=partial(page_model.model_validate_json, body, by_alias=True, by_name=False)
            ),
        ),
        (
            "`pydantic_core.from_json` + `model_validate`",
            Contender("", fn=lambda: page_model.model_validate(pydantic_core.from_json(body))),
        ),
        (
            "`orjson.loads` + `model_validate`",
            Contender("", fn=lambda: page_model.model_validate(orjson.loads(body))),
        ),
        (
            "`TypeAdapter(list[Conversation]).validate_json` (the `data` array only)",
            Contender("", fn=list_adapter.validate_json, args=(data_array,), check=same_list),
        ),
    ]
    for _, contender in alternatives:
        if contender.check is bool:
            contender.check = same_page
    # The baseline's two halves, to show what a 2x needs.
    decode = Contender("json", fn=response.json, check=lambda result: result == decoded)
    validate = Contender("validate", fn=page_model.model_validate, args=(decoded,), check=same_page)

    group = [baseline, ours, *(contender for _, contender in alternatives), decode, validate]
    measure(group, rounds, round_ns)
    report.add(
        Row(
            "parse",
            f"parse {PAGE_SIZE} conversations ({len(body) / KIB:.0f} KiB): our resources' "
            "`_dialect.parse_json_model` (the native `ModelPlan`)",
            baseline,
            ours,
            Needed(ratio=TARGET_PARSE),
        )
    )
    for label, contender in alternatives:
        report.add(Row("parse", f"parse, alternative: {label}", baseline, contender))

    base, mine = baseline.median, ours.median
    assert base is not None and mine is not None
    json_ns, validate_ns = decode.median, validate.median
    assert json_ns is not None and validate_ns is not None
    report.note(
        "parse",
        f"Parse breakdown: the baseline is `response.json()` {format_ns(json_ns)} + "
        f"`model_validate(dict)` {format_ns(validate_ns)}; 2x needs {format_ns(base / 2)} or "
        f"less, ours takes {format_ns(mine)} ({base / mine:.2f}x). Validating the dict alone "
        f"takes {validate_ns / base:.0%} of the baseline, so no decoder in front of "
        "`model_validate`, however fast, reaches 2x; the plan parses and builds the models in "
        "one native pass, without pydantic's validators.",
    )
    drop_in = [
        (label, contender)
        for label, contender in alternatives
        if all(word not in label.lower() for word in ("not a drop-in", "array only", "plan"))
    ]
    best_label, best = min(drop_in, key=lambda item: item[1].median or float("inf"))
    assert best.median is not None
    report.note(
        "parse",
        f"Fastest pydantic route (same result, same accepted inputs): {best_label}, "
        f"{format_ns(best.median)} ({base / best.median:.2f}x the baseline); the resources' "
        f"helper takes {mine / best.median:.0%} of its time.",
    )


# --- server -----------------------------------------------------------------------------------


def server_conversations_body() -> tuple[bytes, bytes]:
    """``GET /api/v1/conversations?page=1&page_size=100`` and ``GET /api/v1/channels`` as the
    emulator's self-hosted dialect answers them (its ``"documented"`` profile, which pages):
    the same 100 conversations as the parse case, snake_case, in the ``{"success", "data",
    "meta"}`` envelope, with string message content."""
    import httpx

    from relaywire.emulator import Emulator

    grow = conversation_store_grower()
    with Emulator(linktor_server_profile="documented") as emu:
        emu.call(grow, emu.linktor)
        headers = {"Authorization": "Bearer lk_demo", "Accept": "application/json"}
        conversations = httpx.get(
            f"{emu.linktor_server_url}/conversations",
            params={"page": 1, "page_size": PAGE_SIZE},
            headers=headers,
            timeout=30.0,
        )
        channels = httpx.get(f"{emu.linktor_server_url}/channels", headers=headers, timeout=30.0)
    conversations.raise_for_status()
    channels.raise_for_status()
    if len(json.loads(conversations.content)["data"]) != PAGE_SIZE:
        raise AssertionError(f"the emulator's server list is not {PAGE_SIZE} conversations")
    return conversations.content, channels.content


def official_server_list(body: bytes, channel_types: dict[str, str], window: Any) -> Any:
    """What the client did with a self-hosted server's conversation list before this change
    (and still does where the native plan declines): ``json.loads``, ``linktor._dialect``'s
    paging and adaptation in Python, then ``model_validate``."""
    from linktor._dialect import adapt_conversation, server_page
    from linktor.types import Conversation, PaginatedResponse

    page = server_page(json.loads(body), window)
    page.pop("truncated", None)
    page["data"] = [adapt_conversation(c, channel_types) for c in page["data"]]
    return PaginatedResponse[Conversation].model_validate(page)


def bench_server(report: Report, rounds: int, round_ns: int) -> None:
    import linktor._resources as resources
    from linktor import LinktorClient
    from linktor._dialect import Window
    from linktor._plan import Reply

    body, channels = server_conversations_body()
    url = "https://linktor.example.com/api/v1/conversations"
    reply = Reply(200, body, {"content-type": "application/json"}, "GET", url)
    channels_reply = Reply(200, channels, {"content-type": "application/json"}, "GET", url)

    def client() -> Any:
        """A client in the server dialect whose requests are answered with the bodies."""
        made = LinktorClient(base_url="https://linktor.example.com/api/v1", api_key="x")
        made._http.execute = lambda request: channels_reply if "channels" in request.path else reply
        return made

    ours_client = client()
    ours_list = ours_client.conversations.list
    page = ours_list(limit=PAGE_SIZE)  # learns the channel types (one request, once)
    types = dict(ours_client._http.channel_types)
    expected = official_server_list(body, types, Window(0, PAGE_SIZE))
    expected_dump = expected.model_dump(mode="json")
    if page != expected or page.model_dump(mode="json") != expected_dump:
        raise AssertionError("the client's page differs from the Python adaptation's")

    def same(result: Any) -> bool:
        return result == expected and result.model_dump(mode="json") == expected_dump

    baseline = Contender(
        "official",
        fn=official_server_list,
        args=(body, types, Window(0, PAGE_SIZE)),
        check=same,
    )
    ours = Contender("relaywire", fn=lambda: ours_list(limit=PAGE_SIZE), check=same)
    python_client = client()
    python_client._http.channel_types.update(types)
    python_list = python_client.conversations.list

    def python_path() -> Any:
        native_items, native_one = resources.server_items, resources.server_one
        resources.server_items = resources.server_one = lambda *a, **k: None  # type: ignore[assignment]
        try:
            return python_list(limit=PAGE_SIZE)
        finally:
            resources.server_items, resources.server_one = native_items, native_one

    python_contender = Contender("python path", fn=python_path, check=same)
    measure([baseline, ours, python_contender], rounds, round_ns)
    report.add(
        Row(
            "server",
            f"server dialect: {PAGE_SIZE} conversations ({len(body) / KIB:.0f} KiB), "
            "`client.conversations.list(limit=100)` (native `DialectPlan`)",
            baseline,
            ours,
            Needed(ratio=TARGET_SERVER),
        )
    )
    report.add(
        Row(
            "server",
            "same, the client with the native plan switched off (its Python path)",
            baseline,
            python_contender,
        )
    )


# --- realtime ---------------------------------------------------------------------------------


@dataclass
class RealtimeTurn:
    """One contender's stream of ``count`` message frames: its client CPU per event."""

    name: str
    shape: str
    samples: list[float] = field(default_factory=list)


def realtime_server() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "_linktor_burst_server.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("ws://"):
        server.kill()
        raise RuntimeError(f"the realtime server did not start: {url!r}")
    return server, url


def check_texts(texts: list[str], count: int) -> None:
    if len(texts) != count:
        raise AssertionError(f"received {len(texts)} message events, expected {count}")
    for index in (0, count // 2, count - 1):
        if texts[index] != f"message {index}":
            raise AssertionError(f"event {index} has the text {texts[index]!r}")


async def official_stream(url: str, command: str, shape: str, count: int) -> float:
    """The official algorithm: ``websockets`` + ``json.loads`` + the model, per frame (for the
    server's shape, with the client's Python adaptation of its message, as it was before)."""
    import websockets

    from linktor.types.realtime import MessageEvent
    from linktor.websocket import _message_event

    build = MessageEvent.model_validate if shape == "sdk" else _message_event
    texts: list[str] = []
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        await ws.recv()  # connected
        frame = {"type": "typing", "payload": {"conversation_id": command, "is_typing": True}}
        gc.collect()
        cpu = time.process_time()
        await ws.send(json.dumps(frame))
        async for raw in ws:
            event = build(json.loads(raw)["payload"])
            texts.append(event.message.text)
            if len(texts) == count:
                break
        cpu = time.process_time() - cpu
    check_texts(texts, count)
    return cpu


async def linktor_stream(url: str, command: str, shape: str, count: int) -> float:
    """Our ``LinktorWebSocket``: ``async for event in ws``."""
    from linktor.types.realtime import MessageEvent
    from linktor.websocket import LinktorWebSocket

    texts: list[str] = []
    ws = LinktorWebSocket(url, api_key="bench", max_queue=count + 16)
    await ws.connect()
    try:
        await ws.__anext__()  # connected
        gc.collect()
        cpu = time.process_time()
        await ws.send_typing(command)
        async for event in ws:
            if type(event) is MessageEvent:
                texts.append(event.message.text)
                if len(texts) == count:
                    break
        cpu = time.process_time() - cpu
    finally:
        await ws.disconnect()
    check_texts(texts, count)
    return cpu


async def python_path_stream(url: str, command: str, shape: str, count: int) -> float:
    """Our ``LinktorWebSocket`` with its native events switched off: frames decoded to dicts
    in Rust, events built by ``to_event`` (the client before this change)."""
    import linktor.websocket as websocket

    native = websocket._decoder_events
    websocket._decoder_events = lambda: None  # type: ignore[assignment]
    try:
        return await linktor_stream(url, command, shape, count)
    finally:
        websocket._decoder_events = native


async def dicts_stream(url: str, command: str, shape: str, count: int) -> float:
    """Not a contender but a floor: the transport ``LinktorWebSocket`` uses, and the native
    frame decoder with no events, so that each frame's payload is a plain ``dict`` (no event
    model at all), taken by the same kind of loop. What building the models costs is above it."""
    import asyncio
    from collections import deque

    from relaywire.streams import EnvelopeDecoder
    from relaywire.transport.ws import FastWebSocket

    loop = asyncio.get_running_loop()
    queue: deque[tuple[str, Any]] = deque()
    waiter: list[asyncio.Future[None] | None] = [None]
    closed: list[tuple[int, str]] = []

    def wake() -> None:
        future = waiter[0]
        if future is not None and not future.done():
            future.set_result(None)

    def on_batch(entries: list[Any], flags: int = 0) -> None:
        queue.extend(entries)
        wake()

    def on_close(code: int, reason: str) -> None:
        closed.append((code, reason))
        wake()

    async def take() -> tuple[str, Any]:
        while not queue:
            if closed:  # a server gone mid-stream fails the case instead of hanging it
                raise ConnectionError(f"the realtime server closed the connection: {closed[0]}")
            future = waiter[0] = loop.create_future()
            await future
        return queue.popleft()

    conn = await FastWebSocket.open(
        url, decoder=EnvelopeDecoder(), on_batch=on_batch, on_close=on_close, proxy=None
    )
    conn.start()
    texts: list[str] = []
    try:
        await take()  # connected
        frame = {"type": "typing", "payload": {"conversation_id": command, "is_typing": True}}
        message_type = "message" if shape == "sdk" else "new_message"
        gc.collect()
        cpu = time.process_time()
        await conn.send(json.dumps(frame).encode())
        while len(texts) < count:
            frame_type, payload = await take()
            if frame_type == message_type:
                content = payload["message"]["content"]
                texts.append(content["text"] if shape == "sdk" else content)
        cpu = time.process_time() - cpu
    finally:
        await conn.close(1000)
    check_texts(texts, count)
    return cpu


REALTIME_CONTENDERS = {
    "official": official_stream,
    "relaywire": linktor_stream,
    "python path": python_path_stream,
    "dicts floor": dicts_stream,
}


def bench_realtime(
    report: Report, rounds: int, burst_count: int, paced_count: int, paced_delay: float
) -> None:
    import asyncio

    server, url = realtime_server()
    turns: dict[tuple[str, str, str], RealtimeTurn] = {}
    try:
        for regime, count in (("burst", burst_count), ("paced", paced_count)):
            for shape in ("sdk", "server"):
                command = f"{regime}:{shape}:{count}"
                if regime == "paced":
                    command += f":{paced_delay}"
                names = list(REALTIME_CONTENDERS)
                log(f"  {regime} {shape}: {rounds} rounds of {count} frames ...")
                for round_number in range(rounds):
                    for name in in_turns(names, round_number):
                        run = REALTIME_CONTENDERS[name](url, command, shape, count)
                        cpu = asyncio.run(run)
                        key = (regime, shape, name)
                        turn = turns.setdefault(key, RealtimeTurn(name, shape))
                        turn.samples.append(cpu / count * 1e9)
    finally:
        server.kill()
        server.wait()
    frame_names = {"sdk": "SDK-shaped `message`", "server": "server-shaped `new_message`"}
    for regime, count in (("burst", burst_count), ("paced", paced_count)):
        for shape in ("sdk", "server"):
            series = {
                name: Series(name, turns[(regime, shape, name)].samples)
                for name in REALTIME_CONTENDERS
            }
            where = (
                f"{count:,} frames in one write"
                if regime == "burst"
                else f"{count:,} frames, one per read ({paced_delay * 1e3:g} ms apart)"
            )
            needed = Needed(ratio=TARGET_BURST if regime == "burst" else TARGET_PACED)
            report.add(
                Row(
                    "realtime",
                    f"realtime {regime}, {frame_names[shape]} frames, {where}: client CPU per "
                    "event, `LinktorWebSocket` `async for`",
                    series["official"],
                    series["relaywire"],
                    needed,
                )
            )
            report.add(
                Row(
                    "realtime",
                    "same, `LinktorWebSocket` with its native events off (the Python path)",
                    series["official"],
                    series["python path"],
                )
            )
            report.add(
                Row(
                    "realtime",
                    "floor, not a contender: the same transport and native decoder giving each "
                    "payload as a plain `dict` (no event model at all)",
                    series["official"],
                    series["dicts floor"],
                )
            )


# --- import -----------------------------------------------------------------------------------


def import_once(statement: str, cwd: str) -> float:
    """Nanoseconds ``statement`` takes in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE.format(statement=statement)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"exit status {done.returncode}")
    elapsed, where = done.stdout.split(maxsplit=1)
    where = where.strip()
    if where != "-" and not where.startswith(str(REPO / "python")):
        raise RuntimeError(f"`linktor` came from {where}, not from {REPO / 'python'}")
    if done.stderr.strip():
        raise RuntimeError(f"unexpected output on stderr: {done.stderr.strip()[:300]}")
    return float(elapsed) * 1e9


def bench_import(report: Report, runs: int) -> None:
    series = {key: Series(key) for key in IMPORT_STATEMENTS}
    keys = list(IMPORT_STATEMENTS)
    with tempfile.TemporaryDirectory() as cwd:  # nothing there can shadow a module
        for run in range(runs):
            for key in in_turns(keys, run):
                if series[key].error is not None:
                    continue
                try:
                    series[key].samples.append(import_once(IMPORT_STATEMENTS[key], cwd))
                except RuntimeError as exc:
                    series[key].error = str(exc)
                    report.problems.append(f"import `{IMPORT_STATEMENTS[key]}`: {exc}")
    deps = series["deps"]
    report.add(
        Row(
            "import",
            "`import linktor`, fresh interpreter",
            deps,
            series["import"],
            Needed(max_ns=TARGET_IMPORT_MS * 1e6),
        )
    )
    report.add(Row("import", "`from linktor import LinktorClient`", deps, series["client"]))
    report.add(Row("import", "`from linktor import Conversation`", deps, series["model"]))
    report.add(
        Row(
            "import",
            '`from linktor import LinktorClient` + the first `LinktorClient(api_key="x")`',
            deps,
            series["first"],
        )
    )


# --- construct --------------------------------------------------------------------------------


def bench_construct(report: Report, rounds: int, round_ns: int) -> None:
    import httpx

    from linktor import LinktorAsyncClient, LinktorClient

    official_sync = Contender(
        "official sync",
        fn=official_sync_client,
        args=(OFFICIAL_BASE_URL, "x"),
        check=lambda c: isinstance(c, httpx.Client),
    )
    official_async = Contender(
        "official async",
        fn=official_async_client,
        args=(OFFICIAL_BASE_URL, "x"),
        check=lambda c: isinstance(c, httpx.AsyncClient),
    )
    cases = [
        ('`LinktorClient(api_key="x")`', official_sync, LinktorClient, {}, "sdk"),
        (
            '`LinktorClient(base_url=".../api/v1", api_key="x")` (server dialect)',
            official_sync,
            LinktorClient,
            {"base_url": SERVER_BASE_URL},
            "server",
        ),
        ('`LinktorAsyncClient(api_key="x")`', official_async, LinktorAsyncClient, {}, "sdk"),
        (
            '`LinktorAsyncClient(base_url=".../api/v1", api_key="x")` (server dialect)',
            official_async,
            LinktorAsyncClient,
            {"base_url": SERVER_BASE_URL},
            "server",
        ),
    ]
    ours: list[Contender] = []
    for _, _, cls, kwargs, dialect in cases:
        ours.append(
            Contender(
                f"{cls.__name__} {dialect}",
                fn=partial(cls, api_key="x", **kwargs),
                check=lambda c, cls=cls, dialect=dialect: (
                    type(c) is cls and c.dialect.value == dialect
                ),
            )
        )
    measure([official_sync, official_async, *ours], rounds, round_ns)
    for (label, baseline, _, _, _), contender in zip(cases, ours, strict=True):
        report.add(
            Row(
                "construct",
                f"construct {label}, after the first",
                baseline,
                contender,
                Needed(max_ns=TARGET_CONSTRUCT_MS * 1e6),
            )
        )


# --- main -------------------------------------------------------------------------------------


def machine_line() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = f" ({line.split(':', 1)[1].strip()})"
                break
    except OSError:
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{usable} usable CPUs{model}, Python {python}, {platform.machine()} {platform.system()}"


def versions_line() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("relaywire", "pydantic", "pydantic-core", "httpx", "orjson"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


# --- webhook ----------------------------------------------------------------------------------


def webhook_delivery(size: int) -> bytes:
    """A ``message.received`` delivery as the emulator signs and sends it, its message text
    padded so that the body is ``size`` bytes."""
    event = {
        "id": "evt_7f3c9a4e1b2d4c6f8a0b1c2d3e4f5a6b",
        "type": "message.received",
        "timestamp": "2026-01-15T10:30:00.123Z",
        "tenantId": "tenant_demo",
        "data": {
            "message": {
                "id": "msg_4b1d2e3f",
                "conversationId": "conv_demo",
                "direction": "inbound",
                "contentType": "text",
                "content": {"text": ""},
                "status": "delivered",
                "senderId": "ct_demo_1",
                "senderType": "contact",
                "createdAt": "2026-01-15T10:30:00.120Z",
                "updatedAt": "2026-01-15T10:30:00.120Z",
            },
            "conversationId": "conv_demo",
            "contactId": "ct_demo_1",
            "channelId": "ch_demo",
            "channelType": "whatsapp",
        },
    }
    base = len(json.dumps(event, separators=(",", ":")).encode())
    event["data"]["message"]["content"]["text"] = "x" * max(0, size - base)  # type: ignore[index]
    body = json.dumps(event, separators=(",", ":")).encode()
    assert len(body) == size, len(body)
    return body


def delivery_headers(body: bytes, secret: str) -> dict[str, str]:
    """The headers the emulator sends with a delivery (``emulator/linktor/webhooks.py``), as a
    receiver's framework hands them over."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "relaywire-emulator",
        "X-Linktor-Signature": official_compute_signature(body, secret),
        "X-Linktor-Timestamp": str(int(time.time())),
        "X-Linktor-Event": "message.received",
        "X-Linktor-Delivery-Id": "dlv_0f1e2d3c4b5a",
    }


def official_verify_webhook(
    payload: bytes, headers: dict[str, str], secret: str, tolerance: int = 300
) -> bool:
    """``linktor.utils.webhook.verify_webhook`` of the official SDK (spec 1.8): the header names
    lowercased, the signature required, a present timestamp parsed by ``int()`` and checked
    against ``tolerance``, then ``verify_webhook_signature``."""
    lowered = {key.lower(): value for key, value in headers.items()}
    signature = lowered.get("x-linktor-signature")
    if not signature:
        return False
    timestamp = lowered.get("x-linktor-timestamp")
    if timestamp:
        try:
            sent = int(timestamp)
        except ValueError:
            return False
        if abs(int(time.time()) - sent) > tolerance:
            return False
    return official_verify_webhook_signature(payload, signature, secret)


def official_construct_event(
    payload: bytes, headers: dict[str, str], secret: str, tolerance: int = 300
) -> Any:
    """The official ``construct_event`` (spec 1.8): ``verify_webhook``, then the body decoded,
    ``json.loads``, the structure check and ``WebhookEvent(**data)``."""
    from linktor.types.webhook import WebhookEvent

    if not official_verify_webhook(payload, headers, secret, tolerance):
        raise ValueError("Webhook signature verification failed")
    try:
        data = json.loads(payload.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"Invalid JSON payload: {exc}") from exc
    if not data.get("id") or not data.get("type") or not data.get("timestamp"):
        raise ValueError("Invalid webhook event structure")
    return WebhookEvent(**data)


def bench_webhook(report: Report, rounds: int, round_ns: int) -> None:
    import orjson

    from linktor import construct_event
    from linktor.utils import webhook
    from linktor.utils.webhook import ReplayGuard
    from relaywire.webhooks import linktor_signature

    body = webhook_delivery(KIB)
    headers = delivery_headers(body, SECRET)
    bare = {"X-Linktor-Signature": headers["X-Linktor-Signature"]}
    expected = official_construct_event(body, headers, SECRET)

    def same(event: Any) -> bool:
        return event == expected and event.model_dump() == expected.model_dump()

    baseline = Contender("official", fn=official_construct_event, args=(body, headers, SECRET))
    ours = Contender("relaywire", fn=construct_event, args=(body, headers, SECRET))
    bare_baseline = Contender(
        "official, bare", fn=official_construct_event, args=(body, bare, SECRET)
    )
    bare_ours = Contender("relaywire, bare", fn=construct_event, args=(body, bare, SECRET))
    guard = ReplayGuard(max_entries=1)

    def guarded() -> Any:
        guard.clear()
        return construct_event(body, headers, SECRET, replay_guard=guard)

    with_guard = Contender("relaywire + guard", fn=guarded)
    reader = webhook._reader

    def python_path() -> Any:
        webhook._reader = lambda: None  # type: ignore[assignment]
        try:
            return construct_event(body, headers, SECRET)
        finally:
            webhook._reader = reader

    python = Contender("python path", fn=python_path)
    contenders = [baseline, ours, bare_baseline, bare_ours, with_guard, python]
    for contender in contenders:
        contender.check = same
    signature = headers["X-Linktor-Signature"]

    def floor() -> Any:
        # The signature (native) and the fastest JSON-to-dict parse there is, and no model.
        if not hmac.compare_digest(linktor_signature(body, SECRET), signature):
            raise ValueError("Webhook signature verification failed")
        return orjson.loads(body)

    parsed = json.loads(body)
    floor_contender = Contender("floor", fn=floor, check=lambda data: data == parsed)
    contenders.append(floor_contender)
    measure(contenders, rounds, round_ns)
    size = format_size(len(body))
    case = f"`construct_event(body, headers, secret)`, {size} delivery, the emulator's 6 headers"
    report.add(Row("webhook", case, baseline, ours, Needed(ratio=TARGET_CONSTRUCT_EVENT)))
    report.add(Row("webhook", "same, only the signature header", bare_baseline, bare_ours))
    report.add(Row("webhook", "same (6 headers), with a `ReplayGuard`", baseline, with_guard))
    report.add(
        Row(
            "webhook",
            "same, the native reader switched off (verify in Rust, parse with pydantic)",
            baseline,
            python,
        )
    )
    report.add(
        Row(
            "webhook",
            "floor, not a contender: the native signature + `compare_digest` + `orjson.loads`, "
            "no model at all",
            baseline,
            floor_contender,
        )
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds per in-process case")
    parser.add_argument(
        "--import-runs",
        type=int,
        default=None,
        help="fresh interpreters per import statement (default: max(15, --rounds))",
    )
    parser.add_argument("--round-ms", type=float, default=40.0, help="length of one loop (ms)")
    parser.add_argument(
        "--stream-rounds", type=int, default=5, help="rounds per realtime case (default 5)"
    )
    parser.add_argument(
        "--burst-frames", type=int, default=20_000, help="frames per burst (default 20,000)"
    )
    parser.add_argument(
        "--paced-frames", type=int, default=1_000, help="frames per paced stream (default 1,000)"
    )
    parser.add_argument(
        "--paced-delay",
        type=float,
        default=0.0005,
        help="seconds between paced frames (default 0.0005; the event loop waits ~1 ms)",
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target FAILs")
    args = parser.parse_args(argv)
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.import_runs is None:
        args.import_runs = max(15, args.rounds)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    round_ns = int(args.round_ms * 1e6)
    report = Report()
    if "verify" in args.only:
        log("verify ...")
        bench_verify(report, args.rounds, round_ns)
    if "parse" in args.only:
        log("parse ...")
        bench_parse(report, args.rounds, round_ns)
    if "server" in args.only:
        log("server ...")
        bench_server(report, args.rounds, round_ns)
    if "realtime" in args.only:
        log("realtime ...")
        bench_realtime(
            report, args.stream_rounds, args.burst_frames, args.paced_frames, args.paced_delay
        )
    if "webhook" in args.only:
        log("webhook ...")
        bench_webhook(report, args.rounds, round_ns)
    if "import" in args.only:
        log(f"import: {args.import_runs} fresh interpreters per statement ...")
        bench_import(report, args.import_runs)
    if "construct" in args.only:
        log("construct ...")
        bench_construct(report, args.rounds, round_ns)

    print(
        f"# relaywire `linktor` vs the official Linktor SDK 1.0.0's algorithms ({machine_line()})"
    )
    print(f"# {versions_line()}")
    print(
        f"# in-process cases: median of {args.rounds} alternating rounds of ~{args.round_ms:g} ms "
        f"per contender; imports: median of {args.import_runs} fresh interpreters each; "
        "ratio = baseline / relaywire (above 1: relaywire is faster)"
    )
    print()
    print(report.table())
    print()
    print("Baselines:")
    legend = {
        "verify": "verify: the official `verify_webhook_signature` "
        "(`hmac.new(secret.encode(), body, sha256).hexdigest()` + `hmac.compare_digest`), "
        "random bodies.",
        "parse": "parse: `httpx.Response.json()` + `PaginatedResponse[Conversation]"
        ".model_validate(...)` on the emulator's `GET /conversations?limit=100` (SDK protocol); "
        "every row's result is checked equal to the baseline's (`==` and `model_dump`).",
        "server": "server: `json.loads` + the client's Python paging and adaptation "
        "(`linktor._dialect.server_page`, `adapt_conversation`) + `PaginatedResponse[Conversation]"
        ".model_validate`, as the client did before; the emulator's self-hosted dialect "
        "(`documented` profile) answering `GET /api/v1/conversations?page_size=100`; every result "
        "is checked equal (`==` and `model_dump`).",
        "realtime": "realtime: `websockets.connect` + `async for` + `json.loads` + "
        "`MessageEvent.model_validate(payload)` (server shape: the client's Python adaptation, "
        "`linktor.websocket._message_event`), against `_linktor_burst_server.py` in its own "
        "process; `time.process_time()` from sending the command to the last event, per event; "
        "each stream's texts are checked.",
        "webhook": "webhook: the official `construct_event`: `verify_webhook` (header names "
        "lowercased, timestamp checked, `hmac.new(...).hexdigest()` + `hmac.compare_digest`) + "
        "`json.loads` + `WebhookEvent(**data)`, a 1 KiB delivery with the emulator's headers; "
        "every result is checked equal (`==` and `model_dump`).",
        "import": "import: `import httpx, pydantic` in a fresh interpreter, a lower bound of the "
        "official `import linktor` (which also defines ~130 models; ~0.2 s per the spec).",
        "construct": "construct: `httpx.Client(...)` / `httpx.AsyncClient(...)` with the official "
        "base URL, default headers and timeout, as the official constructors build one per client.",
    }
    for section in args.only:
        print(f"* {legend[section]}")
        for text in report.notes.get(section, []):
            print(f"  {text}")
    if report.problems:
        print()
        print("Problems:")
        for problem in report.problems:
            print(f"* {problem}")
    print()
    failed = report.failed
    if failed:
        print(f"{len(failed)} target(s) FAILED: " + "; ".join(row.case for row in failed))
    print(f"Finished in {time.perf_counter() - started:.0f} s.")
    return 1 if args.check and (failed or report.problems) else 0


if __name__ == "__main__":
    sys.exit(main())
