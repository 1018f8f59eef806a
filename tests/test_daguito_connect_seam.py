"""The patched-``connect`` seam, as a user's test suite uses it.

Users test their code by replacing ``daguito.webhook_stream_session.connect`` or
``daguito.audio_stream_session.connect`` with a coroutine that returns their own small connection
object. daguito-sdk only iterated over it (``async for``), called ``send()`` and ``close()``, so
that is all the objects here have: no ``recv()``, no ``close_code``, no ``state``, no
``transport``. An iteration that ends without a close code is an abnormal drop (1006), which is
reconnected when ``auto_reconnect`` is on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import daguito.audio_stream_session as audio_module
import daguito.webhook_stream_session as stream_module
from daguito import (
    AudioStreamOptions,
    AudioStreamSession,
    ClosedEvent,
    WebhookStreamOptions,
    WebhookStreamSession,
    text_message,
)


class MinimalConnection:
    """A stand-in connection: async iteration over received messages, send() and close()."""

    def __init__(self, url: str, on_send: Callable[[MinimalConnection, Any], None]) -> None:
        self.url = url
        self.sent: list[Any] = []
        self.closed = False
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._on_send = on_send

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Any]:
        while True:
            message = await self._inbox.get()
            if message is None:
                return
            yield message

    async def send(self, message: Any) -> None:
        self.sent.append(message)
        self._on_send(self, message)

    async def close(self) -> None:
        self.closed = True
        self._inbox.put_nowait(None)

    # what the test's fake server does with it
    def push(self, frame: dict[str, Any]) -> None:
        self._inbox.put_nowait(json.dumps(frame))

    def drop(self) -> None:
        """The network goes away: the iteration ends, with no close frame."""
        self._inbox.put_nowait(None)


class FakeDaguito:
    """Plays the Daguito stream protocol over MinimalConnection objects."""

    def __init__(self) -> None:
        self.connections: list[MinimalConnection] = []
        self.connect_kwargs: list[dict[str, Any]] = []

    async def connect(self, url: str, **kwargs: Any) -> MinimalConnection:
        self.connect_kwargs.append(kwargs)
        conn = MinimalConnection(url, self._on_frame)
        self.connections.append(conn)
        conn.push({"type": "ready", "webhook_id": "wh_1"})
        return conn

    def _on_frame(self, conn: MinimalConnection, message: Any) -> None:
        frame = json.loads(message)
        if frame["type"] == "session.start":
            conn.push({"type": "session.started", "session_key": frame["session_key"]})
        elif frame["type"] == "message":
            text = frame["message"]["text"]
            for word in ("you", "said", text):
                conn.push({"type": "node.token", "node_id": "n1", "data": {"text": f"{word} "}})
            conn.push({"type": "flow.completed", "data": {"output": {"echo": text}}})

    def frames(self, index: int, kind: str) -> list[dict[str, Any]]:
        sent = [json.loads(m) for m in self.connections[index].sent]
        return [f for f in sent if f["type"] == kind]


async def until(predicate: Callable[[], bool]) -> None:
    while not predicate():  # bounded by the test's own timeout, not timed
        await asyncio.sleep(0.005)


@pytest.fixture
def fake_stream(monkeypatch: pytest.MonkeyPatch) -> FakeDaguito:
    server = FakeDaguito()
    monkeypatch.setattr(stream_module, "connect", server.connect)
    return server


def stream_options(**kw: Any) -> WebhookStreamOptions:
    return WebhookStreamOptions(
        api_url="https://daguito.invalid", webhook_id="wh_1", token="sk_wh_seam", **kw
    )


async def test_stream_session_runs_on_a_minimal_connection(fake_stream: FakeDaguito) -> None:
    async with WebhookStreamSession(stream_options(session_key="py_fixed")) as session:
        events = session.events()
        await session.send(text_message("hello"))
        seen: list[tuple[str, Any]] = []
        async for event_type, event in events:
            seen.append((event_type, event))
            if event_type == "flow.completed":
                break
        assert await session.collect_text(text_message("again")) == "you said again "
    conn = fake_stream.connections[0]
    assert [t for t, _ in seen] == [
        "ready",
        "node.token",
        "node.token",
        "node.token",
        "flow.completed",
    ]
    assert seen[-1][1].output == {"echo": "hello"}
    assert fake_stream.frames(0, "session.start") == [
        {"type": "session.start", "session_key": "py_fixed"}
    ]
    assert [f["message"]["text"] for f in fake_stream.frames(0, "message")] == ["hello", "again"]
    assert fake_stream.frames(0, "session.end") == [{"type": "session.end"}]
    assert conn.closed
    assert "token=sk_wh_seam" in conn.url
    assert len(fake_stream.connections) == 1


async def test_stream_session_reconnects_when_the_iteration_ends(fake_stream: FakeDaguito) -> None:
    session = WebhookStreamSession(stream_options(max_reconnect_delay=0.2))
    async with session:
        assert await session.collect_text(text_message("one")) == "you said one "
        fake_stream.connections[0].drop()  # no close frame: 1006, recoverable
        await asyncio.wait_for(until(lambda: session.connections == 2 and session.is_open), 10)
        assert await session.collect_text(text_message("two")) == "you said two "
    assert len(fake_stream.connections) == 2 and session.connections == 2
    keys = [fake_stream.frames(i, "session.start")[0]["session_key"] for i in (0, 1)]
    assert keys == [session.session_key, session.session_key]
    assert [f["message"]["text"] for f in fake_stream.frames(1, "message")] == ["two"]


async def test_stream_drop_without_auto_reconnect_is_reported_as_1006(
    fake_stream: FakeDaguito,
) -> None:
    session = WebhookStreamSession(stream_options(auto_reconnect=False))
    await session.connect()
    events = session.events()
    fake_stream.connections[0].drop()
    seen = [item async for item in events]
    assert seen[-1] == ("closed", ClosedEvent(code=1006, reason=""))
    assert len(fake_stream.connections) == 1
    await session.close()


async def test_a_connect_that_takes_only_the_official_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # relaywire's own options (max_size, open_timeout...) are only passed to a connect that
    # accepts them, so a narrowly written stand-in keeps working.
    server = FakeDaguito()

    async def narrow_connect(uri: str, additional_headers: Any = None) -> MinimalConnection:
        return await server.connect(uri, additional_headers=additional_headers)

    monkeypatch.setattr(stream_module, "connect", narrow_connect)
    async with WebhookStreamSession(stream_options()) as session:
        assert await session.collect_text(text_message("narrow")) == "you said narrow "
    assert list(server.connect_kwargs[0]) == ["additional_headers"]
    assert server.connect_kwargs[0]["additional_headers"]["X-Daguito-Client-Lang"] == "python"


# --- the audio session --------------------------------------------------------------------------


class FakeAudio:
    def __init__(self) -> None:
        self.connections: list[MinimalConnection] = []

    async def connect(self, url: str, **kwargs: Any) -> MinimalConnection:
        conn = MinimalConnection(url, lambda conn, message: None)
        self.connections.append(conn)
        conn.push({"type": "ready", "session_key": "srv", "codec": "pcm16", "guards": {}})
        return conn


@pytest.fixture
def fake_audio(monkeypatch: pytest.MonkeyPatch) -> FakeAudio:
    server = FakeAudio()
    monkeypatch.setattr(audio_module, "connect", server.connect)
    return server


def audio_options(**kw: Any) -> AudioStreamOptions:
    return AudioStreamOptions(
        api_url="https://daguito.invalid",
        token="sk_wh_seam",
        session_id="py_audio1",
        sample_rate=16000,
        **kw,
    )


async def test_audio_session_runs_on_a_minimal_connection(fake_audio: FakeAudio) -> None:
    async with AudioStreamSession(audio_options()) as session:
        assert session.ready is not None and session.ready.session_key == "srv"
        await session.send_audio(b"\x00\x01" * 160)
        await session.pause()
        await session.resume()
    conn = fake_audio.connections[0]
    assert conn.sent == [b"\x00\x01" * 160, "pause", "resume"]
    assert conn.closed
    assert "/v1/audio/py_audio1?" in conn.url


async def test_audio_session_reconnects_when_the_iteration_ends(fake_audio: FakeAudio) -> None:
    async with AudioStreamSession(audio_options(max_reconnect_delay=0.2)) as session:
        await session.send_audio(b"a" * 320)
        fake_audio.connections[0].drop()
        await asyncio.wait_for(until(lambda: session.reconnects == 1), 10)
        await session.send_audio(b"b" * 320)
        assert session.connected
    first, second = fake_audio.connections
    assert first.sent == [b"a" * 320]
    assert second.sent == [b"b" * 320]
    assert first.url == second.url  # the same session id on the new connection


async def test_audio_connection_that_ends_before_ready_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def silent_connect(url: str, **kwargs: Any) -> MinimalConnection:
        conn = MinimalConnection(url, lambda conn, message: None)
        conn.drop()
        return conn

    monkeypatch.setattr(audio_module, "connect", silent_connect)
    session = AudioStreamSession(audio_options())
    with pytest.raises(
        audio_module.AudioStreamError, match=r"before the ready frame \(code 1006\)"
    ):
        await session.connect()
    await session.close()
