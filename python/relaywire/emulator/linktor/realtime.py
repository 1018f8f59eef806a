"""The Linktor agent WebSocket (spec/linktor.md §3.8): ``/linktor/ws`` and ``/linktor/api/v1/ws``.

:class:`RealtimeHub` serves ``/linktor/ws``, and ``/linktor/api/v1/ws`` in the ``"documented"``
profile, as described below. In the default ``"code"`` profile ``/linktor/api/v1/ws`` is the
self-hosted server's own hub instead (:class:`CodeHub`, :func:`code_routes`): both a Bearer
header and ``?token=``, JWTs only, ``connected``/``presence``/``typing`` only, one connection
per user.

Frames are JSON text ``{"type": ..., "payload": {...}}`` with snake_case payloads in both
mounts, as the self-hosted server sends them.

Authentication: ``Authorization: Bearer <JWT or API key>``, ``X-API-Key: <key>``, or the query
parameters ``?token=`` / ``?api_key=`` (any one suffices, unlike on the real server, which
wants both a header and a query token). Without a credential the upgrade is refused with
``401 {"error": "missing token"}``, with a bad one ``401 {"error": "invalid token"}``.

Server to client:

* ``connected`` ``{user_id, tenant_id, online_users}``, first, once;
* ``presence`` ``{user_id, status: "online"}`` when a user's first connection opens and
  ``{user_id, status: "offline", last_seen}`` when their last one closes, to the tenant's other
  connections;
* ``typing`` ``{conversation_id, user_id, user_name, is_typing}``, relayed to the tenant's other
  connections;
* ``new_message`` ``{conversation_id, message}`` when a message is sent or received;
* ``message_updated`` ``{conversation_id, message_id, status, message}`` on delivery, read, failure;
* ``conversation_created`` / ``conversation_updated``: the conversation plus ``conversation_id``;
* ``pong`` ``{at}`` and ``error`` ``{message}`` in answer to the client.

Client to server: ``typing`` ``{conversation_id, is_typing}``; ``subscribe`` / ``unsubscribe``
``{conversation_id}`` (also accepted at the top level, and as ``conversationId``); ``ping``.
A connection with at least one subscription receives conversation-scoped frames (messages,
conversations, typing) only for its subscriptions; without any it receives the whole tenant's,
as on the real server. A malformed frame is answered with ``error`` and the connection stays.

Every connection of a user receives every frame (the real server keeps only a user's latest
connection, and after it closes the other one silently stops receiving).

Slow clients: each connection has a bounded send queue (:data:`SEND_QUEUE_SIZE` frames). When it
is full, the new frame is dropped for that connection only (counted in ``dropped``), as the real
server's send buffer does; the store and the other connections never wait for a slow reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from relaywire.emulator._http import json_response, now_iso
from relaywire.emulator.linktor.dialect import Dialect, principal_for_token
from relaywire.emulator.linktor.store import StoreEvent
from relaywire.emulator.linktor.wire import server_conversation, server_message

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = ["SEND_QUEUE_SIZE", "CodeHub", "RealtimeHub", "code_routes", "routes"]

_log = logging.getLogger("relaywire.emulator.linktor")

SEND_QUEUE_SIZE = 256

_NEW_MESSAGE_EVENTS = frozenset({"message.sent", "message.received"})
_MESSAGE_STATUS_EVENTS = frozenset({"message.delivered", "message.read", "message.failed"})
_CONVERSATION_FRAMES = {
    "conversation.created": "conversation_created",
    "conversation.updated": "conversation_updated",
}


# uvicorn 0.54's websockets-sansio protocol never marks a denial response as a finished
# handshake, so after each (complete, correct) 401 it logs this line as an error. Hide exactly
# one such line per denial of ours, so that real handshake bugs elsewhere still show.
_UVICORN_DENIAL_NOISE = "ASGI callable returned without completing handshake."


class _DenialNoiseFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.pending = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.pending and record.getMessage() == _UVICORN_DENIAL_NOISE:
            self.pending -= 1
            return False
        return True


_denial_noise = _DenialNoiseFilter()
logging.getLogger("uvicorn.error").addFilter(_denial_noise)


def _encode(frame_type: str, payload: dict[str, Any]) -> str:
    return orjson.dumps({"type": frame_type, "payload": payload}).decode()


def _connected(user_id: str, tenant_id: str, online_users: list[str]) -> str:
    payload = {"user_id": user_id, "tenant_id": tenant_id, "online_users": online_users}
    return _encode("connected", payload)


@dataclass(eq=False)
class Connection:
    """One open socket: who it is, what it subscribed to, and its bounded send queue."""

    tenant_id: str
    user_id: str
    user_name: str
    queue: asyncio.Queue[str]
    subscriptions: set[str] = field(default_factory=set)
    dropped: int = 0

    def wants(self, conversation_id: str | None) -> bool:
        """Whether a frame about ``conversation_id`` (``None``: not conversation-scoped) is
        for this connection."""
        return (
            conversation_id is None
            or not self.subscriptions
            or conversation_id in self.subscriptions
        )

    def offer(self, text: str) -> None:
        """Queue a frame without waiting; a full queue drops it (see the module docstring)."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            if not self.dropped:
                _log.warning("realtime client %s is too slow; dropping frames", self.user_id)
            self.dropped += 1


class RealtimeHub:
    """The tenant-wide fan-out of realtime frames, fed by the store's events."""

    def __init__(self, ctx: EmulatorContext, *, queue_size: int = SEND_QUEUE_SIZE) -> None:
        self.ctx = ctx
        self.queue_size = queue_size
        self._by_tenant: dict[str, list[Connection]] = {}
        ctx.linktor.subscribe(self._on_store_event)

    # -- membership -------------------------------------------------------------------------------

    def connections(self, tenant_id: str) -> list[Connection]:
        """The tenant's open connections, oldest first."""
        return list(self._by_tenant.get(tenant_id, ()))

    def online_users(self, tenant_id: str) -> list[str]:
        """Ids of the tenant's users with at least one open connection, in connection order."""
        return list(dict.fromkeys(c.user_id for c in self._by_tenant.get(tenant_id, ())))

    def open(self, tenant_id: str, user_id: str) -> Connection:
        """Register a connection, queue its ``connected`` frame and announce the user online.

        Runs without awaiting, so no event can reach the connection before ``connected``."""
        user = self.ctx.linktor.users.get(user_id)
        conn = Connection(
            tenant_id,
            user_id,
            str(user.get("name") or "") if user else "",
            asyncio.Queue(self.queue_size),
        )
        was_online = user_id in self.online_users(tenant_id)
        self._by_tenant.setdefault(tenant_id, []).append(conn)
        conn.offer(_connected(user_id, tenant_id, self.online_users(tenant_id)))
        if not was_online:
            self.broadcast(
                tenant_id, "presence", {"user_id": user_id, "status": "online"}, exclude=conn
            )
        return conn

    def close(self, conn: Connection) -> None:
        """Forget a connection; announce the user offline when it was their last one."""
        members = self._by_tenant.get(conn.tenant_id, [])
        if conn in members:
            members.remove(conn)
        if not members:
            self._by_tenant.pop(conn.tenant_id, None)
        if conn.user_id not in self.online_users(conn.tenant_id):
            self.broadcast(
                conn.tenant_id,
                "presence",
                {"user_id": conn.user_id, "status": "offline", "last_seen": now_iso()},
            )

    # -- fan-out ----------------------------------------------------------------------------------

    def broadcast(
        self,
        tenant_id: str,
        frame_type: str,
        payload: dict[str, Any],
        *,
        conversation_id: str | None = None,
        exclude: Connection | None = None,
    ) -> None:
        """Queue a frame for every interested connection of the tenant (encoded once)."""
        targets = [
            c
            for c in self._by_tenant.get(tenant_id, ())
            if c is not exclude and c.wants(conversation_id)
        ]
        if not targets:
            return
        text = _encode(frame_type, payload)
        for conn in targets:
            conn.offer(text)

    def _on_store_event(self, event: StoreEvent) -> None:
        if event.tenant_id not in self._by_tenant:
            return
        record = event.record
        if event.type in _NEW_MESSAGE_EVENTS and event.previous is None:
            self.broadcast(
                event.tenant_id,
                "new_message",
                {"conversation_id": record["conversation_id"], "message": server_message(record)},
                conversation_id=record["conversation_id"],
            )
        elif event.type in _MESSAGE_STATUS_EVENTS or event.type in _NEW_MESSAGE_EVENTS:
            # A status change (``message.sent`` with a previous state is a move back to sent).
            self.broadcast(
                event.tenant_id,
                "message_updated",
                {
                    "conversation_id": record["conversation_id"],
                    "message_id": record["id"],
                    "status": record["status"],
                    "message": server_message(record),
                },
                conversation_id=record["conversation_id"],
            )
        elif event.type in _CONVERSATION_FRAMES:
            payload = server_conversation(record)
            payload["conversation_id"] = record["id"]
            self.broadcast(
                event.tenant_id,
                _CONVERSATION_FRAMES[event.type],
                payload,
                conversation_id=record["id"],
            )
        # conversation.assigned/resolved are covered by conversation_updated; contacts and
        # channels have no realtime frame in the protocol.

    # -- client frames ----------------------------------------------------------------------------

    def handle(self, conn: Connection, raw: str | bytes) -> None:
        """Act on one client frame; problems are answered with an ``error`` frame."""
        problem = self._handle(conn, raw)
        if problem is not None:
            conn.offer(_encode("error", {"message": problem}))

    def _handle(self, conn: Connection, raw: str | bytes) -> str | None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return "frame is not valid JSON"
        if not isinstance(frame, dict):
            return "frame must be a JSON object"
        frame_type = frame.get("type")
        if not isinstance(frame_type, str):
            return "frame needs a string 'type'"
        payload = frame.get("payload", {})
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            return "'payload' must be an object"
        if frame_type == "ping":
            conn.offer(_encode("pong", {"at": now_iso()}))
            return None
        if frame_type not in ("typing", "subscribe", "unsubscribe"):
            return f"unknown frame type: {frame_type}"
        conversation_id = _pick(payload, frame, "conversation_id", "conversationId")
        if not isinstance(conversation_id, str) or not conversation_id:
            return f"'{frame_type}' needs a conversation_id"
        if frame_type == "unsubscribe":
            conn.subscriptions.discard(conversation_id)
            return None
        conversation = self.ctx.linktor.conversations.get(conversation_id)
        if conversation is None or conversation["tenant_id"] != conn.tenant_id:
            return f"conversation not found: {conversation_id}"
        if frame_type == "subscribe":
            conn.subscriptions.add(conversation_id)
            return None
        is_typing = _pick(payload, frame, "is_typing", "isTyping")
        if is_typing is None:
            is_typing = True
        if not isinstance(is_typing, bool):
            return "'is_typing' must be a boolean"
        self.broadcast(
            conn.tenant_id,
            "typing",
            {
                "conversation_id": conversation_id,
                "user_id": conn.user_id,
                "user_name": conn.user_name,
                "is_typing": is_typing,
            },
            conversation_id=conversation_id,
            exclude=conn,
        )
        return None


class CodeHub:
    """The self-hosted server's agent hub as its code runs (profile ``"code"``), for
    ``/linktor/api/v1/ws``.

    It sends ``connected``, ``presence`` and ``typing`` only: the server never calls its
    new-message or conversation broadcasts, so store changes reach no socket. Connections are
    keyed by user: a user's newest connection replaces the previous one, which stops receiving;
    when any of a user's connections closes, the user's entry goes (so a remaining connection
    of that user silently receives nothing more) and ``presence`` ``offline`` goes to the
    tenant. ``online`` goes to the tenant's other users on every connect. Broadcasts skip the
    sending user. The only client frame acted on is ``typing`` (``payload.conversation_id``,
    ``payload.is_typing``, both unchecked: missing ones are ``""`` and ``false``); every other
    frame, and anything that is not JSON, is ignored.
    """

    def __init__(self, ctx: EmulatorContext, *, queue_size: int = SEND_QUEUE_SIZE) -> None:
        self.ctx = ctx
        self.queue_size = queue_size
        self._clients: dict[str, Connection] = {}
        self._tenants: dict[str, dict[str, Connection]] = {}

    def online_users(self, tenant_id: str) -> list[str]:
        return list(self._tenants.get(tenant_id, {}))

    def register(self, tenant_id: str, user_id: str) -> Connection:
        conn = Connection(tenant_id, user_id, "", asyncio.Queue(self.queue_size))
        self._clients[user_id] = conn
        self._tenants.setdefault(tenant_id, {})[user_id] = conn
        self.broadcast(tenant_id, "presence", {"user_id": user_id, "status": "online"}, user_id)
        conn.offer(_connected(user_id, tenant_id, self.online_users(tenant_id)))
        return conn

    def unregister(self, conn: Connection) -> None:
        if conn.user_id in self._clients:  # whichever connection of the user holds the entry
            del self._clients[conn.user_id]
            members = self._tenants.get(conn.tenant_id, {})
            members.pop(conn.user_id, None)
            if not members:
                self._tenants.pop(conn.tenant_id, None)
        seconds = datetime.now(timezone.utc).replace(microsecond=0)
        last_seen = seconds.isoformat().replace("+00:00", "Z")
        self.broadcast(
            conn.tenant_id,
            "presence",
            {"user_id": conn.user_id, "status": "offline", "last_seen": last_seen},
        )

    def broadcast(
        self, tenant_id: str, frame_type: str, payload: dict[str, Any], exclude_user: str = ""
    ) -> None:
        targets = [
            c for user, c in self._tenants.get(tenant_id, {}).items() if user != exclude_user
        ]
        if targets:
            text = _encode(frame_type, payload)
            for conn in targets:
                conn.offer(text)

    def handle(self, conn: Connection, raw: str | bytes) -> None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if not isinstance(frame, dict) or frame.get("type") != "typing":
            return
        payload = frame.get("payload")
        if not isinstance(payload, dict):
            return
        conversation_id = payload.get("conversation_id")
        is_typing = payload.get("is_typing")
        self.broadcast(
            conn.tenant_id,
            "typing",
            {
                "conversation_id": conversation_id if isinstance(conversation_id, str) else "",
                "user_id": conn.user_id,
                "user_name": "",
                "is_typing": is_typing if isinstance(is_typing, bool) else False,
            },
            conn.user_id,
        )


def _pick(payload: dict[str, Any], frame: dict[str, Any], *names: str) -> Any:
    """A field from the payload, else from the top level (the TS SDK's flat frames)."""
    for source in (payload, frame):
        for name in names:
            if name in source:
                return source[name]
    return None


def _credential(websocket: WebSocket) -> str | None:
    """The bearer credential offered, ``""`` if one was offered malformed, ``None`` if none."""
    header = websocket.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    for candidate in (
        websocket.headers.get("x-api-key"),
        websocket.query_params.get("token"),
        websocket.query_params.get("api_key"),
    ):
        if candidate:
            return candidate
    return None


async def _write(websocket: WebSocket, conn: Connection) -> None:
    while True:
        text = await conn.queue.get()
        try:
            await websocket.send_text(text)
        except (OSError, RuntimeError, WebSocketDisconnect):
            # The socket closed under us; the reader sees the disconnect and cleans up.
            return


async def _serve(
    ctx: EmulatorContext,
    websocket: WebSocket,
    conn: Connection,
    handle: Callable[[Connection, str | bytes], None],
    close: Callable[[Connection], None],
) -> None:
    """Write ``conn``'s queue to the socket and hand each client frame to ``handle`` until
    the client leaves; then ``close`` the connection."""
    writer = ctx.spawn(_write(websocket, conn), name=f"linktor-ws-writer-{conn.user_id}")
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            handle(conn, raw)
    finally:
        close(conn)
        writer.cancel()


async def _deny(websocket: WebSocket, body: dict[str, Any]) -> None:
    _denial_noise.pending += 1
    try:
        await websocket.send_denial_response(json_response(body, 401))
    except BaseException:  # the client left first: uvicorn will not log the line
        _denial_noise.pending -= 1
        raise


def _code_refusal(websocket: WebSocket, hub: CodeHub) -> tuple[dict[str, Any] | None, Any]:
    """What the server refuses the upgrade with (its auth middleware, then its handler), or
    the claims of the ``?token=``."""
    header = websocket.headers.get("authorization") or ""
    if not header:
        return _middleware_error("UNAUTHORIZED", "missing authorization header"), None
    if not header.startswith("Bearer "):
        return _middleware_error("UNAUTHORIZED", "invalid authorization header format"), None
    bearer = header[len("Bearer ") :]
    if not bearer:
        return _middleware_error("UNAUTHORIZED", "missing token"), None
    if hub.ctx.jwt.claims(bearer) is None:
        return _middleware_error("TOKEN_INVALID", "invalid or expired token"), None
    token = websocket.query_params.get("token") or ""
    if not token:
        return {"error": "missing token"}, None
    claims = hub.ctx.jwt.claims(token)
    if claims is None:
        return {"error": "invalid token"}, None
    user_id, tenant_id = claims.get("user_id"), claims.get("tenant_id")
    if (
        not isinstance(user_id, str)
        or not user_id
        or not isinstance(tenant_id, str)
        or not tenant_id
    ):
        return {"error": "invalid token claims"}, None
    return None, claims


def _middleware_error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "details": None}


def code_routes(hub: CodeHub) -> list[BaseRoute]:
    """``/ws`` of the server dialect in the ``"code"`` profile: the upgrade needs the
    ``Authorization: Bearer`` JWT (the route is in the server's protected group, and browsers
    cannot set that header) *and* a ``?token=`` JWT, whose user the connection is."""

    async def agent_socket(websocket: WebSocket) -> None:
        refusal, claims = _code_refusal(websocket, hub)
        if refusal is not None:
            await _deny(websocket, refusal)
            return
        await websocket.accept()
        conn = hub.register(str(claims["tenant_id"]), str(claims["user_id"]))
        await _serve(hub.ctx, websocket, conn, hub.handle, hub.unregister)

    return [WebSocketRoute("/ws", agent_socket, name="linktor_server_code_ws")]


def routes(hub: RealtimeHub, dialect: Dialect) -> list[BaseRoute]:
    """``/ws`` for one dialect mount (the frames are the same in both)."""

    async def agent_socket(websocket: WebSocket) -> None:
        store = hub.ctx.linktor
        token = _credential(websocket)
        principal = principal_for_token(store, hub.ctx.jwt, token) if token else None
        if principal is None:
            await _deny(websocket, {"error": "missing token" if token is None else "invalid token"})
            return
        user_id = principal.user_id
        if not user_id:  # an API key not tied to a user: the key stands for the user
            user_id = str(store.api_keys.get(token or "", {}).get("id") or "api_key")
        await websocket.accept()
        conn = hub.open(principal.tenant_id, user_id)
        await _serve(hub.ctx, websocket, conn, hub.handle, hub.close)

    return [WebSocketRoute("/ws", agent_socket, name=f"linktor_{dialect.value}_ws")]
