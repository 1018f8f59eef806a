"""Synchronous twins of the streaming API (relaywire addition).

:class:`SyncWebhookStreamSession` runs a
:class:`~daguito.webhook_stream_session.WebhookStreamSession` on relaywire's background
event-loop thread, so it works from plain scripts, threads and inside a running loop (a notebook
cell). Listeners and tool handlers run on that thread. Events are
fetched in batches, one thread hop per batch, not per event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from daguito.types import ToolSpec, WebhookStreamOptions
from daguito.webhook_run_stream import (
    WebhookRunStreamInput,
    WebhookRunStreamResult,
    run_webhook_stream,
)
from daguito.webhook_stream_session import ToolHandler, TurnResult, WebhookStreamSession
from relaywire.transport.sync import SyncRunner, default_runner

__all__ = ["SyncWebhookStreamSession", "run_webhook_stream_sync"]

T = TypeVar("T")


class SyncWebhookStreamSession:
    """``with SyncWebhookStreamSession(opts) as s:`` then ``s.send(...)`` and
    ``for etype, ev in s.events(): ...``."""

    def __init__(self, opts: WebhookStreamOptions, *, runner: SyncRunner | None = None) -> None:
        self._runner = runner or default_runner()
        self.session = WebhookStreamSession(opts)

    def __enter__(self) -> SyncWebhookStreamSession:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def session_key(self) -> str:
        return self.session.session_key

    def connect(self) -> None:
        self._runner.run(self.session.connect())

    def close(self) -> None:
        self._runner.run(self.session.close())

    def send(self, message: dict[str, Any], base_input: dict[str, Any] | None = None) -> None:
        self._runner.run(self.session.send(message, base_input))

    def send_raw(self, frame: dict[str, Any]) -> None:
        self._runner.run(self.session.send_raw(frame))

    def on(self, event: str, listener: Callable[[Any], Any]) -> Callable[[], None]:
        """Listeners run on the runner thread."""
        return self.session.on(event, listener)

    def off(self, event: str, listener: Callable[[Any], Any]) -> None:
        self.session.off(event, listener)

    def register_tool(self, spec: ToolSpec, handler: ToolHandler) -> None:
        self.session.register_tool(spec, handler)

    def tool(
        self, name: str, description: str, parameters: dict[str, Any], timeout_seconds: float = 30.0
    ) -> Callable[[T], T]:
        return self.session.tool(name, description, parameters, timeout_seconds)

    def events(self) -> Iterator[tuple[str, Any]]:
        """Iterate ``(event_type, payload)`` until the session ends (attached when called)."""

        async def attach() -> Any:
            return self.session.events()

        it = self._runner.run(attach())
        return self._iterate(it)

    def _iterate(self, it: Any) -> Iterator[tuple[str, Any]]:
        try:
            while True:
                batch = self._runner.run(it.next_batch())
                if not batch:
                    return
                yield from batch
        finally:
            self._runner.run(it.aclose())

    def run_turn(
        self,
        message: dict[str, Any],
        base_input: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> TurnResult:
        return self._runner.run(self.session.run_turn(message, base_input, timeout=timeout))

    def collect_text(
        self,
        message: dict[str, Any],
        base_input: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> str:
        return self._runner.run(self.session.collect_text(message, base_input, timeout=timeout))


def run_webhook_stream_sync(input: WebhookRunStreamInput) -> WebhookRunStreamResult:
    """:func:`~daguito.webhook_run_stream.run_webhook_stream` from synchronous code."""
    return default_runner().run(run_webhook_stream(input))
