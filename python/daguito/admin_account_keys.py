"""Account API keys (daguito-sdk's ``daguito.admin_account_keys``), and ``make_client_factory``."""

from __future__ import annotations

import builtins
from typing import Any

import httpx

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    objects_in,
    request_json,
)
from daguito._client_headers import client_headers
from daguito._url import join_http, quote_segment
from daguito.admin_types import (
    AccountKey,
    AccountKeyCreated,
    parse_account_key,
    parse_account_key_created,
)
from relaywire.transport.tls import shared_ssl_context

__all__ = ["AccountKeysService", "make_client_factory"]

_KEYS = "/v1/account/api-keys"


def make_client_factory(api_key: str) -> Any:
    """A zero-argument factory of ``httpx.AsyncClient`` for the admin API (daguito-sdk's).

    Each call builds a new client (60 s timeout, bearer ``api_key``, JSON content type, client
    headers) that the caller must close. :class:`daguito.Daguito` does not use it: its services
    share one pooled client.
    """

    def factory() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=60.0,
            verify=shared_ssl_context(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {api_key}",
                **client_headers(),
            },
        )

    return factory


def keys_array(data: Any, what: str) -> builtins.list[dict[str, Any]]:
    """The key objects of a list response: ``{"keys": [...]}`` or a bare array (None: no keys)."""
    if data is None:
        return []
    items = data.get("keys") if isinstance(data, dict) else data
    if items is None:
        items = []
    if not isinstance(items, builtins.list):
        raise DaguitoError(f"expected a keys array from {what}")
    return objects_in(items, f"{what} keys")


def pick_updated(keys: builtins.list[dict[str, Any]], key_id: str, patched: Any) -> dict[str, Any]:
    """After a budget PATCH: the key from the re-list, else the PATCH answer if it is an object."""
    for item in keys:
        if item.get("id") == key_id:
            return item
    if isinstance(patched, dict):
        return patched
    raise DaguitoError("key not found after budget update")


class AccountKeysService:
    """``/v1/account/api-keys``: list, create, revoke, set a key's monthly budget."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def list(self) -> builtins.list[AccountKey]:
        """Every account key of the org (revoked ones included, with ``revoked_at``)."""
        data = await call(self._client_factory, "GET", join_http(self._api_url, _KEYS))
        return [parse_account_key(item) for item in keys_array(data, f"GET {_KEYS}")]

    async def create(
        self, name: str, monthly_budget_micro_usd: int | None = None
    ) -> AccountKeyCreated:
        """A new key; its ``plaintext`` is only in this answer. A None budget is left out."""
        body: dict[str, Any] = {"name": name}
        if monthly_budget_micro_usd is not None:
            body["monthly_budget_micro_usd"] = monthly_budget_micro_usd
        data = await call(self._client_factory, "POST", join_http(self._api_url, _KEYS), body=body)
        return parse_account_key_created(expect_object(data, f"POST {_KEYS}"))

    async def revoke(self, key_id: str) -> None:
        """Revoke a key (``ValueError`` for an empty id, before any request)."""
        url = join_http(self._api_url, f"{_KEYS}/{quote_segment(key_id)}")
        await call(self._client_factory, "DELETE", url)

    async def set_budget(self, key_id: str, monthly_budget_micro_usd: int | None) -> AccountKey:
        """Set (or, with None, clear) a key's monthly cap; the key as listed afterwards."""
        url = join_http(self._api_url, f"{_KEYS}/{quote_segment(key_id)}/budget")
        patched = await call(
            self._client_factory,
            "PATCH",
            url,
            body={"monthly_budget_micro_usd": monthly_budget_micro_usd},
        )
        listed = await call(self._client_factory, "GET", join_http(self._api_url, _KEYS))
        return parse_account_key(pick_updated(keys_array(listed, f"GET {_KEYS}"), key_id, patched))
