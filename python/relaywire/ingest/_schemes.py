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
    LINKTOR_SIGNATURE_HEADER,
    HmacVerifier,
    InvalidSecretError,
    InvalidSignatureError,
    LinktorVerifier,
    StandardWebhook,
    WebhookVerificationError,
)

__all__ = ["SCHEMES", "Check", "RawHeaders", "Scheme", "get_scheme", "header", "register_scheme"]

RawHeaders: TypeAlias = Sequence[tuple[bytes, bytes]]
#: ``check(body, headers)`` -> ``None`` when genuine, else the reason (never a secret).
Check: TypeAlias = Callable[[bytes, RawHeaders], "str | None"]


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
    build: Callable[[Source, tuple[str, ...]], Check]
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
    tolerance = float(source.tolerance)

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


def _build_standard(source: Source, secrets: tuple[str, ...]) -> Check:
    verifiers = [StandardWebhook(secret) for secret in secrets]
    tolerance = float(source.tolerance)

    def check(body: bytes, headers: RawHeaders) -> str | None:
        for verifier in verifiers:
            try:
                verifier.verify(body, headers, tolerance=tolerance)
            except InvalidSignatureError:
                continue  # another secret may match
            except WebhookVerificationError as exc:  # the same for every secret
                return f"{type(exc).__name__}: {exc}"
            return None
        return "InvalidSignatureError: no secret matches the signature"

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


register_scheme(Scheme("linktor", _build_linktor, default_id="body:id"))
register_scheme(Scheme("standard", _build_standard, default_id="header:webhook-id"))
register_scheme(
    Scheme(
        "hmac",
        _build_hmac,
        default_id="sha256",
        options={"header": (str, ...), "encoding": (str, "hex"), "prefix": (str, "")},
    )
)
