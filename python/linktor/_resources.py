"""Every Linktor API method, written once for both clients and both dialects.

Each public method is a plan (see :mod:`linktor._plan`): it builds requests, receives replies
and returns the SDK's model, whatever the dialect. The classes here are mixins;
:mod:`linktor.client` combines each with ``SyncResource`` (blocking methods) and with
``AsyncResource`` (coroutine methods) under the official class names.

In the server dialect, methods whose route the self-hosted server lacks raise
:class:`~linktor._dialect.UnsupportedOperationError` before sending anything; see
:data:`SERVER_UNSUPPORTED`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, TypeVar
from urllib.parse import quote

import pydantic

from linktor._builders import server_items, server_one
from linktor._dialect import (
    UNKNOWN_CHANNEL_TYPE,
    Dialect,
    InvalidResponseError,
    UnsupportedOperationError,
    Window,
    adapt_bot,
    adapt_channel,
    adapt_contact,
    adapt_conversation,
    adapt_flow,
    adapt_kb_item,
    adapt_knowledge_base,
    adapt_login,
    adapt_message,
    adapt_render,
    adapt_templates,
    adapt_user,
    camel,
    camelize,
    decode_json,
    encode_body,
    encode_params,
    merge_pages,
    parse_json_model,
    rough_tokens,
    sdk_channel_type,
    server_flow_nodes,
    server_list_query,
    server_page,
    snake,
    spans_next_page,
    unwrap,
    upload_request,
    validate_model,
    word,
)
from linktor._pagination import UnpagedPages
from linktor._plan import Pages, Plan, Reply, Request, operation, paginated
from linktor.types.ai import Agent
from linktor.types.auth import LoginResponse, RefreshTokenResponse, User
from linktor.types.bot import Bot
from linktor.types.channel import Channel
from linktor.types.common import PaginatedResponse
from linktor.types.contact import Contact
from linktor.types.conversation import Conversation, Message
from linktor.types.flow import Flow, FlowExecution
from linktor.types.knowledge import Document, KnowledgeBase
from linktor.types.vre import (
    VREListTemplatesResponse,
    VREPreviewResponse,
    VRERenderAndSendResponse,
    VRERenderResponse,
)
from linktor.types.webhook import WebhookConfig

__all__ = [
    "SERVER_UNSUPPORTED",
    "AIOps",
    "AgentsOps",
    "AnalyticsOps",
    "AuthOps",
    "BotsOps",
    "ChannelsOps",
    "CompletionsOps",
    "ContactsOps",
    "ConversationsOps",
    "EmbeddingsOps",
    "FlowsOps",
    "KnowledgeBasesOps",
    "VREOps",
    "WebhooksOps",
]

M = TypeVar("M", bound=pydantic.BaseModel)
Json = dict[str, Any]
FileData = bytes | bytearray | memoryview | IO[bytes]

#: Methods with no equivalent route on the self-hosted server (``dialect="server"``): they
#: raise ``UnsupportedOperationError`` without sending a request.
SERVER_UNSUPPORTED: dict[str, str] = {
    "ai.agents.list": "the server has no AI agents",
    "ai.agents.get": "the server has no AI agents",
    "ai.agents.create": "the server has no AI agents",
    "ai.agents.update": "the server has no AI agents",
    "ai.agents.delete": "the server has no AI agents",
    "ai.agents.invoke": "the server has no AI agents; ai.completions.create works",
    "ai.agents.iter": "the server has no AI agents",
    "ai.embeddings.create": "the server exposes no embeddings endpoint",
    "ai.embeddings.embed": "the server exposes no embeddings endpoint",
    "knowledge_bases.upload_document": (
        "the server stores FAQ items, not files; POST /knowledge-bases/{id}/items adds one"
    ),
    "flows.execute": "the server only simulates flows (POST /flows/{id}/test)",
    "analytics.get_dashboard": "the closest server report is GET /analytics/overview",
    "analytics.get_message_metrics": "the server has no message report",
    "analytics.get_realtime": "the server has no realtime report",
    **{
        f"webhooks.{name}": (
            "the server has no webhook management routes and sends no webhooks (its "
            "/webhooks/* routes receive channel providers' callbacks)"
        )
        for name in ("create", "list", "get", "delete")
    },
}

_NO_BODY: Any = None


def _seg(value: Any) -> str:
    """A path segment, percent-encoded (an id never changes the route)."""
    return quote(str(value), safe="")


def _derive(key: str | None, step: str) -> str | None:
    """The idempotency key of a follow-up request of a multi-request method."""
    return None if key is None else f"{key}:{step}"


def _page_model(model: type[M]) -> type[PaginatedResponse[M]]:
    return PaginatedResponse[model]  # type: ignore[valid-type]


def _snake_fields(values: Mapping[str, Any]) -> Json:
    return {snake(k): v for k, v in values.items()}


def _plain(value: Any) -> Any:
    """Models (e.g. ``ChatMessage``) as dicts by field name; other values as they are."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {snake(k): v for k, v in value.items()}
    return value


def _file_bytes(file: FileData) -> bytes:
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file)
    data = file.read()
    if not isinstance(data, bytes):
        raise TypeError("file must be bytes or a binary file object")
    return data


def _noted(page: Json, pages: UnpagedPages[Any] | None) -> Json:
    """``page`` without its ``"truncated"`` note, which goes to ``pages`` (if any)."""
    cut = page.pop("truncated", None)
    if cut and pages is not None:
        pages.cut_at = int(cut)
    return page


def _dict_answer(reply: Reply, body: Any, what: str) -> Json:
    if not isinstance(body, dict):
        raise InvalidResponseError(
            f"{reply.method} {reply.url}: expected a JSON object ({what})",
            status_code=reply.status,
            request_id=reply.request_id,
        )
    return body


class _Ops:
    """What every resource mixin shares: the dialect, request building and decoding."""

    _http: Any

    @property
    def _server(self) -> bool:
        return bool(self._http.dialect is Dialect.SERVER)

    def _unsupported_on_server(self, operation: str) -> None:
        if self._server:
            raise UnsupportedOperationError(operation, SERVER_UNSUPPORTED.get(operation, ""))

    def _request(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        params: Mapping[str, Any] | None = None,
        case: str | None = None,
        idempotency_key: str | None = None,
    ) -> Request:
        """A request whose body keys and query names follow the dialect (camelCase for the SDK
        protocol, snake_case for the server) unless ``case`` says otherwise."""
        if case is None:
            case = "snake" if self._server else "camel"
        return Request(
            method,
            path,
            params=encode_params(params, case) or None,
            content=None if body is None else encode_body(body, case),
            idempotency_key=idempotency_key,
        )

    def _one(self, model: type[M], reply: Reply, adapt: Any = None) -> M:
        """One resource: straight from the bytes (SDK), or unwrapped and adapted (server; by
        the Rust core where it gives exactly this result)."""
        if not self._server:
            return parse_json_model(model, reply)
        built = server_one(model, adapt, reply.content)
        if built is not None and not isinstance(built, str):
            return built  # type: ignore[no-any-return]
        data = unwrap(decode_json(reply))
        return validate_model(model, adapt(data) if adapt is not None else data, reply)

    def _raw(self, reply: Reply, what: str) -> Json:
        """A JSON object returned as a dict (unwrapped from the server's envelope)."""
        body = decode_json(reply)
        if self._server:
            body = unwrap(body)
        return _dict_answer(reply, body, what)

    def _get_one(self, model: type[M], path: str, adapt: Any = None) -> Plan[M]:
        reply = yield self._request("GET", path)
        return self._one(model, reply, adapt)

    def _list_page(
        self,
        model: type[M],
        path: str,
        params: Mapping[str, Any],
        adapt: Any = None,
        default_size: int = 20,
        *,
        pages: UnpagedPages[Any] | None = None,
        cap: int | None = None,
    ) -> Plan[PaginatedResponse[M]]:
        if not self._server:
            reply = yield self._request("GET", path, params=params)
            return parse_json_model(_page_model(model), reply)
        body, window, reply, built = yield from self._server_list(
            path, params, default_size, lambda content: server_items(model, adapt, content)
        )
        page = _noted(server_page(body, window, None if built else adapt, cap=cap), pages)
        return validate_model(_page_model(model), page, reply)

    def _unpaged(
        self, fetch: Callable[[Json, UnpagedPages[Any] | None], Plan[Any]], params: Json, what: str
    ) -> Pages[Any]:
        """The pages of a list the self-hosted server may not page: in the server dialect
        the iteration warns when it ends on the server's only (full) page."""
        if not self._server:
            return Pages[Any](lambda p: fetch(p, None), params)
        pages = UnpagedPages[Any](lambda p: fetch(p, None), params, what)
        pages.fetch = lambda p: fetch(p, pages)
        return pages

    def _server_list(
        self,
        path: str,
        params: Mapping[str, Any],
        default_size: int = 20,
        native: Callable[[bytes], Any] | None = None,
    ) -> Plan[tuple[Any, Window, Reply, bool]]:
        """A server list answer for the SDK's ``limit``/``offset`` (two of the server's pages
        when a misaligned offset spans them), and whether its records are built already:
        ``native`` builds them from the body where it can (see :mod:`linktor._builders`);
        otherwise they are decoded dicts."""
        query, window = server_list_query(params, default_size)
        reply = yield self._request("GET", path, params=query)
        body = native(reply.content) if native is not None else None
        if body is not None and not spans_next_page(body, window):
            return body, window, reply, True
        body = decode_json(reply)
        if spans_next_page(body, window):
            following = {**query, "page": int(query["page"]) + 1}
            body = merge_pages(
                body, decode_json((yield self._request("GET", path, params=following)))
            )
        return body, window, reply, False

    def _delete(self, path: str) -> Plan[None]:
        yield self._request("DELETE", path)
        return None

    def _channel_types(self, conversations: Iterable[Any]) -> Plan[Mapping[str, str]]:
        """The SDK channel type of each conversation's channel (server dialect), from the
        server's channel list, learnt once per client."""
        wanted = {
            str(c.get("channel_id"))
            for c in conversations
            if isinstance(c, dict) and c.get("channel_id")
        }
        return (yield from self._channel_types_of(wanted))

    def _channel_types_of(self, wanted: Iterable[str]) -> Plan[Mapping[str, str]]:
        """The channel types, with those of the ``wanted`` channel ids learnt (one request
        for the server's channel list when the cache lacks any of them)."""
        cache: dict[str, str] = self._http.channel_types
        missing = set(wanted) - cache.keys()
        if missing:
            reply = yield self._request("GET", "/channels")
            for channel in server_page(decode_json(reply), Window())["data"]:
                if isinstance(channel, dict) and channel.get("id"):
                    cache[str(channel["id"])] = sdk_channel_type(channel.get("type"))
            for channel_id in missing - cache.keys():
                cache[channel_id] = UNKNOWN_CHANNEL_TYPE  # deleted: ask only once
        return cache


# -- auth ----------------------------------------------------------------------------------------


class AuthOps(_Ops):
    """Login, logout, token refresh and the current user."""

    @operation
    def login(self, email: str, password: str) -> Plan[LoginResponse]:
        """Log in with email and password; the client then authenticates with the returned
        access token (``Authorization: Bearer``)."""
        reply = yield self._request("POST", "/auth/login", {"email": email, "password": password})
        result = self._one(LoginResponse, reply, adapt_login)
        self._http.set_access_token(result.access_token)
        return result

    @operation
    def logout(self) -> Plan[None]:
        """Log out. Server dialect: its tokens are stateless and it has no logout route, so the
        client forgets its access token (no request)."""
        if self._server:
            self._http.clear_access_token()
            return None
        yield self._request("POST", "/auth/logout")
        return None

    @operation
    def refresh_token(self, refresh_token: str) -> Plan[RefreshTokenResponse]:
        """Exchange a refresh token for new tokens; the client then uses the new access token."""
        reply = yield self._request("POST", "/auth/refresh", {"refresh_token": refresh_token})
        result = self._one(RefreshTokenResponse, reply)
        self._http.set_access_token(result.access_token)
        return result

    @operation
    def get_current_user(self) -> Plan[User]:
        """The authenticated user (the server's ``GET /me``)."""
        path = "/me" if self._server else "/auth/me"
        return (yield from self._get_one(User, path, adapt_user))


# -- conversations -------------------------------------------------------------------------------


def _server_message_body(fields: Json) -> Json:
    """The SDK's ``send_message`` keywords as the server's ``{content_type, content}``."""
    if "content_type" in fields or "content" in fields:
        return fields  # already in the server's words
    body: Json = {}
    if fields.get("metadata") is not None:
        body["metadata"] = fields["metadata"]
    if isinstance(fields.get("text"), str):
        return {"content_type": "text", "content": fields["text"], **body}
    media = _plain(fields.get("media"))
    if isinstance(media, dict) and isinstance(media.get("url"), str):
        mime = str(media.get("mime_type") or "")
        kind = mime.split("/")[0] if mime.split("/")[0] in ("image", "video", "audio") else ""
        if not kind:
            import mimetypes

            guessed = mimetypes.guess_type(media["url"])[0] or ""
            kind = (
                guessed.split("/")[0]
                if guessed.split("/")[0] in ("image", "video", "audio")
                else "document"
            )
        return {"content_type": kind, "content": media["url"], **body}
    kinds = ", ".join(sorted(k for k in fields if k != "metadata")) or "no content"
    raise UnsupportedOperationError(
        f"conversations.send_message({kinds})",
        "the server sends text and media messages (or pass content_type= and content=)",
    )


class ConversationsOps(_Ops):
    """Conversations and their messages."""

    def _conversation(self, reply: Reply) -> Plan[Conversation]:
        if not self._server:
            return parse_json_model(Conversation, reply)
        types = self._http.channel_types
        built = server_one(Conversation, adapt_conversation, reply.content, types)
        if isinstance(built, str):  # its channel's type is not known yet
            yield from self._channel_types_of([built])
            built = server_one(Conversation, adapt_conversation, reply.content, types)
        if isinstance(built, Conversation):
            return built
        data = unwrap(decode_json(reply))
        types = yield from self._channel_types([data])
        return validate_model(Conversation, adapt_conversation(data, types), reply)

    def _native_conversations(self, content: bytes) -> Any:
        return server_items(Conversation, adapt_conversation, content, self._http.channel_types)

    def _list(
        self, params: Mapping[str, Any], pages: UnpagedPages[Any] | None = None
    ) -> Plan[PaginatedResponse[Conversation]]:
        if not self._server:
            return (yield from self._list_page(Conversation, "/conversations", params))
        body, window, reply, built = yield from self._server_list(
            "/conversations", params, native=self._native_conversations
        )
        page = server_page(body, window)
        if built:
            # Conversations whose channel type is not known yet are their channel ids: those
            # in the window are learnt (as the Python path does), then the body built again.
            missing = {item for item in page["data"] if isinstance(item, str)}
            if missing:
                yield from self._channel_types_of(missing)
                body = self._native_conversations(reply.content)
                rebuilt = server_page(body, window) if body is not None else None
                if rebuilt is not None and all(
                    isinstance(item, Conversation) for item in rebuilt["data"]
                ):
                    page = rebuilt
                else:
                    built = False
                    page = server_page(decode_json(reply), window)
        page = _noted(page, pages)
        if not built:
            types = yield from self._channel_types(page["data"])
            page["data"] = [adapt_conversation(c, types) for c in page["data"]]
        return validate_model(_page_model(Conversation), page, reply)

    def _messages(
        self,
        conversation_id: str,
        params: Mapping[str, Any],
        pages: UnpagedPages[Any] | None = None,
    ) -> Plan[PaginatedResponse[Message]]:
        path = f"/conversations/{_seg(conversation_id)}/messages"
        return (yield from self._list_page(Message, path, params, adapt_message, 50, pages=pages))

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[Conversation]]:
        """One page of conversations. Filters: ``status``, ``channel_id``, ``assigned_to``...;
        paging: ``limit``/``offset`` (or ``cursor``). Enum values are sent as their values."""
        return self._list(params)

    @paginated
    def iter(self, /, **params: Any) -> Pages[Conversation]:
        """Every conversation matching ``params``, page after page (``for``/``async for``).

        Self-hosted server: it lists only its first 20 conversations (by last update), so the
        iteration ends there, with an :class:`~linktor._dialect.UnpagedListWarning` when
        those 20 were a full page."""
        return self._unpaged(self._list, dict(params), "conversations.iter()")

    @operation
    def get(self, id: str) -> Plan[Conversation]:
        reply = yield self._request("GET", f"/conversations/{_seg(id)}")
        return (yield from self._conversation(reply))

    @operation
    def update(
        self, /, id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Conversation]:
        """Change ``status``, ``assigned_to``, ``tags``, ``metadata`` (server: also ``subject``,
        ``priority``; an assignee goes through its assign route)."""
        path = f"/conversations/{_seg(id)}"
        if not self._server:
            reply = yield self._request("PATCH", path, kwargs, idempotency_key=idempotency_key)
            return parse_json_model(Conversation, reply)
        fields = _snake_fields(kwargs)
        assignee = fields.pop("assigned_to", None)
        last: Reply | None = None
        if fields or assignee is None:
            last = yield self._request("PUT", path, fields)
        if assignee is not None:
            last = yield self._request(
                "POST",
                f"{path}/assign",
                {"user_id": assignee},
                idempotency_key=_derive(idempotency_key, "assign"),
            )
        assert last is not None
        return (yield from self._conversation(last))

    @operation
    def send_message(
        self, /, conversation_id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Message]:
        """Send a message: ``text=``, ``media=``, ``location=``, ``buttons=``, ``template=``...
        (server: text and media; or its own ``content_type=`` and ``content=``)."""
        path = f"/conversations/{_seg(conversation_id)}/messages"
        body = _server_message_body(_snake_fields(kwargs)) if self._server else kwargs
        reply = yield self._request("POST", path, body, idempotency_key=idempotency_key)
        return self._one(Message, reply, adapt_message)

    @operation
    def send_text(
        self, conversation_id: str, text: str, *, idempotency_key: str | None = None
    ) -> Plan[Message]:
        """Send a text message."""
        return ConversationsOps.send_message.plan(
            self, conversation_id, idempotency_key=idempotency_key, text=text
        )

    @operation
    def list_messages(
        self, /, conversation_id: str, **params: Any
    ) -> Plan[PaginatedResponse[Message]]:
        """One page of a conversation's messages (``limit``/``offset``, ``before``/``after``)."""
        return self._messages(conversation_id, params)

    @paginated
    def iter_messages(self, /, conversation_id: str, **params: Any) -> Pages[Message]:
        """Every message of a conversation, page after page.

        Self-hosted server: it lists only the newest 50 messages, newest first, so the
        iteration ends there, with an :class:`~linktor._dialect.UnpagedListWarning` when the
        conversation has more."""
        return self._unpaged(
            lambda p, pages: self._messages(conversation_id, p, pages),
            dict(params),
            "conversations.iter_messages()",
        )

    @operation
    def resolve(self, id: str, *, idempotency_key: str | None = None) -> Plan[Conversation]:
        """Mark the conversation resolved."""
        if not self._server:
            return (
                yield from ConversationsOps.update.plan(
                    self, id, idempotency_key=idempotency_key, status="resolved"
                )
            )
        reply = yield self._request(
            "POST", f"/conversations/{_seg(id)}/resolve", idempotency_key=idempotency_key
        )
        return (yield from self._conversation(reply))

    @operation
    def assign(
        self, id: str, agent_id: str, *, idempotency_key: str | None = None
    ) -> Plan[Conversation]:
        """Assign the conversation to an agent (a user id)."""
        body = {"user_id": agent_id} if self._server else {"agentId": agent_id}
        reply = yield self._request(
            "POST", f"/conversations/{_seg(id)}/assign", body, idempotency_key=idempotency_key
        )
        return (yield from self._conversation(reply))


# -- contacts ------------------------------------------------------------------------------------

_CONTACT_OVERWRITTEN = ("name", "email", "phone", "avatar_url")


class ContactsOps(_Ops):
    """Contacts."""

    def _list(self, params: Mapping[str, Any]) -> Plan[PaginatedResponse[Contact]]:
        return (yield from self._list_page(Contact, "/contacts", params, adapt_contact))

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[Contact]]:
        """One page of contacts (``search``, ``email``, ``phone``, ``tags``;
        ``limit``/``offset``)."""
        return self._list(params)

    @paginated
    def iter(self, /, **params: Any) -> Pages[Contact]:
        """Every contact matching ``params``, page after page."""
        return Pages[Contact](self._list, dict(params))

    @operation
    def get(self, id: str) -> Plan[Contact]:
        return self._get_one(Contact, f"/contacts/{_seg(id)}", adapt_contact)

    @operation
    def create(self, /, *, idempotency_key: str | None = None, **kwargs: Any) -> Plan[Contact]:
        """Create a contact (``name``, ``email``, ``phone``, ``custom_fields``, ``tags``,
        ``identifiers``...). Server: identifiers are added through its identities route."""
        if not self._server:
            reply = yield self._request(
                "POST", "/contacts", kwargs, idempotency_key=idempotency_key
            )
            return parse_json_model(Contact, reply)
        fields = _snake_fields(kwargs)
        identifiers = fields.pop("identifiers", None) or []
        reply = yield self._request("POST", "/contacts", fields, idempotency_key=idempotency_key)
        if not identifiers:
            return self._one(Contact, reply, adapt_contact)
        contact_id = _dict_answer(reply, unwrap(decode_json(reply)), "a contact").get("id")
        for number, ident in enumerate(identifiers):
            ident = _plain(ident)
            yield self._request(
                "POST",
                f"/contacts/{_seg(contact_id)}/identities",
                {k: ident.get(k) for k in ("channel_type", "identifier", "metadata")},
                idempotency_key=_derive(idempotency_key, f"identity{number}"),
            )
        return (yield from self._get_one(Contact, f"/contacts/{_seg(contact_id)}", adapt_contact))

    @operation
    def update(
        self, /, id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Contact]:
        """Change the given fields only. Server: its PUT overwrites name, email, phone and
        avatar, so the current values are read first and sent back unless changed."""
        path = f"/contacts/{_seg(id)}"
        if not self._server:
            reply = yield self._request("PATCH", path, kwargs, idempotency_key=idempotency_key)
            return parse_json_model(Contact, reply)
        fields = _snake_fields(kwargs)
        if not all(key in fields for key in _CONTACT_OVERWRITTEN):
            current = unwrap(decode_json((yield self._request("GET", path))))
            if isinstance(current, dict):
                for key in _CONTACT_OVERWRITTEN:
                    fields.setdefault(key, current.get(key))
        reply = yield self._request("PUT", path, fields)
        return self._one(Contact, reply, adapt_contact)

    @operation
    def delete(self, id: str) -> Plan[None]:
        return self._delete(f"/contacts/{_seg(id)}")

    @operation
    def search(self, /, query: str, **params: Any) -> Plan[PaginatedResponse[Contact]]:
        """Contacts whose name, email or phone contain ``query`` (``list(search=query)``)."""
        return self._list({**params, "search": query})


# -- channels ------------------------------------------------------------------------------------


#: The self-hosted server lists at most this many channels (the newest).
_SERVER_CHANNELS = 100


class ChannelsOps(_Ops):
    """Messaging channels (WhatsApp, Telegram, web chat...)."""

    def _list(
        self, params: Mapping[str, Any], pages: UnpagedPages[Any] | None = None
    ) -> Plan[PaginatedResponse[Channel]]:
        return (
            yield from self._list_page(
                Channel, "/channels", params, adapt_channel, pages=pages, cap=_SERVER_CHANNELS
            )
        )

    def _remember(self, channel: Channel) -> Channel:
        self._http.channel_types[channel.id] = str(channel.type.value)
        return channel

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[Channel]]:
        """One page of channels (server: it lists all; ``limit``/``offset`` are applied here)."""
        return self._list(params)

    @paginated
    def iter(self, /, **params: Any) -> Pages[Channel]:
        """Every channel, page after page (self-hosted server: its newest 100, with an
        :class:`~linktor._dialect.UnpagedListWarning` when there are that many)."""
        return self._unpaged(self._list, dict(params), "channels.iter()")

    @operation
    def get(self, id: str) -> Plan[Channel]:
        return self._get_one(Channel, f"/channels/{_seg(id)}", adapt_channel)

    @operation
    def create(self, /, *, idempotency_key: str | None = None, **kwargs: Any) -> Plan[Channel]:
        """Create a channel (``name``, ``type``, ``config``...)."""
        reply = yield self._request("POST", "/channels", kwargs, idempotency_key=idempotency_key)
        return self._remember(self._one(Channel, reply, adapt_channel))

    @operation
    def update(
        self, /, id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Channel]:
        """Change the given fields (server: type and name, which its PUT requires, are read
        first when not given)."""
        path = f"/channels/{_seg(id)}"
        if not self._server:
            reply = yield self._request("PATCH", path, kwargs, idempotency_key=idempotency_key)
            return parse_json_model(Channel, reply)
        fields = _snake_fields(kwargs)
        if "type" not in fields or "name" not in fields:
            current = unwrap(decode_json((yield self._request("GET", path))))
            if isinstance(current, dict):
                fields.setdefault("type", current.get("type"))
                fields.setdefault("name", current.get("name"))
        reply = yield self._request("PUT", path, fields)
        return self._remember(self._one(Channel, reply, adapt_channel))

    @operation
    def delete(self, id: str) -> Plan[None]:
        return self._delete(f"/channels/{_seg(id)}")

    @operation
    def connect(self, id: str, *, idempotency_key: str | None = None) -> Plan[Channel]:
        """Connect the channel; returns it (server: without its QR or pairing code, which
        ``client._http.post(f"/channels/{id}/connect")`` gives)."""
        reply = yield self._request(
            "POST", f"/channels/{_seg(id)}/connect", idempotency_key=idempotency_key
        )
        if not self._server:
            return parse_json_model(Channel, reply)
        data = unwrap(decode_json(reply))
        if isinstance(data, dict) and isinstance(data.get("channel"), dict):
            data = data["channel"]
        return validate_model(Channel, adapt_channel(data), reply)

    @operation
    def disconnect(self, id: str, *, idempotency_key: str | None = None) -> Plan[Channel]:
        """Disconnect the channel; returns it (server: read again after its acknowledgement)."""
        path = f"/channels/{_seg(id)}"
        reply = yield self._request("POST", f"{path}/disconnect", idempotency_key=idempotency_key)
        if not self._server:
            return parse_json_model(Channel, reply)
        return (yield from self._get_one(Channel, path, adapt_channel))


# -- bots ----------------------------------------------------------------------------------------

_BOT_PUT_KEYS = frozenset(
    {
        "name",
        "model",
        "system_prompt",
        "temperature",
        "max_tokens",
        "welcome_message",
        "fallback_message",
    }
)
_BOT_CREATE_KEYS = frozenset(
    {"name", "type", "provider", "model", "system_prompt", "temperature", "max_tokens"}
)


def _server_bot_fields(kwargs: Mapping[str, Any]) -> Json:
    """The SDK's bot fields (``type``, nested ``config.aiConfig``) flattened into the server's
    snake_case words (``rule_based``, ``model``, ``system_prompt``...)."""
    fields = _snake_fields(kwargs)
    config = _plain(fields.pop("config", None))
    if isinstance(config, dict):
        ai = _plain(config.pop("ai_config", None))
        if isinstance(ai, dict):
            for key, value in ai.items():
                fields.setdefault(key, value)
        for key in ("welcome_message", "fallback_message"):
            if key in config:
                fields.setdefault(key, config[key])
    if fields.get("type") is not None:
        kind = word(fields["type"])
        fields["type"] = {"flow": "rule_based"}.get(kind, kind)
    return fields


class BotsOps(_Ops):
    """Bots (AI, flow-driven or hybrid)."""

    def _list(self, params: Mapping[str, Any]) -> Plan[PaginatedResponse[Bot]]:
        return (yield from self._list_page(Bot, "/bots", params, adapt_bot))

    def _server_follow_ups(
        self, bot_id: str, fields: Json, current: Json | None, key: str | None
    ) -> Plan[bool]:
        """What the server sets through its own routes: status, channels and the messages its
        create does not take. True when something was sent."""
        path = f"/bots/{_seg(bot_id)}"
        sent = False
        status = word(fields.get("status"))
        if status in ("active", "inactive"):
            verb = "activate" if status == "active" else "deactivate"
            yield self._request("POST", f"{path}/{verb}", idempotency_key=_derive(key, verb))
            sent = True
        wanted = fields.get("channel_ids")
        if wanted is not None:
            have = builtins.list((current or {}).get("channels") or [])
            for channel_id in [c for c in wanted if c not in have]:
                yield self._request(
                    "POST",
                    f"{path}/channels",
                    {"channel_id": channel_id},
                    idempotency_key=_derive(key, f"channel:{channel_id}"),
                )
                sent = True
            for channel_id in [c for c in have if c not in wanted]:
                yield self._request("DELETE", f"{path}/channels/{_seg(channel_id)}")
                sent = True
        return sent

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[Bot]]:
        """One page of bots (``status``, ``type``; ``limit``/``offset``)."""
        return self._list(params)

    @paginated
    def iter(self, /, **params: Any) -> Pages[Bot]:
        """Every bot, page after page."""
        return Pages[Bot](self._list, dict(params))

    @operation
    def get(self, id: str) -> Plan[Bot]:
        return self._get_one(Bot, f"/bots/{_seg(id)}", adapt_bot)

    @operation
    def create(self, /, *, idempotency_key: str | None = None, **kwargs: Any) -> Plan[Bot]:
        """Create a bot (``name``, ``type``, ``config``...). Server: ``provider`` defaults to
        ``"openai"`` and ``model`` comes from ``config["aiConfig"]["model"]`` when not given;
        status, channels and welcome/fallback messages go through their own routes."""
        if not self._server:
            reply = yield self._request("POST", "/bots", kwargs, idempotency_key=idempotency_key)
            return parse_json_model(Bot, reply)
        fields = _server_bot_fields(kwargs)
        body = {k: v for k, v in fields.items() if k in _BOT_CREATE_KEYS}
        body.setdefault("provider", "openai")
        reply = yield self._request("POST", "/bots", body, idempotency_key=idempotency_key)
        created = _dict_answer(reply, unwrap(decode_json(reply)), "a bot")
        path = f"/bots/{_seg(created.get('id'))}"
        changes = {k: v for k, v in fields.items() if k in ("welcome_message", "fallback_message")}
        if changes:
            reply = yield self._request("PUT", path, changes)
        more = yield from self._server_follow_ups(
            str(created.get("id")), fields, created, idempotency_key
        )
        if more:
            return (yield from self._get_one(Bot, path, adapt_bot))
        return self._one(Bot, reply, adapt_bot)

    @operation
    def update(self, /, id: str, *, idempotency_key: str | None = None, **kwargs: Any) -> Plan[Bot]:
        """Change the given fields (server: status and channels through their own routes)."""
        path = f"/bots/{_seg(id)}"
        if not self._server:
            reply = yield self._request("PATCH", path, kwargs, idempotency_key=idempotency_key)
            return parse_json_model(Bot, reply)
        fields = _server_bot_fields(kwargs)
        body = {k: v for k, v in fields.items() if k in _BOT_PUT_KEYS}
        current: Json | None = None
        if body:
            reply = yield self._request("PUT", path, body)
            current = unwrap(decode_json(reply))
        elif "channel_ids" in fields:
            current = unwrap(decode_json((yield self._request("GET", path))))
        more = yield from self._server_follow_ups(
            id, fields, current if isinstance(current, dict) else None, idempotency_key
        )
        if body and not more:
            return validate_model(Bot, adapt_bot(current), reply)
        return (yield from self._get_one(Bot, path, adapt_bot))

    @operation
    def delete(self, id: str) -> Plan[None]:
        return self._delete(f"/bots/{_seg(id)}")

    @operation
    def activate(self, id: str, *, idempotency_key: str | None = None) -> Plan[Bot]:
        """Set the bot active."""
        return BotsOps.update.plan(self, id, idempotency_key=idempotency_key, status="active")

    @operation
    def deactivate(self, id: str, *, idempotency_key: str | None = None) -> Plan[Bot]:
        """Set the bot inactive."""
        return BotsOps.update.plan(self, id, idempotency_key=idempotency_key, status="inactive")


# -- AI ------------------------------------------------------------------------------------------


class AgentsOps(_Ops):
    """AI agents (SDK protocol only)."""

    def _list(self, params: Mapping[str, Any]) -> Plan[PaginatedResponse[Agent]]:
        self._unsupported_on_server("ai.agents.list")
        return (yield from self._list_page(Agent, "/ai/agents", params))

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[Agent]]:
        return self._list(params)

    @paginated
    def iter(self, /, **params: Any) -> Pages[Agent]:
        """Every agent, page after page."""
        self._unsupported_on_server("ai.agents.iter")
        return Pages[Agent](self._list, dict(params))

    @operation
    def get(self, id: str) -> Plan[Agent]:
        self._unsupported_on_server("ai.agents.get")
        return self._get_one(Agent, f"/ai/agents/{_seg(id)}")

    @operation
    def create(self, /, *, idempotency_key: str | None = None, **kwargs: Any) -> Plan[Agent]:
        self._unsupported_on_server("ai.agents.create")
        reply = yield self._request("POST", "/ai/agents", kwargs, idempotency_key=idempotency_key)
        return parse_json_model(Agent, reply)

    @operation
    def update(
        self, /, id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Agent]:
        self._unsupported_on_server("ai.agents.update")
        path = f"/ai/agents/{_seg(id)}"
        reply = yield self._request("PATCH", path, kwargs, idempotency_key=idempotency_key)
        return parse_json_model(Agent, reply)

    @operation
    def delete(self, id: str) -> Plan[None]:
        self._unsupported_on_server("ai.agents.delete")
        return self._delete(f"/ai/agents/{_seg(id)}")

    @operation
    def invoke(
        self, /, id: str, message: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Json]:
        """Send ``message`` to the agent; the raw answer (``response``, ``usage``...)."""
        self._unsupported_on_server("ai.agents.invoke")
        reply = yield self._request(
            "POST",
            f"/ai/agents/{_seg(id)}/invoke",
            {"message": message, **kwargs},
            idempotency_key=idempotency_key,
        )
        return self._raw(reply, "an agent answer")


def _completion_from_server(data: Json, model: str) -> Json:
    """The server's ``/ai/complete`` answer in the SDK protocol's completion shape."""
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    result: Json = {
        "id": str(data.get("id") or ""),
        "model": data.get("model") or model,
        "message": {"role": "assistant", "content": data.get("content") or ""},
        "usage": {
            "promptTokens": prompt,
            "completionTokens": completion,
            "totalTokens": int(data.get("tokens_used") or prompt + completion),
        },
        "finishReason": data.get("finish_reason") or "stop",
    }
    if data.get("tool_calls"):
        result["message"]["toolCalls"] = camelize(data["tool_calls"])
    return result


class CompletionsOps(_Ops):
    """Chat completions (server: its ``/ai/complete``)."""

    def _choose_model(self, fields: Json) -> Plan[tuple[str, str]]:
        provider = fields.get("provider")
        model = fields.get("model")
        if model and provider:
            return str(provider), str(model)
        reply = yield self._request("GET", "/ai/providers")
        body = unwrap(decode_json(reply))
        providers = body.get("providers") if isinstance(body, dict) else None
        choices = [p for p in providers or [] if isinstance(p, dict) and p.get("available", True)]
        chosen = next((p for p in choices if not provider or p.get("name") == provider), None)
        if chosen is None:
            raise InvalidResponseError(
                f"no AI provider available{f' named {provider!r}' if provider else ''}",
                status_code=reply.status,
                request_id=reply.request_id,
            )
        default = chosen.get("default_model") or next(iter(chosen.get("models") or []), "")
        return str(chosen.get("name")), str(model or default)

    @operation
    def create(
        self, /, messages: builtins.list[Any], *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Json]:
        """A completion of ``messages`` (dicts or ``ChatMessage``); the raw answer
        (``message``, ``usage``, ``finishReason``...). Server: ``provider`` and ``model`` may be
        given; by default the first available provider's default model is used."""
        if not self._server:
            reply = yield self._request(
                "POST",
                "/ai/completions",
                {"messages": messages, **kwargs},
                idempotency_key=idempotency_key,
            )
            return self._raw(reply, "a completion")
        fields = _snake_fields(kwargs)
        provider, model = yield from self._choose_model(fields)
        body = {
            **fields,
            "provider": provider,
            "model": model,
            "messages": [_plain(m) for m in messages],
        }
        reply = yield self._request("POST", "/ai/complete", body, idempotency_key=idempotency_key)
        return _completion_from_server(self._raw(reply, "a completion"), model)

    @operation
    def complete(
        self, /, prompt: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[str]:
        """The text of the completion of a single user ``prompt``."""
        result = yield from CompletionsOps.create.plan(
            self,
            [{"role": "user", "content": prompt}],
            idempotency_key=idempotency_key,
            **kwargs,
        )
        message = result.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise InvalidResponseError("the completion has no message.content", details=result)
        return content


class EmbeddingsOps(_Ops):
    """Embeddings (SDK protocol only)."""

    @operation
    def create(
        self,
        /,
        input: str | builtins.list[str],
        *,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> Plan[Json]:
        """Embeddings of ``input`` (a text or a list of texts); the raw answer."""
        self._unsupported_on_server("ai.embeddings.create")
        reply = yield self._request(
            "POST",
            "/ai/embeddings",
            {"input": input, **kwargs},
            idempotency_key=idempotency_key,
        )
        return self._raw(reply, "embeddings")

    @operation
    def embed(
        self, /, text: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[builtins.list[float]]:
        """The embedding vector of one ``text``."""
        self._unsupported_on_server("ai.embeddings.embed")
        result = yield from EmbeddingsOps.create.plan(
            self, text, idempotency_key=idempotency_key, **kwargs
        )
        data = result.get("data")
        first = data[0] if isinstance(data, builtins.list) and data else None
        vector = first.get("embedding") if isinstance(first, dict) else None
        if not isinstance(vector, builtins.list):
            raise InvalidResponseError("the answer has no data[0].embedding", details=result)
        return [float(x) for x in vector]


class AIOps(_Ops):
    """The AI resource: ``agents``, ``completions`` and ``embeddings``."""


# -- knowledge bases ----------------------------------------------------------------------------

_KB_CHUNKING = ("embedding_model", "chunk_size", "chunk_overlap")


def _server_kb_fields(kwargs: Mapping[str, Any], create: bool) -> Json:
    """The SDK's top-level chunking settings moved into the server's ``config``."""
    fields = _snake_fields(kwargs)
    config = dict(_plain(fields.pop("config", None)) or {})
    for key in _KB_CHUNKING:
        if fields.get(key) is not None:
            config[key] = fields.pop(key)
        else:
            fields.pop(key, None)
    fields.pop("metadata", None)
    if config:
        fields["config"] = config
    if create:
        fields.setdefault("type", "documents")
    return fields


def _query_from_search(body: Any, query: str, threshold: float | None) -> Json:
    """The server's ``/search`` answer (FAQ items) in the SDK's ``QueryResult`` shape."""
    results = body.get("results") if isinstance(body, dict) else None
    chunks = []
    for hit in results or []:
        if not isinstance(hit, dict) or not isinstance(hit.get("item"), dict):
            continue
        score = float(hit.get("score") or 0.0)
        if threshold is not None and score < threshold:
            continue
        item = hit["item"]
        content = f"{item.get('question') or ''}\n{item.get('answer') or ''}".strip()
        chunks.append(
            {
                "id": item.get("id"),
                "documentId": item.get("id"),
                "content": content,
                "chunkIndex": 0,
                "tokenCount": rough_tokens(content),
                "metadata": item.get("metadata"),
                "score": score,
            }
        )
    answered = body.get("query") if isinstance(body, dict) else None
    return {"chunks": chunks, "query": answered or query, "model": ""}


#: The server's search answers at most this many items.
SERVER_SEARCH_LIMIT = 20


class KnowledgeBasesOps(_Ops):
    """Knowledge bases and their documents (server: FAQ items, shown as documents)."""

    def _list(self, params: Mapping[str, Any]) -> Plan[PaginatedResponse[KnowledgeBase]]:
        return (
            yield from self._list_page(
                KnowledgeBase, "/knowledge-bases", params, adapt_knowledge_base
            )
        )

    def _documents(
        self, kb_id: str, params: Mapping[str, Any]
    ) -> Plan[PaginatedResponse[Document]]:
        words = "items" if self._server else "documents"
        path = f"/knowledge-bases/{_seg(kb_id)}/{words}"
        return (yield from self._list_page(Document, path, params, adapt_kb_item))

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[KnowledgeBase]]:
        return self._list(params)

    @paginated
    def iter(self, /, **params: Any) -> Pages[KnowledgeBase]:
        """Every knowledge base, page after page."""
        return Pages[KnowledgeBase](self._list, dict(params))

    @operation
    def get(self, id: str) -> Plan[KnowledgeBase]:
        return self._get_one(KnowledgeBase, f"/knowledge-bases/{_seg(id)}", adapt_knowledge_base)

    @operation
    def create(
        self, /, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[KnowledgeBase]:
        """Create a knowledge base (``name``, ``description``, ``embedding_model``,
        ``chunk_size``, ``chunk_overlap``). Server: ``type`` defaults to ``"documents"``."""
        body = _server_kb_fields(kwargs, create=True) if self._server else kwargs
        reply = yield self._request(
            "POST", "/knowledge-bases", body, idempotency_key=idempotency_key
        )
        return self._one(KnowledgeBase, reply, adapt_knowledge_base)

    @operation
    def update(
        self, /, id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[KnowledgeBase]:
        path = f"/knowledge-bases/{_seg(id)}"
        if self._server:
            reply = yield self._request("PUT", path, _server_kb_fields(kwargs, create=False))
        else:
            reply = yield self._request("PATCH", path, kwargs, idempotency_key=idempotency_key)
        return self._one(KnowledgeBase, reply, adapt_knowledge_base)

    @operation
    def delete(self, id: str) -> Plan[None]:
        return self._delete(f"/knowledge-bases/{_seg(id)}")

    @operation
    def query(
        self,
        /,
        id: str,
        query: str,
        top_k: int = 5,
        *,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> Plan[Json]:
        """The ``top_k`` best chunks for ``query``: ``{"chunks": [...], "query", "model"}``
        (each chunk has ``content`` and ``score``). Server: its ``/search``, at most 20 items;
        ``threshold`` is applied here."""
        path = f"/knowledge-bases/{_seg(id)}"
        if not self._server:
            reply = yield self._request(
                "POST",
                f"{path}/query",
                {"query": query, "topK": top_k, **kwargs},
                idempotency_key=idempotency_key,
            )
            return self._raw(reply, "a query result")
        fields = _snake_fields(kwargs)
        threshold = fields.pop("threshold", None)
        body = {"query": query, "limit": max(1, min(int(top_k), SERVER_SEARCH_LIMIT))}
        reply = yield self._request("POST", f"{path}/search", body, idempotency_key=idempotency_key)
        return _query_from_search(decode_json(reply), query, threshold)

    @operation
    def search(self, id: str, query: str, top_k: int = 5) -> Plan[builtins.list[str]]:
        """The text of the ``top_k`` best chunks for ``query``."""
        result = yield from KnowledgeBasesOps.query.plan(self, id, query, top_k)
        chunks = result.get("chunks")
        if not isinstance(chunks, builtins.list):
            raise InvalidResponseError("the query result has no chunks", details=result)
        return [str(c.get("content", "")) for c in chunks if isinstance(c, dict)]

    @operation
    def list_documents(self, /, kb_id: str, **params: Any) -> Plan[PaginatedResponse[Document]]:
        """One page of the knowledge base's documents (server: its FAQ items)."""
        return self._documents(kb_id, params)

    @paginated
    def iter_documents(self, /, kb_id: str, **params: Any) -> Pages[Document]:
        """Every document of the knowledge base, page after page."""
        return Pages[Document](lambda p: self._documents(kb_id, p), dict(params))

    @operation
    def upload_document(
        self,
        /,
        kb_id: str,
        file: FileData,
        filename: str,
        *,
        field_name: str = "file",
        additional_data: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> Plan[Document]:
        """Upload a file (``multipart/form-data``, field ``file``). Other keywords (``name``,
        ``type``, ``source_url``, ``metadata``...) are sent as form fields."""
        self._unsupported_on_server("knowledge_bases.upload_document")
        form = {**{camel(k): v for k, v in kwargs.items()}, **(additional_data or {})}
        request = upload_request(
            f"/knowledge-bases/{_seg(kb_id)}/documents",
            _file_bytes(file),
            filename,
            field_name,
            form,
            content_type,
            idempotency_key,
        )
        reply = yield request
        return parse_json_model(Document, reply)

    @operation
    def delete_document(self, kb_id: str, doc_id: str) -> Plan[None]:
        """Delete a document (server: an FAQ item)."""
        words = "items" if self._server else "documents"
        return self._delete(f"/knowledge-bases/{_seg(kb_id)}/{words}/{_seg(doc_id)}")


# -- flows ---------------------------------------------------------------------------------------


def _server_flow_fields(kwargs: Mapping[str, Any], create: bool) -> Json:
    """The SDK's graph (nodes + edges) and status in the server's words (nodes with
    transitions, ``start_node_id``, ``is_active``, a ``trigger``)."""
    fields = _snake_fields(kwargs)
    edges = fields.pop("edges", None)
    if "nodes" in fields:
        nodes, start = server_flow_nodes(fields["nodes"], edges)
        fields["nodes"] = nodes
        if start is not None:
            fields.setdefault("start_node_id", start)
    status = fields.pop("status", None)
    if status is not None and not create:
        fields["is_active"] = word(status) == "active"
    for key in ("variables", "metadata", "version"):
        fields.pop(key, None)
    if create:
        fields.setdefault("trigger", "manual")
    return fields


class FlowsOps(_Ops):
    """Conversation flows."""

    def _list(self, params: Mapping[str, Any]) -> Plan[PaginatedResponse[Flow]]:
        if self._server and params.get("status") is not None:
            status = word(params["status"])
            params = {k: v for k, v in params.items() if k != "status"}
            params["is_active"] = status == "active"
        return (yield from self._list_page(Flow, "/flows", params, adapt_flow))

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[Flow]]:
        return self._list(params)

    @paginated
    def iter(self, /, **params: Any) -> Pages[Flow]:
        """Every flow, page after page."""
        return Pages[Flow](self._list, dict(params))

    @operation
    def get(self, id: str) -> Plan[Flow]:
        return self._get_one(Flow, f"/flows/{_seg(id)}", adapt_flow)

    @operation
    def create(self, /, *, idempotency_key: str | None = None, **kwargs: Any) -> Plan[Flow]:
        """Create a flow (``name``, ``nodes``, ``edges``...). Server: the graph becomes its
        node list with transitions; ``trigger`` defaults to ``"manual"``; an ``"active"``
        status goes through its activate route."""
        if not self._server:
            reply = yield self._request("POST", "/flows", kwargs, idempotency_key=idempotency_key)
            return parse_json_model(Flow, reply)
        reply = yield self._request(
            "POST", "/flows", _server_flow_fields(kwargs, True), idempotency_key=idempotency_key
        )
        if word(kwargs.get("status")) != "active":
            return self._one(Flow, reply, adapt_flow)
        created = _dict_answer(reply, unwrap(decode_json(reply)), "a flow")
        path = f"/flows/{_seg(created.get('id'))}"
        yield self._request(
            "POST", f"{path}/activate", idempotency_key=_derive(idempotency_key, "activate")
        )
        return (yield from self._get_one(Flow, path, adapt_flow))

    @operation
    def update(
        self, /, id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[Flow]:
        path = f"/flows/{_seg(id)}"
        if self._server:
            reply = yield self._request("PUT", path, _server_flow_fields(kwargs, False))
        else:
            reply = yield self._request("PATCH", path, kwargs, idempotency_key=idempotency_key)
        return self._one(Flow, reply, adapt_flow)

    @operation
    def delete(self, id: str) -> Plan[None]:
        return self._delete(f"/flows/{_seg(id)}")

    @operation
    def execute(
        self, /, id: str, conversation_id: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> Plan[FlowExecution]:
        """Run the flow in a conversation (``variables``, ``start_node_id``)."""
        self._unsupported_on_server("flows.execute")
        reply = yield self._request(
            "POST",
            f"/flows/{_seg(id)}/execute",
            {"conversationId": conversation_id, **kwargs},
            idempotency_key=idempotency_key,
        )
        return parse_json_model(FlowExecution, reply)

    def _set_active(self, id: str, active: bool, key: str | None) -> Plan[Flow]:
        if not self._server:
            status = "active" if active else "inactive"
            return (yield from FlowsOps.update.plan(self, id, idempotency_key=key, status=status))
        path = f"/flows/{_seg(id)}"
        verb = "activate" if active else "deactivate"
        yield self._request("POST", f"{path}/{verb}", idempotency_key=key)
        return (yield from self._get_one(Flow, path, adapt_flow))

    @operation
    def activate(self, id: str, *, idempotency_key: str | None = None) -> Plan[Flow]:
        """Set the flow active."""
        return self._set_active(id, True, idempotency_key)

    @operation
    def deactivate(self, id: str, *, idempotency_key: str | None = None) -> Plan[Flow]:
        """Set the flow inactive."""
        return self._set_active(id, False, idempotency_key)


# -- analytics -----------------------------------------------------------------------------------


class AnalyticsOps(_Ops):
    """Reports, as plain dicts (``startDate``/``endDate`` or ``start_date``/``end_date``)."""

    def _report(self, name: str, params: Mapping[str, Any]) -> Plan[Json]:
        reply = yield self._request("GET", f"/analytics/{name}", params=params)
        body = self._raw(reply, "a report")
        return camelize(body) if self._server else body

    @operation
    def get_dashboard(self, /, **params: Any) -> Plan[Json]:
        self._unsupported_on_server("analytics.get_dashboard")
        return self._report("dashboard", params)

    @operation
    def get_conversation_metrics(self, /, **params: Any) -> Plan[Json]:
        """Conversations per day (server: its report, keys in camelCase)."""
        return self._report("conversations", params)

    @operation
    def get_message_metrics(self, /, **params: Any) -> Plan[Json]:
        self._unsupported_on_server("analytics.get_message_metrics")
        return self._report("messages", params)

    @operation
    def get_realtime(self) -> Plan[Json]:
        self._unsupported_on_server("analytics.get_realtime")
        return self._report("realtime", {})


# -- webhooks ------------------------------------------------------------------------------------


class WebhooksOps(_Ops):
    """Outgoing webhook subscriptions (relaywire addition; the official SDK has none), in the
    SDK protocol: the secret the answer carries signs every delivery (verify with
    :func:`linktor.utils.webhook.verify_webhook`). The self-hosted server has no such routes
    and never sends a webhook, so in the server dialect every method raises
    :class:`~linktor._dialect.UnsupportedOperationError` before sending anything."""

    @operation
    def create(
        self,
        url: str,
        events: Iterable[str],
        headers: Mapping[str, str] | None = None,
        *,
        secret: str | None = None,
        idempotency_key: str | None = None,
    ) -> Plan[WebhookConfig]:
        """Subscribe ``url`` to ``events`` (``WebhookEventType`` members or their values);
        ``headers`` are sent with every delivery. The answer includes the signing ``secret``."""
        self._unsupported_on_server("webhooks.create")
        if not isinstance(url, str) or not url:
            raise ValueError("url must be a non-empty string")
        body: Json = {"url": url, "events": [word(e) for e in events]}
        if headers is not None:
            body["headers"] = dict(headers)
        if secret is not None:
            body["secret"] = secret
        reply = yield self._request(
            "POST", "/webhooks", body, case="raw", idempotency_key=idempotency_key
        )
        return self._one(WebhookConfig, reply)

    @operation
    def list(self, /, **params: Any) -> Plan[PaginatedResponse[WebhookConfig]]:
        self._unsupported_on_server("webhooks.list")
        return (yield from self._list_page(WebhookConfig, "/webhooks", params))

    @operation
    def get(self, id: str) -> Plan[WebhookConfig]:
        self._unsupported_on_server("webhooks.get")
        return self._get_one(WebhookConfig, f"/webhooks/{_seg(id)}")

    @operation
    def delete(self, id: str) -> Plan[None]:
        self._unsupported_on_server("webhooks.delete")
        return self._delete(f"/webhooks/{_seg(id)}")


# -- VRE -----------------------------------------------------------------------------------------


def _some(**values: Any) -> Json:
    """The values that are set: strings when not empty, anything else when not ``None``."""
    return {k: v for k, v in values.items() if v is not None and not (isinstance(v, str) and not v)}


class VREOps(_Ops):
    """The Visual Response Engine: images rendered from templates (payloads in snake_case,
    as the templates read them, in both dialects)."""

    def _render(self, body: Json, key: str | None) -> Plan[VRERenderResponse]:
        reply = yield self._request("POST", "/vre/render", body, case="raw", idempotency_key=key)
        return self._one(VRERenderResponse, reply, adapt_render)

    @operation
    def render(
        self,
        tenant_id: str,
        template_id: str,
        data: Mapping[str, Any],
        channel: str | None = None,
        format: str | None = None,
        width: int | None = None,
        quality: int | None = None,
        scale: float | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Plan[VRERenderResponse]:
        """Render a template with ``data``. ``quality=0`` and ``scale=0.0`` are sent (the
        official SDK dropped falsy options)."""
        body = {
            "tenant_id": tenant_id,
            "template_id": template_id,
            "data": data,
            **_some(channel=channel, format=format, width=width, quality=quality, scale=scale),
        }
        return self._render(body, idempotency_key)

    @operation
    def render_and_send(
        self,
        conversation_id: str,
        template_id: str,
        data: Mapping[str, Any],
        caption: str | None = None,
        follow_up_text: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Plan[VRERenderAndSendResponse]:
        """Render a template and send the image to a conversation. Server: the conversation
        is its ``send_to``; it does not say the message id (``message_id`` is ``""``)."""
        body: Json = {
            "template_id": template_id,
            "data": data,
            **_some(caption=caption, follow_up_text=follow_up_text),
        }
        if self._server:
            body["send_to"] = conversation_id
        else:
            body = {"conversation_id": conversation_id, **body}
        reply = yield self._request(
            "POST", "/vre/render-and-send", body, case="raw", idempotency_key=idempotency_key
        )
        if not self._server:
            return parse_json_model(VRERenderAndSendResponse, reply)
        render = self._raw(reply, "a render")
        result = {
            "message_id": str(render.get("message_id") or ""),
            "image_url": render.get("image_url") or "",
            "caption": render.get("caption") or "",
        }
        return validate_model(VRERenderAndSendResponse, result, reply)

    @operation
    def list_templates(self, tenant_id: str | None = None) -> Plan[VREListTemplatesResponse]:
        """The templates (server: their names; details are left empty)."""
        params = {} if self._server or tenant_id is None else {"tenant_id": tenant_id}
        reply = yield self._request("GET", "/vre/templates", params=params, case="raw")
        return self._one(VREListTemplatesResponse, reply, adapt_templates)

    @operation
    def preview(
        self, template_id: str, data: Mapping[str, Any] | None = None
    ) -> Plan[VREPreviewResponse]:
        """A preview image of a template, with sample data or ``data``. Server: sample data
        from its preview route; with ``data``, a render."""
        if not self._server:
            body = None if data is None else {"data": data}
            path = f"/vre/templates/{_seg(template_id)}/preview"
            reply = yield self._request("POST", path, body, case="raw")
            return parse_json_model(VREPreviewResponse, reply)
        if data is None:
            path = f"/vre/templates/{_seg(template_id)}/preview"
            reply = yield self._request("GET", path)
        else:
            render = {"template_id": template_id, "data": data}
            reply = yield self._request("POST", "/vre/render", render, case="raw")
        return validate_model(VREPreviewResponse, self._raw(reply, "a preview"), reply)

    @operation
    def render_menu(
        self,
        tenant_id: str,
        titulo: str,
        opcoes: builtins.list[Any],
        subtitulo: str | None = None,
        channel: str = "whatsapp",
    ) -> Plan[VRERenderResponse]:
        """Render the ``menu_opcoes`` template."""
        data = {"titulo": titulo, "opcoes": opcoes, **_some(subtitulo=subtitulo)}
        return self._render(_render_body(tenant_id, "menu_opcoes", data, channel), None)

    @operation
    def render_product_card(
        self,
        tenant_id: str,
        nome: str,
        preco: float,
        unidade: str,
        sku: str | None = None,
        estoque: int | None = None,
        imagem_url: str | None = None,
        destaque: str | None = None,
        channel: str = "whatsapp",
    ) -> Plan[VRERenderResponse]:
        """Render the ``card_produto`` template."""
        data = {
            "nome": nome,
            "preco": preco,
            "unidade": unidade,
            **_some(sku=sku, estoque=estoque, imagem_url=imagem_url, destaque=destaque),
        }
        return self._render(_render_body(tenant_id, "card_produto", data, channel), None)

    @operation
    def render_order_status(
        self,
        tenant_id: str,
        numero_pedido: str,
        status_atual: str,
        itens_resumo: str | None = None,
        valor_total: float | None = None,
        previsao_entrega: str | None = None,
        motorista: str | None = None,
        channel: str = "whatsapp",
    ) -> Plan[VRERenderResponse]:
        """Render the ``status_pedido`` template."""
        data = {
            "numero_pedido": numero_pedido,
            "status_atual": status_atual,
            **_some(
                itens_resumo=itens_resumo,
                valor_total=valor_total,
                previsao_entrega=previsao_entrega,
                motorista=motorista,
            ),
        }
        return self._render(_render_body(tenant_id, "status_pedido", data, channel), None)

    @operation
    def render_product_list(
        self,
        tenant_id: str,
        titulo: str,
        produtos: builtins.list[Any],
        mensagem: str | None = None,
        channel: str = "whatsapp",
    ) -> Plan[VRERenderResponse]:
        """Render the ``lista_produtos`` template."""
        data = {"titulo": titulo, "produtos": produtos, **_some(mensagem=mensagem)}
        return self._render(_render_body(tenant_id, "lista_produtos", data, channel), None)

    @operation
    def render_confirmation(
        self,
        tenant_id: str,
        valor_total: float,
        itens: builtins.list[Any],
        titulo: str | None = None,
        subtitulo: str | None = None,
        previsao_entrega: str | None = None,
        mensagem: str | None = None,
        channel: str = "whatsapp",
    ) -> Plan[VRERenderResponse]:
        """Render the ``confirmacao`` template."""
        data = {
            "valor_total": valor_total,
            "itens": itens,
            **_some(
                titulo=titulo,
                subtitulo=subtitulo,
                previsao_entrega=previsao_entrega,
                mensagem=mensagem,
            ),
        }
        return self._render(_render_body(tenant_id, "confirmacao", data, channel), None)

    @operation
    def render_pix_payment(
        self,
        tenant_id: str,
        valor: float,
        pix_payload: str,
        numero_pedido: str | None = None,
        expiracao: str | None = None,
        mensagem: str | None = None,
        channel: str = "whatsapp",
    ) -> Plan[VRERenderResponse]:
        """Render the ``cobranca_pix`` template."""
        data = {
            "valor": valor,
            "pix_payload": pix_payload,
            **_some(numero_pedido=numero_pedido, expiracao=expiracao, mensagem=mensagem),
        }
        return self._render(_render_body(tenant_id, "cobranca_pix", data, channel), None)


def _render_body(tenant_id: str, template_id: str, data: Json, channel: str | None) -> Json:
    return {
        "tenant_id": tenant_id,
        "template_id": template_id,
        "data": data,
        **_some(channel=channel),
    }
