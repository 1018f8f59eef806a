"""Redis Streams: ``redis://[:password@]host:port/DB?stream=NAME`` (``rediss://`` for TLS).

A batch is one Lua script call, atomic on the server: for each delivery, if its de-duplication
key is absent, ``XADD`` it to the stream (fields ``source``, ``id``, ``received_at``,
``headers``, ``body``: the raw bytes) and set the key, with the window as its expiry. Every key
the script touches carries the stream's hash tag (``{NAME}:seen:...`` beside ``NAME``, or the
name's own ``{tag}``), so all of them live in one hash slot and the script runs unchanged on
Redis Cluster (``?cluster=1`` uses the cluster client).

"Stored" is what the server promises when the script returns: in memory on the primary, and in
its fsynced append-only file when it runs with ``appendonly yes`` and ``appendfsync always``.
``?wait=N`` also waits (``WAIT``) until N replicas acknowledged the batch, and refuses (503)
when fewer did within ``timeout``. Other options: ``dedup_window`` (seconds, default one day),
``timeout`` (seconds, default 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

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
)

__all__ = ["RedisStreamSink"]

_OWN_OPTIONS = frozenset({"stream", "dedup_window", "wait", "timeout", "cluster"})
_FIELDS = 5  # source, id, received_at, headers, body

# KEYS: stream, per-source counts, then one de-duplication key per delivery.
# ARGV: window (s), then _FIELDS values per delivery. Answers 1 (stored) or 0 (duplicate) each.
_APPEND = """
local window = tonumber(ARGV[1])
local out = {}
for i = 3, #KEYS do
  local at = 2 + (i - 3) * 5
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local entry = redis.call('XADD', KEYS[1], '*', 'source', ARGV[at], 'id', ARGV[at + 1],
      'received_at', ARGV[at + 2], 'headers', ARGV[at + 3], 'body', ARGV[at + 4])
    redis.call('SET', KEYS[i], entry, 'EX', window)
    redis.call('HINCRBY', KEYS[2], ARGV[at], 1)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""


def _tagged(stream: str) -> str:
    """A key prefix in the stream's hash slot."""
    start = stream.find("{")
    if start >= 0:
        end = stream.find("}", start + 1)
        if end > start + 1:
            return stream  # the name's own tag decides the slot of every derived key
    return "{" + stream + "}"


class RedisStreamSink(Sink):
    durability: ClassVar[str] = (
        "in the primary's memory and, with appendfsync always, its fsynced append-only file; "
        "with ?wait=N, also acknowledged by N replicas"
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise SinkError(f"a Redis sink URL is redis://host:port/DB?stream=NAME: {url!r}")
        options = query_options(url)
        self.stream = options.get("stream", "")
        if not self.stream:
            raise SinkError("the Redis sink URL needs ?stream=NAME")
        self.timeout = float_option(options, "timeout", 2.0)
        self.dedup_window = max(1, int(float_option(options, "dedup_window", DEFAULT_DEDUP_WINDOW)))
        try:
            self.wait = int(options.get("wait", "0"))
        except ValueError:
            raise SinkError("sink option wait must be an integer") from None
        if self.wait < 0:
            raise SinkError("sink option wait must be 0 or more")
        self.cluster = options.get("cluster", "") in ("1", "true", "yes")
        prefix = _tagged(self.stream)
        self._seen = prefix + ":seen:"
        self._counts = prefix + ":sources"
        rest = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in _OWN_OPTIONS
        ]
        self._client_url = parts._replace(query=urlencode(rest)).geturl()
        self._client: Any = None
        self._script: Any = None

    async def open(self) -> None:
        if self._client is None:
            kwargs: dict[str, Any] = {
                "socket_timeout": self.timeout,
                "socket_connect_timeout": self.timeout,
            }
            if self.cluster:
                self._client = RedisCluster.from_url(self._client_url, **kwargs)
            else:
                self._client = aioredis.Redis.from_url(
                    self._client_url, health_check_interval=0, **kwargs
                )
            self._script = self._client.register_script(_APPEND)
        await self.probe()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _require(self) -> Any:
        if self._client is None:
            raise SinkUnavailableError("not connected to Redis")
        return self._client

    async def append(self, batch: Sequence[Record]) -> list[bool]:
        client = self._require()
        keys = [self.stream, self._counts]
        args: list[Any] = [self.dedup_window]
        for record in batch:
            keys.append(f"{self._seen}{record.source}:{record.id}")
            args += [
                record.source,
                record.id,
                repr(record.received_at),
                record.headers,
                record.body,
            ]
        try:
            stored = await self._script(keys=keys, args=args)
            if self.wait:
                acked = await client.execute_command("WAIT", self.wait, int(self.timeout * 1000))
                if int(acked) < self.wait:
                    raise SinkUnavailableError(
                        f"only {acked} of {self.wait} replicas acknowledged the write"
                    )
        except redis.exceptions.RedisError as exc:
            raise SinkUnavailableError(f"Redis write failed: {describe(exc)}") from exc
        return [bool(flag) for flag in stored]

    async def read(self, after: str | None, limit: int) -> list[Delivery]:
        client = self._require()
        start = "-" if after is None else "(" + _entry_id(after)
        try:
            entries = await client.xrange(self.stream, min=start, max="+", count=limit)
        except redis.exceptions.RedisError as exc:
            raise SinkUnavailableError(f"Redis read failed: {describe(exc)}") from exc
        return [_delivery(entry_id, fields) for entry_id, fields in entries]

    async def probe(self) -> None:
        try:
            await self._require().ping()
        except redis.exceptions.RedisError as exc:
            raise SinkUnavailableError(f"Redis is not reachable: {describe(exc)}") from exc

    async def stats(self) -> SinkStats:
        client = self._require()
        counts = await client.hgetall(self._counts)
        per_source = {k.decode(): int(v) for k, v in sorted(counts.items())}
        total = int(await client.xlen(self.stream))
        first = await client.xrange(self.stream, count=1)
        last = await client.xrevrange(self.stream, count=1)
        return SinkStats(
            total=total,
            per_source=per_source,
            first_cursor=first[0][0].decode() if first else None,
            last_cursor=last[0][0].decode() if last else None,
            first_received_at=_delivery(*first[0]).received_at if first else None,
            last_received_at=_delivery(*last[0]).received_at if last else None,
            details={"stream": self.stream, "dedup window (s)": self.dedup_window},
        )


def _delivery(entry_id: bytes, fields: dict[bytes, bytes]) -> Delivery:
    return Delivery.from_stored(
        fields[b"source"].decode(),
        fields[b"id"].decode(),
        float(fields[b"received_at"]),
        fields[b"headers"],
        fields[b"body"],
        entry_id.decode(),
    )


def _entry_id(after: str) -> str:
    ms, dash, seq = after.partition("-")
    if not ms.isdigit() or (dash and not seq.isdigit()):
        raise SinkError(f"not a Redis stream cursor: {after!r}")
    return after
