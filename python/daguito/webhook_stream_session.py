"""``WebhookStreamSession``: a streaming session over the Daguito event WebSocket.

Drop-in for daguito-sdk 0.4.5's class, on a faster and fixed engine:

* **Receive path.** Socket bytes go to the Rust decoder (``relaywire._native.StreamDecoder``)
  in one call per read, which returns the public event dataclasses; the batch is handed to
  listeners and iterators at once (``relaywire.transport.ws``).
* **Handshake.** ``connect()`` returns once the server answered ``session.started`` (daguito-sdk
  returned right after the upgrade). A refused token raises
  :class:`~daguito.errors.InvalidTokenError` (a :class:`~daguito.errors.StreamError`); other
  failures raise ``StreamError`` subclasses.
* **events()** is attached when called, not when first iterated. Events that arrive while
  neither an iterator nor an ``on()`` listener is attached wait in a backlog of ``opts.backlog``
  events (the oldest are dropped first, with a warning); the next iterator starts with them.
  Once listeners receive the events, nothing is kept for iterators that may come later.
  Iterators end when the session ends (``close()``, or a close that is not reconnected, after
  a final ``closed`` event). An iterator holding ``opts.max_queue`` undelivered events pauses
  reading from the socket until it drains to half: the server sees TCP backpressure and
  nothing is dropped.
* **Reconnects** (``auto_reconnect``) only follow recoverable closes (1001, 1005, 1006, 1011-1014,
  4000 and network errors), with capped exponential backoff and jitter that keeps growing when
  connections drop right after opening (no reconnect storm). Sends made while disconnected are
  queued and written exactly once, in order, after the next ``session.started``.
* **Tools** always answer: an error result when the handler raises (only the exception type is
  sent; the traceback is logged), exceeds ``client_timeout_ms`` or returns something that is not
  JSON. Sync handlers run in a worker thread so the timeout holds.
* **Listeners** may be async (they run as tasks). ``ClosedEvent.code`` is a plain int; a clean
  server close is reported as 1000 and is not reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, Union

import orjson
import websockets
from websockets.asyncio.client import connect

from daguito._client_headers import append_client_query_params, client_headers
from daguito._url import quote_segment, random_session_id, to_ws_url
from daguito.emitter import Emitter
from daguito.errors import (
    DaguitoConnectionError,
    DaguitoTimeoutError,
    InvalidTokenError,
    StreamError,
    WebhookStreamRunError,
    error_of,
)
from daguito.types import (
    ClosedEvent,
    ErrorEvent,
    FlowCompletedEvent,
    FlowFailedEvent,
    NodeCompletedEvent,
    NodeEmitEvent,
    NodeFailedEvent,
    NodeStartedEvent,
    NodeTokenEvent,
    ReadyEvent,
    ToolSpec,
    UnknownFrameEvent,
    WebhookStreamOptions,
)
from relaywire.redaction import get_logger, register_secret
from relaywire.streams import FLAG_CONTROL, FLAG_TOOL_CALL, FLAG_TURN_END, StreamDecoder
from relaywire.transport.backoff import Backoff
from relaywire.transport.errors import RequestTimeout, TransportError
from relaywire.transport.ws import (
    FastWebSocket,
    HandshakeRefused,
    LibraryWebSocket,
    accepted_kwargs,
    library_header_options,
)

__all__ = ["ToolHandler", "TurnResult", "WebhookStreamOptions", "WebhookStreamSession", "connect"]

log = get_logger("daguito.stream")

T = TypeVar("T")
ToolHandler = Union[  # noqa: UP007 - a runtime alias, as in daguito-sdk
    Callable[[dict[str, Any]], Awaitable[Any]],
    Callable[[dict[str, Any]], Any],
]

_TOKEN_KEYS = ("token", "text", "delta", "content")
#: The library ``connect``; when the module global is patched, the session uses the patch.
_LIBRARY_CONNECT = connect
#: Closes worth reconnecting after; anything else (1000, 1008, 1009, 4xxx...) ends the session.
RECOVERABLE_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1014, 4000})
_AUTH_CLOSE_CODES = frozenset({1008, 4001, 4003, 4401, 4403})

_EVENT_CLASSES: dict[str, type] = {
    "ready": ReadyEvent,
    "error": ErrorEvent,
    "node.started": NodeStartedEvent,
    "node.token": NodeTokenEvent,
    "node.completed": NodeCompletedEvent,
    "node.failed": NodeFailedEvent,
    "node.emit": NodeEmitEvent,
    "flow.completed": FlowCompletedEvent,
    "flow.failed": FlowFailedEvent,
    "unknown": UnknownFrameEvent,
}
_SCOPE_TYPES = (str, int, float, bool)
#: Tool handlers get this share of ``client_timeout_ms``; the rest is for the reply to travel.
TOOL_DEADLINE_FRACTION = 0.9


def _pick_token(data: dict[str, Any]) -> str:
    """The token text of a ``node.token`` frame's data (first non-empty string), or ``""``."""
    for key in _TOKEN_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


@dataclass
class TurnResult:
    """What one message produced (:meth:`WebhookStreamSession.run_turn`)."""

    text: str
    output: Any
    elapsed_ms: int
    execution_id: str


class _EventIterator:
    """The async iterator returned by :meth:`WebhookStreamSession.events` (attached at once)."""

    __slots__ = ("__weakref__", "_buffer", "_done", "_session", "_waiter")

    def __init__(self, session: WebhookStreamSession, initial: deque[tuple[str, Any]]) -> None:
        self._session = session
        self._buffer = initial
        self._waiter: asyncio.Future[None] | None = None
        self._done = False

    def __aiter__(self) -> _EventIterator:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        buffer = self._buffer
        while not buffer:
            if self._done:
                self._session._detach(self)
                raise StopAsyncIteration
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        item = buffer.popleft()
        if self._session._reading_paused and len(buffer) <= self._session._low_water:
            self._session._maybe_resume()
        return item

    async def next_batch(self) -> list[tuple[str, Any]]:
        """Everything buffered (waiting for at least one event); ``[]`` once the session ended."""
        buffer = self._buffer
        while not buffer:
            if self._done:
                self._session._detach(self)
                return []
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        batch = list(buffer)
        buffer.clear()
        if self._session._reading_paused:
            self._session._maybe_resume()
        return batch

    async def aclose(self) -> None:
        """Detach: later events go to the session's backlog (or other iterators)."""
        self._done = True
        self._session._detach(self)

    def __del__(self) -> None:
        # Dropped without being exhausted (``break`` or ``return`` out of ``async for``): what
        # it never delivered goes back to the session for the next iterator.
        if not self._done and self._buffer:
            self._session._orphaned(self, self._buffer)

    def _push(self, events: list[tuple[str, Any]]) -> None:
        self._buffer.extend(events)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self) -> None:
        self._done = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Turn:
    __slots__ = ("execution_id", "future", "last_output", "started")

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future
        self.started: float | None = None
        self.execution_id = ""
        self.last_output: Any = None


class WebhookStreamSession:
    """A streaming session for one webhook (see the module docstring for the guarantees)."""

    def __init__(self, opts: WebhookStreamOptions) -> None:
        _validate_options(opts)
        register_secret(opts.token)
        self.opts = opts
        self._session_key = opts.session_key or random_session_id("py")
        self._decoder = StreamDecoder(
            _EVENT_CLASSES,
            default_webhook_id=opts.webhook_id,
            max_message_size=opts.max_message_size,
        )
        self._emitter = Emitter()
        self._opened = asyncio.Event()
        self._conn: FastWebSocket | LibraryWebSocket | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._outbox: deque[bytes] = deque()
        # Weak: an iterator the caller dropped stops receiving (its events go to the backlog).
        self._iterators: list[weakref.ref[_EventIterator]] = []
        self._backlog: deque[tuple[str, Any]] = deque(maxlen=opts.backlog)
        self._backlog_warned = False
        self._tools: dict[str, tuple[ToolSpec, ToolHandler]] = {}
        self._tool_wire: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        max_delay = opts.max_reconnect_delay
        self._backoff = Backoff(initial=min(0.5, max_delay), maximum=max_delay)
        self._closed = False
        self._final: ClosedEvent | None = None
        self._pre_start_error: str | None = None
        self._turn: _Turn | None = None
        self._turn_started: float | None = None
        self._reading_paused = False
        self._low_water = max(1, opts.max_queue // 2)
        self._start_waiter: asyncio.Future[None] | None = None
        self._last_close: tuple[int, str] | None = None
        self._scope_dropped: set[str] = set()
        #: Connections opened so far (the first one and every reconnect).
        self.connections = 0

    # --- properties ----------------------------------------------------------------------

    @property
    def session_key(self) -> str:
        return self._session_key

    @property
    def is_open(self) -> bool:
        """True between ``session.started`` and the next disconnect."""
        return self._opened.is_set()

    @property
    def closed(self) -> bool:
        return self._closed or self._final is not None

    # --- context manager -----------------------------------------------------------------

    async def __aenter__(self) -> WebhookStreamSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # --- connecting ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the socket and start the session; returns after ``session.started``.

        Does nothing when already open. Raises :class:`StreamError` (``InvalidTokenError`` for a
        refused token, ``DaguitoConnectionError``/``DaguitoTimeoutError`` kinds for network
        failures) and, after ``close()``, ``StreamError("session is closed")``.
        """
        self._check_usable()
        if self._opened.is_set():
            return
        if self._reconnect_task is not None and not self._reconnect_task.done():
            await self._wait_open()
            return
        conn = self._conn
        if conn is not None and conn.is_open:
            # The socket is up and session.start went out (after session.ended): wait for it.
            try:
                await asyncio.wait_for(self._started_or_gone(conn), self.opts.open_timeout)
            except asyncio.TimeoutError as err:
                raise error_of(
                    StreamError, "timed out waiting for session.started", kind=DaguitoTimeoutError
                ) from err
            return
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.get_running_loop().create_task(self._open_and_start())
        await asyncio.shield(self._connecting)

    async def _wait_open(self) -> None:
        opened = asyncio.ensure_future(self._opened.wait())
        try:
            task = self._reconnect_task
            waits: set[asyncio.Future[Any]] = {opened}
            if task is not None:
                waits.add(task)
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            opened.cancel()
        if not self._opened.is_set():
            self._check_usable()
            raise StreamError("the session could not reconnect")

    def _url(self) -> str:
        path = f"/v1/webhooks/{quote_segment(self.opts.webhook_id)}/stream"
        return append_client_query_params(
            to_ws_url(self.opts.api_url, path, {"token": self.opts.token})
        )

    async def _open_and_start(self) -> None:
        """One connection attempt: open, wait for ``session.started`` (or fail typed)."""
        opts = self.opts
        headers = client_headers()
        if opts.headers:
            headers.update(opts.headers)
        self._pre_start_error = None
        self._decoder.reset()
        connect_fn = globals()["connect"]
        try:
            if connect_fn is _LIBRARY_CONNECT:
                conn: FastWebSocket | LibraryWebSocket = await FastWebSocket.open(
                    self._url(),
                    decoder=self._decoder,
                    on_batch=self._on_batch,
                    on_close=self._on_close,
                    headers=headers,
                    max_size=opts.max_message_size,
                    open_timeout=opts.open_timeout,
                    ping_interval=opts.ping_interval,
                    ping_timeout=opts.ping_timeout,
                    proxy=opts.proxy,
                )
            else:
                options = {
                    **library_header_options(headers),
                    "max_size": opts.max_message_size,
                    "ping_interval": opts.ping_interval,
                    "ping_timeout": opts.ping_timeout,
                }
                if opts.proxy is not True:  # websockets' own default; older releases lack it
                    options["proxy"] = opts.proxy
                ws = await asyncio.wait_for(
                    connect_fn(self._url(), **accepted_kwargs(connect_fn, options)),
                    opts.open_timeout,
                )
                conn = LibraryWebSocket(ws, self._decoder, self._on_batch, self._on_close)
        except HandshakeRefused as err:
            raise error_of(StreamError, f"stream refused: {err.message}", err.status) from err
        except websockets.exceptions.InvalidStatus as err:
            status = err.response.status_code
            raise error_of(StreamError, f"stream refused: HTTP {status}", status) from err
        except RequestTimeout as err:
            raise error_of(StreamError, err.message, kind=DaguitoTimeoutError) from err
        except asyncio.TimeoutError as err:
            raise error_of(
                StreamError, "stream connection timed out", kind=DaguitoTimeoutError
            ) from err
        except (TransportError, OSError, websockets.exceptions.WebSocketException) as err:
            message = (
                err.message
                if isinstance(err, TransportError)
                else f"stream connection failed: {err}"
            )
            raise error_of(StreamError, message, kind=DaguitoConnectionError) from err
        if self._closed:
            await conn.close()
            raise StreamError("session is closed")
        self._conn = conn
        self.connections += 1
        conn.start()
        try:
            await asyncio.wait_for(self._started_or_gone(conn), opts.open_timeout)
        except asyncio.TimeoutError as err:
            self._conn = None
            conn.abort()
            raise error_of(
                StreamError, "timed out waiting for session.started", kind=DaguitoTimeoutError
            ) from err
        self._backoff.connected()

    async def _started_or_gone(self, conn: FastWebSocket | LibraryWebSocket) -> None:
        while not self._opened.is_set():
            if self._conn is not conn or not conn.is_open:
                code, close_reason = self._last_close or conn.close_info or (None, "")
                reason = (
                    self._pre_start_error
                    or close_reason
                    or "connection closed before session.started"
                )
                kind = InvalidTokenError if code in _AUTH_CLOSE_CODES else None
                raise error_of(StreamError, f"stream refused: {reason}", kind=kind)
            self._start_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._start_waiter
            finally:
                self._start_waiter = None

    def _wake_starter(self) -> None:
        waiter = self._start_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- receiving -----------------------------------------------------------------------

    def _on_batch(self, events: list[tuple[str, Any]], flags: int) -> None:
        if not self._opened.is_set():
            for etype, payload in events:
                if etype == "error":
                    self._pre_start_error = payload.message
        if flags & FLAG_CONTROL:
            events = self._control(events)
        if flags & FLAG_TOOL_CALL:
            self._tool_calls(events)
        if self._turn is not None:
            self._track_turn(events)
        elif flags & FLAG_TURN_END:
            self._stamp_elapsed(events)
        if not events:
            return
        pushed = False
        for ref in self._iterators:
            it = ref()
            if it is not None:
                pushed = True
                it._push(events)
                if len(it._buffer) > self.opts.max_queue:
                    self._pause()
        if not pushed and not self._emitter.has_any_listeners():
            backlog = self._backlog
            if len(backlog) + len(events) > (backlog.maxlen or 0) and not self._backlog_warned:
                self._backlog_warned = True
                log.warning(
                    "no events() iterator attached: backlog full (%d events), dropping the oldest",
                    backlog.maxlen,
                )
            backlog.extend(events)
        if self._emitter.has_any_listeners():
            emit = self._emitter.emit
            for etype, payload in events:
                emit(etype, payload)

    def _control(self, events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        kept: list[tuple[str, Any]] = []
        for item in events:
            etype = item[0]
            if etype == "ready":
                self._send_now({"type": "session.start", "session_key": self._session_key})
                kept.append(item)
            elif etype == "session.started":
                self._on_started()
            elif etype == "session.ended":
                # The server forgot the session; start it again on this socket (daguito-sdk
                # queued every later send forever, bug B9).
                self._opened.clear()
                if not self._closed:
                    self._send_now({"type": "session.start", "session_key": self._session_key})
            elif etype == "malformed":
                log.warning("skipped a malformed stream frame: %s", item[1])
            else:
                kept.append(item)
        return kept

    def _on_started(self) -> None:
        self._opened.set()
        conn = self._conn
        outbox = self._outbox
        while outbox and conn is not None and conn.is_open:
            data = outbox.popleft()
            self._mark_turn_start()
            self._write(conn, data)
        self._wake_starter()

    def _stamp_elapsed(self, events: list[tuple[str, Any]]) -> None:
        started = self._turn_started
        elapsed = 0 if started is None else int((time.monotonic() - started) * 1000)
        for etype, payload in events:
            if etype == "flow.completed":
                payload.elapsed_ms = elapsed
                self._turn_started = None
            elif etype == "flow.failed":
                self._turn_started = None

    def _track_turn(self, events: list[tuple[str, Any]]) -> None:
        turn = self._turn
        assert turn is not None
        for etype, payload in events:
            if etype == "node.token":
                continue
            if etype == "flow.completed":
                started = self._turn_started
                payload.elapsed_ms = (
                    0 if started is None else int((time.monotonic() - started) * 1000)
                )
                self._turn_started = None
                self._finish_turn(payload)
            elif etype == "flow.failed":
                self._turn_started = None
                self._finish_turn(WebhookStreamRunError(payload.error, "failed"))
            elif etype == "error":
                self._finish_turn(WebhookStreamRunError(payload.message, "failed"))
            elif etype == "node.completed":
                if payload.output is not None:
                    turn.last_output = payload.output
            elif etype == "node.emit":
                execution_id = payload.data.get("execution_id")
                if isinstance(execution_id, str) and execution_id:
                    turn.execution_id = execution_id

    def _finish_turn(self, outcome: Any) -> None:
        turn = self._turn
        if turn is None or turn.future.done():
            return
        if isinstance(outcome, BaseException):
            turn.future.set_exception(outcome)
        else:
            turn.future.set_result(outcome)

    def _pause(self) -> None:
        if not self._reading_paused and self._conn is not None:
            self._reading_paused = True
            self._conn.pause_reading()

    def _live_iterators(self) -> list[_EventIterator]:
        return [it for it in (ref() for ref in self._iterators) if it is not None]

    def _maybe_resume(self) -> None:
        if any(len(it._buffer) > self._low_water for it in self._live_iterators()):
            return
        self._reading_paused = False
        if self._conn is not None:
            self._conn.resume_reading()

    def _on_close(self, code: int, reason: str) -> None:
        self._last_close = (code, reason)
        self._conn = None
        self._opened.clear()
        self._reading_paused = False
        self._backoff.disconnected()
        self._wake_starter()
        if self._closed:
            return
        if self._connecting is not None and not self._connecting.done():
            return  # the connect() caller gets the error
        if self._reconnect_task is not None and not self._reconnect_task.done():
            return  # the reconnect loop sees it and goes on
        if self.opts.auto_reconnect and code in RECOVERABLE_CLOSE_CODES:
            log.info("stream closed (%d %s); reconnecting", code, reason)
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())
        else:
            self._end(code, reason)

    async def _reconnect(self) -> None:
        while not self._closed:
            delay = self._backoff.next_delay()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._closed:
                return
            try:
                await self._open_and_start()
                return
            except InvalidTokenError as err:
                self._end(1008, err.message)
                return
            except StreamError as err:
                if self._last_close and self._last_close[0] not in RECOVERABLE_CLOSE_CODES:
                    self._end(*self._last_close)
                    return
                log.info("reconnect attempt %d failed: %s", self._backoff.attempts, err)

    def _end(self, code: int, reason: str) -> None:
        """The session is over for good: a final ``closed`` event, then iterators end."""
        if self._final is not None:
            return
        self._final = ClosedEvent(code=int(code), reason=reason)
        item = ("closed", self._final)
        live = self._live_iterators()
        for it in live:
            it._push([item])
        if not live:
            self._backlog.append(item)
        self._emitter.emit("closed", self._final)
        self._finish_turn(WebhookStreamRunError(reason or f"closed (code {code})", "closed"))
        self._drop_outbox()
        for it in live:
            it._finish()

    def _drop_outbox(self) -> None:
        if self._outbox:
            log.warning("session ended with %d queued frame(s) unsent", len(self._outbox))
            self._outbox.clear()

    # --- sending -------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise StreamError("session is closed")
        if self._final is not None:
            raise StreamError(
                f"session ended (code {self._final.code}: {self._final.reason or 'no reason'})"
            )

    def _write(self, conn: FastWebSocket | LibraryWebSocket, data: bytes) -> None:
        task = asyncio.get_running_loop().create_task(conn.send(data))
        if not task.done():
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _send_now(self, frame: dict[str, Any]) -> None:
        conn = self._conn
        if conn is not None and conn.is_open:
            self._write(conn, orjson.dumps(frame))

    def _mark_turn_start(self) -> None:
        if self._turn_started is None:
            self._turn_started = time.monotonic()

    async def _deliver(self, data: bytes, *, starts_turn: bool) -> None:
        conn = self._conn
        if self._opened.is_set() and conn is not None and conn.is_open:
            while self._outbox:
                self._write(conn, self._outbox.popleft())
            if starts_turn:
                self._mark_turn_start()
            await conn.send(data)
            return
        self._outbox.append(data)
        reconnecting = self._reconnect_task is not None and not self._reconnect_task.done()
        if not reconnecting and not (self._connecting is not None and not self._connecting.done()):
            try:
                await self.connect()
            except BaseException:
                with contextlib.suppress(ValueError):
                    self._outbox.remove(data)
                raise

    async def send(self, message: dict[str, Any], base_input: dict[str, Any] | None = None) -> None:
        """Send a message (see :mod:`daguito.types` builders).

        Before ``session.started`` (or during a reconnect) it is queued and written once the
        session is open; a lazy first connect happens here and its errors are raised here.
        ``base_input={}`` means "no base input" (daguito-sdk fell back to ``opts.base_input``).
        """
        self._check_usable()
        if not isinstance(message, dict):
            raise TypeError(f"message must be a dict, got {type(message).__name__}")
        if "file" in message:
            raise ValueError(
                "file messages are not supported; upload first, then media_key_message()"
            )
        if base_input is not None and not isinstance(base_input, dict):
            raise TypeError(f"base_input must be a dict or None, got {type(base_input).__name__}")
        await self._deliver(
            orjson.dumps(self._message_frame(message, base_input)), starts_turn=True
        )

    async def send_raw(self, frame: dict[str, Any]) -> None:
        """Send a frame as is (queued until ``session.started`` like :meth:`send`)."""
        self._check_usable()
        if not isinstance(frame, dict):
            raise TypeError(f"frame must be a dict, got {type(frame).__name__}")
        try:
            data = orjson.dumps(frame)
        except TypeError as err:
            raise TypeError(f"frame is not JSON-serializable: {err}") from err
        await self._deliver(data, starts_turn=frame.get("type") in ("message", "session.open"))

    def _message_frame(
        self, message: dict[str, Any], base_input: dict[str, Any] | None
    ) -> dict[str, Any]:
        kind = message.get("kind")
        text = message.get("text")
        contributed: dict[str, Any] = {}
        if kind != "form-response" and "media_key" in message:
            inbound: dict[str, Any] = {
                "kind": kind,
                "text": text,
                "media": {
                    "key": message["media_key"],
                    "mime_type": message.get("mime_type"),
                    "size_bytes": message.get("size_bytes"),
                },
            }
            if message.get("media_url") is not None:
                inbound["media"]["url"] = message["media_url"]
        elif kind == "form-response":
            inbound = {"kind": "text", "text": "[form-response]"}
            contributed = {
                "form_response": message.get("payload"),
                "form_response_id": message.get("form_id"),
                "is_form_response": True,
            }
        else:
            inbound = {"kind": "text", "text": text if isinstance(text, str) else ""}
            if kind == "image" and message.get("image_url") is not None:
                contributed = {"image_url": message["image_url"]}
            elif kind == "image-multi" and message.get("image_urls") is not None:
                contributed = {"image_urls": message["image_urls"]}
        merged = dict(contributed)
        chosen = self.opts.base_input if base_input is None else base_input
        if chosen:
            merged.update(chosen)
        if self._tool_wire:
            existing = merged.get("client_tools")
            merged["client_tools"] = (
                [*existing, *self._tool_wire]
                if isinstance(existing, list)
                else list(self._tool_wire)
            )
        if self.opts.scope and "scope" not in merged:
            scope = self._primitive_scope(self.opts.scope)
            if scope:
                merged["scope"] = scope
        frame: dict[str, Any] = {"type": "message", "message": inbound}
        if merged:
            frame["base_input"] = merged
        return frame

    def _primitive_scope(self, scope: dict[Any, Any]) -> dict[str, Any]:
        """The scope entries that are forwarded: str keys with str, int, float or bool values.

        The Go SDK documents that arrays and objects are dropped at the wire boundary (daguito-sdk
        forwarded them, bug B5). Each dropped key is logged once, at DEBUG, by key and type only:
        scope values may be tenant or user identifiers.
        """
        kept: dict[str, Any] = {}
        for key, value in scope.items():
            if isinstance(key, str) and isinstance(value, _SCOPE_TYPES):
                kept[key] = value
            elif (key_text := repr(key)) not in self._scope_dropped:
                self._scope_dropped.add(key_text)
                log.debug(
                    "scope[%s] is a %s, not a str, int, float or bool: not forwarded",
                    key_text,
                    type(value).__name__,
                )
        return kept

    # --- listeners and iteration ---------------------------------------------------------

    def on(self, event: str, listener: Callable[[Any], Any]) -> Callable[[], None]:
        """Call ``listener(payload)`` for each ``event``; returns an unsubscribe function.

        Async listeners run as tasks; a listener's exception is logged and the others still run.
        """
        return self._emitter.on(event, listener)

    def off(self, event: str, listener: Callable[[Any], Any]) -> None:
        self._emitter.off(event, listener)

    def events(self) -> _EventIterator:
        """An async iterator of ``(event_type, payload)``; attached now (see the module docs)."""
        initial: deque[tuple[str, Any]] = deque()
        if not self._live_iterators() and self._backlog:
            initial, self._backlog = self._backlog, deque(maxlen=self.opts.backlog)
        it = _EventIterator(self, initial)
        if self._final is not None or self._closed:
            it._finish()
        else:
            self._iterators.append(weakref.ref(it, self._iterator_gone))
        return it

    def _iterator_gone(self, ref: weakref.ref[_EventIterator]) -> None:
        with contextlib.suppress(ValueError):
            self._iterators.remove(ref)
        if self._reading_paused:
            self._maybe_resume()

    def _orphaned(self, dying: _EventIterator, undelivered: deque[tuple[str, Any]]) -> None:
        if not any(it is not dying for it in self._live_iterators()):
            self._backlog.extendleft(reversed(undelivered))

    def _detach(self, it: _EventIterator) -> None:
        self._iterators = [ref for ref in self._iterators if ref() not in (it, None)]
        if self._reading_paused:
            self._maybe_resume()

    # --- tools ---------------------------------------------------------------------------

    def register_tool(self, spec: ToolSpec, handler: ToolHandler) -> None:
        """Register a client-side tool (Go's ``RegisterTool``); a second one with the same name
        replaces the first. Its spec travels in ``base_input.client_tools`` of every message."""
        if not isinstance(spec, ToolSpec):
            raise TypeError(f"spec must be a ToolSpec, got {type(spec).__name__}")
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._tools[spec.name] = (spec, handler)
        self._tool_wire = [s.to_wire() for s, _ in self._tools.values()]

    def tool(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        timeout_seconds: float = 30.0,
    ) -> Callable[[T], T]:
        """Decorator form of :meth:`register_tool` (daguito-sdk's API)."""
        if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)):
            raise TypeError("timeout_seconds must be a number")
        if not timeout_seconds > 0:
            raise ValueError("timeout_seconds must be > 0")
        spec = ToolSpec(name, description, parameters, int(timeout_seconds * 1000))

        def decorate(fn: T) -> T:
            self.register_tool(spec, fn)  # type: ignore[arg-type]
            return fn

        return decorate

    def _tool_calls(self, events: list[tuple[str, Any]]) -> None:
        for etype, payload in events:
            if etype != "node.emit" or payload.kind != "agent.tool_call_started":
                continue
            data = payload.data
            name, call_id = data.get("tool_name"), data.get("call_id")
            if not isinstance(name, str) or not isinstance(call_id, str):
                continue
            entry = self._tools.get(name)
            if entry is None:
                log.debug("tool %r is not registered here; not answering", name)
                continue
            args = data.get("args")
            self._spawn(
                self._run_tool(entry[0], entry[1], call_id, args if isinstance(args, dict) else {})
            )

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background send failed: %r", task.exception())

    async def _run_tool(
        self, spec: ToolSpec, handler: ToolHandler, call_id: str, args: dict[str, Any]
    ) -> None:
        # Answer a little before the server's own deadline, so the error result reaches it.
        timeout = spec.client_timeout_ms * TOOL_DEADLINE_FRACTION / 1000.0
        reply: dict[str, Any]
        try:
            if inspect.iscoroutinefunction(handler):
                result = await asyncio.wait_for(handler(args), timeout)
            else:
                result = await asyncio.wait_for(asyncio.to_thread(handler, args), timeout)
                if inspect.isawaitable(result):
                    result = await asyncio.wait_for(result, timeout)
            try:
                data = orjson.dumps(
                    {"type": "tool_result", "call_id": call_id, "ok": True, "result": result}
                )
            except TypeError as err:
                log.error("tool %r returned a value that is not JSON: %s", spec.name, err)
                reply = {"ok": False, "error": f"tool result is not JSON-serializable: {err}"}
            else:
                await self._deliver_tool_result(data)
                return
        except asyncio.TimeoutError:
            log.warning("tool %r timed out after %d ms", spec.name, spec.client_timeout_ms)
            reply = {"ok": False, "error": f"tool timed out after {spec.client_timeout_ms} ms"}
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.exception("tool %r failed", spec.name)
            reply = {"ok": False, "error": f"tool handler raised {type(err).__name__}"}
        await self._deliver_tool_result(
            orjson.dumps({"type": "tool_result", "call_id": call_id, **reply})
        )

    async def _deliver_tool_result(self, data: bytes) -> None:
        if self._closed or self._final is not None:
            return
        conn = self._conn
        if self._opened.is_set() and conn is not None and conn.is_open:
            await conn.send(data)
        else:
            self._outbox.append(data)

    # --- turns ---------------------------------------------------------------------------

    async def run_turn(
        self,
        message: dict[str, Any],
        base_input: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> TurnResult:
        """Send ``message`` and wait for its ``flow.completed``.

        Token text is gathered natively (no Python object per token when nothing else
        listens to tokens). Raises :class:`WebhookStreamRunError` with status ``failed``
        (``flow.failed`` or an ``error`` frame), ``closed`` or ``timeout``.
        """
        if self._turn is not None:
            raise StreamError("a turn is already running on this session")
        if timeout is not None and not timeout > 0:
            raise ValueError("timeout must be > 0 seconds")
        turn = _Turn(asyncio.get_running_loop().create_future())
        decoder = self._decoder
        decoder.take_text()
        decoder.execution_id = None
        decoder.collect_text = True
        decoder.emit_tokens = bool(self._live_iterators()) or self._emitter.has_listeners(
            "node.token"
        )
        self._turn = turn
        try:
            await self.send(message, base_input)
            try:
                completed = await asyncio.wait_for(asyncio.shield(turn.future), timeout)
            except asyncio.TimeoutError as err:
                ms = int((timeout or 0) * 1000)
                raise WebhookStreamRunError(f"timed out after {ms}ms", "timeout") from err
        finally:
            self._turn = None
            decoder.collect_text = False
            decoder.emit_tokens = True
            if not turn.future.done():
                turn.future.cancel()
        text = decoder.take_text()
        output = completed.output
        if output is None:
            output = turn.last_output
        if output is None and text:
            output = {"content": text}
        return TurnResult(
            text, output, completed.elapsed_ms, turn.execution_id or decoder.execution_id or ""
        )

    async def collect_text(
        self,
        message: dict[str, Any],
        base_input: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> str:
        """Send ``message`` and return the text streamed for it (see :meth:`run_turn`)."""
        return (await self.run_turn(message, base_input, timeout=timeout)).text

    # --- closing -------------------------------------------------------------------------

    async def close(self) -> None:
        """End the session: ``session.end``, a 1000 close, iterators end, listeners removed.

        Idempotent. Queued frames that were never sent are logged.
        """
        if self._closed:
            return
        self._closed = True
        for task in (self._reconnect_task, self._connecting):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        conn, self._conn = self._conn, None
        if conn is not None and conn.is_open:
            with contextlib.suppress(Exception):
                await conn.send(orjson.dumps({"type": "session.end"}))
            await conn.close(1000)
        elif conn is not None:
            conn.abort()
        self._opened.clear()
        self._drop_outbox()
        self._finish_turn(WebhookStreamRunError("session closed", "closed"))
        for it in self._live_iterators():
            it._finish()
        for task in list(self._tasks):
            task.cancel()
        self._emitter.remove_all()


def _validate_options(opts: WebhookStreamOptions) -> None:
    if not isinstance(opts, WebhookStreamOptions):
        raise TypeError(f"expected WebhookStreamOptions, got {type(opts).__name__}")
    for name in ("api_url", "webhook_id", "token"):
        value = getattr(opts, name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"WebhookStreamOptions.{name} must be a non-empty string")
    if opts.base_input is not None and not isinstance(opts.base_input, dict):
        raise TypeError("WebhookStreamOptions.base_input must be a dict or None")
    if opts.scope is not None and not isinstance(opts.scope, dict):
        raise TypeError("WebhookStreamOptions.scope must be a dict or None")
    for name in ("max_message_size", "max_queue", "backlog"):
        value = getattr(opts, name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"WebhookStreamOptions.{name} must be a positive int")
    for name in ("open_timeout", "max_reconnect_delay"):
        value = getattr(opts, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"WebhookStreamOptions.{name} must be a number of seconds > 0")
