"""The Daguito event stream: WS ``/v1/webhooks/{webhook_id}/stream`` (spec/daguito.md 2.4-2.15).

Protocol as served here:

* Auth: ``?token=`` (or ``Authorization: Bearer``) must be accepted for the webhook (its own
  ``sk_wh_`` token, an account key, or a live ``dst_`` stream token). A missing or wrong token
  or an unknown webhook is an HTTP 401 at the upgrade, body ``{"error": "..."}``.
* Then ``{"type":"ready","webhook_id":...}``. ``session.start{session_key}`` answers
  ``session.started{session_key, at}``. Sessions live per (webhook, session key) beyond the
  socket: a new socket starting the same key re-attaches, and an in-flight run goes on sending
  to it (frames produced while no socket is attached are lost, as with pub/sub). A ``dst_``
  token binds the key: ``session.start`` may omit it, and another key is refused. Without a
  key the server makes one (``emu_...``). ``mode: "produce"`` starts or joins a session without
  taking over its output.
* ``message`` runs the flow engine (:mod:`.flow`); messages of one session run one after the
  other, while the socket keeps reading (``tool_result``, ``cancel``, form responses).
  ``session.open`` runs the flow with no message. ``cancel`` ends the running flow with
  ``node.failed`` + ``flow.failed`` error ``"cancelled"`` (ignored when nothing runs).
  ``session.end`` cancels what runs, forgets the session and answers ``session.ended``.
  JSON ``ping`` answers ``pong{at}``. A frame that is not JSON, not an object or of an unknown
  type answers an ``error`` frame and the socket stays up.
* Frames: node frames carry ``node_id`` (``"agent"``), ``session_key``, ``at`` and ``data``;
  ``flow.completed``/``flow.failed`` carry the same minus ``node_id`` (as the JS mock does).
  Tokens are in ``data.text``, or in ``data[base_input.token_field]`` when that is one of
  ``token``, ``delta``, ``content``.

The token loop is the hot path (``/stream N``): each frame is a prebuilt prefix, the index and a
constant suffix, sent with the raw ASGI ``send``; the ``at`` stamp is refreshed every
:data:`TOKEN_CHUNK` tokens, where the loop also yields to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from relaywire.emulator._faults import StreamFault
from relaywire.emulator._http import json_response, now_iso
from relaywire.emulator.daguito.flow import (
    NODE_ID,
    FlowRequest,
    RunAbandoned,
    ToolReply,
    request_from_message,
    run_flow,
)

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = ["TOKEN_CHUNK", "StreamHub", "StreamSession", "routes"]

_log = logging.getLogger("relaywire.emulator")

# Tokens sent between two yields to the event loop: large enough that the yield costs nothing
# per token, small enough that other sockets, cancels and tool results are not starved.
TOKEN_CHUNK = 256
TOKEN_FIELDS = frozenset({"text", "token", "delta", "content"})
NO_SESSION = "no active session"
RECORDED_INPUTS = 256


def _error_frame(message: str) -> str:
    return orjson.dumps({"type": "error", "message": message}).decode()


class _Conn:
    """One accepted socket: the raw ASGI ``send`` and whether it may still be written to."""

    __slots__ = ("open", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.open = True

    async def send_text(self, text: str) -> None:
        if not self.open:
            return
        try:
            await self.send({"type": "websocket.send", "text": text})
        except (OSError, RuntimeError):  # the client went away (uvicorn's ClientDisconnected)
            self.open = False

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.send_text(orjson.dumps(frame).decode())

    async def close(self, code: int, reason: str = "") -> None:
        if not self.open:
            return
        self.open = False
        with contextlib.suppress(OSError, RuntimeError):
            await self.send({"type": "websocket.close", "code": code, "reason": reason})


class StreamSession:
    """A session key's state: whether it is started, the socket its frames go to, its queue of
    runs, and what the running flow waits for (tool results, a form)."""

    def __init__(self, hub: StreamHub, webhook_id: str, key: str) -> None:
        self.hub = hub
        self.webhook_id = webhook_id
        self.key = key
        self.active = False
        self.output: _Conn | None = None
        self.queue: deque[FlowRequest] = deque()
        self.worker: asyncio.Task[None] | None = None
        self.current: asyncio.Task[Any] | None = None
        self.tools: dict[str, asyncio.Future[ToolReply]] = {}
        self.form: tuple[str, asyncio.Future[Any]] | None = None
        # What tests read: the latest base_inputs received (scope filtering), runs finished.
        self.base_inputs: deque[dict[str, Any]] = deque(maxlen=RECORDED_INPUTS)
        self.runs_completed = 0
        self.runs_failed = 0

    def enqueue(self, request: FlowRequest) -> None:
        self.queue.append(request)
        if self.worker is None:
            self.worker = self.hub.ctx.spawn(self._work(), name=f"daguito-session-{self.key}")

    def cancel_current(self) -> None:
        if self.current is not None and not self.current.done():
            self.current.cancel()

    async def send_error(self, message: str) -> None:
        if self.output is not None:
            await self.output.send_text(_error_frame(message))

    async def _work(self) -> None:
        try:
            while self.queue:
                request = self.queue.popleft()
                if not self.active:  # ended (e.g. by the session_ended fault) after queueing
                    await self.send_error(NO_SESSION)
                    continue
                await self._run(request)
        finally:
            self.worker = None

    async def _run(self, request: FlowRequest) -> None:
        fault = self.hub.ctx.faults.stream_fault(self.key)
        sink = _WsSink(self, fault, request)
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(
            run_flow(self.hub.ctx, request, sink)
        )
        self.current = task
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:  # the session ended or the server stops
            task.cancel()
            raise
        finally:
            self.current = None
        if task.cancelled():
            self.runs_failed += 1
            await sink.fail_frames("cancelled")
        elif isinstance(task.exception(), RunAbandoned):
            return
        elif task.exception() is not None:
            exc = task.exception()
            _log.error("daguito flow crashed", exc_info=exc)
            self.runs_failed += 1
            await sink.fail_frames(f"internal emulator error: {exc!r}")
        elif task.result().ok:
            self.runs_completed += 1
        else:
            self.runs_failed += 1
        if fault.session_ended:
            self.active = False
            if self.output is not None:
                await self.output.send_json(
                    {"type": "session.ended", "session_key": self.key, "at": now_iso()}
                )

    def stop(self) -> None:
        """Forget queued runs, cancel the running one and whatever it waits for."""
        self.active = False
        self.queue.clear()
        if self.worker is not None:
            self.worker.cancel()
        for future in self.tools.values():
            future.cancel()
        if self.form is not None:
            self.form[1].cancel()


class _WsSink:
    """Writes one run's frames to whichever socket its session is attached to."""

    interactive = True

    def __init__(self, session: StreamSession, fault: StreamFault, request: FlowRequest) -> None:
        self.session = session
        self.fault = fault
        self.tokens_sent = 0
        self.execution_id = ""
        field = request.base_input.get("token_field")
        self.token_field = field if isinstance(field, str) and field in TOKEN_FIELDS else "text"
        self._key_json = orjson.dumps(session.key).decode()

    # -- lifecycle frames ---------------------------------------------------------------------

    async def frame(self, type_: str, data: dict[str, Any], *, node: bool = True) -> None:
        conn = self.session.output
        if "execution_id" in data:
            self.execution_id = data["execution_id"]
        if conn is None or not conn.open:
            return
        if type_ == "flow.completed" and self.fault.oversized_output_bytes is not None:
            data = {
                **data,
                "output": _padded(data.get("output"), self.fault.oversized_output_bytes),
            }
        frame: dict[str, Any] = {"type": type_}
        if node:
            frame["node_id"] = NODE_ID
        frame["session_key"] = self.session.key
        frame["at"] = now_iso()
        frame["data"] = data
        await conn.send_json(frame)

    async def fail_frames(self, error: str) -> None:
        data = {"error": error, "execution_id": self.execution_id}
        await self.frame("node.failed", data)
        await self.frame("flow.failed", data, node=False)

    # -- tokens -------------------------------------------------------------------------------

    def _token_prefix(self) -> str:
        return (
            f'{{"type":"node.token","node_id":"{NODE_ID}","session_key":{self._key_json},'
            f'"at":"{now_iso()}","data":{{"{self.token_field}":'
        )

    async def _check_limit(self) -> None:
        limit = self.fault.clean_close_after_tokens
        if limit is not None and self.tokens_sent >= limit:
            conn = self.session.output
            if conn is not None:
                self.session.output = None
                await conn.close(1000)
            raise RunAbandoned

    def _chunk_end(self, start: int, count: int) -> int:
        end = min(count, start + TOKEN_CHUNK)
        limit = self.fault.clean_close_after_tokens
        if limit is not None:
            end = min(end, start + limit - self.tokens_sent)
        return end

    async def numbered_tokens(self, stem: str, count: int) -> None:
        stem_json = orjson.dumps(stem).decode()[1:-1]
        suffix = ' "}}'
        delay = self.fault.token_delay
        index = 0
        while index < count:
            await self._check_limit()
            end = self._chunk_end(index, count)
            conn = self.session.output
            if conn is not None and conn.open:
                prefix = self._token_prefix() + '"' + stem_json
                if delay > 0:
                    for i in range(index, end):
                        await asyncio.sleep(delay)
                        await conn.send_text(f"{prefix}{i}{suffix}")
                else:
                    # The hot loop: one reused ASGI message, one f-string, one send per token.
                    message = {"type": "websocket.send", "text": ""}
                    send = conn.send
                    try:
                        for i in range(index, end):
                            message["text"] = f"{prefix}{i}{suffix}"
                            await send(message)
                    except (OSError, RuntimeError):
                        conn.open = False
            self.tokens_sent += end - index
            index = end
            await asyncio.sleep(0)
        await self._check_limit()

    async def tokens(self, texts: Sequence[str]) -> None:
        delay = self.fault.token_delay
        count = len(texts)
        index = 0
        while index < count:
            await self._check_limit()
            end = self._chunk_end(index, count)
            conn = self.session.output
            if conn is not None and conn.open:
                prefix = self._token_prefix()
                for text in texts[index:end]:
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await conn.send_text(f"{prefix}{orjson.dumps(text).decode()}}}}}")
            self.tokens_sent += end - index
            index = end
            if count > TOKEN_CHUNK:
                await asyncio.sleep(0)
        await self._check_limit()

    # -- waiting for the client ---------------------------------------------------------------

    async def wait_tool_result(self, call_id: str, timeout_s: float) -> ToolReply:
        future: asyncio.Future[ToolReply] = asyncio.get_running_loop().create_future()
        self.session.tools[call_id] = future
        try:
            return await asyncio.wait_for(future, timeout_s)
        except asyncio.TimeoutError:  # not the builtin before Python 3.11
            raise TimeoutError(call_id) from None
        finally:
            self.session.tools.pop(call_id, None)

    async def wait_form(self, form_id: str) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.session.form = (form_id, future)
        try:
            return await future
        finally:
            self.session.form = None


def _padded(output: Any, size: int) -> Any:
    padding = "x" * size
    if isinstance(output, dict):
        return {**output, "padding": padding}
    return {"value": output, "padding": padding}


class StreamHub:
    """Every stream session of one emulator, by (webhook id, session key)."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.sessions: dict[tuple[str, str], StreamSession] = {}

    def session(self, webhook_id: str, key: str) -> StreamSession:
        found = self.sessions.get((webhook_id, key))
        if found is None:
            found = self.sessions[(webhook_id, key)] = StreamSession(self, webhook_id, key)
        return found

    def get(self, key: str, webhook_id: str = "wh_demo") -> StreamSession | None:
        """A session by key (for tests)."""
        return self.sessions.get((webhook_id, key))

    def end(self, session: StreamSession) -> None:
        session.stop()
        self.sessions.pop((session.webhook_id, session.key), None)

    def auth_error(self, webhook_id: str, token: str | None) -> str | None:
        if webhook_id not in self.ctx.daguito.webhooks:
            return f"unknown webhook {webhook_id!r}"
        if not token:
            return "missing token"
        if not self.ctx.daguito.webhook_accepts(webhook_id, token):
            return "invalid token"
        return None


class _Connection:
    """One socket's reading side: parses client frames and drives its session."""

    def __init__(self, hub: StreamHub, conn: _Conn, webhook_id: str, token: str) -> None:
        self.hub = hub
        self.conn = conn
        self.webhook_id = webhook_id
        self.session: StreamSession | None = None
        minted = hub.ctx.daguito.stream_tokens.get(token)
        self.bound_key = minted.session_key if minted is not None else None
        self.default_mode = "produce" if minted is not None and minted.role == "produce" else None

    async def error(self, message: str) -> None:
        await self.conn.send_text(_error_frame(message))

    async def handle(self, raw: str | bytes) -> None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.error("invalid frame: not JSON")
            return
        if not isinstance(frame, dict):
            await self.error("invalid frame: not a JSON object")
            return
        kind = frame.get("type")
        if kind == "message":
            await self.on_message(frame)
        elif kind == "tool_result":
            await self.on_tool_result(frame)
        elif kind == "session.start":
            await self.on_start(frame)
        elif kind == "ping":
            await self.conn.send_json({"type": "pong", "at": now_iso()})
        elif kind == "session.open":
            await self.on_open(frame)
        elif kind == "cancel":
            if self.session is not None:
                self.session.cancel_current()
        elif kind == "session.end":
            await self.on_end()
        elif kind == "pong":
            return
        else:
            await self.error(f"unknown frame type {kind!r}")

    async def on_start(self, frame: dict[str, Any]) -> None:
        key = frame.get("session_key")
        if key is not None and not isinstance(key, str):
            await self.error("session_key must be a string")
            return
        if self.bound_key is not None:
            if key and key != self.bound_key:
                await self.error("the stream token is bound to another session_key")
                return
            key = self.bound_key
        if not key:
            key = "emu_" + secrets.token_urlsafe(12)
        mode = frame.get("mode", self.default_mode)
        if self.session is not None and self.session.key != key:
            self.detach()
        session = self.hub.session(self.webhook_id, key)
        self.session = session
        session.active = True
        await self.conn.send_json({"type": "session.started", "session_key": key, "at": now_iso()})
        # Attach after session.started, so that a running flow's frames follow it.
        if mode != "produce":
            session.output = self.conn

    def active_session(self) -> StreamSession | None:
        session = self.session
        return session if session is not None and session.active else None

    async def on_message(self, frame: dict[str, Any]) -> None:
        session = self.active_session()
        if session is None:
            await self.error(NO_SESSION)
            return
        message = frame.get("message")
        base_input = frame.get("base_input")
        if not isinstance(message, dict):
            await self.error("invalid message frame: 'message' must be an object")
            return
        if base_input is not None and not isinstance(base_input, dict):
            await self.error("invalid message frame: 'base_input' must be an object")
            return
        request = request_from_message(message, base_input)
        session.base_inputs.append(dict(request.base_input))
        if request.base_input.get("is_form_response") is True and session.form is not None:
            form_id, future = session.form
            answered = request.base_input.get("form_response_id")
            if answered != form_id:
                await self.error(f"form {answered!r} is not waiting (form {form_id!r} is)")
            elif not future.done():
                future.set_result(request.base_input.get("form_response"))
            return
        session.enqueue(request)

    async def on_open(self, frame: dict[str, Any]) -> None:
        session = self.active_session()
        if session is None:
            await self.error(NO_SESSION)
            return
        base_input = frame.get("base_input")
        if base_input is not None and not isinstance(base_input, dict):
            await self.error("invalid session.open frame: 'base_input' must be an object")
            return
        session.base_inputs.append(dict(base_input or {}))
        session.enqueue(request_from_message(None, base_input))

    async def on_tool_result(self, frame: dict[str, Any]) -> None:
        call_id = frame.get("call_id")
        future = None
        if self.session is not None and isinstance(call_id, str):
            future = self.session.tools.get(call_id)
        if future is None or future.done():
            await self.error(f"no tool call {call_id!r} is waiting for a result")
            return
        error = frame.get("error")
        future.set_result(
            ToolReply(
                ok=frame.get("ok") is True,
                result=frame.get("result"),
                error=None if error is None else str(error),
            )
        )

    async def on_end(self) -> None:
        session = self.session
        if session is None:
            return
        self.session = None
        if session.output is self.conn:
            session.output = None
        self.hub.end(session)
        await self.conn.send_json(
            {"type": "session.ended", "session_key": session.key, "at": now_iso()}
        )

    def detach(self) -> None:
        if self.session is not None and self.session.output is self.conn:
            self.session.output = None
        self.session = None


class _StreamEndpoint:
    """The raw ASGI endpoint: raw ``send`` keeps the token loop free of wrapper layers."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        webhook_id = str(scope["path_params"]["webhook_id"])
        token = websocket.query_params.get("token") or _bearer(
            websocket.headers.get("authorization")
        )
        fault = self.hub.ctx.faults.stream_fault(None)
        problem = self.hub.auth_error(webhook_id, token)
        if problem is None and fault.refuse_auth == "http":
            problem = "invalid token (injected fault)"
        if problem is not None:
            await websocket.send_denial_response(json_response({"error": problem}, 401))
            return
        await websocket.accept()
        conn = _Conn(send)
        if fault.refuse_auth == "frame":  # the auth error comes instead of ready
            await conn.send_text(_error_frame("invalid token (injected fault)"))
            await conn.close(1008, "invalid token")
            return
        await conn.send_json({"type": "ready", "webhook_id": webhook_id})
        if fault.close_after_ready:
            await conn.close(fault.close_code)
            return
        connection = _Connection(self.hub, conn, webhook_id, token or "")
        try:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break  # websocket.disconnect
                raw = message.get("text")
                if raw is None:
                    raw = message.get("bytes") or b""
                await connection.handle(raw)
        finally:
            conn.open = False
            connection.detach()


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    """The event-stream route; the session registry is kept as ``ctx.daguito_stream``."""
    hub = StreamHub(ctx)
    ctx.daguito_stream = hub
    return [WebSocketRoute("/v1/webhooks/{webhook_id}/stream", _StreamEndpoint(hub))]
