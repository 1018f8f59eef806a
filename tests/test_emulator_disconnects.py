"""The emulator's sockets when clients vanish: what the soak (benches/soak.py) found."""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocketDisconnect

from relaywire.emulator.linktor.realtime import Connection, _write


class GoneSocket:
    """A starlette WebSocket whose client has gone: sending raises what starlette raises."""

    def __init__(self) -> None:
        self.sends = 0

    async def send_text(self, text: str) -> None:
        self.sends += 1
        raise WebSocketDisconnect(code=1006)


async def test_realtime_writer_ends_quietly_when_the_client_is_gone() -> None:
    """Regression: the writer caught ``OSError``/``RuntimeError`` only, so a frame queued for a
    client that had just reset its connection failed the task with ``WebSocketDisconnect``
    and the emulator logged "emulator task linktor-ws-writer-... failed"."""
    conn = Connection(tenant_id="t", user_id="u", user_name="U", queue=asyncio.Queue())
    conn.queue.put_nowait('{"type":"typing","payload":{}}')
    socket = GoneSocket()
    await asyncio.wait_for(_write(socket, conn), 5)  # type: ignore[arg-type]
    assert socket.sends == 1
