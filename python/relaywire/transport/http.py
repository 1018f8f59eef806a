"""Pooled httpx clients, wrapped transport errors and retries that honour ``Retry-After``.

* :class:`AsyncClientPool` keeps one ``httpx.AsyncClient`` per event loop, so module-level
  functions (``daguito.run_webhook``, uploads, ...) reuse connections instead of paying for a new
  client and SSL context on every call. The client is closed when its loop shuts down through
  ``asyncio.run``/``asyncio.Runner`` (an async generator parked in the loop closes it from
  ``shutdown_asyncgens``).
* :func:`send` / :func:`send_sync` perform one logical request: errors that are not HTTP
  answers become :class:`TransportError` subclasses, and a :class:`RetryPolicy` retries
  connection errors, timeouts and retryable statuses with jittered exponential backoff, only for
  idempotent methods or requests carrying an ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from relaywire.redaction import install
from relaywire.transport import fork
from relaywire.transport.errors import RequestTimeout, TransportConnectError, TransportError
from relaywire.transport.tls import shared_ssl_context

__all__ = [
    "AsyncClientPool",
    "RateLimit",
    "RequestTimeout",
    "RetryPolicy",
    "TransportConnectError",
    "TransportError",
    "new_async_client",
    "parse_retry_after",
    "send",
    "send_sync",
]

# httpx logs every request line (with a Daguito token in the path) at INFO, httpcore at DEBUG.
install()

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
DEFAULT_LIMITS = httpx.Limits(
    max_connections=200, max_keepalive_connections=50, keepalive_expiry=30
)


def _wrap(err: BaseException, method: str, url: str) -> TransportError:
    text = str(err) or type(err).__name__
    if isinstance(err, (httpx.TimeoutException, asyncio.TimeoutError, TimeoutError)):
        return RequestTimeout(f"request timed out: {text}", method=method, url=url)
    return TransportConnectError(f"network error: {text}", method=method, url=url)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, or ``Retry-After`` in seconds or as
    an HTTP date. None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(0.0, seconds)
    return seconds if seconds >= 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying a request."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    retry_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({408, 409, 429, 500, 502, 503, 504})
    )
    #: A longer ``Retry-After`` than this is not waited for: the error goes to the caller.
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")

    def backoff(self, attempt: int) -> float:
        base = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return base * (1.0 - self.jitter * random.random())

    def delay_for(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds before retry number ``attempt + 1``, or None if this outcome is final."""
        if attempt >= self.max_retries:
            return None
        if response is None:
            return self.backoff(attempt)
        if response.status_code not in self.retry_statuses:
            return None
        wait = parse_retry_after(response.headers)
        if wait is None:
            return self.backoff(attempt)
        return wait if wait <= self.max_retry_after else None


NO_RETRY = RetryPolicy(max_retries=0)


@dataclass(frozen=True)
class RateLimit:
    """What a response's ``X-RateLimit-*`` headers said: requests allowed per window, left in
    this window, and when the window resets (Unix seconds). Unreadable values are None."""

    limit: int | None
    remaining: int | None
    reset: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        """The rate limit a response announced, or None when it sent none of the headers."""
        limit = headers.get("x-ratelimit-limit")
        remaining = headers.get("x-ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset")
        if limit is None and remaining is None and reset is None:
            return None
        return cls(_number(limit, int), _number(remaining, int), _number(reset, float))


def _number(text: str | None, kind: Callable[[str], Any]) -> Any:
    if text is None:
        return None
    try:
        value = kind(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


# asyncio.timeout (3.11+) bounds a block without the extra task asyncio.wait_for creates.
_timeout_scope: Callable[[float], Any] | None = getattr(asyncio, "timeout", None)


def _retryable(method: str, headers: Mapping[str, str] | None, idempotent: bool | None) -> bool:
    if idempotent is not None:
        return idempotent
    if method.upper() in IDEMPOTENT_METHODS:
        return True
    return headers is not None and any(k.lower() == "idempotency-key" for k in headers)


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    total_timeout: float | None = None,
    retry: RetryPolicy | None = None,
    idempotent: bool | None = None,
    on_retry: Callable[[int, float, httpx.Response | None], None] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request with wrapped errors and optional retries; the body is read before returning.

    ``kwargs`` go to ``httpx.AsyncClient.request`` (``headers``, ``json``, ``content``,
    ``params``, ``files``, ``timeout``...). ``total_timeout`` bounds the whole call, retries
    included. ``idempotent`` overrides the method's idempotency (a POST that only reads may
    say True; a retry then never depends on an ``Idempotency-Key``).
    """
    policy = _policy(retry, method, kwargs.get("headers"), idempotent)
    if total_timeout is None:
        return await _send_with_retries(client, method, url, policy, on_retry, kwargs)
    try:
        if _timeout_scope is not None:
            async with _timeout_scope(total_timeout):
                return await _send_with_retries(client, method, url, policy, on_retry, kwargs)
        return await asyncio.wait_for(
            _send_with_retries(client, method, url, policy, on_retry, kwargs), total_timeout
        )
    except asyncio.TimeoutError as err:
        raise RequestTimeout(
            f"request timed out after {total_timeout:g}s", method=method, url=url
        ) from err


def _policy(
    retry: RetryPolicy | None,
    method: str,
    headers: Mapping[str, str] | None,
    idempotent: bool | None,
) -> RetryPolicy:
    if retry is None or not _retryable(method, headers, idempotent):
        return NO_RETRY
    return retry


def _next_delay(
    policy: RetryPolicy,
    attempt: int,
    response: httpx.Response | None,
    error: httpx.HTTPError | None,
    method: str,
    url: str,
    on_retry: Callable[[int, float, httpx.Response | None], None] | None,
) -> float | None:
    """Seconds to wait before the next attempt, None when ``response`` is the answer; raises
    the wrapped transport error when ``error`` is final."""
    if error is not None:
        delay = policy.delay_for(attempt, None)
        if delay is None:
            raise _wrap(error, method, url) from error
    else:
        assert response is not None
        if response.status_code < 400:
            return None
        delay = policy.delay_for(attempt, response)
        if delay is None:
            return None
    if on_retry is not None:
        on_retry(attempt + 1, delay, response)
    return delay


async def _send_with_retries(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    policy: RetryPolicy,
    on_retry: Callable[[int, float, httpx.Response | None], None] | None,
    kwargs: dict[str, Any],
) -> httpx.Response:
    attempt = 0
    while True:
        response: httpx.Response | None = None
        error: httpx.HTTPError | None = None
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as err:
            error = err
        delay = _next_delay(policy, attempt, response, error, method, url, on_retry)
        if delay is None:
            assert response is not None
            return response
        attempt += 1
        await asyncio.sleep(delay)


def send_sync(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    retry: RetryPolicy | None = None,
    idempotent: bool | None = None,
    on_retry: Callable[[int, float, httpx.Response | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """The synchronous twin of :func:`send` (same retry rules, same wrapped errors)."""
    policy = _policy(retry, method, kwargs.get("headers"), idempotent)
    attempt = 0
    while True:
        response: httpx.Response | None = None
        error: httpx.HTTPError | None = None
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as err:
            error = err
        delay = _next_delay(policy, attempt, response, error, method, url, on_retry)
        if delay is None:
            assert response is not None
            return response
        attempt += 1
        sleep(delay)


class AsyncClientPool:
    """One shared ``httpx.AsyncClient`` per running event loop.

    ``factory`` builds a client (by default: pooled limits, no timeout of its own; pass a
    timeout per request). The client of a loop is closed when the loop shuts down its async
    generators, which ``asyncio.run`` and ``asyncio.Runner`` (and pytest-asyncio) do.
    """

    def __init__(self, factory: Callable[[], httpx.AsyncClient] | None = None) -> None:
        self._factory = factory or new_async_client
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        fork.register(self)

    def _after_fork_in_child(self) -> None:
        # The pooled connections' sockets are the parent's: start afresh, leave those alone.
        fork.abandon(list(self._clients.items()))
        self._clients = weakref.WeakKeyDictionary()

    def get(self) -> httpx.AsyncClient:
        """The client of the running loop (created on first use). Call it from a coroutine."""
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None and not entry[0].is_closed:
            return entry[0]
        client = self._factory()
        closer = _close_at_shutdown(client)
        # Run the generator to its first yield now: that registers it with the loop, whose
        # shutdown_asyncgens() later closes it (and with it the client).
        step = closer.asend(None)
        with contextlib.suppress(StopIteration):
            step.send(None)
        self._clients[loop] = (client, closer)
        return client

    async def aclose(self) -> None:
        """Close the running loop's client now (tests, explicit shutdown)."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].aclose()
            await entry[1].aclose()


async def _close_at_shutdown(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if not client.is_closed:
            await client.aclose()


def new_async_client() -> httpx.AsyncClient:
    """A pooled client with the shared TLS context and no timeout of its own (pass one per
    request)."""
    return httpx.AsyncClient(limits=DEFAULT_LIMITS, timeout=None, verify=shared_ssl_context())
