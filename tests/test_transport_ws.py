"""``relaywire.transport.ws.FastWebSocket``: what the soak (benches/soak.py) found."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from relaywire.streams import EnvelopeDecoder
from relaywire.transport.ws import FastWebSocket


async def test_cancelling_an_open_during_the_handshake_logs_nothing() -> None:
    """A session closed while it reconnects cancels the opening handshake. Regression: the
    connection's later ``connection_lost`` read the cancelled handshake's exception, which
    raised ``CancelledError`` inside an event loop callback ("Exception in callback
    _SelectorSocketTransport._call_connection_lost")."""
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: problems.append(context))
    accepted = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # never answers the upgrade
        accepted.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        opening = asyncio.ensure_future(
            FastWebSocket.open(
                f"ws://127.0.0.1:{port}/ws",
                decoder=EnvelopeDecoder(),
                on_batch=lambda entries, flags: None,
                on_close=lambda code, reason: None,
                open_timeout=10,
            )
        )
        await asyncio.wait_for(accepted.wait(), 10)
        await asyncio.sleep(0.05)  # the request is out; the handshake is awaited
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        for _ in range(5):  # the aborted transport reports its loss
            await asyncio.sleep(0.01)
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
        loop.set_exception_handler(None)
    assert problems == []
