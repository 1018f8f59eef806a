"""The ingest part of ``relaywire demo``: the emulator delivers Linktor webhooks to an embedded
receiver (:class:`relaywire.ingest.Receiver`, SQLite sink in a temporary directory), which
verifies and stores them; the demo reads back what was stored and shows a forgery refused.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

import httpx
import orjson

__all__ = ["run_ingest_demo"]

API_KEY = "lk_demo"
CONVERSATION = "conv_demo"
MESSAGES = ("Order #1042 shipped", "Your table is booked for 8 pm", "Thanks, see you soon!")


def run_ingest_demo(linktor_url: str) -> int:
    """Run the walkthrough against the emulator's Linktor API at ``linktor_url``."""
    print("\nIngest (relaywire.ingest): Linktor webhooks from the emulator into a receiver\n")
    try:
        from relaywire.ingest import Receiver, Source, read
    except ImportError as exc:
        print(f"  skipped: {exc}")
        return 0
    from relaywire.webhooks import linktor_signature

    secret = f"whsec_{secrets.token_hex(16)}"
    source = Source("linktor", "/hooks/linktor", "linktor", secrets=[secret])
    with tempfile.TemporaryDirectory(prefix="relaywire-demo-ingest-") as tmp:
        sink = f"sqlite:///{Path(tmp) / 'events.db'}"
        with (
            Receiver([source], sink) as receiver,
            httpx.Client(base_url=linktor_url, headers={"X-API-Key": API_KEY}) as api,
        ):
            hook_url = receiver.url + source.path
            print(f"  Receiver on {hook_url}, sink {sink}")
            reply = api.post(
                "/webhooks", json={"url": hook_url, "events": ["message.sent"], "secret": secret}
            )
            reply.raise_for_status()
            webhook = reply.json()
            print(f"  Registered webhook {webhook['id']} for message.sent with the emulator")
            for text in MESSAGES:
                api.post(f"/conversations/{CONVERSATION}/messages", json={"text": text})
            log = _wait_for_deliveries(api, webhook["id"], len(MESSAGES))
            acknowledged = sum(d["status"] == "success" for d in log)
            print(
                f"  Sent {len(MESSAGES)} messages; the emulator delivered {len(log)} webhooks, "
                f"{acknowledged} acknowledged with 200 (each only once stored)"
            )
            forged = orjson.dumps({"id": "evt_forged", "type": "message.sent", "data": {}})
            refused = httpx.post(
                hook_url,
                content=forged,
                headers={"X-Linktor-Signature": linktor_signature(forged, "not-the-secret")},
            )
            print(
                f"  Forged delivery (signed with another secret): {refused.status_code} "
                f"{refused.json()['error']}, not stored"
            )
        print("  Stored deliveries, read back with relaywire.ingest.read():")
        stored = list(read(sink))
        for delivery in stored:
            event = orjson.loads(delivery.body)
            content = event["data"]["message"].get("content")
            said = content.get("text") if isinstance(content, dict) else content
            genuine = linktor_signature(delivery.body, secret) == delivery.headers.get(
                "x-linktor-signature"
            )
            print(
                f"    {delivery.cursor:>2}  {delivery.source}  {delivery.id}  {event['type']}  "
                f"{said!r}  ({len(delivery.body)} bytes, signature "
                f"{'matches' if genuine else 'DIFFERS'})"
            )
    ok = len(stored) == len(MESSAGES) and refused.status_code == 401
    return 0 if ok else 1


def _wait_for_deliveries(api: httpx.Client, webhook_id: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 15
    while True:
        log: list[dict[str, object]] = api.get(f"/webhooks/{webhook_id}/deliveries").json()["data"]
        if len(log) >= count and all(d["status"] != "pending" for d in log):
            return log
        if time.monotonic() > deadline:
            return log
        time.sleep(0.02)
