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
import socket
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

CONVERSATION = "conv_bench"
AT = "2026-01-15T10:30:00.123456Z"


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented server-to-client text frame."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


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


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.protocol = ServerProtocol(max_size=None)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Request):
                response = protocol.accept(event)
                protocol.send_response(response)
                if response.status_code == 101:
                    connected = {"user_id": "usr_bench", "tenant_id": "t", "online_users": []}
                    protocol.send_text(
                        json.dumps({"type": "connected", "payload": connected}).encode()
                    )
            elif isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
                self.on_frame(json.loads(bytes(event.data)))
        self.flush()

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

    def flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        for chunk in self.protocol.data_to_send():
            if chunk:
                transport.write(chunk)
            else:  # the protocol asks for the TCP close after the closing handshake
                transport.close()
                return

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Connection, sock=sock)
    print(f"ws://127.0.0.1:{sock.getsockname()[1]}/ws", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve())
