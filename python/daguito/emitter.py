"""A small event emitter (daguito-sdk's ``daguito.emitter``), cheap enough to run per token.

Listeners of an event are kept as a tuple that ``on``/``off`` replace (copy on write), so
``emit`` walks the tuple it read without copying it, and listeners added or removed during an
``emit`` take effect from the next one. An event without listeners costs one dict lookup.

A listener that raises is logged to the ``daguito.emitter`` logger and the others still run. A
listener that returns an awaitable (an ``async def`` listener) has it scheduled as a task on the
running loop; the emitter keeps the task referenced until it finishes and logs its exception
(daguito-sdk never awaited it, bug B17). :meth:`Emitter.drain` waits for those tasks.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any

from relaywire.redaction import get_logger

__all__ = ["Emitter", "Listener"]

log = get_logger("daguito.emitter")

# typing's spelling, as daguito-sdk had it (its args read ``([Any], NoneType)``).
Listener = typing.Callable[[Any], None]
# What on()/off() accept: a Listener, or an async listener (its result is awaited as a task).
_AnyListener = Callable[[Any], object]


class Emitter:
    """Named events with sync or async listeners."""

    def __init__(self) -> None:
        # event -> listeners in subscription order; the tuple is replaced, never mutated.
        self._listeners: dict[str, tuple[_AnyListener, ...]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()

    def on(self, event: str, listener: _AnyListener) -> Callable[[], None]:
        """Subscribe ``listener`` to ``event``; returns a function that unsubscribes it.

        The same listener may be subscribed more than once; it then runs once per subscription.
        """
        self._listeners[event] = (*self._listeners.get(event, ()), listener)

        def unsubscribe() -> None:
            self.off(event, listener)

        return unsubscribe

    def off(self, event: str, listener: _AnyListener) -> None:
        """Remove one subscription of ``listener`` to ``event`` (nothing if there is none)."""
        current = self._listeners.get(event)
        if not current:
            return
        for index, candidate in enumerate(current):
            if candidate == listener:
                remaining = current[:index] + current[index + 1 :]
                if remaining:
                    self._listeners[event] = remaining
                else:
                    del self._listeners[event]
                return

    def emit(self, event: str, payload: Any) -> None:
        """Call every listener of ``event`` with ``payload``, in subscription order."""
        listeners = self._listeners.get(event)
        if listeners is None:
            return
        for listener in listeners:
            try:
                result = listener(payload)
            except Exception:
                log.exception("listener for event %r threw", event)
                continue
            if result is not None and inspect.isawaitable(result):
                self._schedule(event, result)

    def remove_all(self) -> None:
        """Remove every listener of every event (listener tasks already running go on)."""
        self._listeners = {}

    def has_listeners(self, event: str) -> bool:
        """Whether ``event`` has at least one listener (to skip building a payload)."""
        return event in self._listeners

    def has_any_listeners(self) -> bool:
        """Whether any event has a listener (lets a batch skip the per-event loop)."""
        return bool(self._listeners)

    def listeners(self, event: str) -> tuple[_AnyListener, ...]:
        """The listeners of ``event``, in subscription order."""
        return self._listeners.get(event, ())

    async def drain(self) -> None:
        """Wait until the tasks of async listeners scheduled so far have finished."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _schedule(self, event: str, awaitable: Awaitable[Any]) -> None:
        try:
            task = asyncio.ensure_future(awaitable, loop=asyncio.get_running_loop())
        except RuntimeError:
            # No running loop: the awaitable can never run. Close a coroutine so that Python
            # does not warn that it was never awaited, and say why the listener did nothing.
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            log.error(
                "async listener for event %r needs a running event loop; it was not run", event
            )
            return
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._task_done(event, done))

    def _task_done(self, event: str, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("async listener for event %r failed", event, exc_info=error)
