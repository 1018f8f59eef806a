"""Serve an ASGI app with uvicorn from a background thread, on a socket bound up front.

The emulator (``Emulator``) and the embedded webhook receiver (``relaywire.ingest.Receiver``)
both run this way: binding first gives the OS-chosen port before the server starts, ``start()``
returns once the server accepts connections, and ``stop()`` wakes the server at once instead of
waiting for uvicorn's 0.1 s poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

__all__ = ["ThreadedUvicorn"]


class _Server(uvicorn.Server):
    """uvicorn's server, woken at once by :meth:`wake` instead of polling every 0.1 s."""

    _wake_event: asyncio.Event | None = None

    def install_signal_handlers(self) -> None:  # a background thread owns no signals
        pass

    async def main_loop(self) -> None:
        self._wake_event = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def wake(self, loop: asyncio.AbstractEventLoop) -> None:
        event = self._wake_event
        if event is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(event.set)


class ThreadedUvicorn:
    """One server run: ``start()`` then ``stop()``.

    ``name`` names the thread, ``label`` the server in errors. ``config`` goes to
    :class:`uvicorn.Config` (``log_config=None`` and ``access_log=False`` unless given).
    ``after_serving`` runs on the server's loop once serving has ended.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "relaywire-server",
        label: str = "the server",
        after_serving: Callable[[], Awaitable[None]] | None = None,
        **config: Any,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.port = 0
        self.name = name
        self.label = label
        self.after_serving = after_serving
        self.config = {"log_config": None, "access_log": False, **config}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._server is not None and self._server.started and self.loop is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Bind, serve in a background thread, and return when the server accepts connections.
        Raises ``OSError`` when the address cannot be bound, ``RuntimeError`` when the server
        fails or does not start within ``timeout`` seconds."""
        if self._thread is not None:
            raise RuntimeError(f"{self.label} is already running")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only for
        # sockets created with it, and without it every response waits ~40 ms on Nagle.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._server = _Server(uvicorn.Config(self.app, **self.config))
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                self._thread.join(1)
                self._cleanup()
                raise RuntimeError(f"{self.label} failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.label} did not start within {timeout} s")
            time.sleep(0.002)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        assert self._server is not None and self._socket is not None
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
            if self.after_serving is not None:
                loop.run_until_complete(self.after_serving())
        except BaseException as exc:  # reported to start() / stop()
            self._error = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end. Idempotent."""
        if self._server is not None:
            self._server.should_exit = True
            if self.loop is not None:
                self._server.wake(self.loop)
        if self._thread is not None:
            self._thread.join(timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._thread = None
        self._server = None
        self.loop = None
