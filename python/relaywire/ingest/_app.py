"""The receiver, a plain ASGI application (and an RSGI one, granian's own interface, which
``relaywire ingest`` serves: reading a body through it costs far less than through ASGI's
``receive``): verify on raw bytes, de-duplicate, store, answer.

Per request, in order: route by path (404), method (405), ``Content-Length`` against the
source's limit (413 before reading), read the body up to the limit (413 as soon as it is
passed), ``Content-Encoding`` (400), verify the signature on the raw bytes (401), read the
delivery id (400), queue for the group commit (503 when the queue is full or the sink down), and
answer 200 only after the sink reported the batch durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import orjson

from relaywire.ingest._commit import GroupCommitter, QueueFullError
from relaywire.ingest._config import check_sources
from relaywire.ingest._metrics import OUTCOMES, IngestMetrics
from relaywire.ingest._sink import Record, Sink, SinkUnavailableError, open_sink
from relaywire.sources import (
    MAX_ID_LENGTH,
    Check,
    DeliveryIdError,
    RawHeaders,
    Source,
    get_scheme,
    id_reader,
)

__all__ = ["MAX_ID_LENGTH", "IngestApp"]

_log = logging.getLogger("relaywire.ingest")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An answer: status, headers (lowercase names, latin-1 text), body.
Response = tuple[int, list[tuple[str, str]], bytes]

#: Seconds a sender is asked to wait after a 503.
RETRY_AFTER = 1
# Not kept with a delivery: connection framing, and credentials that are not the signature.
# (ASGI servers give header names in lowercase.)
_DROPPED_HEADERS = frozenset(
    {
        b"host",
        b"connection",
        b"keep-alive",
        b"content-length",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
        b"authorization",
        b"proxy-authorization",
        b"cookie",
    }
)
_JSON = [("content-type", "application/json")]
_IDENTITY = frozenset({b"", b"identity", "", "identity"})
# Lines per second per source for refused signatures; the rest are counted in the next line.
_REJECT_LOG_RATE = 10


class _Malformed(Exception):
    pass


class _Disconnected(Exception):
    pass


class _RejectLog:
    """Logs refused deliveries of one source, at most ``_REJECT_LOG_RATE`` lines a second."""

    def __init__(self, source: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.clock = clock
        self.window = 0
        self.lines = 0
        self.suppressed = 0

    def __call__(self, reason: str, client: Any) -> None:
        now = int(self.clock())
        if now != self.window:
            self.window, self.lines = now, 0
        if self.lines >= _REJECT_LOG_RATE:
            self.suppressed += 1
            return
        self.lines += 1
        more = f" (+{self.suppressed} more not logged)" if self.suppressed else ""
        self.suppressed = 0
        if not client:
            peer = "unknown peer"
        elif isinstance(client, str):  # RSGI's "host:port"
            peer = client
        else:  # ASGI's (host, port)
            peer = f"{client[0]}:{client[1]}"
        _log.warning("refused a delivery to %s from %s: %s%s", self.source, peer, reason, more)


class _Route:
    __slots__ = ("check", "counters", "latency", "max_body", "name", "read_id", "reject_log")

    def __init__(self, source: Source, check: Check, metrics: IngestMetrics) -> None:
        self.name = source.name
        self.max_body = source.max_body
        self.check = check
        self.read_id = id_reader(
            source.id or get_scheme(source.scheme).default_id, raw_headers=True
        )
        self.counters = {outcome: metrics.counters[source.name, outcome] for outcome in OUTCOMES}
        self.latency = metrics.latencies[source.name]
        self.reject_log = _RejectLog(source.name)


def _kept_headers(headers: RawHeaders) -> bytes:
    """The request headers kept with a delivery, as a JSON object (repeated names joined)."""
    kept = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers
        if name not in _DROPPED_HEADERS and not name.startswith(b"proxy-")
    }
    if len(kept) + sum(1 for name, _ in headers if name in _DROPPED_HEADERS) < len(headers):
        kept = {}  # a repeated name (or a proxy- header): the slow path joins repeats
        for raw_name, raw_value in headers:
            if raw_name in _DROPPED_HEADERS or raw_name.startswith(b"proxy-"):
                continue
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return orjson.dumps(kept)


class IngestApp:
    """The webhook receiver as an ASGI 3 application.

    ``IngestApp(sources, "sqlite:///events.db")`` (or a :class:`Sink`). Serve it with any ASGI
    server; it opens the sink on the ASGI lifespan startup, or on the first request when the
    server sends no lifespan events. ``max_pending`` bounds the write queue (503 past it);
    ``max_batch`` bounds one group commit.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        sink: Sink | str,
        *,
        max_pending: int = 20_000,
        max_batch: int = 2_000,
        environ: MutableMapping[str, str] | None = None,
    ) -> None:
        sources = tuple(sources)
        check_sources(sources)
        self.sources = sources
        self.sink = open_sink(sink) if isinstance(sink, str) else sink
        self.metrics = IngestMetrics([s.name for s in sources])
        self._routes: dict[str, _Route] = {}
        for source in sources:
            scheme = get_scheme(source.scheme)
            check = scheme.compile(source, source.resolved_secrets(environ))
            self._routes[source.path] = _Route(source, check, self.metrics)
        self.committer = GroupCommitter(
            self.sink,
            max_pending=max_pending,
            max_batch=max_batch,
            on_batch=self.metrics.batch.observe,
            on_state=lambda up: self.metrics.sink_up.set(1 if up else 0),
        )
        self._started = False
        self._start_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self.sources)
        return f"IngestApp(sources=[{names}], sink={self.sink!r})"

    @property
    def ready(self) -> bool:
        """True once the sink is open and accepting writes."""
        return self.committer.ready

    async def startup(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                await self.committer.start()
                self._started = True

    async def shutdown(self) -> None:
        if self._started:
            self._started = False
            await self.committer.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if not self._started:
                await self.startup()
            headers: RawHeaders = scope["headers"]
            length = encoding = None
            for name, value in headers:
                if name == b"content-length":
                    length = value
                elif name == b"content-encoding":
                    encoding = value
            started = time.perf_counter()
            admitted = self._admit(scope["path"], scope["method"], length)
            if isinstance(admitted, _Route):
                try:
                    body = await _read_body(receive, self._limit(admitted))
                except (_Disconnected, _Malformed):
                    answer = _BROKEN_BODY
                else:
                    client = scope.get("client")
                    answer = await self._stored(admitted, body, headers, encoding, client, started)
            else:
                answer = admitted
            status, answer_headers, answer_body = answer
            raw_headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in answer_headers]
            await send({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": answer_body})
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- RSGI (granian's own interface: no per-message dicts, a cheap body read) ------------

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.startup())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.shutdown())

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        if not self._started:
            await self.startup()
        header_map = scope.headers
        length = header_map.get("content-length")
        started = time.perf_counter()
        admitted = self._admit(scope.path, scope.method, length)
        if isinstance(admitted, _Route):
            headers = _rsgi_headers(header_map)
            body: bytes | None
            try:
                if length is not None:  # one read, of a length already checked
                    body = bytes(await protocol())
                else:
                    body = await _read_rsgi_chunks(protocol, self._limit(admitted))
            except Exception:  # granian raises on broken framing or a client gone
                answer = _BROKEN_BODY
            else:
                encoding = header_map.get("content-encoding")
                client = scope.client
                answer = await self._stored(admitted, body, headers, encoding, client, started)
        else:
            answer = admitted
        protocol.response_bytes(*answer)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one request, whatever the interface: _admit, read the body, _stored --------------------
    # The interfaces only read the body and answer. Header values are bytes (ASGI) or str (RSGI).

    def _limit(self, route: _Route) -> int:
        sink_limit = self.sink.max_body
        return route.max_body if sink_limit is None else min(route.max_body, sink_limit)

    def _admit(self, path: str, method: str, length: bytes | str | None) -> _Route | Response:
        """Before the body is read: the route, or the answer (404, 405, 400, 413)."""
        route = self._routes.get(path)
        if route is None:
            return self._other(method, path)
        if method != "POST":
            return _json(405, {"error": "use POST"}, [("allow", "POST")])
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0:
                route.counters["malformed"].inc()
                return _json(400, {"error": "invalid Content-Length"})
            limit = self._limit(route)
            if declared > limit:
                return self._too_large(route, limit)
        return route

    async def _stored(
        self,
        route: _Route,
        body: bytes | None,
        headers: RawHeaders,
        encoding: bytes | str | None,
        client: Any,
        started: float,
    ) -> Response:
        """Once the body is read: 413, 400, 401 or 503 at once, else, once the group commit
        wrote it, 200 (stored or duplicate) or 503."""
        if body is None:
            return self._too_large(route, self._limit(route))
        if encoding is not None and encoding.strip().lower() not in _IDENTITY:
            route.counters["malformed"].inc()
            return _json(400, {"error": "Content-Encoding is not supported; send identity"})
        reason = route.check(body, headers)
        if reason is not None:
            route.counters["rejected"].inc()
            route.reject_log(reason, client)
            return _json(401, {"error": "signature verification failed"})
        try:
            delivery_id = route.read_id(body, headers)
        except DeliveryIdError as exc:
            route.counters["malformed"].inc()
            return _json(400, {"error": str(exc)})
        record = Record(route.name, delivery_id, time.time(), _kept_headers(headers), body)
        try:
            stored = await self.committer.submit(record)
        except QueueFullError:
            route.counters["unavailable"].inc()
            return _unavailable("the write queue is full")
        except SinkUnavailableError:  # refused at once, or the write failed
            route.counters["unavailable"].inc()
            return _unavailable("the sink is unavailable")
        route.counters["accepted" if stored else "duplicate"].inc()
        route.latency.observe(time.perf_counter() - started)
        return _STORED_ANSWER if stored else _DUPLICATE_ANSWER

    def _too_large(self, route: _Route, limit: int) -> Response:
        route.counters["too_large"].inc()
        # The rest of the body is not read; closing the connection discards it.
        return _json(
            413, {"error": f"the body is larger than {limit} bytes"}, [("connection", "close")]
        )

    def _other(self, method: str, path: str) -> Response:
        if path == "/health" and method in ("GET", "HEAD"):
            if self.committer.ready:
                return _json(200, {"status": "ok", "pending": self.committer.pending})
            return _unavailable(self.committer.last_error or "the sink is not ready")
        if path == "/metrics" and method in ("GET", "HEAD"):
            return _response(
                200,
                self.metrics.render(),
                [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
            )
        return _json(404, {"error": "no source at this path"})


def _raw(text: str) -> bytes:
    """A header name or value as ASGI gives it (bytes), from RSGI's text."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def _rsgi_headers(headers: Any) -> RawHeaders:
    """RSGI's headers (text) as ASGI's raw headers, which the checks and the id readers take."""
    pairs = headers.items()
    try:
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]
    except UnicodeEncodeError:
        return [(_raw(name), _raw(value)) for name, value in pairs]


async def _read_rsgi_chunks(protocol: Any, limit: int) -> bytes | None:
    """A body without a declared length (chunked) from granian's RSGI protocol, chunk by chunk,
    or ``None`` as soon as it passes ``limit`` (nothing past it is read)."""
    chunks: list[bytes] = []
    size = 0
    ended = False
    async for chunk in protocol:
        if ended:
            # granian's iterator does not raise on broken chunked framing (or a client that
            # left mid-body): it yields an empty chunk, then the end-of-body empty chunk.
            # A sound body has one empty chunk, last.
            raise _Malformed("the request body is malformed")
        if not chunk:
            ended = True
            continue
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(bytes(chunk))
    return b"".join(chunks)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or ``None`` as soon as it passes ``limit`` (nothing more is read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            message = await receive()
        except Exception as exc:  # granian raises on broken framing (e.g. a bad chunk)
            raise _Malformed("the request body is malformed") from exc
        if message["type"] != "http.request":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _response(status: int, body: bytes, headers: list[tuple[str, str]]) -> Response:
    return status, [*headers, ("content-length", str(len(body)))], body


def _json(status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> Response:
    return _response(status, orjson.dumps(payload), _JSON + (extra or []))


def _unavailable(error: str) -> Response:
    return _json(503, {"error": error}, [("retry-after", str(RETRY_AFTER))])


_STORED_ANSWER = _json(200, {"status": "stored"})
_DUPLICATE_ANSWER = _json(200, {"status": "duplicate"})
# The client left, or broke the body's framing (granian reports both as a disconnect): answered
# in case it is still there.
_BROKEN_BODY = _json(
    400, {"error": "the request body is malformed or incomplete"}, [("connection", "close")]
)
