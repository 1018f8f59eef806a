"""NATS JetStream: ``nats://[user:pass@]host:port[,host:port...]/STREAM``.

Each delivery is one message on subject ``<subject>.<source>`` (``subject`` defaults to
``relaywire.ingest.<STREAM>``): the raw body is the message data, byte for byte; the source, id,
receive time and kept request headers travel in the ``Relaywire-*`` message headers. The
message id is ``<source>:<id>`` in ``Nats-Msg-Id``, so JetStream itself drops a duplicate
within the stream's duplicate window, whichever receiver sent it. A delivery is acknowledged
after its PubAck: the stream leader has stored it and, on a replicated stream, a quorum of the
replicas has it.

Query options: ``replicas`` (default 1) and ``dedup_window`` (seconds, default one day) apply
when the sink creates the stream (an existing stream keeps its own settings), ``subject``,
``timeout`` (seconds to wait for a PubAck, default 2).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from relaywire.ingest._sink import (
    DEFAULT_DEDUP_WINDOW,
    Delivery,
    Record,
    Sink,
    SinkError,
    SinkStats,
    SinkUnavailableError,
    describe,
    float_option,
    query_options,
    sequence_cursor,
)

__all__ = ["JetStreamSink"]

_SOURCE = "Relaywire-Source"
_ID = "Relaywire-Id"
_RECEIVED_AT = "Relaywire-Received-At"
_HEADERS = "Relaywire-Headers"
# Bytes of a message kept for its headers (the delivery's metadata and request headers).
_HEADER_ROOM = 16 * 1024
# Errors that mean "not now": no connection, no responders, no leader or quorum, timeouts.
_UNAVAILABLE = (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError, OSError)


class JetStreamSink(Sink):
    durability: ClassVar[str] = (
        "acknowledged by the stream leader (PubAck), after a quorum of the stream's replicas "
        "stored it"
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        self.stream = unquote(parts.path.strip("/"))
        if parts.scheme != "nats" or not parts.hostname or not self.stream or "/" in self.stream:
            raise SinkError(f"a JetStream sink URL is nats://host:port/STREAM: {url!r}")
        if not all(c.isalnum() or c in "-_" for c in self.stream):
            raise SinkError(f"stream name {self.stream!r}: use letters, digits, '-' and '_'")
        options = query_options(url)
        self.subject = options.get("subject") or f"relaywire.ingest.{self.stream}"
        self.timeout = float_option(options, "timeout", 2.0)
        self.dedup_window = float_option(options, "dedup_window", DEFAULT_DEDUP_WINDOW)
        try:
            self.replicas = int(options.get("replicas", "1"))
        except ValueError:
            raise SinkError("sink option replicas must be an integer") from None
        if not 1 <= self.replicas <= 5:
            raise SinkError("sink option replicas must be in 1..5")
        credentials, _, hosts = parts.netloc.rpartition("@")
        prefix = f"nats://{credentials}@" if credentials else "nats://"
        self.servers = [prefix + host for host in hosts.split(",") if host]
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    async def open(self) -> None:
        if self._nc is None or self._nc.is_closed:
            try:
                self._nc = await nats.connect(
                    servers=self.servers,
                    connect_timeout=self.timeout,
                    allow_reconnect=True,
                    # The first connect tries each server once (the committer's probe retries
                    # it); once connected the client reconnects for ever.
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.25,
                    error_cb=_quiet,
                    disconnected_cb=_quiet_event,
                    reconnected_cb=_quiet_event,
                    closed_cb=_quiet_event,
                )
            except _UNAVAILABLE as exc:
                raise SinkUnavailableError(f"cannot reach NATS: {describe(exc)}") from exc
            self._nc.options["max_reconnect_attempts"] = -1
            # The server's max_payload counts the message headers too.
            self.max_body = max(0, self._nc.max_payload - _HEADER_ROOM)
            self._js = self._nc.jetstream(timeout=self.timeout)
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        js = self._context()
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(
                    StreamConfig(
                        name=self.stream,
                        subjects=[f"{self.subject}.>"],
                        storage=StorageType.FILE,
                        num_replicas=self.replicas,
                        duplicate_window=self.dedup_window,
                    )
                )
            except nats.js.errors.BadRequestError as exc:
                raise SinkError(f"cannot create stream {self.stream}: {exc}") from exc
            except _UNAVAILABLE as exc:
                raise SinkUnavailableError(
                    f"cannot create stream {self.stream}: {describe(exc)}"
                ) from exc
            return
        except _UNAVAILABLE as exc:
            raise SinkUnavailableError(f"stream {self.stream}: {describe(exc)}") from exc
        subjects = info.config.subjects or []
        if f"{self.subject}.>" not in subjects:
            raise SinkError(
                f"stream {self.stream} exists without subject {self.subject}.>; pass "
                f"?subject=<prefix> matching one of {subjects}"
            )

    def _context(self) -> JetStreamContext:
        if self._js is None:
            raise SinkUnavailableError("not connected to NATS")
        return self._js

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await nc.drain()
            except _UNAVAILABLE:
                await nc.close()

    async def _publish(self, js: JetStreamContext, record: Record) -> bool:
        headers = record.headers
        if not headers.isascii():  # NATS header values are ASCII lines
            headers = json.dumps(json.loads(headers), ensure_ascii=True).encode()
        ack = await js.publish(
            f"{self.subject}.{record.source}",
            record.body,
            timeout=self.timeout,
            stream=self.stream,
            headers={
                "Nats-Msg-Id": f"{record.source}:{record.id}",
                _SOURCE: record.source,
                _ID: record.id,
                _RECEIVED_AT: repr(record.received_at),
                _HEADERS: headers.decode("ascii"),
            },
        )
        return not ack.duplicate

    async def append(self, batch: Sequence[Record]) -> list[bool]:
        js = self._context()
        results = await asyncio.gather(
            *(self._publish(js, record) for record in batch), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                if isinstance(result, _UNAVAILABLE):
                    raise SinkUnavailableError(
                        f"JetStream did not acknowledge: {describe(result)}"
                    ) from result
                raise result
        return [bool(result) for result in results]

    async def read(self, after: str | None, limit: int) -> list[Delivery]:
        js = self._context()
        seq = sequence_cursor(after, "JetStream") + 1
        try:
            last = (await js.stream_info(self.stream)).state.last_seq
        except _UNAVAILABLE as exc:
            raise SinkUnavailableError(f"stream {self.stream}: {describe(exc)}") from exc
        found: list[Delivery] = []
        while seq <= last and len(found) < limit:
            try:
                msg = await js.get_msg(self.stream, seq, subject=f"{self.subject}.>", next=True)
            except nats.js.errors.NotFoundError:
                break
            except _UNAVAILABLE as exc:
                raise SinkUnavailableError(f"stream {self.stream}: {describe(exc)}") from exc
            headers = msg.headers or {}
            if msg.seq is None:
                break
            found.append(
                Delivery.from_stored(
                    headers.get(_SOURCE, ""),
                    headers.get(_ID, ""),
                    float(headers.get(_RECEIVED_AT, "0")),
                    headers.get(_HEADERS, "{}"),
                    msg.data or b"",
                    msg.seq,
                )
            )
            seq = msg.seq + 1
        return found

    async def probe(self) -> None:
        try:
            info = await self._context().stream_info(self.stream)
        except _UNAVAILABLE as exc:
            raise SinkUnavailableError(f"stream {self.stream}: {describe(exc)}") from exc
        if info.cluster is not None and not info.cluster.leader:
            raise SinkUnavailableError(f"stream {self.stream} has no leader")

    async def stats(self) -> SinkStats:
        js = self._context()
        info = await js.stream_info(self.stream, subjects_filter=f"{self.subject}.>")
        state = info.state
        cut = len(self.subject) + 1
        per_source = {subject[cut:]: n for subject, n in sorted((state.subjects or {}).items())}
        cluster: Any = info.cluster
        first = last = None
        if state.messages:
            [first] = await self.read(str(state.first_seq - 1), 1)
            [last] = await self.read(str(state.last_seq - 1), 1)
        return SinkStats(
            total=state.messages,
            per_source=per_source,
            first_cursor=None if first is None else first.cursor,
            last_cursor=None if last is None else last.cursor,
            first_received_at=None if first is None else first.received_at,
            last_received_at=None if last is None else last.received_at,
            details={
                "stream": self.stream,
                "replicas": info.config.num_replicas,
                "duplicate window (s)": info.config.duplicate_window,
                "leader": getattr(cluster, "leader", None),
                "bytes": state.bytes,
            },
        )


async def _quiet(exc: Exception) -> None:
    """Connection errors surface as SinkUnavailableError on use; no traceback per reconnect."""


async def _quiet_event() -> None:
    pass
