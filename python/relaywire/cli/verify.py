"""``relaywire verify``: re-verify archived deliveries against the sources' secrets.

::

    relaywire verify --config sources.toml deliveries.jsonl
    relaywire verify --config sources.toml sqlite:///events.db   # an ingest sink

The configuration is the ``[[sources]]`` format of :mod:`relaywire.sources`, shared with
``relaywire ingest`` (the same file works; ``path`` may be left out here, and a top-level
``sink`` is ignored); each scheme's batch verification comes from its registry entry. An
archive is JSON lines, one delivery per line, as ``relaywire ingest tail`` prints them::

    {"source": "stripe", "headers": {"Stripe-Signature": "t=...,v1=..."}, "body": "{...}",
     "received_at": "2026-05-01T10:00:00+00:00", "id": "evt_1"}

``body_base64`` replaces ``body`` for a body that is not UTF-8; ``source`` may be left out when
the configuration has one source; ``url`` gives a Twilio delivery's request URL. Timestamps are
checked against ``received_at`` (was the delivery fresh when it arrived?) and not at all when a
line has none, or with ``--ignore-timestamps``. A delivery larger than its source's ``max_body``
fails as the receiver would refuse it. Deliveries are verified in batches on every core.
It prints counts per source and per failure cause, and exits 1 if any delivery fails, 2 if the
configuration or the archive cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import heapq
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from relaywire.sources import (
    BatchCheck,
    DeliveryIdError,
    IdReader,
    Source,
    SourceConfigError,
    get_scheme,
    id_reader,
    load_sources,
)

__all__ = ["add_arguments", "run"]

_SINK_SCHEMES = ("sqlite://", "nats://", "redis://", "rediss://", "postgres://", "postgresql://")
_BATCH = 4096
_SHOWN_FAILURES = 10

MALFORMED = "MalformedLine"
UNKNOWN_SOURCE = "UnknownSource"
TOO_LARGE = "BodyTooLarge"


class ArchiveError(Exception):
    """The archive cannot be read at all; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "archive", metavar="ARCHIVE", help="a JSON lines file ('-' for stdin) or an ingest sink URL"
    )
    parser.add_argument("--config", required=True, help="the sources, as [[sources]] TOML")
    parser.add_argument(
        "--ignore-timestamps",
        action="store_true",
        help="check signatures only (by default timestamps are checked against received_at)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress line on stderr (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=_BATCH,
        help="deliveries verified per call (default: %(default)s)",
    )


# ------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class Verifying:
    """One configured source, ready to verify its deliveries a batch at a time."""

    source: Source
    check: BatchCheck = field(repr=False)
    read_id: IdReader = field(repr=False)
    takes_url: bool


def compile_sources(sources: Iterable[Source]) -> dict[str, Verifying]:
    """Each source's batch verification (secrets resolved now), by name."""
    compiled: dict[str, Verifying] = {}
    for source in sources:
        scheme = get_scheme(source.scheme)
        compiled[source.name] = Verifying(
            source,
            scheme.compile_batch(source, source.resolved_secrets()),
            id_reader(source.id or scheme.default_id),
            scheme.takes_url,
        )
    return compiled


# ------------------------------------------------------------------------------ reading


@dataclass(slots=True)
class Delivery:
    """One archived delivery, as read from a line or a sink."""

    order: int  # position in the archive
    where: str  # "line 12" or a sink cursor
    source: str | None
    headers: Any
    body: bytes
    received_at: float | None
    url: str | None
    id: str | None


class Malformed(Exception):
    """A line that is not a delivery; the message says why."""


def _received_at(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise Malformed("received_at must be a number of seconds or an ISO 8601 time")


def _from_line(number: int, line: bytes) -> Delivery:
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"not JSON ({exc})") from None
    if type(item) is not dict:
        raise Malformed("not a JSON object")
    headers = item.get("headers")
    if type(headers) is not dict:
        if not isinstance(headers, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in headers
        ):
            raise Malformed("headers must be an object or a list of [name, value] pairs")
        headers = [tuple(p) for p in headers]
    body = item.get("body")
    if type(body) is str:
        body = body.encode("utf-8", "surrogatepass")
    else:
        encoded = item.get("body_base64")
        if not isinstance(encoded, str):
            raise Malformed("no body (a string) or body_base64")
        try:
            body = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise Malformed("body_base64 is not base64") from None
    source, url, ident = item.get("source"), item.get("url"), item.get("id")
    if (source is not None and type(source) is not str) or (
        url is not None and type(url) is not str
    ):
        raise Malformed("source and url must be strings")
    received = item.get("received_at")
    return Delivery(
        number,
        f"line {number}",
        source,
        headers,
        body,
        None if received is None else _received_at(received),
        url,
        ident if type(ident) is str else None,
    )


class Progress:
    """A progress line on stderr, redrawn at most four times a second."""

    def __init__(self, enabled: bool, total_bytes: int | None, stream: IO[str]) -> None:
        self.enabled, self.total, self.stream = enabled, total_bytes, stream
        self.started = self.last = time.monotonic()

    def update(self, count: int, done_bytes: int | None, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.25):
            return
        self.last = now
        rate = count / max(now - self.started, 1e-9)
        text = f"verified {count:,} deliveries, {rate:,.0f}/s"
        if self.total and done_bytes is not None:
            text += f", {100 * done_bytes / self.total:5.1f}% of {self.total / 1e6:,.1f} MB"
        self.stream.write("\r" + text + ("\n" if final else ""))
        self.stream.flush()


_READ_SIZE = 4 * 1024 * 1024


def _lines(archive: str) -> tuple[Iterator[tuple[int, bytes]], Callable[[], int | None]]:
    """The archive's non-blank lines with their numbers (read a few MiB at a time), and how
    many bytes have been read so far."""
    handle = sys.stdin.buffer if archive == "-" else open(archive, "rb")  # noqa: SIM115
    done = [0]

    def lines() -> Iterator[tuple[int, bytes]]:
        number = 0
        rest = b""
        with handle:
            while True:
                block = handle.read(_READ_SIZE)
                if not block:
                    break
                done[0] += len(block)
                pieces = (rest + block).split(b"\n")
                rest = pieces.pop()
                for line in pieces:
                    number += 1
                    if line.strip():
                        yield number, line
            if rest.strip():
                yield number + 1, rest

    return lines(), lambda: done[0]


def _from_sink(url: str, tally: Tally) -> Iterator[Delivery]:
    try:
        from relaywire.ingest import read  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise ArchiveError(
            "reading an ingest sink needs relaywire.ingest, which this installation does not have "
            "(install relaywire[ingest]); export the deliveries as JSON lines instead"
        ) from None
    for order, stored in enumerate(read(url)):
        where = f"cursor {stored.cursor}"
        try:
            received_at = _received_at(stored.received_at)
        except Malformed as exc:
            tally.failed(order, str(stored.source), where, stored.id, MALFORMED, str(exc))
            continue
        headers, body = dict(stored.headers), bytes(stored.body)
        yield Delivery(order, where, stored.source, headers, body, received_at, None, stored.id)


# ------------------------------------------------------------------------------ the run


@dataclass
class Tally:
    """Counts per source and per failure cause, and the earliest failures in archive order."""

    per_source: dict[str, list[int]] = field(default_factory=dict)  # name -> [passed, failed]
    causes: Counter[str] = field(default_factory=Counter)
    total: int = 0
    _earliest: list[tuple[int, str]] = field(default_factory=list)  # a max-heap on -order

    def passed(self, source: str, count: int) -> None:
        self.total += count
        self.per_source.setdefault(source, [0, 0])[0] += count

    def failed(
        self, order: int, source: str, where: str, ident: str | None, cause: str, detail: str = ""
    ) -> None:
        self.total += 1
        self.per_source.setdefault(source, [0, 0])[1] += 1
        self.causes[cause] += 1
        if len(self._earliest) == _SHOWN_FAILURES and -self._earliest[0][0] < order:
            return  # later than every failure kept
        named = f"{source} {ident}" if ident else source
        text = f"  {where}: {named}: {cause}{f' ({detail})' if detail else ''}"
        heapq.heappush(self._earliest, (-order, text))
        if len(self._earliest) > _SHOWN_FAILURES:
            heapq.heappop(self._earliest)

    @property
    def shown(self) -> list[str]:
        return [text for _, text in sorted(self._earliest, reverse=True)]

    @property
    def failures(self) -> int:
        return sum(self.causes.values())


def _delivery_id(verifying: Verifying, delivery: Delivery) -> str | None:
    if delivery.id is not None:
        return delivery.id
    try:
        return verifying.read_id(delivery.body, delivery.headers)
    except DeliveryIdError:
        return None


class Batcher:
    """Collects deliveries per source (and per whether their timestamp is checked) and verifies
    them a batch at a time."""

    def __init__(
        self, sources: Mapping[str, Verifying], tally: Tally, size: int, ignore_timestamps: bool
    ) -> None:
        self.sources, self.tally, self.size = sources, tally, max(1, size)
        self.ignore_timestamps = ignore_timestamps
        self.pending: dict[tuple[str, bool], list[Delivery]] = {}

    def add(self, delivery: Delivery) -> None:
        name = delivery.source
        if name is None and len(self.sources) == 1:
            name = delivery.source = next(iter(self.sources))
        verifying = self.sources.get(name) if name is not None else None
        if verifying is None:
            self.tally.failed(
                delivery.order, name or "(none)", delivery.where, delivery.id, UNKNOWN_SOURCE
            )
            return
        name = verifying.source.name
        if len(delivery.body) > verifying.source.max_body:
            self.tally.failed(delivery.order, name, delivery.where, delivery.id, TOO_LARGE)
            return
        timed = delivery.received_at is not None and not self.ignore_timestamps
        batch = self.pending.setdefault((name, timed), [])
        batch.append(delivery)
        if len(batch) >= self.size:
            self.flush(name, timed)

    def flush(self, name: str, timed: bool) -> None:
        batch = self.pending.pop((name, timed), [])
        if not batch:
            return
        verifying = self.sources[name]
        causes = verifying.check(
            [d.body for d in batch],
            [d.headers for d in batch],
            # A timed batch holds only deliveries with a reception time.
            received_at=[d.received_at or 0.0 for d in batch] if timed else None,
            urls=[d.url for d in batch] if verifying.takes_url else None,
        )
        failed = 0
        for delivery, cause in zip(batch, causes, strict=True):
            if cause is not None:
                failed += 1
                ident = _delivery_id(verifying, delivery)
                self.tally.failed(delivery.order, name, delivery.where, ident, cause)
        self.tally.passed(name, len(batch) - failed)

    def flush_all(self) -> None:
        for name, timed in list(self.pending):
            self.flush(name, timed)


def _report(tally: Tally, archive: str, seconds: float, out: IO[str]) -> None:
    rate = tally.total / seconds if seconds > 0 else 0.0
    out.write(
        f"verified {tally.total:,} deliveries from {archive} in {seconds:.2f} s ({rate:,.0f}/s)\n"
    )
    if tally.per_source:
        width = max(6, *(len(name) for name in tally.per_source))
        out.write(f"{'source':<{width}}  {'total':>12}  {'passed':>12}  {'failed':>12}\n")
        for name in sorted(tally.per_source):
            passed, failed = tally.per_source[name]
            total = passed + failed
            out.write(f"{name:<{width}}  {total:>12,}  {passed:>12,}  {failed:>12,}\n")
    if tally.causes:
        out.write("failures by cause:\n")
        for cause, count in tally.causes.most_common():
            out.write(f"  {cause:<32} {count:>12,}\n")
        out.write(f"first failures ({len(tally.shown)} of {tally.failures:,}):\n")
        out.write("\n".join(tally.shown) + "\n")
    else:
        out.write("every delivery verified\n")


def verify_archive(
    sources: Mapping[str, Verifying],
    archive: str,
    *,
    batch: int = _BATCH,
    ignore_timestamps: bool = False,
    progress: Progress | None = None,
) -> Tally:
    """Verifies every delivery of ``archive`` (JSON lines, ``-`` for stdin, or a sink URL) with
    the sources of :func:`compile_sources`."""
    tally = Tally()
    batcher = Batcher(sources, tally, batch, ignore_timestamps)
    position: Callable[[], int | None] = lambda: None  # noqa: E731
    deliveries: Iterable[Delivery]
    if archive.startswith(_SINK_SCHEMES):
        deliveries = _from_sink(archive, tally)
    else:
        lines, position = _lines(archive)
        deliveries = _parsed(lines, tally)
    for read, delivery in enumerate(deliveries, start=1):
        batcher.add(delivery)
        if progress is not None and read % 4096 == 0:
            progress.update(tally.total, position())
    batcher.flush_all()
    if progress is not None:
        progress.update(tally.total, position(), final=True)
    return tally


def _parsed(lines: Iterable[tuple[int, bytes]], tally: Tally) -> Iterator[Delivery]:
    for number, line in lines:
        try:
            yield _from_line(number, line)
        except Malformed as exc:
            tally.failed(number, "(unreadable)", f"line {number}", None, MALFORMED, str(exc))


def run(args: argparse.Namespace) -> int:
    try:
        sources = compile_sources(load_sources(args.config))
        started = time.perf_counter()
        total = None
        if not args.archive.startswith(_SINK_SCHEMES) and args.archive != "-":
            total = Path(args.archive).stat().st_size
        show = sys.stderr.isatty() if args.progress is None else args.progress
        tally = verify_archive(
            sources,
            args.archive,
            batch=args.batch,
            ignore_timestamps=args.ignore_timestamps,
            progress=Progress(show, total, sys.stderr),
        )
    except (SourceConfigError, ArchiveError) as exc:
        print(f"relaywire verify: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"relaywire verify: cannot read {args.archive}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    _report(tally, args.archive, time.perf_counter() - started, sys.stdout)
    return 1 if tally.failures else 0
