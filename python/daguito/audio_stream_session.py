"""Audio upstream: raw codec bytes over WS ``/v1/audio/{session_id}`` (daguito-sdk's
``AudioStreamSession``, spec/daguito.md 2.13).

Differences from daguito-sdk 0.4.5 (bugs A1-A3, spec/daguito.md 6.2):

* ``send_audio`` refuses, before sending, an empty chunk and a chunk over the frame limit (the
  ``max_frame_bytes`` guard of the server's ``ready`` frame, else 256 KiB) with
  :class:`AudioStreamError` (A1).
* A reconnect only counts once the new connection's ``ready`` frame arrives, and that frame
  replaces ``ready`` (A2). ``reconnects`` counts the successful ones.
* A failed ``connect()`` leaves the session usable: ``connect()`` may be called again (A3). After
  ``close()``, ``connect()`` and the send methods raise ``AudioStreamError`` instead of silently
  doing nothing.
* Reconnects use capped, jittered exponential backoff (first retry immediate, then about 1, 2,
  4 … s up to ``max_reconnect_delay``) that is not reset by a connection that drops within a
  few seconds, so a server that accepts and closes at once cannot cause a storm. A close code
  that means "do not come back" (1000, 1002, 1003, 1007-1010) ends the connection for good, as
  does a refused token while reconnecting.
* A refused token (an ``error`` frame naming the token or authentication, or HTTP 401/403 at the
  upgrade) raises an ``AudioStreamError`` that is also ``InvalidTokenError``; other connection
  failures are also ``DaguitoConnectionError`` / ``DaguitoTimeoutError``.
* ``pause()`` / ``resume()`` send the text frames ``pause`` / ``resume`` (as the JS SDK does):
  the server closes or reopens its speech-to-text segment without ending the session.
* The session id is percent-encoded in the path.

Chunks sent while reconnecting: daguito-sdk dropped them silently. Here they are buffered, up
to ``AudioStreamOptions.reconnect_buffer_bytes`` (1 MiB, about 30 s of 16 kHz mono PCM16), and
sent in order once the new connection is ready, before any later chunk. When the buffer is full
the oldest audio is dropped; dropped audio is counted in ``dropped_chunks`` / ``dropped_bytes``
and logged (a warning per gap). Audio still buffered when the session closes or fails for good
is counted as dropped too. ``reconnect_buffer_bytes=0`` drops (and counts) every chunk sent
during a gap. ``pause`` / ``resume`` frames are buffered in order and never dropped.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from daguito._client_headers import (
    append_client_query_params,  # noqa: F401 - daguito-sdk exposed it here
    client_headers,
    client_query_params,
)
from daguito._url import quote_segment, random_session_id, to_ws_url
from daguito.errors import (
    AudioStreamError,
    DaguitoConnectionError,
    DaguitoError,
    DaguitoTimeoutError,
    InvalidTokenError,
    error_of,
)
from relaywire.redaction import get_logger, masked_repr, register_secret
from relaywire.transport.backoff import Backoff
from relaywire.transport.errors import TransportError
from relaywire.transport.proxy import open_tunnel, proxy_for
from relaywire.transport.ws import (
    accepted_kwargs,
    close_of,
    library_header_options,
    next_message,
)

__all__ = [
    "SUPPORTED_CODECS",
    "AudioStreamError",
    "AudioStreamOptions",
    "AudioStreamReady",
    "AudioStreamSession",
    "ClientConnection",
    "connect",
    "log",
    "websockets",
]

log = get_logger(__name__)
#: The library ``connect``; when the module global is patched, the session uses the patch.
_LIBRARY_CONNECT = connect

SUPPORTED_CODECS: frozenset[str] = frozenset({"pcm16", "opus", "webm-opus", "mulaw", "flac"})
#: The server's frame cap, used until a ``ready`` frame says otherwise.
MAX_CHUNK_BYTES = 256 * 1024
#: Largest inbound message accepted (the server only sends small JSON frames).
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
PING_INTERVAL = 20.0
PING_TIMEOUT = 15.0
DEFAULT_RECONNECT_BUFFER_BYTES = 1024 * 1024
#: Close codes after which reconnecting would not help.
FINAL_CLOSE_CODES = frozenset({1000, 1002, 1003, 1007, 1008, 1009, 1010})
_AUTH_WORDS = re.compile(r"token|auth|credential|forbidden|api[ _-]?key", re.IGNORECASE)
_CLOSE_WAIT = 2.0


@masked_repr("token")
@dataclass
class AudioStreamOptions:
    """Options of an :class:`AudioStreamSession`.

    ``token`` is the ``sk_wh_…`` token of the companion event stream. ``sample_rate`` is
    required for ``pcm16``. ``ready_timeout_s`` bounds the opening handshake and the wait for
    the ``ready`` frame. relaywire additions: ``reconnect_buffer_bytes`` (audio kept while
    reconnecting, see the module documentation), ``max_reconnect_delay`` (seconds, the
    backoff cap) and ``proxy`` (``True``: an HTTP proxy from the environment, as for REST; a
    URL; ``None``: direct).
    """

    api_url: str
    token: str
    session_id: str | None = None
    codec: str = "pcm16"
    sample_rate: int | None = None
    ready_timeout_s: float = 10.0
    auto_reconnect: bool = True
    reconnect_buffer_bytes: int = DEFAULT_RECONNECT_BUFFER_BYTES
    max_reconnect_delay: float = 30.0
    proxy: bool | str | None = True


@dataclass
class AudioStreamReady:
    session_key: str
    codec: str
    guards: dict[str, Any] = field(default_factory=dict)


class AudioStreamSession:
    """One audio upstream. ``await connect()`` (or ``async with``) opens it and returns once the
    server's ``ready`` frame arrived; then ``send_audio`` each chunk (20-100 ms of audio is
    recommended). Transcripts come back on the companion event stream, not here.
    """

    def __init__(self, opts: AudioStreamOptions) -> None:
        if opts.codec not in SUPPORTED_CODECS:
            raise ValueError(
                f"unsupported codec {opts.codec!r}; expected one of "
                f"{', '.join(sorted(SUPPORTED_CODECS))}"
            )
        rate = opts.sample_rate
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0):
            raise ValueError(f"sample_rate must be a positive int, got {rate!r}")
        if opts.codec == "pcm16" and rate is None:
            raise ValueError("sample_rate is required for codec 'pcm16'")
        if not isinstance(opts.token, str) or not opts.token:
            raise ValueError("token is required")
        _check_seconds(opts.ready_timeout_s, "ready_timeout_s")
        _check_seconds(opts.max_reconnect_delay, "max_reconnect_delay")
        buffer = opts.reconnect_buffer_bytes
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 0:
            raise ValueError(f"reconnect_buffer_bytes must be an int >= 0, got {buffer!r}")

        register_secret(opts.token)
        self._opts = opts
        self._session_id = opts.session_id or random_session_id("py")
        query = {"token": opts.token, "codec": opts.codec}
        if rate is not None:
            query["sr"] = str(rate)
        query.update(client_query_params())
        self._url = to_ws_url(opts.api_url, "/v1/audio/" + quote_segment(self._session_id), query)

        self._ws: ClientConnection | None = None
        self._ready: AudioStreamReady | None = None
        self._closed = False
        self._gap = False  # reconnecting: sends go to the buffer
        self._paused = False
        self._task: asyncio.Task[None] | None = None  # reads frames, reconnects
        self._opening: ClientConnection | None = None  # connected, waiting for ready
        self._connect_lock = asyncio.Lock()
        self._pending: deque[bytes | str] = deque()
        self._pending_bytes = 0
        self._warned_drop = False
        self._failure: AudioStreamError | None = None
        self._max_chunk = MAX_CHUNK_BYTES
        max_delay = opts.max_reconnect_delay
        self._backoff = Backoff(initial=min(1.0, max_delay), maximum=max_delay)

        #: Successful reconnects (each confirmed by a ``ready`` frame).
        self.reconnects = 0
        #: Audio chunks (and their bytes) that never reached the server: sent during a
        #: reconnect gap and pushed out of the full buffer, or still buffered at the end.
        self.dropped_chunks = 0
        self.dropped_bytes = 0
        #: The message of the last soft ``error`` frame after ``ready`` (e.g. a bad frame).
        self.last_server_error: str | None = None

    # -- properties ------------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def ready(self) -> AudioStreamReady | None:
        """The ``ready`` frame of the current connection (kept during a reconnect gap until the
        next connection's replaces it)."""
        return self._ready

    @property
    def connected(self) -> bool:
        """Whether a ready connection is up (False before ``connect()``, while reconnecting,
        and after the connection ended)."""
        return self._ws is not None and not self._gap and not self._closed

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def buffered_bytes(self) -> int:
        """Audio bytes waiting for the next connection."""
        return self._pending_bytes

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> AudioStreamSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the socket and wait for the ``ready`` frame. A no-op while connected (or
        reconnecting). Raises :class:`AudioStreamError` if the connection fails, the server
        rejects the session, or no ``ready`` arrives within ``ready_timeout_s``; the session
        can then ``connect()`` again."""
        self._raise_if_closed()
        async with self._connect_lock:
            self._raise_if_closed()
            if self._ws is not None or self._gap:
                return
            try:
                ws, messages, ready = await self._open()
            except AudioStreamError as err:
                if self._closed:
                    raise AudioStreamError("the session was closed while connecting") from err
                raise
            if self._closed:
                await _close_quietly(ws)
                raise AudioStreamError("the session was closed while connecting")
            self._failure = None
            self._attach(ws, ready)
            self._backoff.reset()
            self._backoff.connected()
            self._task = asyncio.get_running_loop().create_task(
                self._run(ws, messages), name=f"daguito-audio-{self._session_id}"
            )

    async def close(self) -> None:
        """Close the socket and stop reconnecting. Idempotent. Buffered audio is dropped (and
        counted)."""
        if self._closed:
            return
        self._closed = True
        ws, self._ws = self._ws, None
        task, self._task = self._task, None
        opening = self._opening
        if opening is not None:  # wakes a connect() waiting for ready
            await _close_quietly(opening)
        if ws is not None:
            await _close_quietly(ws, graceful=True)
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait([task])
        self._gap = False
        self._drop_pending("the session closed")

    # -- sending ---------------------------------------------------------------------------------

    async def send_audio(self, chunk: bytes | bytearray | memoryview) -> None:
        """Send one chunk of raw codec bytes as one binary frame.

        Raises :class:`AudioStreamError` for an empty chunk, a chunk over the frame limit, a
        closed or unconnected session, or a connection that ended for good. While
        reconnecting, the chunk is buffered (see the module documentation).
        """
        if isinstance(chunk, bytes):
            data = chunk
        elif isinstance(chunk, (bytearray, memoryview)):
            data = bytes(chunk)
        else:
            raise TypeError(
                f"send_audio takes bytes, bytearray or memoryview, got {type(chunk).__name__}"
            )
        if not data:
            raise AudioStreamError("audio chunk is empty")
        if len(data) > self._max_chunk:
            raise AudioStreamError(
                f"audio chunk is {len(data)} bytes, over the {self._max_chunk}-byte frame "
                "limit; send smaller chunks (20-100 ms of audio each)"
            )
        await self._send(data)

    async def pause(self) -> None:
        """Ask the server to end the current speech-to-text segment (text frame ``pause``);
        the session stays open. Resume with :meth:`resume`."""
        await self._send("pause")
        self._paused = True

    async def resume(self) -> None:
        """Reopen speech-to-text after :meth:`pause` (text frame ``resume``)."""
        await self._send("resume")
        self._paused = False

    async def _send(self, item: bytes | str) -> None:
        while True:
            self._raise_if_closed()
            if self._gap:
                self._buffer(item)
                return
            ws = self._ws
            if ws is None:
                failure = self._failure
                if failure is not None:
                    raise _again(failure, "session is not connected: ")
                raise AudioStreamError("session is not connected; call connect() first")
            try:
                await ws.send(item)
                return
            except ConnectionClosed as err:
                if self._closed:
                    raise AudioStreamError("session is closed") from err
                if self._ws is not ws:
                    continue  # the session already moved to another connection (or ended)
                if not self._opts.auto_reconnect:
                    raise error_of(
                        AudioStreamError,
                        f"connection closed ({_describe(err)})",
                        kind=DaguitoConnectionError,
                    ) from err
                # The reader task will notice the close and reconnect; keep this for later.
                self._gap = True
                self._buffer(item)
                return

    def _buffer(self, item: bytes | str) -> None:
        self._pending.append(item)
        if isinstance(item, str):
            return
        self._pending_bytes += len(item)
        limit = self._opts.reconnect_buffer_bytes
        while self._pending_bytes > limit:
            for index, old in enumerate(self._pending):
                if isinstance(old, bytes):
                    del self._pending[index]
                    self._pending_bytes -= len(old)
                    self.dropped_chunks += 1
                    self.dropped_bytes += len(old)
                    break
            if not self._warned_drop:
                self._warned_drop = True
                log.warning(
                    "audio session %s: reconnect buffer full (%d bytes); dropping the oldest "
                    "audio until the connection is back",
                    self._session_id,
                    limit,
                )

    def _drop_pending(self, why: str) -> None:
        chunks = [item for item in self._pending if isinstance(item, bytes)]
        self._pending.clear()
        self._pending_bytes = 0
        if chunks:
            self.dropped_chunks += len(chunks)
            self.dropped_bytes += sum(len(item) for item in chunks)
            log.warning(
                "audio session %s: %s; %d buffered audio chunks were not sent",
                self._session_id,
                why,
                len(chunks),
            )

    # -- connection ------------------------------------------------------------------------------

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise AudioStreamError(
                "session is closed; create a new AudioStreamSession to stream again"
            )

    async def _open(self) -> tuple[ClientConnection, AsyncIterator[Any], AudioStreamReady]:
        """A new connection whose ``ready`` frame arrived, and the iterator over its messages.

        Only ``async for``, ``send()`` and ``close()`` are used on the connection, so a stand-in
        object returned by a patched ``connect`` works as the library's connection does.
        """
        timeout = self._opts.ready_timeout_s
        try:
            ws = await asyncio.wait_for(self._connect(), timeout)
        except InvalidStatus as err:
            status = err.response.status_code
            detail = (
                err.response.body.decode("utf-8", "replace").strip()[:200]
                if err.response.body
                else ""
            )
            message = f"failed to connect: HTTP {status}" + (f": {detail}" if detail else "")
            raise error_of(AudioStreamError, message, status) from err
        except (asyncio.TimeoutError, TimeoutError) as err:
            raise error_of(
                AudioStreamError,
                f"failed to connect: no WebSocket handshake within {timeout:g}s",
                kind=DaguitoTimeoutError,
            ) from err
        except (TransportError, OSError, WebSocketException) as err:
            # Some websockets errors quote the URL, and with it the token: DaguitoError
            # redacts its message.
            raise error_of(
                AudioStreamError,
                f"failed to connect: {err or type(err).__name__}",
                kind=DaguitoConnectionError,
            ) from err
        self._opening = ws
        messages = ws.__aiter__()
        try:
            ready = await asyncio.wait_for(self._await_ready(ws, messages), timeout)
        except (asyncio.TimeoutError, TimeoutError) as err:
            await _close_quietly(ws)
            raise error_of(
                AudioStreamError,
                f"timed out waiting for ready frame after {timeout:g}s",
                kind=DaguitoTimeoutError,
            ) from err
        except BaseException:
            await _close_quietly(ws)
            raise
        finally:
            if self._opening is ws:
                self._opening = None
        return ws, messages, ready

    async def _connect(self) -> ClientConnection:
        connect_fn = connect  # the module global, looked up now: tests patch it
        options: dict[str, Any] = {
            **library_header_options(client_headers()),
            "ping_interval": PING_INTERVAL,
            "ping_timeout": PING_TIMEOUT,
            "max_size": MAX_MESSAGE_SIZE,
            "open_timeout": self._opts.ready_timeout_s,
        }
        if connect_fn is _LIBRARY_CONNECT:
            # The proxy as for REST and the event stream: a CONNECT tunnel handed to the
            # library (websockets before 15 has no proxy support of its own).
            proxy_url = proxy_for(self._url, self._opts.proxy)
            if proxy_url is not None:
                parts = urlsplit(self._url)
                port = parts.port or (443 if parts.scheme == "wss" else 80)
                options["sock"] = await open_tunnel(proxy_url, parts.hostname or "", port)
        elif self._opts.proxy is not True:
            options["proxy"] = self._opts.proxy
        try:
            return await connect_fn(self._url, **accepted_kwargs(connect_fn, options))
        except BaseException:
            sock = options.get("sock")
            if sock is not None:
                sock.close()
            raise

    async def _await_ready(
        self, ws: ClientConnection, messages: AsyncIterator[Any]
    ) -> AudioStreamReady:
        while True:
            closed: ConnectionClosed | None = None
            try:
                message = await next_message(messages)
            except ConnectionClosed as err:
                message, closed = None, err
            if message is None:  # closed before ready (an ended iteration is a drop: 1006)
                code, reason = close_of(ws) if closed is None else _close_info(closed)
                kind = InvalidTokenError if _AUTH_WORDS.search(reason) else DaguitoConnectionError
                raise error_of(
                    AudioStreamError,
                    f"connection closed before the ready frame ({_describe_close(code, reason)})",
                    kind=kind,
                ) from closed
            frame = _decode(message)
            if frame is None:
                continue
            kind_of_frame = frame.get("type")
            if kind_of_frame == "ready":
                return self._parse_ready(frame)
            if kind_of_frame == "error":
                text = str(frame.get("message") or "unknown error")
                raise error_of(
                    AudioStreamError,
                    f"server rejected audio session: {text}",
                    kind=InvalidTokenError if _AUTH_WORDS.search(text) else None,
                )

    def _parse_ready(self, frame: dict[str, Any]) -> AudioStreamReady:
        guards = frame.get("guards")
        session_key = frame.get("session_key")
        codec = frame.get("codec")
        return AudioStreamReady(
            session_key=session_key if isinstance(session_key, str) else self._session_id,
            codec=codec if isinstance(codec, str) else self._opts.codec,
            guards=guards if isinstance(guards, dict) else {},
        )

    def _attach(self, ws: ClientConnection, ready: AudioStreamReady) -> None:
        self._ws = ws
        self._ready = ready
        limit = ready.guards.get("max_frame_bytes")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
            self._max_chunk = limit

    async def _run(self, ws: ClientConnection, messages: AsyncIterator[Any]) -> None:
        """Read the server's frames; when the socket closes, reconnect or end the session."""
        try:
            await self._follow(ws, messages)
        except Exception as err:  # a bug, not a network failure: end the session visibly
            log.exception("audio session %s: reader crashed", self._session_id)
            self._fail(AudioStreamError(f"the audio session's reader crashed: {err!r}"))

    async def _follow(self, ws: ClientConnection, messages: AsyncIterator[Any]) -> None:
        current: tuple[ClientConnection, AsyncIterator[Any]] | None = (ws, messages)
        while current is not None:
            code, reason = await self._read(*current)
            if self._closed:
                return
            self._ws = None
            self._backoff.disconnected()
            described = _describe_close(code, reason)
            if not self._opts.auto_reconnect or code in FINAL_CLOSE_CODES:
                kind: type[DaguitoError] = (
                    InvalidTokenError
                    if code == 1008 and _AUTH_WORDS.search(reason)
                    else DaguitoConnectionError
                )
                self._fail(
                    error_of(
                        AudioStreamError,
                        f"connection closed by the server ({described})",
                        kind=kind,
                    )
                )
                return
            log.warning(
                "audio session %s disconnected (%s); reconnecting", self._session_id, described
            )
            self._gap = True
            self._warned_drop = False
            current = await self._reconnect()

    async def _read(self, ws: ClientConnection, messages: AsyncIterator[Any]) -> tuple[int, str]:
        try:
            while (message := await next_message(messages)) is not None:
                frame = _decode(message)
                if frame is None:
                    continue
                kind = frame.get("type")
                if kind == "error":
                    text = str(frame.get("message") or "unknown error")
                    self.last_server_error = text
                    log.warning("audio session %s: server error: %s", self._session_id, text)
                elif kind == "ready":
                    self._attach(ws, self._parse_ready(frame))
        except ConnectionClosed:
            pass
        return close_of(ws)

    async def _reconnect(self) -> tuple[ClientConnection, AsyncIterator[Any]] | None:
        """Reconnect until a ready connection is up (returned) or the session ends (None)."""
        while not self._closed:
            delay = self._backoff.next_delay()
            if delay > 0:
                await asyncio.sleep(delay)
                if self._closed:
                    return None
            try:
                ws, messages, ready = await self._open()
            except AudioStreamError as err:
                if isinstance(err, InvalidTokenError):
                    self._fail(err)
                    return None
                log.warning(
                    "audio session %s: reconnect attempt %d failed: %s",
                    self._session_id,
                    self._backoff.attempts,
                    err,
                )
                continue
            if self._closed:
                await _close_quietly(ws)
                return None
            self._attach(ws, ready)
            self._backoff.connected()
            self.reconnects += 1
            log.info("audio session %s reconnected", self._session_id)
            await self._flush(ws)
            return ws, messages
        return None

    async def _flush(self, ws: ClientConnection) -> None:
        """Send what was buffered during the gap, in order; the gap ends when it is empty."""
        while self._pending:
            item = self._pending[0]
            try:
                await ws.send(item)
            except ConnectionClosed:
                return  # still in the gap: the reader sees the close and reconnects again
            self._pending.popleft()
            if isinstance(item, bytes):
                self._pending_bytes -= len(item)
        self._gap = False

    def _fail(self, err: AudioStreamError) -> None:
        """The connection ended for good: later sends raise ``err``'s kind of error."""
        self._failure = err
        self._gap = False
        self._ws = None
        log.error("audio session %s ended: %s", self._session_id, err)
        self._drop_pending("the connection ended")


def _check_seconds(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")


def _decode(message: str | bytes) -> dict[str, Any] | None:
    if isinstance(message, bytes):
        return None
    try:
        frame = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) else None


def _close_info(err: ConnectionClosed) -> tuple[int, str]:
    """The close code and reason the server sent (1006 and no reason: no close frame)."""
    return (int(err.rcvd.code), err.rcvd.reason) if err.rcvd is not None else (1006, "")


def _describe(err: ConnectionClosed) -> str:
    return _describe_close(*_close_info(err))


def _describe_close(code: int, reason: str) -> str:
    return f"code {code}" + (f": {reason}" if reason else "")


def _again(err: AudioStreamError, prefix: str) -> AudioStreamError:
    """A fresh error of the same (combined) class as ``err``, with ``err`` as its cause."""
    fresh = type(err)(f"{prefix}{err.message}", err.status)
    fresh.__cause__ = err
    return fresh


async def _close_quietly(ws: ClientConnection, *, graceful: bool = False) -> None:
    """Close ``ws`` without raising; give up on the closing handshake after a short wait
    (unless ``graceful``, which allows the library's full close timeout)."""
    try:
        if graceful:
            await ws.close()
        else:
            await asyncio.wait_for(ws.close(), _CLOSE_WAIT)
    except Exception:  # the socket is going away either way
        transport = getattr(ws, "transport", None)  # a stand-in connection may have none
        if transport is not None:
            transport.abort()
