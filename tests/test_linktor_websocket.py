"""``linktor.websocket.LinktorWebSocket`` over real sockets: against the emulator at both mounts
(``/linktor/ws``, ``/linktor/api/v1/ws``), and against small ``websockets`` servers for what the
emulator cannot be made to do (scripted closes, refusals on reconnect, odd frames).

Absence of an event is never waited for: a later event that must arrive first is the barrier.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any, TypeVar

import httpx
import pytest
from _emulator_support import DOCUMENTED
from test_emulator_linktor_realtime import add_agent
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

import linktor.websocket as websocket
from linktor import AuthenticationError, AuthorizationError, LinktorError, WebSocketError
from linktor.client import LinktorAsyncClient, LinktorClient
from linktor.types.common import MessageStatus
from linktor.websocket import (
    RECOVERABLE_CLOSE_CODES,
    ConnectedEvent,
    ConversationUpdateEvent,
    ErrorEvent,
    LinktorWebSocket,
    MessageEvent,
    MessageStatusEvent,
    PresenceEvent,
    RealtimeEvent,
    TypingEvent,
    UnknownEvent,
    realtime_url,
    to_event,
)
from relaywire.emulator import Emulator

TIMEOUT = 5.0
E = TypeVar("E")

MOUNTS = ["sdk", "server"]
# The server mount takes an API key, and sends store events, only in the documented profile.
MOUNTS_WITH_API_KEYS = pytest.mark.parametrize(
    ("mount", "emu"), [("sdk", "code"), ("server", "documented")], indirect=["emu"]
)


def base_url(emu: Emulator, mount: str) -> str:
    return emu.linktor_url if mount == "sdk" else emu.linktor_server_url


async def next_event(ws: LinktorWebSocket, kind: type[E]) -> E:
    """The next event of type ``kind`` from the iteration (others are skipped)."""

    async def find() -> E:
        async for event in ws:
            if isinstance(event, kind):
                return event
        raise AssertionError(f"the iteration ended before a {kind.__name__}")

    return await asyncio.wait_for(find(), TIMEOUT)


async def inject(emu: Emulator, conversation_id: str, text: str) -> dict[str, Any]:
    """An inbound message from the conversation's contact (the store announces it)."""
    record: dict[str, Any] = await asyncio.to_thread(
        emu.call,
        emu.linktor.add_message,
        conversation_id,
        direction="inbound",
        content={"text": text},
        sender_type="contact",
        sender_id="ct_demo_1",
    )
    return record


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def hub_subscriptions(emu: Emulator) -> list[set[str]]:
    hub = emu.context.linktor_hub
    return emu.call(lambda: [set(c.subscriptions) for c in hub.connections("tenant_demo")])


@asynccontextmanager
async def client(url: str, **options: Any) -> AsyncIterator[LinktorWebSocket]:
    """A connected client whose ``connected`` event is already consumed."""
    options.setdefault("api_key", "lk_demo")
    ws = LinktorWebSocket(url, **options)
    await ws.connect()
    try:
        await next_event(ws, ConnectedEvent)
        yield ws
    finally:
        await ws.disconnect()


# -- a scriptable websockets server ---------------------------------------------------------------

Script = Callable[["FakeServer", ServerConnection], Awaitable[None]]


def frame(frame_type: str, **payload: Any) -> str:
    return json.dumps({"type": frame_type, "payload": payload})


CONNECTED = frame("connected", user_id="u1", tenant_id="t1", online_users=["u1"])


class FakeServer:
    """Runs ``script`` for each connection and records requests and received frames."""

    def __init__(
        self,
        script: Script,
        *,
        refuse: Callable[[int], int | None] | None = None,
        delay: Callable[[int], float] | None = None,
    ):
        self.script = script
        self.refuse = refuse  # attempt number -> HTTP status to refuse with, or None
        self.delay = delay  # attempt number -> seconds to hold the handshake
        self.attempts = 0
        self.requests: list[Request] = []
        self.received: list[list[Any]] = []  # per accepted connection
        self.opened_at: list[float] = []
        self.finished = 0  # connections whose script ended
        self.server: Server | None = None
        self.url = ""

    async def __aenter__(self) -> FakeServer:
        self.server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._process_request
        )
        port = next(iter(self.server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.attempts += 1
        if self.delay is not None:
            await asyncio.sleep(self.delay(self.attempts))
        status = self.refuse(self.attempts) if self.refuse is not None else None
        if status is None:
            return None
        body = json.dumps({"error": "invalid token"}).encode()
        headers = Headers([("Content-Type", "application/json")])
        return Response(status, HTTPStatus(status).phrase, headers, body)

    async def _handle(self, ws: ServerConnection) -> None:
        self.requests.append(ws.request)  # type: ignore[arg-type]
        self.opened_at.append(time.monotonic())
        self.received.append([])
        try:
            await self.script(self, ws)
        finally:
            self.finished += 1

    async def record(self, ws: ServerConnection) -> None:
        """Record every frame until the client leaves."""
        frames = self.received[-1]
        async for message in ws:
            frames.append(json.loads(message))


async def connected_then_record(server: FakeServer, ws: ServerConnection) -> None:
    await ws.send(CONNECTED)
    await server.record(ws)


def close_after_connected(code: int, reason: str = "") -> Script:
    async def script(server: FakeServer, ws: ServerConnection) -> None:
        await ws.send(CONNECTED)
        await ws.close(code, reason)

    return script


# -- URL and credentials --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8080/api/v1", "ws://h:8080/api/v1/ws"),
        ("https://h/api/v1/", "wss://h/api/v1/ws"),
        ("https://h/linktor", "wss://h/linktor/ws"),
        ("https://api.linktor.io", "wss://api.linktor.io/ws"),
        ("HTTP://h/ws", "ws://h/ws"),
        ("https://h/api/v1?x=1", "wss://h/api/v1/ws?x=1"),
        ("ws://h:1/anything?token=t", "ws://h:1/anything?token=t"),
        ("wss://api.linktor.io/ws", "wss://api.linktor.io/ws"),
        (None, "wss://api.linktor.io/ws"),
    ],
)
def test_realtime_url(given: str | None, expected: str) -> None:
    assert realtime_url(given) == expected
    assert LinktorWebSocket(given).url == expected


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="http"):
        realtime_url("ftp://h/x")
    with pytest.raises(ValueError, match="max_queue"):
        LinktorWebSocket(max_queue=0)
    with pytest.raises(ValueError, match="max_reconnect_attempts"):
        LinktorWebSocket(max_reconnect_attempts=-1)


async def test_credential_goes_in_the_header_and_the_query() -> None:
    """The self-hosted server wants both ``Authorization: Bearer`` and ``?token=``."""
    async with FakeServer(connected_then_record) as server:
        ws = LinktorWebSocket(server.url + "?x=1", api_key="lk_1", access_token="jwt_1")
        await ws.connect()
        await ws.disconnect()
        quiet = LinktorWebSocket(server.url, api_key="lk_2", token_in_query=False)
        await quiet.connect()
        await quiet.disconnect()
    first, second = server.requests
    # The access token wins over the API key.
    assert first.path == "/ws?x=1&token=jwt_1"
    assert first.headers["Authorization"] == "Bearer jwt_1"
    assert first.headers["User-Agent"].startswith("linktor-python/")
    assert second.path == "/ws"
    assert second.headers["Authorization"] == "Bearer lk_2"


def test_api_key_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKTOR_API_KEY", "lk_env")
    assert LinktorWebSocket().api_key == "lk_env"
    assert LinktorWebSocket(access_token="t").api_key is None


# -- connecting to the emulator -------------------------------------------------------------------


@MOUNTS_WITH_API_KEYS
async def test_connects_with_an_api_key(emu: Emulator, mount: str) -> None:
    ws = LinktorWebSocket(base_url(emu, mount), api_key="lk_demo")
    assert not ws.is_connected
    await ws.connect()
    try:
        assert ws.is_connected and ws.connections == 1
        event = await next_event(ws, ConnectedEvent)
        assert (event.user_id, event.tenant_id, event.online_users) == (
            "usr_demo",
            "tenant_demo",
            ["usr_demo"],
        )
        assert (ws.user_id, ws.tenant_id) == ("usr_demo", "tenant_demo")
        await ws.connect()  # already connected: nothing happens
        assert ws.connections == 1
    finally:
        await ws.disconnect()
    assert not ws.is_connected


@pytest.mark.parametrize("mount", MOUNTS)
async def test_connects_with_a_jwt_from_login(emu: Emulator, mount: str) -> None:
    async with LinktorAsyncClient(emu.linktor_server_url) as rest:
        login = await rest.auth.login("demo@linktor.local", "demo-password")
    async with client(base_url(emu, mount), api_key=None, access_token=login.access_token) as ws:
        assert ws.user_id == "usr_demo"


async def test_accepts_a_ws_url_as_given(emu: Emulator) -> None:
    async with client(f"{emu.ws_url}/linktor/ws") as ws:
        assert ws.url == f"{emu.ws_url}/linktor/ws"


@DOCUMENTED
@pytest.mark.parametrize(
    ("key", "message"), [("lk_wrong", "invalid token"), (None, "missing token")]
)
async def test_refused_credentials_raise_authentication_error(
    emu: Emulator, key: str | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LINKTOR_API_KEY", raising=False)
    ws = LinktorWebSocket(emu.linktor_server_url, api_key=key)
    with pytest.raises(AuthenticationError) as caught:
        await ws.connect()
    error = caught.value
    assert isinstance(error, LinktorError)
    assert (error.status_code, error.message, error.code) == (401, message, "AUTHENTICATION_ERROR")
    assert not ws.is_connected
    # The client can be used again.
    ws.api_key = "lk_demo"
    await ws.connect()
    assert ws.is_connected
    await ws.disconnect()


@pytest.mark.parametrize("status", [404, 503])
async def test_other_refusals_and_network_errors_are_websocket_errors(status: int) -> None:
    async with FakeServer(connected_then_record, refuse=lambda n: status) as server:
        with pytest.raises(WebSocketError) as caught:
            await LinktorWebSocket(server.url, api_key="k").connect()
        url = server.url
    assert caught.value.details["status"] == status
    assert caught.value.code == "WEBSOCKET_ERROR"
    with pytest.raises(WebSocketError) as refused:
        await LinktorWebSocket(url, api_key="k").connect()
    assert refused.value.details["reason"] == "connection_failed"


# -- events ----------------------------------------------------------------------------------------


@MOUNTS_WITH_API_KEYS
async def test_subscribed_conversation_delivers_typed_messages(emu: Emulator, mount: str) -> None:
    async with client(base_url(emu, mount)) as ws:
        await ws.subscribe("conv_demo")
        assert ws.subscriptions == ("conv_demo",)
        record = await inject(emu, "conv_demo", "Hola 😀")
        event = await next_event(ws, MessageEvent)
        assert event.type == "message"
        assert event.conversation_id == "conv_demo"
        assert event.message.text == "Hola 😀"
        assert event.message.id == record["id"]
        assert event.message.direction == "inbound"


@DOCUMENTED
async def test_messages_injected_over_http_arrive(emu: Emulator) -> None:
    async with client(emu.linktor_server_url) as ws, httpx.AsyncClient() as http:
        response = await http.post(
            f"{emu.linktor_server_url}/_emulator/inbound",
            headers={"Authorization": "Bearer lk_demo"},
            json={"conversation_id": "conv_demo", "text": "over http"},
        )
        assert response.status_code == 201, response.text
        event = await next_event(ws, MessageEvent)
        assert event.message.text == "over http"


async def test_message_status_changes(emu: Emulator) -> None:
    async with client(emu.linktor_url) as ws:
        await ws.subscribe("conv_demo")
        record = await asyncio.to_thread(
            emu.call,
            emu.linktor.add_message,
            "conv_demo",
            direction="outbound",
            content={"text": "sent by us"},
            sender_type="agent",
            sender_id="usr_demo",
        )
        assert (await next_event(ws, MessageEvent)).message.text == "sent by us"
        for status in ("delivered", "read"):
            await asyncio.to_thread(emu.call, emu.linktor.set_message_status, record["id"], status)
            event = await next_event(ws, MessageStatusEvent)
            assert event.message_id == record["id"]
            assert event.conversation_id == "conv_demo"
            assert event.status is MessageStatus(status)
            assert event.message is not None and event.message.text == "sent by us"


@DOCUMENTED
async def test_conversation_updates(emu: Emulator) -> None:
    async with client(emu.linktor_server_url) as ws:
        await asyncio.to_thread(
            emu.call, emu.linktor.update_conversation, "conv_demo", {"status": "resolved"}
        )
        event = await next_event(ws, ConversationUpdateEvent)
        assert (event.conversation_id, event.created, event.status) == (
            "conv_demo",
            False,
            "resolved",
        )


async def test_typing_both_ways(emu: Emulator) -> None:
    grace_key = add_agent(emu, "usr_grace", "Grace")
    async with client(emu.linktor_url) as demo, client(emu.linktor_url, api_key=grace_key) as grace:
        await grace.subscribe("conv_demo")
        await next_event(demo, PresenceEvent)  # grace came online
        await demo.send_typing("conv_demo", True)
        event = await next_event(grace, TypingEvent)
        assert (event.conversation_id, event.user_id, event.is_typing) == (
            "conv_demo",
            "usr_demo",
            True,
        )
        assert event.user_name == "Demo Admin"
        await grace.send_typing("conv_demo", False)
        back = await next_event(demo, TypingEvent)
        assert (back.user_id, back.is_typing) == ("usr_grace", False)
        # Another conversation's typing does not reach grace (the emulator filters by
        # subscription, and so does the client); a later message in hers arrives first.
        await demo.send_typing("conv_demo_02", True)
        await inject(emu, "conv_demo", "barrier")
        assert isinstance(
            await asyncio.wait_for(anext_of(grace, (TypingEvent, MessageEvent)), TIMEOUT),
            MessageEvent,
        )


async def anext_of(ws: LinktorWebSocket, kinds: tuple[type[RealtimeEvent], ...]) -> RealtimeEvent:
    async for event in ws:
        if isinstance(event, kinds):
            return event
    raise AssertionError("iteration ended")


@DOCUMENTED
async def test_presence(emu: Emulator) -> None:
    grace_key = add_agent(emu, "usr_grace", "Grace")
    seen: list[PresenceEvent] = []
    async with client(emu.linktor_server_url) as demo:
        demo.on_presence(seen.append)
        async with client(emu.linktor_server_url, api_key=grace_key) as grace:
            assert grace.online_users == ["usr_demo", "usr_grace"]
            online = await next_event(demo, PresenceEvent)
            assert (online.user_id, online.status, online.online) == ("usr_grace", "online", True)
        offline = await next_event(demo, PresenceEvent)
    assert (offline.user_id, offline.online) == ("usr_grace", False)
    assert offline.last_seen is not None
    assert seen == [online, offline]


async def test_server_errors_are_error_events(emu: Emulator) -> None:
    errors: list[ErrorEvent] = []
    async with client(emu.linktor_url) as ws:
        ws.on_error(errors.append)
        await ws.subscribe("conv_missing")
        event = await next_event(ws, ErrorEvent)
    assert event.message == "conversation not found: conv_missing"
    assert errors == [event]


async def test_decorators_with_sync_and_async_handlers(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    sync_seen: list[str] = []
    async_seen: list[str] = []
    everything: list[str] = []
    done = asyncio.Event()
    async with client(emu.linktor_url) as ws:

        @ws.on_message
        def on_sync(event: MessageEvent) -> None:
            sync_seen.append(event.message.text or "")

        @ws.on_message
        async def on_async(event: MessageEvent) -> None:
            await asyncio.sleep(0.01)
            async_seen.append(event.message.text or "")
            if len(async_seen) == 2:
                done.set()

        @ws.on_message
        def broken(event: MessageEvent) -> None:
            raise RuntimeError("sync boom")

        @ws.on_message
        async def broken_async(event: MessageEvent) -> None:
            raise RuntimeError("async boom")

        ws.on_event(lambda event: everything.append(event.type))
        assert on_sync.__name__ == "on_sync" and on_async.__name__ == "on_async"
        with caplog.at_level(logging.ERROR, logger="linktor.websocket"):
            await inject(emu, "conv_demo", "one")
            await inject(emu, "conv_demo", "two")
            await asyncio.wait_for(done.wait(), TIMEOUT)
            ws.remove_handler(on_sync)
            await inject(emu, "conv_demo", "three")
            assert (await next_event(ws, MessageEvent)).message.text == "one"
            await next_event(ws, MessageEvent)
            assert (await next_event(ws, MessageEvent)).message.text == "three"
    assert sync_seen == ["one", "two"]
    assert async_seen[:2] == ["one", "two"]
    assert everything.count("message") == 3
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("realtime 'message' handler failed") == 3
    assert messages.count("realtime handler failed") == 3


async def test_never_subscribed_receives_every_conversation(emu: Emulator) -> None:
    async with client(emu.linktor_url) as ws:
        await inject(emu, "conv_demo_02", "second")
        await inject(emu, "conv_demo", "first")
        assert (await next_event(ws, MessageEvent)).conversation_id == "conv_demo_02"
        assert (await next_event(ws, MessageEvent)).conversation_id == "conv_demo"


@DOCUMENTED
async def test_unsubscribe_stops_events(emu: Emulator) -> None:
    async with client(emu.linktor_server_url) as ws:
        await ws.subscribe("conv_demo")
        await ws.subscribe("conv_demo_02")
        await ws.unsubscribe("conv_demo")
        assert ws.subscriptions == ("conv_demo_02",)
        await inject(emu, "conv_demo", "not for us")
        await inject(emu, "conv_demo_02", "for us")
        event = await next_event(ws, MessageEvent)
        assert (event.conversation_id, event.message.text) == ("conv_demo_02", "for us")
        await eventually(
            lambda: asyncio.to_thread(lambda: hub_subscriptions(emu) == [{"conv_demo_02"}]),
            "the server to see the unsubscribe",
        )
        # Unsubscribing the last one does not turn every conversation back on.
        await ws.unsubscribe("conv_demo_02")
        await inject(emu, "conv_demo_03", "nobody's")
        await ws.subscribe("conv_demo")
        await inject(emu, "conv_demo", "ours again")
        event = await next_event(ws, MessageEvent)
        assert event.message.text == "ours again"


async def test_sending_needs_a_connection_and_valid_ids() -> None:
    ws = LinktorWebSocket("ws://127.0.0.1:9/ws")
    with pytest.raises(WebSocketError, match="not open"):
        await ws.send_typing("conv_demo")
    await ws.subscribe("conv_demo")  # recorded before connecting
    assert ws.subscriptions == ("conv_demo",)
    with pytest.raises(ValueError):
        await ws.subscribe("")
    with pytest.raises(WebSocketError, match="connect"):
        await anext(ws)


# -- iteration and slow consumers ------------------------------------------------------------------


async def test_disconnect_ends_iteration(emu: Emulator) -> None:
    ws = LinktorWebSocket(emu.linktor_url, api_key="lk_demo")
    await ws.connect()
    seen: list[str] = []

    async def consume() -> None:
        async for event in ws:
            seen.append(event.type)

    task = asyncio.create_task(consume())
    await eventually(lambda: asyncio.sleep(0, bool(seen)), "the connected event")
    await ws.disconnect()
    await asyncio.wait_for(task, TIMEOUT)
    assert seen == ["connected"]
    await ws.wait_closed()
    await ws.disconnect()  # idempotent
    # And the client connects again.
    await ws.connect()
    assert isinstance(await anext(ws), ConnectedEvent)
    await ws.disconnect()


async def test_events_queue_from_connect_and_a_full_queue_drops_the_oldest(emu: Emulator) -> None:
    ws = LinktorWebSocket(emu.linktor_url, api_key="lk_demo", max_queue=3)
    handled: list[str] = []
    ws.on_message(lambda event: handled.append(event.message.text))
    await ws.connect()
    try:
        for i in range(5):
            await inject(emu, "conv_demo", f"m{i}")
        await eventually(lambda: asyncio.sleep(0, len(handled) == 5), "five messages")
        # connected + 5 messages into 3 places: the three oldest went.
        assert ws.dropped_events == 3
        texts = [(await anext(ws)).message.text for _ in range(3)]  # type: ignore[union-attr]
        assert texts == ["m2", "m3", "m4"]
        assert handled == ["m0", "m1", "m2", "m3", "m4"]
    finally:
        await ws.disconnect()


# -- frames the emulator does not send -----------------------------------------------------------


async def test_unknown_and_odd_frames_are_surfaced_not_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frames = [
        CONNECTED,
        frame("brand_new", x=1),
        "not json",
        json.dumps({"type": "typing", "payload": [1]}),
        frame("pong"),
        frame("new_message", message=5),
        json.dumps(
            {"type": "typing", "payload": {"conversationId": "c", "userId": "u", "isTyping": True}}
        ),
        frame("conversation_created", id="c9", status="open", metadata={"k": 1}),
        frame("error", message="nope", code="E1"),
    ]

    async def script(server: FakeServer, ws: ServerConnection) -> None:
        for text in frames:
            await ws.send(text)
        await server.record(ws)

    async with FakeServer(script) as server:
        ws = LinktorWebSocket(server.url, api_key="k")
        with caplog.at_level(logging.WARNING, logger="linktor.websocket"):
            await ws.connect()
            events = [await asyncio.wait_for(anext(ws), TIMEOUT) for _ in range(6)]
        await ws.disconnect()
    assert [type(e).__name__ for e in events] == [
        "ConnectedEvent",
        "UnknownEvent",
        "UnknownEvent",
        "TypingEvent",
        "ConversationUpdateEvent",
        "ErrorEvent",
    ]
    unknown, bad_message = events[1], events[2]
    assert unknown == UnknownEvent(type="brand_new", payload={"x": 1})
    assert isinstance(bad_message, UnknownEvent) and bad_message.type == "new_message"
    typing = events[3]
    assert isinstance(typing, TypingEvent) and typing.is_typing and typing.user_id == "u"
    created = events[4]
    assert isinstance(created, ConversationUpdateEvent)
    assert (created.conversation_id, created.created, created.metadata) == ("c9", True, {"k": 1})
    assert created.conversation is None  # no channel type: not a full conversation
    assert events[5] == ErrorEvent(message="nope", code="E1")
    assert ws.malformed_frames == 2
    assert sum("not a frame" in r.getMessage() for r in caplog.records) == 2


SERVER_MESSAGE: dict[str, Any] = {
    "id": "m1",
    "conversation_id": "c",
    "sender_type": "contact",
    "content_type": "text",
    "content": "hi",
    "status": "delivered",
    "created_at": "2026-01-01T00:00:00Z",
}


SDK_SHAPED = {**SERVER_MESSAGE, "content": {"text": "x"}}


async def test_events_built_natively_equal_the_python_paths(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every frame the client reads gives the event ``to_event`` makes of its payload, in
    order: those built natively (lazily, as the iterator takes them, or at once for handlers
    and subscriptions), those the Python path builds, and a frame whose Python path raises
    (an unhashable content type), which is logged and skipped without ending the iteration."""
    payloads = [
        ("new_message", {"conversation_id": "c", "message": SERVER_MESSAGE}),
        (
            "message",
            {"conversationId": "c", "message": {**SERVER_MESSAGE, "content": {"text": "x"}}},
        ),
        ("message_updated", {"message": SERVER_MESSAGE}),
        ("typing", {"conversation_id": "c", "user_id": "u", "is_typing": False}),
        ("new_message", {"message": {**SERVER_MESSAGE, "content_type": ["x"]}}),  # raises
        ("conversation_updated", {"id": "c", "status": "closed", "unread_count": 1}),
        ("presence", {"user_id": "u", "status": "offline", "last_seen": "2026-01-01T00:00:00Z"}),
        ("typing", {"is_typing": True}),  # the model refuses it: an UnknownEvent
        ("brand_new", {"a": [1, 2]}),
    ]
    expected: list[RealtimeEvent] = []
    for frame_type, payload in payloads:
        try:
            event = to_event(frame_type, payload)
        except TypeError:
            continue
        assert event is not None
        expected.append(event)

    async def script(server: FakeServer, ws: ServerConnection) -> None:
        await ws.send(CONNECTED)
        await server.record(ws)

    for style in ("iterate", "handlers", "subscribed", "python path"):
        if style == "python path":  # the native events off: every frame through to_event
            monkeypatch.setattr(websocket, "_decoder_events", lambda: None)
        async with FakeServer(script) as server:
            ws = LinktorWebSocket(server.url, api_key="k")
            seen: list[RealtimeEvent] = []
            if style == "handlers":
                ws.on_event(seen.append)
            if style == "subscribed":
                await ws.subscribe("c")
            await ws.connect()
            assert isinstance(await asyncio.wait_for(anext(ws), TIMEOUT), ConnectedEvent)
            assert ws.user_id == "u1"
            conn = next(iter(server.server.connections))  # type: ignore[union-attr]
            for frame_type, payload in payloads:
                await conn.send(json.dumps({"type": frame_type, "payload": payload}))
            with caplog.at_level(logging.ERROR, logger="linktor.websocket"):
                events = [await asyncio.wait_for(anext(ws), TIMEOUT) for _ in range(len(expected))]
            await ws.disconnect()
        assert events == expected, style
        for event, wanted in zip(events, expected, strict=True):
            assert type(event) is type(wanted)
            assert event.__pydantic_fields_set__ == wanted.__pydantic_fields_set__
        if style == "handlers":
            assert seen[1:] == expected
        assert any("could not be read" in r.getMessage() for r in caplog.records)
        caplog.clear()


def test_to_event_maps_every_type() -> None:
    message = dict(SERVER_MESSAGE)
    event = to_event("new_message", {"conversation_id": "c", "message": message})
    assert isinstance(event, MessageEvent) and event.message.text == "hi"
    assert isinstance(to_event("message", {"message": message}), MessageEvent)
    status = to_event("message_status", {"messageId": "m1", "status": "seen"})
    assert isinstance(status, MessageStatusEvent) and status.status == "seen"
    filled = to_event("message_updated", {"message": message})
    assert isinstance(filled, MessageStatusEvent)
    assert (filled.message_id, filled.conversation_id) == ("m1", "c")
    assert filled.status is MessageStatus.DELIVERED
    update = to_event("conversation_update", {"conversationId": "c", "status": "closed"})
    assert isinstance(update, ConversationUpdateEvent) and update.status == "resolved"
    assert to_event("pong", {}) is None
    assert to_event("connected", {"user_id": 5}) == UnknownEvent(
        type="connected", payload={"user_id": 5}
    )


# -- closes and reconnects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (1000, None),
        (1003, WebSocketError),
        (1008, AuthenticationError),
        (4401, AuthenticationError),
        (4403, AuthorizationError),
    ],
)
async def test_unrecoverable_closes_end_the_client(
    code: int, error: type[LinktorError] | None
) -> None:
    async with FakeServer(close_after_connected(code, "bye")) as server:
        ws = LinktorWebSocket(server.url, api_key="k", reconnect_delay=0.01)
        await ws.connect()
        seen = []
        if error is None:
            async for event in ws:
                seen.append(event.type)
            await ws.wait_closed()
        else:
            with pytest.raises(error) as caught:
                async for event in ws:
                    seen.append(event.type)
            assert caught.value.details == {"code": code, "reason": "bye"}
            with pytest.raises(error):
                await ws.wait_closed()
        assert seen == ["connected"]
        assert server.attempts == 1
        assert (ws.close_code, ws.close_reason) == (code, "bye")
        await ws.disconnect()


async def test_recoverable_close_without_auto_reconnect_ends_the_client() -> None:
    async with FakeServer(close_after_connected(1012)) as server:
        ws = LinktorWebSocket(server.url, api_key="k", auto_reconnect=False)
        await ws.connect()
        with pytest.raises(WebSocketError, match="1012"):
            await ws.wait_closed()
        assert server.attempts == 1


async def test_reconnect_storm_is_bounded() -> None:
    """A server that accepts and closes at once: attempts follow the backoff (0, 0.2, 0.4,
    0.8 s ± 20%...), not a loop."""
    assert 1011 in RECOVERABLE_CLOSE_CODES
    async with FakeServer(close_after_connected(1011)) as server:
        ws = LinktorWebSocket(server.url, api_key="k", reconnect_delay=0.2, max_reconnect_delay=2.0)
        await ws.connect()
        await asyncio.sleep(2.0)
        await ws.disconnect()
    assert 3 <= len(server.opened_at) <= 5, server.opened_at
    gaps = [b - a for a, b in itertools.pairwise(server.opened_at)]
    # The first retry is immediate; after it each wait doubles, less at most 20% of jitter
    # (time spent connecting only adds to the gaps).
    for i, gap in enumerate(gaps[1:]):
        assert gap >= 0.2 * 2**i * 0.8, gaps


async def test_gives_up_after_max_reconnect_attempts() -> None:
    async with FakeServer(close_after_connected(1012)) as server:
        ws = LinktorWebSocket(
            server.url, api_key="k", reconnect_delay=0.01, max_reconnect_attempts=2
        )
        await ws.connect()
        await server.stop()  # reconnects find nobody listening
        with pytest.raises(WebSocketError, match="gave up reconnecting after 2 failed attempts"):
            await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        with pytest.raises(WebSocketError):
            async for _ in ws:
                pass


async def test_refused_credentials_on_reconnect_end_the_client() -> None:
    async with FakeServer(
        close_after_connected(1012), refuse=lambda n: 401 if n > 1 else None
    ) as server:
        ws = LinktorWebSocket(server.url, api_key="k", reconnect_delay=0.01)
        await ws.connect()
        with pytest.raises(AuthenticationError, match="invalid token"):
            await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert server.attempts == 2


async def test_reconnect_resubscribes_then_sends_queued_typing() -> None:
    closing = asyncio.Event()

    async def script(server: FakeServer, ws: ServerConnection) -> None:
        await ws.send(CONNECTED)
        if len(server.received) == 1:
            recorder = asyncio.create_task(server.record(ws))
            await closing.wait()
            await ws.close(1012, "restart")
            await recorder
        else:
            await server.record(ws)

    # The second handshake is held, so the client stays "reconnecting" for a while.
    async with FakeServer(script, delay=lambda n: 0.3 if n > 1 else 0.0) as server:
        ws = LinktorWebSocket(server.url, api_key="k")
        await ws.connect()
        await ws.subscribe("conv_a")
        await ws.subscribe("conv_b")
        await ws.unsubscribe("conv_b")
        await eventually(lambda: asyncio.sleep(0, len(server.received[0]) == 3), "three frames")
        closing.set()
        await eventually(lambda: asyncio.sleep(0, not ws.is_connected), "the drop")
        await ws.send_typing("conv_a", True)
        await ws.send_typing("conv_a", False)  # only the latest state is sent
        await ws.send_typing("conv_c", True)
        await eventually(lambda: asyncio.sleep(0, ws.connections == 2), "the reconnect")
        await eventually(
            lambda: asyncio.sleep(0, len(server.received) == 2 and len(server.received[1]) == 3),
            "the frames of the second connection",
        )
        await ws.disconnect()
    assert server.received[1] == [
        {"type": "subscribe", "payload": {"conversation_id": "conv_a"}},
        {"type": "typing", "payload": {"conversation_id": "conv_a", "is_typing": False}},
        {"type": "typing", "payload": {"conversation_id": "conv_c", "is_typing": True}},
    ]
    assert server.received[0] == [
        {"type": "subscribe", "payload": {"conversation_id": "conv_a"}},
        {"type": "subscribe", "payload": {"conversation_id": "conv_b"}},
        {"type": "unsubscribe", "payload": {"conversation_id": "conv_b"}},
    ]


async def test_reconnects_after_the_emulator_restarts_and_subscribes_again() -> None:
    # The documented profile: the server mount takes the API key and sends message events.
    first = await asyncio.to_thread(Emulator(linktor_server_profile="documented").start)
    port = first.port
    second: Emulator | None = None
    connected: asyncio.Queue[ConnectedEvent] = asyncio.Queue()
    ws = LinktorWebSocket(
        first.linktor_server_url, api_key="lk_demo", reconnect_delay=0.1, max_reconnect_delay=0.5
    )
    ws.on_connected(connected.put_nowait)
    try:
        await ws.connect()
        await ws.subscribe("conv_demo")
        await connected.get()
        await asyncio.to_thread(first.stop)  # the server goes away with our socket open
        second = await asyncio.to_thread(
            Emulator(port=port, linktor_server_profile="documented").start
        )
        await asyncio.wait_for(connected.get(), TIMEOUT)
        assert ws.connections >= 2
        assert ws.close_code in RECOVERABLE_CLOSE_CODES
        emu = second
        await eventually(
            lambda: asyncio.to_thread(lambda: hub_subscriptions(emu) == [{"conv_demo"}]),
            "the subscription on the new server",
        )
        await inject(second, "conv_demo", "after the restart")
        event = await next_event(ws, MessageEvent)
        assert event.message.text == "after the restart"
    finally:
        await ws.disconnect()
        first.stop()
        if second is not None:
            await asyncio.to_thread(second.stop)


async def restart_once_then_record(server: FakeServer, ws: ServerConnection) -> None:
    """``connected``, then a 1012 close on the first connection; later ones record."""
    await ws.send(CONNECTED)
    if len(server.received) == 1:
        await ws.close(1012)
    else:
        await server.record(ws)


async def test_connect_while_reconnecting_waits_for_it() -> None:
    script = restart_once_then_record
    async with FakeServer(script, delay=lambda n: 0.2 if n > 1 else 0.0) as server:
        ws = LinktorWebSocket(server.url, api_key="k")
        await ws.connect()
        await eventually(lambda: asyncio.sleep(0, not ws.is_connected), "the drop")
        await asyncio.wait_for(ws.connect(), TIMEOUT)
        assert ws.is_connected and ws.connections == 2
        await ws.disconnect()


async def test_connect_on_a_closing_connection_waits_for_the_reconnect() -> None:
    """The server's close frame can arrive with ``connected``: the connection is closing, but
    its close is reported only once TCP closes. A ``connect()`` in between (with no event loop
    turn, as ``asyncio.wait_for`` runs its coroutine from Python 3.12 on) waits for the
    reconnect instead of returning on a dead connection.

    Regression: it returned at once, not connected (the 3.12/3.13 failure of the test above).
    """

    async def connect_twice(ws: LinktorWebSocket) -> None:
        await ws.connect()
        await ws.connect()  # no await in between that would let the close be reported

    async with FakeServer(restart_once_then_record) as server:
        ws = LinktorWebSocket(server.url, api_key="k")
        # The second frame (the close) is read in the same batch as the first.
        await asyncio.sleep(0)
        await asyncio.wait_for(connect_twice(ws), TIMEOUT)
        assert ws.is_connected and ws.connections == 2
        await ws.disconnect()


async def test_disconnect_during_connect_leaves_nothing_open() -> None:
    async with FakeServer(connected_then_record, delay=lambda n: 0.2) as server:
        ws = LinktorWebSocket(server.url, api_key="k")
        connecting = asyncio.create_task(ws.connect())
        await asyncio.sleep(0.05)
        await ws.disconnect()
        with pytest.raises(WebSocketError, match="disconnect"):
            await asyncio.wait_for(connecting, TIMEOUT)
        assert not ws.is_connected
        await eventually(lambda: asyncio.sleep(0, server.finished == server.attempts), "the close")


# -- from the REST clients -------------------------------------------------------------------------


async def test_rest_clients_hand_out_realtime_clients(emu: Emulator) -> None:
    async with LinktorAsyncClient(emu.linktor_server_url) as rest:
        await rest.auth.login("demo@linktor.local", "demo-password")
        async with LinktorWebSocket.from_client(rest, max_queue=10) as ws:
            assert ws.url == f"{emu.ws_url}/linktor/api/v1/ws"
            assert ws.max_queue == 10
            assert (await next_event(ws, ConnectedEvent)).user_id == "usr_demo"
    with LinktorClient(emu.linktor_url, api_key="lk_demo") as sync_rest:
        ws = LinktorWebSocket.from_client(sync_rest)
    assert (ws.url, ws.api_key) == (f"{emu.ws_url}/linktor/ws", "lk_demo")
    async with ws:
        assert (await next_event(ws, ConnectedEvent)).user_id == "usr_demo"
