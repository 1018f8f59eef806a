"""The Linktor clients: :class:`LinktorClient` (blocking) and :class:`LinktorAsyncClient`
(asyncio), with the official resource tree and method names.

::

    from linktor import LinktorClient, LinktorAsyncClient

    with LinktorClient(api_key="lk_...") as client:
        page = client.conversations.list(status="open", limit=20)
        for conversation in client.conversations.iter(status="open"):  # every page
            ...
        client.conversations.send_text(page.data[0].id, "Hello!")

    async with LinktorAsyncClient(api_key="lk_...") as client:
        page = await client.conversations.list(status="open")
        async for message in client.conversations.iter_messages(page.data[0].id):
            ...

Both clients have the same resources (``auth``, ``conversations``, ``contacts``, ``channels``,
``bots``, ``ai`` with ``agents``/``completions``/``embeddings``, ``knowledge_bases``, ``flows``,
``analytics``, ``vre``) and the same methods; the async ones are coroutines. Each method is
implemented once (:mod:`linktor._resources`) and run by either client.

Beyond the official SDK:

* ``iter(...)`` on every listable resource (and ``conversations.iter_messages``,
  ``knowledge_bases.iter_documents``) yields the items of every page, fetching pages as needed.
* ``idempotency_key=`` on every method that sends a POST or PATCH: the request carries an
  ``Idempotency-Key`` and may then be retried safely (others never are).
* ``dialect="server"`` (automatic when ``base_url`` ends in ``/api/v1``) speaks the self-hosted
  Linktor server's protocol: Bearer authentication (log in with ``client.auth.login``), its
  envelopes, routes and verbs; every method returns the same types as with the SDK protocol.
  These methods have no equivalent on the server and raise ``UnsupportedOperationError``
  (before sending anything): ``ai.agents.*`` (``list``, ``get``, ``create``, ``update``,
  ``delete``, ``invoke``, ``iter``), ``ai.embeddings.create``/``embed``,
  ``knowledge_bases.upload_document``, ``flows.execute``, ``analytics.get_dashboard``,
  ``analytics.get_message_metrics``, ``analytics.get_realtime`` and ``webhooks.*`` (the server
  has no webhook management routes). ``auth.logout`` forgets the token locally (the server's
  tokens are stateless).
* ``on_token_refresh`` (a callable returning a new access token) is called on a 401, and the
  request is sent again once with the new token.
* ``http_client=``: an ``httpx.Client``/``httpx.AsyncClient`` of yours (not closed by us).
* ``api_key`` falls back to the ``LINKTOR_API_KEY`` environment variable when no credential is
  given, and ``base_url`` to ``LINKTOR_BASE_URL`` when it is not given.
* ``client.with_options(timeout=..., max_retries=..., headers=...)``: a cheap copy on the same
  connection pool. Models returned by a call carry the server's ``X-Request-ID`` as
  ``model._request_id`` (not a pydantic field: not dumped, not compared), ``client.rate_limit``
  holds the last ``X-RateLimit-*`` headers, and errors carry ``headers``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from linktor._dialect import Dialect, InvalidResponseError, UnsupportedOperationError
from linktor._plan import AsyncResource, SyncResource
from linktor._resources import (
    SERVER_UNSUPPORTED,
    AgentsOps,
    AIOps,
    AnalyticsOps,
    AuthOps,
    BotsOps,
    ChannelsOps,
    CompletionsOps,
    ContactsOps,
    ConversationsOps,
    EmbeddingsOps,
    FlowsOps,
    KnowledgeBasesOps,
    VREOps,
    WebhooksOps,
)
from linktor.utils.http import DEFAULT_BASE_URL, AsyncHttpClient, HttpClient
from relaywire.transport.http import RateLimit

__all__ = ["LinktorAsyncClient", "LinktorClient"]

# Importable from here too: the errors this module adds to the official hierarchy.
_EXTRA_ERRORS = (InvalidResponseError, UnsupportedOperationError, SERVER_UNSUPPORTED)


# -- blocking resources (the official names) -----------------------------------------------------


class AuthResource(AuthOps, SyncResource):
    """``client.auth``: login, logout, token refresh, current user."""


class ConversationsResource(ConversationsOps, SyncResource):
    """``client.conversations``: conversations and their messages."""


class ContactsResource(ContactsOps, SyncResource):
    """``client.contacts``."""


class ChannelsResource(ChannelsOps, SyncResource):
    """``client.channels``."""


class BotsResource(BotsOps, SyncResource):
    """``client.bots``."""


class AgentsSubResource(AgentsOps, SyncResource):
    """``client.ai.agents`` (SDK protocol only)."""


class CompletionsSubResource(CompletionsOps, SyncResource):
    """``client.ai.completions``."""


class EmbeddingsSubResource(EmbeddingsOps, SyncResource):
    """``client.ai.embeddings`` (SDK protocol only)."""


class AIResource(AIOps, SyncResource):
    """``client.ai``: ``agents``, ``completions``, ``embeddings``."""

    def __init__(self, http: HttpClient) -> None:
        super().__init__(http)
        self.agents = AgentsSubResource(http)
        self.completions = CompletionsSubResource(http)
        self.embeddings = EmbeddingsSubResource(http)


class KnowledgeBasesResource(KnowledgeBasesOps, SyncResource):
    """``client.knowledge_bases``."""


class FlowsResource(FlowsOps, SyncResource):
    """``client.flows``."""


class AnalyticsResource(AnalyticsOps, SyncResource):
    """``client.analytics``."""


class WebhooksResource(WebhooksOps, SyncResource):
    """``client.webhooks``: outgoing webhook subscriptions."""


class VREResource(VREOps, SyncResource):
    """``client.vre``: the Visual Response Engine."""


# -- async resources -----------------------------------------------------------------------------


class AsyncAuthResource(AuthOps, AsyncResource):
    """``client.auth`` of the async client."""


class AsyncConversationsResource(ConversationsOps, AsyncResource):
    """``client.conversations`` of the async client."""


class AsyncContactsResource(ContactsOps, AsyncResource):
    """``client.contacts`` of the async client."""


class AsyncChannelsResource(ChannelsOps, AsyncResource):
    """``client.channels`` of the async client."""


class AsyncBotsResource(BotsOps, AsyncResource):
    """``client.bots`` of the async client."""


class AsyncAgentsSubResource(AgentsOps, AsyncResource):
    """``client.ai.agents`` of the async client."""


class AsyncCompletionsSubResource(CompletionsOps, AsyncResource):
    """``client.ai.completions`` of the async client."""


class AsyncEmbeddingsSubResource(EmbeddingsOps, AsyncResource):
    """``client.ai.embeddings`` of the async client."""


class AsyncAIResource(AIOps, AsyncResource):
    """``client.ai`` of the async client."""

    def __init__(self, http: AsyncHttpClient) -> None:
        super().__init__(http)
        self.agents = AsyncAgentsSubResource(http)
        self.completions = AsyncCompletionsSubResource(http)
        self.embeddings = AsyncEmbeddingsSubResource(http)


class AsyncKnowledgeBasesResource(KnowledgeBasesOps, AsyncResource):
    """``client.knowledge_bases`` of the async client."""


class AsyncFlowsResource(FlowsOps, AsyncResource):
    """``client.flows`` of the async client."""


class AsyncAnalyticsResource(AnalyticsOps, AsyncResource):
    """``client.analytics`` of the async client."""


class AsyncWebhooksResource(WebhooksOps, AsyncResource):
    """``client.webhooks``: outgoing webhook subscriptions."""


class AsyncVREResource(VREOps, AsyncResource):
    """``client.vre`` of the async client."""


# -- clients -------------------------------------------------------------------------------------


def _default_api_key(api_key: str | None, access_token: str | None) -> str | None:
    if api_key is None and access_token is None:
        return os.environ.get("LINKTOR_API_KEY") or None
    return api_key


C = TypeVar("C", bound="_ClientBase[Any]")
HC = TypeVar("HC", HttpClient, AsyncHttpClient)


class _ClientBase(Generic[HC]):
    """What both clients do the same way around their HTTP client."""

    _http: HC

    def _attach(self) -> None:
        raise NotImplementedError

    def with_options(
        self: C,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> C:
        """A copy with another ``timeout``, ``max_retries`` or extra ``headers`` (merged over
        the defaults), for one call or a few: ``client.with_options(timeout=5).contacts.get(id)``.

        Cheap (no I/O, no new connection pool): the copy sends on this client's pool, and
        closing the copy leaves that pool to this client. Credentials are copied.
        """
        clone = object.__new__(type(self))
        clone._http = self._http._derive(timeout, max_retries, headers)
        clone._attach()
        return clone

    @property
    def rate_limit(self) -> RateLimit | None:
        """The ``X-RateLimit-*`` headers (limit, remaining, reset) of the last response that
        carried them, or None."""
        return self._http.rate_limit

    @property
    def dialect(self) -> Dialect:
        """The protocol this client speaks (``Dialect.SDK`` or ``Dialect.SERVER``)."""
        return self._http.dialect


class LinktorClient(_ClientBase[HttpClient]):
    """The blocking Linktor client.

    Constructing it does no I/O (connections open on the first request). ``timeout`` is a
    number of seconds or an ``httpx.Timeout``; failed requests are retried ``max_retries``
    times, waiting ``retry_delay`` seconds and doubling (with jitter, honouring
    ``Retry-After``). Use it as a context manager, or call :meth:`close`.
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
        self._http = HttpClient(
            base_url,
            _default_api_key(api_key, access_token),
            access_token,
            timeout,
            max_retries,
            retry_delay,
            headers,
            dialect=dialect,
            http_client=http_client,
            on_token_refresh=on_token_refresh,
        )
        self._attach()

    def _attach(self) -> None:
        http = self._http
        self.auth = AuthResource(http)
        self.conversations = ConversationsResource(http)
        self.contacts = ContactsResource(http)
        self.channels = ChannelsResource(http)
        self.bots = BotsResource(http)
        self.ai = AIResource(http)
        self.knowledge_bases = KnowledgeBasesResource(http)
        self.flows = FlowsResource(http)
        self.analytics = AnalyticsResource(http)
        self.vre = VREResource(http)
        self.webhooks = WebhooksResource(http)

    @property
    def on_token_refresh(self) -> Callable[[], str] | None:
        return self._http.on_token_refresh

    @on_token_refresh.setter
    def on_token_refresh(self, callback: Callable[[], str] | None) -> None:
        self._http.on_token_refresh = callback

    def set_api_key(self, api_key: str) -> None:
        """Authenticate with this API key from now on."""
        self._http.set_api_key(api_key)

    def set_access_token(self, access_token: str) -> None:
        """Authenticate with this bearer token from now on."""
        self._http.set_access_token(access_token)

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> LinktorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LinktorClient base_url={self._http.base_url!r} dialect={self.dialect.value!r}>"


class LinktorAsyncClient(_ClientBase[AsyncHttpClient]):
    """The asyncio Linktor client: the same resources and methods as :class:`LinktorClient`,
    as coroutines (``await client.conversations.list()``; ``async for`` over ``iter``).

    Constructing it does no I/O. Use ``async with``, or ``await client.close()``.
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
        *,
        on_token_refresh: Callable[[], str | Awaitable[str]] | None = None,
        dialect: str | Dialect | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = AsyncHttpClient(
            base_url,
            _default_api_key(api_key, access_token),
            access_token,
            timeout,
            max_retries,
            retry_delay,
            headers,
            dialect=dialect,
            http_client=http_client,
            on_token_refresh=on_token_refresh,
        )
        self._attach()

    def _attach(self) -> None:
        http = self._http
        self.auth = AsyncAuthResource(http)
        self.conversations = AsyncConversationsResource(http)
        self.contacts = AsyncContactsResource(http)
        self.channels = AsyncChannelsResource(http)
        self.bots = AsyncBotsResource(http)
        self.ai = AsyncAIResource(http)
        self.knowledge_bases = AsyncKnowledgeBasesResource(http)
        self.flows = AsyncFlowsResource(http)
        self.analytics = AsyncAnalyticsResource(http)
        self.vre = AsyncVREResource(http)
        self.webhooks = AsyncWebhooksResource(http)

    def set_api_key(self, api_key: str) -> None:
        self._http.set_api_key(api_key)

    def set_access_token(self, access_token: str) -> None:
        self._http.set_access_token(access_token)

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> LinktorAsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"<LinktorAsyncClient base_url={self._http.base_url!r} dialect={self.dialect.value!r}>"
        )
