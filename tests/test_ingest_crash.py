"""No loss when the receiver crashes: the emulator delivers 500 signed Linktor webhooks to a
``relaywire ingest`` process, which is killed with SIGKILL mid-stream and restarted. The emulator
retries what was not acknowledged; the sink ends with each of the 500 events exactly once, byte
for byte as the emulator signed it. (The emulator never imports the client packages, so this
test registers the webhook with plain httpx.)"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
from _ingest_support import receiver_process

from relaywire.emulator import Emulator
from relaywire.ingest import read
from relaywire.webhooks import linktor_signature

MESSAGES = 500
SECRET = "whsec_crash_test_secret"
CONFIG = f"""
[[sources]]
name = "linktor"
path = "/hooks/linktor"
scheme = "linktor"
secrets = ["{SECRET}"]
"""


def stored_count(sink: str) -> int:
    return sum(1 for _ in read(sink))


def test_sigkill_mid_stream_loses_nothing_and_stores_each_event_once(tmp_path: Path) -> None:
    sink = f"sqlite:///{tmp_path}/events.db"
    with (
        Emulator(webhook_retry_delays=(0.05, 0.1, 0.2, 0.3, 0.5), webhook_timeout=2.0) as emu,
        receiver_process(tmp_path, CONFIG, sink) as receiver,
        httpx.Client(base_url=emu.linktor_url, headers={"X-API-Key": "lk_demo"}) as api,
    ):
        reply = api.post(
            "/webhooks",
            json={
                "url": receiver.url + "/hooks/linktor",
                "events": ["message.sent"],
                "secret": SECRET,
                # 20 retries, the last delay repeating: about 9 s to come back.
                "retryPolicy": {"maxRetries": 20},
            },
        )
        assert reply.status_code == 201, reply.text
        for i in range(MESSAGES):
            sent = api.post("/conversations/conv_demo/messages", json={"text": f"message {i}"})
            assert sent.status_code in (200, 201), sent.text

        # Kill it mid-stream, once a good part has been stored, then restart it.
        deadline = time.monotonic() + 60
        while stored_count(sink) < MESSAGES // 4:
            assert time.monotonic() < deadline, "deliveries never started"
            time.sleep(0.02)
        receiver.kill()
        killed_at = stored_count(sink)
        assert killed_at < MESSAGES, "the kill came too late to test anything"
        time.sleep(0.3)  # the emulator's deliveries fail meanwhile and are retried
        receiver.start()

        deadline = time.monotonic() + 90
        while True:
            log = emu.webhook_deliveries
            if len(log) == MESSAGES and all(d["status"] != "pending" for d in log):
                break
            assert time.monotonic() < deadline, f"{len(log)} deliveries, some still pending"
            time.sleep(0.05)

    assert all(d["status"] == "success" for d in log), [d for d in log if d["status"] != "success"]
    assert any(d["attempts"] > 1 for d in log), "no delivery was retried: the kill missed"
    deliveries = list(read(sink))
    ids = [d.id for d in deliveries]
    assert len(ids) == MESSAGES and len(set(ids)) == MESSAGES  # each event exactly once
    acknowledged = {d["event_id"] for d in log if d["status"] == "success"}
    assert acknowledged == set(ids)  # every acknowledged delivery is in the sink, nothing else
    texts = set()
    for delivery in deliveries:
        event = orjson.loads(delivery.body)
        assert event["type"] == "message.sent" and event["id"] == delivery.id
        # Byte-identical to what the emulator signed: its signature still matches the body.
        assert linktor_signature(delivery.body, SECRET) == delivery.headers["x-linktor-signature"]
        content = event["data"]["message"]["content"]
        texts.add(content["text"] if isinstance(content, dict) else content)
    assert texts == {f"message {i}" for i in range(MESSAGES)}
