"""The models an org may use (daguito-sdk's ``daguito.models``, which no client exposed;
relaywire wires it as ``Daguito.models``): ``GET /v1/models``."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    objects_in,
    request_json,
    wire_opt_str,
    wire_str,
)
from daguito._url import join_http

__all__ = ["Model", "ModelsService"]

_MODELS = "/v1/models"


@dataclass(slots=True)
class Model:
    """A model; ``display_name`` is ``displayName`` on the wire (camelCase)."""

    provider: str
    id: str
    display_name: str
    tier: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Model:
        where = "Model"
        model_id = wire_str(data, "id", where)
        # displayName is the wire name (snake_case is read too); without either, the id stands in.
        display = wire_str(data, "displayName", where) or wire_str(data, "display_name", where)
        return cls(
            provider=wire_str(data, "provider", where),
            id=model_id,
            display_name=display or model_id,
            tier=wire_opt_str(data, "tier", where),
        )


class ModelsService:
    """``/v1/models``."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def list(self) -> builtins.list[Model]:
        """The models available to the org (``{"org_id", "models": [...]}``, or a bare array)."""
        data = await call(self._client_factory, "GET", join_http(self._api_url, _MODELS))
        items = data.get("models") if isinstance(data, dict) else data
        if not isinstance(items, builtins.list):
            raise DaguitoError(f"expected a models array from GET {_MODELS}")
        return [Model.from_wire(item) for item in objects_in(items, f"GET {_MODELS} models")]
