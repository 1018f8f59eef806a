"""The sink interface: append a batch durably with de-duplication, read after a cursor.

A sink is chosen by URL (``sqlite:///path``, ``nats://host:port/STREAM``,
``redis://host:port/0?stream=NAME``). Each engine is one module in :mod:`relaywire.ingest.sinks`
with one :class:`Sink` subclass; :data:`SINKS` maps URL schemes to them, imported on first use so
that a sink's client library is only needed when that sink is used.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import orjson

__all__ = [
    "DEFAULT_DEDUP_WINDOW",
    "SINKS",
    "Delivery",
    "Record",
    "Sink",
    "SinkError",
    "SinkStats",
    "SinkUnavailableError",
    "open_sink",
]

#: Seconds a delivery id is remembered by sinks whose de-duplication expires (JetStream, Redis).
DEFAULT_DEDUP_WINDOW = 24 * 3600.0


class SinkError(Exception):
    """A sink URL is invalid, or a sink cannot be used as configured."""


class DeliveryEventError(SinkError):
    """The ``events=`` decoder of a source raised on a stored delivery (a body that is not an
    event of that platform, say). ``delivery`` is the delivery (its ``cursor`` resumes after
    it); the decoder's exception is the ``__cause__``."""

    def __init__(self, delivery: Delivery, error: BaseException) -> None:
        self.delivery = delivery
        super().__init__(
            f"delivery {delivery.id!r} of source {delivery.source!r} (cursor "
            f"{delivery.cursor}) could not be read as an event: {type(error).__name__}: {error}"
        )


class SinkUnavailableError(SinkError):
    """The sink cannot store right now (down, no quorum, timed out); the sender should retry.

    A delivery whose write raised this may or may not have been stored; it was not acknowledged,
    and the retry is de-duplicated on its id.
    """


@dataclass(frozen=True, slots=True)
class Record:
    """A verified delivery on its way into a sink. ``headers`` is a JSON object (bytes)."""

    source: str
    id: str
    received_at: float
    headers: bytes
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """A stored delivery, as :func:`relaywire.ingest.read` yields it.

    ``body`` is the raw request body, byte for byte; ``headers`` the request headers kept with
    it (names in lowercase). ``cursor`` is opaque: persist it and pass it as ``after=`` to
    resume after this delivery. ``event`` is what the ``events=`` decoder of its source made of
    it (``read(url, events={"linktor": delivery_event})``), ``None`` without one.
    """

    source: str
    id: str
    received_at: datetime
    headers: dict[str, str]
    body: bytes
    cursor: str
    event: Any = None

    @classmethod
    def from_stored(
        cls,
        source: str,
        id: str,
        received_at: float,
        headers: bytes | str,
        body: bytes,
        cursor: Any,
    ) -> Delivery:
        return cls(
            source=source,
            id=id,
            received_at=datetime.fromtimestamp(received_at, timezone.utc),
            headers=orjson.loads(headers),
            body=bytes(body),
            cursor=str(cursor),
        )


@dataclass(frozen=True)
class SinkStats:
    """What ``relaywire ingest stats`` shows: counts per source and the stored range."""

    total: int
    per_source: dict[str, int]
    first_cursor: str | None
    last_cursor: str | None
    first_received_at: datetime | None
    last_received_at: datetime | None
    details: dict[str, Any]


class Sink(abc.ABC):
    """One storage engine. Subclasses take their URL in ``__init__`` and do no I/O there.

    ``append`` is called with one batch at a time by the receiver's group committer and must
    return only once every record it reports is durable (as :attr:`durability` says). It
    returns one flag per record: ``True`` when stored now, ``False`` when the id was already
    stored (a duplicate). It raises :class:`SinkUnavailableError` when it cannot store.
    """

    #: One line, for the README and ``stats``: what "stored" means for this engine.
    durability: ClassVar[str] = ""
    #: The largest body the engine can store, once known (``None``: no limit of its own). The
    #: receiver answers 413 above it, as above a source's ``max_body``.
    max_body: int | None = None

    def __init__(self, url: str) -> None:
        self.url = url

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect (and create the table or stream if missing). Raises SinkUnavailableError."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""

    @abc.abstractmethod
    async def append(self, batch: Sequence[Record]) -> list[bool]:
        """Store the batch durably, de-duplicated on ``(source, id)``."""

    @abc.abstractmethod
    async def read(self, after: str | None, limit: int) -> list[Delivery]:
        """Up to ``limit`` deliveries stored after cursor ``after`` (from the start when
        ``None``), in order."""

    @abc.abstractmethod
    async def probe(self) -> None:
        """Raise SinkUnavailableError unless a write could succeed now."""

    @abc.abstractmethod
    async def stats(self) -> SinkStats:
        """Counts and the stored range."""

    def redacted_url(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.redacted_url()!r})"


def redact_url(url: str) -> str:
    """The URL without its password, for logs and reprs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def query_options(url: str) -> dict[str, str]:
    """The last value of each query parameter of ``url``."""
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def sequence_cursor(after: str | None, engine: str) -> int:
    """A cursor that is a stored sequence number (SQLite rows, JetStream messages); 0 for the
    start."""
    if after is None:
        return 0
    try:
        value = int(after)
    except (TypeError, ValueError):
        raise SinkError(f"not a {engine} sink cursor: {after!r}") from None
    if value < 0:
        raise SinkError(f"not a {engine} sink cursor: {after!r}")
    return value


def describe(exc: BaseException) -> str:
    """An error's text for a log line or a 503 reason (its class name when it has no text)."""
    return str(exc) or type(exc).__name__


def float_option(options: dict[str, str], key: str, default: float) -> float:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SinkError(f"sink option {key}={raw!r} is not a number") from None
    if not value > 0:
        raise SinkError(f"sink option {key} must be positive")
    return value


# URL scheme -> "module:class", imported on first use.
SINKS: dict[str, str] = {
    "sqlite": "relaywire.ingest.sinks.sqlite:SqliteSink",
    "nats": "relaywire.ingest.sinks.jetstream:JetStreamSink",
    "redis": "relaywire.ingest.sinks.redis:RedisStreamSink",
    "rediss": "relaywire.ingest.sinks.redis:RedisStreamSink",
}


def open_sink(url: str) -> Sink:
    """The sink for ``url`` (not yet connected: call ``await sink.open()``)."""
    if not isinstance(url, str) or ":" not in url:
        raise SinkError(f"a sink URL looks like sqlite:///events.db, not {url!r}")
    scheme = url.split(":", 1)[0].lower()
    target = SINKS.get(scheme)
    if target is None:
        raise SinkError(f"unknown sink {scheme!r}; known: {', '.join(sorted(SINKS))}")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SinkError(
            f"the {scheme} sink needs the ingest extra: pip install 'relaywire[ingest]' ({exc})"
        ) from None
    sink: Sink = getattr(module, class_name)(url)
    return sink
