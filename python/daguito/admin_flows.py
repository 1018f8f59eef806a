"""Flows (daguito-sdk's ``daguito.admin_flows``): resolve a flow's webhook by slug, and the
upserts daguito-sdk lacked (``POST /v1/flows/upsert-agent`` and ``POST /v1/flows/upsert``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    request_json,
    wire_str,
)
from daguito._url import join_http
from daguito.admin_flow_types import AgentFlowSpec, FlowSpec, UpsertResult
from relaywire.redaction import masked_repr

__all__ = ["FlowsService", "ResolvedFlowWebhook"]

_RESOLVE = "/api/sdk/flows"
_UPSERT_AGENT = "/v1/flows/upsert-agent"
_UPSERT_FLOW = "/v1/flows/upsert"


@masked_repr("webhook_token")
@dataclass
class ResolvedFlowWebhook:
    """What a flow slug resolves to: the flow and the webhook that runs it."""

    flow_id: str
    slug: str
    name: str
    webhook_id: str
    webhook_token: str


def _spec_body(spec: Any, kind: type[Any]) -> dict[str, Any]:
    if isinstance(spec, kind):
        wire: dict[str, Any] = spec.to_wire()
        return wire
    if isinstance(spec, Mapping):
        return dict(spec)
    raise TypeError(f"expected a {kind.__name__} or a mapping, got {type(spec).__name__}")


class FlowsService:
    """Flows by slug: resolve one's webhook (org key, scope ``flow:run``), create or update."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def resolve_webhook(self, slug: str) -> ResolvedFlowWebhook:
        """The webhook id and token of the flow ``slug``.

        An empty slug is a ``ValueError`` before any request. An answer without ``flow_id``,
        ``webhook_id`` or ``webhook_token`` (or an empty one) is a :class:`DaguitoError`
        (daguito-sdk raised ``KeyError``/``TypeError``, bug D2); a missing ``slug`` is the one
        asked for and a missing ``name`` is ``""``.
        """
        if not isinstance(slug, str):
            raise TypeError(f"slug must be a str, got {type(slug).__name__}")
        if not slug:
            raise ValueError("slug must not be empty")
        what = f"GET {_RESOLVE}"
        url = join_http(self._api_url, f"{_RESOLVE}?slug={quote(slug, safe='')}")
        data = expect_object(await call(self._client_factory, "GET", url), what)
        where = "ResolvedFlowWebhook"
        fields = {
            name: wire_str(data, name, where) for name in ("flow_id", "webhook_id", "webhook_token")
        }
        missing = [name for name, value in fields.items() if not value]
        if missing:
            raise DaguitoError(f"invalid response from {what}: missing {', '.join(missing)}")
        return ResolvedFlowWebhook(
            flow_id=fields["flow_id"],
            slug=wire_str(data, "slug", where) or slug,
            name=wire_str(data, "name", where),
            webhook_id=fields["webhook_id"],
            webhook_token=fields["webhook_token"],
        )

    async def upsert_agent(self, spec: AgentFlowSpec) -> UpsertResult:
        """Create or update (by slug) a single-agent flow (relaywire addition; JS
        ``flows.upsertAgent``). Not retried: it is a POST."""
        url = join_http(self._api_url, _UPSERT_AGENT)
        data = await call(self._client_factory, "POST", url, body=_spec_body(spec, AgentFlowSpec))
        return UpsertResult.from_wire(expect_object(data, f"POST {_UPSERT_AGENT}"))

    async def upsert_flow(self, spec: FlowSpec) -> UpsertResult:
        """Create or update (by slug) a graph flow (relaywire addition; JS
        ``flows.upsertFlow``). Not retried: it is a POST."""
        url = join_http(self._api_url, _UPSERT_FLOW)
        data = await call(self._client_factory, "POST", url, body=_spec_body(spec, FlowSpec))
        return UpsertResult.from_wire(expect_object(data, f"POST {_UPSERT_FLOW}"))
