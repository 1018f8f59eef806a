"""The Linktor side's in-memory store, shared by both dialects, the realtime socket and webhooks.

Records are plain dicts in one canonical, snake_case shape (a superset of what either dialect
shows); :mod:`relaywire.emulator.linktor.wire` renders them per dialect. Every change that a
client could observe is announced on the store's event bus as a :class:`StoreEvent` named after
the SDK's webhook event types, so the realtime hub and the webhook sender see the same history.

All mutations happen on the emulator's event loop (route handlers, or ``Emulator.call``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from relaywire.emulator._http import ApiError, new_id
from relaywire.emulator._search import Chunk, SearchIndex, chunk_text

__all__ = [
    "DEMO_API_KEY",
    "DEMO_CHANNEL_ID",
    "DEMO_CONVERSATION_ID",
    "DEMO_EMAIL",
    "DEMO_KB_ID",
    "DEMO_PASSWORD",
    "DEMO_TENANT_ID",
    "DEMO_USER_ID",
    "LinktorStore",
    "Record",
    "StoreEvent",
    "stamp",
]

_log = logging.getLogger("relaywire.emulator.linktor")

DEMO_API_KEY = "lk_demo"
DEMO_EMAIL = "demo@linktor.local"
DEMO_PASSWORD = "demo-password"
DEMO_TENANT_ID = "tenant_demo"
DEMO_USER_ID = "usr_demo"
DEMO_CHANNEL_ID = "ch_demo"
DEMO_CONVERSATION_ID = "conv_demo"
DEMO_KB_ID = "kb_demo"

Record = dict[str, Any]


def stamp() -> str:
    """The current UTC time as RFC 3339 with microseconds and a ``Z``: the precision the
    self-hosted server's database keeps. Views cut it to what their protocol shows."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StoreEvent:
    """A change clients can observe. ``type`` is an SDK webhook event type such as
    ``message.sent``; ``record`` is a copy of the record after the change."""

    type: str
    tenant_id: str
    record: Record
    conversation_id: str | None = None
    previous: Record | None = None


Listener = Callable[[StoreEvent], None]

_MESSAGE_STATUS_EVENTS = {
    "delivered": "message.delivered",
    "read": "message.read",
    "failed": "message.failed",
    "sent": "message.sent",
}


class LinktorStore:
    """Tenants' users, keys, contacts, channels, conversations and messages (and more, added by
    the resource modules through :meth:`collection`)."""

    def __init__(self, *, seed: bool = True) -> None:
        self.users: dict[str, Record] = {}
        self.passwords: dict[str, str] = {}  # user id -> password
        self.api_keys: dict[str, Record] = {}  # plaintext key -> record
        self.contacts: dict[str, Record] = {}
        self.channels: dict[str, Record] = {}
        self.conversations: dict[str, Record] = {}
        self.messages: dict[str, Record] = {}
        self._collections: dict[str, dict[str, Record]] = {}
        self._listeners: list[Listener] = []
        # Every knowledge base's chunks, one index; ``source_id`` is the knowledge base id.
        self.knowledge = SearchIndex()
        if seed:
            self._seed()

    # -- event bus ------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every future event; returns the unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(
        self,
        event_type: str,
        record: Record,
        *,
        conversation_id: str | None = None,
        previous: Record | None = None,
    ) -> None:
        event = StoreEvent(
            event_type,
            str(record.get("tenant_id") or DEMO_TENANT_ID),
            copy.deepcopy(record),
            conversation_id,
            previous,
        )
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not break the request that changed data
                _log.exception("store listener failed for %s", event_type)

    def collection(self, name: str) -> dict[str, Record]:
        """A named record collection for resources this module does not define (bots, flows…)."""
        return self._collections.setdefault(name, {})

    # -- lookups --------------------------------------------------------------------------------

    @staticmethod
    def require(records: dict[str, Record], record_id: str, what: str) -> Record:
        """The record, or a 404 ``{WHAT}_NOT_FOUND`` error naming it."""
        record = records.get(record_id)
        if record is None:
            code = f"{what.upper().replace(' ', '_')}_NOT_FOUND"
            raise ApiError(404, code, f"{what} not found", {"id": record_id})
        return record

    def user_by_email(self, email: str) -> Record | None:
        wanted = email.strip().casefold()
        return next((u for u in self.users.values() if u["email"].casefold() == wanted), None)

    # -- contacts ---------------------------------------------------------------------------------

    def create_contact(self, fields: Record, *, tenant_id: str = DEMO_TENANT_ID) -> Record:
        now = stamp()
        contact: Record = {
            "id": new_id("ct"),
            "tenant_id": tenant_id,
            "external_id": None,
            "name": "",
            "email": None,
            "phone": None,
            "avatar_url": None,
            "identifiers": [],
            "custom_fields": None,
            "tags": None,
            "metadata": None,
            "last_seen_at": None,
            "created_at": now,
            "updated_at": now,
        }
        contact.update(fields)
        self.contacts[contact["id"]] = contact
        self.emit("contact.created", contact)
        return contact

    def update_contact(self, contact_id: str, changes: Record) -> Record:
        contact = self.require(self.contacts, contact_id, "contact")
        previous = copy.deepcopy(contact)
        contact.update(changes)
        contact["updated_at"] = stamp()
        self.emit("contact.updated", contact, previous=previous)
        return contact

    def conversation_count(self, contact_id: str) -> int:
        return sum(1 for c in self.conversations.values() if c["contact_id"] == contact_id)

    # -- channels ---------------------------------------------------------------------------------

    def create_channel(self, fields: Record, *, tenant_id: str = DEMO_TENANT_ID) -> Record:
        now = stamp()
        channel: Record = {
            "id": new_id("ch"),
            "tenant_id": tenant_id,
            "name": "",
            "type": "webchat",
            "status": "inactive",
            "enabled": True,
            "connection_status": "disconnected",
            "identifier": None,
            "config": {},
            "webhook_url": None,
            "metadata": None,
            "created_at": now,
            "updated_at": now,
        }
        channel.update(fields)
        self.channels[channel["id"]] = channel
        return channel

    def set_channel_connected(self, channel_id: str, connected: bool) -> Record:
        channel = self.require(self.channels, channel_id, "channel")
        previous = copy.deepcopy(channel)
        channel["status"] = "active" if connected else "inactive"
        channel["connection_status"] = "connected" if connected else "disconnected"
        channel["updated_at"] = stamp()
        self.emit(
            "channel.connected" if connected else "channel.disconnected", channel, previous=previous
        )
        return channel

    # -- conversations ----------------------------------------------------------------------------

    def create_conversation(self, fields: Record, *, tenant_id: str = DEMO_TENANT_ID) -> Record:
        channel = self.require(self.channels, fields["channel_id"], "channel")
        self.require(self.contacts, fields["contact_id"], "contact")
        now = stamp()
        conversation: Record = {
            "id": new_id("conv"),
            "tenant_id": tenant_id,
            "channel_id": channel["id"],
            "channel_type": channel["type"],
            "contact_id": fields["contact_id"],
            "status": "open",
            "priority": "normal",
            "subject": None,
            "assigned_to": None,
            "assigned_at": None,
            "last_message_id": None,
            "last_message_at": None,
            "unread_count": 0,
            "metadata": None,
            "tags": None,
            "first_reply_at": None,
            "resolved_at": None,
            "created_at": now,
            "updated_at": now,
        }
        conversation.update(fields)
        self.conversations[conversation["id"]] = conversation
        self.emit("conversation.created", conversation, conversation_id=conversation["id"])
        return conversation

    def update_conversation(self, conversation_id: str, changes: Record) -> Record:
        """Apply ``changes``; announces ``conversation.updated`` and, when they happen,
        ``conversation.assigned`` and ``conversation.resolved``."""
        conversation = self.require(self.conversations, conversation_id, "conversation")
        previous = copy.deepcopy(conversation)
        now = stamp()
        conversation.update(changes)
        if "assigned_to" in changes and changes["assigned_to"] != previous["assigned_to"]:
            conversation["assigned_at"] = now if changes["assigned_to"] else None
        if conversation["status"] == "resolved" and previous["status"] != "resolved":
            conversation["resolved_at"] = now
        conversation["updated_at"] = now
        self.emit(
            "conversation.updated", conversation, conversation_id=conversation_id, previous=previous
        )
        if conversation["assigned_to"] != previous["assigned_to"] and conversation["assigned_to"]:
            self.emit(
                "conversation.assigned",
                conversation,
                conversation_id=conversation_id,
                previous=previous,
            )
        if conversation["status"] == "resolved" and previous["status"] != "resolved":
            self.emit(
                "conversation.resolved",
                conversation,
                conversation_id=conversation_id,
                previous=previous,
            )
        return conversation

    # -- messages ---------------------------------------------------------------------------------

    def add_message(
        self,
        conversation_id: str,
        *,
        direction: str,
        content_type: str = "text",
        content: Record | None = None,
        sender_type: str,
        sender_id: str | None = None,
        metadata: Record | None = None,
        status: str | None = None,
        message_id: str | None = None,
        external_id: str | None = None,
    ) -> Record:
        """Store a message: ``outbound`` (sent by an agent, bot or the API) announces
        ``message.sent``, ``inbound`` (from the contact) announces ``message.received``.
        A ``pending`` message has not been sent yet, so it has no ``sent_at``."""
        if direction not in ("inbound", "outbound"):
            raise ValueError("direction must be 'inbound' or 'outbound'")
        conversation = self.require(self.conversations, conversation_id, "conversation")
        now = stamp()
        status = status or ("delivered" if direction == "inbound" else "sent")
        message: Record = {
            "id": message_id or new_id("msg"),
            "tenant_id": conversation["tenant_id"],
            "conversation_id": conversation_id,
            "direction": direction,
            "content_type": content_type,
            "content": dict(content or {}),
            "status": status,
            "external_id": external_id,
            "sender_id": sender_id,
            "sender_type": sender_type,
            "sent_at": None if status == "pending" else now,
            "delivered_at": now if direction == "inbound" and status == "delivered" else None,
            "read_at": None,
            "failed_reason": None,
            "metadata": metadata,
            "created_at": now,
            "updated_at": now,
        }
        self.messages[message["id"]] = message
        conversation["last_message_id"] = message["id"]
        conversation["last_message_at"] = now
        conversation["updated_at"] = now
        if direction == "inbound":
            conversation["unread_count"] += 1
        elif conversation["first_reply_at"] is None:
            conversation["first_reply_at"] = now
        self.emit(
            "message.received" if direction == "inbound" else "message.sent",
            message,
            conversation_id=conversation_id,
        )
        return message

    def set_message_status(
        self, message_id: str, status: str, *, failed_reason: str | None = None
    ) -> Record:
        """Move a message to ``delivered``, ``read`` or ``failed`` (announced as
        ``message.delivered`` and so on)."""
        if status not in _MESSAGE_STATUS_EVENTS and status != "pending":
            raise ApiError(400, "VALIDATION_ERROR", f"unknown message status: {status}")
        message = self.require(self.messages, message_id, "message")
        previous = copy.deepcopy(message)
        now = stamp()
        message["status"] = status
        if status == "sent":
            message["sent_at"] = message.get("sent_at") or now
        elif status == "delivered":
            message["delivered_at"] = now
        elif status == "read":
            message["read_at"] = now
            message["delivered_at"] = message["delivered_at"] or now
        elif status == "failed":
            message["failed_reason"] = failed_reason or "delivery failed"
        message["updated_at"] = now
        event = _MESSAGE_STATUS_EVENTS.get(status)
        if event is not None:
            self.emit(event, message, conversation_id=message["conversation_id"], previous=previous)
        return message

    def conversation_messages(self, conversation_id: str) -> list[Record]:
        """A conversation's messages, oldest first."""
        return [m for m in self.messages.values() if m["conversation_id"] == conversation_id]

    # -- seeds ------------------------------------------------------------------------------------

    def _seed(self) -> None:
        now = stamp()
        self.users[DEMO_USER_ID] = {
            "id": DEMO_USER_ID,
            "tenant_id": DEMO_TENANT_ID,
            "email": DEMO_EMAIL,
            "name": "Demo Admin",
            "role": "admin",
            "avatar_url": None,
            "phone": None,
            "status": "active",
            "last_login_at": None,
            "created_at": now,
            "updated_at": now,
        }
        self.passwords[DEMO_USER_ID] = DEMO_PASSWORD
        self.api_keys[DEMO_API_KEY] = {
            "id": "key_demo",
            "tenant_id": DEMO_TENANT_ID,
            "user_id": DEMO_USER_ID,
            "name": "Demo key",
            "key_prefix": DEMO_API_KEY[:12],
            "scopes": ["*"],
            "last_used_at": None,
            "expires_at": None,
            "created_at": now,
        }
        channel = self.create_channel(
            {
                "id": DEMO_CHANNEL_ID,
                "name": "Demo WhatsApp",
                "type": "whatsapp",
                "status": "active",
                "connection_status": "connected",
                "identifier": "+15550000000",
                "config": {"phone_number_id": "1555000"},
            }
        )
        names = [
            ("Ada Lovelace", "ada@example.com", "+15550000001"),
            ("Grace Hopper", "grace@example.com", "+15550000002"),
            ("Alan Turing", "alan@example.com", "+15550000003"),
            ("Katherine Johnson", "katherine@example.com", "+15550000004"),
            ("Edsger Dijkstra", "edsger@example.com", "+15550000005"),
        ]
        contacts = [
            self.create_contact(
                {
                    "id": f"ct_demo_{index}",
                    "name": name,
                    "email": email,
                    "phone": phone,
                    "identifiers": [
                        {
                            "channel_type": "whatsapp",
                            "channel_id": channel["id"],
                            "identifier": phone,
                            "display_name": name,
                        }
                    ],
                }
            )
            for index, (name, email, phone) in enumerate(names, start=1)
        ]
        statuses = ["open", "pending", "resolved", "snoozed"]
        for index in range(1, 29):
            conversation_id = DEMO_CONVERSATION_ID if index == 1 else f"conv_demo_{index:02d}"
            conversation = self.create_conversation(
                {
                    "id": conversation_id,
                    "channel_id": channel["id"],
                    "contact_id": contacts[(index - 1) % len(contacts)]["id"],
                    "status": "open" if index == 1 else statuses[index % len(statuses)],
                    "subject": f"Demo conversation {index}",
                    "tags": ["demo"],
                }
            )
            self.add_message(
                conversation["id"],
                direction="inbound",
                content={"text": f"Hello, this is demo message {index}"},
                sender_type="contact",
                sender_id=conversation["contact_id"],
            )
        self._seed_resources()

    # -- generic records (bots, agents, flows, knowledge bases…) -----------------------------------

    def create_record(
        self, collection: str, prefix: str, fields: Record, *, tenant_id: str = DEMO_TENANT_ID
    ) -> Record:
        """Store a new record in a named collection, with id, tenant and timestamps."""
        now = stamp()
        record: Record = {"id": new_id(prefix), "tenant_id": tenant_id}
        record.update(fields)
        record.setdefault("created_at", now)
        record.setdefault("updated_at", now)
        self.collection(collection)[record["id"]] = record
        return record

    # -- knowledge bases ----------------------------------------------------------------------

    def kb_entries(self, kb_id: str) -> list[Record]:
        """A knowledge base's documents and FAQ items, oldest first."""
        return [
            e for e in self.collection("kb_entries").values() if e["knowledge_base_id"] == kb_id
        ]

    def kb_chunk_count(self, kb_id: str) -> int:
        return sum(1 for chunk in self.knowledge.chunks() if chunk.source_id == kb_id)

    def add_kb_entry(self, kb: Record, fields: Record) -> Record:
        """Store a document or FAQ item (``kind`` ``"document"`` or ``"item"``) and index its
        text. ``content`` ``None`` stores it as ``failed`` (text that could not be read)."""
        now = stamp()
        entry: Record = {
            "id": new_id("doc" if fields.get("kind") == "document" else "kbi"),
            "tenant_id": kb["tenant_id"],
            "knowledge_base_id": kb["id"],
            "kind": "item",
            "name": "",
            "content": "",
            "type": "txt",
            "keywords": None,
            "source": None,
            "source_url": None,
            "metadata": None,
            "status": "completed",
            "error": None,
            "size": 0,
            "chunk_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        entry.update(fields)
        self.collection("kb_entries")[entry["id"]] = entry
        self.index_kb_entry(entry)
        return entry

    def index_kb_entry(self, entry: Record) -> None:
        """(Re)index an entry's text after it changed."""
        self.knowledge.remove_where(lambda chunk: chunk.document_id == entry["id"])
        if entry["content"] is None:
            entry["status"], entry["chunk_count"] = "failed", 0
            return
        kb = self.require(
            self.collection("knowledge_bases"), entry["knowledge_base_id"], "knowledge base"
        )
        if entry["kind"] == "item":
            text = f"{entry['name']}\n{entry['content']}"
            if entry.get("keywords"):
                text += "\n" + " ".join(entry["keywords"])
        else:
            text = entry["content"]
        size = int(kb.get("chunk_size") or 800)
        overlap = min(int(kb.get("chunk_overlap") or 0), size - 1)
        pieces = chunk_text(text, size, overlap)
        for index, piece in enumerate(pieces):
            self.knowledge.add(
                Chunk(
                    id=f"{entry['id']}_c{index}",
                    content=piece,
                    source_id=kb["id"],
                    metadata=dict(entry.get("metadata") or {}),
                    document_id=entry["id"],
                    index=index,
                )
            )
        entry["status"] = "completed"
        entry["error"] = None
        entry["size"] = len(text.encode())
        entry["chunk_count"] = len(pieces)

    def remove_kb_entry(self, entry_id: str) -> None:
        self.collection("kb_entries").pop(entry_id, None)
        self.knowledge.remove_where(lambda chunk: chunk.document_id == entry_id)

    def remove_knowledge_base(self, kb_id: str) -> None:
        self.collection("knowledge_bases").pop(kb_id, None)
        for entry in self.kb_entries(kb_id):
            self.remove_kb_entry(entry["id"])

    # -- more seeds ---------------------------------------------------------------------------

    def _seed_resources(self) -> None:
        now = stamp()
        self.collection("tenants")[DEMO_TENANT_ID] = {
            "id": DEMO_TENANT_ID,
            "name": "Demo Tenant",
            "slug": "demo",
            "plan": "professional",
            "status": "active",
            "settings": {},
            "created_at": now,
            "updated_at": now,
        }
        kb = self.create_record(
            "knowledge_bases",
            "kb",
            {
                "id": DEMO_KB_ID,
                "name": "Demo FAQ",
                "description": "Frequently asked questions of the demo tenant",
                "type": "faq",
                "embedding_model": "relaywire-hash-256",
                "chunk_size": 800,
                "chunk_overlap": 100,
                "config": {},
                "metadata": None,
            },
        )
        for number, (question, answer) in enumerate(_DEMO_FAQ, start=1):
            self.add_kb_entry(
                kb,
                {
                    "id": f"kbi_demo_{number}",
                    "kind": "item",
                    "name": question,
                    "content": answer,
                    "type": "txt",
                    "source": "faq",
                },
            )
        self.create_record(
            "flows",
            "flow",
            {
                "id": "flow_demo",
                "name": "Welcome",
                "description": "Greets the contact and asks what they need",
                "status": "active",
                "version": 1,
                "nodes": [
                    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                    {
                        "id": "greet",
                        "type": "message",
                        "position": {"x": 0, "y": 100},
                        "data": {"label": "Greet", "messageContent": "Hi! How can we help?"},
                    },
                    {
                        "id": "ask",
                        "type": "input",
                        "position": {"x": 0, "y": 200},
                        "data": {"label": "Ask", "inputVariable": "need"},
                    },
                    {"id": "end", "type": "end", "position": {"x": 0, "y": 300}, "data": {}},
                ],
                "edges": [
                    {"id": "e1", "source": "start", "target": "greet"},
                    {"id": "e2", "source": "greet", "target": "ask"},
                    {"id": "e3", "source": "ask", "target": "end"},
                ],
                "variables": [{"name": "need", "type": "string"}],
                "metadata": None,
                "server_nodes": None,
                "bot_id": "bot_demo",
                "trigger": "welcome",
                "trigger_value": None,
                "priority": 0,
            },
        )
        bot_defaults: Record = {
            "description": None,
            "provider": "openai",
            "channel_ids": [DEMO_CHANNEL_ID],
            "agent_id": None,
            "knowledge_base_ids": [DEMO_KB_ID],
            "metadata": None,
        }
        self.create_record(
            "bots",
            "bot",
            {
                **bot_defaults,
                "id": "bot_demo",
                "name": "Demo assistant",
                "status": "active",
                "type": "ai",
                "model": "gpt-4o-mini",
                "flow_id": None,
                "agent_id": "agent_demo",
                "config": {
                    "system_prompt": "You answer questions from the demo FAQ.",
                    "welcome_message": "Hello! Ask me anything about your account.",
                    "temperature": 0.2,
                    "max_tokens": 512,
                },
            },
        )
        self.create_record(
            "bots",
            "bot",
            {
                **bot_defaults,
                "id": "bot_demo_flow",
                "name": "Demo welcome flow",
                "status": "inactive",
                "type": "flow",
                "model": "gpt-4o-mini",
                "flow_id": "flow_demo",
                "config": {"welcome_message": "Welcome!"},
            },
        )
        self.create_record(
            "agents",
            "agent",
            {
                "id": "agent_demo",
                "name": "FAQ agent",
                "description": "Answers from the demo knowledge base",
                "status": "active",
                "model": "relaywire-echo-1",
                "system_prompt": "Answer from the knowledge base; say so when it has no answer.",
                "temperature": 0.0,
                "max_tokens": 512,
                "tools": None,
                "knowledge_base_ids": [DEMO_KB_ID],
                "metadata": None,
            },
        )


# The demo knowledge base: a small FAQ, searchable in both dialects.
_DEMO_FAQ = [
    (
        "How do I reset my password?",
        "Open the login page and choose 'Forgot password'. We email you a reset link that is "
        "valid for one hour; follow it and pick a new password of at least 8 characters.",
    ),
    (
        "How do I change the email address of my account?",
        "Go to Settings, then Profile, enter the new address and confirm it from the "
        "verification message we send to it.",
    ),
    (
        "What are your support hours?",
        "Our support team answers chats Monday to Friday, 9:00 to 18:00 (UTC-3).",
    ),
    (
        "How do refunds work?",
        "Refunds are issued to the original payment method within 7 business days after the "
        "returned order is received.",
    ),
    (
        "Which channels can I connect?",
        "WhatsApp, Telegram, Facebook Messenger, Instagram, SMS, e-mail, RCS and the web chat "
        "widget can all be connected from the Channels page.",
    ),
    (
        "How do I talk to a human agent?",
        "Type 'agent' at any time and the conversation is handed over to the next available "
        "human agent.",
    ),
]
