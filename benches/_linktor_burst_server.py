"""Realtime server for bench_linktor.py: Linktor message frames in one write, or paced.

It speaks just enough of Linktor's realtime socket (spec/linktor.md 3.8) for a client: the
WebSocket upgrade (websockets' Sans-I/O server protocol, no compression), then ``connected``.
A ``typing`` frame whose ``conversation_id`` is ``burst:<shape>:<count>`` gets ``count``
message frames built before anything is written and sent in ONE ``transport.write``, so that
the client finds them together in its socket buffer (the burst regime: what it then spends
per frame is its own cost). ``paced:<shape>:<count>:<seconds>`` sends them one at a time, the
given seconds apart (each in a socket read of its own). ``<shape>`` is ``sdk`` (the SDK
protocol's ``message`` frame: camelCase, the message's content an object) or ``server`` (the
self-hosted server's ``new_message``: snake_case, string content). Message ``i`` has the
text ``message <i>``. Everything else the client sends is ignored.

Prints its URL, then serves until killed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from _burst_ws_server import SansIOConnection, serve, text_frame

CONVERSATION = "conv_bench"
AT = "2026-01-15T10:30:00.123456Z"


def message_frame(shape: str, index: int) -> dict[str, Any]:
    """Frame ``index`` of a burst, as the SDK protocol or the self-hosted server sends it."""
    if shape == "sdk":
        message = {
            "id": f"msg_{index:06d}",
            "conversationId": CONVERSATION,
            "direction": "inbound",
            "contentType": "text",
            "content": {"text": f"message {index}"},
            "status": "delivered",
            "senderId": "ct_bench",
            "senderType": "contact",
            "metadata": {"channel": "whatsapp"},
            "createdAt": AT,
            "updatedAt": AT,
        }
        return {"type": "message", "payload": {"conversationId": CONVERSATION, "message": message}}
    message = {
        "id": f"b0e3c2a4-5d1f-4e8a-9c7b-{index:012d}",
        "conversation_id": CONVERSATION,
        "sender_type": "contact",
        "sender_id": "ct_bench",
        "content_type": "text",
        "content": f"message {index}",
        "metadata": {"channel": "whatsapp"},
        "status": "pending",
        "created_at": AT,
    }
    return {"type": "new_message", "payload": {"conversation_id": CONVERSATION, "message": message}}


def encode(frame: dict[str, Any]) -> bytes:
    return text_frame(json.dumps(frame, separators=(",", ":")).encode())


class Connection(SansIOConnection):
    def on_open(self) -> None:
        connected = {"user_id": "usr_bench", "tenant_id": "t", "online_users": []}
        self.send({"type": "connected", "payload": connected})

    def on_frame(self, frame: dict[str, Any]) -> None:
        payload = frame.get("payload")
        command = payload.get("conversation_id") if isinstance(payload, dict) else None
        if frame.get("type") != "typing" or not isinstance(command, str):
            return
        kind, shape, count, *rest = [*command.split(":"), ""]
        if kind == "burst":
            self.flush()
            assert self.transport is not None
            frames = b"".join(encode(message_frame(shape, i)) for i in range(int(count)))
            self.transport.write(frames)
        elif kind == "paced":
            asyncio.get_running_loop().create_task(self.paced(shape, int(count), float(rest[0])))

    async def paced(self, shape: str, count: int, delay: float) -> None:
        for index in range(count):
            if self.transport is None or self.transport.is_closing():
                return
            self.transport.write(encode(message_frame(shape, index)))
            await asyncio.sleep(delay)


if __name__ == "__main__":
    asyncio.run(serve(Connection, "ws://127.0.0.1:{port}/ws"))
