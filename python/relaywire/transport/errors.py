"""Transport-level errors (no httpx import here, so WebSocket-only users stay light).

Messages and URLs are redacted when the error is built: a Daguito token travels in the URL.
"""

from __future__ import annotations

from relaywire.redaction import redact

__all__ = ["RequestTimeout", "TransportConnectError", "TransportError"]


class TransportError(Exception):
    """The request got no HTTP answer: connection refused or reset, DNS failure, bad protocol."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = None if url is None else redact(url)


class TransportConnectError(TransportError):
    """Connecting, sending or reading failed (not a timeout)."""


class RequestTimeout(TransportError):
    """A timeout expired (a phase timeout of httpx, or the request's total deadline)."""
