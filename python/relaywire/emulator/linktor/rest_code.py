"""The self-hosted server's messaging routes as its code runs them (profile ``"code"``).

In the default profile ``/linktor/api/v1`` serves conversations, messages, contacts and
channels with these handlers instead of the documented ones in ``rest_messaging``. Each does
what the handler, service and repository of the real server (edsonmartins/linktor at 607f2d6,
routes wired in ``cmd/server/main.go``) do, limits included; ``docs/linktor-server.md`` lists
them route by route. In short:

* records created here get UUIDs; timestamps are written as Go writes them;
* ``POST /conversations`` returns the contact's open conversation on that channel if there is
  one; priorities, statuses, content types and channel types are free strings; conversation
  tags and metadata are never stored (echoed by the answer that set them, absent on read);
* ``GET /conversations`` is the first 20 by ``updated_at``, filtered by ``status`` only, with
  ``total_items`` counted before the filter; messages are the newest 50; neither pages;
* contacts page leniently (a bad ``page``/``page_size`` is the default, at most 100 rows) and
  ``search`` is an ``ILIKE`` on name, email and phone; identities come back with the contact;
* empty lists are ``"data": null``; errors carry no ``details``.

The store stays the single source of truth, so the SDK mount, the realtime hub and the webhook
sender see every change made here.
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.responses import Response

from relaywire.emulator._http import ApiError, json_response
from relaywire.emulator.linktor.dialect import (
    GoPage,
    code_fixed_meta,
    code_meta,
    first_query,
)
from relaywire.emulator.linktor.rest_core import Api, Call, Field
from relaywire.emulator.linktor.store import LinktorStore, Record, stamp
from relaywire.emulator.linktor.wire import (
    go_time,
    identities_without,
    server_channel,
    server_contact,
    server_conversation,
    server_message,
)

__all__ = ["code_conversation_status", "ilike_contains", "open_conversation", "register"]

# The content types the SDK's model knows; others are stored as text with the server's word kept.
_MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker"})
_DEFAULT_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg",
    "document": "application/pdf",
    "sticker": "image/webp",
}
# Go's ``omitempty`` drops empty strings the server stores as NULL.
_NULLABLE_TEXT = ("name", "email", "phone", "avatar_url", "subject", "identifier")


def register(api: Api) -> None:
    """Add the code-profile conversation, message, contact and channel routes."""
    for prefix in ("/conversations", "/conversations-v2"):  # the server mounts both
        api.add("GET", prefix, _list_conversations)
        api.add("POST", prefix, _create_conversation)
        api.add("GET", f"{prefix}/{{id}}", _get_conversation)
        api.add("PUT", f"{prefix}/{{id}}", _update_conversation)
        api.add("POST", f"{prefix}/{{id}}/assign", _assign)
        api.add("POST", f"{prefix}/{{id}}/resolve", _resolve)
        api.add("POST", f"{prefix}/{{id}}/reopen", _reopen)
    api.add("GET", "/conversations/{id}/messages", _list_messages)
    api.add("POST", "/conversations/{id}/messages", _send_message)
    api.add("POST", "/conversations/{id}/messages/{message_id}/reactions", _react)
    api.add("GET", "/messages/{id}", _get_message)
    api.add("GET", "/contacts", _list_contacts)
    api.add("POST", "/contacts", _create_contact)
    api.add("GET", "/contacts/{id}", _get_contact)
    api.add("PUT", "/contacts/{id}", _update_contact)
    api.add("DELETE", "/contacts/{id}", _delete_contact)
    api.add("POST", "/contacts/{id}/identities", _add_identity)
    api.add("DELETE", "/contacts/{id}/identities/{identity_id}", _remove_identity)
    api.add("GET", "/channels", _list_channels)
    api.add("POST", "/channels", _create_channel)
    api.add("GET", "/channels/{id}", _get_channel)
    api.add("PUT", "/channels/{id}", _update_channel)
    api.add("DELETE", "/channels/{id}", _delete_channel)
    api.add("POST", "/channels/{id}/connect", _connect)
    api.add("POST", "/channels/{id}/disconnect", _disconnect)
    api.add("PUT", "/channels/{id}/status", _channel_status)
    api.add("PUT", "/channels/{id}/enabled", _channel_enabled)


def _newest_first(records: list[Record], key: str) -> list[Record]:
    """``ORDER BY key DESC``; records stamped in the same microsecond keep the later-stored
    one first."""
    return sorted(reversed(records), key=lambda r: str(r[key]), reverse=True)


def _not_found(code: str, what: str) -> ApiError:
    return ApiError(404, code, f"{what} not found")


def _internal(message: str) -> ApiError:
    return ApiError(500, "INTERNAL_ERROR", message)


def _omit_empty(view: Record) -> Record:
    return {k: v for k, v in view.items() if not (k in _NULLABLE_TEXT and v == "")}


def _echo(view: Record, name: str, value: Any) -> Record:
    """An answer showing what the request set in memory (Go's ``omitempty``: empty is absent)."""
    if value:
        view[name] = value
    return view


# -- conversations ---------------------------------------------------------------------------


def code_conversation_status(conversation: Record) -> str:
    """The status the server shows (the SDK protocol's ``snoozed`` is ``pending`` there)."""
    status = str(conversation["status"])
    return "pending" if status == "snoozed" else status


def open_conversation(store: LinktorStore, contact_id: str, channel_id: str) -> Record | None:
    """The contact's newest open (or pending) conversation on the channel, as the server's
    repository finds it before making a new one."""
    open_ones = [
        c
        for c in store.conversations.values()
        if c["contact_id"] == contact_id
        and c["channel_id"] == channel_id
        and code_conversation_status(c) in ("open", "pending")
    ]
    return max(open_ones, key=lambda c: str(c["created_at"])) if open_ones else None


def _conversation_view(conversation: Record) -> Record:
    """A conversation as the server reads it back: its repository never stores or selects
    ``tags`` and ``metadata``; ``last_message_at`` is its newest message's time."""
    view = server_conversation(conversation, t=go_time)
    view.pop("tags", None)
    view.pop("metadata", None)
    return _omit_empty(view)


def _conversation(call: Call) -> Record:
    found = call.store.conversations.get(call.arg("id"))
    if found is None:
        raise _not_found("CONVERSATION_NOT_FOUND", "conversation")
    return found


async def _list_conversations(call: Call) -> Response:
    mine = [c for c in call.store.conversations.values() if c["tenant_id"] == call.tenant]
    total = len(mine)  # counted before the filter, as the repository does
    status = first_query(call.request.query_params, "status")
    if status:
        mine = [c for c in mine if code_conversation_status(c) == status]
    mine = _newest_first(mine, "updated_at")
    return code_fixed_meta([_conversation_view(c) for c in mine[:20]], total, 20)


_NEW_CONVERSATION = (
    Field("contact_id", required=True),
    Field("channel_id", required=True),
    Field("subject"),
    Field("priority"),
    Field("tags", "str_list"),
)


async def _create_conversation(call: Call) -> Response:
    values = await call.fields(_NEW_CONVERSATION)
    store = call.store
    if values["contact_id"] not in store.contacts:
        raise _not_found("CONTACT_NOT_FOUND", "contact")
    if values["channel_id"] not in store.channels:
        raise _not_found("CHANNEL_NOT_FOUND", "channel")
    found = open_conversation(store, values["contact_id"], values["channel_id"])
    if found is not None:
        return call.created(_conversation_view(found))
    conversation = store.create_conversation(
        {
            "id": call.new_id("conv"),
            "contact_id": values["contact_id"],
            "channel_id": values["channel_id"],
            "subject": values.get("subject") or None,
            "priority": values.get("priority") or "normal",
        },
        tenant_id=call.tenant,
    )
    view = _conversation_view(conversation)
    view.pop("last_message_at", None)
    return call.created(_echo(view, "tags", values.get("tags")))


async def _get_conversation(call: Call) -> Response:
    return call.ok(_conversation_view(_conversation(call)))


_CONVERSATION_CHANGES = (
    Field("subject"),
    Field("priority"),
    Field("status"),
    Field("tags", "str_list"),
)


async def _update_conversation(call: Call) -> Response:
    values = await call.fields(_CONVERSATION_CHANGES, partial=True)
    conversation = _conversation(call)
    changes = {k: v for k, v in values.items() if k != "tags" and v is not None}
    changed = call.store.update_conversation(conversation["id"], changes)
    return call.ok(_echo(_conversation_view(changed), "tags", values.get("tags")))


async def _assign(call: Call) -> Response:
    user_id = (await call.fields((Field("user_id", required=True),)))["user_id"]
    conversation = _conversation(call)
    if user_id not in call.store.users:
        # Nothing looks the user up: the database's foreign key refuses the write.
        raise _internal("failed to assign conversation")
    changed = call.store.update_conversation(conversation["id"], {"assigned_to": user_id})
    return call.ok(_conversation_view(changed))


async def _resolve(call: Call) -> Response:
    conversation = _conversation(call)
    if code_conversation_status(conversation) == "resolved":
        raise ApiError(400, "VALIDATION_ERROR", "conversation is already resolved")
    changed = call.store.update_conversation(conversation["id"], {"status": "resolved"})
    return call.ok(_conversation_view(changed))


async def _reopen(call: Call) -> Response:
    conversation = _conversation(call)
    if code_conversation_status(conversation) in ("open", "pending"):
        raise ApiError(400, "VALIDATION_ERROR", "conversation is already open")
    changed = call.store.update_conversation(conversation["id"], {"status": "open"})
    view = _conversation_view(changed)
    view.pop("resolved_at", None)  # cleared in the answer, kept in the database
    return call.ok(view)


# -- messages --------------------------------------------------------------------------------


def _attachments(message: Record) -> list[Record]:
    media = message["content"].get("media")
    if message.get("raw_content") is not None or not isinstance(media, dict):
        return []
    attachment = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"linktor-attachment:{message['id']}")),
        "message_id": message["id"],
        "type": message.get("server_content_type") or message["content_type"],
        "filename": media.get("filename") or None,
        "mime_type": media.get("mime_type") or None,
        "size_bytes": media.get("size") or None,
        "url": str(media.get("url") or ""),
        "thumbnail_url": media.get("thumbnail_url") or None,
        "created_at": go_time(message["created_at"]),
    }
    return [{k: v for k, v in attachment.items() if v is not None}]


def _message_text(message: Record) -> str:
    """The server's string ``content``: what it stored, else the caption of a media message,
    the JSON of a location or a contact card, or the text."""
    raw = message.get("raw_content")
    if isinstance(raw, str):
        return raw
    content: Record = message["content"]
    media = content.get("media")
    if isinstance(media, dict):
        return str(media.get("caption") or "")
    for kind in ("location", "contact"):
        if isinstance(content.get(kind), dict):
            return orjson.dumps(content[kind]).decode()
    text = content.get("text")
    return text if isinstance(text, str) else ""


def _message_view(message: Record, *, attachments: bool = False) -> Record:
    """A message as the server shows it: string content; the attachments (a media message's
    URL) only where the repository loads them (``GET /messages/{id}``)."""
    view = server_message(message, t=go_time)
    view["content_type"] = message.get("server_content_type") or message["content_type"]
    view.pop("content", None)
    text = _message_text(message)
    if text:
        view["content"] = text
    if attachments:
        found = _attachments(message)
        if found:
            view["attachments"] = found
    if not view.get("metadata"):
        view.pop("metadata", None)
    return view


async def _list_messages(call: Call) -> Response:
    # The conversation is not looked up: an unknown one is just an empty list.
    conversation_id = call.arg("id")
    messages = _newest_first(call.store.conversation_messages(conversation_id), "created_at")
    return code_fixed_meta([_message_view(m) for m in messages[:50]], len(messages), 50)


_SEND = (
    Field("content_type", required=True),
    Field("content", required=True),
    Field("metadata", "str_map"),
)


async def _send_message(call: Call) -> Response:
    values = await call.fields(_SEND)
    conversation = _conversation(call)
    kind, text = values["content_type"], values["content"]
    content: Record
    if kind in _MEDIA_KINDS:
        mime = mimetypes.guess_type(text)[0] or _DEFAULT_MIME[kind]
        content, canonical = {"media": {"url": text, "mime_type": mime}}, kind
    else:
        content, canonical = {"text": text}, "text"
    message = call.store.add_message(
        conversation["id"],
        direction="outbound",
        content_type=canonical,
        content=content,
        sender_type="agent",
        sender_id=call.principal.user_id or None,
        metadata=values.get("metadata") or None,
        status="pending",
        message_id=call.new_id("msg"),
    )
    message["raw_content"] = text  # the server stores the string as given, no attachment
    if canonical != kind:
        message["server_content_type"] = kind
    return call.created(_message_view(message))


async def _get_message(call: Call) -> Response:
    message = call.store.messages.get(call.arg("id"))
    if message is None:
        raise _not_found("MESSAGE_NOT_FOUND", "message")
    return call.ok(_message_view(message, attachments=True))


async def _react(call: Call) -> Response:
    emoji = (await call.fields((Field("emoji"),))).get("emoji") or ""
    message_id = call.arg("message_id")
    if message_id not in call.store.messages:
        raise _not_found("MESSAGE_NOT_FOUND", "message")
    _conversation(call)
    # Published to the channel adapter, never stored: the message shows no reactions.
    word = "added" if emoji else "removed"
    return call.ok(
        {"message": f"Reaction {word} successfully", "message_id": message_id, "emoji": emoji}
    )


# -- contacts --------------------------------------------------------------------------------


def _contact_view(contact: Record, *, identities: bool = False) -> Record:
    view = server_contact(contact, t=go_time)
    if not identities:
        view.pop("identities", None)
    return _omit_empty(view)


def _contact(call: Call) -> Record:
    found = call.store.contacts.get(call.arg("id"))
    if found is None:
        raise _not_found("CONTACT_NOT_FOUND", "contact")
    return found


def ilike_contains(value: str | None, needle: str) -> bool:
    """``value ILIKE '%' || needle || '%'``: ``%`` and ``_`` in ``needle`` are wildcards and
    a backslash escapes the next character, as in PostgreSQL; NULL never matches."""
    if value is None:
        return False
    pattern, escaped = [".*"], False
    for char in needle:
        if escaped:
            pattern.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            pattern.append(".*")
        elif char == "_":
            pattern.append(".")
        else:
            pattern.append(re.escape(char))
    if escaped:  # PostgreSQL: "LIKE pattern must not end with escape character"
        raise _internal("failed to count contacts")
    pattern.append(".*")
    return re.fullmatch("".join(pattern), value, re.IGNORECASE | re.DOTALL) is not None


async def _list_contacts(call: Call) -> Response:
    params = call.request.query_params
    window = GoPage.lenient(params)
    mine = [c for c in call.store.contacts.values() if c["tenant_id"] == call.tenant]
    search = (first_query(params, "search") or "").strip()
    if search:
        mine = [
            c
            for c in mine
            if any(ilike_contains(c.get(key) or None, search) for key in ("name", "email", "phone"))
        ]
    mine = _newest_first(mine, "created_at")
    return code_meta([_contact_view(c) for c in window.slice(mine)], len(mine), window)


_CONTACT = (
    Field("name"),
    Field("email"),
    Field("phone"),
    Field("avatar_url"),
    Field("custom_fields", "str_map"),
    Field("tags", "str_list"),
)


def _duplicate(call: Call, key: str, value: str) -> bool:
    return any(
        c.get(key) == value and c["tenant_id"] == call.tenant for c in call.store.contacts.values()
    )


async def _create_contact(call: Call) -> Response:
    values = await call.fields(_CONTACT)
    if not values.get("name"):
        raise ApiError(400, "VALIDATION_ERROR", "contact name is required")
    for key in ("email", "phone"):  # exact, case-sensitive matches, as the SQL compares
        if values.get(key) and _duplicate(call, key, values[key]):
            raise ApiError(409, "CONFLICT", f"contact with this {key} already exists")
    fields = {k: (v or None) for k, v in values.items()}
    contact = call.store.create_contact({**fields, "id": call.new_id("ct")}, tenant_id=call.tenant)
    return call.created(_contact_view(contact))


async def _get_contact(call: Call) -> Response:
    return call.ok(_contact_view(_contact(call), identities=True))


async def _update_contact(call: Call) -> Response:
    values = await call.fields(_CONTACT, partial=True)
    contact = _contact(call)
    # Name, email, phone and avatar are always written: left out, they become empty.
    changes: Record = {key: values.get(key) or None for key in _CONTACT_TEXT}
    for key in ("custom_fields", "tags"):
        if values.get(key) is not None:
            changes[key] = values[key]
    changed = call.store.update_contact(contact["id"], changes)
    return call.ok(_contact_view(changed))


_CONTACT_TEXT = ("name", "email", "phone", "avatar_url")


async def _delete_contact(call: Call) -> Response:
    contact = _contact(call)
    del call.store.contacts[contact["id"]]
    return Response(status_code=204)


_IDENTITY = (
    Field("channel_type", required=True),
    Field("identifier", required=True),
    Field("metadata", "str_map"),
)


async def _add_identity(call: Call) -> Response:
    values = await call.fields(_IDENTITY)
    contact = _contact(call)
    identities = [dict(ident) for ident in contact.get("identifiers") or []]
    for ident in identities:
        if (ident.get("channel_type"), ident.get("identifier")) == (
            values["channel_type"],
            values["identifier"],
        ):
            ident["metadata"] = values.get("metadata")  # the upsert replaces the metadata
            break
    else:
        identities.append(
            {
                "id": call.new_id("ident"),
                "channel_type": values["channel_type"],
                "channel_id": "",
                "identifier": values["identifier"],
                "metadata": values.get("metadata"),
                "created_at": stamp(),
            }
        )
    contact["identifiers"] = identities  # the contact row itself is not touched
    return call.ok(_contact_view(contact, identities=True))


async def _remove_identity(call: Call) -> Response:
    contact = _contact(call)
    kept = identities_without(contact, call.arg("identity_id"))
    if kept is None:
        # The repository's "identity not found" is wrapped by the service as an internal error.
        raise _internal("failed to remove identity")
    contact["identifiers"] = kept
    return call.ok(_contact_view(contact, identities=True))


# -- channels --------------------------------------------------------------------------------


def _channel_view(channel: Record, *, created: bool = False, identifier: str = "") -> Record:
    """A channel as the server shows it: the ``channels`` table has no identifier column, so
    only the answer to the request that sent one shows it; a channel read back from the
    database has ``coexistence_status``."""
    view = server_channel(channel, t=go_time)
    view.pop("identifier", None)
    if not created:
        view["coexistence_status"] = channel.get("coexistence_status") or "inactive"
    return _omit_empty(_echo(view, "identifier", identifier))


def _channel(call: Call) -> Record:
    found = call.store.channels.get(call.arg("id"))
    if found is None:
        raise _not_found("CHANNEL_NOT_FOUND", "channel")
    return found


def _newest(records: Iterable[Record], count: int) -> list[Record]:
    return _newest_first(list(records), "created_at")[:count]


async def _list_channels(call: Call) -> Response:
    mine = [c for c in call.store.channels.values() if c["tenant_id"] == call.tenant]
    views = [_channel_view(c) for c in _newest(mine, 100)]
    return json_response({"success": True, "data": views or None})


_CHANNEL = (
    Field("type", required=True),
    Field("name", required=True),
    Field("identifier"),
    Field("config", "str_map"),
    Field("credentials", "str_map"),
)


async def _create_channel(call: Call) -> Response:
    values = await call.fields(_CHANNEL)
    channel = call.store.create_channel(
        {
            "id": call.new_id("ch"),
            "type": values["type"],
            "name": values["name"],
            "config": values.get("config") or {},
            "credentials": values.get("credentials") or {},
        },
        tenant_id=call.tenant,
    )
    return call.created(
        _channel_view(channel, created=True, identifier=values.get("identifier") or "")
    )


async def _get_channel(call: Call) -> Response:
    return call.ok(_channel_view(_channel(call)))


async def _update_channel(call: Call) -> Response:
    values = await call.fields(_CHANNEL)  # type and name are required, though type never changes
    channel = _channel(call)
    channel["name"] = values["name"]
    for key in ("config", "credentials"):
        if values.get(key) is not None:
            channel[key] = values[key]
    channel["updated_at"] = stamp()
    return call.ok(_channel_view(channel, identifier=values.get("identifier") or ""))


async def _delete_channel(call: Call) -> Response:
    channel = _channel(call)
    del call.store.channels[channel["id"]]
    return Response(status_code=204)


async def _connect(call: Call) -> Response:
    channel = call.store.set_channel_connected(_channel(call)["id"], True)
    return call.ok({"channel": _channel_view(channel)})


async def _disconnect(call: Call) -> Response:
    call.store.set_channel_connected(_channel(call)["id"], False)
    return call.ok({"message": "Channel disconnected"})


async def _channel_status(call: Call) -> Response:
    try:
        values = await call.fields((Field("status", required=True),))
    except ApiError:
        values = {}
    if values.get("status") not in ("active", "inactive"):
        raise ApiError(400, "VALIDATION_ERROR", "Invalid status. Must be 'active' or 'inactive'")
    channel = _channel(call)
    # "active"/"inactive" switch the channel on and off; the connection is not touched.
    channel["enabled"] = values["status"] == "active"
    channel["updated_at"] = stamp()
    return call.ok(_channel_view(channel))


async def _channel_enabled(call: Call) -> Response:
    values = await call.fields((Field("enabled", "bool"),))
    channel = _channel(call)
    channel["enabled"] = bool(values.get("enabled"))  # left out, it is false
    channel["updated_at"] = stamp()
    return call.ok(_channel_view(channel))
