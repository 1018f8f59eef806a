"""Group commit: concurrent requests share one sink write.

Requests queue their records and wait on a future. One writer task takes everything queued (up
to ``max_batch``) and hands it to the sink in one ``append``; while that write (and its fsync or
quorum round trip) is in flight the next batch gathers. A request therefore waits for at most the
write in flight plus its own, never for a timer. The queue is bounded: past ``max_pending``
records a request is refused at once (503), so memory and latency stay bounded under overload.

When a write fails with :class:`SinkUnavailableError` the sink is marked down: everything queued
is refused, new requests are refused at once, and a probe runs every ``probe_interval`` seconds
until the sink answers again. Nothing is acknowledged unless ``append`` returned for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from relaywire.ingest._sink import Record, Sink, SinkUnavailableError

__all__ = ["GroupCommitter", "QueueFullError"]

_log = logging.getLogger("relaywire.ingest")


class QueueFullError(Exception):
    """The write queue is full; the request is refused with 503."""


class GroupCommitter:
    def __init__(
        self,
        sink: Sink,
        *,
        max_pending: int = 20_000,
        max_batch: int = 2_000,
        probe_interval: float = 0.5,
        on_batch: Callable[[int], None] | None = None,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.sink = sink
        self.max_pending = max_pending
        self.max_batch = max_batch
        self.probe_interval = probe_interval
        self._on_batch = on_batch
        self._on_state = on_state
        self._queue: list[tuple[Record, asyncio.Future[bool]]] = []
        self._in_flight = 0
        self._writer: asyncio.Task[None] | None = None
        self._prober: asyncio.Task[None] | None = None
        self.opened = False
        self.available = False
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Records queued or being written."""
        return len(self._queue) + self._in_flight

    @property
    def ready(self) -> bool:
        return self.opened and self.available

    async def start(self) -> None:
        """Open the sink; when it cannot be reached yet, keep probing in the background."""
        try:
            await self.sink.open()
        except SinkUnavailableError as exc:
            self._mark_down(exc)
            return
        self.opened = True
        self._set_available(True)

    async def stop(self) -> None:
        """Finish the batch in flight, refuse what is still queued, close the sink."""
        for task in (self._prober,):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writer)
        self._fail_queued(SinkUnavailableError("the receiver is shutting down"))
        await self.sink.close()

    def submit(self, record: Record) -> asyncio.Future[bool]:
        """Queue ``record``; the future gives ``True`` (stored) or ``False`` (duplicate)."""
        if not self.available:
            raise SinkUnavailableError(self.last_error or "the sink is not ready")
        if len(self._queue) + self._in_flight >= self.max_pending:
            raise QueueFullError
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((record, future))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return future

    async def _write(self) -> None:
        try:
            while self._queue and self.available:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                self._in_flight = len(batch)
                try:
                    results = await self.sink.append([record for record, _ in batch])
                except Exception as exc:
                    if not isinstance(exc, SinkUnavailableError):
                        _log.exception("sink %r failed a write", self.sink)
                    error = (
                        exc
                        if isinstance(exc, SinkUnavailableError)
                        else SinkUnavailableError(f"sink error: {type(exc).__name__}")
                    )
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    self._mark_down(error)
                else:
                    for (_, future), stored in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(stored)
                    if self._on_batch is not None:
                        self._on_batch(len(batch))
                finally:
                    self._in_flight = 0
        finally:
            self._writer = None

    def _fail_queued(self, error: SinkUnavailableError) -> None:
        queued, self._queue = self._queue, []
        for _, future in queued:
            if not future.done():
                future.set_exception(error)

    def _set_available(self, available: bool) -> None:
        if available != self.available:
            self.available = available
            if self._on_state is not None:
                self._on_state(available)

    def _mark_down(self, error: BaseException) -> None:
        self.last_error = str(error) or type(error).__name__
        if self.available or not self.opened:
            _log.warning("sink %r unavailable: %s", self.sink, self.last_error)
        self._set_available(False)
        self._fail_queued(SinkUnavailableError(self.last_error))
        if self._prober is None:
            self._prober = asyncio.get_running_loop().create_task(self._probe())

    async def _probe(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.probe_interval)
                try:
                    if not self.opened:
                        await self.sink.open()
                        self.opened = True
                    else:
                        await self.sink.probe()
                except Exception as exc:
                    self.last_error = str(exc) or type(exc).__name__
                    continue
                _log.warning("sink %r available again", self.sink)
                self.last_error = None
                self._set_available(True)
                return
        finally:
            self._prober = None
