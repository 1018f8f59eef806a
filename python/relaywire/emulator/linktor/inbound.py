"""The self-hosted server's inbound channel webhooks, ``/linktor/api/v1/webhooks/...``.

Served in the ``"code"`` profile, where the server dialect has no webhook *management* routes
(the real server has none, and never sends a webhook). These routes are public, as on the real
server, and take what the server takes:

* ``POST /webhooks/generic/{channelId}`` ``{message_id, sender_id, sender_name, content_type,
  content, metadata}`` (all optional; ``metadata`` a map of strings) -> ``{"status": "ok",
  "message_id": <a new UUID>}``. That id names the queued event, not the stored message (the
  server gives the message another one). A ``sender_id`` or ``sender_name`` without a
  ``metadata`` object writes into a nil map on the server: it panics, and its recovery answers
  500 with an empty body.
* ``POST /webhooks/status/{channelId}`` ``{message_id, external_id, status, error_message}``:
  moves the message with that id to ``sent``/``delivered``/``read``/``failed`` (any other word
  is ``pending``); ``external_id`` is never used.
* ``/webhooks/whatsapp/{channelId}``: ``GET`` answers Meta's verification (``hub.mode``,
  ``hub.verify_token`` against the channel's ``verify_token`` credential, ``hub.challenge``);
  ``POST`` takes the Cloud API payload, checks ``X-Hub-Signature-256`` when the channel has a
  ``webhook_secret`` credential, and receives each message (text, media, location, contacts,
  interactive, button, reaction). Statuses carry only the provider's id, which the server's
  status consumer looks up by message id: they never change a message.
* ``POST /webhooks/telegram/{channelId}``: a Bot API update; the sender and message ids are
  turned into text the way the server's ``string(rune(id))`` does (one character).
* The other providers' routes exist (404 ``channel not found`` for an unknown channel) but the
  emulator does not parse their payloads: it answers 501 and points to the generic route.

A received message goes through the server's pipeline: the contact is found by its identity on
the channel's type (the phone, else the sender id, else the external id), else by phone, else
created (named after ``name``/``sender_name``, else ``Unknown``); the contact's open
conversation on the channel is reused, else one is opened; the message is stored ``pending``
from the contact, and a message whose external id is already stored is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from relaywire.emulator._http import json_response
from relaywire.emulator.linktor.rest_code import open_conversation
from relaywire.emulator.linktor.store import LinktorStore, Record, stamp

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = ["go_rune_text", "receive", "routes"]

_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_UNPARSED = (
    ("twilio", _ANY),
    ("sms", _ANY),
    ("facebook", _ANY),
    ("messenger", _ANY),
    ("instagram", _ANY),
    ("rcs", _ANY),
    ("email", _ANY),
    ("payments", ["POST"]),
    ("calls", ["POST"]),
    ("ctwa", ["POST"]),
)
_EMAIL_PROVIDERS = ("sendgrid", "mailgun", "ses", "postmark")
# The message normalizer's canonical content types (anything else is text).
_CONTENT_TYPES = {
    **dict.fromkeys(("text", "text/plain", "plain"), "text"),
    **dict.fromkeys(("image", "image/jpeg", "image/png", "image/gif", "image/webp"), "image"),
    **dict.fromkeys(("video", "video/mp4", "video/3gpp"), "video"),
    **dict.fromkeys(("audio", "audio/ogg", "audio/mpeg", "audio/mp3", "ptt", "voice"), "audio"),
    **dict.fromkeys(("document", "file", "application/pdf"), "document"),
    **dict.fromkeys(("location", "geo"), "location"),
    **dict.fromkeys(("contact", "vcard", "contacts"), "contact"),
    **dict.fromkeys(("template", "hsm"), "template"),
    **dict.fromkeys(("interactive", "button", "list", "buttons", "list_reply"), "interactive"),
}
_MEDIA = frozenset({"image", "video", "audio", "document"})
_STATUSES = frozenset({"sent", "delivered", "read", "failed"})


def _error(status: int, text: str) -> Response:
    return json_response({"error": text}, status)


# -- Go's json.Unmarshal into the handler's structs ------------------------------------------

# A shape: "str", "int", "num", "bool", "any", "str_map", a dict (an object's known fields) or
# a one-item list (an array of that shape). Unknown fields are ignored; ``null`` is allowed.
Shape = Any


def _fits(value: Any, shape: Shape) -> bool:
    if value is None or shape == "any":
        return True
    if shape == "str":
        return isinstance(value, str)
    if shape == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if shape == "num":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if shape == "bool":
        return isinstance(value, bool)
    if shape == "str_map":
        return isinstance(value, dict) and all(
            v is None or isinstance(v, str) for v in value.values()
        )
    if isinstance(shape, list):
        return isinstance(value, list) and all(_fits(item, shape[0]) for item in value)
    return isinstance(value, dict) and all(
        _fits(value.get(name), inner) for name, inner in shape.items()
    )


async def _bind(request: Request, shape: Shape) -> dict[str, Any] | None:
    """The JSON body if it unmarshals into ``shape``, else ``None``."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) and _fits(body, shape) else None


_GENERIC: Shape = {
    "message_id": "str",
    "sender_id": "str",
    "sender_name": "str",
    "content_type": "str",
    "content": "str",
    "metadata": "str_map",
}
_STATUS: Shape = {
    "message_id": "str",
    "external_id": "str",
    "status": "str",
    "error_message": "str",
}
_MEDIA_FIELDS: Shape = {"id": "str", "caption": "str", "mime_type": "str", "filename": "str"}
_WHATSAPP: Shape = {
    "object": "str",
    "entry": [
        {
            "id": "str",
            "changes": [
                {
                    "field": "str",
                    "value": {
                        "messaging_product": "str",
                        "metadata": "str_map",
                        "contacts": [{"wa_id": "str", "profile": {"name": "str"}}],
                        "messages": [
                            {
                                "id": "str",
                                "from": "str",
                                "timestamp": "str",
                                "type": "str",
                                "text": {"body": "str"},
                                "image": _MEDIA_FIELDS,
                                "video": _MEDIA_FIELDS,
                                "audio": _MEDIA_FIELDS,
                                "document": _MEDIA_FIELDS,
                                "sticker": _MEDIA_FIELDS,
                                "location": {
                                    "latitude": "num",
                                    "longitude": "num",
                                    "name": "str",
                                    "address": "str",
                                },
                                "contacts": ["any"],
                                "interactive": {
                                    "type": "str",
                                    "button_reply": {"id": "str", "title": "str"},
                                    "list_reply": {"id": "str", "title": "str"},
                                },
                                "button": {"text": "str", "payload": "str"},
                                "reaction": {"message_id": "str", "emoji": "str"},
                                "context": {"id": "str", "from": "str"},
                            }
                        ],
                        "statuses": [
                            {
                                "id": "str",
                                "recipient_id": "str",
                                "status": "str",
                                "timestamp": "str",
                                "errors": [{"code": "int", "title": "str", "message": "str"}],
                            }
                        ],
                    },
                }
            ],
        }
    ],
}
_FILE: Shape = {"file_id": "str", "file_name": "str", "mime_type": "str"}
_TELEGRAM: Shape = {
    "update_id": "int",
    "message": {
        "message_id": "int",
        "from": {"id": "int", "first_name": "str", "last_name": "str", "username": "str"},
        "chat": {"id": "int", "type": "str"},
        "text": "str",
        "caption": "str",
        "photo": [_FILE],
        "document": _FILE,
        "voice": _FILE,
        "video": _FILE,
        "location": {"latitude": "num", "longitude": "num"},
    },
}


def go_rune_text(number: int) -> str:
    """Go's ``string(rune(n))``: ``n`` wrapped to 32 bits, as one character (U+FFFD when it is
    not a code point). The server turns Telegram's numeric ids into text this way."""
    value = (number + 2**31) % 2**32 - 2**31
    if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
        return chr(value)
    return "\ufffd"


# -- the receive pipeline --------------------------------------------------------------------


def _find_contact(
    store: LinktorStore, tenant: str, channel_type: str, identifier: str
) -> Record | None:
    for contact in store.contacts.values():
        if contact["tenant_id"] != tenant:
            continue
        for ident in contact.get("identifiers") or []:
            if (ident.get("channel_type"), ident.get("identifier")) == (channel_type, identifier):
                return contact
    return None


def _identity(channel_type: str, identifier: str, metadata: Mapping[str, str]) -> Record:
    return {
        "id": str(uuid.uuid4()),
        "channel_type": channel_type,
        "channel_id": "",
        "identifier": identifier,
        "metadata": dict(metadata) or None,
        "created_at": stamp(),
    }


def _contact_for(
    store: LinktorStore, channel: Record, external_id: str, metadata: Mapping[str, str]
) -> Record:
    tenant, channel_type = channel["tenant_id"], channel["type"]
    identifier = metadata.get("phone", metadata.get("sender_id", external_id))
    found: Record | None = _find_contact(store, tenant, channel_type, identifier)
    if found is not None:
        return found
    phone = metadata.get("phone") or ""
    if phone:
        for contact in store.contacts.values():
            if contact["tenant_id"] == tenant and contact.get("phone") == phone:
                identities = contact.get("identifiers") or []
                contact["identifiers"] = [
                    *identities,
                    _identity(channel_type, identifier, metadata),
                ]
                return contact
    name = metadata.get("name", metadata.get("sender_name", "Unknown"))
    return store.create_contact(
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "phone": phone or None,
            "identifiers": [_identity(channel_type, identifier, metadata)],
        },
        tenant_id=tenant,
    )


def _conversation_for(store: LinktorStore, channel: Record, contact: Record) -> Record:
    found = open_conversation(store, contact["id"], channel["id"])
    if found is not None:
        return found
    return store.create_conversation(
        {"id": str(uuid.uuid4()), "contact_id": contact["id"], "channel_id": channel["id"]},
        tenant_id=channel["tenant_id"],
    )


def receive(
    store: LinktorStore,
    channel: Record,
    *,
    external_id: str,
    content_type: str,
    content: str,
    metadata: Mapping[str, str],
    attachments: list[Record] | None = None,
) -> Record | None:
    """One inbound message through the server's receive pipeline; ``None`` when its external
    id is already stored (the server refuses it as a conflict and nothing is kept)."""
    if external_id and any(m.get("external_id") == external_id for m in store.messages.values()):
        return None
    kind = _CONTENT_TYPES.get(content_type.lower(), "text")
    text = content.strip()
    if kind == "text":
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    contact = _contact_for(store, channel, external_id, metadata)
    conversation = _conversation_for(store, channel, contact)
    first = attachments[0] if attachments else None
    body: Record
    if kind in _MEDIA and first is not None:
        media = {
            "url": first.get("url") or "",
            "mime_type": first.get("mime_type") or "application/octet-stream",
            "filename": first.get("filename") or None,
            "caption": text or None,
        }
        body = {"media": {k: v for k, v in media.items() if v is not None}}
    else:
        body = {"text": text}
    message = store.add_message(
        conversation["id"],
        direction="inbound",
        content_type=kind if kind in _MEDIA else "text",
        content=body,
        sender_type="contact",
        metadata=dict(metadata) or None,
        status="pending",
        message_id=str(uuid.uuid4()),
        external_id=external_id or None,
    )
    if "media" not in body:
        message["raw_content"] = text
    if kind not in _MEDIA and kind != "text":
        message["server_content_type"] = kind
    return message


# -- routes ----------------------------------------------------------------------------------


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    """The inbound webhook routes of the server dialect (profile ``"code"``)."""
    store = ctx.linktor

    def channel_of(request: Request) -> Record | None:
        return store.channels.get(request.path_params["channel_id"])

    async def accepted(request: Request, shape: Shape) -> tuple[Record, Record] | Response:
        """The channel and the bound body, or the server's 404 / 400 answer."""
        channel = channel_of(request)
        if channel is None:
            return _error(404, "channel not found")
        body = await _bind(request, shape)
        if body is None:
            return _error(400, "invalid payload")
        return channel, body

    async def generic(request: Request) -> Response:
        found = await accepted(request, _GENERIC)
        if isinstance(found, Response):
            return found
        channel, body = found
        metadata = body.get("metadata")
        if metadata is None and (body.get("sender_id") or body.get("sender_name")):
            return Response(status_code=500)  # assignment to a nil map: recovered panic
        metadata = {k: v or "" for k, v in (metadata or {}).items()}
        if body.get("sender_id"):
            metadata["sender_id"] = body["sender_id"]
        if body.get("sender_name"):
            metadata["sender_name"] = body["sender_name"]
        receive(
            store,
            channel,
            external_id=body.get("message_id") or "",
            content_type=body.get("content_type") or "",
            content=body.get("content") or "",
            metadata=metadata,
        )
        return json_response({"message_id": str(uuid.uuid4()), "status": "ok"})

    async def status_callback(request: Request) -> Response:
        found = await accepted(request, _STATUS)
        if isinstance(found, Response):
            return found
        _, body = found
        message = store.messages.get(body.get("message_id") or "")
        if message is not None:
            status = body.get("status") or ""
            status = status if status in _STATUSES else "pending"
            reason = body.get("error_message") or ""
            store.set_message_status(message["id"], status, failed_reason=reason or None)
        return json_response({"status": "ok"})

    async def whatsapp(request: Request) -> Response:
        channel = channel_of(request)
        if channel is None:
            return _error(404, "channel not found")
        credentials: Mapping[str, str] = channel.get("credentials") or {}
        if request.method == "GET":
            query = request.query_params
            if query.get("hub.mode") == "subscribe" and query.get(
                "hub.verify_token", ""
            ) == credentials.get("verify_token", ""):
                return PlainTextResponse(query.get("hub.challenge", ""))
            return _error(403, "verification failed")
        raw = await request.body()
        secret = credentials.get("webhook_secret")
        if secret:
            expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            given = request.headers.get("x-hub-signature-256", "")
            if not given or not hmac.compare_digest(given.encode(), expected.encode()):
                return _error(401, "invalid signature")
        body = await _bind(request, _WHATSAPP)
        if body is None:
            return _error(400, "invalid payload")
        for entry in body.get("entry") or []:
            for change in (entry or {}).get("changes") or []:
                value = (change or {}).get("value") or {}
                if (change or {}).get("field") != "messages":
                    continue
                contacts = value.get("contacts") or []
                for message in value.get("messages") or []:
                    _whatsapp_message(store, channel, message or {}, contacts)
        return json_response({"status": "ok"})

    async def telegram(request: Request) -> Response:
        found = await accepted(request, _TELEGRAM)
        if isinstance(found, Response):
            return found
        channel, body = found
        if isinstance(body.get("message"), dict):
            _telegram_message(store, channel, body["message"])
        return json_response({"status": "ok"})

    def unparsed(provider: str) -> Any:
        async def endpoint(request: Request) -> Response:
            if channel_of(request) is None:
                return _error(404, "channel not found")
            return _error(
                501,
                f"the relaywire emulator does not parse {provider} webhooks; post the message "
                "to /webhooks/generic/{channelId} instead",
            )

        return endpoint

    found: list[BaseRoute] = [
        Route("/webhooks/generic/{channel_id}", generic, methods=["POST"]),
        Route("/webhooks/status/{channel_id}", status_callback, methods=["POST"]),
        Route("/webhooks/whatsapp/{channel_id}", whatsapp, methods=_ANY),
        Route("/webhooks/telegram/{channel_id}", telegram, methods=["POST"]),
    ]
    for provider, methods in _UNPARSED:
        found.append(
            Route(f"/webhooks/{provider}/{{channel_id}}", unparsed(provider), methods=methods)
        )
    for provider in _EMAIL_PROVIDERS:
        path = f"/webhooks/email/{{channel_id}}/{provider}"
        found.append(Route(path, unparsed(f"email ({provider})"), methods=_ANY))
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _whatsapp_message(
    store: LinktorStore, channel: Record, message: Record, contacts: list[Any]
) -> None:
    sender = _text(message.get("from"))
    name = next(
        (
            _text(((c or {}).get("profile") or {}).get("name"))
            for c in contacts
            if (c or {}).get("wa_id") == sender
        ),
        "",
    )
    metadata = {"phone": sender, "sender_name": name, "sender_id": sender}
    kind = _text(message.get("type"))
    content_type, content, attachments = "text", "", []
    if kind == "text":
        content = _text((message.get("text") or {}).get("body"))
    elif kind in ("image", "video", "audio", "document", "sticker"):
        media = message.get(kind) or {}
        content_type = "image" if kind == "sticker" else kind
        if kind != "audio":
            content = _text(media.get("caption"))
        if kind == "sticker":
            metadata["is_sticker"] = "true"
        attachments.append(
            {
                "url": _text(media.get("id")),  # a media id, resolved later by the server
                "mime_type": _text(media.get("mime_type")),
                "filename": _text(media.get("filename")),
            }
        )
    elif kind == "location":
        location = message.get("location") or {}
        content_type = "location"
        content = orjson.dumps(
            {
                "latitude": location.get("latitude") or 0,
                "longitude": location.get("longitude") or 0,
                "name": _text(location.get("name")),
                "address": _text(location.get("address")),
            }
        ).decode()
        metadata["latitude"] = f"{float(location.get('latitude') or 0):f}"
        metadata["longitude"] = f"{float(location.get('longitude') or 0):f}"
        for key in ("name", "address"):
            if _text(location.get(key)):
                metadata[f"location_{key}"] = _text(location.get(key))
    elif kind == "contacts":
        content_type = "contact"
        if message.get("contacts"):
            content = orjson.dumps(message["contacts"]).decode()
    elif kind == "interactive":
        content_type = "interactive"
        reply = message.get("interactive")
        if isinstance(reply, dict):
            metadata["interactive_type"] = _text(reply.get("type"))
            for key, meta in (("button_reply", "button_id"), ("list_reply", "list_id")):
                if isinstance(reply.get(key), dict):
                    content = _text(reply[key].get("title"))
                    metadata[meta] = _text(reply[key].get("id"))
                    break
    elif kind == "button":
        content_type = "interactive"
        button = message.get("button")
        if isinstance(button, dict):
            content = _text(button.get("text"))
            metadata["button_payload"] = _text(button.get("payload"))
    elif kind == "reaction":
        metadata["is_reaction"] = "true"
        reaction = message.get("reaction")
        if isinstance(reaction, dict):
            content = _text(reaction.get("emoji"))
            metadata["reaction_message_id"] = _text(reaction.get("message_id"))
    else:
        metadata["original_type"] = kind
    context = message.get("context") or {}
    if context.get("id"):
        metadata["reply_to_id"] = _text(context.get("id"))
        metadata["reply_to_from"] = _text(context.get("from"))
    receive(
        store,
        channel,
        external_id=_text(message.get("id")),
        content_type=content_type,
        content=content,
        metadata=metadata,
        attachments=attachments,
    )


def _telegram_message(store: LinktorStore, channel: Record, message: Record) -> None:
    content_type, content = "text", _text(message.get("text"))
    attachments: list[Record] = []
    caption = _text(message.get("caption"))
    photos = message.get("photo") or []
    if photos:
        content_type, content = "image", caption
        attachments.append({"url": _text((photos[-1] or {}).get("file_id"))})
    else:
        for key, kind in (("document", "document"), ("voice", "audio"), ("video", "video")):
            file = message.get(key)
            if isinstance(file, dict):
                content_type = kind
                if key != "voice":  # a voice note keeps the (usually empty) text
                    content = caption
                attachments.append(
                    {
                        "url": _text(file.get("file_id")),
                        "filename": _text(file.get("file_name")),
                        "mime_type": _text(file.get("mime_type")),
                    }
                )
                break
        else:
            if isinstance(message.get("location"), dict):
                content_type = "location"
    sender = message.get("from") if isinstance(message.get("from"), dict) else None
    sender_id = go_rune_text(int(sender.get("id") or 0)) if sender else ""
    sender_name = _text(sender.get("first_name")) if sender else ""
    if sender and _text(sender.get("last_name")):
        sender_name += " " + _text(sender.get("last_name"))
    chat = message.get("chat") or {}
    metadata = {
        "sender_id": sender_id,
        "sender_name": sender_name,
        "chat_id": go_rune_text(int(chat.get("id") or 0)),
    }
    receive(
        store,
        channel,
        external_id=go_rune_text(int(message.get("message_id") or 0)),
        content_type=content_type,
        content=content,
        metadata=metadata,
        attachments=attachments,
    )
