"""Leak check of the pyo3 layer: millions of native calls in one process, RSS flat after warm-up.

    python benches/leak_check.py                  # the full run (10 M events, 1 M bodies)
    python benches/leak_check.py --scale 0.1      # a tenth of every count

It drives every native entry point that builds or takes Python objects, with valid and
malformed input, and exits 1 when the resident set grew by 2 % or more between the end of the
warm-up and the end of the run (or ever exceeded that by more than 8 MiB):

* ``StreamDecoder.feed``: 10 million Daguito events (tokens with collected text, emits with
  nested data, completions, unknown types, lone surrogates, malformed frames) in 64 KiB
  socket reads, with ``take_text``, ``execution_id``, protocol errors and ``reset``;
* ``EnvelopeDecoder.feed`` and ``decode``: Linktor realtime frames, within the same count;
* ``relaywire.models.validate_json``: 1 million Linktor response bodies, built by the native
  plan, declined to pydantic, or refused with pydantic's errors;
* every verifier: 1 million verifications (half failing), batches included.

The work is done in 20 equal slices; the first two are the warm-up (allocator arenas, caches,
interned strings). RSS is read from /proc/self/statm after a ``gc.collect()`` at the end of
every slice, and every reading is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
from typing import Any

from daguito.webhook_stream_session import _EVENT_CLASSES
from linktor.types import Contact, Conversation, Message
from relaywire._native import EnvelopeDecoder, StreamDecoder
from relaywire.models import plan_for, validate_json
from relaywire.webhooks import (
    HmacVerifier,
    LinktorVerifier,
    StandardWebhook,
    WebhookVerificationError,
    linktor_signature,
    verify_linktor,
)

# The event dataclasses, as the Daguito session hands them to its decoder.
EVENT_CLASSES = _EVENT_CLASSES
SLICES = 20
WARM_UP = 2
LIMIT = 0.02
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def frame(payload: bytes, opcode: int = 1) -> bytes:
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, size])
    elif size < 65536:
        head = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
    return head + payload


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


DAGUITO_MESSAGES = [
    dumps({"type": "node.token", "node_id": "agent", "data": {"token": f"w{i} "}})
    for i in range(40)
] + [
    dumps({"type": "node.token", "node_id": "agent", "data": {"text": "é\ud800 😀 "}}),
    dumps(
        {
            "type": "node.emit",
            "node_id": "tools",
            "data": {
                "kind": "tool_progress",
                "execution_id": "exec_\udc00",
                "result": {
                    "items": [{"id": i, "score": i / 7, "tags": ["a", "b"]} for i in range(5)]
                },
            },
        }
    ),
    dumps({"type": "node.completed", "node_id": "agent", "data": {"duration_ms": 12.5}}),
    dumps({"type": "flow.completed", "data": {"output": {"content": "x" * 300}}}),
    dumps({"type": "brand.new", "data": {"n": 10**30, "f": -0.0, "s": "\ud83d"}}),
    dumps({"type": "ready", "webhook_id": "wh_demo"}),
    b'{"type": "node.token", "data": {"token": "broken"',
    b"[1, 2, 3]",
    b"\xff\xfe not utf-8",
]
LINKTOR_MESSAGES = [
    dumps(
        {
            "type": "new_message",
            "payload": {
                "conversation_id": "conv_demo",
                "message": {
                    "id": f"msg_{i}",
                    "content": "hola \ud800",
                    "metadata": {"k": [1, 2.5]},
                },
            },
        }
    )
    for i in range(10)
] + [
    dumps({"type": "typing", "payload": {"conversation_id": "c", "is_typing": True}}),
    dumps({"type": "pong"}),
    b'{"type": 5}',
    b"not json",
]


def burst(messages: list[bytes], size: int = 64 * 1024) -> tuple[bytes, int]:
    """WebSocket frames of ``messages`` repeated up to about ``size`` bytes (binary frames for
    those that are not UTF-8, so that they arrive as malformed messages, not protocol errors)."""
    out = bytearray()
    count = 0
    while len(out) < size:
        for message in messages:
            try:
                message.decode("utf-8")
                out += frame(message)
            except UnicodeDecodeError:
                out += frame(message, 2)
            count += 1
    return bytes(out), count


def conversation(i: int) -> dict[str, Any]:
    return {
        "id": f"conv_{i}",
        "tenantId": "tenant_demo",
        "channelId": "ch_demo",
        "channelType": "whatsapp",
        "contactId": f"ct_{i}",
        "status": "open",
        "priority": "normal",
        "unreadCount": i,
        "metadata": {"source": "leak", "n": i},
        "tags": ["a", "b"],
        "createdAt": "2024-01-15T10:30:00.123456Z",
        "updatedAt": "2024-01-15T10:30:00+05:30",
    }


CONTACT = {
    "id": "ct_1",
    "tenantId": "t",
    "name": "Ana María",
    "email": "ana@example.com",
    "customFields": {"tier": "gold", "visits": 3},
    "tags": ["vip"],
    "identifiers": [{"channelType": "whatsapp", "channelId": "ch_1", "identifier": "+51987"}],
    "conversationCount": 2,
    "createdAt": "2024-01-15T10:30:00Z",
    "updatedAt": "2024-01-15T10:30:00Z",
}
MESSAGE = {
    "id": "msg_1",
    "conversationId": "conv_1",
    "direction": "inbound",
    "senderType": "contact",
    "senderId": "ct_1",
    "contentType": "text",
    "content": {"text": "hola"},
    "status": "sent",
    "createdAt": "2024-01-15T10:30:00Z",
    "updatedAt": "2024-01-15T10:30:00.5Z",
}
#: (model, body, what happens): the native plan builds it, declines it to pydantic (which
#: builds it), or pydantic refuses it.
MODEL_BODIES: list[tuple[type, bytes, str]] = [
    (Conversation, dumps(conversation(1)), "built"),
    (Conversation, dumps({**conversation(2), "createdAt": "2024-01-15 10:30:00Z"}), "declined"),
    (Conversation, dumps({**conversation(3), "status": 5, "createdAt": "x"}), "refused"),
    (Conversation, b'{"id": "conv_4", ', "refused"),
    (Contact, dumps(CONTACT), "built"),
    (Contact, dumps({**CONTACT, "name": "Ana \ud800"}), "refused"),
    (Message, dumps(MESSAGE), "built"),
]


class Work:
    def __init__(self, events: int, bodies: int, verifications: int) -> None:
        self.stream = StreamDecoder(
            EVENT_CLASSES, default_webhook_id="wh", max_message_size=1 << 20
        )
        self.stream.collect_text = True
        self.envelope = EnvelopeDecoder(max_message_size=1 << 20)
        self.daguito_burst, self.daguito_per_burst = burst(DAGUITO_MESSAGES)
        self.linktor_burst, self.linktor_per_burst = burst(LINKTOR_MESSAGES)
        self.bad_frame = frame(b"masked", 1)[:1] + bytes([0x80 | 6]) + b"maskmasked"
        # Three Daguito bursts for each Linktor one.
        per_round = 3 * self.daguito_per_burst + self.linktor_per_burst
        self.rounds = max(1, -(-events // per_round))
        self.bodies = bodies
        self.verifications = verifications
        self.events = 0
        self.linktor = LinktorVerifier("leak-secret")
        self.standard = StandardWebhook("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        self.generic = HmacVerifier(b"leak", encoding="base64", prefix="sha256=")
        self.body = b'{"event": "message.received", "data": {"text": "hola"}}' * 4
        self.good = linktor_signature(self.body, "leak-secret")

    def decode_round(self, index: int) -> None:
        for _ in range(3):
            events, _, _, error = self.stream.feed(self.daguito_burst)
            assert error is None
            self.events += len(events)
        self.stream.take_text()
        _ = self.stream.execution_id
        self.stream.execution_id = None
        events, _, _, error = self.envelope.feed(self.linktor_burst)
        assert error is None
        self.events += len(events)
        if index % 64 == 0:
            self.envelope.decode(LINKTOR_MESSAGES[0])
            # A protocol error, then a new connection.
            for decoder in (self.stream, self.envelope):
                assert decoder.feed(self.bad_frame)[3] is not None
                decoder.reset()

    def validate(self, index: int) -> None:
        model, body, _ = MODEL_BODIES[index % len(MODEL_BODIES)]
        with contextlib.suppress(ValueError):  # pydantic's ValidationError
            validate_json(model, body)

    def verify(self, index: int) -> None:
        wrong = index % 2 == 1
        signature = "0" * 64 if wrong else self.good
        assert self.linktor.verify(self.body, signature) is not wrong
        assert verify_linktor(self.body, signature, "leak-secret") is not wrong
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,AAAA",
        }
        with contextlib.suppress(WebhookVerificationError):
            self.standard.verify(self.body, headers, now=1614265330)
        self.generic.verify(self.body, "sha256=AAAA")
        if index % 1000 == 0:
            self.linktor.verify_many([self.body] * 100, [self.good] * 100)

    def slice(self, number: int) -> None:
        """One of the SLICES equal parts of all the work."""

        def share(total: int) -> range:
            return range(total * number // SLICES, total * (number + 1) // SLICES)

        for index in share(self.rounds):
            self.decode_round(index)
        for index in share(self.bodies):
            self.validate(index)
        for index in share(self.verifications // 4):
            self.verify(index)


def check_bodies() -> None:
    """Each body does what the table says, so that the run exercises all three paths."""
    for model, body, expected in MODEL_BODIES:
        plan = plan_for(model)
        assert plan is not None, model
        try:
            validate_json(model, body)
            happened = "built" if plan.build(body) is not None else "declined"
        except ValueError:
            happened = "refused"
        assert happened == expected, (model, body, happened)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of every count")
    args = parser.parse_args()
    events = int(10_000_000 * args.scale)
    bodies = int(1_000_000 * args.scale)
    verifications = int(1_000_000 * args.scale)
    check_bodies()
    work = Work(events, bodies, verifications)
    readings: list[int] = []
    started = time.monotonic()
    print(
        f"leak check: {events:,} events, {bodies:,} model bodies, {verifications:,} verifications"
    )
    print(f"Python {sys.version.split()[0]}, RSS at start {rss() / 2**20:.1f} MiB")
    for number in range(SLICES):
        work.slice(number)
        gc.collect()
        readings.append(rss())
        label = "warm-up" if number < WARM_UP else ""
        print(
            f"  slice {number + 1:2}/{SLICES}: {work.events:>11,} events, "
            f"RSS {readings[-1] / 2**20:7.1f} MiB {label}",
            flush=True,
        )
    baseline = readings[WARM_UP - 1]
    growth = (readings[-1] - baseline) / baseline
    peak = max(readings[WARM_UP:]) - baseline
    elapsed = time.monotonic() - started
    print(
        f"events decoded and built: {work.events:,}; model bodies: {bodies:,}; "
        f"verifications: {verifications:,}; {elapsed:.0f} s"
    )
    print(
        f"RSS after warm-up {baseline / 2**20:.1f} MiB, at the end {readings[-1] / 2**20:.1f} MiB: "
        f"growth {growth:+.2%} (limit {LIMIT:.0%}), peak above baseline {peak / 2**20:.1f} MiB"
    )
    if work.events < events:
        print(f"FAIL: only {work.events:,} events decoded")
        return 1
    if growth >= LIMIT or peak > LIMIT * baseline + 8 * 2**20:
        print("FAIL: memory grew")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
