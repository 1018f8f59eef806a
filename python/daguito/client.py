"""The admin client (daguito-sdk's ``daguito.client``).

::

    async with Daguito(api_key="dgsk_acc_...") as client:
        keys = await client.account_keys.list()
        budget = await client.budgets.get_org()

All services of one :class:`Daguito` share one pooled ``httpx.AsyncClient`` (daguito-sdk built a
new client for every call, bug D1):

* an ``http_client`` you pass is used as is and never closed by ``Daguito``;
* inside ``async with Daguito(...)`` the client owns one and closes it on exit (or
  :meth:`Daguito.aclose`);
* otherwise calls use the package's shared per-event-loop client (``daguito._http.POOL``), which
  is closed when the loop shuts down, so a ``Daguito`` that is never closed leaks nothing.

GET and DELETE are retried ``max_retries`` times on connection errors, 429 and 5xx, honouring
``Retry-After``; POST and PATCH are never retried.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType

import httpx

from daguito._admin_http import SharedClient
from daguito._http import POOL, RETRY_IDEMPOTENT, check_timeout
from daguito.admin_account_keys import AccountKeysService, make_client_factory
from daguito.admin_analytics import AnalyticsService
from daguito.admin_budgets import BudgetsService
from daguito.admin_flows import FlowsService
from daguito.admin_knowledge import AdminKnowledgeService
from daguito.admin_nodes import NodesService
from daguito.admin_public_keys import PublicKeysService
from daguito.models import ModelsService
from daguito.templates import TemplatesService
from relaywire.redaction import register_secret
from relaywire.transport.http import RetryPolicy, new_async_client

__all__ = [
    "DEFAULT_API_URL",
    "AccountKeysService",
    "AdminKnowledgeService",
    "AnalyticsService",
    "BudgetsService",
    "Daguito",
    "FlowsService",
    "ModelsService",
    "NodesService",
    "PublicKeysService",
    "TemplatesService",
    "make_client_factory",
]

DEFAULT_API_URL = "https://ingest.daguito.com"
DEFAULT_TIMEOUT = 60.0


def _checked_timeout(timeout: float | httpx.Timeout) -> float | httpx.Timeout:
    checked = check_timeout(timeout, DEFAULT_TIMEOUT, "timeout")
    return timeout if checked is None else checked


def _retry_policy(max_retries: int) -> RetryPolicy:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be a non-negative int, got {max_retries!r}")
    return RETRY_IDEMPOTENT if max_retries == 2 else RetryPolicy(max_retries=max_retries)


class Daguito:
    """The Daguito admin API.

    ``api_url`` defaults to ``$DAGUITO_API_URL``, then ``https://ingest.daguito.com``;
    ``api_key`` (an account key, ``dgsk_acc_…``; an org key for ``flows.resolve_webhook``)
    defaults to ``$DAGUITO_API_KEY``, and without one the constructor raises
    ``ValueError("api_key is required")``. Constructing does no I/O.

    relaywire additions (keyword-only): ``timeout`` (seconds for a whole call, retries included,
    or an ``httpx.Timeout`` for per-phase limits), ``http_client`` (an ``httpx.AsyncClient`` to
    send on; you keep ownership), ``max_retries`` (for GET and DELETE) and ``headers`` (sent on
    every request). Besides daguito-sdk's services, the client has ``analytics``, ``knowledge``,
    ``nodes`` and ``models``, and ``flows`` has ``upsert_agent`` and ``upsert_flow``.
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str = "",
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        api_key = api_key or os.environ.get("DAGUITO_API_KEY", "")
        if not api_key:
            raise ValueError("api_key is required")
        self.api_url: str = api_url or os.environ.get("DAGUITO_API_URL") or DEFAULT_API_URL
        self.api_key: str = api_key
        register_secret(api_key)
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        self._http_client = http_client
        self._owned: httpx.AsyncClient | None = None
        self._closed = False
        # The client whose pool this one sends on: itself, or the one with_options() copied.
        self._pool_owner: Daguito = self
        self._attach(
            SharedClient(
                self._client,
                headers={"Authorization": f"Bearer {api_key}", **(headers or {})},
                timeout=_checked_timeout(timeout),
                retry=_retry_policy(max_retries),
            )
        )

    def _attach(self, transport: SharedClient) -> None:
        # daguito-sdk kept its factory here; code that builds extra services from it now shares
        # the pool too.
        self._client_factory = transport
        self.account_keys = AccountKeysService(self.api_url, transport)
        self.public_keys = PublicKeysService(self.api_url, transport)
        self.budgets = BudgetsService(self.api_url, transport)
        self.flows = FlowsService(self.api_url, transport)
        self.templates = TemplatesService(self.api_url, transport)
        self.analytics = AnalyticsService(self.api_url, transport)
        self.knowledge = AdminKnowledgeService(self.api_url, transport)
        self.nodes = NodesService(self.api_url, transport)
        self.models = ModelsService(self.api_url, transport)

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Daguito:
        """A copy with another ``timeout``, ``max_retries`` or extra ``headers`` (merged over
        this client's), for one call or a few:
        ``await client.with_options(timeout=5).account_keys.list()``.

        Cheap (no I/O): the copy sends on this client's connections, and closing the copy
        leaves them to this client.
        """
        current = self._client_factory
        clone = object.__new__(type(self))
        clone.api_url = self.api_url
        clone.api_key = self.api_key
        clone._http_client = self._http_client
        clone._owned = None
        clone._closed = False
        clone._pool_owner = self._pool_owner
        clone._attach(
            SharedClient(
                clone._client,
                headers={**current.headers, **(headers or {})},
                timeout=current.timeout if timeout is None else _checked_timeout(timeout),
                retry=current.retry if max_retries is None else _retry_policy(max_retries),
            )
        )
        return clone

    def _client(self) -> httpx.AsyncClient:
        """The client the services send on (see the module docstring)."""
        if self._closed:
            raise RuntimeError("this Daguito client is closed; use a new one or `async with`")
        owner = self._pool_owner
        if owner is not self:
            return owner._client()
        if self._http_client is not None:
            return self._http_client
        if self._owned is not None:
            return self._owned
        return POOL.get()

    async def __aenter__(self) -> Daguito:
        self._closed = False
        if self._http_client is None and self._owned is None and self._pool_owner is self:
            # No timeout on the client itself: each request carries the configured one.
            self._owned = new_async_client()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client this ``Daguito`` owns (not an ``http_client`` you passed). Later
        calls raise ``RuntimeError`` until the client is entered again with ``async with``."""
        self._closed = True
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.aclose()

    def __repr__(self) -> str:
        return f"Daguito(api_url={self.api_url!r})"
