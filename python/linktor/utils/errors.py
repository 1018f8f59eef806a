"""The exceptions of the Linktor client, and the mapping from an HTTP error response to them.

Every exception derives from :class:`LinktorError` and carries ``message``, ``code``,
``status_code``, ``request_id`` and ``details`` (a dict, empty when there are none), as in the
official SDK. Beyond it, every error also has ``status`` (an alias of ``status_code``), ``body``
(the error body as received, when it came from a response) and ``server_code`` (the error code
the server sent; ``code`` keeps the SDK's fixed code of each class, e.g. ``NOT_FOUND``).

The webhook errors (:class:`WebhookError` and its subclasses) stand where the official helpers
raised a bare ``ValueError``: they subclass ``ValueError`` too, and their ``str()`` is the
message alone, so existing ``except ValueError`` code and messages keep working.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from relaywire.redaction import redact

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ConflictError",
    "LinktorError",
    "NetworkError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "ValidationError",
    "WebSocketError",
    "create_error_from_response",
    "is_retryable_error",
]

_UNKNOWN_MESSAGE = "Unknown error"


def _restore(cls: type[LinktorError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Rebuild a pickled error without calling its (subclass-specific) constructor."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class LinktorError(Exception):
    """Base of every Linktor client error.

    ``headers`` are the HTTP response's headers (case-insensitive) when the error is an
    answer from the server, else None.
    """

    message: str
    code: str
    status_code: int | None
    request_id: str | None
    details: dict[str, Any]
    body: Any
    server_code: str | None
    headers: Mapping[str, str] | None = None

    def __init__(
        self,
        message: str,
        code: str = "UNKNOWN_ERROR",
        status_code: int | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        message = redact(message)  # a server may quote the credential it refused
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.request_id = request_id
        self.details = details if details is not None else {}
        self.body = body
        self.server_code = server_code

    @property
    def status(self) -> int | None:
        """The HTTP status (``status_code``), as the Go SDK names it."""
        return self.status_code

    def __str__(self) -> str:
        if self.request_id:
            return f"[{self.code}] {self.message} (request_id: {self.request_id})"
        return f"[{self.code}] {self.message}"

    def __repr__(self) -> str:
        # The official repr always said ``LinktorError(...)``; the class name is more useful.
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"status_code={self.status_code!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class AuthenticationError(LinktorError):
    """401: missing or invalid credentials."""

    def __init__(
        self,
        message: str = "Authentication failed",
        request_id: str | None = None,
        *,
        status_code: int = 401,
        details: dict[str, Any] | None = None,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            "AUTHENTICATION_ERROR",
            status_code,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )


class AuthorizationError(LinktorError):
    """403: the credentials do not allow this."""

    def __init__(
        self,
        message: str = "Access denied",
        request_id: str | None = None,
        *,
        status_code: int = 403,
        details: dict[str, Any] | None = None,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            "AUTHORIZATION_ERROR",
            status_code,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )


class NotFoundError(LinktorError):
    """404. ``message`` defaults to ``"{resource} with id '{resource_id}' not found"`` (or
    ``"{resource} not found"``); a message from the server takes its place when there is one."""

    resource: str
    resource_id: str | None

    def __init__(
        self,
        resource: str,
        resource_id: str | None = None,
        request_id: str | None = None,
        *,
        message: str | None = None,
        status_code: int = 404,
        details: dict[str, Any] | None = None,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        if message is None:
            if resource_id:
                message = f"{resource} with id '{resource_id}' not found"
            else:
                message = f"{resource} not found"
        super().__init__(
            message,
            "NOT_FOUND",
            status_code,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )
        self.resource = resource
        self.resource_id = resource_id


class ValidationError(LinktorError):
    """400 (or 422): the request was refused as invalid. Not pydantic's ``ValidationError``."""

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        *,
        status_code: int = 400,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            "VALIDATION_ERROR",
            status_code,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )


class RateLimitError(LinktorError):
    """429. ``retry_after`` is the wait in seconds the server asked for, when it said."""

    retry_after: float | None

    def __init__(
        self,
        message: str = "Rate limit exceeded",
        retry_after: float | None = None,
        request_id: str | None = None,
        *,
        status_code: int = 429,
        details: dict[str, Any] | None = None,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        merged = dict(details) if details else {}
        merged["retry_after"] = retry_after
        super().__init__(
            message,
            "RATE_LIMIT_ERROR",
            status_code,
            request_id,
            merged,
            body=body,
            server_code=server_code,
        )
        self.retry_after = retry_after


class ConflictError(LinktorError):
    """409: the request conflicts with the current state (e.g. a duplicate)."""

    def __init__(
        self,
        message: str,
        request_id: str | None = None,
        *,
        status_code: int = 409,
        details: dict[str, Any] | None = None,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            "CONFLICT_ERROR",
            status_code,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )


class ServerError(LinktorError):
    """5xx. ``status_code`` is the status received (the official SDK always said 500)."""

    def __init__(
        self,
        message: str = "Internal server error",
        request_id: str | None = None,
        *,
        status_code: int = 500,
        details: dict[str, Any] | None = None,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            "SERVER_ERROR",
            status_code,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )


class NetworkError(LinktorError):
    """The request could not reach the server, or the connection failed."""

    def __init__(
        self,
        message: str = "Network error",
        details: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, "NETWORK_ERROR", None, request_id, details)


# The official name; it shadows the builtin inside this module and in `from linktor import *`.
class TimeoutError(NetworkError):
    """The request timed out (or the server answered 408). Also a :class:`NetworkError`, so
    ``except NetworkError`` covers every request that got no usable answer."""

    def __init__(
        self,
        message: str = "Request timeout",
        request_id: str | None = None,
        *,
        status_code: int = 408,
        details: dict[str, Any] | None = None,
        body: Any = None,
        server_code: str | None = None,
    ) -> None:
        LinktorError.__init__(  # not NetworkError's: the official parameters differ
            self,
            message,
            "TIMEOUT_ERROR",
            status_code,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )


class WebSocketError(LinktorError):
    """The realtime connection failed."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, "WEBSOCKET_ERROR", None, None, details)


# ------------------------------------------------------------------ webhooks


class WebhookError(LinktorError, ValueError):
    """A webhook request was refused. Also a ``ValueError``, which the official helpers raised;
    ``str()`` is the message alone, as it was. ``status_code`` is the HTTP status a receiver
    should answer with."""

    def __init__(
        self,
        message: str,
        code: str = "WEBHOOK_ERROR",
        status_code: int = 400,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code, status_code, None, details)

    def __str__(self) -> str:
        return self.message


class WebhookSignatureError(WebhookError):
    """The signature is missing or wrong, or the timestamp is outside the tolerance (401).
    ``details["reason"]`` says which: ``missing_signature``, ``invalid_signature`` or
    ``invalid_timestamp``."""

    def __init__(
        self,
        message: str = "Webhook signature verification failed",
        reason: str = "invalid_signature",
    ) -> None:
        super().__init__(message, "WEBHOOK_SIGNATURE_INVALID", 401, {"reason": reason})

    @property
    def reason(self) -> str:
        return str(self.details.get("reason", "invalid_signature"))


class WebhookReplayError(WebhookError):
    """The request verified, but this signature was already accepted recently (409)."""

    def __init__(self, message: str = "Webhook already received (replayed signature)") -> None:
        super().__init__(message, "WEBHOOK_REPLAYED", 409, {"reason": "replayed"})


class WebhookPayloadError(WebhookError):
    """The request verified, but its body is not a webhook event (400)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, "WEBHOOK_PAYLOAD_INVALID", 400, details)


# ------------------------------------------------------------------ response mapping


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """``headers[name]``, matching the name in any case (``name`` is lowercase)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if isinstance(key, str) and key.lower() == name:
                value = candidate
                break
    return value if isinstance(value, str) and value.strip() else None


def _number(value: Any) -> float | None:
    """A finite, non-negative number of seconds from a JSON or header value, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
        return value
    return None


def _retry_after(body: Mapping[str, Any] | None, headers: Mapping[str, str] | None) -> Any:
    """Seconds to wait: ``retry-after-ms``, ``Retry-After`` (seconds or an HTTP date),
    ``X-RateLimit-Reset`` (Unix seconds), then the body's ``retry_after``/``retryAfter``."""
    millis = _number(_header(headers, "retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = _header(headers, "retry-after")
    if raw is not None:
        seconds = _number(raw)
        if seconds is not None:
            return int(seconds) if float(seconds).is_integer() else seconds
        from email.utils import parsedate_to_datetime  # rare: loaded only for an HTTP date

        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    reset = _number(_header(headers, "x-ratelimit-reset"))
    if reset is not None:
        return max(0.0, reset - time.time())
    if body:
        for key in ("retry_after", "retryAfter"):
            value = body.get(key)
            if value is not None:
                return value
    return None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        import json

        text = json.dumps(value, default=str)
    return text if text.strip() else None


def _as_details(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return dict(value)
    return {"detail": value}


def _parse_body(body: Any) -> Any:
    """A raw ``str``/``bytes`` body as JSON when it is JSON, else as ``{"message": text}``."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        stripped = body.strip()
        if stripped[:1] in ("{", "["):
            import json

            try:
                return json.loads(stripped)
            except ValueError:
                pass
        return {"message": body}
    return body


def create_error_from_response(
    status: int,
    body: Any,
    request_id: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> LinktorError:
    """The error for an HTTP error response.

    ``body`` is the decoded JSON body (or ``{"message": text}`` for a text body, as the official
    client passes it; a raw ``str``/``bytes`` body is accepted too). Every shape the server and
    the SDK protocol use is read: top-level ``{"code", "message", "details"}``, nested
    ``{"error": {"code", "message", "details"}}`` (with or without ``"success": false``), and
    ``{"error": "text"}``. ``request_id`` falls back to the ``X-Request-ID`` header and then to
    a ``requestId`` in the body. With ``headers``, a 429's ``retry_after`` honours
    ``Retry-After``/``retry-after-ms``/``X-RateLimit-Reset``.

    Mapping: 400/422 :class:`ValidationError`, 401 :class:`AuthenticationError`, 403
    :class:`AuthorizationError`, 404 :class:`NotFoundError`, 408 :class:`TimeoutError`, 409
    :class:`ConflictError`, 429 :class:`RateLimitError`, 5xx :class:`ServerError`, anything else
    :class:`LinktorError` with the server's code (or ``UNKNOWN_ERROR``).
    """
    parsed = _parse_body(body)
    top: Mapping[str, Any] = parsed if isinstance(parsed, Mapping) else {}
    nested = top.get("error")
    inner: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}

    message = _as_text(inner.get("message")) or _as_text(top.get("message"))
    server_code = _as_text(inner.get("code")) or _as_text(top.get("code"))
    if isinstance(nested, str) and nested.strip():
        if message is None:
            message = nested
        elif server_code is None:
            server_code = nested
    details = _as_details(inner.get("details", top.get("details")))
    if request_id is None:
        request_id = _header(headers, "x-request-id")
    if request_id is None:
        body_rid = top.get("requestId", top.get("request_id"))
        request_id = body_rid if isinstance(body_rid, str) and body_rid else None
    text = message if message is not None else _UNKNOWN_MESSAGE
    common: dict[str, Any] = {"body": body, "server_code": server_code}

    error: LinktorError
    if status in (400, 422):
        error = ValidationError(text, details, request_id, status_code=status, **common)
    elif status == 401:
        error = AuthenticationError(text, request_id, details=details, **common)
    elif status == 403:
        error = AuthorizationError(text, request_id, details=details, **common)
    elif status == 404:
        error = NotFoundError(
            "Resource", None, request_id, message=message, details=details, **common
        )
    elif status == 408:
        error = TimeoutError(text, request_id, details=details, **common)
    elif status == 409:
        error = ConflictError(text, request_id, details=details, **common)
    elif status == 429:
        retry = _retry_after(inner or top, headers)
        error = RateLimitError(text, retry, request_id, details=details, **common)
    elif status >= 500:
        error = ServerError(text, request_id, status_code=status, details=details, **common)
    else:
        error = LinktorError(
            text,
            server_code or "UNKNOWN_ERROR",
            status,
            request_id,
            details,
            body=body,
            server_code=server_code,
        )
    error.headers = headers
    return error


def is_retryable_error(error: BaseException) -> bool:
    """Whether retrying the request may succeed: rate limits, server errors, network errors and
    timeouts."""
    return isinstance(error, (RateLimitError, ServerError, NetworkError, TimeoutError))
