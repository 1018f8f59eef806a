"""The Daguito side's in-memory state: credentials, webhooks and flows, uploads, knowledge.

Everything lives here so that the HTTP routes, the event stream and the audio socket agree on
who is allowed in and on what was uploaded. Seeds are the demo credentials the README lists.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from relaywire.emulator._http import now_iso
from relaywire.emulator._search import SearchIndex

__all__ = [
    "DEMO_ACCOUNT_KEY",
    "DEMO_FLOW_SLUG",
    "DEMO_ORG_KEY",
    "DEMO_SOURCE_ID",
    "DEMO_WEBHOOK_ID",
    "DEMO_WEBHOOK_TOKEN",
    "DaguitoState",
    "Flow",
    "OrgKey",
    "Upload",
    "Webhook",
]

DEMO_WEBHOOK_ID = "wh_demo"
DEMO_WEBHOOK_TOKEN = "sk_wh_demo"
DEMO_ORG_KEY = "sk_dgt_demo"
DEMO_ACCOUNT_KEY = "dgsk_acc_demo"
DEMO_SOURCE_ID = "src_demo"
DEMO_FLOW_SLUG = "demo"
DEMO_ORG_ID = "org_demo"


@dataclass
class Webhook:
    id: str
    token: str
    flow_id: str
    org_id: str = DEMO_ORG_ID


@dataclass
class Flow:
    id: str
    slug: str
    name: str
    webhook_id: str
    org_id: str = DEMO_ORG_ID


@dataclass
class OrgKey:
    key: str
    scopes: frozenset[str]
    org_id: str = DEMO_ORG_ID


@dataclass
class Upload:
    """A presigned upload: what was signed, and the bytes once the PUT arrives."""

    key: str
    webhook_id: str
    kind: str
    mime_type: str
    size_bytes: int
    filename: str
    expires_at: float
    upload_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    data: bytes | None = None

    @property
    def complete(self) -> bool:
        return self.data is not None


@dataclass
class StreamToken:
    """A short-lived ``dst_`` token bound to a webhook, a session key and a role."""

    token: str
    webhook_id: str
    session_key: str
    role: str
    expires_at: float


@dataclass
class AccountKey:
    id: str
    name: str
    plaintext: str
    monthly_budget_micro_usd: int | None = None
    current_mtd_micro_usd: int = 0
    created_at: str = field(default_factory=now_iso)
    last_used_at: str | None = None
    revoked_at: str | None = None

    @property
    def key_prefix(self) -> str:
        return self.plaintext[:12]


class DaguitoState:
    """All Daguito data of one emulator."""

    def __init__(self, *, seed: bool = True, upload_ttl: int = 900) -> None:
        self.upload_ttl = upload_ttl
        self.webhooks: dict[str, Webhook] = {}
        self.flows: dict[str, Flow] = {}
        self.org_keys: dict[str, OrgKey] = {}
        self.account_keys: dict[str, AccountKey] = {}
        self.uploads: dict[str, Upload] = {}
        self.stream_tokens: dict[str, StreamToken] = {}
        self.knowledge = SearchIndex()
        # source id -> {"id", "name", "org_id", "base_id", "created_at"}
        self.sources: dict[str, dict[str, object]] = {}
        if seed:
            self._seed()

    def _seed(self) -> None:
        self.add_webhook(DEMO_WEBHOOK_ID, DEMO_WEBHOOK_TOKEN, slug=DEMO_FLOW_SLUG, name="Demo flow")
        self.org_keys[DEMO_ORG_KEY] = OrgKey(
            DEMO_ORG_KEY, frozenset({"kb:read", "kb:write", "flow:run"})
        )
        self.account_keys["ak_demo"] = AccountKey("ak_demo", "Demo account key", DEMO_ACCOUNT_KEY)
        self.sources[DEMO_SOURCE_ID] = {
            "id": DEMO_SOURCE_ID,
            "name": "Demo source",
            "org_id": DEMO_ORG_ID,
            "base_id": "kb_demo",
            "created_at": now_iso(),
        }

    # -- webhooks and flows ---------------------------------------------------------------------

    def add_webhook(
        self, webhook_id: str, token: str, *, slug: str | None = None, name: str | None = None
    ) -> Webhook:
        """Register a webhook (and the flow behind it); tests use this for extra flows."""
        flow_id = f"flow_{webhook_id.removeprefix('wh_')}"
        webhook = Webhook(webhook_id, token, flow_id)
        self.webhooks[webhook_id] = webhook
        self.flows[flow_id] = Flow(flow_id, slug or flow_id, name or flow_id, webhook_id)
        return webhook

    def flow_by_slug(self, slug: str) -> Flow | None:
        return next((flow for flow in self.flows.values() if flow.slug == slug), None)

    def account_key(self, plaintext: str) -> AccountKey | None:
        """The live account key with this plaintext, if any."""
        for key in self.account_keys.values():
            if key.plaintext == plaintext and key.revoked_at is None:
                return key
        return None

    def webhook_accepts(self, webhook_id: str, token: str) -> bool:
        """Whether ``token`` may run ``webhook_id``: its own ``sk_wh_`` token, an account key of
        the org, or a live stream token minted for it."""
        webhook = self.webhooks.get(webhook_id)
        if webhook is None or not token:
            return False
        if secrets.compare_digest(webhook.token, token):
            return True
        if self.account_key(token) is not None:
            return True
        minted = self.stream_tokens.get(token)
        return (
            minted is not None
            and minted.webhook_id == webhook_id
            and minted.expires_at > time.time()
        )

    def webhook_for_token(self, token: str) -> Webhook | None:
        """The webhook whose own token is ``token`` (the ``/h/{token}`` and audio lookups)."""
        for webhook in self.webhooks.values():
            if secrets.compare_digest(webhook.token, token):
                return webhook
        return None

    def org_key(self, key: str, scope: str) -> OrgKey | bool | None:
        """The org key, ``None`` if unknown, ``False`` if it lacks ``scope``."""
        found = self.org_keys.get(key)
        if found is None:
            return None
        return found if scope in found.scopes else False
