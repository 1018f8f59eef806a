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
from typing import Any

from relaywire.emulator._http import ApiError, new_id, now_iso

__all__ = [
    "DEMO_API_KEY",
    "DEMO_CHANNEL_ID",
    "DEMO_CONVERSATION_ID",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "DEMO_TENANT_ID",
    "DEMO_USER_ID",
    "LinktorStore",
    "Record",
    "StoreEvent",
]

_log = logging.getLogger("relaywire.emulator.linktor")

DEMO_API_KEY = "lk_demo"
DEMO_EMAIL = "demo@linktor.local"
DEMO_PASSWORD = "demo-password"
DEMO_TENANT_ID = "tenant_demo"
DEMO_USER_ID = "usr_demo"
DEMO_CHANNEL_ID = "ch_demo"
DEMO_CONVERSATION_ID = "conv_demo"

Record = dict[str, Any]


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
        now = now_iso()
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
        contact["updated_at"] = now_iso()
        self.emit("contact.updated", contact, previous=previous)
        return contact

    def conversation_count(self, contact_id: str) -> int:
        return sum(1 for c in self.conversations.values() if c["contact_id"] == contact_id)

    # -- channels ---------------------------------------------------------------------------------

    def create_channel(self, fields: Record, *, tenant_id: str = DEMO_TENANT_ID) -> Record:
        now = now_iso()
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
        channel["updated_at"] = now_iso()
        self.emit(
            "channel.connected" if connected else "channel.disconnected", channel, previous=previous
        )
        return channel

    # -- conversations ----------------------------------------------------------------------------

    def create_conversation(self, fields: Record, *, tenant_id: str = DEMO_TENANT_ID) -> Record:
        channel = self.require(self.channels, fields["channel_id"], "channel")
        self.require(self.contacts, fields["contact_id"], "contact")
        now = now_iso()
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
        now = now_iso()
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
    ) -> Record:
        """Store a message: ``outbound`` (sent by an agent, bot or the API) announces
        ``message.sent``, ``inbound`` (from the contact) announces ``message.received``."""
        if direction not in ("inbound", "outbound"):
            raise ValueError("direction must be 'inbound' or 'outbound'")
        conversation = self.require(self.conversations, conversation_id, "conversation")
        now = now_iso()
        message: Record = {
            "id": new_id("msg"),
            "tenant_id": conversation["tenant_id"],
            "conversation_id": conversation_id,
            "direction": direction,
            "content_type": content_type,
            "content": dict(content or {}),
            "status": status or ("delivered" if direction == "inbound" else "sent"),
            "external_id": None,
            "sender_id": sender_id,
            "sender_type": sender_type,
            "sent_at": now,
            "delivered_at": now if direction == "inbound" else None,
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
        now = now_iso()
        message["status"] = status
        if status == "delivered":
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
        now = now_iso()
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
