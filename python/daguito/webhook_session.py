"""One-shot HTTP webhook runs: ``POST {api_url}/h/{token}`` (daguito-sdk's ``run_webhook``).

Differences from daguito-sdk 0.4.5 (bugs W1-W3, spec/daguito.md 6.2):

* Connections are pooled: one ``httpx.AsyncClient`` per event loop (``daguito._http.POOL``), or
  the caller's own ``WebhookRunInput.http_client``. daguito-sdk built and closed a client, with
  its SSL context, on every call (~22 ms each).
* ``timeout_seconds`` is a total deadline for the whole call (daguito-sdk applied it per phase:
  connect, write, each read). ``None`` means the default 90 s; zero, negative or NaN raise
  ``ValueError`` before any I/O (daguito-sdk silently used 90 s). An ``httpx.Timeout`` is also
  accepted, for per-phase limits.
* ``run_webhook_sync`` runs on relaywire's background event loop, so it also works where a loop
  is already running (Jupyter, async web handlers); daguito-sdk called ``asyncio.run``.
* Every failure is a :class:`WebhookError` (``status``, ``request_id``, ``body``), also of the
  right kind: ``InvalidTokenError`` for 401/403, ``RateLimitError`` for 429,
  ``DaguitoConnectionError`` / ``DaguitoTimeoutError`` when no answer came.
* An empty or non-string token is a ``ValueError`` / ``TypeError`` before any I/O.

The request is never retried: a run is not idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from daguito._client_headers import client_headers  # noqa: F401 - daguito-sdk exposed it here
from daguito._http import check_timeout, decode_json, encode_json, raise_for_status, request
from daguito._url import join_http, quote_segment
from daguito.errors import WebhookError, error_of
from relaywire.redaction import masked_repr, register_secret
from relaywire.transport.sync import run_sync

__all__ = [
    "WebhookError",
    "WebhookRunInput",
    "WebhookRunResult",
    "run_webhook",
    "run_webhook_sync",
]

DEFAULT_TIMEOUT_SECONDS = 90.0
_JSON_HEADERS = {"Content-Type": "application/json"}


@masked_repr("token")
@dataclass
class WebhookRunInput:
    """What to run. ``token`` is the raw ``sk_wh_…`` token (an account key also works).

    ``http_client`` (relaywire addition) is an ``httpx.AsyncClient`` to send the request with;
    by default the per-loop pooled client is used.
    """

    api_url: str
    token: str
    input: dict[str, Any] | None = None
    timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS
    http_client: httpx.AsyncClient | None = None


@dataclass
class WebhookRunResult:
    """``request_id`` (relaywire addition, after the official fields and not compared): the
    answer's ``X-Request-ID``."""

    ok: bool
    execution_id: str
    status: str
    output: Any
    request_id: str | None = field(default=None, compare=False)


def _prepare(inp: WebhookRunInput) -> tuple[str, bytes, float | httpx.Timeout]:
    """Everything that can fail without I/O: the URL, the body and the deadline."""
    timeout: float | httpx.Timeout
    if isinstance(inp.timeout_seconds, httpx.Timeout):
        timeout = inp.timeout_seconds
    else:
        checked = check_timeout(inp.timeout_seconds, DEFAULT_TIMEOUT_SECONDS, "timeout_seconds")
        assert checked is not None
        timeout = checked
    register_secret(inp.token)  # it travels in the URL path, which httpx logs
    url = join_http(inp.api_url, "/h/" + quote_segment(inp.token))
    body = encode_json(inp.input or {})
    return url, body, timeout


async def run_webhook(input: WebhookRunInput) -> WebhookRunResult:
    """Run the webhook's flow once and return its result.

    Raises :class:`WebhookError` on a network error or timeout, an HTTP status >= 400, a body
    that is not JSON, or a body with a truthy ``error`` field.
    """
    url, body, timeout = _prepare(input)
    return await _run(url, body, timeout, input.http_client)


async def _run(
    url: str, body: bytes, timeout: float | httpx.Timeout, client: httpx.AsyncClient | None
) -> WebhookRunResult:
    response = await request(
        WebhookError,
        "POST",
        url,
        client=client,
        headers=_JSON_HEADERS,
        content=body,
        timeout=timeout,
    )
    raise_for_status(WebhookError, response, prefix=f"HTTP {response.status_code}: ")
    request_id = response.headers.get("x-request-id")
    if not response.content:
        raise error_of(
            WebhookError,
            "invalid JSON response: the body is empty",
            response.status_code,
            request_id=request_id,
        )
    data = decode_json(WebhookError, response)
    if not isinstance(data, dict):
        return WebhookRunResult(
            ok=False, execution_id="", status="unknown", output=None, request_id=request_id
        )
    error = data.get("error")
    if error:
        raise error_of(
            WebhookError, str(error), response.status_code, request_id=request_id, body=data
        )
    execution_id = data.get("execution_id")
    status = data.get("status")
    return WebhookRunResult(
        ok=bool(data.get("ok", False)),
        execution_id="" if execution_id is None else str(execution_id),
        status="unknown" if status is None else str(status),
        output=data.get("output"),
        request_id=request_id,
    )


def run_webhook_sync(input: WebhookRunInput) -> WebhookRunResult:
    """Blocking :func:`run_webhook`, usable from any thread, including one running an event
    loop (it runs on relaywire's background loop and reuses that loop's pooled connections).

    ``http_client`` must be left unset here: an ``httpx.AsyncClient`` belongs to the event loop
    that uses it, not to the background loop; call :func:`run_webhook` from your loop instead.
    """
    if input.http_client is not None:
        raise ValueError(
            "run_webhook_sync cannot use WebhookRunInput.http_client: an httpx.AsyncClient "
            "belongs to the event loop that uses it, and run_webhook_sync runs on relaywire's "
            "background loop. Await run_webhook(...) on your loop instead, or leave "
            "http_client unset."
        )
    url, body, timeout = _prepare(input)
    return run_sync(_run(url, body, timeout, None))
