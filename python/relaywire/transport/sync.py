"""Run coroutines from synchronous code, including inside a running event loop.

One daemon thread owns an event loop for the whole process; sync wrappers submit coroutines to it
and block until they finish. It works where ``asyncio.run`` cannot (a notebook, an async web
handler calling sync code), and the loop's pooled connections are reused across calls.

A forked child starts a loop thread of its own on first use: the parent's does not exist there
(:mod:`relaywire.transport.fork`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from relaywire.transport import fork

T = TypeVar("T")


class SyncRunner:
    def __init__(self, name: str = "relaywire-sync") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        fork.register(self)

    def _after_fork_in_child(self) -> None:
        # The loop's thread was not copied; its selector and self-pipe belong to the parent.
        fork.abandon(self._loop, self._thread)
        self._lock = threading.Lock()
        self._loop = self._thread = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            return loop
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                ready = threading.Event()
                new_loop = asyncio.new_event_loop()

                def main() -> None:
                    asyncio.set_event_loop(new_loop)
                    new_loop.call_soon(ready.set)
                    new_loop.run_forever()

                self._thread = threading.Thread(target=main, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = new_loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on the runner's loop and return a concurrent future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the runner's loop and wait for its result (re-raising its error)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("SyncRunner.run() called from its own loop; await the coroutine")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def shutdown(self) -> None:
        """Stop the loop (after letting async generators and pooled clients close)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(Exception):  # best effort at exit
            asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)
        if not loop.is_running():
            loop.close()


_RUNNER = SyncRunner()
atexit.register(_RUNNER.shutdown)


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` to completion on the process-wide runner loop."""
    return _RUNNER.run(coro, timeout)


def default_runner() -> SyncRunner:
    return _RUNNER
