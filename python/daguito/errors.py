"""The error hierarchy (relaywire addition; daguito-sdk had unrelated exception classes).

Every error the package raises derives from :class:`DaguitoError` and keeps daguito-sdk's classes
and attributes (``WebhookError.status``, ``KnowledgeError.status``, ...). What kind of failure it
was is a second base class, so both of these work::

    except WebhookError: ...          # as with daguito-sdk
    except InvalidTokenError: ...     # a 401/403 from any entry point, or a refused stream

Transport failures (no HTTP answer) are :class:`DaguitoConnectionError` /
:class:`DaguitoTimeoutError`, mixed into the entry point's own class; the httpx or websockets
exception is kept as ``__cause__``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from relaywire.redaction import redact

__all__ = [
    "AudioStreamError",
    "DaguitoConnectionError",
    "DaguitoError",
    "DaguitoTimeoutError",
    "InvalidTokenError",
    "KnowledgeError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "UploadError",
    "WebhookError",
    "WebhookStreamRunError",
    "error_of",
]


class DaguitoError(Exception):
    """Base class of every error raised by this package.

    ``status`` is the HTTP status when there was one; ``request_id`` the server's
    ``X-Request-ID``; ``body`` the parsed error body when it was JSON.
    """

    request_id: str | None = None
    body: Any = None

    def __init__(self, message: str, status: int | None = None) -> None:
        message = redact(message)  # a server may quote the credential it refused
        super().__init__(message)
        self.message = message
        self.status = status


class InvalidTokenError(DaguitoError):
    """The key or token was refused (HTTP 401/403, or the stream refused the connection)."""


class PermissionDeniedError(InvalidTokenError):
    """HTTP 403: the key is valid but lacks a scope or does not own the resource."""


class RateLimitError(DaguitoError):
    """HTTP 429."""


class DaguitoConnectionError(DaguitoError):
    """No answer from the server: refused, reset, DNS, TLS or protocol failure."""


class DaguitoTimeoutError(DaguitoConnectionError):
    """A timeout expired."""


class StreamError(DaguitoError):
    """The event stream failed: handshake refused, protocol error, closed while waiting."""


class WebhookError(DaguitoError):
    """``run_webhook`` failed."""


class UploadError(DaguitoError):
    """``upload_file`` failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str = "", status: int | None = None) -> None:
        super().__init__(message, status)


class KnowledgeError(DaguitoError):
    """A knowledge-base call failed."""


class AudioStreamError(StreamError):
    """The audio stream failed."""

    def __init__(self, message: str = "", status: int | None = None) -> None:
        super().__init__(message, status)


class WebhookStreamRunError(StreamError):
    """``run_webhook_stream`` did not complete; ``status`` tells why."""

    status: Literal["failed", "timeout", "aborted", "closed"] | None  # type: ignore[assignment]

    def __init__(
        self,
        message: str,
        status: Literal["failed", "timeout", "aborted", "closed"] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status


E = TypeVar("E", bound=DaguitoError)


_COMBINED: dict[tuple[type[DaguitoError], type[DaguitoError]], type[DaguitoError]] = {}


def _combined(family: type[DaguitoError], kind: type[DaguitoError]) -> type[DaguitoError]:
    found = _COMBINED.get((family, kind))
    if found is None:
        found = _COMBINED[(family, kind)] = _make_combined(family, kind)
    return found


def _make_combined(family: type[DaguitoError], kind: type[DaguitoError]) -> type[DaguitoError]:
    if issubclass(family, kind):
        return family
    if issubclass(kind, family):
        return kind
    name = kind.__name__.removesuffix("Error").removeprefix("Daguito") + family.__name__
    return type(name, (family, kind), {"__module__": family.__module__})


def error_of(
    family: type[E],
    message: str,
    status: int | None = None,
    *,
    kind: type[DaguitoError] | None = None,
    request_id: str | None = None,
    body: Any = None,
) -> E:
    """An instance of ``family`` that is also the right kind of error.

    The kind is ``kind`` if given, else chosen from ``status`` (401/403: invalid token, 429:
    rate limit).
    """
    if kind is None:
        if status == 401:
            kind = InvalidTokenError
        elif status == 403:
            kind = PermissionDeniedError
        elif status == 429:
            kind = RateLimitError
    cls = family if kind is None else _combined(family, kind)
    err = cls(message, status)
    err.request_id = request_id
    err.body = body
    return err  # type: ignore[return-value]
