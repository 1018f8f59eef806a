"""``run_webhook_stream``: one run over the event WebSocket (no HTTP edge timeout).

The streamed text is gathered natively; the output is the ``flow.completed`` output, else the
last ``node.completed`` output, else ``{"content": <streamed text>}``, else None.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

from daguito.errors import StreamError, WebhookStreamRunError
from daguito.types import WebhookStreamOptions, text_message
from daguito.webhook_stream_session import WebhookStreamSession
from relaywire.redaction import masked_repr

__all__ = [
    "WebhookRunStreamInput",
    "WebhookRunStreamResult",
    "WebhookStreamOptions",
    "WebhookStreamRunError",
    "WebhookStreamSession",
    "run_webhook_stream",
    "text_message",
]


@masked_repr("token")
@dataclass
class WebhookRunStreamInput:
    api_url: str
    webhook_id: str
    token: str
    input: dict[str, Any] | None = None
    text: str | None = None
    session_key: str | None = None
    #: A deadline for the whole run (connect included), in milliseconds; None waits forever.
    timeout_ms: int | None = None


@dataclass
class WebhookRunStreamResult:
    ok: bool
    execution_id: str
    status: Literal["completed", "failed", "unknown"]
    output: Any
    elapsed_ms: int


async def run_webhook_stream(input: WebhookRunStreamInput) -> WebhookRunStreamResult:
    """Open a session, send ``input.text`` (or ``" "``) with ``input.input`` as base input,
    wait for ``flow.completed`` and close.

    Raises :class:`WebhookStreamRunError` (``failed``, ``timeout``, ``closed``) once the run
    started, and :class:`~daguito.errors.StreamError` subclasses when connecting fails
    (``InvalidTokenError`` for a refused token).
    """
    if input.timeout_ms is not None:
        if isinstance(input.timeout_ms, bool) or not isinstance(input.timeout_ms, (int, float)):
            raise TypeError("timeout_ms must be a number of milliseconds or None")
        if not input.timeout_ms > 0:
            raise ValueError("timeout_ms must be > 0")
    deadline = None if input.timeout_ms is None else time.monotonic() + input.timeout_ms / 1000.0
    session = WebhookStreamSession(
        WebhookStreamOptions(
            api_url=input.api_url,
            webhook_id=input.webhook_id,
            token=input.token,
            session_key=input.session_key,
            base_input=input.input,
            auto_reconnect=False,
        )
    )
    try:
        if deadline is None:
            await session.connect()
        else:
            try:
                await asyncio.wait_for(session.connect(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError as err:
                raise WebhookStreamRunError(
                    f"timed out after {input.timeout_ms}ms", "timeout"
                ) from err
        remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
        try:
            result = await session.run_turn(
                text_message(input.text or " "), input.input, timeout=remaining
            )
        except WebhookStreamRunError as err:
            if err.status == "timeout":
                raise WebhookStreamRunError(
                    f"timed out after {input.timeout_ms}ms", "timeout"
                ) from err
            raise
        except StreamError as err:
            raise WebhookStreamRunError(err.message, "closed") from err
        return WebhookRunStreamResult(
            ok=True,
            execution_id=result.execution_id,
            status="completed",
            output=result.output,
            elapsed_ms=result.elapsed_ms,
        )
    finally:
        await session.close()
