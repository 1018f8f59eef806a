"""HTTP plumbing shared by every Daguito entry point: the pooled client, client headers, error
mapping to the package's error classes (one place), JSON encoding and decoding."""

from __future__ import annotations

import json as json_module
import math
from typing import Any, TypeVar

import httpx
import orjson

from daguito._client_headers import client_headers
from daguito.errors import DaguitoConnectionError, DaguitoError, DaguitoTimeoutError, error_of
from relaywire.transport.http import (
    AsyncClientPool,
    RequestTimeout,
    RetryPolicy,
    TransportError,
    send,
)

__all__ = [
    "POOL",
    "RETRY_IDEMPOTENT",
    "check_timeout",
    "decode_json",
    "encode_json",
    "message_from_response",
    "raise_for_status",
    "request",
]

E = TypeVar("E", bound=DaguitoError)

#: One pooled ``httpx.AsyncClient`` per event loop for calls that get no client of their own.
POOL = AsyncClientPool()
#: Idempotent calls (GET, DELETE) retry connection errors, 429 and 5xx twice, honouring
#: ``Retry-After``; POST/PATCH are never retried.
RETRY_IDEMPOTENT = RetryPolicy(max_retries=2)


def encode_json(value: Any) -> bytes:
    """A JSON request body: orjson, with ``json.dumps`` as the fallback for what orjson refuses
    but daguito-sdk's ``json.dumps`` accepted (integers wider than 64 bits...). Non-string dict
    keys are converted as ``json.dumps`` does."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json_module.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def check_timeout(value: float | httpx.Timeout | None, default: float, name: str) -> float | None:
    """A total deadline in seconds: None gives ``default``; zero, negative or NaN is an error."""
    if value is None:
        return default
    if isinstance(value, httpx.Timeout):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return float(value)


def message_from_response(response: httpx.Response) -> tuple[str, Any]:
    """The error text of a response, and its JSON body if it had one.

    Reads ``error`` (a string, or an object with ``message``), then ``message``, then the body
    text, then the reason phrase (daguito-sdk ignored ``message``, bug D6).
    """
    text = response.text
    body: Any = None
    if text:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, str) and err:
            return err, body
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"], body
        if isinstance(body.get("message"), str) and body["message"]:
            return body["message"], body
    if text.strip():
        return text.strip()[:500], body
    return response.reason_phrase or f"HTTP {response.status_code}", body


def raise_for_status(family: type[E], response: httpx.Response, prefix: str = "") -> None:
    """Raise ``family`` (of the right kind) for a status >= 400."""
    if response.status_code < 400:
        return
    message, body = message_from_response(response)
    raise error_of(
        family,
        f"{prefix}{message}",
        response.status_code,
        request_id=response.headers.get("x-request-id"),
        body=body,
        headers=response.headers,
    )


def decode_json(family: type[E], response: httpx.Response) -> Any:
    """The JSON body (None when empty); invalid JSON raises ``family``."""
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as err:
        raise error_of(
            family,
            f"invalid JSON response: {err}",
            response.status_code,
            request_id=response.headers.get("x-request-id"),
        ) from err


async def request(
    family: type[E],
    method: str,
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    headers: dict[str, str] | None = None,
    json: Any = None,
    content: Any = None,
    timeout: float | httpx.Timeout | None = None,
    retry: RetryPolicy | None = None,
    idempotent: bool | None = None,
    with_client_headers: bool = True,
) -> httpx.Response:
    """One request on ``client`` (or the pooled client); transport failures become ``family``
    mixed with :class:`DaguitoConnectionError` / :class:`DaguitoTimeoutError`.

    ``timeout`` is a total deadline in seconds (or an ``httpx.Timeout`` for per-phase limits).
    """
    all_headers = client_headers() if with_client_headers else {}
    if json is not None:
        content = encode_json(json)
        all_headers["Content-Type"] = "application/json"
    if headers:
        all_headers.update(headers)
    kwargs: dict[str, Any] = {"headers": all_headers}
    if content is not None:
        kwargs["content"] = content
    total: float | None = None
    if isinstance(timeout, httpx.Timeout):
        kwargs["timeout"] = timeout
    elif timeout is not None:
        total = float(timeout)
        kwargs["timeout"] = total
    http = client if client is not None else POOL.get()
    try:
        return await send(
            http, method, url, total_timeout=total, retry=retry, idempotent=idempotent, **kwargs
        )
    except TransportError as err:
        kind = DaguitoTimeoutError if isinstance(err, RequestTimeout) else DaguitoConnectionError
        raise error_of(family, err.message, None, kind=kind) from err
