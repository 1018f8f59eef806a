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

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from relaywire.redaction import redact

__all__ = [
    "AudioStreamError",
    "BadRequestError",
    "ConflictError",
    "DaguitoConnectionError",
    "DaguitoError",
    "DaguitoTimeoutError",
    "InvalidTokenError",
    "KnowledgeError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "StreamError",
    "UnprocessableEntityError",
    "UploadError",
    "WebhookError",
    "WebhookStreamRunError",
    "error_of",
]


class DaguitoError(Exception):
    """Base class of every error raised by this package.

    ``status`` is the HTTP status when there was one; ``request_id`` the server's
    ``X-Request-ID``; ``body`` the parsed error body when it was JSON; ``headers`` the
    response's headers (case-insensitive) when there was a response.
    """

    request_id: str | None = None
    body: Any = None
    headers: Mapping[str, str] | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        message = redact(message)  # a server may quote the credential it refused
        super().__init__(message)
        self.message = message
        self.status = status


class InvalidTokenError(DaguitoError):
    """The key or token was refused (HTTP 401/403, or the stream refused the connection)."""


class PermissionDeniedError(InvalidTokenError):
    """HTTP 403: the key is valid but lacks a scope or does not own the resource."""


class BadRequestError(DaguitoError):
    """HTTP 400: the request was malformed."""


class NotFoundError(DaguitoError):
    """HTTP 404: no such webhook, source, key or route."""


class ConflictError(DaguitoError):
    """HTTP 409: the request conflicts with the current state (a duplicate, say)."""


class UnprocessableEntityError(DaguitoError):
    """HTTP 422: well-formed, but invalid values."""


class RateLimitError(DaguitoError):
    """HTTP 429."""


class ServerError(DaguitoError):
    """HTTP 5xx: the server failed."""


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
    headers: Mapping[str, str] | None = None,
) -> E:
    """An instance of ``family`` that is also the right kind of error.

    The kind is ``kind`` if given, else chosen from ``status``: 400 bad request, 401 invalid
    token, 403 permission denied, 404 not found, 409 conflict, 422 unprocessable, 429 rate
    limit, 5xx server error.
    """
    if kind is None and status is not None:
        kind = _KIND_OF_STATUS.get(status, ServerError if status >= 500 else None)
    cls = family if kind is None else _combined(family, kind)
    err = cls(message, status)
    err.request_id = request_id
    err.body = body
    err.headers = headers
    return err  # type: ignore[return-value]


_KIND_OF_STATUS: dict[int, type[DaguitoError]] = {
    400: BadRequestError,
    401: InvalidTokenError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}
