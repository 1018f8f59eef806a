"""A flow's public (browser) keys (daguito-sdk's ``daguito.admin_public_keys``)."""

from __future__ import annotations

import builtins
from typing import Any

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    request_json,
)
from daguito._url import join_http, quote_segment
from daguito.admin_account_keys import keys_array, pick_updated
from daguito.admin_types import (
    PublicKey,
    PublicKeyCreated,
    parse_public_key,
    parse_public_key_created,
)

__all__ = ["PublicKeysService"]


def _keys_path(flow_id: str) -> str:
    return f"/v1/flows/{quote_segment(flow_id)}/public-keys"


class PublicKeysService:
    """``/v1/flows/{flow_id}/public-keys``: list, create, revoke, set a key's monthly budget."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def list(self, flow_id: str) -> builtins.list[PublicKey]:
        """The flow's public keys (``ValueError`` for an empty id, before any request)."""
        path = _keys_path(flow_id)
        data = await call(self._client_factory, "GET", join_http(self._api_url, path))
        return [parse_public_key(item) for item in keys_array(data, f"GET {path}")]

    async def create(
        self,
        flow_id: str,
        name: str,
        allowed_origins: builtins.list[str],
        monthly_budget_micro_usd: int | None = None,
    ) -> PublicKeyCreated:
        """A new key for browsers on ``allowed_origins``; its ``plaintext`` is only in this
        answer. A None budget is left out."""
        path = _keys_path(flow_id)
        body: dict[str, Any] = {"name": name, "allowed_origins": builtins.list(allowed_origins)}
        if monthly_budget_micro_usd is not None:
            body["monthly_budget_micro_usd"] = monthly_budget_micro_usd
        data = await call(self._client_factory, "POST", join_http(self._api_url, path), body=body)
        return parse_public_key_created(expect_object(data, f"POST {path}"))

    async def revoke(self, flow_id: str, key_id: str) -> None:
        """Revoke a key (``ValueError`` for an empty id, before any request)."""
        path = f"{_keys_path(flow_id)}/{quote_segment(key_id)}"
        await call(self._client_factory, "DELETE", join_http(self._api_url, path))

    async def set_budget(
        self, flow_id: str, key_id: str, monthly_budget_micro_usd: int | None
    ) -> PublicKey:
        """Set (or, with None, clear) a key's monthly cap; the key as listed afterwards."""
        path = _keys_path(flow_id)
        budget_url = join_http(self._api_url, f"{path}/{quote_segment(key_id)}/budget")
        patched = await call(
            self._client_factory,
            "PATCH",
            budget_url,
            body={"monthly_budget_micro_usd": monthly_budget_micro_usd},
        )
        listed = await call(self._client_factory, "GET", join_http(self._api_url, path))
        return parse_public_key(pick_updated(keys_array(listed, f"GET {path}"), key_id, patched))
