"""The scheme registry: one entry per signature scheme that :mod:`relaywire.webhooks` verifies.

A scheme turns a source's secrets and options into a *check*: a function of the raw body and the
raw request headers that returns ``None`` for a genuine delivery, or the reason it was refused.
The reason is logged and counted, so it never holds a secret. A new verifier class plugs in with
one :func:`register_scheme` call::

    register_scheme(Scheme("acme", build=build_acme, default_id="header:acme-delivery"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from relaywire.ingest._config import IngestConfigError, Source
from relaywire.webhooks import (
    DEFAULT_TOLERANCE,
    LINKTOR_SIGNATURE_HEADER,
    Discord,
    GitHub,
    HmacVerifier,
    InvalidSecretError,
    Linear,
    LinktorVerifier,
    Meta,
    Shopify,
    Slack,
    StandardWebhook,
    Stripe,
    Twilio,
    WebhookVerificationError,
)

__all__ = ["SCHEMES", "Check", "RawHeaders", "Scheme", "get_scheme", "header", "register_scheme"]

RawHeaders: TypeAlias = Sequence[tuple[bytes, bytes]]
#: ``check(body, headers)`` -> ``None`` when genuine, else the reason (never a secret).
Check: TypeAlias = Callable[[bytes, RawHeaders], "str | None"]
#: ``build(source, secrets)`` -> the source's check, keyed once.
Build: TypeAlias = Callable[[Source, tuple[str, ...]], Check]


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header ``name`` (lowercase, as ASGI servers give names)."""
    for key, value in headers:
        if key == name:
            return value
    return None


@dataclass(frozen=True)
class Scheme:
    """How to verify one provider's deliveries.

    ``build(source, secrets)`` returns the source's check, keyed once. ``default_id`` is the
    id rule used when a source does not set ``id``. ``options`` maps the scheme's own source
    keys to a ``(type, default)`` pair; a ``default`` of ``...`` makes the key required.
    """

    name: str
    build: Build
    default_id: str
    options: Mapping[str, tuple[type, Any]] = field(default_factory=dict)

    def check_options(self, source: Source) -> None:
        label = f"source {source.name!r}"
        for key, (kind, default) in self.options.items():
            value = source.options.get(key, default)
            if value is ...:
                raise IngestConfigError(f"{label}: scheme {self.name!r} needs {key}")
            if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
                raise IngestConfigError(f"{label}: {key} must be a {kind.__name__}")
        unknown = sorted(set(source.options) - self.options.keys())
        if unknown:
            raise IngestConfigError(
                f"{label}: scheme {self.name!r} has no option(s) {', '.join(unknown)}"
            )

    def option(self, source: Source, key: str) -> Any:
        return source.options.get(key, self.options[key][1])

    def compile(self, source: Source, secrets: tuple[str, ...]) -> Check:
        """The check for ``source``; a secret the verifier refuses is a config error."""
        try:
            return self.build(source, secrets)
        except InvalidSecretError as exc:
            raise IngestConfigError(f"source {source.name!r}: a secret is invalid: {exc}") from None


SCHEMES: dict[str, Scheme] = {}


def register_scheme(scheme: Scheme) -> Scheme:
    """Add (or replace) a scheme in the registry; it is usable by name in sources."""
    SCHEMES[scheme.name] = scheme
    return scheme


def get_scheme(name: Any, label: str = "source") -> Scheme:
    scheme = SCHEMES.get(name) if isinstance(name, str) else None
    if scheme is None:
        raise IngestConfigError(
            f"{label}: scheme {name!r} is unknown; known: {', '.join(sorted(SCHEMES))}"
        )
    return scheme


# -- the schemes relaywire.webhooks verifies -------------------------------------------------------

_LINKTOR_SIGNATURE = LINKTOR_SIGNATURE_HEADER.encode()


def _build_linktor(source: Source, secrets: tuple[str, ...]) -> Check:
    verifiers = [LinktorVerifier(secret) for secret in secrets]
    tolerance = float(source.tolerance or DEFAULT_TOLERANCE)

    def check(body: bytes, headers: RawHeaders) -> str | None:
        for verifier in verifiers:
            if verifier.verify_request(body, headers, tolerance):
                return None
        signature = header(headers, _LINKTOR_SIGNATURE)
        if signature is None:
            return "missing X-Linktor-Signature header"
        if any(verifier.verify(body, signature) for verifier in verifiers):
            return "X-Linktor-Timestamp invalid or outside the tolerance"
        return "signature mismatch"

    return check


def _headers_scheme(make: Callable[[tuple[str, ...]], Any], *, timed: bool = True) -> Build:
    """A scheme whose verifier takes every secret at once (rotation built in) and reads the
    headers itself: ``verify(body, headers[, tolerance=])`` raising a
    :class:`WebhookVerificationError` that names the cause."""

    def build(source: Source, secrets: tuple[str, ...]) -> Check:
        verifier = make(secrets)
        timing = {"tolerance": float(source.tolerance)} if timed and source.tolerance else {}

        def check(body: bytes, headers: RawHeaders) -> str | None:
            try:
                verifier.verify(body, headers, **timing)
            except WebhookVerificationError as exc:
                return f"{type(exc).__name__}: {exc}"
            return None

        return check

    return build


def _build_twilio(source: Source, secrets: tuple[str, ...]) -> Check:
    verifier = Twilio(secrets)
    url = str(SCHEMES["twilio"].option(source, "url"))  # the URL Twilio posts to, as it sees it

    def check(body: bytes, headers: RawHeaders) -> str | None:
        try:
            verifier.verify(body, headers, url=url)
        except WebhookVerificationError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    return check


def _build_hmac(source: Source, secrets: tuple[str, ...]) -> Check:
    scheme = SCHEMES["hmac"]
    name = str(scheme.option(source, "header")).lower().encode("latin-1")
    encoding = scheme.option(source, "encoding")
    if encoding not in ("hex", "base64"):
        raise IngestConfigError(f'source {source.name!r}: encoding must be "hex" or "base64"')
    prefix = scheme.option(source, "prefix")
    verifiers = [HmacVerifier(secret, encoding=encoding, prefix=prefix) for secret in secrets]

    def check(body: bytes, headers: RawHeaders) -> str | None:
        signature = header(headers, name)
        if signature is None:
            return f"missing {name.decode('latin-1')} header"
        if any(verifier.verify(body, signature) for verifier in verifiers):
            return None
        return "signature mismatch"

    return check


# One entry per scheme. A source's `tolerance` left out is the scheme's own default (300 s;
# Linear 60 s); GitHub, Shopify, Meta and Twilio sign no timestamp.
register_scheme(Scheme("linktor", _build_linktor, default_id="body:id"))
register_scheme(
    Scheme("standard", _headers_scheme(StandardWebhook), default_id="header:webhook-id")
)
register_scheme(
    Scheme(
        "hmac",
        _build_hmac,
        default_id="sha256",
        options={"header": (str, ...), "encoding": (str, "hex"), "prefix": (str, "")},
    )
)
register_scheme(Scheme("stripe", _headers_scheme(Stripe), default_id="body:id"))
register_scheme(
    Scheme("github", _headers_scheme(GitHub, timed=False), default_id="header:x-github-delivery")
)
register_scheme(
    Scheme(
        "shopify", _headers_scheme(Shopify, timed=False), default_id="header:x-shopify-webhook-id"
    )
)
# Slack's retries repeat the body (not its timestamp): the body's digest identifies them.
register_scheme(Scheme("slack", _headers_scheme(Slack), default_id="sha256"))
register_scheme(
    Scheme(
        "twilio",
        _build_twilio,
        default_id="header:i-twilio-idempotency-token",
        options={"url": (str, ...)},
    )
)
register_scheme(Scheme("meta", _headers_scheme(Meta, timed=False), default_id="sha256"))
register_scheme(Scheme("linear", _headers_scheme(Linear), default_id="header:linear-delivery"))
# Discord's secrets are the application's public keys (Ed25519).
register_scheme(Scheme("discord", _headers_scheme(Discord), default_id="body:id"))
