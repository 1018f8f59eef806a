"""The org budget (daguito-sdk's ``daguito.admin_budgets``)."""

from __future__ import annotations

from typing import Any

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    request_json,
)
from daguito._url import join_http
from daguito.admin_types import OrgBudget, parse_org_budget

__all__ = ["BudgetsService"]

_BUDGET = "/v1/account/budget"


class BudgetsService:
    """``/v1/account/budget``: read and set the org's monthly cap."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def get_org(self) -> OrgBudget:
        """The org's cap and month-to-date spend."""
        data = await call(self._client_factory, "GET", join_http(self._api_url, _BUDGET))
        return parse_org_budget(expect_object(data, f"GET {_BUDGET}"))

    async def set_org(self, monthly_budget_micro_usd: int | None) -> OrgBudget:
        """Set the org's monthly cap in micro-USD; None clears it."""
        data = await call(
            self._client_factory,
            "PATCH",
            join_http(self._api_url, _BUDGET),
            body={"monthly_budget_micro_usd": monthly_budget_micro_usd},
        )
        return parse_org_budget(expect_object(data, f"PATCH {_BUDGET}"))
