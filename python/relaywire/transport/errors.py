"""Transport-level errors (no httpx import here, so WebSocket-only users stay light)."""

from __future__ import annotations

__all__ = ["RequestTimeout", "TransportConnectError", "TransportError"]


class TransportError(Exception):
    """The request got no HTTP answer: connection refused or reset, DNS failure, bad protocol."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url


class TransportConnectError(TransportError):
    """Connecting, sending or reading failed (not a timeout)."""


class RequestTimeout(TransportError):
    """A timeout expired (a phase timeout of httpx, or the request's total deadline)."""
