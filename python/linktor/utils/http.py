"""The Linktor HTTP clients: ``HttpClient`` (blocking) and ``AsyncHttpClient`` (asyncio).

Same constructor and verbs as the official SDK's (``get``, ``post``, ``put``, ``patch``,
``delete``, ``upload``; ``stream`` on the async one), built on relaywire's transport
(:mod:`relaywire.transport.http`), with these differences:

* **No I/O and no expensive setup at construction.** The pooled ``httpx`` client is built on the
  first request and shares one SSL context per process.
* **Retries** (``max_retries``, first delay ``retry_delay``, doubling, with jitter) on connection
  errors, timeouts, 408, 429 and 5xx, honouring ``Retry-After`` / ``retry-after-ms``. A
  non-idempotent request (POST, PATCH) is retried only when it carries an ``Idempotency-Key``
  (the resource methods take ``idempotency_key=``), so a create or a send is never duplicated.
* **Errors**: every status >= 400 becomes the package's error class, read from any error shape
  (top-level or nested ``error``, ``{"error": "text"}``, plain text), with the server's ``code``,
  ``details`` and the ``X-Request-ID``; connection failures and timeouts become
  :class:`~linktor.utils.errors.NetworkError` / :class:`~linktor.utils.errors.TimeoutError`;
  a 2xx body that is not JSON is an ``InvalidResponseError``. Nothing from httpx leaks.
* **Headers**: ``Content-Type: application/json`` only on JSON bodies (multipart uploads get their
  own boundary); ``set_api_key``/``set_access_token`` replace the credential in use instead of
  sending both.
* **Dialects**: ``dialect="server"`` (or a base URL ending in ``/api/v1``) speaks the self-hosted
  server's protocol: ``Authorization: Bearer`` for both tokens and API keys.
"""

from __future__ import annotations

import copy
import inspect
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx
import orjson

from linktor._dialect import (
    Dialect,
    InvalidResponseError,
    decode_json,
    encode_body,
    encode_params,
    error_from_response,
    resolve_dialect,
    upload_request,
)
from linktor._plan import Reply, Request
from linktor.utils.errors import (
    AuthenticationError,
    LinktorError,  # noqa: F401 - the official module held it (and the next two) by import
    NetworkError,
    TimeoutError,
    create_error_from_response,  # noqa: F401
    is_retryable_error,  # noqa: F401
)
from relaywire import __version__ as _relaywire_version
from relaywire.redaction import get_logger, register_secret
from relaywire.transport import fork
from relaywire.transport.http import (
    DEFAULT_LIMITS,
    AsyncClientPool,
    RateLimit,
    RequestTimeout,
    RetryPolicy,
    TransportError,
    send,
    send_sync,
)
from relaywire.transport.tls import shared_ssl_context

__all__ = ["AsyncHttpClient", "HttpClient"]

_log = get_logger("linktor")


class _DefaultBaseURL(str):
    """The default ``base_url``: equal to the official constant, and recognisable as "not
    given", so that ``LINKTOR_BASE_URL`` can stand in for it."""

    __slots__ = ()


DEFAULT_BASE_URL: str = _DefaultBaseURL("https://api.linktor.io")


def resolve_base_url(base_url: str) -> str:
    """``base_url``, or ``$LINKTOR_BASE_URL`` when the caller left the default (as
    ``LINKTOR_API_KEY`` stands in for a missing key)."""
    if base_url is DEFAULT_BASE_URL:
        return os.environ.get("LINKTOR_BASE_URL") or str(base_url)
    return base_url


USER_AGENT = f"linktor-python/1.0.0 relaywire/{_relaywire_version}"
# 409 is a conflict (a duplicate email, say) on Linktor, not a transient state: not retried.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: The longest gap between retries, whatever ``retry_delay`` doubles to.
MAX_RETRY_DELAY = 30.0


H = TypeVar("H", bound="_HttpBase")


class _HttpBase:
    """Configuration, credentials and request building shared by both clients."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        access_token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int = 3,
        retry_delay: float = 1.0,
        headers: Mapping[str, str] | None = None,
        *,
        dialect: str | Dialect | None = None,
    ) -> None:
        self.base_url = resolve_base_url(base_url).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self._dialect = resolve_dialect(dialect, self.base_url)
        self._default_headers = dict(headers or {})
        self._retry = self._retry_policy()
        #: The ``X-RateLimit-*`` headers of the last response that carried them.
        self.rate_limit: RateLimit | None = None
        self._api_key = api_key
        self._access_token = access_token
        self._auth: dict[str, str] = {}
        # Channel id -> SDK channel type, learnt from the server dialect's channel list (its
        # conversations do not carry the channel type the SDK's Conversation requires).
        self.channel_types: dict[str, str] = {}
        if api_key:
            self.set_api_key(api_key)
        elif access_token:
            self.set_access_token(access_token)

    def _retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            initial_delay=self.retry_delay,
            max_delay=max(MAX_RETRY_DELAY, self.retry_delay),
            retry_statuses=RETRY_STATUSES,
        )

    def _derive(
        self: H,
        timeout: float | httpx.Timeout | None,
        max_retries: int | None,
        headers: Mapping[str, str] | None,
    ) -> H:
        """A copy with other settings that sends on this client's connection pool (see
        ``with_options`` on the clients). Credentials are copied, not shared."""
        clone = copy.copy(self)
        clone._default_headers = {**self._default_headers, **(headers or {})}
        clone._auth = dict(self._auth)
        clone.rate_limit = None
        if timeout is not None:
            clone.timeout = timeout
        if max_retries is not None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
                raise ValueError(f"max_retries must be an int >= 0, got {max_retries!r}")
            clone.max_retries = max_retries
            clone._retry = clone._retry_policy()
        return clone

    # -- credentials ------------------------------------------------------------------------------

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    @property
    def api_key(self) -> str | None:
        return self._api_key

    @property
    def access_token(self) -> str | None:
        return self._access_token

    def set_api_key(self, api_key: str) -> None:
        """Authenticate with an API key from now on (``X-API-Key``; ``Authorization: Bearer``
        in the server dialect, which knows no other header)."""
        register_secret(api_key)
        self._api_key = api_key
        if self._dialect is Dialect.SERVER:
            self._auth = {"Authorization": f"Bearer {api_key}"}
        else:
            self._auth = {"X-API-Key": api_key}

    def set_access_token(self, token: str) -> None:
        """Authenticate with a bearer token (a JWT from ``auth.login``) from now on."""
        register_secret(token)
        self._access_token = token
        self._auth = {"Authorization": f"Bearer {token}"}

    def clear_access_token(self) -> None:
        """Forget the bearer token; the API key, if any, is used again."""
        self._access_token = None
        if self._api_key:
            self.set_api_key(self._api_key)
        else:
            self._auth = {}

    # -- requests ---------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}{path if path.startswith('/') else '/' + path}"

    def _httpx_kwargs(self, request: Request) -> dict[str, Any]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if request.json_body:
            headers["Content-Type"] = "application/json"
        headers.update(self._default_headers)
        if request.files is not None:
            # httpx writes the multipart Content-Type with its boundary; a default
            # "Content-Type: application/json" (the official SDK's bug) must not replace it.
            for name in [k for k in headers if k.lower() == "content-type"]:
                del headers[name]
        headers.update(self._auth)
        if request.idempotency_key:
            headers["Idempotency-Key"] = request.idempotency_key
        headers.update(request.headers)
        # Per request, so that copies made by with_options() share a pool, not a timeout.
        kwargs: dict[str, Any] = {"headers": headers, "timeout": self.timeout}
        if request.params:
            kwargs["params"] = list(request.params)
        if request.content is not None:
            kwargs["content"] = request.content
        if request.files is not None:
            kwargs["files"] = dict(request.files)
            if request.form:
                kwargs["data"] = dict(request.form)
        return kwargs

    def _reply(self, request: Request, url: str, response: httpx.Response) -> Reply:
        status = response.status_code
        _log.debug("%s %s -> %d", request.method, url, status)
        rate_limit = RateLimit.from_headers(response.headers)
        if rate_limit is not None:
            self.rate_limit = rate_limit
        if status >= 400:
            raise error_from_response(
                status, response.content, response.headers, response.reason_phrase
            )
        return Reply(status, response.content, response.headers, request.method, url)

    def _on_retry(self, request: Request, url: str) -> Callable[[int, float, Any], None]:
        def log(attempt: int, delay: float, response: httpx.Response | None) -> None:
            outcome = f"HTTP {response.status_code}" if response is not None else "no answer"
            _log.info(
                "%s %s: %s, retry %d/%d in %.2fs",
                request.method,
                url,
                outcome,
                attempt,
                self.max_retries,
                delay,
            )

        return log

    @staticmethod
    def _wrap_transport(err: TransportError) -> Exception:
        if isinstance(err, RequestTimeout):
            return TimeoutError(err.message)
        return NetworkError(err.message, details={"method": err.method, "url": err.url})

    @staticmethod
    def _may_refresh(request: Request) -> bool:
        # A refused login or refresh is an answer, not an expired token.
        return request.path not in ("/auth/login", "/auth/refresh")

    @staticmethod
    def _json(reply: Reply) -> Any:
        return None if reply.status == 204 else decode_json(reply)

    @staticmethod
    def _verb_request(
        method: str,
        path: str,
        data: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Request:
        return Request(
            method,
            path,
            params=encode_params(params) or None,
            content=None if data is None else encode_body(data, "raw"),
            idempotency_key=idempotency_key,
            headers=dict(headers or {}),
        )


class HttpClient(_HttpBase):
    """Blocking HTTP client of :class:`~linktor.LinktorClient` (one pooled ``httpx.Client``).

    ``http_client``: an ``httpx.Client`` of yours (proxies, transports, TLS settings); it is used
    as given and not closed by :meth:`close`. ``on_token_refresh``: called on a 401 to get a
    new access token; the request is then sent once more with it.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        access_token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int = 3,
        retry_delay: float = 1.0,
        headers: Mapping[str, str] | None = None,
        on_token_refresh: Callable[[], str] | None = None,
        *,
        dialect: str | Dialect | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            access_token,
            timeout,
            max_retries,
            retry_delay,
            headers,
            dialect=dialect,
        )
        self._client: httpx.Client | None = http_client
        self._owns_client = http_client is None
        self._lock = threading.Lock()
        # The client whose pool this one sends on: itself, or the one it was derived from.
        self._pool_owner: HttpClient = self
        fork.register(self)
        self.on_token_refresh = on_token_refresh

    def _after_fork_in_child(self) -> None:
        # A forked worker gets a pool of its own; the inherited connections are the parent's.
        # (An ``http_client`` you passed is yours to replace after a fork.)
        if self._owns_client:
            fork.abandon(self._client)
            self._client = None
        self._lock = threading.Lock()

    def _derive(
        self,
        timeout: float | httpx.Timeout | None,
        max_retries: int | None,
        headers: Mapping[str, str] | None,
    ) -> HttpClient:
        clone = super()._derive(timeout, max_retries, headers)
        clone._pool_owner = self._pool_owner
        clone._client = None
        clone._owns_client = False  # close() on a copy leaves the shared pool alone
        return clone

    def _httpx(self) -> httpx.Client:
        owner = self._pool_owner
        if owner is not self:
            return owner._httpx()
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        timeout=self.timeout, limits=DEFAULT_LIMITS, verify=shared_ssl_context()
                    )
                client = self._client
        return client

    def execute(self, request: Request) -> Reply:
        """Send one request (with retries) and return its answer, or raise the mapped error."""
        try:
            return self._execute(request)
        except AuthenticationError:
            if self.on_token_refresh is None or not self._may_refresh(request):
                raise
            token = self.on_token_refresh()
            if not token:
                raise
            self.set_access_token(token)
            return self._execute(request)

    def _execute(self, request: Request) -> Reply:
        url = self._url(request.path)
        try:
            response = send_sync(
                self._httpx(),
                request.method,
                url,
                retry=self._retry,
                on_retry=self._on_retry(request, url),
                **self._httpx_kwargs(request),
            )
        except TransportError as err:
            raise self._wrap_transport(err) from err
        except httpx.InvalidURL as err:
            raise NetworkError(f"invalid URL {url!r}: {err}") from err
        return self._reply(request, url, response)

    # -- the official verbs ---------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path``; the JSON answer (``None`` for 204)."""
        return self._json(self.execute(self._verb_request("GET", path, params=params)))

    def post(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        """POST ``data`` as JSON; ``params``, ``headers`` and ``idempotency_key`` may be given."""
        return self._json(self.execute(self._verb_request("POST", path, data, **kwargs)))

    def put(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        return self._json(self.execute(self._verb_request("PUT", path, data, **kwargs)))

    def patch(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        return self._json(self.execute(self._verb_request("PATCH", path, data, **kwargs)))

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._json(self.execute(self._verb_request("DELETE", path, **kwargs)))

    def upload(
        self,
        path: str,
        file: bytes,
        filename: str,
        field_name: str = "file",
        additional_data: Mapping[str, Any] | None = None,
    ) -> Any:
        """POST ``file`` as ``multipart/form-data`` (field ``field_name``, plus
        ``additional_data`` as form fields); the JSON answer."""
        request = upload_request(path, file, filename, field_name, additional_data)
        return self._json(self.execute(request))

    def close(self) -> None:
        """Close the pooled connections (a client passed as ``http_client`` stays open)."""
        client = self._client
        if client is not None and self._owns_client:
            self._client = None
            client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncHttpClient(_HttpBase):
    """The asyncio twin of :class:`HttpClient`: one pooled ``httpx.AsyncClient`` per event loop,
    built on the first request there and closed when that loop shuts down or by :meth:`close`.

    ``on_token_refresh`` may return the token or an awaitable of it.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        access_token: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int = 3,
        retry_delay: float = 1.0,
        headers: Mapping[str, str] | None = None,
        on_token_refresh: Callable[[], str | Awaitable[str]] | None = None,
        *,
        dialect: str | Dialect | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            access_token,
            timeout,
            max_retries,
            retry_delay,
            headers,
            dialect=dialect,
        )
        self._client: httpx.AsyncClient | None = http_client
        # Connections belong to the loop that opened them: one pooled client per event loop,
        # closed when that loop shuts down (asyncio.run) or by close() on it.
        self._pool = AsyncClientPool(self._new_client) if http_client is None else None
        self._owns_pool = True
        self.on_token_refresh = on_token_refresh

    def _derive(
        self,
        timeout: float | httpx.Timeout | None,
        max_retries: int | None,
        headers: Mapping[str, str] | None,
    ) -> AsyncHttpClient:
        clone = super()._derive(timeout, max_retries, headers)
        clone._owns_pool = False  # the pool (or your http_client) is shared; close() leaves it
        return clone

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.timeout, limits=DEFAULT_LIMITS, verify=shared_ssl_context()
        )

    def _httpx(self) -> httpx.AsyncClient:
        if self._pool is None:
            assert self._client is not None
            return self._client
        return self._pool.get()

    async def execute(self, request: Request) -> Reply:
        """Send one request (with retries) and return its answer, or raise the mapped error."""
        try:
            return await self._execute(request)
        except AuthenticationError:
            if self.on_token_refresh is None or not self._may_refresh(request):
                raise
            token = self.on_token_refresh()
            if inspect.isawaitable(token):
                token = await token
            if not token:
                raise
            self.set_access_token(token)
            return await self._execute(request)

    async def _execute(self, request: Request) -> Reply:
        url = self._url(request.path)
        try:
            response = await send(
                self._httpx(),
                request.method,
                url,
                retry=self._retry,
                on_retry=self._on_retry(request, url),
                **self._httpx_kwargs(request),
            )
        except TransportError as err:
            raise self._wrap_transport(err) from err
        except httpx.InvalidURL as err:
            raise NetworkError(f"invalid URL {url!r}: {err}") from err
        return self._reply(request, url, response)

    # -- the official verbs ---------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json(await self.execute(self._verb_request("GET", path, params=params)))

    async def post(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        return self._json(await self.execute(self._verb_request("POST", path, data, **kwargs)))

    async def put(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        return self._json(await self.execute(self._verb_request("PUT", path, data, **kwargs)))

    async def patch(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        return self._json(await self.execute(self._verb_request("PATCH", path, data, **kwargs)))

    async def delete(self, path: str, **kwargs: Any) -> Any:
        return self._json(await self.execute(self._verb_request("DELETE", path, **kwargs)))

    async def upload(
        self,
        path: str,
        file: bytes,
        filename: str,
        field_name: str = "file",
        additional_data: Mapping[str, Any] | None = None,
    ) -> Any:
        request = upload_request(path, file, filename, field_name, additional_data)
        return self._json(await self.execute(request))

    async def stream(self, path: str, data: Any = None) -> AsyncIterator[Any]:
        """POST ``data`` and yield the JSON of each server-sent ``data:`` line (``[DONE]``
        ends the stream). Not retried."""
        request = self._verb_request("POST", path, data)
        url = self._url(path)
        kwargs = self._httpx_kwargs(request)
        kwargs["headers"]["Accept"] = "text/event-stream"
        try:
            async with self._httpx().stream("POST", url, **kwargs) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._reply(request, url, response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        return
                    if not payload:
                        continue
                    try:
                        yield orjson.loads(payload)
                    except orjson.JSONDecodeError as exc:
                        raise InvalidResponseError(
                            f"POST {url}: a stream event is not JSON",
                            status_code=response.status_code,
                            request_id=response.headers.get("x-request-id"),
                            details={"line": payload[:200]},
                        ) from exc
        except httpx.TimeoutException as err:
            raise TimeoutError(f"request timed out: {err}") from err
        except httpx.HTTPError as err:
            raise NetworkError(f"network error: {err}", details={"url": url}) from err

    async def close(self) -> None:
        """Close this event loop's pooled connections (a client passed as ``http_client``
        stays open; the pools of other loops close when their loop shuts down)."""
        if self._pool is not None and self._owns_pool:
            await self._pool.aclose()

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
