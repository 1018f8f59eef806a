"""Daguito stream frame decoding: ``StreamDecoder`` against the Python paths it replaces.

Run from the repository root::

    python benches/bench_daguito_decode.py           # default run, about 20 s on 2 cores
    python benches/bench_daguito_decode.py --quick   # 5 rounds, a few seconds
    python benches/bench_daguito_decode.py --check   # exit 1 if a target FAILs

Method
------
For each frame (a ``node.token``, a ``node.emit`` carrying ``tool_progress``, a
``flow.completed``) the contenders below run in the same process, side by side. Each
contender's loop is sized so that one round takes about 40 ms (20 ms with ``--quick``); the
contenders then alternate, A, B, C, ... for 15 rounds (5 with ``--quick``), each round timed
with ``time.perf_counter_ns`` around the whole loop with the garbage collector disabled. The
table gives each contender's median round (and its best) per frame, and ratios of medians:
above 1 means relaywire is that many times faster. Every contender is checked once before it is
timed, so that no row can measure a fast failure.

Contenders, per frame:

(a) ``json.loads(frame)`` then what the official SDK does with the dict (spec/daguito.md 2.10):
    type dispatch, ``_pick_token`` (first non-empty of token/text/delta/content), and the
    payload dataclass built through its ``__init__``.
(b) ``orjson.loads(frame)``: a dict and nothing else, the fastest general JSON parse.
(c) ``StreamDecoder.decode(frame)``: the frame to ``([(event_type, payload)], flags)``.
    The same call with the frame as ``str`` (as the websockets library delivers text) is an
    informative row.
(d) ``StreamDecoder.feed(buffer)``: a 64 KiB buffer of the same frame, WebSocket-framed and
    concatenated (a burst read off the socket), decoded in one call; the time is divided by
    the number of frames. An informative row repeats it with the garbage collector on,
    against ``orjson.loads`` of the same frames kept in a list, also with the collector on:
    the collector's cost depends on how many new container objects stay alive, so both
    sides keep a burst's worth.

Targets: (c) at least 5x faster than (a), and no slower than (b), for every frame.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import orjson

from daguito import types as t
from relaywire._native import StreamDecoder

KIB = 1024
FEED_BUFFER = 64 * KIB

EVENT_CLASSES: dict[str, type] = {
    "ready": t.ReadyEvent,
    "error": t.ErrorEvent,
    "node.started": t.NodeStartedEvent,
    "node.token": t.NodeTokenEvent,
    "node.completed": t.NodeCompletedEvent,
    "node.failed": t.NodeFailedEvent,
    "node.emit": t.NodeEmitEvent,
    "flow.completed": t.FlowCompletedEvent,
    "flow.failed": t.FlowFailedEvent,
    "unknown": t.UnknownFrameEvent,
}

AT = "2026-01-01T00:00:00Z"
TOKEN_FRAME = orjson.dumps(
    {
        "type": "node.token",
        "node_id": "agent",
        "session_key": "k",
        "at": AT,
        "data": {"text": "Hola "},
    }
)
EMIT_FRAME = orjson.dumps(
    {
        "type": "node.emit",
        "node_id": "agent",
        "session_key": "py_YnBkgVMft_1hXUp1",
        "at": AT,
        "data": {
            "kind": "tool_progress",
            "tool": "web_search",
            "stage": "completed",
            "progress": 1.0,
            "resource": {"kind": "url", "name": "example.com", "url": "https://example.com/a"},
            "result": {
                "summary": "Three results about the weather in Paris this week.",
                "items": [
                    {
                        "title": "Paris weather",
                        "snippet": "Sunny, 21 C",
                        "url": "https://w.example/1",
                    },
                    {
                        "title": "Forecast",
                        "snippet": "Rain on Friday",
                        "url": "https://w.example/2",
                    },
                ],
            },
            "trace_id": "tr_0123456789abcdef",
            "attempt": 1,
        },
    }
)
FLOW_FRAME = orjson.dumps(
    {
        "type": "flow.completed",
        "session_key": "k",
        "at": AT,
        "data": {"output": {"content": "Hola mundo! The forecast for Paris is sunny, 21 C."}},
    }
)
FRAMES = [
    ("node.token", TOKEN_FRAME),
    ("node.emit tool_progress", EMIT_FRAME),
    ("flow.completed", FLOW_FRAME),
]


# ------------------------------------------------------------------------ (a) the official path

TOKEN_KEYS = ("token", "text", "delta", "content")
SESSION_STARTED_AT = time.time()


def _pick_token(data: dict[str, Any]) -> str:
    for key in TOKEN_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def sdk_decode(raw: bytes) -> tuple[str, Any] | None:
    """``json.loads`` and the SDK's ``_handle_frame`` dispatch, returning the event it would
    hand to listeners (the listener fan-out and queues are not part of this measurement)."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict):
        return None
    ftype = frame.get("type")
    data = frame.get("data")
    if not isinstance(data, dict):
        data = {}
    node_id = frame.get("node_id")
    if not isinstance(node_id, str):
        node_id = ""
    if ftype == "ready":
        return "ready", t.ReadyEvent(webhook_id=str(frame.get("webhook_id", "wh")))
    if ftype in ("session.started", "session.ended", "ping", "pong"):
        return None
    if ftype == "error":
        return "error", t.ErrorEvent(message=str(frame.get("message", "unknown error")))
    if ftype in ("node.started", "merge.progress"):
        return "node.started", t.NodeStartedEvent(node_id=node_id)
    if ftype == "node.token":
        text = _pick_token(data)
        return ("node.token", t.NodeTokenEvent(node_id=node_id, text=text)) if text else None
    if ftype == "node.completed":
        duration = data.get("duration_ms")
        if not isinstance(duration, int):
            duration = data.get("elapsed_ms")
        return "node.completed", t.NodeCompletedEvent(
            node_id=node_id,
            duration_ms=duration if isinstance(duration, int) else None,
            output=data.get("output"),
        )
    if ftype == "node.failed":
        error = data.get("error")
        return "node.failed", t.NodeFailedEvent(node_id, error if isinstance(error, str) else None)
    if ftype == "node.emit":
        return "node.emit", t.NodeEmitEvent(
            node_id=node_id, kind=str(data.get("kind") or ""), data=data
        )
    if ftype == "flow.completed":
        elapsed = int((time.time() - SESSION_STARTED_AT) * 1000)
        return "flow.completed", t.FlowCompletedEvent(elapsed_ms=elapsed, output=data.get("output"))
    if ftype == "flow.failed":
        error = data.get("error")
        return "flow.failed", t.FlowFailedEvent(
            error=error if isinstance(error, str) else "flow failed"
        )
    return None


def orjson_list(frames: list[bytes]) -> list[Any]:
    """``orjson.loads`` of a burst of frames, the results kept alive together as ``feed``'s
    are (which is what the cyclic collector reacts to)."""
    loads = orjson.loads
    return [loads(frame) for frame in frames]


def ws_frame(payload: bytes) -> bytes:
    """An unmasked server text frame."""
    size = len(payload)
    if size < 126:
        return bytes([0x81, size]) + payload
    if size < 65536:
        return bytes([0x81, 126]) + size.to_bytes(2, "big") + payload
    return bytes([0x81, 127]) + size.to_bytes(8, "big") + payload


def feed_buffer(frame: bytes) -> tuple[bytes, int]:
    """As many copies of ``frame`` as fit in 64 KiB, WebSocket-framed; and their number."""
    one = ws_frame(frame)
    count = FEED_BUFFER // len(one)
    return one * count, count


# ---------------------------------------------------------------------------------------- timing


@contextmanager
def gc_disabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Contender:
    """One timed call, ``fn(arg)``, checked once with ``check``. ``per`` is the number of
    frames one call handles."""

    name: str
    fn: Callable[[Any], Any]
    arg: Any
    check: Callable[[Any], bool]
    per: int = 1
    with_gc: bool = False
    loops: int = field(default=0, init=False)
    rounds_ns: list[float] = field(default_factory=list, init=False)

    def time_loop(self, n: int) -> int:
        fn, arg = self.fn, self.arg
        with nullcontext() if self.with_gc else gc_disabled():
            start = time.perf_counter_ns()
            for _ in repeat(None, n):
                fn(arg)
            return time.perf_counter_ns() - start

    def verify(self) -> None:
        result = self.fn(self.arg)
        if not self.check(result):
            raise AssertionError(f"{self.name}: unexpected result {result!r:.300}")

    def calibrate(self, round_ns: int) -> None:
        n = 1
        while True:
            elapsed = self.time_loop(n)
            if elapsed >= round_ns // 10 or n >= 1 << 24:
                break
            n *= 4
        self.loops = max(1, round(n * round_ns / max(elapsed, 1)))

    def run_round(self) -> None:
        self.rounds_ns.append(self.time_loop(self.loops) / self.loops / self.per)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.rounds_ns)

    @property
    def best_ns(self) -> float:
        return min(self.rounds_ns)


def measure(contenders: Sequence[Contender], rounds: int, round_ns: int) -> None:
    for contender in contenders:
        contender.verify()
        contender.calibrate(round_ns)
    gc.collect()
    for _ in range(rounds):
        for contender in contenders:
            contender.run_round()


# ---------------------------------------------------------------------------------------- report


@dataclass
class Target:
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
    frame: str
    baseline: Contender
    relaywire: Contender
    target: Target | None = None

    @property
    def ratio(self) -> float:
        return self.baseline.median_ns / self.relaywire.median_ns

    @property
    def failed(self) -> bool:
        target = self.target
        return target is not None and not target.informative and self.ratio < target.minimum


def format_ns(ns: float) -> str:
    return f"{ns:.0f} ns" if ns < 1_000 else f"{ns / 1_000:.2f} us"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| frame | baseline | relaywire | baseline per frame | relaywire per frame "
        "| ratio (x faster) | target | result |",
        "|" + "---|" * 8,
    ]
    for row in rows:
        target = row.target
        cells = [
            row.frame,
            row.baseline.name,
            row.relaywire.name,
            f"{format_ns(row.baseline.median_ns)} (best {format_ns(row.baseline.best_ns)})",
            f"{format_ns(row.relaywire.median_ns)} (best {format_ns(row.relaywire.best_ns)})",
            f"{row.ratio:.2f}x",
            target.label if target else "",
            target.verdict(row.ratio) if target else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- cases


def bench_frame(label: str, frame: bytes, rounds: int, round_ns: int) -> list[Row]:
    decoder = StreamDecoder(EVENT_CLASSES, default_webhook_id="wh")
    expected_events, expected_flags = decoder.decode(frame)
    (event_type, payload), *_ = expected_events
    buffer, count = feed_buffer(frame)
    text = frame.decode()

    def decoded(result: Any) -> bool:
        return bool(result == (expected_events, expected_flags))

    def fed(result: Any) -> bool:
        events, _, controls, error = result
        complete = len(events) == count and controls is None and error is None
        return bool(complete and events[0] == (event_type, payload))

    def sdk_ok(result: Any) -> bool:
        if event_type == "flow.completed":  # elapsed_ms differs by design (0 vs measured).
            return result is not None and result[1].output == payload.output
        return bool(result == (event_type, payload))

    sdk = Contender("(a) json.loads + SDK dispatch + dataclass", sdk_decode, frame, sdk_ok)
    fast_json = Contender("(b) orjson.loads", orjson.loads, frame, lambda r: isinstance(r, dict))
    decode = Contender("(c) StreamDecoder.decode(bytes)", decoder.decode, frame, decoded)
    decode_str = Contender("(c) StreamDecoder.decode(str)", decoder.decode, text, decoded)
    feed = Contender(f"(d) feed 64 KiB ({count} frames)", decoder.feed, buffer, fed, per=count)
    frames = [frame] * count
    kept_gc = Contender(
        f"(b) orjson.loads of {count} frames into a list, GC on",
        orjson_list,
        frames,
        lambda r: len(r) == count,
        per=count,
        with_gc=True,
    )
    feed_gc = Contender(
        f"(d) feed 64 KiB ({count} frames), GC on",
        decoder.feed,
        buffer,
        fed,
        per=count,
        with_gc=True,
    )
    measure([sdk, fast_json, decode, decode_str, feed, kept_gc, feed_gc], rounds, round_ns)
    rows = [
        Row(label, sdk, decode, Target(5.0, ">= 5x")),
        Row(label, fast_json, decode, Target(1.0, ">= 1.0x")),
        Row(label, fast_json, decode_str, Target(1.0, ">= 1.0x (info)", informative=True)),
        Row(label, sdk, feed),
        Row(label, fast_json, feed),
        Row(label, kept_gc, feed_gc),
    ]
    for row in rows:
        print(
            f"  {label}: {row.relaywire.name} vs {row.baseline.name}: {row.ratio:.2f}x",
            file=sys.stderr,
        )
    return rows


# ------------------------------------------------------------------------------------------ main


def header_line() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cpus = f"{os.cpu_count()} CPUs" + (f" ({usable} usable)" if usable is not None else "")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    system = f"{platform.machine()} {platform.system()}"
    return f"{cpus}, Python {python}, orjson {orjson.__version__}, {system}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--check", action="store_true", help="exit 1 if any target FAILs")
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else 15
    round_ns = (20 if args.quick else 40) * 1_000_000

    print(f"# relaywire Daguito frame decoding benchmark ({header_line()})")
    print(
        f"# {'quick' if args.quick else 'default'} mode: median of {rounds} interleaved rounds of "
        f"~{round_ns // 1_000_000} ms per contender; ratio = baseline / relaywire (medians)"
    )
    for label, frame in FRAMES:
        print(f"# {label}: {len(frame)} bytes", file=sys.stderr)
    started = time.perf_counter()
    rows: list[Row] = []
    for label, frame in FRAMES:
        rows += bench_frame(f"{label} ({len(frame)} B)", frame, rounds, round_ns)

    print()
    print(table(rows))
    print()
    print(
        "Notes: per-frame times include building every Python object the consumer receives "
        "(the event tuple, the payload dataclass, the list). (d) divides one feed() call over a "
        "64 KiB burst by its frames; the 'GC on' row lets the cyclic collector run, as it does "
        "in a real process, against orjson results kept alive the same way. Rows without a "
        "target are informative."
    )
    print(f"Finished in {time.perf_counter() - started:.1f} s.")
    failed = [row for row in rows if row.failed]
    if failed:
        print(f"{len(failed)} target(s) FAILED.")
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
