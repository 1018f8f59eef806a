"""Org analytics (daguito-sdk's ``daguito.admin_analytics``, which no client exposed; relaywire
wires it as ``Daguito.analytics``): ``GET /v1/org/analytics``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    request_json,
    wire_float,
    wire_int,
    wire_int_map,
    wire_object,
    wire_opt_int,
    wire_str,
)
from daguito._url import join_http

__all__ = [
    "AnalyticsService",
    "HttpUsage",
    "LlmUsage",
    "MessagesUsage",
    "OrgAnalytics",
    "OrgBudgetSnapshot",
]

_ANALYTICS = "/v1/org/analytics"


@dataclass(slots=True)
class LlmUsage:
    """Today's LLM calls, tokens and cost."""

    requests: int
    tokens: int
    cost_usd: float


@dataclass(slots=True)
class MessagesUsage:
    """Today's inbound messages per channel, and outbound messages over the last 24 hours."""

    inbound: dict[str, int]
    outbound_last_24h: int


@dataclass(slots=True)
class HttpUsage:
    """Today's HTTP requests, in total and per route."""

    total: int
    by_path: dict[str, int]


@dataclass(slots=True)
class OrgBudgetSnapshot:
    """The org's and the calling key's caps (None: no cap) and month-to-date spend (micro-USD)."""

    org_cap_micro_usd: int | None
    org_mtd_micro_usd: int
    key_cap_micro_usd: int | None
    key_mtd_micro_usd: int


@dataclass(slots=True)
class OrgAnalytics:
    """Today's usage of the org; ``raw`` is the whole answer."""

    org_id: str
    llm_today: LlmUsage
    messages_today: MessagesUsage
    http_today: HttpUsage
    budget: OrgBudgetSnapshot
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> OrgAnalytics:
        where = "OrgAnalytics"
        llm = wire_object(data, "llm_today", where)
        messages = wire_object(data, "messages_today", where)
        http = wire_object(data, "http_today", where)
        budget = wire_object(data, "budget", where)
        return cls(
            org_id=wire_str(data, "org_id", where),
            llm_today=LlmUsage(
                requests=wire_int(llm, "requests", "LlmUsage"),
                tokens=wire_int(llm, "tokens", "LlmUsage"),
                cost_usd=wire_float(llm, "cost_usd", "LlmUsage"),
            ),
            messages_today=MessagesUsage(
                inbound=wire_int_map(messages, "inbound", "MessagesUsage"),
                outbound_last_24h=wire_int(messages, "outbound_last_24h", "MessagesUsage"),
            ),
            http_today=HttpUsage(
                total=wire_int(http, "total", "HttpUsage"),
                by_path=wire_int_map(http, "by_path", "HttpUsage"),
            ),
            budget=OrgBudgetSnapshot(
                org_cap_micro_usd=wire_opt_int(budget, "org_cap_micro_usd", "OrgBudgetSnapshot"),
                org_mtd_micro_usd=wire_int(budget, "org_mtd_micro_usd", "OrgBudgetSnapshot"),
                key_cap_micro_usd=wire_opt_int(budget, "key_cap_micro_usd", "OrgBudgetSnapshot"),
                key_mtd_micro_usd=wire_int(budget, "key_mtd_micro_usd", "OrgBudgetSnapshot"),
            ),
            raw=data,
        )


class AnalyticsService:
    """``/v1/org/analytics``."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def get_org(self) -> OrgAnalytics:
        """Today's usage of the org the key belongs to."""
        data = await call(self._client_factory, "GET", join_http(self._api_url, _ANALYTICS))
        return OrgAnalytics.from_wire(expect_object(data, f"GET {_ANALYTICS}"))
