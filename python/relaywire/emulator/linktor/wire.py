"""Store records rendered for each Linktor dialect.

* ``sdk_*``: what the official SDKs and the Go documentation expect at ``/linktor``: camelCase
  keys, the SDK's enum values, structured message content.
* ``server_*``: what the self-hosted server sends at ``/linktor/api/v1``: snake_case keys, the
  server's enum values (``user`` senders, ``closed`` conversations, string message content),
  optional fields left out when empty, as Go's ``omitempty`` does.

One function per resource and dialect; the realtime hub and the webhook sender use the same
functions as the REST routes, so a record looks the same wherever a client meets it.
"""

from __future__ import annotations

from typing import Any

from relaywire.emulator.linktor.store import LinktorStore, Record

__all__ = [
    "camel",
    "camelize_keys",
    "drop_none",
    "message_text",
    "sdk_channel",
    "sdk_contact",
    "sdk_conversation",
    "sdk_message",
    "sdk_user",
    "server_channel",
    "server_contact",
    "server_conversation",
    "server_message",
    "server_user",
]


def camel(name: str) -> str:
    """``snake_case`` -> ``camelCase``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# Maps whose keys are user data and must never be renamed.
_OPAQUE = frozenset({"metadata", "custom_fields", "config", "data", "variables", "headers"})


def camelize_keys(value: Any) -> Any:
    """Rename the keys of nested dicts to camelCase, leaving user-data maps untouched."""
    if isinstance(value, dict):
        return {camel(k): (v if k in _OPAQUE else camelize_keys(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [camelize_keys(item) for item in value]
    return value


def drop_none(record: Record) -> Record:
    return {k: v for k, v in record.items() if v is not None}


def message_text(message: Record) -> str:
    """The text of a message's content, or ``""``."""
    text = message.get("content", {}).get("text")
    return text if isinstance(text, str) else ""


# -- SDK dialect ------------------------------------------------------------------------------------

_SDK_CONVERSATION_STATUS = {"closed": "resolved"}
_SDK_SENDER_TYPE = {"user": "agent"}


def sdk_user(user: Record) -> Record:
    return {
        "id": user["id"],
        "email": user["email"],
        "name": user["name"],
        "role": user["role"] if user["role"] != "owner" else "admin",
        "tenantId": user["tenant_id"],
        "avatarUrl": user.get("avatar_url"),
        "phone": user.get("phone"),
        "createdAt": user["created_at"],
        "updatedAt": user["updated_at"],
    }


def sdk_message(message: Record) -> Record:
    return {
        "id": message["id"],
        "conversationId": message["conversation_id"],
        "direction": message["direction"],
        "contentType": message["content_type"],
        "content": camelize_keys(message["content"]),
        "status": message["status"],
        "externalId": message.get("external_id"),
        "senderId": message.get("sender_id"),
        "senderType": _SDK_SENDER_TYPE.get(message["sender_type"], message["sender_type"]),
        "deliveredAt": message.get("delivered_at"),
        "readAt": message.get("read_at"),
        "failedReason": message.get("failed_reason"),
        "metadata": message.get("metadata"),
        "createdAt": message["created_at"],
        "updatedAt": message["updated_at"],
    }


def sdk_conversation(conversation: Record, store: LinktorStore) -> Record:
    last_id = conversation.get("last_message_id")
    last = store.messages.get(last_id) if last_id else None
    return {
        "id": conversation["id"],
        "tenantId": conversation["tenant_id"],
        "channelId": conversation["channel_id"],
        "channelType": conversation["channel_type"],
        "contactId": conversation["contact_id"],
        "status": _SDK_CONVERSATION_STATUS.get(conversation["status"], conversation["status"]),
        "assignedTo": conversation.get("assigned_to"),
        "assignedAt": conversation.get("assigned_at"),
        "lastMessage": sdk_message(last) if last else None,
        "lastMessageAt": conversation.get("last_message_at"),
        "unreadCount": conversation["unread_count"],
        "metadata": conversation.get("metadata"),
        "tags": conversation.get("tags"),
        "createdAt": conversation["created_at"],
        "updatedAt": conversation["updated_at"],
    }


def sdk_contact(contact: Record, store: LinktorStore) -> Record:
    return {
        "id": contact["id"],
        "tenantId": contact["tenant_id"],
        "externalId": contact.get("external_id"),
        "name": contact.get("name") or "",
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "avatarUrl": contact.get("avatar_url"),
        "identifiers": [camelize_keys(ident) for ident in contact.get("identifiers") or []],
        "customFields": contact.get("custom_fields"),
        "tags": contact.get("tags"),
        "metadata": contact.get("metadata"),
        "lastSeenAt": contact.get("last_seen_at"),
        "conversationCount": store.conversation_count(contact["id"]),
        "createdAt": contact["created_at"],
        "updatedAt": contact["updated_at"],
    }


def sdk_channel(channel: Record) -> Record:
    return {
        "id": channel["id"],
        "tenantId": channel["tenant_id"],
        "name": channel["name"],
        "type": channel["type"],
        "status": channel["status"],
        "config": channel.get("config") or {},
        "webhookUrl": channel.get("webhook_url"),
        "metadata": channel.get("metadata"),
        "createdAt": channel["created_at"],
        "updatedAt": channel["updated_at"],
    }


# -- server dialect ---------------------------------------------------------------------------------

_SERVER_CONVERSATION_STATUS = {"snoozed": "pending"}
_SERVER_SENDER_TYPE = {"agent": "user"}


def server_user(user: Record) -> Record:
    return drop_none(
        {
            "id": user["id"],
            "tenant_id": user["tenant_id"],
            "email": user["email"],
            "name": user["name"],
            "role": user["role"],
            "avatar_url": user.get("avatar_url"),
            "status": user.get("status", "active"),
            "last_login_at": user.get("last_login_at"),
            "created_at": user["created_at"],
            "updated_at": user["updated_at"],
        }
    )


def server_message(message: Record) -> Record:
    return drop_none(
        {
            "id": message["id"],
            "conversation_id": message["conversation_id"],
            "sender_type": _SERVER_SENDER_TYPE.get(message["sender_type"], message["sender_type"]),
            "sender_id": message.get("sender_id"),
            "content_type": message["content_type"],
            "content": message_text(message),
            "metadata": message.get("metadata"),
            "status": message["status"],
            "external_id": message.get("external_id"),
            "error_message": message.get("failed_reason"),
            "sent_at": message.get("sent_at"),
            "delivered_at": message.get("delivered_at"),
            "read_at": message.get("read_at"),
            "created_at": message["created_at"],
        }
    )


def server_conversation(conversation: Record) -> Record:
    status = conversation["status"]
    return drop_none(
        {
            "id": conversation["id"],
            "tenant_id": conversation["tenant_id"],
            "contact_id": conversation["contact_id"],
            "channel_id": conversation["channel_id"],
            "assigned_user_id": conversation.get("assigned_to"),
            "status": _SERVER_CONVERSATION_STATUS.get(status, status),
            "priority": conversation.get("priority") or "normal",
            "subject": conversation.get("subject"),
            "tags": conversation.get("tags"),
            "metadata": conversation.get("metadata"),
            "unread_count": conversation["unread_count"],
            "last_message_at": conversation.get("last_message_at"),
            "first_reply_at": conversation.get("first_reply_at"),
            "resolved_at": conversation.get("resolved_at"),
            "created_at": conversation["created_at"],
            "updated_at": conversation["updated_at"],
        }
    )


def server_contact(contact: Record) -> Record:
    identities = [
        drop_none(
            {
                "id": ident.get("id") or f"{contact['id']}_ident_{index}",
                "contact_id": contact["id"],
                "channel_type": ident.get("channel_type"),
                "identifier": ident.get("identifier"),
                "metadata": ident.get("metadata"),
                "created_at": ident.get("created_at") or contact["created_at"],
            }
        )
        for index, ident in enumerate(contact.get("identifiers") or [])
    ]
    return drop_none(
        {
            "id": contact["id"],
            "tenant_id": contact["tenant_id"],
            "name": contact.get("name"),
            "email": contact.get("email"),
            "phone": contact.get("phone"),
            "avatar_url": contact.get("avatar_url"),
            "custom_fields": contact.get("custom_fields"),
            "tags": contact.get("tags"),
            "identities": identities or None,
            "created_at": contact["created_at"],
            "updated_at": contact["updated_at"],
        }
    )


def server_channel(channel: Record) -> Record:
    return drop_none(
        {
            "id": channel["id"],
            "tenant_id": channel["tenant_id"],
            "type": channel["type"],
            "name": channel["name"],
            "identifier": channel.get("identifier"),
            "enabled": bool(channel.get("enabled", True)),
            "connection_status": channel.get("connection_status", "disconnected"),
            "config": channel.get("config") or None,
            "webhook_url": channel.get("webhook_url"),
            "created_at": channel["created_at"],
            "updated_at": channel["updated_at"],
        }
    )
