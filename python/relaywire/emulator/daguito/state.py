"""The Daguito side's in-memory state: credentials, webhooks and flows, uploads, knowledge.

Everything lives here so that the HTTP routes, the event stream and the audio socket agree on
who is allowed in and on what was uploaded. Seeds are the demo credentials the README lists.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from relaywire.emulator._http import new_id, now_iso
from relaywire.emulator._search import Chunk, SearchIndex, chunk_text, count_tokens

__all__ = [
    "DEMO_ACCOUNT_KEY",
    "DEMO_FLOW_SLUG",
    "DEMO_ORG_KEY",
    "DEMO_SOURCE_ID",
    "DEMO_WEBHOOK_ID",
    "DEMO_WEBHOOK_TOKEN",
    "MAX_UPLOAD_BYTES",
    "AccountKey",
    "DaguitoState",
    "Flow",
    "IngestJob",
    "OrgKey",
    "PublicKey",
    "StreamToken",
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
DEMO_BASE_ID = "kb_demo"
# The default cap on one presigned upload; ``DaguitoState.max_upload_bytes`` overrides it.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024

# Seeded into ``src_demo`` so that a fresh emulator can answer a knowledge search. One document
# per paragraph, each tagged with a ``topic`` so ``metadata_equals`` filters have something to hit.
DEMO_KNOWLEDGE: tuple[tuple[str, str], ...] = (
    (
        "passwords",
        "To reset your password, open Settings, choose Security and press Reset password. "
        "We email a reset link that stays valid for 30 minutes. If the email does not arrive, "
        "check the spam folder or ask an administrator to send a new link.",
    ),
    (
        "billing",
        "Invoices are issued on the first day of each month and paid by card or bank transfer. "
        "Refunds for annual plans are prorated; monthly plans can be cancelled at any time and "
        "stay active until the end of the billing period.",
    ),
    (
        "shipping",
        "Orders ship within two business days from our warehouse in Lisbon. Standard delivery "
        "takes three to five days in Europe; express delivery arrives the next day. Every "
        "parcel has a tracking number sent by SMS and email.",
    ),
    (
        "support",
        "Our support team answers chat and email from 9:00 to 18:00 CET, Monday to Friday. "
        "Urgent outages are handled around the clock through the status page and the on-call "
        "phone line listed in your contract.",
    ),
)


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
    org_id: str = DEMO_ORG_ID

    @property
    def key_prefix(self) -> str:
        return self.plaintext[:12]


@dataclass
class PublicKey:
    """A ``dgpk_flow_`` key that lets browsers run one flow from ``allowed_origins``."""

    id: str
    flow_id: str
    name: str
    plaintext: str
    allowed_origins: list[str] = field(default_factory=list)
    monthly_budget_micro_usd: int | None = None
    current_mtd_micro_usd: int = 0
    created_at: str = field(default_factory=now_iso)
    last_used_at: str | None = None
    revoked_at: str | None = None

    @property
    def key_prefix(self) -> str:
        return self.plaintext[:14]


@dataclass
class IngestJob:
    """An admin knowledge ingestion; the emulator ingests synchronously, so jobs end at once."""

    job_id: str
    source_id: str
    org_id: str
    status: str = "completed"
    progress: float = 1.0
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)


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
        # base id -> {"id", "name", "org_id", "created_at"}
        self.knowledge_bases: dict[str, dict[str, object]] = {}
        self.public_keys: dict[str, PublicKey] = {}
        self.ingest_jobs: dict[str, IngestJob] = {}
        self.max_upload_bytes = MAX_UPLOAD_BYTES
        # The org budget (one org in the emulator): ``None`` means no cap.
        self.org_budget_micro_usd: int | None = None
        self.org_mtd_micro_usd = 0
        # Requests per route template, for ``GET /v1/org/analytics``.
        self.http_by_path: Counter[str] = Counter()
        # What ``/v1/flows/upsert-agent`` and ``/v1/flows/upsert`` stored, per flow id.
        self.flow_versions: dict[str, int] = {}
        self.flow_specs: dict[str, dict[str, Any]] = {}
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
            "base_id": DEMO_BASE_ID,
            "created_at": now_iso(),
        }
        self.knowledge_bases[DEMO_BASE_ID] = {
            "id": DEMO_BASE_ID,
            "name": "Demo knowledge base",
            "org_id": DEMO_ORG_ID,
            "created_at": now_iso(),
        }
        for topic, text in DEMO_KNOWLEDGE:
            self.ingest_text(DEMO_SOURCE_ID, text, {"topic": topic})

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

    def webhooks_of_org(self, org_id: str) -> list[Webhook]:
        """The org's webhooks, oldest first."""
        return [webhook for webhook in self.webhooks.values() if webhook.org_id == org_id]

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

    # -- uploads and knowledge ------------------------------------------------------------------

    def upload_by_token(self, key: str, upload_token: str) -> Upload | None:
        """The upload at ``key`` if ``upload_token`` is its signature (constant-time check)."""
        upload = self.uploads.get(key)
        if upload is None or not secrets.compare_digest(upload.upload_token, upload_token):
            return None
        return upload

    def ingest_text(
        self, source_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> tuple[int, int]:
        """Chunk ``text`` into the source's index as one document: ``(chunk_count, token_count)``.

        The source must exist; callers check that (and answer 404) first."""
        document_id = new_id("doc")
        pieces = chunk_text(text)
        for index, piece in enumerate(pieces):
            self.knowledge.add(
                Chunk(
                    id=new_id("chk"),
                    content=piece,
                    source_id=source_id,
                    metadata=dict(metadata or {}),
                    document_id=document_id,
                    index=index,
                )
            )
        return len(pieces), count_tokens(text) if pieces else 0
