"""Webhook sources: the ``[[sources]]`` format and the scheme registry.

``relaywire ingest`` (the receiver) and ``relaywire verify`` (archives) read the same file::

    [[sources]]
    name = "billing"               # the label in metrics, stored deliveries and archives
    path = "/hooks/billing"        # where relaywire ingest serves it (relaywire verify ignores it)
    scheme = "standard"            # any scheme in SCHEMES
    secrets = ["whsec_..."]        # one or more (rotation); or secrets_env = "NAME"
    # tolerance = 300, max_body = 1048576, id = "body:id" | "header:webhook-id" | "sha256"
    # and the scheme's own keys: header, encoding, prefix (hmac); url (twilio)

Every scheme is described once, by a :class:`Scheme` in :data:`SCHEMES`: how to build its
verifier from the secrets, where its delivery id is, its own keys, whether it checks a signed
timestamp and whether it signs the request URL. Both ways of verifying come from that one
description: :meth:`Scheme.compile` checks one request's raw body and headers against the clock
(the receiver), :meth:`Scheme.compile_batch` verifies many archived deliveries in one call, each
against its own reception time (``relaywire verify``). A scheme added with
:func:`register_scheme` works in both.

Every mistake is a :class:`SourceConfigError` that names the source and the key, never a secret.
This module needs no extra: it uses :mod:`relaywire.webhooks` and the standard library.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar

import orjson

from relaywire.webhooks import (
    DEFAULT_TOLERANCE,
    LINKTOR_SIGNATURE_HEADER,
    LINKTOR_TIMESTAMP_HEADER,
    Discord,
    GitHub,
    HmacVerifier,
    InvalidSecretError,
    InvalidSignatureError,
    InvalidTimestampError,
    Linear,
    LinktorVerifier,
    Meta,
    MissingHeaderError,
    Shopify,
    Slack,
    StandardWebhook,
    Stripe,
    TimestampOutOfToleranceError,
    Twilio,
    WebhookVerificationError,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_ID_LENGTH",
    "SCHEMES",
    "SOURCE_KEYS",
    "BatchCheck",
    "Build",
    "Check",
    "DeliveryIdError",
    "IdReader",
    "RawHeaders",
    "Scheme",
    "Source",
    "SourceConfigError",
    "check_sources",
    "get_scheme",
    "header",
    "header_value",
    "id_reader",
    "load_sources",
    "load_toml",
    "parse_id_rule",
    "parse_sources",
    "register_scheme",
]

DEFAULT_MAX_BODY = 1024 * 1024
#: Longest delivery id accepted, in characters.
MAX_ID_LENGTH = 256
#: The keys every source table may have; a scheme adds its own (:attr:`Scheme.options`).
SOURCE_KEYS = frozenset(
    {"name", "path", "scheme", "secrets", "secrets_env", "tolerance", "max_body", "id"}
)
# Names become metric labels, NATS subject tokens and Redis key parts: keep them plain.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_TOLERANCE = 31 * 24 * 3600
_MAX_MAX_BODY = 64 * 1024 * 1024


class SourceConfigError(ValueError):
    """A source or the file of sources is invalid; the message says which key and why.

    ``relaywire.ingest.IngestConfigError`` is this class under its ingest name.
    """


@dataclass(frozen=True)
class Source:
    """One webhook sender: where it posts, how its deliveries are verified and identified.

    ``path`` is where ``relaywire ingest`` serves the source (``""``: not served, for a source
    that is only verified, as ``relaywire verify`` allows). ``secrets`` and ``secrets_env`` (an
    environment variable holding comma-separated secrets) may both be given; a delivery passes
    when any secret verifies it, so a new secret can be added before the sender switches and the
    old one removed after. ``tolerance`` left out (``None``) is the scheme's own default: 300
    seconds, 60 for Linear. ``max_body`` bounds a delivery's body in bytes. ``id`` says where
    the delivery id is read: ``"body:<key>"`` (a top-level key, or a dotted path, of the JSON
    body), ``"header:<name>"``, or ``"sha256"`` (the hex digest of the raw body); left out, the
    scheme's default. ``options`` holds the scheme's own keys (``header``, ``encoding``,
    ``prefix`` for ``hmac``; ``url`` for ``twilio``). Secrets never appear in the ``repr``.
    """

    name: str
    path: str
    scheme: str
    secrets: Sequence[str] = field(default=(), repr=False)
    secrets_env: str | None = None
    tolerance: float | None = None
    max_body: int = DEFAULT_MAX_BODY
    id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def resolved_secrets(self, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
        """The secrets from ``secrets`` and ``secrets_env``, in that order."""
        found = list(self.secrets)
        if self.secrets_env is not None:
            env = os.environ if environ is None else environ
            raw = env.get(self.secrets_env)
            if raw is None:
                raise SourceConfigError(
                    f"source {self.name!r}: environment variable {self.secrets_env} is not set"
                )
            found += [part.strip() for part in raw.split(",") if part.strip()]
        if not found:
            where = f" (variable {self.secrets_env} is empty)" if self.secrets_env else ""
            raise SourceConfigError(f"source {self.name!r}: no secret given{where}")
        return tuple(found)

    def validate(self) -> None:
        """Raise :class:`SourceConfigError` for a field that cannot work."""
        label = f"source {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise SourceConfigError(
                f"source name {self.name!r} must be 1-64 letters, digits, '_' or '-'"
            )
        if not isinstance(self.path, str) or (
            self.path and (not self.path.startswith("/") or "?" in self.path)
        ):
            raise SourceConfigError(f"{label}: path must start with '/' and have no query")
        if isinstance(self.secrets, str) or not all(isinstance(s, str) and s for s in self.secrets):
            raise SourceConfigError(f"{label}: secrets must be a list of non-empty strings")
        if self.secrets_env is not None and (
            not isinstance(self.secrets_env, str) or not self.secrets_env
        ):
            raise SourceConfigError(f"{label}: secrets_env must name an environment variable")
        if not self.secrets and self.secrets_env is None:
            raise SourceConfigError(f'{label}: give secrets = [...] or secrets_env = "NAME"')
        if self.tolerance is not None and (
            isinstance(self.tolerance, bool)
            or not isinstance(self.tolerance, (int, float))
            or not 0 < self.tolerance <= _MAX_TOLERANCE
        ):
            raise SourceConfigError(f"{label}: tolerance must be seconds in (0, 31 days]")
        if (
            isinstance(self.max_body, bool)
            or not isinstance(self.max_body, int)
            or not 0 < self.max_body <= _MAX_MAX_BODY
        ):
            raise SourceConfigError(f"{label}: max_body must be bytes in [1, 64 MiB]")
        if self.id is not None:
            parse_id_rule(self.id, label)


# -- delivery ids ----------------------------------------------------------------------------------


def parse_id_rule(rule: str, label: str = "source") -> tuple[str, str]:
    """``"body:data.id"`` -> ``("body", "data.id")``; ``"sha256"`` -> ``("sha256", "")``."""
    if isinstance(rule, str):
        if rule == "sha256":
            return "sha256", ""
        kind, _, where = rule.partition(":")
        if kind in ("body", "header") and where and where.strip() == where:
            return kind, where.lower() if kind == "header" else where
    raise SourceConfigError(
        f'{label}: id must be "body:<key>", "header:<name>" or "sha256", not {rule!r}'
    )


class DeliveryIdError(ValueError):
    """A verified delivery's id cannot be read; the message says why."""


#: ``read(body, headers)`` -> the delivery id, or :class:`DeliveryIdError`.
IdReader: TypeAlias = Callable[[bytes, Any], str]


def id_reader(rule: str, *, raw_headers: bool = False) -> IdReader:
    """The reader of delivery ids by ``rule`` (see :class:`Source`).

    Headers are any mapping or ``(name, value)`` pairs; ``raw_headers=True`` reads ASGI's raw
    headers (lowercase byte names) faster. An id read from the body is a string or an integer;
    every id is 1 to :data:`MAX_ID_LENGTH` characters.
    """
    kind, where = parse_id_rule(rule)
    if kind == "sha256":
        return lambda body, headers: hashlib.sha256(body).hexdigest()
    if kind == "header":
        name = where.encode("latin-1")

        def from_header(body: bytes, headers: Any) -> str:
            value = header(headers, name) if raw_headers else header_value(headers, where)
            if value is None:
                raise DeliveryIdError(f"the delivery id header {where} is missing")
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise DeliveryIdError(f"the {where} header is not UTF-8") from None
            return _valid_id(value)

        return from_header
    path = where.split(".")

    def from_body(body: bytes, headers: Any) -> str:
        try:
            value: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise DeliveryIdError(
                "the body is not JSON, so the delivery id cannot be read"
            ) from None
        for key in path:
            if not isinstance(value, dict) or key not in value:
                raise DeliveryIdError(f"the body has no {where!r} (the delivery id)")
            value = value[key]
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise DeliveryIdError(f"the delivery id {where!r} must be a string or an integer")
        return _valid_id(value)

    return from_body


def _valid_id(value: str) -> str:
    if not value:
        raise DeliveryIdError("the delivery id is empty")
    if len(value) > MAX_ID_LENGTH:
        raise DeliveryIdError(f"the delivery id is longer than {MAX_ID_LENGTH} characters")
    return value


# -- headers -----------------------------------------------------------------------------------


RawHeaders: TypeAlias = Sequence[tuple[bytes, bytes]]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header ``name`` in ASGI's raw headers (lowercase byte names)."""
    for key, value in headers:
        if key == name:
            return value
    return None


def header_value(headers: Any, name: str) -> str | bytes | None:
    """The first value of header ``name`` (given in lowercase) in any mapping (``dict``,
    httpx, Starlette...) or iterable of ``(name, value)`` pairs, names ``str`` or ``bytes`` in
    any case; ``None`` when absent or not a string."""
    raw = name.encode("latin-1")
    for key, value in headers.items() if hasattr(headers, "items") else headers:
        if isinstance(key, bytes):
            found = key == raw or key.lower() == raw
        else:
            found = isinstance(key, str) and key.lower() == name
        if found:
            return value if isinstance(value, (str, bytes)) else None
    return None


def _raw_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """Any headers as ASGI's raw headers, for a check written for the receiver."""
    pairs = headers.items() if hasattr(headers, "items") else headers
    return [(_latin1(key).lower(), _latin1(value)) for key, value in pairs]


def _latin1(text: Any) -> bytes:
    if isinstance(text, bytes):
        return text
    string = str(text)
    try:
        return string.encode("latin-1")  # what the receiver decoded stored headers with
    except UnicodeEncodeError:
        return string.encode("utf-8", "surrogatepass")


# -- the scheme registry ---------------------------------------------------------------------------

#: ``check(body, headers)`` -> ``None`` when genuine, else the reason (never a secret).
Check: TypeAlias = Callable[[bytes, RawHeaders], "str | None"]
#: ``build(source, secrets)`` -> the source's check, keyed once.
Build: TypeAlias = Callable[[Source, tuple[str, ...]], Check]


class BatchCheck(Protocol):
    """The verification of many deliveries to one source in one call."""

    def __call__(
        self,
        bodies: Sequence[bytes],
        headers: Sequence[Any],
        *,
        received_at: Sequence[float] | None = None,
        urls: Sequence[str | None] | None = None,
    ) -> list[str | None]:
        """Per delivery, ``None`` or the cause of its failure: the name of the
        :class:`WebhookVerificationError` subclass (a ``build`` check's reason). A timestamp is
        checked against the delivery's ``received_at``, and not at all when that is ``None``;
        ``urls`` are the request URLs, a ``None`` item (or ``urls=None``) being the source's
        ``url``."""


_T = TypeVar("_T")


@dataclass(frozen=True)
class Scheme:
    """How one provider's deliveries are verified, described once for every use.

    Give either ``verifier`` or ``build``:

    - ``verifier(secrets, **options)`` makes a verifier with the interface of the classes of
      :mod:`relaywire.webhooks`: ``verify(body, headers, **kw)`` returns ``None`` or raises a
      :class:`WebhookVerificationError` subclass naming the cause, and ``verify_each(bodies,
      headers_list, **kw)`` answers that per delivery in one call. It is called with the list
      of secrets and the scheme's own ``options`` (defaults filled in, ``url`` aside). When
      ``timed``, the verifier checks a signed timestamp: both methods take ``tolerance=``
      (``None`` skips the check) and ``verify_each`` takes ``now=``, one time per delivery.
      When ``takes_url``, the request URL is signed: ``verify`` takes ``url=`` and
      ``verify_each`` ``urls=``, and the scheme has a ``url`` option.
    - ``build(source, secrets)`` returns the source's check of one request, ``(raw_body,
      raw_headers) -> None | reason``. It is run per delivery by both commands, and cannot be
      told a time or a URL.

    ``default_id`` is the id rule used when a source does not set ``id``. ``options`` maps the
    scheme's own source keys to a ``(type, default)`` pair; a ``default`` of ``...`` makes the
    key required, ``None`` optional.
    """

    name: str
    build: Build | None = None
    default_id: str = "sha256"
    options: Mapping[str, tuple[type, Any]] = field(default_factory=dict)
    verifier: Callable[..., Any] | None = None
    timed: bool = False
    takes_url: bool = False

    def __post_init__(self) -> None:
        if (self.build is None) == (self.verifier is None):
            raise ValueError(f"scheme {self.name!r}: give verifier= or build=, one of them")
        if self.build is not None and (self.timed or self.takes_url):
            raise ValueError(
                f"scheme {self.name!r}: a build check is told neither the time nor the URL; "
                "describe a timed or URL-signing scheme with verifier="
            )
        parse_id_rule(self.default_id, f"scheme {self.name!r}")
        if self.takes_url and "url" not in self.options:
            object.__setattr__(self, "options", {**self.options, "url": (str, None)})

    def check_options(self, source: Source) -> None:
        """Raise :class:`SourceConfigError` for a missing, mistyped or unknown own key."""
        label = f"source {source.name!r}"
        for key, (kind, default) in self.options.items():
            value = source.options.get(key, default)
            if value is ...:
                raise SourceConfigError(
                    f"{label}: {key} is required; scheme {self.name!r} needs {key} set"
                )
            if value is None and default is None:
                continue
            if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
                raise SourceConfigError(f"{label}: {key} must be a {kind.__name__}")
        unknown = sorted(set(source.options) - self.options.keys())
        if unknown:
            raise SourceConfigError(
                f"{label}: scheme {self.name!r} has no option(s) {', '.join(unknown)}"
            )

    def option(self, source: Source, key: str) -> Any:
        """A source's own key, or the scheme's default for it."""
        return source.options.get(key, self.options[key][1])

    def compile(self, source: Source, secrets: tuple[str, ...]) -> Check:
        """The check of one request to ``source`` (timestamps against the clock)."""
        if self.build is not None:
            build = self.build
            return _keyed(source, lambda: build(source, secrets))
        verifier = self._verifier(source, secrets)
        options: dict[str, Any] = {}
        if self.timed and source.tolerance is not None:
            options["tolerance"] = float(source.tolerance)
        if self.takes_url:
            url = source.options.get("url")
            if url is None:
                raise SourceConfigError(
                    f"source {source.name!r}: scheme {self.name!r} needs url, the URL the "
                    "sender posts to (it is signed)"
                )
            options["url"] = url
        verify = verifier.verify

        def check(body: bytes, headers: RawHeaders) -> str | None:
            try:
                verify(body, headers, **options)
            except WebhookVerificationError as exc:
                return f"{type(exc).__name__}: {exc}"
            return None

        return check

    def compile_batch(self, source: Source, secrets: tuple[str, ...]) -> BatchCheck:
        """The verification of many deliveries to ``source`` in one call (see
        :data:`BatchCheck`)."""
        build = self.build
        check = None if build is None else _keyed(source, lambda: build(source, secrets))
        verify_each = None if check is not None else self._verifier(source, secrets).verify_each
        tolerance = {} if source.tolerance is None else {"tolerance": float(source.tolerance)}
        default_url: str = source.options.get("url") or ""
        timed, takes_url = self.timed, self.takes_url

        def batch(
            bodies: Sequence[bytes],
            headers: Sequence[Any],
            *,
            received_at: Sequence[float] | None = None,
            urls: Sequence[str | None] | None = None,
        ) -> list[str | None]:
            if verify_each is None:  # a build check, told neither a time nor a URL
                assert check is not None
                return [check(b, _raw_headers(h)) for b, h in zip(bodies, headers, strict=True)]
            options: dict[str, Any] = {}
            if takes_url:
                given = repeat(None, len(bodies)) if urls is None else urls
                options["urls"] = [url or default_url for url in given]
            if timed:
                if received_at is None:
                    options["tolerance"] = None
                else:
                    options.update(tolerance, now=received_at)
            errors = verify_each(bodies, headers, **options)
            return [None if e is None else type(e).__name__ for e in errors]

        return batch

    def _verifier(self, source: Source, secrets: tuple[str, ...]) -> Any:
        make = self.verifier
        assert make is not None
        own = {
            k: self.option(source, k) for k in self.options if not (self.takes_url and k == "url")
        }
        return _keyed(source, lambda: make(list(secrets), **own))


def _keyed(source: Source, make: Callable[[], _T]) -> _T:
    """``make()``, with a secret or option the verifier refuses as a :class:`SourceConfigError`
    (the verifiers' messages never hold a secret)."""
    try:
        return make()
    except SourceConfigError:
        raise
    except InvalidSecretError as exc:
        raise SourceConfigError(f"source {source.name!r}: a secret is invalid: {exc}") from None
    except ValueError as exc:
        raise SourceConfigError(f"source {source.name!r}: {exc}") from None


SCHEMES: dict[str, Scheme] = {}


def register_scheme(scheme: Scheme) -> Scheme:
    """Add (or replace) a scheme in the registry; it is usable by name in sources."""
    SCHEMES[scheme.name] = scheme
    return scheme


def get_scheme(name: Any, label: str = "source") -> Scheme:
    """The registered scheme ``name``, or a :class:`SourceConfigError` listing the known ones."""
    scheme = SCHEMES.get(name) if isinstance(name, str) else None
    if scheme is None:
        raise SourceConfigError(
            f"{label}: scheme {name!r} is unknown; known: {', '.join(sorted(SCHEMES))}"
        )
    return scheme


# -- reading sources -------------------------------------------------------------------------------


def _source_from_table(table: Any, index: int, require_path: bool) -> Source:
    label = f"sources[{index}]"
    if not isinstance(table, dict):
        raise SourceConfigError(f"{label} must be a table ([[sources]])")
    if isinstance(table.get("name"), str):
        label = f"{label} ({table['name']})"
    for key in ("name", "path", "scheme") if require_path else ("name", "scheme"):
        if key not in table:
            raise SourceConfigError(f"{label}: {key} is required")
    scheme = get_scheme(table["scheme"], label)
    known = SOURCE_KEYS | scheme.options.keys()
    unknown = sorted(set(table) - known)
    if unknown:
        raise SourceConfigError(
            f"{label}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    secrets = table.get("secrets", [])
    if not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets):
        raise SourceConfigError(f"{label}: secrets must be a list of strings")
    return Source(
        name=table["name"],
        path=table.get("path", ""),
        scheme=table["scheme"],
        secrets=tuple(secrets),
        secrets_env=table.get("secrets_env"),
        tolerance=table.get("tolerance"),
        max_body=table.get("max_body", DEFAULT_MAX_BODY),
        id=table.get("id"),
        options={k: v for k, v in table.items() if k in scheme.options},
    )


def parse_sources(tables: Any, *, require_path: bool = False) -> tuple[Source, ...]:
    """The sources of parsed ``[[sources]]`` tables, checked (:func:`check_sources`).

    ``require_path``: every table must have a ``path`` (the receiver routes by it).
    """
    if not isinstance(tables, list) or not tables:
        raise SourceConfigError("at least one [[sources]] table is required")
    sources = tuple(_source_from_table(t, i, require_path) for i, t in enumerate(tables))
    check_sources(sources)
    return sources


def check_sources(sources: Sequence[Source]) -> None:
    """Validate each source and its scheme's keys, and that names are unique."""
    if not sources:
        raise SourceConfigError("at least one source is required")
    names: set[str] = set()
    for source in sources:
        if not isinstance(source, Source):
            raise SourceConfigError(f"sources must be Source objects, not {type(source).__name__}")
        source.validate()
        get_scheme(source.scheme, f"source {source.name!r}").check_options(source)
        if source.name in names:
            raise SourceConfigError(f"source name {source.name!r} is used twice")
        names.add(source.name)


def load_toml(path: str | os.PathLike[str], parse: Callable[[dict[str, Any]], _T]) -> _T:
    """``parse(data)`` of the TOML file at ``path``; every error is a
    :class:`SourceConfigError` that starts with the file's name."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise SourceConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SourceConfigError(f"{file}: not valid TOML: {exc}") from None
    try:
        return parse(data)
    except SourceConfigError as exc:
        raise SourceConfigError(f"{file}: {exc}") from None


def load_sources(path: str | os.PathLike[str], *, require_path: bool = False) -> tuple[Source, ...]:
    """The sources of a ``[[sources]]`` TOML file. Other top-level keys belong to the program
    that reads the file (``sink`` for ``relaywire ingest``) and are left alone here."""
    return load_toml(
        path, lambda data: parse_sources(data.get("sources"), require_path=require_path)
    )


# -- verifiers for the schemes whose native verifier takes one secret and a signature --------------


def _times(now: float | Iterable[float] | None, count: int) -> Sequence[float | None]:
    if now is None or isinstance(now, (int, float)):
        return [now] * count
    times = list(now)
    if len(times) != count:
        raise ValueError(f"now: got {count} payloads but {len(times)} times")
    return times


class _SignatureHeader:
    """Single-secret verifiers of one signature header (a signature made with any of the
    secrets passes), for the ``verify``/``verify_each`` interface of the provider classes."""

    def __init__(self, keys: Sequence[Any], name: str, shown: str) -> None:
        self._keys, self._name, self._shown = keys, name, shown

    def _failure(self, signature: str | bytes | None) -> WebhookVerificationError:
        if signature is None:
            return MissingHeaderError(f"missing {self._shown} header")
        return InvalidSignatureError("signature mismatch")

    def _match(self, body: Any, headers: Any) -> Any:
        """The key that verifies one delivery's signature, else the failure to raise."""
        signature = header_value(headers, self._name)
        for key in self._keys:
            if key.verify(body, signature):
                return key
        raise self._failure(signature)

    def _matches(self, bodies: list[Any], headers: list[Any]) -> list[Any]:
        """Per delivery, the key that verifies its signature, else its failure. A key after
        the first is asked only about the deliveries still unmatched."""
        signatures = [header_value(h, self._name) for h in headers]
        if len(signatures) != len(bodies):
            raise ValueError(f"got {len(bodies)} payloads but {len(signatures)} headers")
        matched: list[Any] = [None] * len(bodies)
        pending = list(range(len(bodies)))
        for key in self._keys:
            if not pending:
                break
            oks = key.verify_many([bodies[i] for i in pending], [signatures[i] for i in pending])
            for i, ok in zip(pending, oks, strict=True):
                if ok:
                    matched[i] = key
            pending = [i for i in pending if matched[i] is None]
        for i in pending:
            matched[i] = self._failure(signatures[i])
        return matched


class _HmacHeader(_SignatureHeader):
    """The ``hmac`` scheme: :class:`HmacVerifier` per secret on the header a source names."""

    def __init__(
        self, secrets: Sequence[str], *, header: str, encoding: str = "hex", prefix: str = ""
    ) -> None:
        keys = [HmacVerifier(s, encoding=encoding, prefix=prefix) for s in secrets]  # type: ignore[arg-type]
        super().__init__(keys, header.lower(), header.lower())

    def verify(self, payload: Any, headers: Any) -> None:
        self._match(payload, headers)

    def verify_each(
        self, payloads: Iterable[Any], headers_list: Iterable[Any]
    ) -> list[WebhookVerificationError | None]:
        matched = self._matches(list(payloads), list(headers_list))
        return [m if isinstance(m, WebhookVerificationError) else None for m in matched]


class _LinktorHeaders(_SignatureHeader):
    """The ``linktor`` scheme: :class:`LinktorVerifier` per secret; ``X-Linktor-Timestamp``
    (optional and not signed) within the tolerance when sent."""

    def __init__(self, secrets: Sequence[str]) -> None:
        keys = [LinktorVerifier(s) for s in secrets]
        super().__init__(keys, LINKTOR_SIGNATURE_HEADER, "X-Linktor-Signature")

    def verify(
        self,
        payload: Any,
        headers: Any,
        *,
        tolerance: float | None = DEFAULT_TOLERANCE,
        now: float | None = None,
    ) -> None:
        if tolerance is not None:
            for key in self._keys:
                if key.verify_request(payload, headers, tolerance, now=now):
                    return  # the common case, in one native call per secret
        key = self._match(payload, headers)
        if tolerance is not None:
            raise _timestamp_failure(key, payload, headers, now)

    def verify_each(
        self,
        payloads: Iterable[Any],
        headers_list: Iterable[Any],
        *,
        tolerance: float | None = DEFAULT_TOLERANCE,
        now: float | Iterable[float] | None = None,
    ) -> list[WebhookVerificationError | None]:
        bodies, headers = list(payloads), list(headers_list)
        matched = self._matches(bodies, headers)
        times = _times(now, len(bodies))
        errors: list[WebhookVerificationError | None] = []
        for key, body, delivery_headers, at in zip(matched, bodies, headers, times, strict=True):
            if isinstance(key, WebhookVerificationError):
                errors.append(key)
            elif (
                tolerance is not None
                and header_value(delivery_headers, LINKTOR_TIMESTAMP_HEADER)
                and not key.verify_request(body, delivery_headers, tolerance, now=at)
            ):
                errors.append(_timestamp_failure(key, body, delivery_headers, at))
            else:
                errors.append(None)
        return errors


def _timestamp_failure(
    key: LinktorVerifier, body: Any, headers: Any, now: float | None
) -> WebhookVerificationError:
    """Why a Linktor delivery whose signature ``key`` verified failed the request check: an
    integer timestamp passes a window as wide as any time can be (the native check parses it),
    anything else does not."""
    if key.verify_request(body, headers, _ANY_TIME, now=now):
        return TimestampOutOfToleranceError("X-Linktor-Timestamp is outside the tolerance")
    return InvalidTimestampError("X-Linktor-Timestamp is not an integer number of seconds")


_ANY_TIME = 1e15  # seconds: about 32 million years either way


# -- the schemes relaywire.webhooks verifies -------------------------------------------------------

# One entry per scheme. A source's `tolerance` left out is the scheme's own default (300 s;
# Linear 60 s); GitHub, Shopify, Meta, Twilio and hmac sign no timestamp, and Linktor's
# timestamp, checked when sent, is not signed.
register_scheme(Scheme("linktor", verifier=_LinktorHeaders, default_id="body:id", timed=True))
register_scheme(
    Scheme("standard", verifier=StandardWebhook, default_id="header:webhook-id", timed=True)
)
register_scheme(
    Scheme(
        "hmac",
        verifier=_HmacHeader,
        default_id="sha256",
        options={"header": (str, ...), "encoding": (str, "hex"), "prefix": (str, "")},
    )
)
register_scheme(Scheme("stripe", verifier=Stripe, default_id="body:id", timed=True))
register_scheme(Scheme("github", verifier=GitHub, default_id="header:x-github-delivery"))
register_scheme(Scheme("shopify", verifier=Shopify, default_id="header:x-shopify-webhook-id"))
# Slack's retries repeat the body (not its timestamp): the body's digest identifies them.
register_scheme(Scheme("slack", verifier=Slack, default_id="sha256", timed=True))
register_scheme(
    Scheme(
        "twilio", verifier=Twilio, default_id="header:i-twilio-idempotency-token", takes_url=True
    )
)
register_scheme(Scheme("meta", verifier=Meta, default_id="sha256"))
register_scheme(Scheme("linear", verifier=Linear, default_id="header:linear-delivery", timed=True))
# Discord's secrets are the application's public keys (Ed25519).
register_scheme(Scheme("discord", verifier=Discord, default_id="body:id", timed=True))
