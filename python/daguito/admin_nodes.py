"""The node catalog (daguito-sdk's ``daguito.admin_nodes``, which no client exposed; relaywire
wires it as ``Daguito.nodes``): ``GET /api/public/nodes/catalog``."""

from __future__ import annotations

from typing import Any

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    request_json,
)
from daguito._url import join_http

__all__ = ["NodesService"]

_CATALOG = "/api/public/nodes/catalog"


class NodesService:
    """``/api/public/nodes/catalog``."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def get_catalog(self) -> dict[str, Any]:
        """The node types a flow can use, as sent: ``{"categories": [...], "nodes": [...]}``."""
        data = await call(self._client_factory, "GET", join_http(self._api_url, _CATALOG))
        return expect_object(data, f"GET {_CATALOG}")
