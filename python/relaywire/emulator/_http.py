"""What every HTTP route of the emulator shares: JSON in and out, typed errors, the edge middleware.

Handlers raise :class:`ApiError`; the app renders it in the wire shape of the platform that owns
the path (see :class:`ErrorRenderers`). The edge middleware stamps ``X-Request-ID`` on every
response, applies the switchable rate limit and the injected HTTP faults before any route runs.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relaywire.emulator._faults import Faults

__all__ = [
    "ApiError",
    "EdgeMiddleware",
    "ErrorRenderer",
    "ErrorRenderers",
    "RateLimit",
    "RateLimiter",
    "header_value",
    "iso",
    "json_response",
    "new_id",
    "now_iso",
    "read_json",
    "read_json_object",
]

_log = logging.getLogger("relaywire.emulator")


class ApiError(Exception):
    """An error answer. ``code`` is the platform's machine code, ``message`` its human text."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}
        # Extra top-level body fields (for example ``retry_after`` on a 429).
        self.extra = dict(extra) if extra else {}


# (error, request id) -> response
ErrorRenderer = Callable[[ApiError, str], Response]


def _default_renderer(error: ApiError, request_id: str) -> Response:
    return json_response({"error": error.message}, error.status, error.headers)


class ErrorRenderers:
    """Error shapes by path prefix; the longest matching prefix wins."""

    def __init__(self) -> None:
        self._by_prefix: list[tuple[str, ErrorRenderer]] = []

    def register(self, prefix: str, renderer: ErrorRenderer) -> None:
        self._by_prefix.append((prefix, renderer))
        self._by_prefix.sort(key=lambda item: len(item[0]), reverse=True)

    def render(self, path: str, error: ApiError, request_id: str) -> Response:
        for prefix, renderer in self._by_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return renderer(error, request_id)
        return _default_renderer(error, request_id)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response encoded with orjson (compact UTF-8, as both platforms send)."""
    return Response(
        orjson.dumps(data), status_code=status, headers=headers, media_type="application/json"
    )


async def read_json(request: Request, *, required: bool = True) -> Any:
    """The request body as JSON; a body that is not JSON is a 400, never a 500."""
    body = await request.body()
    if not body.strip():
        if required:
            raise ApiError(400, "VALIDATION_ERROR", "request body is empty")
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "VALIDATION_ERROR", f"request body is not valid JSON: {exc}") from None


async def read_json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` when the body is empty and not required)."""
    data = await read_json(request, required=required)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ApiError(400, "VALIDATION_ERROR", "request body must be a JSON object")
    return data


_id_counter = itertools.count(1)


def new_id(prefix: str) -> str:
    """A fresh, unique, readable id such as ``msg_000042_3f9a1c``."""
    return f"{prefix}_{next(_id_counter):06d}_{uuid.uuid4().hex[:6]}"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current UTC time as ISO-8601 with milliseconds and a ``Z``."""
    return iso(datetime.now(timezone.utc))


def header_value(scope: Scope, name: bytes) -> str | None:
    """A request header from an ASGI scope (``name`` in lowercase bytes)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


@dataclass(frozen=True)
class RateLimit:
    """A fixed-window limit of ``limit`` requests per ``window`` seconds per credential."""

    limit: int
    window: float = 60.0
    path_prefix: str = "/linktor"

    def __post_init__(self) -> None:
        if self.limit < 1 or not self.window > 0:
            raise ValueError("rate limit needs limit >= 1 and window > 0")


class RateLimiter:
    """Counts requests per credential (API key or bearer token, else the client address)."""

    def __init__(self, config: RateLimit | None = None) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def configure(self, config: RateLimit | None) -> None:
        with self._lock:
            self.config = config
            self._windows.clear()

    def check(self, scope: Scope) -> tuple[dict[str, str], ApiError | None] | None:
        """Headers for this request, and the 429 to answer if it is over the limit."""
        config = self.config
        if config is None or not scope["path"].startswith(config.path_prefix):
            return None
        key = header_value(scope, b"x-api-key") or header_value(scope, b"authorization")
        if key is None:
            client = scope.get("client")
            key = f"addr:{client[0] if client else '?'}"
        now = time.time()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= config.window:
                start, used = now, 0
            used += 1
            self._windows[key] = (start, used)
        reset = start + config.window
        headers = {
            "X-RateLimit-Limit": str(config.limit),
            "X-RateLimit-Remaining": str(max(0, config.limit - used)),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        if used <= config.limit:
            return headers, None
        retry_after = max(1, math.ceil(reset - now))
        error = ApiError(
            429,
            "RATE_LIMITED",
            "Too many requests. Please try again later.",
            {"retry_after": retry_after},
            headers={**headers, "Retry-After": str(retry_after)},
            extra={"retry_after": retry_after},
        )
        return headers, error


class DroppedConnection(Exception):
    """Raised inside a response on purpose: the server closes the connection mid-body."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class EdgeMiddleware:
    """Request ids, rate limiting and HTTP faults, in front of every route (pure ASGI)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: Faults,
        limiter: RateLimiter,
        renderers: ErrorRenderers,
    ) -> None:
        self.app = app
        self.faults = faults
        self.limiter = limiter
        self.renderers = renderers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request_id = header_value(scope, b"x-request-id") or str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        extra_headers: dict[str, str] = {"X-Request-ID": request_id}

        limited = self.limiter.check(scope)
        if limited is not None:
            headers, error = limited
            extra_headers.update(headers)
            if error is not None:
                await self._answer(scope, receive, send, error, request_id)
                return

        fault = self.faults.take_http(path)
        if fault is not None:
            if fault.status is None:
                await self._drop(send, request_id)
                return
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = _format_seconds(fault.retry_after)
            error = ApiError(
                fault.status,
                _FAULT_CODES.get(fault.status, "INJECTED_FAULT"),
                f"injected fault: HTTP {fault.status}",
                headers=headers,
                extra={"retry_after": fault.retry_after} if fault.retry_after is not None else None,
            )
            await self._answer(scope, receive, send, error, request_id, extra_headers)
            return

        raw_extra = [(k.lower().encode(), v.encode()) for k, v in extra_headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in message.get("headers", ())}
                added = [(k, v) for k, v in raw_extra if k not in names]
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        error: ApiError,
        request_id: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        response = self.renderers.render(scope["path"], error, request_id)
        for name, value in {**(extra_headers or {}), **error.headers}.items():
            response.headers[name] = value
        response.headers["X-Request-ID"] = request_id
        await response(scope, receive, send)

    async def _drop(self, send: Send, request_id: str) -> NoReturn:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"1024"),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise DroppedConnection("injected fault: connection dropped mid-response")


_FAULT_CODES = {
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "TIMEOUT",
}


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
