"""A real HTTP proxy on loopback for the proxy tests: ``CONNECT`` tunnels (what WebSocket clients
and httpx's https:// requests use) and absolute-form forwarding (httpx's http:// requests).

It runs its own event loop in a thread, listens on 127.0.0.1 with a free port, relays bytes
both ways over real sockets, and records what it was asked. ``password`` makes it demand
``Proxy-Authorization: Basic`` (407 otherwise); ``refuse`` answers every request with that status.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Asked:
    method: str
    target: str
    authorized: bool


@dataclass
class LoopbackProxy:
    user: str = "proxyuser"
    password: str | None = None
    refuse: int | None = None
    asked: list[Asked] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with_credentials(self, password: str | None = None) -> str:
        return f"http://{self.user}:{password or self.password}@127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.password is None:
            return True
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return headers.get("proxy-authorization") == f"Basic {expected}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        authorized = self._authorized(headers)
        self.asked.append(Asked(method, target, authorized))
        if self.refuse is not None or not authorized:
            status = self.refuse or 407
            reason = "Forbidden" if status == 403 else "Proxy Authentication Required"
            answer = f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n"
            writer.write(answer.encode() + b"\r\n")
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream_reader, upstream_writer = await asyncio.open_connection(
                host.strip("[]"), int(port)
            )
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:  # absolute-form: "GET http://host:port/path HTTP/1.1"
            parts = urlsplit(target)
            upstream_reader, upstream_writer = await asyncio.open_connection(
                parts.hostname, parts.port or 80
            )
            origin = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            first = f"{method} {origin} {lines[0].rsplit(' ', 1)[1]}\r\n".encode()
            kept = [
                line for line in lines[1:] if not line.lower().startswith("proxy-authorization")
            ]
            upstream_writer.write(first + "\r\n".join(kept).encode())
        await asyncio.gather(
            _relay(reader, upstream_writer), _relay(upstream_reader, writer), return_exceptions=True
        )

    @property
    def tunnels(self) -> list[str]:
        return [a.target for a in self.asked if a.method == "CONNECT"]


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()
