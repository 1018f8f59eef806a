"""The two Linktor wire protocols, and how each maps onto the SDK's models.

* ``Dialect.SDK``: what the official SDKs assume (spec/linktor.md 1.3-1.4 and 1.7): paths without
  a prefix, ``X-API-Key`` (or a Bearer token), camelCase JSON, bare resources, lists as
  ``{data, pagination: {total, limit, offset, hasMore}}``, PATCH updates.
* ``Dialect.SERVER``: what the self-hosted server speaks (spec 3.1-3.9): ``/api/v1`` (part of the
  base URL), only ``Authorization: Bearer``, snake_case JSON, the ``{"success", "data"}``
  envelope, lists with ``meta`` or page-based ``pagination`` (or none), PUT updates, its own
  route names.

This module holds what differs between them and does no I/O: choosing the dialect, encoding
bodies and query strings, unwrapping envelopes, turning a server record into the SDK model's
fields (``adapt_*``), and reading error bodies of every shape. The resource plans
(:mod:`linktor._resources`) pick routes and verbs and call these helpers.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import math
import mimetypes
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import pydantic

from linktor._plan import Reply, Request
from linktor.utils.errors import LinktorError, create_error_from_response
from relaywire.models import validate_json

__all__ = [
    "Dialect",
    "InvalidResponseError",
    "UnpagedListWarning",
    "UnsupportedOperationError",
    "camel",
    "decode_json",
    "encode_body",
    "encode_params",
    "error_from_response",
    "parse_json_model",
    "resolve_dialect",
    "snake",
    "spans_next_page",
    "upload_request",
    "validate_model",
    "word",
]

M = TypeVar("M", bound=pydantic.BaseModel)


class Dialect(str, enum.Enum):
    """Which protocol a client speaks: ``"sdk"`` (default) or ``"server"`` (self-hosted)."""

    SDK = "sdk"
    SERVER = "server"


def resolve_dialect(dialect: str | Dialect | None, base_url: str) -> Dialect:
    """The explicit ``dialect``, else ``SERVER`` when the base URL ends in ``/api/v1``."""
    if dialect is not None:
        try:
            return Dialect(dialect)
        except ValueError:
            raise ValueError(f"dialect must be 'sdk' or 'server', not {dialect!r}") from None
    return Dialect.SERVER if base_url.rstrip("/").endswith("/api/v1") else Dialect.SDK


# -- errors of our own -----------------------------------------------------------------------------


class UnsupportedOperationError(LinktorError, NotImplementedError):
    """The method has no equivalent on the self-hosted server (``dialect="server"``).

    Raised before any request is sent; ``details["operation"]`` names the method.
    """

    def __init__(self, operation: str, hint: str = "") -> None:
        message = f"{operation} is not available on the self-hosted Linktor server"
        if hint:
            message = f"{message}: {hint}"
        super().__init__(
            message,
            code="UNSUPPORTED_OPERATION",
            details={"operation": operation, "dialect": Dialect.SERVER.value},
        )


class UnpagedListWarning(UserWarning):
    """An ``iter()`` stopped at the end of the only page a self-hosted server gives.

    The server's code does not page some lists: ``GET /conversations`` returns its first 20
    (by last update), ``GET /conversations/{id}/messages`` the newest 50 and ``GET /channels``
    the newest 100, whatever ``page``/``page_size`` say. Iterating such a list yields what that
    page holds, then warns once with this category when the page was full (more items may
    exist that no request can reach) instead of stopping silently. ``list()`` never warns.
    """


class InvalidResponseError(LinktorError):
    """A successful answer that is not what the protocol promises: not JSON, or JSON that does
    not fit the model (``details["errors"]`` says where)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message,
            code="INVALID_RESPONSE",
            status_code=status_code,
            request_id=request_id,
            details=details,
        )


# -- names -----------------------------------------------------------------------------------------

_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=2048)
def camel(name: str) -> str:
    """``snake_case`` -> ``camelCase`` (``camelCase`` stays as it is)."""
    if "_" not in name:
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.lru_cache(maxsize=2048)
def snake(name: str) -> str:
    """``camelCase`` -> ``snake_case`` (``snake_case`` stays as it is)."""
    return _CAMEL_HUMP.sub(r"_\1", name).lower()


# Keys whose object values are the caller's data: their own keys are never renamed.
_OPAQUE = frozenset(
    {"metadata", "custom_fields", "data", "variables", "headers", "context", "filter"}
)


def _convert(value: Any, rename: Any, by_alias: bool) -> Any:
    if isinstance(value, pydantic.BaseModel):
        value = value.model_dump(mode="json", by_alias=by_alias, exclude_none=True)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = rename(key) if isinstance(key, str) else key
            if snake(name) in _OPAQUE and isinstance(item, Mapping):
                out[name] = _plain(item, by_alias)
            else:
                out[name] = _convert(item, rename, by_alias)
        return out
    if isinstance(value, (list, tuple)):
        return [_convert(item, rename, by_alias) for item in value]
    return value


def _plain(value: Any, by_alias: bool) -> Any:
    """Models inside user data become plain data; keys are left alone."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=by_alias, exclude_none=True)
    if isinstance(value, Mapping):
        return {k: _plain(v, by_alias) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, by_alias) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_body(value: Any, case: str) -> bytes:
    """A JSON body: keys renamed for ``case`` (``"camel"``, ``"snake"`` or ``"raw"``, nested,
    except inside user-data maps such as ``metadata``), enums as their values."""
    if case == "camel":
        value = _convert(value, camel, True)
    elif case == "snake":
        value = _convert(value, snake, False)
    else:  # models by field name: the VRE templates read snake_case keys
        value = _plain(value, False)
    try:
        return orjson.dumps(value, default=_json_default)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise TypeError(f"request body is not JSON serializable: {exc}") from None


def _query_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


def encode_params(params: Mapping[str, Any] | None, case: str = "raw") -> list[tuple[str, str]]:
    """Query pairs: ``None`` left out, enums as their values (not ``Status.OPEN``), booleans as
    ``true``/``false``, dates in ISO-8601, sequences as repeated keys."""
    pairs: list[tuple[str, str]] = []
    if not params:
        return pairs
    rename = camel if case == "camel" else snake if case == "snake" else None
    for key, value in params.items():
        if value is None:
            continue
        name = rename(key) if rename is not None else key
        if isinstance(value, (list, tuple, set, frozenset)):
            pairs.extend((name, _query_value(item)) for item in value if item is not None)
        else:
            pairs.append((name, _query_value(value)))
    return pairs


# -- decoding --------------------------------------------------------------------------------------


def decode_json(reply: Reply) -> Any:
    """The JSON of a successful answer (``None`` when empty); anything else is an
    :class:`InvalidResponseError`."""
    if not reply.content:
        return None
    try:
        return orjson.loads(reply.content)
    except orjson.JSONDecodeError as exc:
        raise InvalidResponseError(
            f"{reply.method} {reply.url} answered {reply.status} with a body that is not JSON",
            status_code=reply.status,
            request_id=reply.request_id,
            details={"body": reply.content[:200].decode("utf-8", "replace"), "error": str(exc)},
        ) from None


def _invalid(model: type[Any], reply: Reply, exc: pydantic.ValidationError) -> InvalidResponseError:
    errors = [
        {"loc": ".".join(str(p) for p in err["loc"]), "msg": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)[:10]
    ]
    return InvalidResponseError(
        f"{reply.method} {reply.url}: the answer does not fit {_model_name(model)} "
        f"({exc.error_count()} error(s), first at {errors[0]['loc'] or 'the top'}: "
        f"{errors[0]['msg']})",
        status_code=reply.status,
        request_id=reply.request_id,
        details={"errors": errors},
    )


def _model_name(model: type[Any]) -> str:
    return getattr(model, "__name__", str(model))


def parse_json_model(model: type[M], reply: Reply) -> M:
    """The answer's bytes straight into ``model``: built by the Rust core along the model's plan
    when the body is one it reproduces exactly, else by pydantic (``model_validate_json``); the
    result, and any error, are pydantic's either way (:mod:`relaywire.models`)."""
    try:
        return validate_json(model, reply.content)
    except pydantic.ValidationError as exc:
        if exc.errors() and exc.errors()[0]["type"] == "json_invalid":
            decode_json(reply)  # raises the not-JSON error
        raise _invalid(model, reply, exc) from None


def validate_model(model: type[M], data: Any, reply: Reply) -> M:
    """Already decoded (and adapted) data into ``model``."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _invalid(model, reply, exc) from None


# -- envelopes (server) ----------------------------------------------------------------------------


def unwrap(body: Any) -> Any:
    """The resource inside the server's ``{"success": true, "data": ...}`` (or the body itself
    when it is bare, as the server's flows and VRE answers are)."""
    if isinstance(body, dict) and "success" in body and "data" in body:
        return body["data"]
    return body


@dataclass(frozen=True, slots=True)
class Window:
    """The part of a list the caller asked for, counted from the start of the list:
    ``offset`` and ``limit`` (``None``: what the server gives). ``skip`` is how many leading
    items of the server's page come before ``offset``, when the offset is not a multiple of
    the limit: the window then spans two of the server's pages."""

    offset: int = 0
    limit: int | None = None
    skip: int = 0


def server_list_query(
    params: Mapping[str, Any], default_size: int = 20
) -> tuple[dict[str, Any], Window]:
    """The SDK's ``limit``/``offset`` as the server's ``page``/``page_size`` (of the first
    page, when the window spans two: see :func:`spans_next_page`). ``cursor`` has no server
    equivalent and is ignored; ``page``/``page_size`` given directly pass through."""
    query = {snake(k): v for k, v in params.items() if k != "cursor" and v is not None}
    limit = query.pop("limit", None)
    offset = query.pop("offset", None)
    if limit is None and offset is None:
        given = query.get("page_size")
        size = int(given or default_size)
        page = int(query.get("page") or 1)
        return query, Window((page - 1) * size, int(given) if given else None)
    size = int(limit) if limit is not None else default_size
    start = int(offset or 0)
    if size <= 0 or start < 0:
        raise ValueError("limit must be > 0 and offset >= 0")
    if start % size == 0:
        query.update(page=start // size + 1, page_size=size)
        return query, Window(start, size)
    query.update(page=start // size + 1, page_size=size)
    return query, Window(start, size, skip=start % size)


def spans_next_page(body: Any, window: Window) -> bool:
    """Whether the window also needs the server's next page (a misaligned offset, and a
    paginated answer that has one)."""
    if not window.skip or not isinstance(body, dict):
        return False
    meta, paging = body.get("meta"), body.get("pagination")
    if isinstance(meta, dict):
        return bool(meta.get("has_next"))
    if isinstance(paging, dict):
        return int(paging.get("page") or 1) < int(paging.get("pages") or 0)
    return False


def merge_pages(first: Any, second: Any) -> Any:
    """Two consecutive server pages as one answer (the first page's totals)."""
    more = second.get("data") if isinstance(second, dict) else None
    if not isinstance(first, dict) or not isinstance(more, list):
        return first
    return {**first, "data": [*(first.get("data") or []), *more]}


def server_page(
    body: Any, window: Window, adapt: Any = None, *, cap: int | None = None
) -> dict[str, Any]:
    """A server list answer (``meta``, page-based ``pagination``, plain ``data`` or a bare
    array) as the SDK's ``{data, pagination: {total, limit, offset, has_more}}``, cut to the
    caller's window.

    A server that ignored the requested page (it answers page 1, or another size) still
    gives the window's part of what it sent; the result's ``"truncated"`` key is then the size
    of that page when it was full: the list may go on past it, unreachable
    (:class:`UnpagedListWarning`); else ``None``. ``cap``: an unpaginated list the server cuts
    at that many items (its channels)."""
    items: list[Any]
    meta: Any = None
    paging: Any = None
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict):
        raw = body.get("data")
        items = raw if isinstance(raw, list) else []
        meta, paging = body.get("meta"), body.get("pagination")
    else:
        items = []
    if adapt is not None:
        items = [adapt(item) for item in items]
    if isinstance(meta, dict) or isinstance(paging, dict):
        if isinstance(meta, dict):
            size = int(meta.get("page_size") or len(items) or 1)
            number = int(meta.get("page") or 1)
            total = int(meta.get("total_items") or 0)
            server_more = bool(meta.get("has_next"))
        else:
            size = int(paging.get("page_size") or len(items) or 1)
            number = int(paging.get("page") or 1)
            total = int(paging.get("total") or 0)
            server_more = number < int(paging.get("pages") or 0)
        served = (number - 1) * size  # where the server's answer starts in the whole list
        honoured = served == window.offset - window.skip and window.limit in (None, size)
        end = served + len(items)
        low = max(window.offset, served)
        high = end if window.limit is None else min(window.offset + window.limit, end)
        kept = items[low - served : high - served] if high > low else []
        if high < end:
            has_more = True  # the server sent more than the window holds
        elif honoured:
            has_more = window.offset + len(kept) < total if window.skip else server_more
        else:
            has_more = False
        page = _page(kept, total, window.limit or size, window.offset, has_more)
        # A full page and no next one: the server ignored the page asked for, or its own
        # total says the list goes on where it will not page (the self-hosted server's
        # conversations and messages).
        cut = not has_more and len(items) >= size and (not honoured or end < total)
        page["truncated"] = size if cut else None
        return page
    # Unpaginated (the server's channel list): the window is applied here.
    total = len(items)
    end = total if window.limit is None else window.offset + window.limit
    kept = items[window.offset : end]
    limit = window.limit if window.limit is not None else len(kept)
    page = _page(kept, total, limit, window.offset, end < total)
    page["truncated"] = cap if cap is not None and total >= cap and end >= total else None
    return page


def _page(items: list[Any], total: int, limit: int, offset: int, has_more: bool) -> dict[str, Any]:
    return {
        "data": items,
        "pagination": {"total": total, "limit": limit, "offset": offset, "has_more": has_more},
    }


# -- errors ----------------------------------------------------------------------------------------


def error_from_response(
    status: int, content: bytes, headers: Mapping[str, str], reason: str = ""
) -> LinktorError:
    """The package's error for an answer with status >= 400, whatever its body: JSON of any
    shape the errors module reads, plain text, or nothing (then the reason phrase)."""
    body: Any
    if not content.strip():
        body = {"message": reason or f"HTTP {status}"}
    else:
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = content.decode("utf-8", "replace")
    return create_error_from_response(status, body, headers.get("x-request-id"), headers=headers)


# -- server records as the SDK's model fields ------------------------------------------------------


def _fit(value: Any, allowed: Iterable[str], nearest: Mapping[str, str]) -> Any:
    """``value`` if the SDK's enum has it, else the nearest value it has (if any)."""
    if value in allowed:
        return value
    return nearest.get(value, value)


_MEDIA_CONTENT_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
_DEFAULT_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg",
    "document": "application/octet-stream",
    "sticker": "image/webp",
}


def _media_mime(url: str, kind: str, attachment: Mapping[str, Any] | None) -> str:
    if attachment and isinstance(attachment.get("mime_type"), str) and attachment["mime_type"]:
        return str(attachment["mime_type"])
    return mimetypes.guess_type(url)[0] or _DEFAULT_MIME.get(kind, "application/octet-stream")


def ns_to_ms(value: Any) -> Any:
    """The server's ``render_time_ms`` is a Go ``time.Duration``: nanoseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value // 1_000_000)
    return value


def rough_tokens(text: str) -> int:
    """A token count estimate (about four characters a token) where the server gives none."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _values(enum_type: Any) -> frozenset[str]:
    return frozenset(str(member.value) for member in enum_type)


def _sdk_enums() -> dict[str, frozenset[str]]:
    from linktor.types.auth import UserRole
    from linktor.types.bot import BotStatus, BotType
    from linktor.types.common import ChannelType, ContentType
    from linktor.types.conversation import ConversationStatus, SenderType
    from linktor.types.flow import FlowNodeType
    from linktor.types.vre import VRETemplateType

    return {
        "role": _values(UserRole),
        "bot_status": _values(BotStatus),
        "bot_type": _values(BotType),
        "channel_type": _values(ChannelType),
        "content_type": _values(ContentType),
        "conversation_status": _values(ConversationStatus),
        "sender_type": _values(SenderType),
        "node_type": _values(FlowNodeType),
        "vre_template": _values(VRETemplateType),
    }


@functools.cache
def _enums() -> dict[str, frozenset[str]]:
    return _sdk_enums()


# The server's words the SDK's strict enums lack, mapped to the nearest word they have.
_NEAREST: dict[str, dict[str, str]] = {
    "role": {"owner": "admin"},
    "bot_status": {"training": "draft"},
    "bot_type": {"rule_based": "flow"},
    "channel_type": {
        "whatsapp_official": "whatsapp",
        "whatsapp_unofficial": "whatsapp",
        "voice": "sms",
    },
    "content_type": {"template": "text", "interactive": "text", "poll": "text", "reaction": "text"},
    "conversation_status": {"closed": "resolved"},
    "sender_type": {"user": "agent"},
    "node_type": {"question": "input", "vre": "message"},
}


def fit(kind: str, value: Any) -> Any:
    """``value`` if the SDK's enum ``kind`` has it, else the nearest value it has."""
    return _fit(value, _enums()[kind], _NEAREST.get(kind, {}))


def sdk_channel_type(value: Any) -> Any:
    return fit("channel_type", value)


def adapt_user(user: Any) -> Any:
    if not isinstance(user, dict):
        return user
    return {**user, "role": fit("role", user.get("role"))}


def adapt_login(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    return {
        **data,
        "token_type": data.get("token_type") or "Bearer",
        "user": adapt_user(data.get("user")),
    }


def adapt_message(message: Any) -> Any:
    """A server message (string content, no direction) as the SDK's ``Message``."""
    if not isinstance(message, dict):
        return message
    kind = message.get("content_type") or "text"
    raw = message.get("content")
    text = raw if isinstance(raw, str) else ""
    attachments = message.get("attachments")
    first = attachments[0] if isinstance(attachments, list) and attachments else None
    first = first if isinstance(first, dict) else None
    content: dict[str, Any]
    attached = str((first or {}).get("url") or "")
    if kind in _MEDIA_CONTENT_TYPES:
        # A message sent through the API holds its URL as content. A received one holds its
        # caption there and its URL in an attachment, which the server loads only for
        # GET /messages/{id}: in a list such a message has a caption and no known URL ("").
        caption = text if attached or not _URL.match(text) else ""
        url = attached or ("" if caption else text)
        media: dict[str, Any] = {"url": url, "mime_type": _media_mime(url, kind, first)}
        if first is not None:
            media["filename"] = first.get("filename")
            media["size"] = first.get("size_bytes")
            media["thumbnail_url"] = first.get("thumbnail_url")
        if caption:
            media["caption"] = caption
        content = {"media": media}
    else:
        content = {"text": text}
    sender = message.get("sender_type")
    return {
        "id": message.get("id"),
        "conversation_id": message.get("conversation_id"),
        "direction": "inbound" if sender == "contact" else "outbound",
        "content_type": fit("content_type", kind),
        "content": content,
        "status": message.get("status"),
        "external_id": message.get("external_id"),
        "sender_id": message.get("sender_id"),
        "sender_type": fit("sender_type", sender),
        "delivered_at": message.get("delivered_at"),
        "read_at": message.get("read_at"),
        "failed_reason": message.get("error_message"),
        "metadata": message.get("metadata"),
        "created_at": message.get("created_at"),
        "updated_at": message.get("updated_at")
        or message.get("edited_at")
        or message.get("created_at"),
    }


#: The channel type given to a conversation whose channel the server no longer lists.
UNKNOWN_CHANNEL_TYPE = "webchat"


def adapt_conversation(conversation: Any, channel_types: Mapping[str, str]) -> Any:
    """A server conversation as the SDK's ``Conversation``; the channel type (which the
    server's conversations lack) comes from ``channel_types``."""
    if not isinstance(conversation, dict):
        return conversation
    channel_id = conversation.get("channel_id")
    return {
        "id": conversation.get("id"),
        "tenant_id": conversation.get("tenant_id"),
        "channel_id": channel_id,
        "channel_type": channel_types.get(str(channel_id), UNKNOWN_CHANNEL_TYPE),
        "contact_id": conversation.get("contact_id"),
        "status": fit("conversation_status", conversation.get("status")),
        "assigned_to": conversation.get("assigned_user_id"),
        "last_message_at": conversation.get("last_message_at"),
        "unread_count": conversation.get("unread_count") or 0,
        "metadata": conversation.get("metadata"),
        "tags": conversation.get("tags"),
        "created_at": conversation.get("created_at"),
        "updated_at": conversation.get("updated_at"),
    }


def adapt_contact(contact: Any) -> Any:
    """A server contact (``identities``, no conversation count) as the SDK's ``Contact``."""
    if not isinstance(contact, dict):
        return contact
    identities = contact.get("identities") or contact.get("identifiers") or []
    identifiers = [
        {
            "channel_type": sdk_channel_type(ident.get("channel_type")),
            "channel_id": ident.get("channel_id") or "",
            "identifier": ident.get("identifier") or "",
            "display_name": ident.get("display_name"),
            "metadata": ident.get("metadata"),
        }
        for ident in identities
        if isinstance(ident, dict)
    ]
    return {
        **contact,
        "name": contact.get("name") or "",
        "identifiers": identifiers,
        "conversation_count": contact.get("conversation_count") or 0,
    }


_CHANNEL_STATUS = {"connected": "active", "connecting": "connecting", "error": "error"}


def adapt_channel(channel: Any) -> Any:
    """A server channel (``enabled`` + ``connection_status``) as the SDK's ``Channel``."""
    if not isinstance(channel, dict):
        return channel
    status = _CHANNEL_STATUS.get(str(channel.get("connection_status")), "inactive")
    return {
        **channel,
        "type": sdk_channel_type(channel.get("type")),
        "status": status,
        "config": channel.get("config") or {},
    }


_WEEKDAYS = {
    name: number
    for number, name in enumerate(
        ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    )
}


def _day(value: Any) -> Any:
    if isinstance(value, str):
        return _WEEKDAYS.get(value.strip().lower()[:9], value)
    return value


def adapt_bot(bot: Any) -> Any:
    """A server bot (flat snake_case ``config``, ``channels``) as the SDK's ``Bot``."""
    if not isinstance(bot, dict):
        return bot
    raw_config = bot.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    kb_id = config.get("knowledge_base_id")
    sdk_config: dict[str, Any] = {
        "welcome_message": config.get("welcome_message") or None,
        "fallback_message": config.get("fallback_message") or None,
        "ai_config": {
            "model": bot.get("model") or "",
            "temperature": config.get("temperature"),
            "max_tokens": config.get("max_tokens"),
            "system_prompt": config.get("system_prompt") or None,
            "use_knowledge_base": bool(kb_id),
        },
    }
    hours = config.get("working_hours")
    if isinstance(hours, dict):
        sdk_config["operating_hours"] = {
            "enabled": bool(hours.get("enabled")),
            "timezone": hours.get("timezone") or "UTC",
            "schedule": [
                {
                    "day": _day(slot.get("day")),
                    "enabled": True,
                    "start_time": slot.get("start_time"),
                    "end_time": slot.get("end_time"),
                }
                for slot in hours.get("schedule") or []
                if isinstance(slot, dict)
            ],
        }
    return {
        "id": bot.get("id"),
        "tenant_id": bot.get("tenant_id"),
        "name": bot.get("name"),
        "description": bot.get("description"),
        "status": fit("bot_status", bot.get("status")),
        "type": fit("bot_type", bot.get("type")),
        "config": sdk_config,
        "channel_ids": bot.get("channels") or bot.get("channel_ids") or [],
        "knowledge_base_ids": [kb_id] if kb_id else None,
        "created_at": bot.get("created_at"),
        "updated_at": bot.get("updated_at"),
    }


def adapt_knowledge_base(kb: Any) -> Any:
    """A server knowledge base (chunking in ``config``, ``item_count``) as the SDK's
    ``KnowledgeBase``; each FAQ item counts as one document of one chunk."""
    if not isinstance(kb, dict):
        return kb
    raw_config = kb.get("config")
    config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    count = int(kb.get("item_count") or 0)
    status = "active" if count else "empty"
    if kb.get("status") == "syncing":
        status = "processing"
    return {
        "id": kb.get("id"),
        "tenant_id": kb.get("tenant_id"),
        "name": kb.get("name"),
        "description": kb.get("description"),
        "status": status,
        "embedding_model": config.get("embedding_model") or "",
        "chunk_size": config.get("chunk_size") or 0,
        "chunk_overlap": config.get("chunk_overlap") or 0,
        "document_count": count,
        "total_chunks": count,
        "created_at": kb.get("created_at"),
        "updated_at": kb.get("updated_at"),
    }


def adapt_kb_item(item: Any) -> Any:
    """A server FAQ item as the SDK's ``Document`` (a one-chunk text document named by its
    question)."""
    if not isinstance(item, dict):
        return item
    answer = item.get("answer") or ""
    return {
        "id": item.get("id"),
        "knowledge_base_id": item.get("knowledge_base_id"),
        "name": item.get("question") or "",
        "type": "txt",
        "status": "completed",
        "size": len(str(answer).encode()),
        "chunk_count": 1,
        "metadata": item.get("metadata"),
        "created_at": item.get("created_at"),
        "updated_at": item.get("updated_at"),
    }


def adapt_flow(flow: Any) -> Any:
    """A server flow (nodes with transitions, ``is_active``) as the SDK's ``Flow`` graph
    (nodes with positions, edges)."""
    if not isinstance(flow, dict):
        return flow
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for order, node in enumerate(flow.get("nodes") or []):
        if not isinstance(node, dict):
            continue
        node_id = node.get("id")
        kind = fit("node_type", node.get("type"))
        data: dict[str, Any] = {"label": node_id, "message_content": node.get("content")}
        if node.get("quick_replies"):
            data["buttons"] = node["quick_replies"]
        nodes.append(
            {
                "id": node_id,
                "type": kind if kind in _enums()["node_type"] else "action",
                "position": {"x": 0, "y": 100 * order},
                "data": data,
            }
        )
        for number, step in enumerate(node.get("transitions") or []):
            if not isinstance(step, dict):
                continue
            edges.append(
                {
                    "id": step.get("id") or f"{node_id}_t{number}",
                    "source": node_id,
                    "target": step.get("to_node_id"),
                    "label": step.get("value"),
                    "condition": step.get("condition"),
                }
            )
    return {
        "id": flow.get("id"),
        "tenant_id": flow.get("tenant_id"),
        "name": flow.get("name"),
        "description": flow.get("description"),
        "status": "active" if flow.get("is_active") else "inactive",
        "version": flow.get("version") or 1,
        "nodes": nodes,
        "edges": edges,
        "created_at": flow.get("created_at"),
        "updated_at": flow.get("updated_at"),
    }


_SERVER_NODE_TYPE = {
    "start": "message",
    "input": "question",
    "ai": "action",
    "api": "action",
    "delay": "action",
    "assign": "action",
}
_SERVER_CONDITIONS = frozenset({"default", "reply_equals", "contains", "regex", "entity"})


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, pydantic.BaseModel):
        dumped: dict[str, Any] = value.model_dump(mode="json", exclude_none=True)
        return dumped
    if isinstance(value, Mapping):
        return {snake(k): v for k, v in value.items()}
    return {}


def server_flow_nodes(nodes: Any, edges: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The SDK's graph (nodes and edges) as the server's node list with transitions, and the
    id of the start node. Nodes already in the server's shape pass through."""
    node_list = [_as_dict(node) for node in nodes or []]
    if any("transitions" in node for node in node_list):
        return node_list, None
    edge_list = [_as_dict(edge) for edge in edges or []]
    out: list[dict[str, Any]] = []
    for node in node_list:
        data = _as_dict(node.get("data"))
        transitions = [
            {
                "id": edge.get("id"),
                "to_node_id": edge.get("target"),
                "condition": edge.get("condition")
                if edge.get("condition") in _SERVER_CONDITIONS
                else "default",
                "value": edge.get("label"),
                "priority": order,
            }
            for order, edge in enumerate(e for e in edge_list if e.get("source") == node.get("id"))
        ]
        server_node: dict[str, Any] = {
            "id": node.get("id"),
            "type": _SERVER_NODE_TYPE.get(str(node.get("type")), node.get("type")),
            "transitions": [{k: v for k, v in t.items() if v is not None} for t in transitions],
        }
        content = data.get("message_content") or data.get("prompt")
        if content:
            server_node["content"] = content
        out.append(server_node)
    start = next((n.get("id") for n in node_list if n.get("type") == "start"), None)
    if start is None and node_list:
        start = node_list[0].get("id")
    return out, start


def adapt_render(render: Any) -> Any:
    """A server render (``render_time_ms`` in nanoseconds) as the SDK's render response."""
    if not isinstance(render, dict):
        return render
    return {**render, "render_time_ms": ns_to_ms(render.get("render_time_ms"))}


def adapt_templates(body: Any) -> Any:
    """The server's template names as the SDK's template objects (names the SDK's template
    enum does not know, such as uploaded SVGs, are left out)."""
    if not isinstance(body, dict) or not isinstance(body.get("templates"), list):
        return body
    known = _enums()["vre_template"]
    templates = []
    for item in body["templates"]:
        if isinstance(item, str):
            if item in known:
                templates.append({"id": item, "name": item, "description": "", "schema": {}})
        elif isinstance(item, dict):
            templates.append(item)
    return {"templates": templates}


def camelize(value: Any) -> Any:
    """Keys of nested dicts in camelCase (user-data maps untouched): a server answer returned
    as a plain dict, in the SDK protocol's words."""
    return _convert(value, camel, True)


def word(value: Any) -> Any:
    """An enum member's value (whatever its ``str()``), anything else as it is."""
    return value.value if isinstance(value, enum.Enum) else value


def _form_value(value: Any) -> str:
    value = word(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(_plain(value, True), default=_json_default).decode()
    return str(value)


def upload_request(
    path: str,
    file: bytes,
    filename: str,
    field_name: str = "file",
    additional_data: Mapping[str, Any] | None = None,
    content_type: str | None = None,
    idempotency_key: str | None = None,
) -> Request:
    """A ``multipart/form-data`` POST: the file under ``field_name`` with its media type, and
    ``additional_data`` as form fields (objects as JSON text)."""
    mime = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    form = {k: _form_value(v) for k, v in (additional_data or {}).items() if v is not None}
    return Request(
        "POST",
        path,
        files={field_name: (filename, bytes(file), mime)},
        form=form or None,
        idempotency_key=idempotency_key,
    )
