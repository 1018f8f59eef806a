"""Baseline for bench_emulator.py: the barest starlette + uvicorn WebSocket token loop.

It runs the same uvicorn settings as the emulator and sends token frames of the same shape, so
the difference between the two is the emulator's own work per token. With ``--deflate`` it keeps
uvicorn's default of offering permessage-deflate (as a stock deployment does). Prints its URL,
then serves until killed.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        try:
            count = int(await websocket.receive_text())
        except WebSocketDisconnect:
            return
        for index in range(count):
            await websocket.send_text(
                '{"type":"node.token","node_id":"agent","session_key":"py_bench",'
                f'"at":"2026-01-01T00:00:00.000Z","data":{{"text":"t{index} "}}}}'
            )
        await websocket.send_text('{"type":"flow.completed"}')


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(f"ws://127.0.0.1:{sock.getsockname()[1]}/ws", flush=True)
    app = Starlette(routes=[WebSocketRoute("/ws", stream)])
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        ws="websockets-sansio",
        ws_per_message_deflate="--deflate" in sys.argv,
    )
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    sys.exit(main())
