"""Helpers of the ``test_linktor_client_*`` modules.

* :func:`module_emulator`: the body of a module-scoped emulator fixture (one emulator per module;
  tests create what they change, with unique names).
* :class:`AsyncFacade`: the async client seen through a blocking interface, each coroutine run to
  completion on a real event loop and each async iterator drained on it, so one test body
  exercises ``LinktorClient`` and ``LinktorAsyncClient`` alike.
* :func:`open_client`: a logged-in client for one of the four combinations (dialect x mode).
* :class:`RawServer`: a tiny HTTP server on loopback answering what a test tells it to (non-JSON
  2xx, plain-text errors, silence), for cases the emulator cannot produce.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from linktor import LinktorAsyncClient, LinktorClient
from linktor._plan import AsyncResource
from linktor.utils.http import AsyncHttpClient
from relaywire.emulator import Emulator

DEMO_KEY = "lk_demo"
DEMO_EMAIL = "demo@linktor.local"
DEMO_PASSWORD = "demo-password"

#: (dialect, mode) pairs every resource test runs with.
COMBOS = [("sdk", "sync"), ("sdk", "async"), ("server", "sync"), ("server", "async")]
COMBO_IDS = [f"{d}-{m}" for d, m in COMBOS]


def module_emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class AsyncFacade:
    """A blocking view of an async client or resource."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value):
            return self._wrap(value)
        if isinstance(value, (AsyncResource, AsyncHttpClient)):
            return AsyncFacade(value, self._loop)
        return value

    def _wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        loop = self._loop

        def call(*args: Any, **kwargs: Any) -> Any:
            result = fn(*args, **kwargs)
            if inspect.iscoroutine(result):
                return loop.run_until_complete(result)
            if inspect.isasyncgen(result) or hasattr(result, "__anext__"):
                return _drain(result, loop)
            return result

        return call

    @property
    def target(self) -> Any:
        return self._target


def _drain(agen: Any, loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    while True:
        try:
            yield loop.run_until_complete(agen.__anext__())
        except StopAsyncIteration:
            return


class Harness:
    """A client of one combination, and how to close it."""

    def __init__(self, dialect: str, mode: str, client: Any, loop: Any, raw: Any) -> None:
        self.dialect = dialect
        self.mode = mode
        self.client = client
        self.loop = loop
        self.raw = raw  # the real LinktorClient / LinktorAsyncClient

    @property
    def server(self) -> bool:
        return self.dialect == "server"

    def close(self) -> None:
        if self.loop is None:
            self.raw.close()
            return
        self.loop.run_until_complete(self.raw.close())
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def base_url(emu: Emulator, dialect: str) -> str:
    return emu.linktor_server_url if dialect == "server" else emu.linktor_url


def open_client(
    emu: Emulator, dialect: str, mode: str, *, login: bool = True, **options: Any
) -> Harness:
    """A client for ``dialect``/``mode``: the SDK dialect with the demo API key, the server
    dialect logged in with the demo account (as its users must)."""
    url = base_url(emu, dialect)
    options.setdefault("retry_delay", 0.01)
    if dialect == "sdk":
        options.setdefault("api_key", DEMO_KEY)
    if mode == "sync":
        raw: Any = LinktorClient(url, **options)
        harness = Harness(dialect, mode, raw, None, raw)
    else:
        loop = asyncio.new_event_loop()
        raw = LinktorAsyncClient(url, **options)
        harness = Harness(dialect, mode, AsyncFacade(raw, loop), loop, raw)
    if dialect == "server" and login:
        harness.client.auth.login(DEMO_EMAIL, DEMO_PASSWORD)
    return harness


class Recorder:
    """httpx event hooks that keep every request sent (method, URL, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def sync_hook(self, request: httpx.Request) -> None:
        request.read()
        self.requests.append(request)

    async def async_hook(self, request: httpx.Request) -> None:
        await request.aread()
        self.requests.append(request)

    def client_for(self, mode: str) -> httpx.Client | httpx.AsyncClient:
        if mode == "sync":
            return httpx.Client(event_hooks={"request": [self.sync_hook]})
        return httpx.AsyncClient(event_hooks={"request": [self.async_hook]})

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


@contextlib.contextmanager
def recorded_client(
    emu: Emulator, dialect: str, mode: str, **options: Any
) -> Iterator[tuple[Harness, Recorder]]:
    """A client whose requests are recorded (an injected httpx client with event hooks)."""
    recorder = Recorder()
    http = recorder.client_for(mode)
    harness = open_client(emu, dialect, mode, http_client=http, **options)
    try:
        yield harness, recorder
    finally:
        # Not closed by the client (the caller owns an injected httpx client).
        if isinstance(http, httpx.Client):
            http.close()
        else:
            harness.loop.run_until_complete(http.aclose())
        harness.close()


class RawServer:
    """A loopback HTTP/1.1 server answering every request with the next canned answer
    (``(status, content_type, body)``), or never answering (``silent=True``)."""

    def __init__(self, answers: list[tuple[int, str, bytes]], *, silent: bool = False) -> None:
        self.answers = list(answers)
        self.silent = silent
        self.hits = 0
        self.request_lines: list[str] = []
        self.request_heads: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(1.0)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wake the accept() at once
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            if self._stop.is_set():
                conn.close()
                return
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.hits += 1
        self.request_lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
        self.request_heads.append(data.split(b"\r\n\r\n", 1)[0].decode("latin-1"))
        if self.silent:
            self._held.append(conn)  # never answer; closed when the server stops
            return
        status, content_type, body = (
            self.answers.pop(0) if self.answers else (200, "text/plain", b"")
        )
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-ID: raw-{self.hits}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        with contextlib.suppress(OSError):
            conn.sendall(head + body)
        conn.close()
