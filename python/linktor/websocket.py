"""``LinktorWebSocket``: the Linktor realtime client (the official Python SDK has none).

The API is the one the Go SDK documentation and the Python docs page show::

    from linktor.websocket import LinktorWebSocket

    ws = LinktorWebSocket("https://linktor.example.com/api/v1", access_token=jwt)

    @ws.on_message
    async def show(event):                      # sync or async handlers
        print(event.conversation_id, event.message.text)

    await ws.connect()
    await ws.subscribe("conv_123")
    await ws.send_typing("conv_123", True)
    async for event in ws:                      # or iterate over typed events
        ...
    await ws.disconnect()

**Wire protocol** (spec/linktor.md 3.8): text frames ``{"type", "payload"}`` with snake_case
payloads, read in Rust (:class:`relaywire.streams.EnvelopeDecoder`, one call per socket read)
and built by it into the models of :mod:`linktor.types.realtime` (each event when the
iterator takes it, or at once for handlers and subscriptions), the server's message shape
adapted as below: ``connected`` ->
:class:`ConnectedEvent`, ``new_message`` (and the SDK protocol's ``message``) ->
:class:`MessageEvent`, ``message_updated``/``message_status`` -> :class:`MessageStatusEvent`,
``conversation_created``/``conversation_updated``/``conversation_update`` ->
:class:`ConversationUpdateEvent`, ``typing``, ``presence``, ``error``. ``pong`` is swallowed.
Any other type, or a payload the model refuses, becomes an :class:`UnknownEvent` (surfaced,
never dropped); frames that are not envelopes at all are logged and counted
(``malformed_frames``). Messages in the server's shape (string ``content``) are adapted to the
SDK's :class:`~linktor.types.conversation.Message`, as the REST client does. The native build
gives exactly what :func:`to_event` (the Python path) makes of the decoded payload; a frame it
cannot promise that for goes through :func:`to_event` itself.

**What a self-hosted server sends.** The server's code (``GET /api/v1/ws``) sends only
``connected`` (first), ``presence`` (``online`` to the tenant's other users when someone
connects, ``offline`` with ``last_seen`` when a connection closes) and ``typing`` (relayed from
the tenant's other users). It never calls its new-message or conversation broadcasts, so no
:class:`MessageEvent`, :class:`MessageStatusEvent` or :class:`ConversationUpdateEvent` arrives
from it: read messages and statuses over REST. It acts on ``typing`` frames only (``subscribe``
and ``unsubscribe`` are ignored there, and filtering happens on this side) and never sends
``error``. It keeps one connection per user: a user's newer connection replaces the previous
one, and when either closes the other stops receiving. The SDK protocol's realtime endpoint,
and the relaywire emulator's ``/linktor/ws`` (and ``/linktor/api/v1/ws`` in its
``"documented"`` profile), send the full set listed above.

**URL and authentication.** ``url`` may be a ``ws(s)://`` URL (used as given) or an HTTP base
URL (``https://host/api/v1`` for the self-hosted server, ``https://host/linktor`` or
``https://api.linktor.io`` for the SDK protocol), to which ``/ws`` is appended. The
credential (``access_token``, else ``api_key``, else ``$LINKTOR_API_KEY``) is sent both as
``Authorization: Bearer`` and as ``?token=``, because the self-hosted server requires both
(``token_in_query=False`` keeps it out of the URL); it takes only a JWT (``access_token``
after ``client.auth.login``), never an API key. A browser cannot set that header, so a
browser cannot connect to a self-hosted server's socket. A refused upgrade raises
:class:`~linktor.AuthenticationError` (401) or :class:`~linktor.AuthorizationError` (403);
every other failure to connect raises :class:`~linktor.WebSocketError`.

**Subscriptions.** ``subscribe`` sends a ``subscribe`` frame (the emulator filters by it; the
self-hosted server ignores it and sends the whole tenant's events) and also filters on this side:
a client that never subscribed receives every conversation's events; once it has subscribed,
conversation events (messages, statuses, typing, conversation updates) are delivered only for
the conversations subscribed now, and ``unsubscribe`` stops them (unsubscribing the last one
does not turn the firehose back on). Presence, connected and error events always arrive.

**Reconnects** (``auto_reconnect``): only after a recoverable close (1001, 1005, 1006, 1011,
1012, 1013, 1014; network errors and keepalive timeouts are 1006), with capped exponential
backoff and jitter (:class:`relaywire.transport.backoff.Backoff`: the first retry is immediate
and the delay keeps growing while connections drop soon after opening, so a server that
accepts and then closes cannot cause a storm). After each reconnect every subscribed
conversation is subscribed again, then typing indicators sent while disconnected are delivered
(the latest state per conversation). A clean close (1000) ends the client quietly; any other
close ends it with an error (:class:`~linktor.AuthenticationError` for 1008/4001/4401,
:class:`~linktor.AuthorizationError` for 4003/4403, else :class:`~linktor.WebSocketError`),
as does giving up after ``max_reconnect_attempts`` failed attempts in a row or a refused
upgrade.

**Handlers and iteration.** ``on_message``, ``on_message_status``, ``on_typing``,
``on_conversation_update``, ``on_presence``, ``on_connected``, ``on_error`` and ``on_event``
(every event) register a handler and return it, so they work as decorators. Sync handlers are
called as frames are decoded (keep them short); async ones run as tasks that the client keeps
referenced; exceptions from either are logged and the other handlers still run. Independently,
``async for event in ws`` yields every delivered event: the queue is attached at ``connect()``,
so nothing is lost between connecting and starting to iterate. The iteration ends after
``disconnect()`` (events still queued are dropped) and raises the error that ended the client
otherwise (after the events queued before it).

**Slow consumers.** The iteration queue holds at most ``max_queue`` events; when it is full the
oldest event is dropped to make room (counted in ``dropped_events``, with a warning while
someone iterates). Reading from the socket never stops for a slow iterator: pausing it would
stall the handlers too, and a server whose pings go unanswered drops the connection (losing
more than the oldest events). Iterate from one task only; several iterators share one queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import inspect
import os
import ssl as ssl_module
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import pydantic

from linktor._builders import realtime_events
from linktor._dialect import adapt_message, fit
from linktor.types.conversation import Conversation
from linktor.types.realtime import (
    ConnectedEvent,
    ConversationUpdateEvent,
    ErrorEvent,
    MessageEvent,
    MessageStatusEvent,
    PresenceEvent,
    RealtimeEvent,
    TypingEvent,
    UnknownEvent,
)
from linktor.utils.errors import (
    AuthenticationError,
    AuthorizationError,
    LinktorError,
    WebSocketError,
    create_error_from_response,
)
from linktor.utils.http import DEFAULT_BASE_URL, USER_AGENT, resolve_base_url
from relaywire.models import RealtimeEvents
from relaywire.redaction import get_logger, register_secret
from relaywire.streams import FLAG_CONTROL, EnvelopeDecoder, PendingEvent
from relaywire.transport.backoff import Backoff
from relaywire.transport.errors import RequestTimeout, TransportError
from relaywire.transport.proxy import ProxyError, ProxyOption
from relaywire.transport.ws import FastWebSocket, HandshakeRefused

if TYPE_CHECKING:
    from linktor.client import LinktorAsyncClient, LinktorClient

__all__ = [
    "RECOVERABLE_CLOSE_CODES",
    "ConnectedEvent",
    "ConversationUpdateEvent",
    "ErrorEvent",
    "LinktorWebSocket",
    "MessageEvent",
    "MessageStatusEvent",
    "PresenceEvent",
    "RealtimeEvent",
    "TypingEvent",
    "UnknownEvent",
    "realtime_url",
    "to_event",
]

log = get_logger("linktor.websocket")

#: Closes after which the client reconnects (when ``auto_reconnect``); any other ends it.
RECOVERABLE_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1014})
_AUTHENTICATION_CLOSE_CODES = frozenset({1008, 4001, 4401})
_AUTHORIZATION_CLOSE_CODES = frozenset({4003, 4403})
#: HTTP answers to the upgrade that reconnecting cannot fix.
_FATAL_STATUSES = frozenset(range(400, 500)) - {408, 425, 429}

H = TypeVar("H", bound=Callable[..., Any])


class _State(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


def realtime_url(url: str | None = None) -> str:
    """The WebSocket URL for ``url``: a ``ws(s)://`` URL as given; an ``http(s)://`` base URL
    with ``/ws`` appended (unless its path already ends with ``/ws``); ``None`` for
    ``$LINKTOR_BASE_URL`` or else the official default, ``wss://api.linktor.io/ws``."""
    parts = urlsplit(url if url is not None else resolve_base_url(DEFAULT_BASE_URL))
    scheme = parts.scheme.lower()
    if scheme in ("ws", "wss"):
        return urlunsplit(parts)
    if scheme not in ("http", "https"):
        raise ValueError(f"url must be an http(s):// or ws(s):// URL, not {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/ws"):
        path += "/ws"
    return urlunsplit(("ws" if scheme == "http" else "wss", parts.netloc, path, parts.query, ""))


def _with_token(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key in ("token", "api_key") for key, _ in query):
        return url  # the caller put a credential in the URL on purpose
    query.append(("token", token))
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- payloads to events ----------------------------------------------------------------------------


def _message(value: Any) -> Any:
    """A message in the server's shape (string content) as the SDK's ``Message`` fields."""
    if isinstance(value, dict) and not isinstance(value.get("content"), dict):
        return adapt_message(value)
    return value


def _first(payload: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = payload.get(key)
        if value is not None:
            return value
    return None


def _message_event(payload: dict[str, Any]) -> MessageEvent:
    message = _message(payload.get("message"))
    conversation_id = _first(payload, "conversation_id", "conversationId")
    if conversation_id is None and isinstance(message, dict):
        conversation_id = _first(message, "conversation_id", "conversationId")
    return MessageEvent.model_validate({"conversation_id": conversation_id, "message": message})


def _status_event(payload: dict[str, Any]) -> MessageStatusEvent:
    data = dict(payload)
    if "message" in data:
        data["message"] = _message(data["message"])
    message = data.get("message")
    if isinstance(message, dict):
        # Fields the frame leaves out are read from the message it carries.
        for field, camel, key in (
            ("message_id", "messageId", "id"),
            ("conversation_id", "conversationId", "conversation_id"),
            ("status", "status", "status"),
        ):
            if _first(data, field, camel) is None:
                data[field] = _first(message, key, camel)
    return MessageStatusEvent.model_validate(data)


def _conversation_event(frame_type: str, payload: dict[str, Any]) -> ConversationUpdateEvent:
    """A conversation frame: the server sends the conversation itself (plus
    ``conversation_id``); the SDK protocol sends ``{conversationId, status, assignedTo,
    metadata}``."""
    nested = payload.get("conversation")
    source = nested if isinstance(nested, dict) else payload
    status = _first(payload, "status")
    if status is None:
        status = _first(source, "status")
    if isinstance(status, str):
        status = fit("conversation_status", status)
    conversation = None
    # The server's conversations lack the channel type the SDK's model requires; only a full
    # (SDK-shaped) object becomes ``conversation``.
    if _first(source, "channel_type", "channelType") is not None:
        with contextlib.suppress(pydantic.ValidationError):
            conversation = Conversation.model_validate(source)
    metadata = _first(payload, "metadata")
    if metadata is None:
        metadata = _first(source, "metadata")
    assigned = ("assigned_to", "assignedTo", "assigned_user_id")
    return ConversationUpdateEvent.model_validate(
        {
            "conversation_id": _first(payload, "conversation_id", "conversationId")
            or _first(source, "id"),
            "created": frame_type == "conversation_created",
            "status": status,
            "assigned_to": _first(payload, *assigned) or _first(source, *assigned),
            "metadata": metadata if isinstance(metadata, dict) else None,
            "conversation": conversation,
        }
    )


#: How each frame type becomes its event: which rule reads the payload (``"payload"``: the
#: payload's fields as they are; ``"message"``, ``"status"``, ``"conversation"``: the functions
#: above) and the event's model. The Rust decoder builds events along the same table.
_EVENTS: dict[str, tuple[str, type[RealtimeEvent]]] = {
    "connected": ("payload", ConnectedEvent),
    "presence": ("payload", PresenceEvent),
    "typing": ("payload", TypingEvent),
    "new_message": ("message", MessageEvent),
    "message": ("message", MessageEvent),
    "message_updated": ("status", MessageStatusEvent),
    "message_status": ("status", MessageStatusEvent),
    "conversation_created": ("conversation", ConversationUpdateEvent),
    "conversation_updated": ("conversation", ConversationUpdateEvent),
    "conversation_update": ("conversation", ConversationUpdateEvent),
    "error": ("payload", ErrorEvent),
}
_RULES: dict[str, Callable[[type[Any], str, dict[str, Any]], RealtimeEvent]] = {
    "payload": lambda model, _, payload: model.model_validate(payload),
    "message": lambda _, __, payload: _message_event(payload),
    "status": lambda _, __, payload: _status_event(payload),
    "conversation": lambda _, frame_type, payload: _conversation_event(frame_type, payload),
}
#: Frames the client answers or ignores itself.
_SILENT = frozenset({"pong"})


def to_event(frame_type: str, payload: dict[str, Any]) -> RealtimeEvent | None:
    """The typed event for one decoded frame, or ``None`` for a frame with no event
    (``pong``). Unknown types and payloads a model refuses become :class:`UnknownEvent`.

    This is the Python path; the client's decoder builds the same events in Rust where it
    can (:func:`linktor._builders.realtime_events`)."""
    entry = _EVENTS.get(frame_type)
    if entry is None:
        return None if frame_type in _SILENT else UnknownEvent(type=frame_type, payload=payload)
    rule, model = entry
    try:
        return _RULES[rule](model, frame_type, payload)
    except pydantic.ValidationError as err:
        log.debug("realtime %r frame does not fit its model: %s", frame_type, err)
        return UnknownEvent(type=frame_type, payload=payload)


@functools.cache
def _decoder_events() -> RealtimeEvents | None:
    """The frame table for the native decoder (compiled once)."""
    # ``connected`` sets the client's fields as it arrives: built at once.
    return realtime_events(_EVENTS, UnknownEvent, _SILENT, eager={"connected"})


def _read(frame_type: str, payload: dict[str, Any]) -> RealtimeEvent | None:
    """:func:`to_event`, except that a frame it fails on (a bug of ours) is logged and
    skipped: it must not cost the frames read with it, nor end the iteration."""
    try:
        return to_event(frame_type, payload)
    except Exception:
        log.exception("realtime %r frame could not be read", frame_type)
        return None


def _conversation_of(event: RealtimeEvent) -> str | None:
    """The conversation a conversation-scoped event is about (None: not scoped)."""
    if isinstance(event, (MessageEvent, MessageStatusEvent, TypingEvent, ConversationUpdateEvent)):
        return event.conversation_id
    return None


# -- the client ------------------------------------------------------------------------------------


class _Link:
    """One connection attempt: routes the transport's callbacks to the client while it is the
    current one (callbacks of a replaced connection are ignored)."""

    __slots__ = ("client", "closed", "conn", "got_frame", "lost", "welcome")

    def __init__(self, client: LinktorWebSocket) -> None:
        self.client = client
        self.conn: FastWebSocket | None = None
        self.got_frame = False
        self.closed: tuple[int, str] | None = None
        loop = asyncio.get_running_loop()
        # Resolved by the first frame or by the close, whichever comes first.
        self.welcome: asyncio.Future[None] = loop.create_future()
        # Resolved once the transport reported the close.
        self.lost: asyncio.Future[None] = loop.create_future()

    def closing(self) -> bool:
        """The connection stopped being open (a close frame came or went, or TCP closed)
        but the transport has not reported the close yet."""
        return self.closed is None and self.conn is not None and not self.conn.is_open

    def on_batch(self, entries: list[Any], flags: int) -> None:
        self.got_frame = True
        if self.client._link is self:
            self.client._on_batch(entries, flags)
        if not self.welcome.done():
            self.welcome.set_result(None)

    def on_close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        if not self.welcome.done():
            self.welcome.set_result(None)
        if not self.lost.done():
            self.lost.set_result(None)
        if self.client._link is self:
            self.client._on_close(code, reason)


class LinktorWebSocket:
    """The Linktor realtime client (see the module docstring for the guarantees).

    Constructing it does no I/O and needs no running event loop.

    A self-hosted Linktor server sends only ``connected``, ``presence`` and ``typing`` events
    (its code never broadcasts messages or conversation changes: :meth:`on_message`,
    :meth:`on_message_status` and :meth:`on_conversation_update` handlers are never called
    against it), takes a JWT only, and keeps one connection per user. The module docstring
    says more.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        access_token: str | None = None,
        auto_reconnect: bool = True,
        *,
        max_reconnect_attempts: int | None = None,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 30.0,
        open_timeout: float = 10.0,
        ping_interval: float | None = 25.0,
        ping_timeout: float | None = 20.0,
        max_message_size: int = 16 * 1024 * 1024,
        max_queue: int = 1000,
        token_in_query: bool = True,
        headers: Mapping[str, str] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        proxy: ProxyOption = True,
    ) -> None:
        if max_reconnect_attempts is not None and max_reconnect_attempts < 0:
            raise ValueError("max_reconnect_attempts must be >= 0 or None")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ValueError("max_queue must be a positive int")
        if not open_timeout > 0:
            raise ValueError("open_timeout must be > 0")
        self.url = realtime_url(url)
        if api_key is None and access_token is None:
            api_key = os.environ.get("LINKTOR_API_KEY") or None
        self.api_key = api_key
        self.access_token = access_token
        register_secret(api_key)
        register_secret(access_token)
        self.auto_reconnect = auto_reconnect
        self.max_reconnect_attempts = max_reconnect_attempts
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_message_size = max_message_size
        self.max_queue = max_queue
        self.token_in_query = token_in_query
        self.headers = dict(headers or {})
        self.ssl = ssl
        self.proxy = proxy
        self._decoder: EnvelopeDecoder | None = None  # made on the first connect
        self._backoff = Backoff(initial=reconnect_delay, maximum=max_reconnect_delay)
        self._state = _State.IDLE
        self._link: _Link | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._subscriptions: dict[str, None] = {}  # an ordered set
        self._filtering = False
        # Typing indicators sent while reconnecting: the latest per conversation, in order.
        self._outbox: dict[str, bytes] = {}
        self._handlers: dict[str, tuple[Callable[[Any], Any], ...]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Events, and frames whose events are built when taken (PendingEvent).
        self._queue: deque[RealtimeEvent | PendingEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._iterating = False
        self._overflowing = False
        self._failure: LinktorError | None = None
        self._finished: asyncio.Event | None = None
        #: Connections opened so far (the first one and every reconnect).
        self.connections = 0
        #: Events dropped from a full iteration queue (see the module docstring).
        self.dropped_events = 0
        #: Messages that were not ``{"type", "payload"}`` frames (logged and skipped).
        self.malformed_frames = 0
        #: From the last ``connected`` frame.
        self.user_id: str | None = None
        self.tenant_id: str | None = None
        self.online_users: list[str] = []
        #: The code and reason of the last close, once there was one.
        self.close_code: int | None = None
        self.close_reason: str = ""

    @classmethod
    def from_client(
        cls,
        client: LinktorClient | LinktorAsyncClient,
        url: str | None = None,
        **options: Any,
    ) -> LinktorWebSocket:
        """A realtime client for a REST client's server and credentials: its base URL (unless
        ``url`` is given) and its current access token or API key (after
        ``client.auth.login``, the token)."""
        http = client._http
        return cls(
            url if url is not None else http.base_url,
            api_key=http.api_key,
            access_token=http.access_token,
            **options,
        )

    # --- properties ------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        link = self._link
        return (
            self._state is _State.OPEN
            and link is not None
            and link.conn is not None
            and link.conn.is_open
        )

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """The subscribed conversations, in subscription order."""
        return tuple(self._subscriptions)

    def __repr__(self) -> str:
        return f"<LinktorWebSocket url={self.url!r} state={self._state.value!r}>"

    # --- connecting ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection; returns once the server sent its first frame (``connected``),
        or after ``open_timeout`` if it sends none. Subscriptions made before are sent.

        Does nothing when already connected; while reconnecting, waits for it. Raises
        :class:`AuthenticationError`/:class:`AuthorizationError` for refused credentials and
        :class:`WebSocketError` for every other failure.
        """
        link = self._link
        if self._state is _State.OPEN and link is not None and link.closing():
            await self._wait_lost(link)
        if self._state is _State.OPEN:
            return
        if self._state is _State.RECONNECTING:
            await self._wait_reconnected()
            return
        if self._state is _State.CONNECTING:
            raise WebSocketError("connect() is already in progress")
        self._state = _State.CONNECTING
        self._failure = None
        self._finished = asyncio.Event()
        self._queue.clear()
        self._backoff.reset()
        try:
            link = await self._open()
        except BaseException:
            if self._state is _State.CONNECTING:
                self._state = _State.IDLE
            self._wake()  # an iterator waiting for this connection learns it failed
            raise
        if self._state is not _State.CONNECTING:  # disconnect() was called meanwhile
            if link.conn is not None:
                await link.conn.close(1000)
            raise WebSocketError("disconnect() was called while connecting")
        self._opened(link)

    async def _wait_lost(self, link: _Link) -> None:
        """Wait until a closing connection's close is reported (and so handled: a reconnect
        starts, or the client ends). The close handshake normally ends with the server closing
        TCP at once; one that does not is aborted after ``open_timeout``."""
        try:
            await asyncio.wait_for(asyncio.shield(link.lost), self.open_timeout)
        except asyncio.TimeoutError:
            if link.conn is not None:
                link.conn.abort()
            await asyncio.sleep(0)  # the transport reports the abort
            if not link.lost.done():
                link.on_close(1006, "")

    async def __aenter__(self) -> LinktorWebSocket:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    def _credential(self) -> str | None:
        return self.access_token or self.api_key

    async def _open(self) -> _Link:
        """One connection attempt: the upgrade, the subscriptions, the first frame.

        Fails if the connection closes before any frame arrived. One that closed after its
        first frame counts as opened: :meth:`_opened` then handles the close as a drop."""
        url = self.url
        headers = {"User-Agent": USER_AGENT, **self.headers}
        credential = self._credential()
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
            if self.token_in_query:
                url = _with_token(url, credential)
        link = _Link(self)
        if self._decoder is None:
            self._decoder = EnvelopeDecoder(
                max_message_size=self.max_message_size, events=_decoder_events(), defer=True
            )
        try:
            conn = await FastWebSocket.open(
                url,
                decoder=self._decoder,
                on_batch=link.on_batch,
                on_close=link.on_close,
                headers=headers,
                max_size=self.max_message_size,
                open_timeout=self.open_timeout,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                ssl=self.ssl,
                proxy=self.proxy,
            )
        except HandshakeRefused as err:
            raise _refusal(err) from err
        except ProxyError as err:
            raise WebSocketError(err.message, {"reason": "proxy", "status": err.status}) from err
        except RequestTimeout as err:
            raise WebSocketError(err.message, {"reason": "timeout"}) from err
        except (TransportError, OSError) as err:
            message = err.message if isinstance(err, TransportError) else str(err)
            raise WebSocketError(message, {"reason": "connection_failed"}) from err
        link.conn = conn
        self._link = link
        self.connections += 1
        self._backoff.connected()
        conn.start()
        try:
            # Subscribe at once, so that the server filters from the start.
            for conversation_id in list(self._subscriptions):
                await conn.send(_frame("subscribe", conversation_id=conversation_id))
            try:
                await asyncio.wait_for(asyncio.shield(link.welcome), self.open_timeout)
            except asyncio.TimeoutError:
                log.debug("no frame within %gs of connecting; carrying on", self.open_timeout)
            # Typing sent while disconnected, including during the wait above; the caller
            # marks the client open right after this returns, with no await in between.
            while self._outbox and conn.is_open:
                conversation_id = next(iter(self._outbox))
                await conn.send(self._outbox.pop(conversation_id))
        except ConnectionError:
            pass  # closed already: reported below
        except BaseException:
            self._link = None
            conn.abort()
            raise
        if not link.got_frame and not conn.is_open:
            self._link = None
            code, reason = link.closed or conn.close_info or (1006, "")
            raise _close_error(code, reason) or WebSocketError(
                "the server closed the connection right after opening it",
                {"code": code, "reason": reason},
            )
        return link

    def _opened(self, link: _Link) -> None:
        """A connection attempt succeeded: the client is open (and at once dropped again if the
        connection already closed)."""
        self._state = _State.OPEN
        if link.closed is not None:
            self._dropped(*link.closed)

    # --- receiving -------------------------------------------------------------------------

    def _on_batch(self, entries: list[Any], flags: int = FLAG_CONTROL) -> None:
        # The decoder gives a PendingEvent for each frame it builds the event of (built when
        # the iterator takes it, unless a handler or the subscription filter must see it now),
        # the events it built at once, and (type, payload) for the others; FLAG_CONTROL says
        # the batch has more than PendingEvents.
        handlers = self._handlers
        lazy = not (self._filtering or handlers)
        if lazy and not flags & FLAG_CONTROL:
            queue = self._queue
            if len(queue) + len(entries) <= self.max_queue:
                if self._overflowing and len(queue) < self.max_queue // 2:
                    self._overflowing = False
                queue.extend(entries)
                self._wake()
                return
        for entry in entries:
            kind = type(entry)
            if kind is PendingEvent:
                if lazy:
                    self._push(entry)
                    continue
                entry = entry.build()
                kind = type(entry)
            if kind is tuple:
                frame_type, payload = entry
                if frame_type == "malformed" and isinstance(payload, str):
                    self.malformed_frames += 1
                    log.warning("skipped a realtime message that is not a frame: %s", payload)
                    continue
                event = _read(frame_type, payload)
                if event is None:
                    continue
            else:
                event = entry
            if self._filtering:
                conversation_id = _conversation_of(event)
                if conversation_id is not None and conversation_id not in self._subscriptions:
                    continue
            if isinstance(event, ConnectedEvent):
                self.user_id = event.user_id
                self.tenant_id = event.tenant_id
                self.online_users = list(event.online_users)
            if handlers:
                self._dispatch(event)
            self._push(event)
        self._wake()

    def _dispatch(self, event: RealtimeEvent) -> None:
        for handler in (*self._handlers.get(event.type, ()), *self._handlers.get("*", ())):
            try:
                result = handler(event)
            except Exception:
                log.exception("realtime %r handler failed", event.type)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("realtime handler failed", exc_info=task.exception())

    def _push(self, event: RealtimeEvent | PendingEvent) -> None:
        """Queue one event for the iterator (the caller wakes it after the batch)."""
        queue = self._queue
        if len(queue) >= self.max_queue:
            queue.popleft()
            self.dropped_events += 1
            if self._iterating and not self._overflowing:
                log.warning(
                    "realtime consumer is too slow: queue full (%d events), dropping the oldest",
                    self.max_queue,
                )
            self._overflowing = True
        elif self._overflowing and len(queue) < self.max_queue // 2:
            self._overflowing = False
        queue.append(event)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_close(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        self._link = None
        self._backoff.disconnected()
        if self._state is _State.OPEN:
            self._dropped(code, reason)
        # Otherwise a connection attempt is in progress, and handles it (``_open``).

    def _dropped(self, code: int, reason: str) -> None:
        if self.auto_reconnect and code in RECOVERABLE_CLOSE_CODES:
            log.info("realtime connection closed (%d %s); reconnecting", code, reason)
            self._state = _State.RECONNECTING
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())
        else:
            self._finish(_close_error(code, reason))

    async def _reconnect(self) -> None:
        try:
            await self._reconnect_loop()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a bug of ours: end visibly rather than hang
            log.exception("realtime reconnect failed")
            self._finish(WebSocketError(f"reconnecting failed: {err!r}"))

    async def _reconnect_loop(self) -> None:
        failures = 0
        while self._state is _State.RECONNECTING:
            limit = self.max_reconnect_attempts
            if limit is not None and failures >= limit:
                self._finish(
                    WebSocketError(
                        f"gave up reconnecting after {failures} failed attempts",
                        {"code": self.close_code, "reason": self.close_reason},
                    )
                )
                return
            await asyncio.sleep(self._backoff.next_delay())
            if self._state is not _State.RECONNECTING:
                return
            try:
                link = await self._open()
            except (AuthenticationError, AuthorizationError) as err:
                self._finish(err)
                return
            except WebSocketError as err:
                status = err.details.get("status")
                if status in _FATAL_STATUSES:
                    self._finish(err)
                    return
                failures += 1
                log.info("realtime reconnect attempt failed: %s", err.message)
                continue
            if self._state is _State.RECONNECTING:
                self._opened(link)
            return

    async def _wait_reconnected(self) -> None:
        # A reconnect may be followed by another one (a connection that dropped at once).
        while self._state is _State.RECONNECTING:
            task = self._reconnect_task
            if task is None or task.done():
                break
            await asyncio.shield(task)
        if self._state is not _State.OPEN:
            raise self._failure or WebSocketError("the realtime connection is closed")

    def _finish(self, failure: LinktorError | None) -> None:
        """The client is done (a close that is not reconnected, or giving up)."""
        self._state = _State.CLOSED
        if failure is not None:
            log.warning("realtime connection ended: %s", failure)
        self._failure = failure
        if self._outbox:
            log.info("dropping %d unsent typing indicator(s)", len(self._outbox))
            self._outbox.clear()
        if self._finished is not None:
            self._finished.set()
        self._wake()

    # --- sending ---------------------------------------------------------------------------

    async def subscribe(self, conversation_id: str) -> None:
        """Receive ``conversation_id``'s events (see Subscriptions in the module docstring).

        Allowed before ``connect()``; the subscription is sent on every (re)connect.
        """
        _check_id(conversation_id)
        self._filtering = True
        self._subscriptions[conversation_id] = None
        await self._send_now(_frame("subscribe", conversation_id=conversation_id))

    async def unsubscribe(self, conversation_id: str) -> None:
        """Stop receiving ``conversation_id``'s events."""
        _check_id(conversation_id)
        self._subscriptions.pop(conversation_id, None)
        await self._send_now(_frame("unsubscribe", conversation_id=conversation_id))

    async def send_typing(self, conversation_id: str, is_typing: bool = True) -> None:
        """Tell the conversation's other agents that we are (or stopped) typing.

        While reconnecting it is queued and sent after the reconnect (only the latest state per
        conversation). Raises :class:`WebSocketError` when not connected.
        """
        _check_id(conversation_id)
        data = _frame("typing", conversation_id=conversation_id, is_typing=bool(is_typing))
        if self._state in (_State.IDLE, _State.CLOSED):
            raise WebSocketError("the realtime connection is not open; call connect() first")
        # A newer state replaces a queued one (which must not be sent after it).
        self._outbox.pop(conversation_id, None)
        if not await self._send_now(data) and self._state is not _State.CLOSED:
            self._outbox[conversation_id] = data

    async def _send_now(self, data: bytes) -> bool:
        """Send on the current connection (also while it is being set up); False if there is
        none open."""
        link = self._link
        conn = link.conn if link is not None else None
        if conn is None or not conn.is_open:
            return False
        try:
            await conn.send(data)
        except ConnectionError:
            return False
        return True

    # --- handlers --------------------------------------------------------------------------

    def _add(self, key: str, handler: H) -> H:
        if not callable(handler):
            raise TypeError("a handler must be callable")
        self._handlers[key] = (*self._handlers.get(key, ()), handler)
        return handler

    def on_message(self, handler: H) -> H:
        """Call ``handler(event: MessageEvent)`` for each new message; returns ``handler``."""
        return self._add("message", handler)

    def on_message_status(self, handler: H) -> H:
        """Call ``handler(event: MessageStatusEvent)`` when a message's status changes."""
        return self._add("message_status", handler)

    def on_typing(self, handler: H) -> H:
        """Call ``handler(event: TypingEvent)`` when someone starts or stops typing."""
        return self._add("typing", handler)

    def on_conversation_update(self, handler: H) -> H:
        """Call ``handler(event: ConversationUpdateEvent)`` when a conversation is created or
        changes."""
        return self._add("conversation_update", handler)

    def on_presence(self, handler: H) -> H:
        """Call ``handler(event: PresenceEvent)`` when a user comes online or goes offline."""
        return self._add("presence", handler)

    def on_connected(self, handler: H) -> H:
        """Call ``handler(event: ConnectedEvent)`` on every (re)connect."""
        return self._add("connected", handler)

    def on_error(self, handler: H) -> H:
        """Call ``handler(event: ErrorEvent)`` when the server reports an error."""
        return self._add("error", handler)

    def on_event(self, handler: H) -> H:
        """Call ``handler(event)`` for every event, unknown ones included."""
        return self._add("*", handler)

    def remove_handler(self, handler: Callable[..., Any]) -> None:
        """Remove every registration of ``handler``."""
        for key, handlers in list(self._handlers.items()):
            kept = tuple(h for h in handlers if h != handler)
            if kept:
                self._handlers[key] = kept
            else:
                del self._handlers[key]

    # --- iteration -------------------------------------------------------------------------

    def __aiter__(self) -> LinktorWebSocket:
        return self

    async def __anext__(self) -> RealtimeEvent:
        queue = self._queue
        self._iterating = True
        while True:
            while not queue:
                if self._state is _State.CLOSED:
                    if self._failure is not None:
                        raise self._failure
                    raise StopAsyncIteration
                if self._state is _State.IDLE:
                    raise WebSocketError(
                        "the realtime connection is not open; call connect() first"
                    )
                waiter = self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await waiter
                finally:
                    self._waiter = None
            item = queue.popleft()
            if type(item) is not PendingEvent:
                return item
            # Built when taken; the Python path reads what the plan leaves to it.
            event = item.build()
            if type(event) is not tuple:
                return event  # type: ignore[no-any-return]
            event = _read(*event)
            if event is not None:
                return event

    # --- closing ---------------------------------------------------------------------------

    async def wait_closed(self) -> None:
        """Wait until the client is done: ``disconnect()`` (returns), or a close that is not
        reconnected (raises the error, if it was not a clean close)."""
        if self._finished is None:
            raise WebSocketError("the realtime connection was never opened")
        await self._finished.wait()
        if self._failure is not None:
            raise self._failure

    async def disconnect(self, *, handler_timeout: float = 5.0) -> None:
        """Close the connection (1000) and stop reconnecting; iteration ends.

        Async handlers still running get ``handler_timeout`` seconds to finish, then are
        cancelled. Idempotent.
        """
        was = self._state
        self._state = _State.CLOSED
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        link, self._link = self._link, None
        if link is not None and link.conn is not None:
            await link.conn.close(1000)
        self._queue.clear()
        if was is not _State.CLOSED or self._failure is not None:
            self._failure = None
            self._finish(None)
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        if pending:
            _, late = await asyncio.wait(pending, timeout=handler_timeout)
            for late_task in late:
                late_task.cancel()
            if late:
                await asyncio.wait(late)


def _check_id(conversation_id: str) -> None:
    if not isinstance(conversation_id, str) or not conversation_id:
        raise ValueError("conversation_id must be a non-empty string")


def _frame(frame_type: str, **payload: Any) -> bytes:
    return orjson.dumps({"type": frame_type, "payload": payload})


def _refusal(err: HandshakeRefused) -> LinktorError:
    """The error for a refused upgrade."""
    if err.status in (401, 403):
        error = create_error_from_response(err.status, err.body, headers=err.headers)
        if error.message == "Unknown error":
            error.message = "the server refused the realtime connection's credentials"
        return error
    body = err.body.decode("utf-8", "replace")
    return WebSocketError(err.message, {"status": err.status, "body": body})


def _close_error(code: int, reason: str) -> LinktorError | None:
    """The error a close ends the client with (``None`` for a clean one)."""
    if code == 1000:
        return None
    text = f"realtime connection closed: {code}" + (f" {reason}" if reason else "")
    if code in _AUTHENTICATION_CLOSE_CODES:
        return AuthenticationError(text, details={"code": code, "reason": reason})
    if code in _AUTHORIZATION_CLOSE_CODES:
        return AuthorizationError(text, details={"code": code, "reason": reason})
    return WebSocketError(text, {"code": code, "reason": reason})
