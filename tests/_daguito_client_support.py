"""Helpers of the Daguito client tests (webhook, upload, knowledge, audio).

* :func:`canned_http`: a scripted HTTP/1.1 server on a real loopback socket. The emulator
  always answers well-formed JSON promptly; the clients must also cope with peers that do not
  (a body that is not JSON, ``null`` fields, a server that never answers or trickles its body).
  It answers each request with whatever the test's ``answer`` function returns, and records
  what it received. It runs on the test's own event loop.
* :func:`pool_ports` / :func:`count_async_clients`: observe connection reuse by the pooled
  ``httpx.AsyncClient`` of ``daguito._http.POOL``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

__all__ = [
    "Canned",
    "CannedHttp",
    "Seen",
    "canned_http",
    "client_port_hook",
    "count_async_clients",
    "json_answer",
    "pool_ports",
]


@dataclass
class Canned:
    """One answer. ``hang``: read the request and never answer. ``trickle``: send the body one
    byte at a time, this many seconds apart."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    trickle: float | None = None


@dataclass
class Seen:
    """A request as received."""

    method: str
    path: str
    headers: dict[str, str]  # names in lowercase
    body: bytes
    port: int  # the client's source port (one per TCP connection)

    def json(self) -> Any:
        return orjson.loads(self.body)


def json_answer(data: Any, status: int = 200, **headers: str) -> Canned:
    return Canned(status, orjson.dumps(data), {"Content-Type": "application/json", **headers})


class CannedHttp:
    def __init__(self, answer: Callable[[Seen], Canned]) -> None:
        self.answer = answer
        self.requests: list[Seen] = []
        self.connections = 0
        self.url = ""
        self._stop = asyncio.Event()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        port = writer.get_extra_info("peername")[1]
        try:
            while not self._stop.is_set():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                seen = Seen(method, target, headers, body, port)
                self.requests.append(seen)
                canned = self.answer(seen)
                if canned.hang:
                    await self._stop.wait()
                    return
                await self._write(writer, canned)
        except ConnectionError:
            return  # the client went away mid-answer (a timeout on its side)
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
            self._handlers.discard(task)
            self._writers.discard(writer)

    async def _write(self, writer: asyncio.StreamWriter, canned: Canned) -> None:
        head = [f"HTTP/1.1 {canned.status} Canned", f"Content-Length: {len(canned.body)}"]
        head += [f"{name}: {value}" for name, value in canned.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if canned.trickle is None:
            writer.write(canned.body)
            await writer.drain()
            return
        for index in range(len(canned.body)):
            writer.write(canned.body[index : index + 1])
            await writer.drain()
            if self._stop.is_set():
                return
            await asyncio.sleep(canned.trickle)

    async def stop(self) -> None:
        self._stop.set()
        for writer in list(self._writers):
            writer.transport.abort()  # wakes handlers parked on an idle keep-alive connection
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)


@asynccontextmanager
async def canned_http(answer: Callable[[Seen], Canned]) -> AsyncIterator[CannedHttp]:
    """Serve ``answer`` on 127.0.0.1 and a free port; ``server.url`` is its base URL."""
    canned = CannedHttp(answer)
    server = await asyncio.start_server(canned._serve, "127.0.0.1", 0)
    canned.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield canned
    finally:
        server.close()
        await canned.stop()
        await server.wait_closed()


def client_port_hook(ports: list[int]) -> Callable[[httpx.Response], Any]:
    """A response hook recording the client-side port of each response's TCP connection."""

    async def hook(response: httpx.Response) -> None:
        ports.append(response.extensions["network_stream"].get_extra_info("client_addr")[1])

    return hook


def pool_ports() -> list[int]:
    """The client-side ports of every response the running loop's pooled client receives from
    now on (call it from a coroutine)."""
    from daguito._http import POOL

    ports: list[int] = []
    POOL.get().event_hooks["response"].append(client_port_hook(ports))
    return ports


def count_async_clients(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-element list counting the ``httpx.AsyncClient`` objects built from now on."""
    built = [0]
    original = httpx.AsyncClient.__init__

    def counting_init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        built[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    return built
