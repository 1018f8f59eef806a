"""Emulator-only routes that make the outside world act (no real Linktor server has them).

Mounted in both dialects, so under ``/linktor/_emulator/...`` (SDK shapes) and
``/linktor/api/v1/_emulator/...`` (server shapes); they need the same credentials as any other
route and act within the caller's tenant. Each change goes through the store, so the realtime
socket and the outgoing webhooks see it exactly as they would see the real thing.

* ``POST /_emulator/inbound``: a contact writes in. Body ``{"conversation_id", "text"}`` for an
  existing conversation, or ``{"contact_id", "channel_id", "text"}`` to open a new one (which
  announces ``conversation.created`` first). ``content_type``, ``content`` (an object, instead of
  ``text``) and ``metadata`` are optional; camelCase keys are accepted too. Stores an inbound
  message (``message.received``) and answers 201 with it.
* ``POST /_emulator/messages/{message_id}/status``: the channel reports on a message. Body
  ``{"status": "delivered" | "read" | "failed", "reason"?}`` (``reason`` for failures). Announces
  ``message.delivered`` / ``message.read`` / ``message.failed`` and answers 200 with the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from relaywire.emulator._http import ApiError, read_json_object
from relaywire.emulator.linktor.dialect import (
    Dialect,
    authenticate,
    created,
    is_code_profile,
    ok,
)
from relaywire.emulator.linktor.store import Record
from relaywire.emulator.linktor.wire import sdk_message, server_message

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = ["routes"]

_REPORTABLE_STATUSES = ("delivered", "read", "failed")


def _field(body: dict[str, Any], snake: str, camel: str) -> Any:
    return body[snake] if snake in body else body.get(camel)


def _optional_str(body: dict[str, Any], snake: str, camel: str) -> str | None:
    value = _field(body, snake, camel)
    if value is not None and (not isinstance(value, str) or not value):
        raise ApiError(400, "VALIDATION_ERROR", f"{snake} must be a non-empty string")
    return value


def _render(message: Record, dialect: Dialect) -> Record:
    return sdk_message(message) if dialect is Dialect.SDK else server_message(message)


def routes(ctx: EmulatorContext, dialect: Dialect) -> list[BaseRoute]:
    """The simulator routes for one dialect mount."""
    store = ctx.linktor
    jwt_only = dialect is Dialect.SERVER and is_code_profile(ctx)

    def owned(records: dict[str, Record], record_id: str, what: str, tenant_id: str) -> Record:
        record = store.require(records, record_id, what)
        if record["tenant_id"] != tenant_id:  # other tenants' records do not exist for the caller
            store.require({}, record_id, what)
        return record

    async def inbound(request: Request) -> Response:
        principal = authenticate(request, dialect, store, ctx.jwt, jwt_only=jwt_only)
        body = await read_json_object(request)
        conversation_id = _optional_str(body, "conversation_id", "conversationId")
        content = body.get("content")
        text = body.get("text")
        if content is None:
            if not isinstance(text, str) or not text:
                raise ApiError(400, "VALIDATION_ERROR", "text (or content) is required")
            content = {"text": text}
        elif not isinstance(content, dict):
            raise ApiError(400, "VALIDATION_ERROR", "content must be an object")
        content_type = _optional_str(body, "content_type", "contentType") or "text"
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ApiError(400, "VALIDATION_ERROR", "metadata must be an object")

        if conversation_id is not None:
            conversation = owned(
                store.conversations, conversation_id, "conversation", principal.tenant_id
            )
        else:
            contact_id = _optional_str(body, "contact_id", "contactId")
            channel_id = _optional_str(body, "channel_id", "channelId")
            if contact_id is None or channel_id is None:
                raise ApiError(
                    400,
                    "VALIDATION_ERROR",
                    "give conversation_id, or contact_id and channel_id to open a conversation",
                )
            owned(store.contacts, contact_id, "contact", principal.tenant_id)
            owned(store.channels, channel_id, "channel", principal.tenant_id)
            conversation = store.create_conversation(
                {"contact_id": contact_id, "channel_id": channel_id},
                tenant_id=principal.tenant_id,
            )
        message = store.add_message(
            conversation["id"],
            direction="inbound",
            sender_type="contact",
            sender_id=conversation["contact_id"],
            content_type=content_type,
            content=content,
            metadata=metadata,
        )
        return created(dialect, _render(message, dialect))

    async def report_status(request: Request) -> Response:
        principal = authenticate(request, dialect, store, ctx.jwt, jwt_only=jwt_only)
        message = owned(
            store.messages, request.path_params["message_id"], "message", principal.tenant_id
        )
        body = await read_json_object(request)
        status = body.get("status")
        if status not in _REPORTABLE_STATUSES:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"status must be one of {', '.join(_REPORTABLE_STATUSES)}",
                {"status": str(status)},
            )
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ApiError(400, "VALIDATION_ERROR", "reason must be a string")
        updated = store.set_message_status(message["id"], status, failed_reason=reason)
        return ok(dialect, _render(updated, dialect))

    return [
        Route("/_emulator/inbound", inbound, methods=["POST"]),
        Route("/_emulator/messages/{message_id}/status", report_status, methods=["POST"]),
    ]
