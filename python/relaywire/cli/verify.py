"""``relaywire verify``: re-verify archived deliveries against the sources' secrets.

::

    relaywire verify --config sources.toml deliveries.jsonl
    relaywire verify --config sources.toml sqlite:///events.db   # an ingest sink

The configuration is the ``[[sources]]`` format of ``relaywire ingest`` (``name``, ``path``,
``scheme``, ``secrets`` / ``secrets_env``, ``tolerance``, ``max_body``, ``id``, and the scheme's
own keys: ``header``, ``encoding``, ``prefix`` for ``hmac``; ``url`` for ``twilio``). An archive
is JSON lines, one delivery per line, as ``relaywire ingest tail`` prints them::

    {"source": "stripe", "headers": {"Stripe-Signature": "t=...,v1=..."}, "body": "{...}",
     "received_at": "2026-05-01T10:00:00+00:00", "id": "evt_1"}

``body_base64`` replaces ``body`` for a body that is not UTF-8; ``source`` may be left out when
the configuration has one source; ``url`` gives a Twilio delivery's request URL. Timestamps are
checked against ``received_at`` (was the delivery fresh when it arrived?) and not at all when a
line has none, or with ``--ignore-timestamps``. Deliveries are verified in batches on every core.
It prints counts per source and per failure cause, and exits 1 if any delivery fails, 2 if the
configuration or the archive cannot be read.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import heapq
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from relaywire import webhooks

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["add_arguments", "run"]

#: Source keys shared by every scheme, as in ``relaywire ingest``'s ``ingest.toml``.
_SOURCE_KEYS = frozenset(
    {"name", "path", "scheme", "secrets", "secrets_env", "tolerance", "max_body", "id"}
)
#: The scheme's own keys: name -> (type, default); a default of ``...`` is required.
_SCHEME_OPTIONS: dict[str, dict[str, tuple[type, Any]]] = {
    "hmac": {"header": (str, ...), "encoding": (str, "hex"), "prefix": (str, "")},
    "twilio": {"url": (str, None)},
}
#: Schemes whose verifier reads the headers itself (and returns the cause of a failure).
_HEADER_SCHEMES: dict[str, Callable[[Any], Any]] = {
    "standard": webhooks.StandardWebhook,
    "stripe": webhooks.Stripe,
    "github": webhooks.GitHub,
    "shopify": webhooks.Shopify,
    "slack": webhooks.Slack,
    "twilio": webhooks.Twilio,
    "meta": webhooks.Meta,
    "linear": webhooks.Linear,
    "discord": webhooks.Discord,
}
_UNTIMED = frozenset({"github", "shopify", "meta", "twilio", "hmac"})
_SCHEMES = sorted([*_HEADER_SCHEMES, "linktor", "hmac"])
_SINK_SCHEMES = ("sqlite://", "nats://", "redis://", "rediss://", "postgres://", "postgresql://")
_BATCH = 4096
_SHOWN_FAILURES = 10

MALFORMED = "MalformedLine"
UNKNOWN_SOURCE = "UnknownSource"
TOO_LARGE = "BodyTooLarge"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the source and key, never a secret."""


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


#: ``verify(bodies, headers, urls, now)`` -> the failure cause of each delivery, or None. ``now``
#: is one time per delivery (``received_at``), or None to skip the timestamp check.
Verify = Callable[
    [list[bytes], list[Any], list[str | None], "list[float] | None"], list[str | None]
]


@dataclass
class Source:
    """One configured sender and the verification of its deliveries."""

    name: str
    scheme: str
    secrets: tuple[str, ...] = field(repr=False)
    tolerance: float | None
    max_body: int | None
    id_rule: str | None
    options: dict[str, Any]
    verify: Verify = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.verify = _verification(self)


def _secrets(table: Mapping[str, Any], label: str, environ: Mapping[str, str]) -> tuple[str, ...]:
    secrets = table.get("secrets", [])
    if not isinstance(secrets, list) or not all(isinstance(s, str) and s for s in secrets):
        raise ConfigError(f"{label}: secrets must be a list of non-empty strings")
    found = list(secrets)
    variable = table.get("secrets_env")
    if variable is not None:
        if not isinstance(variable, str) or not variable:
            raise ConfigError(f"{label}: secrets_env must name an environment variable")
        if variable not in environ:
            raise ConfigError(f"{label}: environment variable {variable} is not set")
        found += [part.strip() for part in environ[variable].split(",") if part.strip()]
    if not found:
        raise ConfigError(f'{label}: give secrets = [...] or secrets_env = "NAME"')
    return tuple(found)


def _number(table: Mapping[str, Any], key: str, label: str, kind: type[int] | type[float]) -> Any:
    """A key holding a number >= 0 (an integer when ``kind`` is int), or None when absent."""
    value = table.get(key)
    if value is None:
        return None
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed) or value < 0:
        raise ConfigError(
            f"{label}: {key} must be a{'n integer' if kind is int else ' number'} >= 0"
        )
    return kind(value)


def _source(table: Any, index: int, environ: Mapping[str, str]) -> Source:
    label = f"sources[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{label} must be a table ([[sources]])")
    for key in ("name", "scheme"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise ConfigError(f"{label}: {key} is required (a string)")
    label = f"{label} ({table['name']})"
    scheme = table["scheme"]
    if scheme not in _SCHEMES:
        raise ConfigError(f"{label}: scheme {scheme!r} is unknown; known: {', '.join(_SCHEMES)}")
    own = _SCHEME_OPTIONS.get(scheme, {})
    unknown = sorted(set(table) - _SOURCE_KEYS - set(own))
    if unknown:
        known = ", ".join(sorted(_SOURCE_KEYS | set(own)))
        raise ConfigError(f"{label}: unknown key(s) {', '.join(unknown)}; known: {known}")
    options: dict[str, Any] = {}
    for key, (kind, default) in own.items():
        value = table.get(key, default)
        if value is ...:
            raise ConfigError(f"{label}: {key} is required for scheme {scheme!r}")
        if value is not None and not isinstance(value, kind):
            raise ConfigError(f"{label}: {key} must be a {kind.__name__}")
        options[key] = value
    id_rule = table.get("id")
    if id_rule is not None and not (
        id_rule == "sha256"
        or (isinstance(id_rule, str) and id_rule.partition(":")[0] in ("body", "header"))
    ):
        raise ConfigError(f'{label}: id must be "body:<key>", "header:<name>" or "sha256"')
    tolerance = _number(table, "tolerance", label, float)
    try:
        return Source(
            name=table["name"],
            scheme=scheme,
            secrets=_secrets(table, label, environ),
            tolerance=tolerance,
            max_body=_number(table, "max_body", label, int),
            id_rule=id_rule,
            options=options,
        )
    except (webhooks.WebhookVerificationError, TypeError, ValueError) as exc:
        # An unusable secret; the verifiers' messages never hold it.
        raise ConfigError(f"{label}: {exc}") from None


def load_sources(path: str, environ: Mapping[str, str] | None = None) -> dict[str, Source]:
    """The sources of a ``[[sources]]`` TOML file, by name."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    tables = data.get("sources")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: at least one [[sources]] table is required")
    env = os.environ if environ is None else environ
    sources: dict[str, Source] = {}
    for index, table in enumerate(tables):
        source = _source(table, index, env)
        if source.name in sources:
            raise ConfigError(f"{path}: source name {source.name!r} is used twice")
        sources[source.name] = source
    return sources


# ------------------------------------------------------------------------------ verification


def _verification(source: Source) -> Verify:
    """How a source's deliveries are verified, a batch at a time."""
    if source.scheme in _HEADER_SCHEMES:
        verifier = _HEADER_SCHEMES[source.scheme](list(source.secrets))
        timing: dict[str, Any] = {}
        if source.tolerance is not None:
            timing["tolerance"] = source.tolerance  # else the scheme's own default

        def by_headers(
            bodies: list[bytes], headers: list[Any], urls: list[str | None], now: list[float] | None
        ) -> list[str | None]:
            if source.scheme == "twilio":
                errors = verifier.verify_each(bodies, headers, urls=[u or "" for u in urls])
            elif source.scheme in _UNTIMED:
                errors = verifier.verify_each(bodies, headers)
            elif now is None:
                errors = verifier.verify_each(bodies, headers, tolerance=None)
            else:
                errors = verifier.verify_each(bodies, headers, now=now, **timing)
            return [None if e is None else type(e).__name__ for e in errors]

        return by_headers
    verifiers: list[Any]
    if source.scheme == "linktor":
        # The Linktor timestamp is not signed, so an archive is checked on its signature.
        verifiers = [webhooks.LinktorVerifier(secret) for secret in source.secrets]
        name = webhooks.LINKTOR_SIGNATURE_HEADER
    else:
        options = source.options
        verifiers = [
            webhooks.HmacVerifier(s, encoding=options["encoding"], prefix=options["prefix"])
            for s in source.secrets
        ]
        name = options["header"].lower()

    def by_signature(
        bodies: list[bytes], headers: list[Any], urls: list[str | None], now: list[float] | None
    ) -> list[str | None]:
        signatures = [_header(h, name) for h in headers]
        passed = [False] * len(bodies)
        for verifier in verifiers:
            for i, ok in enumerate(verifier.verify_many(bodies, signatures)):
                passed[i] = passed[i] or ok
        return [
            None if ok else ("MissingHeaderError" if sig is None else "InvalidSignatureError")
            for ok, sig in zip(passed, signatures, strict=True)
        ]

    return by_signature


def _header(headers: Any, name: str) -> str | None:
    for key, value in headers.items() if isinstance(headers, dict) else headers:
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


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


# ------------------------------------------------------------------------------ reading


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
        raise ConfigError(
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


def _delivery_id(source: Source, delivery: Delivery) -> str | None:
    if delivery.id is not None or source.id_rule is None:
        return delivery.id
    kind, _, where = source.id_rule.partition(":")
    if kind == "sha256":
        return hashlib.sha256(delivery.body).hexdigest()
    if kind == "header":
        return _header(delivery.headers, where.lower())
    try:
        value: Any = orjson.loads(delivery.body)
        for part in where.split("."):
            value = value[part]
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
        return None
    return value if isinstance(value, str) else str(value)


class Batcher:
    """Collects deliveries per source (and per whether their timestamp is checked) and verifies
    them a batch at a time."""

    def __init__(
        self, sources: Mapping[str, Source], tally: Tally, size: int, ignore_timestamps: bool
    ) -> None:
        self.sources, self.tally, self.size = sources, tally, max(1, size)
        self.ignore_timestamps = ignore_timestamps
        self.pending: dict[tuple[str, bool], list[Delivery]] = {}

    def add(self, delivery: Delivery) -> None:
        name = delivery.source
        if name is None and len(self.sources) == 1:
            name = delivery.source = next(iter(self.sources))
        source = self.sources.get(name) if name is not None else None
        if source is None:
            self.tally.failed(
                delivery.order, name or "(none)", delivery.where, delivery.id, UNKNOWN_SOURCE
            )
            return
        if source.max_body is not None and len(delivery.body) > source.max_body:
            self.tally.failed(delivery.order, source.name, delivery.where, delivery.id, TOO_LARGE)
            return
        timed = delivery.received_at is not None and not self.ignore_timestamps
        batch = self.pending.setdefault((source.name, timed), [])
        batch.append(delivery)
        if len(batch) >= self.size:
            self.flush(source.name, timed)

    def flush(self, name: str, timed: bool) -> None:
        batch = self.pending.pop((name, timed), [])
        if not batch:
            return
        source = self.sources[name]
        default_url = source.options.get("url")
        causes = source.verify(
            [d.body for d in batch],
            [d.headers for d in batch],
            [d.url or default_url for d in batch],
            [d.received_at for d in batch if d.received_at is not None] if timed else None,
        )
        failed = 0
        for delivery, cause in zip(batch, causes, strict=True):
            if cause is not None:
                failed += 1
                ident = _delivery_id(source, delivery)
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
    sources: Mapping[str, Source],
    archive: str,
    *,
    batch: int = _BATCH,
    ignore_timestamps: bool = False,
    progress: Progress | None = None,
) -> Tally:
    """Verifies every delivery of ``archive`` (JSON lines, ``-`` for stdin, or a sink URL)."""
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
        sources = load_sources(args.config)
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
    except ConfigError as exc:
        print(f"relaywire verify: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"relaywire verify: cannot read {args.archive}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    _report(tally, args.archive, time.perf_counter() - started, sys.stdout)
    return 1 if tally.failures else 0
