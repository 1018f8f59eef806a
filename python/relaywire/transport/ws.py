"""A WebSocket client whose receive path is one native call per socket read.

The opening handshake, pings, pongs and the closing handshake go through the websockets
library's Sans-I/O ``ClientProtocol``. Data frames never reach it: every chunk the socket
delivers after the handshake goes to a native decoder (``relaywire._native.StreamDecoder``),
which parses the WebSocket framing and decodes the messages into typed events in one call, and
the batch goes to the owner's ``on_batch`` callback synchronously, from ``data_received``. The
decoder hands control frames back raw; they are fed to the library protocol, which stays at a
frame boundary and answers pings and closes.

:class:`LibraryWebSocket` offers the same interface over any websockets-style connection object
(``async for message in ws``, ``await ws.send``, ``await ws.close``), for callers that inject
their own ``connect`` function.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import ssl as ssl_module
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from relaywire.redaction import get_logger, install, redact
from relaywire.transport.errors import RequestTimeout, TransportConnectError, TransportError
from relaywire.transport.proxy import ProxyOption, open_tunnel, proxy_for
from relaywire.transport.tls import shared_ssl_context

__all__ = [
    "BatchHandler",
    "CloseHandler",
    "Decoder",
    "FastWebSocket",
    "HandshakeRefused",
    "LibraryWebSocket",
    "WebSocketLike",
    "accepted_kwargs",
    "close_connection",
    "close_of",
    "default_ssl_context",
    "library_header_options",
    "next_message",
]

log = get_logger("relaywire.transport.ws")
# websockets logs the upgrade request (URL with its token, credential headers) at DEBUG.
install()

#: ``on_batch(events, flags)``: the decoder's entries (``(event_type, payload)``, or event
#: objects the decoder built) and its flags.
BatchHandler = Callable[[list[Any], int], None]
#: ``on_close(code, reason)``: called once when the connection is gone.
CloseHandler = Callable[[int, str], None]

_HEADER_END = b"\r\n\r\n"
_MAX_RESPONSE_HEAD = 64 * 1024
_WRITE_HIGH_WATER = 1024 * 1024


class Decoder(Protocol):
    """What the transport needs from ``relaywire._native.StreamDecoder``."""

    def feed(
        self, data: bytes | bytearray | memoryview
    ) -> tuple[list[Any], int, list[bytes] | None, tuple[int, str] | None]: ...

    def decode(self, message: str | bytes | bytearray | memoryview) -> tuple[list[Any], int]: ...

    def reset(self) -> None: ...


class HandshakeRefused(TransportError):
    """The server answered the upgrade with an HTTP status other than 101."""

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str], url: str) -> None:
        text = body.decode("utf-8", "replace").strip()
        super().__init__(
            f"server refused the WebSocket upgrade: HTTP {status}"
            + (f": {text[:200]}" if text else ""),
            method="GET",
            url=url,
        )
        self.status = status
        self.body = body
        self.headers = dict(headers)


def default_ssl_context() -> ssl_module.SSLContext:
    """The process's shared verified client context."""
    return shared_ssl_context()


class FastWebSocket(asyncio.Protocol):
    """A client connection; build it with :meth:`open`."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        decoder: Decoder,
        on_batch: BatchHandler,
        on_close: CloseHandler,
        max_size: int,
    ) -> None:
        self.url = url
        self._decoder = decoder
        self._on_batch = on_batch
        self._on_close = on_close
        self._protocol = ClientProtocol(parse_uri(url), max_size=max_size)
        request = self._protocol.connect()
        for name, value in headers.items():
            if name in request.headers:  # ours replace the library's own (User-Agent)
                del request.headers[name]
            request.headers[name] = value
        self._protocol.send_request(request)
        self._transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._write_ready: asyncio.Event | None = None
        self._pong_waiter: asyncio.Future[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._paused = False
        self._open = False
        self._head_done = False
        # Bytes that arrived after the handshake, held until the owner calls start().
        self._held: list[bytes] | None = []
        self._lost_before_start = False
        self._close_code = 1006
        self._close_reason = ""
        self._reported = False

    # --- opening -------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        decoder: Decoder,
        on_batch: BatchHandler,
        on_close: CloseHandler,
        headers: Mapping[str, str] | None = None,
        max_size: int = 64 * 1024 * 1024,
        open_timeout: float | None = 10.0,
        ping_interval: float | None = 25.0,
        ping_timeout: float | None = 20.0,
        ssl: ssl_module.SSLContext | None = None,
        proxy: ProxyOption = True,
    ) -> FastWebSocket:
        """Connect, run the opening handshake and start delivering batches.

        ``proxy``: ``True`` takes the proxy from the environment as httpx does, a URL names an
        ``http://`` proxy, ``None`` connects directly (:mod:`relaywire.transport.proxy`).

        Raises :class:`HandshakeRefused` for a non-101 answer, :class:`RequestTimeout` when
        ``open_timeout`` expires, :class:`~relaywire.transport.proxy.ProxyError` when the proxy
        refuses, and :class:`TransportConnectError` for network failures.
        """
        loop = asyncio.get_running_loop()
        uri = parse_uri(url)
        proxy_url = proxy_for(url, proxy)
        decoder.reset()
        conn = cls(url, headers or {}, decoder, on_batch, on_close, max_size)
        tls = (ssl or default_ssl_context()) if uri.secure else None
        server_hostname = uri.host if tls else None

        async def establish() -> None:
            if proxy_url is None:
                await loop.create_connection(
                    lambda: conn, uri.host, uri.port, ssl=tls, server_hostname=server_hostname
                )
            else:
                sock = await open_tunnel(proxy_url, uri.host, uri.port)
                try:
                    await loop.create_connection(
                        lambda: conn, sock=sock, ssl=tls, server_hostname=server_hostname
                    )
                except BaseException:
                    sock.close()
                    raise
            await conn._handshake

        try:
            await asyncio.wait_for(establish(), open_timeout)
        except asyncio.TimeoutError as err:
            conn.abort()
            raise RequestTimeout(
                f"WebSocket opening handshake timed out after {open_timeout:g}s",
                method="GET",
                url=redact(url),
            ) from err
        except TransportError:
            conn.abort()
            raise
        except (OSError, InvalidHandshake, EOFError) as err:
            conn.abort()
            raise TransportConnectError(
                f"WebSocket connection failed: {err or type(err).__name__}",
                method="GET",
                url=redact(url),
            ) from err
        except BaseException:
            conn.abort()
            raise
        if ping_interval is not None:
            conn._keepalive = loop.create_task(conn._ping_loop(ping_interval, ping_timeout))
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._flush()

    def _handshake_data(self, data: bytes) -> None:
        self._head += data
        end = self._head.find(_HEADER_END)
        if end < 0:
            if len(self._head) > _MAX_RESPONSE_HEAD:
                self._fail_handshake(InvalidHandshake("handshake response head too long"))
            return
        head = bytes(self._head[: end + 4])
        rest = bytes(self._head[end + 4 :])
        protocol = self._protocol
        protocol.receive_data(head)
        if protocol.state is State.OPEN and protocol.handshake_exc is None:
            protocol.events_received()
            self._head.clear()
            self._open = True
            if not self._handshake.done():
                self._handshake.set_result(None)
            if rest:
                self._hold(rest)
            return
        # Refused (or still reading a refusal's body): let the library read the rest.
        if rest:
            protocol.receive_data(rest)
        self._head.clear()
        self._head_done = True
        self._check_refusal()

    def _check_refusal(self) -> None:
        protocol = self._protocol
        exc = protocol.handshake_exc
        if exc is None:
            return
        if isinstance(exc, InvalidStatus):
            response = exc.response
            self._fail_handshake(
                HandshakeRefused(
                    response.status_code,
                    bytes(response.body or b""),
                    {k.lower(): v for k, v in response.headers.raw_items()},
                    redact(self.url),
                )
            )
        else:
            self._fail_handshake(exc)

    def _fail_handshake(self, exc: BaseException) -> None:
        if not self._handshake.done():
            self._handshake.set_exception(exc)
        self.abort()

    # --- receiving -----------------------------------------------------------------------

    def start(self) -> None:
        """Begin delivering batches (the owner has stored the connection by now)."""
        held, self._held = self._held, None
        if held:
            self._receive(b"".join(held))
        if self._lost_before_start:
            self._report_close()

    def _hold(self, data: bytes) -> None:
        assert self._held is not None
        self._held.append(data)

    def data_received(self, data: bytes) -> None:
        if self._open:
            if self._held is None:
                self._receive(data)
            else:
                self._hold(data)
        elif self._head_done:
            self._protocol.receive_data(data)
            self._check_refusal()
        else:
            self._handshake_data(data)

    def _receive(self, data: bytes) -> None:
        events, flags, controls, error = self._decoder.feed(data)
        if events:
            try:
                self._on_batch(events, flags)
            except Exception:
                log.exception("stream event handler failed")
        if controls is not None:
            self._control(controls)
        if error is not None:
            self._fail(error[0], error[1])

    def _control(self, frames: list[bytes]) -> None:
        protocol = self._protocol
        for frame in frames:
            protocol.receive_data(frame)
            for event in protocol.events_received():
                if getattr(event, "opcode", None) is Opcode.PONG:
                    waiter = self._pong_waiter
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
        if protocol.close_rcvd is not None:
            self._close_code = protocol.close_rcvd.code
            self._close_reason = protocol.close_rcvd.reason
        self._flush()

    def _fail(self, code: int, reason: str) -> None:
        self._close_code = code
        self._close_reason = reason
        with contextlib.suppress(Exception):
            self._protocol.fail(code, reason)
        self._flush()
        if self._transport is not None:
            # The server closes TCP after answering; don't wait for it forever.
            asyncio.get_running_loop().call_later(2.0, self.abort)

    def eof_received(self) -> bool | None:
        with contextlib.suppress(Exception):
            self._protocol.receive_eof()
        if self._head_done:
            # A refusal without Content-Length ends its body with the connection.
            self._check_refusal()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        if not self._handshake.done():
            self._handshake.set_exception(
                exc or EOFError("connection closed during the opening handshake")
            )
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._write_ready is not None:
            self._write_ready.set()
        if not self._closed.done():
            self._closed.set_result(None)
        handshake = self._handshake
        # Cancelled: the opener was cancelled during the handshake and has aborted us.
        if not handshake.done() or handshake.cancelled() or handshake.exception() is not None:
            return
        if self._held is not None:
            # Not started yet: the held bytes (maybe a close frame) are read first, in start().
            self._lost_before_start = True
            return
        self._report_close()

    def _report_close(self) -> None:
        protocol = self._protocol
        if protocol.close_rcvd is not None:
            self._close_code = protocol.close_rcvd.code
            self._close_reason = protocol.close_rcvd.reason
        if not self._reported:
            self._reported = True
            try:
                self._on_close(int(self._close_code), self._close_reason)
            except Exception:
                log.exception("close handler failed")

    # --- flow control --------------------------------------------------------------------

    def pause_reading(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self._transport is not None:
            self._paused = False
            if not self._transport.is_closing():
                self._transport.resume_reading()

    def pause_writing(self) -> None:
        if self._write_ready is None:
            self._write_ready = asyncio.Event()
        self._write_ready.clear()

    def resume_writing(self) -> None:
        if self._write_ready is not None:
            self._write_ready.set()

    # --- sending -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._open and self._protocol.state is State.OPEN

    @property
    def close_info(self) -> tuple[int, str] | None:
        """The close code and reason the server sent, once it sent one."""
        frame = self._protocol.close_rcvd
        return None if frame is None else (int(frame.code), frame.reason)

    async def send(self, data: bytes) -> None:
        """Send one text message (UTF-8 bytes). Raises ``ConnectionError`` when closed."""
        if not self.is_open:
            raise ConnectionError("the WebSocket connection is closed")
        self._protocol.send_text(data)
        self._flush()
        ready = self._write_ready
        if ready is not None and not ready.is_set():
            await ready.wait()

    def _flush(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        for chunk in self._protocol.data_to_send():
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()

    async def _ping_loop(self, interval: float, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            if not self.is_open:
                return
            if self._paused:
                continue  # pongs sit unread behind our own backpressure
            self._pong_waiter = loop.create_future()
            self._protocol.send_ping(os.urandom(4))
            self._flush()
            if timeout is None:
                continue
            try:
                await asyncio.wait_for(asyncio.shield(self._pong_waiter), timeout)
            except asyncio.TimeoutError:
                if self._paused:
                    continue
                log.warning("keepalive ping timed out; closing %s", redact(self.url))
                self._fail(1011, "keepalive ping timeout")
                return

    # --- closing -------------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> None:
        """Run the closing handshake (the server closes TCP), then make sure the socket is gone."""
        if self._protocol.state is State.OPEN and self._transport is not None:
            self._reported = True  # a close we asked for is not reported as a drop
            with contextlib.suppress(Exception):
                self._protocol.send_close(code, reason)
            self._flush()
            self.resume_reading()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closed), timeout)
        self.abort()

    def abort(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()


class WebSocketLike(Protocol):
    """What the official SDKs use of a websockets ``ClientConnection``, and all that a user's
    stand-in connection object (``connect`` patched in a test suite) needs to have:
    ``async for`` over received messages, ``send()`` and ``close()``."""

    def __aiter__(self) -> Any: ...

    def send(self, message: Any) -> Awaitable[None]: ...

    def close(self, code: int = 1000, reason: str = "") -> Awaitable[None]: ...


def accepted_kwargs(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``kwargs`` that ``fn`` accepts by name (all of it when ``fn`` takes ``**kw``
    or its signature cannot be read).

    A ``connect`` patched in by a user's test suite may only take the arguments the official
    SDK passed; relaywire's extra options (``max_size``, ``open_timeout``...) must not break it.
    """
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return dict(kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(kwargs)
    names = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return {name: value for name, value in kwargs.items() if name in names}


def library_header_options(headers: Mapping[str, str]) -> dict[str, Any]:
    """``additional_headers`` and ``user_agent_header`` for websockets' ``connect``.

    The library sends its own ``User-Agent`` and appends the additional headers to it, so a
    ``User-Agent`` among ``headers`` goes to ``user_agent_header`` instead of being sent twice.
    """
    extra = {k: v for k, v in headers.items() if k.lower() != "user-agent"}
    options: dict[str, Any] = {"additional_headers": extra}
    for name, value in headers.items():
        if name.lower() == "user-agent":
            options["user_agent_header"] = value
    return options


def close_of(ws: object) -> tuple[int, str]:
    """The close code and reason of a websockets-style connection whose iteration ended.

    A connection object that has no ``close_code`` (or whose code is None) ended without a close
    frame: an abnormal drop, which websockets reports as 1006.
    """
    code = getattr(ws, "close_code", None)
    reason = getattr(ws, "close_reason", None)
    return (1006 if code is None else int(code)), (reason if isinstance(reason, str) else "")


async def next_message(messages: AsyncIterator[Any]) -> Any:
    """The next message of an iterator over a connection, or None once it ended."""
    try:
        return await messages.__anext__()
    except StopAsyncIteration:
        return None


async def close_connection(ws: WebSocketLike, code: int = 1000, reason: str = "") -> None:
    """``ws.close()``, with the code and reason only when they are not the default (a user's
    minimal connection object may have a ``close()`` that takes no arguments)."""
    if code == 1000 and not reason:
        await ws.close()
    else:
        await ws.close(code, reason)


class LibraryWebSocket:
    """The :class:`FastWebSocket` interface over a websockets-style connection object.

    Each received message is decoded with one native call; reading waits while paused.
    """

    def __init__(
        self, ws: WebSocketLike, decoder: Decoder, on_batch: BatchHandler, on_close: CloseHandler
    ) -> None:
        self._ws = ws
        self._decoder = decoder
        self._on_batch = on_batch
        self._on_close = on_close
        self._resume = asyncio.Event()
        self._resume.set()
        self._open = True
        self._closing = False
        self._close_info: tuple[int, str] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin reading (the owner has stored the connection by now)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read())

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def close_info(self) -> tuple[int, str] | None:
        return self._close_info

    async def _read(self) -> None:
        code, reason = 1006, ""
        try:
            async for message in self._ws:
                events, flags = self._decoder.decode(message)
                if events:
                    try:
                        self._on_batch(events, flags)
                    except Exception:
                        log.exception("stream event handler failed")
                if not self._resume.is_set():
                    await self._resume.wait()
            code, reason = close_of(self._ws)
        except ConnectionClosed as err:
            frame = err.rcvd
            code, reason = (frame.code, frame.reason) if frame is not None else (1006, "")
        except asyncio.CancelledError:
            raise
        except Exception as err:
            log.warning("WebSocket read failed: %r", err)
            code, reason = 1006, str(err)
        finally:
            self._open = False
        self._close_info = (int(code), reason)
        if not self._closing:
            self._on_close(int(code), reason)

    def pause_reading(self) -> None:
        self._resume.clear()

    def resume_reading(self) -> None:
        self._resume.set()

    async def send(self, data: bytes) -> None:
        if not self._open:
            raise ConnectionError("the WebSocket connection is closed")
        await self._ws.send(data.decode("utf-8"))

    async def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> None:
        self._closing = True
        self._resume.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(close_connection(self._ws, code, reason), timeout)
        self.abort()

    def abort(self) -> None:
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
