"""Admin payloads (daguito-sdk's ``daguito.admin_types``): account keys, public keys, the org
budget, and the functions that read them from the wire (snake_case field names).

Parse rules, as in daguito-sdk: a missing string is ``""``, a missing ``current_mtd_micro_usd``
is 0, nullable fields stay None, numbers sent as strings are read, and ``allowed_origins``
entries that are not strings are dropped. A value of the wrong type raises
:class:`~daguito.errors.DaguitoError` naming the field (daguito-sdk raised ``ValueError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daguito._admin_http import (
    wire_int,
    wire_opt_int,
    wire_opt_str,
    wire_str,
    wire_str_list,
)
from relaywire.redaction import masked_repr

__all__ = [
    "AccountKey",
    "AccountKeyCreated",
    "OrgBudget",
    "PublicKey",
    "PublicKeyCreated",
    "parse_account_key",
    "parse_account_key_created",
    "parse_org_budget",
    "parse_public_key",
    "parse_public_key_created",
]


@dataclass
class AccountKey:
    """An account-level API key (``dgsk_acc_…``); budgets are in micro-USD."""

    id: str
    name: str
    key_prefix: str
    monthly_budget_micro_usd: int | None
    current_mtd_micro_usd: int
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


@masked_repr("plaintext")
@dataclass
class AccountKeyCreated(AccountKey):
    """A new account key; ``plaintext`` is shown only in the create response."""

    plaintext: str = ""


@dataclass
class PublicKey:
    """A flow's public (browser) key (``dgpk_flow_…``), limited to ``allowed_origins``."""

    id: str
    flow_id: str
    name: str
    key_prefix: str
    allowed_origins: list[str]
    monthly_budget_micro_usd: int | None
    current_mtd_micro_usd: int
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


@masked_repr("plaintext")
@dataclass
class PublicKeyCreated(PublicKey):
    """A new public key; ``plaintext`` is shown only in the create response."""

    plaintext: str = ""


@dataclass
class OrgBudget:
    """The org's monthly cap (None: no cap) and month-to-date spend, in micro-USD."""

    monthly_budget_micro_usd: int | None
    current_mtd_micro_usd: int
    mtd_reset_at: str | None


def _account_key_fields(data: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "id": wire_str(data, "id", where),
        "name": wire_str(data, "name", where),
        "key_prefix": wire_str(data, "key_prefix", where),
        "monthly_budget_micro_usd": wire_opt_int(data, "monthly_budget_micro_usd", where),
        "current_mtd_micro_usd": wire_int(data, "current_mtd_micro_usd", where),
        "created_at": wire_str(data, "created_at", where),
        "last_used_at": wire_opt_str(data, "last_used_at", where),
        "revoked_at": wire_opt_str(data, "revoked_at", where),
    }


def _public_key_fields(data: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "id": wire_str(data, "id", where),
        "flow_id": wire_str(data, "flow_id", where),
        "name": wire_str(data, "name", where),
        "key_prefix": wire_str(data, "key_prefix", where),
        "allowed_origins": wire_str_list(data, "allowed_origins", where),
        "monthly_budget_micro_usd": wire_opt_int(data, "monthly_budget_micro_usd", where),
        "current_mtd_micro_usd": wire_int(data, "current_mtd_micro_usd", where),
        "created_at": wire_str(data, "created_at", where),
        "last_used_at": wire_opt_str(data, "last_used_at", where),
        "revoked_at": wire_opt_str(data, "revoked_at", where),
    }


def parse_account_key(data: dict[str, Any]) -> AccountKey:
    """An :class:`AccountKey` from its wire object."""
    return AccountKey(**_account_key_fields(data, "AccountKey"))


def parse_account_key_created(data: dict[str, Any]) -> AccountKeyCreated:
    """An :class:`AccountKeyCreated` from the create response."""
    where = "AccountKeyCreated"
    return AccountKeyCreated(
        **_account_key_fields(data, where), plaintext=wire_str(data, "plaintext", where)
    )


def parse_public_key(data: dict[str, Any]) -> PublicKey:
    """A :class:`PublicKey` from its wire object."""
    return PublicKey(**_public_key_fields(data, "PublicKey"))


def parse_public_key_created(data: dict[str, Any]) -> PublicKeyCreated:
    """A :class:`PublicKeyCreated` from the create response."""
    where = "PublicKeyCreated"
    return PublicKeyCreated(
        **_public_key_fields(data, where), plaintext=wire_str(data, "plaintext", where)
    )


def parse_org_budget(data: dict[str, Any]) -> OrgBudget:
    """An :class:`OrgBudget` from its wire object."""
    where = "OrgBudget"
    return OrgBudget(
        monthly_budget_micro_usd=wire_opt_int(data, "monthly_budget_micro_usd", where),
        current_mtd_micro_usd=wire_int(data, "current_mtd_micro_usd", where),
        mtd_reset_at=wire_opt_str(data, "mtd_reset_at", where),
    )
