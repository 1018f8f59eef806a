"""Burst server for bench_daguito.py: a whole token stream in one ``transport.write``.

It speaks just enough of the Daguito event stream (spec/daguito.md 2.5) for a stream client:
the WebSocket upgrade (websockets' Sans-I/O server protocol, no compression), then
``ready{webhook_id}``; ``session.start`` answers ``session.started{session_key}``; a ``message``
whose text is ``/stream N`` gets N ``node.token`` frames (``t0 ``, ``t1 ``, ... in ``data.text``,
about 125 bytes each, with the client's session key) and a ``flow.completed`` whose output
content is every token joined. Those frames are built before anything is written and go out in
ONE ``transport.write``, so the client finds them together in its socket buffer: what it then
spends per token is its own cost (the burst regime). Any other message text gets ``/stream 3``.
Everything else the client sends (``session.end``, pings, closes) is answered by the protocol
object or ignored.

Prints its URL, then serves until killed.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Callable
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

WEBHOOK_ID = "wh_bench"
AT = "2026-01-01T00:00:00.000Z"
STREAM_COMMAND = re.compile(r"/stream\s+(\d+)\s*$")


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented server-to-client text frame."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


def burst(session_key: str, count: int) -> bytes:
    key = json.dumps(session_key)
    prefix = f'{{"type":"node.token","node_id":"agent","session_key":{key},"at":"{AT}","data":'
    frames = [text_frame(f'{prefix}{{"text":"t{index} "}}}}'.encode()) for index in range(count)]
    content = "".join(f"t{index} " for index in range(count))
    completed = {
        "type": "flow.completed",
        "session_key": session_key,
        "at": AT,
        "data": {"output": {"content": content}, "execution_id": "exec_bench"},
    }
    frames.append(text_frame(json.dumps(completed, separators=(",", ":")).encode()))
    return b"".join(frames)


class SansIOConnection(asyncio.Protocol):
    """A server connection on websockets' Sans-I/O protocol: after the upgrade it calls
    ``on_open()``, then ``on_frame(...)`` with each text or binary frame's decoded JSON.
    ``_linktor_burst_server.py`` serves its frames on it too."""

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
                    self.on_open()
            elif isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
                self.on_frame(json.loads(bytes(event.data)))
        self.flush()

    def on_open(self) -> None:
        """The upgrade succeeded."""

    def on_frame(self, frame: Any) -> None:
        """A JSON frame from the client."""

    def send(self, frame: dict[str, object]) -> None:
        self.protocol.send_text(json.dumps(frame, separators=(",", ":")).encode())

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


class BurstConnection(SansIOConnection):
    def __init__(self) -> None:
        super().__init__()
        self.session_key = "py_unknown"

    def on_open(self) -> None:
        self.send({"type": "ready", "webhook_id": WEBHOOK_ID})

    def on_frame(self, frame: dict[str, object]) -> None:
        kind = frame.get("type")
        if kind == "session.start":
            self.session_key = str(frame.get("session_key") or "py_server_made")
            self.send({"type": "session.started", "session_key": self.session_key, "at": AT})
        elif kind == "message":
            message = frame.get("message")
            text = message.get("text") if isinstance(message, dict) else None
            found = STREAM_COMMAND.match(text) if isinstance(text, str) else None
            count = int(found.group(1)) if found else 3
            self.flush()
            assert self.transport is not None
            self.transport.write(burst(self.session_key, count))


async def serve(connection: Callable[[], asyncio.Protocol], url: str) -> None:
    """Serve ``connection`` on a free loopback port; print ``url`` with the port filled in."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(connection, sock=sock)
    print(url.format(port=sock.getsockname()[1]), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(BurstConnection, "http://127.0.0.1:{port}"))
