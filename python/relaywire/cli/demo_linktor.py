"""The Linktor part of ``relaywire demo``: the ``linktor`` package against the embedded emulator.

It creates a contact, registers a webhook pointing at a receiver in this process, opens the
realtime WebSocket, sends a message, sees it arrive on the socket, then receives the signed
webhook delivery and verifies it. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.server
import queue
import threading
import time
from typing import Any

from linktor import LinktorAsyncClient
from linktor.types.realtime import MessageEvent
from linktor.utils.webhook import construct_event, verify_webhook
from linktor.websocket import LinktorWebSocket

__all__ = ["run_linktor_demo"]

API_KEY = "lk_demo"
CONVERSATION = "conv_demo"


class _Receiver(http.server.BaseHTTPRequestHandler):
    deliveries: queue.Queue[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.deliveries.put(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def _demo(
    base_url: str, hook_url: str, deliveries: queue.Queue[Any]
) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    start = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal start
        now = time.perf_counter()
        rows.append((name, now - start))
        start = now

    async with LinktorAsyncClient(base_url=base_url, api_key=API_KEY) as client:
        contact = await client.contacts.create(name="Ada Lovelace", email="ada@example.test")
        print(f"  Created contact {contact.id} ({contact.name})")
        lap("create a contact")

        hook = await client.webhooks.create(hook_url, ["message.sent"])
        print(f"  Registered webhook {hook.id} -> {hook_url} (secret {hook.secret[:10]}...)")
        lap("register a webhook")

        realtime = LinktorWebSocket(base_url, api_key=API_KEY)
        await realtime.connect()
        await realtime.subscribe(CONVERSATION)
        lap("open the realtime socket")
        try:
            sent = await client.conversations.send_text(CONVERSATION, "Hello from relaywire!")
            print(f"  Sent message {sent.id}: {sent.text!r}")
            lap("send a message")
            async for event in realtime:
                if isinstance(event, MessageEvent):
                    text = event.message.text
                    print(f"  Realtime: message in {event.conversation_id}: {text!r}")
                    break
            lap("receive it on the socket")
        finally:
            await realtime.disconnect()

    headers, body = await asyncio.to_thread(deliveries.get, True, 10)
    genuine = verify_webhook(body, headers, hook.secret)
    tampered = verify_webhook(body.replace(b"Hello", b"Howdy"), headers, hook.secret)
    delivered = construct_event(body, headers, hook.secret)
    print(
        f"  Webhook {headers.get('x-linktor-event')}: signature "
        f"{'verified' if genuine else 'REJECTED'}, tampered copy "
        f"{'accepted' if tampered else 'rejected'}, event type {delivered.type}"
    )
    lap("receive and verify the webhook")
    return rows


def run_linktor_demo(base_url: str) -> int:
    """Run the Linktor walkthrough against the emulator's Linktor API at ``base_url``."""
    print("\nLinktor (package `linktor`, drop-in for the official SDK) on the local emulator\n")
    deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
    handler = type("Handler", (_Receiver,), {"deliveries": deliveries})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook_url = f"http://127.0.0.1:{server.server_address[1]}/linktor-hooks"
        rows = asyncio.run(_demo(base_url, hook_url, deliveries))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    print("\n  Summary")
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"    {name.ljust(width)}  {seconds * 1000:8.1f} ms")
    return 0
