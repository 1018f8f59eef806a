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

import re
from collections.abc import Callable
from typing import Any

from relaywire.emulator._search import Chunk, count_tokens
from relaywire.emulator.linktor.store import LinktorStore, Record

__all__ = [
    "Times",
    "camel",
    "camelize_keys",
    "drop_none",
    "go_time",
    "identities_without",
    "message_text",
    "ms",
    "sdk_agent",
    "sdk_bot",
    "sdk_channel",
    "sdk_chunk",
    "sdk_contact",
    "sdk_content_type",
    "sdk_conversation",
    "sdk_document",
    "sdk_flow",
    "sdk_flow_execution",
    "sdk_knowledge_base",
    "sdk_message",
    "sdk_safe_channel",
    "sdk_safe_conversation",
    "sdk_safe_message",
    "sdk_user",
    "server_api_key",
    "server_bot",
    "server_channel",
    "server_contact",
    "server_conversation",
    "server_flow",
    "server_kb_item",
    "server_knowledge_base",
    "server_message",
    "server_rich_message",
    "server_user",
    "snake",
    "snakify_keys",
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


# -- timestamps ------------------------------------------------------------------------------------

#: How a view writes the store's timestamps (RFC 3339 with microseconds, ``Z``).
Times = Callable[[Any], Any]


def ms(value: Any) -> Any:
    """A store timestamp with milliseconds, as the SDK protocol (and the documented server
    profile) shows it: ``2024-01-15T10:30:00.123Z``. Anything else is returned unchanged."""
    if isinstance(value, str) and len(value) == 27 and value[19] == "." and value[26] == "Z":
        return value[:23] + "Z"
    return value


def go_time(value: Any) -> Any:
    """A store timestamp as Go's ``time.Time`` marshals it (RFC 3339 with the fraction's
    trailing zeros dropped, and no fraction at all when it is zero), the way the self-hosted
    server writes the microseconds its database keeps: ``2024-01-15T10:30:00.12345Z``."""
    if isinstance(value, str) and len(value) > 20 and value[19] == "." and value[-1] == "Z":
        fraction = value[20:-1].rstrip("0")
        return f"{value[:19]}.{fraction}Z" if fraction else f"{value[:19]}Z"
    return value


def drop_none(record: Record) -> Record:
    return {k: v for k, v in record.items() if v is not None}


def message_text(message: Record) -> str:
    """The text of a message's content, or ``""``."""
    text = message.get("content", {}).get("text")
    return text if isinstance(text, str) else ""


# -- SDK dialect -----------------------------------------------------------------------------------

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
        "createdAt": ms(user["created_at"]),
        "updatedAt": ms(user["updated_at"]),
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
        "deliveredAt": ms(message.get("delivered_at")),
        "readAt": ms(message.get("read_at")),
        "failedReason": message.get("failed_reason"),
        "metadata": message.get("metadata"),
        "createdAt": ms(message["created_at"]),
        "updatedAt": ms(message["updated_at"]),
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
        "assignedAt": ms(conversation.get("assigned_at")),
        "lastMessage": sdk_message(last) if last else None,
        "lastMessageAt": ms(conversation.get("last_message_at")),
        "unreadCount": conversation["unread_count"],
        "metadata": conversation.get("metadata"),
        "tags": conversation.get("tags"),
        "createdAt": ms(conversation["created_at"]),
        "updatedAt": ms(conversation["updated_at"]),
    }


def _sdk_identifier(identity: Record) -> Record:
    shown: Record = camelize_keys(identity)
    if "createdAt" in shown:
        shown["createdAt"] = ms(shown["createdAt"])
    return shown


def sdk_contact(contact: Record, store: LinktorStore) -> Record:
    return {
        "id": contact["id"],
        "tenantId": contact["tenant_id"],
        "externalId": contact.get("external_id"),
        "name": contact.get("name") or "",
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "avatarUrl": contact.get("avatar_url"),
        "identifiers": [_sdk_identifier(ident) for ident in contact.get("identifiers") or []],
        "customFields": contact.get("custom_fields"),
        "tags": contact.get("tags"),
        "metadata": contact.get("metadata"),
        "lastSeenAt": ms(contact.get("last_seen_at")),
        "conversationCount": store.conversation_count(contact["id"]),
        "createdAt": ms(contact["created_at"]),
        "updatedAt": ms(contact["updated_at"]),
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
        "createdAt": ms(channel["created_at"]),
        "updatedAt": ms(channel["updated_at"]),
    }


# -- server dialect --------------------------------------------------------------------------------

_SERVER_CONVERSATION_STATUS = {"snoozed": "pending"}
_SERVER_SENDER_TYPE = {"agent": "user"}


def server_user(user: Record, *, t: Times = ms) -> Record:
    return drop_none(
        {
            "id": user["id"],
            "tenant_id": user["tenant_id"],
            "email": user["email"],
            "name": user["name"],
            "role": user["role"],
            "avatar_url": user.get("avatar_url"),
            "status": user.get("status", "active"),
            "last_login_at": t(user.get("last_login_at")),
            "created_at": t(user["created_at"]),
            "updated_at": t(user["updated_at"]),
        }
    )


def server_message(message: Record, *, t: Times = ms) -> Record:
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
            "sent_at": t(message.get("sent_at")),
            "delivered_at": t(message.get("delivered_at")),
            "read_at": t(message.get("read_at")),
            "created_at": t(message["created_at"]),
        }
    )


def server_conversation(conversation: Record, *, t: Times = ms) -> Record:
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
            "last_message_at": t(conversation.get("last_message_at")),
            "first_reply_at": t(conversation.get("first_reply_at")),
            "resolved_at": t(conversation.get("resolved_at")),
            "created_at": t(conversation["created_at"]),
            "updated_at": t(conversation["updated_at"]),
        }
    )


def server_contact(contact: Record, *, t: Times = ms) -> Record:
    identities = [
        drop_none(
            {
                "id": ident.get("id") or f"{contact['id']}_ident_{index}",
                "contact_id": contact["id"],
                "channel_type": ident.get("channel_type"),
                "identifier": ident.get("identifier"),
                "metadata": ident.get("metadata"),
                "created_at": t(ident.get("created_at") or contact["created_at"]),
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
            "created_at": t(contact["created_at"]),
            "updated_at": t(contact["updated_at"]),
        }
    )


def identities_without(contact: Record, identity_id: str) -> list[Record] | None:
    """The contact's identities but the one whose id (as :func:`server_contact` shows it) is
    ``identity_id``; ``None`` when it has none with that id."""
    shown = server_contact(contact).get("identities") or []
    kept = [
        ident
        for ident, view in zip(contact.get("identifiers") or [], shown, strict=True)
        if view["id"] != identity_id
    ]
    return None if len(kept) == len(shown) else kept


def server_channel(channel: Record, *, t: Times = ms) -> Record:
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
            "created_at": t(channel["created_at"]),
            "updated_at": t(channel["updated_at"]),
        }
    )


# -- resources beyond messaging, and enum-safe SDK views ------------------------------------------

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake(name: str) -> str:
    """``camelCase`` -> ``snake_case`` (``snake_case`` stays as it is)."""
    return _CAMEL_HUMP.sub(r"_\1", name).lower()


def snakify_keys(value: Any) -> Any:
    """Rename the keys of nested dicts to snake_case, leaving user-data maps untouched."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = snake(key)
            out[name] = item if name in _OPAQUE else snakify_keys(item)
        return out
    if isinstance(value, list):
        return [snakify_keys(item) for item in value]
    return value


# Server-only values mapped to the nearest value the SDK's strict enums accept.
_SDK_CHANNEL_TYPE = {
    "whatsapp_official": "whatsapp",
    "whatsapp_unofficial": "whatsapp",
    "voice": "sms",  # the SDK has no voice type; SMS keeps the phone-number identity
}
_SDK_CONTENT_TYPE = {"template": "text", "interactive": "text", "poll": "text", "reaction": "text"}


def sdk_content_type(content_type: str) -> str:
    """The SDK's word for a server content type (``template`` and other extras are ``text``)."""
    return _SDK_CONTENT_TYPE.get(content_type, content_type)


def sdk_safe_message(message: Record) -> Record:
    """:func:`sdk_message` with a content type the SDK's enum accepts."""
    body = sdk_message(message)
    body["contentType"] = _SDK_CONTENT_TYPE.get(body["contentType"], body["contentType"])
    return body


def sdk_safe_conversation(conversation: Record, store: LinktorStore) -> Record:
    """:func:`sdk_conversation` with enum-safe channel and content types."""
    body = sdk_conversation(conversation, store)
    body["channelType"] = _SDK_CHANNEL_TYPE.get(body["channelType"], body["channelType"])
    if body["lastMessage"] is not None:
        last = store.messages[conversation["last_message_id"]]
        body["lastMessage"] = sdk_safe_message(last)
    return body


def sdk_safe_channel(channel: Record) -> Record:
    body = sdk_channel(channel)
    body["type"] = _SDK_CHANNEL_TYPE.get(body["type"], body["type"])
    return body


def server_rich_message(message: Record, *, t: Times = ms) -> Record:
    """:func:`server_message` plus what the server shows of non-text messages: the original
    content type, a media URL as content, reactions."""
    body = server_message(message, t=t)
    body["content_type"] = message.get("server_content_type") or message["content_type"]
    if not body.get("content"):
        media = message["content"].get("media")
        if isinstance(media, dict) and isinstance(media.get("url"), str):
            body["content"] = media["url"]
    if message.get("reactions"):
        body["reactions"] = message["reactions"]
    return body


def server_api_key(key: Record, *, t: Times = ms) -> Record:
    shown = drop_none({k: v for k, v in key.items() if k != "key"})
    for name in ("created_at", "last_used_at"):
        if name in shown:
            shown[name] = t(shown[name])
    return shown


# Bots: the canonical record uses the SDK's type and status words.
_SERVER_BOT_TYPE = {"flow": "rule_based"}
_SERVER_BOT_STATUS = {"draft": "training"}
_SERVER_BOT_CONFIG: dict[str, Any] = {
    "system_prompt": "",
    "temperature": 0.7,
    "max_tokens": 1024,
    "confidence_threshold": 0.7,
    "escalation_rules": [],
    "knowledge_base_id": "",
    "welcome_message": "",
    "fallback_message": "",
    "context_window_size": 10,
    "enabled_intents": [],
    "max_response_length": 0,
    "enable_vre_tools": False,
}
_SDK_BOT_CONFIG = ("welcome_message", "fallback_message", "handoff_message", "handoff_triggers")
_SDK_AI_CONFIG = ("temperature", "max_tokens", "system_prompt", "enable_streaming")


def sdk_bot(bot: Record) -> Record:
    config: Record = bot.get("config") or {}
    sdk_config = {key: config[key] for key in _SDK_BOT_CONFIG if config.get(key) is not None}
    if config.get("operating_hours") is not None:
        sdk_config["operating_hours"] = config["operating_hours"]
    if bot.get("model"):
        ai = {key: config[key] for key in _SDK_AI_CONFIG if config.get(key) is not None}
        ai["model"] = bot["model"]
        ai["use_knowledge_base"] = bool(
            config.get("use_knowledge_base", bool(bot.get("knowledge_base_ids")))
        )
        sdk_config["ai_config"] = ai
    return {
        "id": bot["id"],
        "tenantId": bot["tenant_id"],
        "name": bot["name"],
        "description": bot.get("description"),
        "status": bot["status"],
        "type": bot["type"],
        "config": camelize_keys(sdk_config),
        "channelIds": list(bot.get("channel_ids") or []),
        "flowId": bot.get("flow_id"),
        "agentId": bot.get("agent_id"),
        "knowledgeBaseIds": bot.get("knowledge_base_ids"),
        "metadata": bot.get("metadata"),
        "createdAt": ms(bot["created_at"]),
        "updatedAt": ms(bot["updated_at"]),
    }


def server_bot(bot: Record, *, t: Times = ms) -> Record:
    config: Record = bot.get("config") or {}
    server_config = {key: config.get(key, default) for key, default in _SERVER_BOT_CONFIG.items()}
    for key in ("working_hours", "tools", "tool_choice"):
        if config.get(key) is not None:
            server_config[key] = config[key]
    return {
        "id": bot["id"],
        "tenant_id": bot["tenant_id"],
        "name": bot["name"],
        "type": _SERVER_BOT_TYPE.get(bot["type"], bot["type"]),
        "provider": bot.get("provider") or "openai",
        "model": bot.get("model") or "gpt-4o-mini",
        "config": server_config,
        "status": _SERVER_BOT_STATUS.get(bot["status"], bot["status"]),
        "channels": list(bot.get("channel_ids") or []),
        "created_at": t(bot["created_at"]),
        "updated_at": t(bot["updated_at"]),
    }


def sdk_agent(agent: Record) -> Record:
    return {
        "id": agent["id"],
        "tenantId": agent["tenant_id"],
        "name": agent["name"],
        "description": agent.get("description"),
        "status": agent["status"],
        "model": agent["model"],
        "systemPrompt": agent.get("system_prompt"),
        "temperature": agent["temperature"],
        "maxTokens": agent["max_tokens"],
        "tools": agent.get("tools"),
        "knowledgeBaseIds": agent.get("knowledge_base_ids"),
        "metadata": agent.get("metadata"),
        "createdAt": ms(agent["created_at"]),
        "updatedAt": ms(agent["updated_at"]),
    }


def sdk_knowledge_base(kb: Record, store: LinktorStore) -> Record:
    entries = store.kb_entries(kb["id"])
    chunks = store.kb_chunk_count(kb["id"])
    return {
        "id": kb["id"],
        "tenantId": kb["tenant_id"],
        "name": kb["name"],
        "description": kb.get("description"),
        "status": "active" if chunks else "empty",
        "embeddingModel": kb["embedding_model"],
        "chunkSize": kb["chunk_size"],
        "chunkOverlap": kb["chunk_overlap"],
        "documentCount": len(entries),
        "totalChunks": chunks,
        "metadata": kb.get("metadata"),
        "createdAt": ms(kb["created_at"]),
        "updatedAt": ms(kb["updated_at"]),
    }


def server_knowledge_base(kb: Record, store: LinktorStore, *, t: Times = ms) -> Record:
    config = {
        **(kb.get("config") or {}),
        "embedding_model": kb["embedding_model"],
        "chunk_size": kb["chunk_size"],
        "chunk_overlap": kb["chunk_overlap"],
    }
    entries = store.kb_entries(kb["id"])
    return drop_none(
        {
            "id": kb["id"],
            "tenant_id": kb["tenant_id"],
            "name": kb["name"],
            "description": kb.get("description"),
            "type": kb.get("type") or "documents",
            "config": config,
            "status": "active",
            "item_count": len(entries),
            "last_sync_at": t(max((e["updated_at"] for e in entries), default=None)),
            "created_at": t(kb["created_at"]),
            "updated_at": t(kb["updated_at"]),
        }
    )


def sdk_document(entry: Record) -> Record:
    """A knowledge-base entry as the SDK's ``Document`` (FAQ items are one-chunk text files)."""
    return {
        "id": entry["id"],
        "knowledgeBaseId": entry["knowledge_base_id"],
        "name": entry["name"],
        "type": entry["type"],
        "sourceUrl": entry.get("source_url"),
        "status": entry["status"],
        "size": entry["size"],
        "chunkCount": entry["chunk_count"],
        "metadata": entry.get("metadata"),
        "error": entry.get("error"),
        "createdAt": ms(entry["created_at"]),
        "updatedAt": ms(entry["updated_at"]),
    }


def server_kb_item(entry: Record, *, t: Times = ms) -> Record:
    """A knowledge-base entry as the server's FAQ item (a document's name is its question)."""
    return drop_none(
        {
            "id": entry["id"],
            "knowledge_base_id": entry["knowledge_base_id"],
            "question": entry["name"],
            "answer": entry["content"] or "",
            "keywords": entry.get("keywords"),
            "source": entry.get("source"),
            "metadata": entry.get("metadata"),
            "created_at": t(entry["created_at"]),
            "updated_at": t(entry["updated_at"]),
        }
    )


def sdk_chunk(chunk: Chunk, score: float) -> Record:
    """A search hit as the SDK's ``ScoredChunk``."""
    return {
        "id": chunk.id,
        "documentId": chunk.document_id,
        "content": chunk.content,
        "chunkIndex": chunk.index,
        "tokenCount": count_tokens(chunk.content),
        "metadata": chunk.metadata or None,
        "score": score,
    }


# Flows: the canonical record holds the SDK's graph (nodes + edges); the server's node list is
# derived from it unless the flow was written by the server dialect (kept as sent).
_SERVER_NODE_TYPE = {"start": "message", "input": "question", "ai": "action", "api": "action"}
_SERVER_NODE_TYPE.update({"delay": "action", "assign": "action"})
_SERVER_CONDITIONS = frozenset({"default", "reply_equals", "contains", "regex", "entity"})


def server_flow_nodes(flow: Record) -> list[Record]:
    if flow.get("server_nodes") is not None:
        return list(flow["server_nodes"])
    edges = flow.get("edges") or []
    nodes = []
    for node in flow.get("nodes") or []:
        data = node.get("data") or {}
        transitions = [
            {
                "id": edge["id"],
                "to_node_id": edge["target"],
                "condition": edge.get("condition")
                if edge.get("condition") in _SERVER_CONDITIONS
                else "default",
                "value": edge.get("label"),
                "priority": order,
            }
            for order, edge in enumerate(e for e in edges if e.get("source") == node["id"])
        ]
        nodes.append(
            drop_none(
                {
                    "id": node["id"],
                    "type": _SERVER_NODE_TYPE.get(node["type"], node["type"]),
                    "content": data.get("messageContent") or data.get("prompt"),
                    "transitions": [drop_none(t) for t in transitions],
                }
            )
        )
    return nodes


def sdk_flow(flow: Record) -> Record:
    return {
        "id": flow["id"],
        "tenantId": flow["tenant_id"],
        "name": flow["name"],
        "description": flow.get("description"),
        "status": flow["status"],
        "version": flow["version"],
        "nodes": flow.get("nodes") or [],
        "edges": flow.get("edges") or [],
        "variables": flow.get("variables"),
        "metadata": flow.get("metadata"),
        "createdAt": ms(flow["created_at"]),
        "updatedAt": ms(flow["updated_at"]),
    }


def server_flow(flow: Record, *, t: Times = ms) -> Record:
    nodes = server_flow_nodes(flow)
    return drop_none(
        {
            "id": flow["id"],
            "tenant_id": flow["tenant_id"],
            "bot_id": flow.get("bot_id"),
            "name": flow["name"],
            "description": flow.get("description"),
            "trigger": flow.get("trigger") or "manual",
            "trigger_value": flow.get("trigger_value"),
            "start_node_id": flow.get("start_node_id") or (nodes[0]["id"] if nodes else ""),
            "nodes": nodes,
            "is_active": flow["status"] == "active",
            "priority": flow.get("priority") or 0,
            "created_at": t(flow["created_at"]),
            "updated_at": t(flow["updated_at"]),
        }
    )


def sdk_flow_execution(execution: Record) -> Record:
    return {
        "id": execution["id"],
        "flowId": execution["flow_id"],
        "conversationId": execution["conversation_id"],
        "status": execution["status"],
        "currentNodeId": execution.get("current_node_id"),
        "variables": execution.get("variables") or {},
        "history": [camelize_keys(step) for step in execution["history"]],
        "startedAt": execution["started_at"],
        "completedAt": execution.get("completed_at"),
        "error": execution.get("error"),
    }
