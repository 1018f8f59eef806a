"""Linktor REST, messaging half: auth, the caller, tenant, users, API keys, conversations,
messages, contacts and channels, in both dialects (spec/linktor.md 1.4 and 3.5-3.6)."""

from __future__ import annotations

import mimetypes
import secrets
from datetime import datetime, timezone
from typing import Any

from starlette.responses import Response

from relaywire.emulator._http import ApiError, new_id, now_iso
from relaywire.emulator.linktor import rest_code
from relaywire.emulator.linktor.dialect import ACCESS_TTL, REFRESH_TTL, Dialect
from relaywire.emulator.linktor.rest_core import Api, Call, CodeList, Field, Resource, apply
from relaywire.emulator.linktor.store import LinktorStore, Record, stamp
from relaywire.emulator.linktor.wire import (
    drop_none,
    identities_without,
    message_text,
    sdk_contact,
    sdk_content_type,
    sdk_safe_channel,
    sdk_safe_conversation,
    sdk_safe_message,
    sdk_user,
    server_api_key,
    server_channel,
    server_contact,
    server_conversation,
    server_rich_message,
    server_user,
    snakify_keys,
)

__all__ = ["register"]

SDK, SERVER = Dialect.SDK, Dialect.SERVER

SDK_CHANNEL_TYPES: tuple[str, ...] = (
    *("whatsapp", "telegram", "facebook", "instagram", "webchat", "sms", "email", "rcs"),
)
SERVER_CHANNEL_TYPES = (*SDK_CHANNEL_TYPES, "whatsapp_official", "whatsapp_unofficial", "voice")
SERVER_CONTENT_TYPES = (
    *("text", "image", "video", "audio", "document", "location", "contact", "template"),
    *("interactive", "sticker", "poll", "reaction"),
)
_MEDIA_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg",
    "document": "application/pdf",
    "sticker": "image/webp",
}
PRIORITIES = ("low", "normal", "high", "urgent")


def register(api: Api) -> None:
    """Add the messaging routes of ``api``'s dialect (and, for the server, its profile)."""
    _register_auth(api)
    if api.code:
        rest_code.register(api)
    else:
        _register_documented(api)
    if api.sdk:
        return
    USERS.register(api)
    api.add("GET", "/api-keys", _list_keys, admin=True)
    api.add("POST", "/api-keys", _create_key, admin=True)
    api.add("DELETE", "/api-keys/{id}", _delete_key, admin=True)
    api.add("GET", "/tenant", _tenant)
    api.add("PUT", "/tenant", _update_tenant)
    api.add("GET", "/tenant/usage", _usage)


def _register_documented(api: Api) -> None:
    """Conversations, messages, contacts and channels as the SDKs and the server's
    documentation describe them (the SDK mount, and the server's ``"documented"`` profile)."""
    for resource in (CONVERSATIONS, CONTACTS, CHANNELS):
        resource.register(api)
    api.add("POST", "/conversations/{id}/assign", _assign)
    api.add("GET", "/conversations/{id}/messages", _list_messages)
    api.add("POST", "/conversations/{id}/messages", _send_message)
    api.add("GET", "/messages/{id}", _get_message)
    api.add("POST", "/channels/{id}/connect", _connect)
    api.add("POST", "/channels/{id}/disconnect", _disconnect)
    if api.sdk:
        return
    api.add("POST", "/conversations/{id}/resolve", _resolve)
    api.add("POST", "/conversations/{id}/reopen", _reopen)
    api.add("POST", "/conversations/{id}/messages/{message_id}/reactions", _react)
    api.add("POST", "/contacts/{id}/identities", _add_identity)
    api.add("DELETE", "/contacts/{id}/identities/{identity_id}", _remove_identity)
    api.add("PUT", "/channels/{id}/status", _channel_status)
    api.add("PUT", "/channels/{id}/enabled", _channel_enabled)


# -- auth and the caller ---------------------------------------------------------------------------


def _register_auth(api: Api) -> None:
    api.add("POST", "/auth/login", _login, public=True)
    api.add("POST", "/auth/refresh", _refresh, public=True)
    if api.sdk:
        api.add("POST", "/auth/logout", _logout)
        api.add("GET", "/auth/me", _me)
    else:
        api.add("GET", "/me", _me)
        api.add("PUT", "/me", _update_me)
        api.add("PUT", "/me/password", _change_password)


def _user_view(call: Call, user: Record) -> Record:
    return sdk_user(user) if call.sdk else server_user(user, t=call.t)


def _tokens(call: Call, user: Record) -> Record:
    access = call.ctx.jwt.issue(user, ACCESS_TTL)
    refresh = call.ctx.jwt.issue(user, REFRESH_TTL, kind="refresh")
    if call.sdk:
        return {"accessToken": access, "refreshToken": refresh, "expiresIn": ACCESS_TTL}
    return {"access_token": access, "refresh_token": refresh, "expires_in": ACCESS_TTL}


_LOGIN = {
    SDK: (Field("email", required=True), Field("password", required=True)),
    # The server binds `binding:"required,email"` and `min=6`.
    SERVER: (Field("email", required=True), Field("password", required=True, low=6)),
}


async def _login(call: Call) -> Response:
    values = await call.fields(_LOGIN[call.dialect])
    if "@" not in values["email"]:
        raise ApiError(400, "VALIDATION_ERROR", "email must be an email address")
    user = call.store.user_by_email(values["email"])
    if user is None or not secrets.compare_digest(
        call.store.passwords.get(user["id"], ""), values["password"]
    ):
        raise ApiError(401, "INVALID_CREDENTIALS", "Invalid email or password")
    if user.get("status", "active") != "active":
        raise ApiError(401, "INVALID_CREDENTIALS", "Account is not active")
    user["last_login_at"] = stamp()
    body = _tokens(call, user)
    if call.sdk:
        return call.ok({**body, "tokenType": "Bearer", "user": sdk_user(user)})
    return call.ok({"user": server_user(user, t=call.t), **body})


async def _refresh(call: Call) -> Response:
    values = await call.fields((Field("refresh_token", required=True),))
    claims = call.ctx.jwt.claims(values["refresh_token"])
    if call.code:
        # The server's tokens carry no type: any valid JWT of an active user refreshes.
        if claims is None:
            raise ApiError(401, "TOKEN_INVALID", "Invalid refresh token")
        user = call.store.users.get(str(claims.get("user_id") or ""))
        if user is None:
            raise ApiError(401, "TOKEN_INVALID", "User not found")
        if user.get("status", "active") != "active":
            raise ApiError(401, "TOKEN_INVALID", "Account is not active")
        return call.ok(_tokens(call, user))
    # Only refresh tokens refresh (the documented behaviour; the code takes any JWT).
    if claims is None or claims.get("typ") != "refresh":
        raise ApiError(401, "TOKEN_INVALID", "invalid or expired refresh token")
    user = call.store.users.get(str(claims.get("user_id")))
    if user is None:
        raise ApiError(401, "TOKEN_INVALID", "the token's user no longer exists")
    return call.ok(_tokens(call, user))


async def _logout(call: Call) -> Response:
    # Tokens are stateless JWTs; logging out is the client dropping its token.
    return Response(status_code=204)


async def _me(call: Call) -> Response:
    return call.ok(_user_view(call, call.user()))


_ME = (Field("name"), Field("avatar_url"))


async def _update_me(call: Call) -> Response:
    user = call.user()
    apply(user, await call.fields(_ME, partial=True))
    user["updated_at"] = stamp()
    return call.ok(server_user(user, t=call.t))


_PASSWORD = (
    Field("current_password", required=True),
    Field("new_password", required=True, low=8),
)


async def _change_password(call: Call) -> Response:
    user = call.user()
    values = await call.fields(_PASSWORD)
    current = call.store.passwords.get(user["id"], "")
    if not secrets.compare_digest(current, values["current_password"]):
        raise ApiError(401, "INVALID_CREDENTIALS", "current password is incorrect")
    call.store.passwords[user["id"]] = values["new_password"]
    return call.ok({"message": "Password changed successfully"})


# -- users, API keys, tenant (server, admin) ---------------------------------------------------


def _make_user(call: Call, values: dict[str, Any]) -> Record:
    if call.store.user_by_email(values["email"]) is not None:
        raise ApiError(409, "CONFLICT", "a user with this email already exists")
    password = values.pop("password")
    now = stamp()
    user: Record = {
        "id": call.new_id("usr"),
        "tenant_id": call.tenant,
        "avatar_url": None,
        "phone": None,
        "status": "active",
        "last_login_at": None,
        "created_at": now,
        "updated_at": now,
        **values,
    }
    call.store.users[user["id"]] = user
    call.store.passwords[user["id"]] = password
    return user


def _remove_user(call: Call, user: Record) -> None:
    if user["id"] == call.principal.user_id:
        raise ApiError(400, "VALIDATION_ERROR", "you cannot delete yourself")
    del call.store.users[user["id"]]
    call.store.passwords.pop(user["id"], None)


_ROLES = ("agent", "supervisor", "admin", "owner")

USERS = Resource(
    path="/users",
    what="user",
    records=lambda store: store.users,
    sdk_view=lambda user, store: sdk_user(user),
    server_view=lambda user, store, t: server_user(user, t=t),
    create_fields={
        SERVER: (
            Field("email", required=True),
            Field("password", required=True, low=8),
            Field("name", required=True),
            Field("role", required=True, choices=_ROLES),
        )
    },
    update_fields={
        SERVER: (
            Field("name"),
            Field("role", choices=_ROLES),
            Field("status", choices=("active", "inactive", "suspended")),
            Field("avatar_url"),
        )
    },
    make=_make_user,
    remove=_remove_user,
    deletable=frozenset({SERVER}),
    search_text=lambda user, store: f"{user['name']} {user['email']}",
    server_list="plain",
    admin=True,
    code_list=CodeList("users", first_page_only=True),
)


def _tenant_keys(call: Call) -> list[Record]:
    return [key for key in call.store.api_keys.values() if key["tenant_id"] == call.tenant]


async def _list_keys(call: Call) -> Response:
    return call.ok([server_api_key(key, t=call.t) for key in _tenant_keys(call)])


_API_KEY = (
    Field("name", required=True),
    Field("scopes", "str_list"),
    Field("expires_at"),
)


async def _create_key(call: Call) -> Response:
    values = await call.fields(_API_KEY)
    plaintext = "lk_" + secrets.token_hex(24)
    key: Record = {
        "id": call.new_id("key"),
        "tenant_id": call.tenant,
        "user_id": call.principal.user_id or None,
        "name": values["name"],
        "key_prefix": plaintext[:12],
        "scopes": values.get("scopes") or ["*"],
        "last_used_at": None,
        "expires_at": values.get("expires_at"),
        "created_at": stamp(),
    }
    call.store.api_keys[plaintext] = key
    return call.created({**server_api_key(key, t=call.t), "key": plaintext})


async def _delete_key(call: Call) -> Response:
    key_id = call.arg("id")
    for plaintext, key in list(call.store.api_keys.items()):
        if key["id"] == key_id and key["tenant_id"] == call.tenant:
            del call.store.api_keys[plaintext]
            return Response(status_code=204)
    raise ApiError(404, "NOT_FOUND", "API key not found", {"id": key_id})


def _the_tenant(call: Call) -> Record:
    return call.find(call.store.collection("tenants"), call.tenant, "tenant")


def _tenant_view(call: Call, tenant: Record) -> Record:
    return {
        **tenant,
        "created_at": call.t(tenant["created_at"]),
        "updated_at": call.t(tenant["updated_at"]),
    }


async def _tenant(call: Call) -> Response:
    return call.ok(_tenant_view(call, _the_tenant(call)))


async def _update_tenant(call: Call) -> Response:
    tenant = _the_tenant(call)
    apply(tenant, await call.fields((Field("name"), Field("settings", "dict")), partial=True))
    tenant["updated_at"] = stamp()
    return call.ok(_tenant_view(call, tenant))


async def _usage(call: Call) -> Response:
    store, tenant = call.store, call.tenant

    def count(records: dict[str, Record]) -> int:
        return sum(1 for record in records.values() if record.get("tenant_id") == tenant)

    return call.ok(
        {
            "tenant_id": tenant,
            "users": count(store.users),
            "channels": count(store.channels),
            "contacts": count(store.contacts),
            "conversations": count(store.conversations),
            "messages": count(store.messages),
        }
    )


# -- conversations ---------------------------------------------------------------------------


def _conversation_text(conversation: Record, store: LinktorStore) -> str:
    contact = store.contacts.get(conversation["contact_id"]) or {}
    texts = [message_text(m) for m in store.conversation_messages(conversation["id"])]
    return " ".join([conversation.get("subject") or "", contact.get("name") or "", *texts])


def _make_conversation(call: Call, values: dict[str, Any]) -> Record:
    call.find(call.store.contacts, values["contact_id"], "contact")
    call.find(call.store.channels, values["channel_id"], "channel")
    return call.store.create_conversation(drop_none(values), tenant_id=call.tenant)


CONVERSATIONS = Resource(
    path="/conversations",
    what="conversation",
    records=lambda store: store.conversations,
    sdk_view=sdk_safe_conversation,
    server_view=lambda conversation, store, t: server_conversation(conversation, t=t),
    create_fields={
        SERVER: (
            Field("contact_id", required=True),
            Field("channel_id", required=True),
            Field("subject"),
            Field("priority", choices=PRIORITIES),
            Field("tags", "str_list"),
        )
    },
    update_fields={
        SDK: (
            Field("status", choices=("open", "pending", "resolved", "snoozed")),
            Field("assigned_to"),
            Field("tags", "str_list"),
            Field("metadata", "dict"),
        ),
        SERVER: (
            Field("subject"),
            Field("priority", choices=PRIORITIES),
            Field("status", choices=("open", "pending", "resolved", "closed")),
            Field("tags", "str_list"),
        ),
    },
    make=_make_conversation,
    change=lambda call, record, values: call.store.update_conversation(record["id"], values),
    filters={
        SDK: {
            "status": "status",
            "channel_id": "channelId",
            "channel_type": "channelType",
            "contact_id": "contactId",
            "assigned_to": "assignedTo",
            "tags": "tags",
        },
        SERVER: {
            "status": "status",
            "channel_id": "channel_id",
            "assigned_to": "assigned_user_id",
            "contact_id": "contact_id",
        },
    },
    search_text=_conversation_text,
    order_by="updated_at",
    server_list="meta",
)


def _conversation(call: Call) -> Record:
    return call.find(call.store.conversations, call.arg("id"), "conversation")


def _conversation_view(call: Call, conversation: Record) -> Record:
    return CONVERSATIONS.view(call, conversation)


async def _assign(call: Call) -> Response:
    conversation = _conversation(call)
    key = "agent_id" if call.sdk else "user_id"
    assignee = (await call.fields((Field(key, required=True),)))[key]
    if not call.sdk:
        call.find(call.store.users, assignee, "user")
    changed = call.store.update_conversation(conversation["id"], {"assigned_to": assignee})
    return call.ok(_conversation_view(call, changed))


async def _set_status(call: Call, status: str, refuse_if: tuple[str, ...], word: str) -> Response:
    conversation = _conversation(call)
    if conversation["status"] in refuse_if:
        raise ApiError(400, "VALIDATION_ERROR", f"conversation is already {word}")
    changed = call.store.update_conversation(conversation["id"], {"status": status})
    return call.ok(_conversation_view(call, changed))


async def _resolve(call: Call) -> Response:
    return await _set_status(call, "resolved", ("resolved", "closed"), "resolved")


async def _reopen(call: Call) -> Response:
    return await _set_status(call, "open", ("open",), "open")


# -- messages ------------------------------------------------------------------------------


def _message_view(call: Call, message: Record) -> Record:
    return sdk_safe_message(message) if call.sdk else server_rich_message(message)


def _find_message(call: Call, message_id: str) -> Record:
    return call.find(call.store.messages, message_id, "message")


async def _get_message(call: Call) -> Response:
    return call.ok(_message_view(call, _find_message(call, call.arg("id"))))


def _moment(call: Call, name: str) -> datetime | None:
    """A ``before``/``after`` bound: a message id (its time) or an ISO-8601 time."""
    raw = call.query(name)
    if raw is None:
        return None
    message = call.store.messages.get(raw)
    return _when(str(message["created_at"]) if message is not None else raw, name)


def _when(text: str, name: str = "created_at") -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, "VALIDATION_ERROR", f"{name} must be a message id or an ISO-8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


async def _list_messages(call: Call) -> Response:
    messages = call.store.conversation_messages(_conversation(call)["id"])
    before, after = _moment(call, "before"), _moment(call, "after")
    if before is not None:
        messages = [m for m in messages if _when(m["created_at"]) < before]
    if after is not None:
        messages = [m for m in messages if _when(m["created_at"]) > after]
    if not call.sdk:
        messages = messages[::-1]  # the server lists newest first
    return call.page([_message_view(call, m) for m in messages], "meta", default_size=50)


_SDK_SEND = (
    Field("text"),
    Field("media", "dict"),
    Field("location", "dict"),
    Field("contact", "dict"),
    Field("buttons", "dict_list"),
    Field("template", "dict"),
    Field("list_sections", "dict_list"),
    Field("metadata", "dict"),
    Field("sender_type", choices=("agent", "bot", "system")),
)
_SERVER_SEND = (
    Field("content_type", required=True, choices=SERVER_CONTENT_TYPES),
    Field("content", required=True),
    Field("metadata", "str_map"),
)


def _need(value: Any, keys: dict[str, str], what: str) -> None:
    for key, kind in keys.items():
        item = value.get(key)
        good = isinstance(item, str) if kind == "str" else Field(key, kind).check(item) is None
        if not good:
            raise ApiError(400, "VALIDATION_ERROR", f"{what}.{key} is required ({kind})")


def _sdk_content(values: dict[str, Any]) -> tuple[str, Record]:
    """The SDK's send-message keyword arguments as a content type and content."""
    content = snakify_keys({k: v for k, v in values.items() if k not in _NOT_CONTENT})
    content = {k: v for k, v in content.items() if v is not None}
    if not content:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            "a message needs text, media, location, contact, buttons or template",
        )
    if "media" in content:
        media = content["media"]
        _need(media, {"url": "str"}, "media")
        mime = media.get("mime_type") or mimetypes.guess_type(media["url"])[0] or ""
        media["mime_type"] = mime or "application/octet-stream"
        kind = mime.split("/")[0]
        return (kind if kind in ("image", "video", "audio") else "document"), content
    if "location" in content:
        _need(content["location"], {"latitude": "num", "longitude": "num"}, "location")
        return "location", content
    if "contact" in content:
        _need(content["contact"], {"name": "str"}, "contact")
        return "contact", content
    if "template" in content:
        _need(content["template"], {"name": "str", "language": "str"}, "template")
    for button in content.get("buttons") or []:
        _need(button, {"type": "str", "text": "str"}, "buttons[]")
    return "text", content


_NOT_CONTENT = frozenset({"metadata", "sender_type"})


def _server_content(values: dict[str, Any]) -> Record:
    kind, text = values["content_type"], values["content"]
    if kind in _MEDIA_TYPES:
        mime = mimetypes.guess_type(text)[0] or _MEDIA_TYPES[kind]
        return {"media": {"url": text, "mime_type": mime}}
    return {"text": text}


async def _send_message(call: Call) -> Response:
    conversation = _conversation(call)
    if call.sdk:
        values = await call.fields(_SDK_SEND)
        content_type, content = _sdk_content(values)
        extra: Record = {"sender_type": values.get("sender_type") or "agent"}
    else:
        values = await call.fields(_SERVER_SEND)
        content_type, content = values["content_type"], _server_content(values)
        extra = {"sender_type": "agent", "status": "pending"}
    message = call.store.add_message(
        conversation["id"],
        direction="outbound",
        content_type=sdk_content_type(content_type),
        content=content,
        sender_id=call.principal.user_id or None,
        metadata=values.get("metadata"),
        **extra,
    )
    if content_type != sdk_content_type(content_type):
        message["server_content_type"] = content_type
    return call.created(_message_view(call, message))


async def _react(call: Call) -> Response:
    conversation = _conversation(call)
    message = _find_message(call, call.arg("message_id"))
    if message["conversation_id"] != conversation["id"]:
        raise ApiError(404, "MESSAGE_NOT_FOUND", "message not found in this conversation")
    emoji = (await call.fields((Field("emoji"),))).get("emoji") or ""
    user = call.principal.user_id
    reactions = [r for r in message.get("reactions") or [] if r["user_id"] != user]
    if emoji:
        reactions.append({"user_id": user, "emoji": emoji, "timestamp": now_iso()})
    message["reactions"] = reactions
    message["updated_at"] = stamp()
    word = "added" if emoji else "removed"
    return call.ok({"message": f"Reaction {word}", "message_id": message["id"], "emoji": emoji})


# -- contacts ------------------------------------------------------------------------------


def _identifiers(items: list[Record]) -> list[Record]:
    identifiers = []
    for item in items:
        ident = snakify_keys(item)
        if not isinstance(ident.get("identifier"), str) or not isinstance(
            ident.get("channel_type"), str
        ):
            raise ApiError(
                400, "VALIDATION_ERROR", "identifiers[] need channelType and identifier strings"
            )
        ident.setdefault("channel_id", "")
        ident.setdefault("id", new_id("ident"))
        identifiers.append(ident)
    return identifiers


def _check_unique(call: Call, values: dict[str, Any], own_id: str | None = None) -> None:
    for key in ("email", "phone"):
        wanted = values.get(key)
        if not wanted:
            continue
        for contact in call.store.contacts.values():
            same = contact.get(key) and str(contact[key]).casefold() == str(wanted).casefold()
            if same and contact["id"] != own_id and contact["tenant_id"] == call.tenant:
                raise ApiError(409, "CONFLICT", f"a contact with this {key} already exists")


def _make_contact(call: Call, values: dict[str, Any]) -> Record:
    _check_unique(call, values)
    return call.store.create_contact(values, tenant_id=call.tenant)


def _change_contact(call: Call, contact: Record, values: dict[str, Any]) -> Record:
    if not call.sdk:
        # The server's PUT always overwrites these four, omitted or not.
        values = {"email": None, "phone": None, "avatar_url": None, **values}
        values.setdefault("name", "")
    _check_unique(call, values, contact["id"])
    return call.store.update_contact(contact["id"], values)


def _remove_contact(call: Call, contact: Record) -> None:
    del call.store.contacts[contact["id"]]


_SDK_CONTACT = (
    Field("email"),
    Field("phone"),
    Field("external_id"),
    Field("avatar_url"),
    Field("custom_fields", "dict"),
    Field("tags", "str_list"),
    Field("metadata", "dict"),
    Field("identifiers", "dict_list", convert=_identifiers),
)
_SERVER_CONTACT = (
    Field("email"),
    Field("phone"),
    Field("avatar_url"),
    Field("custom_fields", "str_map"),
    Field("tags", "str_list"),
)

CONTACTS = Resource(
    path="/contacts",
    what="contact",
    records=lambda store: store.contacts,
    sdk_view=sdk_contact,
    server_view=lambda contact, store, t: server_contact(contact, t=t),
    create_fields={
        SDK: (Field("name", required=True), *_SDK_CONTACT),
        SERVER: (Field("name", required=True), *_SERVER_CONTACT),
    },
    update_fields={
        SDK: (Field("name"), *_SDK_CONTACT),
        SERVER: (Field("name"), *_SERVER_CONTACT),
    },
    make=_make_contact,
    change=_change_contact,
    remove=_remove_contact,
    deletable=frozenset({SDK, SERVER}),
    filters={SDK: {"email": "email", "phone": "phone", "tags": "tags"}},
    search_text=lambda c, store: " ".join(c.get(k) or "" for k in ("name", "email", "phone")),
    server_list="meta",
)


def _contact(call: Call) -> Record:
    return call.find(call.store.contacts, call.arg("id"), "contact")


_IDENTITY = (
    Field("channel_type", required=True, choices=SERVER_CHANNEL_TYPES),
    Field("identifier", required=True),
    Field("metadata", "str_map"),
)


async def _add_identity(call: Call) -> Response:
    contact = _contact(call)
    values = await call.fields(_IDENTITY)
    channel = next(
        (
            c
            for c in call.store.channels.values()
            if c["type"] == values["channel_type"] and c["tenant_id"] == call.tenant
        ),
        None,
    )
    identity = {
        "id": new_id("ident"),
        **values,
        "channel_id": channel["id"] if channel else "",
        "created_at": stamp(),
    }
    identifiers = [*(contact.get("identifiers") or []), identity]
    call.store.update_contact(contact["id"], {"identifiers": identifiers})
    shown = ("id", "channel_type", "identifier", "metadata")
    body = {"contact_id": contact["id"], **{k: identity.get(k) for k in shown}}
    return call.created(drop_none({**body, "created_at": call.t(identity["created_at"])}))


async def _remove_identity(call: Call) -> Response:
    contact = _contact(call)
    wanted = call.arg("identity_id")
    kept = identities_without(contact, wanted)
    if kept is None:
        raise ApiError(404, "NOT_FOUND", "identity not found", {"id": wanted})
    call.store.update_contact(contact["id"], {"identifiers": kept})
    return Response(status_code=204)


# -- channels ------------------------------------------------------------------------------


def _make_channel(call: Call, values: dict[str, Any]) -> Record:
    return call.store.create_channel(drop_none(values), tenant_id=call.tenant)


def _remove_channel(call: Call, channel: Record) -> None:
    del call.store.channels[channel["id"]]


_SERVER_CHANNEL = (
    Field("identifier"),
    Field("config", "str_map"),
    Field("credentials", "str_map"),
)

CHANNELS = Resource(
    path="/channels",
    what="channel",
    records=lambda store: store.channels,
    sdk_view=lambda channel, store: sdk_safe_channel(channel),
    server_view=lambda channel, store, t: server_channel(channel, t=t),
    create_fields={
        SDK: (
            Field("name", required=True),
            Field("type", required=True, choices=SDK_CHANNEL_TYPES),
            Field("config", "dict"),
            Field("metadata", "dict"),
        ),
        SERVER: (
            Field("type", required=True, choices=SERVER_CHANNEL_TYPES),
            Field("name", required=True),
            *_SERVER_CHANNEL,
        ),
    },
    update_fields={
        SDK: (Field("name"), Field("config", "dict"), Field("metadata", "dict")),
        SERVER: (
            Field("type", choices=SERVER_CHANNEL_TYPES),
            Field("name"),
            *_SERVER_CHANNEL,
        ),
    },
    make=_make_channel,
    remove=_remove_channel,
    deletable=frozenset({SDK, SERVER}),
    filters={SDK: {"type": "type", "status": "status"}},
    server_list="plain",
)


def _channel(call: Call) -> Record:
    return call.find(call.store.channels, call.arg("id"), "channel")


def _channel_view(call: Call, channel: Record) -> Record:
    return CHANNELS.view(call, channel)


async def _connect(call: Call) -> Response:
    channel = call.store.set_channel_connected(_channel(call)["id"], True)
    view = _channel_view(call, channel)
    return call.ok(view if call.sdk else {"channel": view})


async def _disconnect(call: Call) -> Response:
    channel = call.store.set_channel_connected(_channel(call)["id"], False)
    return call.ok(
        _channel_view(call, channel) if call.sdk else {"message": "Channel disconnected"}
    )


async def _channel_status(call: Call) -> Response:
    field = Field("status", required=True, choices=("active", "inactive"))
    status = (await call.fields((field,)))["status"]
    channel = call.store.set_channel_connected(_channel(call)["id"], status == "active")
    return call.ok(_channel_view(call, channel))


async def _channel_enabled(call: Call) -> Response:
    channel = _channel(call)
    channel["enabled"] = (await call.fields((Field("enabled", "bool", required=True),)))["enabled"]
    channel["updated_at"] = stamp()
    return call.ok(_channel_view(call, channel))
