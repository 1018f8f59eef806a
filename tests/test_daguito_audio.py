"""``daguito.audio_stream_session``: the audio upstream against the emulator on real sockets,
and against small scripted WebSocket servers for behaviours the emulator's audio endpoint
cannot produce (a refusal at the upgrade, closing right after ``ready``, never sending it)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
import websockets
import websockets.asyncio.client
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import Request, Response, ServerConnection, serve

import daguito.audio_stream_session as audio_module
import daguito.errors
from daguito.audio_stream_session import (
    SUPPORTED_CODECS,
    AudioStreamError,
    AudioStreamOptions,
    AudioStreamReady,
    AudioStreamSession,
)
from daguito.errors import (
    DaguitoConnectionError,
    DaguitoTimeoutError,
    InvalidTokenError,
    RateLimitError,
    StreamError,
)
from relaywire.emulator import Emulator

SURFACE = json.loads((Path(__file__).parent / "data" / "daguito_0_4_5_surface.json").read_text())[
    "daguito.audio_stream_session"
]["names"]

CHUNK = b"\x01\x02" * 1600  # 100 ms of 16 kHz mono PCM16
REAL_CONNECT = websockets.asyncio.client.connect


def options(url: str, token: str = "sk_wh_demo", **fields: Any) -> AudioStreamOptions:
    base: dict[str, Any] = {"session_id": "py_test", "sample_rate": 16000}
    base.update(fields)
    return AudioStreamOptions(url, token, **base)


def stats(emu: Emulator, session_id: str = "py_test") -> Any:
    return emu.call(lambda: emu.context.daguito_audio.get(session_id))  # type: ignore[attr-defined]


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition that another task or thread makes true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class RecordingConnect:
    """Stands in for the module's ``connect``: records calls, keeps the sockets, and can hold
    reconnects (calls after the first) until ``gate`` is set, or fail the next calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sockets: list[ClientConnection] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures: list[BaseException] = []

    async def __call__(self, url: str, **kwargs: Any) -> ClientConnection:
        self.calls.append((url, kwargs))
        if len(self.calls) > 1:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        ws = await REAL_CONNECT(url, **kwargs)
        self.sockets.append(ws)
        return ws


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> RecordingConnect:
    fake = RecordingConnect()
    monkeypatch.setattr(audio_module, "connect", fake)
    return fake


# -- a scripted audio server -------------------------------------------------------------------

Script = Callable[[int, ServerConnection], Awaitable[None]]


class Scripted:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.received: dict[int, list[bytes | str]] = {}
        self.paths: list[str] = []
        self.url = ""

    async def handle(self, ws: ServerConnection) -> None:
        index = self.connections
        self.connections += 1
        self.received[index] = []
        await self.script(index, ws)

    async def collect(self, index: int, ws: ServerConnection) -> None:
        async for message in ws:
            self.received[index].append(message)


async def send_ready(ws: ServerConnection, key: str = "k", **guards: Any) -> None:
    frame = {"type": "ready", "session_key": key, "codec": "pcm16", "guards": guards}
    await ws.send(orjson.dumps(frame).decode())


@asynccontextmanager
async def scripted(script: Script, *, refuse: int | None = None) -> AsyncIterator[Scripted]:
    server = Scripted(script)

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        server.paths.append(request.path)
        if refuse is not None:
            return connection.respond(HTTPStatus(refuse), "refused by the test server\n")
        return None

    async with serve(server.handle, "127.0.0.1", 0, process_request=process_request) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        server.url = f"http://127.0.0.1:{port}"
        yield server


# -- surface ---------------------------------------------------------------------------------


def test_dataclass_fields_match_daguito_sdk_and_additions_come_last() -> None:
    def fields(cls: type) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                out.append((f.name, repr(f.default)))
            elif f.default_factory is not dataclasses.MISSING:
                out.append((f.name, f"factory:{f.default_factory()!r}"))
            else:
                out.append((f.name, None))
        return out

    official = [tuple(p) for p in SURFACE["AudioStreamOptions"]["fields"]]
    assert fields(AudioStreamOptions) == [
        *official,
        ("reconnect_buffer_bytes", repr(1024 * 1024)),
        ("max_reconnect_delay", "30.0"),
        ("proxy", "True"),
    ]
    assert fields(AudioStreamReady) == [tuple(p) for p in SURFACE["AudioStreamReady"]["fields"]]


def test_module_globals() -> None:
    assert audio_module.connect is websockets.asyncio.client.connect
    assert audio_module.websockets is websockets
    assert isinstance(audio_module.log, logging.Logger)
    assert sorted(SUPPORTED_CODECS) == ["flac", "mulaw", "opus", "pcm16", "webm-opus"]
    assert AudioStreamError is daguito.errors.AudioStreamError
    assert issubclass(AudioStreamError, StreamError)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"codec": "mp3"}, ValueError, "unsupported codec"),
        ({"sample_rate": None}, ValueError, "sample_rate is required"),
        ({"sample_rate": 0}, ValueError, "sample_rate must be"),
        ({"sample_rate": 16000.0}, ValueError, "sample_rate must be"),
        ({"token": ""}, ValueError, "token"),
        ({"ready_timeout_s": 0}, ValueError, "ready_timeout_s"),
        ({"ready_timeout_s": "1"}, TypeError, "ready_timeout_s"),
        ({"reconnect_buffer_bytes": -1}, ValueError, "reconnect_buffer_bytes"),
        ({"max_reconnect_delay": 0}, ValueError, "max_reconnect_delay"),
    ],
)
def test_constructor_validates(
    fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        AudioStreamSession(options("http://127.0.0.1:1", **fields))


def test_container_codecs_need_no_sample_rate_and_ids_are_generated() -> None:
    session = AudioStreamSession(AudioStreamOptions("http://x", "t", codec="opus"))
    assert session.session_id.startswith("py_") and len(session.session_id) == 19
    assert session.ready is None and not session.connected


# -- happy paths -----------------------------------------------------------------------------


async def test_stream_audio_to_the_emulator(emu: Emulator) -> None:
    async with AudioStreamSession(options(emu.url)) as session:
        assert session.connected
        assert session.ready == AudioStreamReady(
            "py_test",
            "pcm16",
            {"max_frame_bytes": 256 * 1024, "supported_codecs": sorted(SUPPORTED_CODECS)},
        )
        await session.send_audio(CHUNK)
        await session.send_audio(bytearray(b"ab"))
        await session.send_audio(memoryview(b"--cd--")[2:4])
    assert session.closed and not session.connected
    info = stats(emu)
    assert (info.frames, bytes(info.data), info.connections) == (3, CHUNK + b"abcd", 1)
    assert info.connected is False


async def test_connect_url_and_options(emu: Emulator, recording: RecordingConnect) -> None:
    session = AudioStreamSession(options(emu.url + "/", session_id="py room 1"))
    await session.connect()
    await session.connect()  # a no-op while connected
    await session.close()
    ((url, kwargs),) = recording.calls
    parts = urlsplit(url)
    assert (parts.scheme, parts.path) == ("ws", "/v1/audio/py%20room%201")
    assert [name for name, _ in parse_qsl(parts.query)] == [
        "token",
        "codec",
        "sr",
        "x_daguito_client_lang",
        "x_daguito_client_version",
    ]
    assert dict(parse_qsl(parts.query))["sr"] == "16000"
    assert kwargs["max_size"] == 4 * 1024 * 1024
    assert (kwargs["ping_interval"], kwargs["ping_timeout"]) == (20.0, 15.0)
    assert kwargs["additional_headers"]["X-Daguito-Client-Lang"] == "python"


async def test_session_id_is_percent_encoded(emu: Emulator) -> None:
    # daguito-sdk put the session id in the path as is (as with B14 for webhook ids).
    async with AudioStreamSession(options(emu.url, session_id="py room 1")) as session:
        await session.send_audio(b"x")
    assert stats(emu, "py room 1").frames == 1

    async def script(index: int, ws: ServerConnection) -> None:
        await send_ready(ws)
        await server.collect(index, ws)

    async with (
        scripted(script) as server,
        AudioStreamSession(options(server.url, session_id="a/b?c")),
    ):
        pass
    assert server.paths[0].startswith("/v1/audio/a%2Fb%3Fc?token=sk_wh_demo&codec=pcm16&sr=16000&")


async def test_other_codecs_and_tokens(emu: Emulator) -> None:
    opts = AudioStreamOptions(emu.url, "dgsk_acc_demo", session_id="py_opus", codec="opus")
    async with AudioStreamSession(opts) as session:
        assert session.ready is not None and session.ready.codec == "opus"
        await session.send_audio(b"OggS")
    assert stats(emu, "py_opus").sample_rate is None


async def test_pause_and_resume(emu: Emulator) -> None:
    async with AudioStreamSession(options(emu.url)) as session:
        await session.pause()
        assert session.paused
        await session.resume()
        assert not session.paused
        await session.send_audio(CHUNK)
    info = stats(emu)
    assert (info.pauses, info.resumes, info.paused, info.frames) == (1, 1, False, 1)


# -- chunk checks (bug A1) ---------------------------------------------------------------------


async def test_oversized_and_empty_chunks_are_refused_before_sending(emu: Emulator) -> None:
    # Bug A1: daguito-sdk sent frames over the server's 256 KiB cap (which then errored).
    async with AudioStreamSession(options(emu.url)) as session:
        with pytest.raises(AudioStreamError, match="over the 262144-byte frame limit"):
            await session.send_audio(bytes(256 * 1024 + 1))
        with pytest.raises(AudioStreamError, match="empty"):
            await session.send_audio(b"")
        with pytest.raises(TypeError):
            await session.send_audio("text")  # type: ignore[arg-type]
        await session.send_audio(bytes(256 * 1024))
        assert session.connected
    info = stats(emu)
    assert (info.frames, info.oversized_frames, info.errors) == (1, 0, [])


async def test_frame_limit_follows_the_ready_guard() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        await send_ready(ws, max_frame_bytes=10)
        await server.collect(index, ws)

    async with scripted(script) as server:
        async with AudioStreamSession(options(server.url)) as session:
            await session.send_audio(bytes(10))
            with pytest.raises(AudioStreamError, match="over the 10-byte"):
                await session.send_audio(bytes(11))
        await until(lambda: len(server.received[0]) == 1)


# -- connect failures (bug A3) -----------------------------------------------------------------


async def test_rejected_token_is_invalid_token(emu: Emulator) -> None:
    session = AudioStreamSession(options(emu.url, token="sk_wh_nope"))
    with pytest.raises(AudioStreamError) as caught:
        await session.connect()
    assert isinstance(caught.value, InvalidTokenError)
    assert str(caught.value) == "server rejected audio session: invalid token"
    assert not session.connected


async def test_other_rejections_are_not_invalid_token() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        await ws.send(
            orjson.dumps({"type": "error", "message": "concurrency cap reached"}).decode()
        )
        await ws.close(1008, "concurrency cap reached")

    async with scripted(script) as server:
        with pytest.raises(AudioStreamError, match="concurrency cap") as caught:
            await AudioStreamSession(options(server.url)).connect()
    assert not isinstance(caught.value, InvalidTokenError)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, InvalidTokenError), (403, InvalidTokenError), (429, RateLimitError), (503, None)],
)
async def test_refusal_at_the_upgrade(status: int, kind: type[Exception] | None) -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        raise AssertionError("never upgraded")

    async with scripted(script, refuse=status) as server:
        with pytest.raises(AudioStreamError) as caught:
            await AudioStreamSession(options(server.url)).connect()
    assert caught.value.status == status
    assert str(caught.value).startswith(f"failed to connect: HTTP {status}")
    if kind is not None:
        assert isinstance(caught.value, kind)
    else:
        assert not isinstance(caught.value, InvalidTokenError)


async def test_refused_connection_is_a_connection_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(AudioStreamError, match="failed to connect") as caught:
        await AudioStreamSession(options(f"http://127.0.0.1:{port}")).connect()
    assert isinstance(caught.value, DaguitoConnectionError)


async def test_connect_can_be_retried_after_a_failure(
    emu: Emulator, recording: RecordingConnect
) -> None:
    # Bug A3: after a failed connect(), daguito-sdk's session was closed for good and later
    # connect() calls silently returned.
    recording.failures.append(OSError("network is unreachable"))
    session = AudioStreamSession(options(emu.url))
    with pytest.raises(AudioStreamError, match="network is unreachable"):
        await session.connect()
    await session.connect()
    assert session.connected
    await session.send_audio(CHUNK)
    await session.close()
    assert stats(emu).frames == 1


async def test_connect_errors_never_quote_the_token(recording: RecordingConnect) -> None:
    recording.failures.append(OSError("cannot reach ws://h/v1/audio/x?token=sk_wh_secret"))
    session = AudioStreamSession(options("http://127.0.0.1:1", "sk_wh_secret"))
    with pytest.raises(AudioStreamError) as caught:
        await session.connect()
    assert "sk_wh_secret" not in str(caught.value)
    assert "ws://h/v1/audio/x?token=sk_wh_…" in str(caught.value)


async def test_ready_timeout_then_a_second_connect_works() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        if index == 0:
            await ws.wait_closed()  # never ready
            return
        await send_ready(ws, "second")
        await server.collect(index, ws)

    async with scripted(script) as server:
        session = AudioStreamSession(options(server.url, ready_timeout_s=0.3))
        with pytest.raises(AudioStreamError, match="timed out waiting for ready") as caught:
            await session.connect()
        assert isinstance(caught.value, DaguitoTimeoutError)
        await session.connect()
        assert session.ready is not None and session.ready.session_key == "second"
        await session.close()


async def test_close_before_ready_is_a_connection_error() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        await ws.close(1011, "internal error")

    async with scripted(script) as server:
        with pytest.raises(AudioStreamError, match="closed before the ready frame") as caught:
            await AudioStreamSession(options(server.url)).connect()
    assert isinstance(caught.value, DaguitoConnectionError)


async def test_closed_session_refuses_everything(emu: Emulator) -> None:
    # Bug A3 / B11-like: daguito-sdk's connect() silently returned on a closed session.
    session = AudioStreamSession(options(emu.url))
    await session.connect()
    await session.close()
    await session.close()  # idempotent
    for call in (session.connect, session.pause, session.resume, lambda: session.send_audio(b"x")):
        with pytest.raises(AudioStreamError, match="session is closed"):
            await call()


async def test_send_before_connect_is_an_error() -> None:
    session = AudioStreamSession(options("http://127.0.0.1:1"))
    with pytest.raises(AudioStreamError, match="not connected"):
        await session.send_audio(CHUNK)
    with pytest.raises(AudioStreamError, match="not connected"):
        await session.pause()


async def test_close_while_connecting_ends_the_connect() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with scripted(script) as server:
        session = AudioStreamSession(options(server.url, ready_timeout_s=30))
        connecting = asyncio.ensure_future(session.connect())
        await until(lambda: server.connections == 1)
        await session.close()
        with pytest.raises(AudioStreamError, match="closed"):
            await connecting


# -- reconnects (bug A2, no storm, buffered gap) ----------------------------------------------


async def test_reconnect_delivers_the_audio_sent_during_the_gap(
    emu: Emulator, recording: RecordingConnect
) -> None:
    async with AudioStreamSession(options(emu.url)) as session:
        await session.send_audio(b"A")
        await until(lambda: stats(emu).frames == 1)
        recording.gate.clear()  # hold the reconnect
        recording.sockets[0].transport.abort()  # the network drops
        await until(lambda: not session.connected)
        await session.send_audio(b"B")
        await session.pause()
        await session.send_audio(b"C")
        assert session.buffered_bytes == 2
        recording.gate.set()
        await until(lambda: session.connected)
        assert session.reconnects == 1
        await session.send_audio(b"D")
        await until(lambda: stats(emu).frames == 4)
    info = stats(emu)
    assert (bytes(info.data), info.connections, info.pauses) == (b"ABCD", 2, 1)
    assert (session.dropped_chunks, session.dropped_bytes) == (0, 0)


async def test_gap_buffer_is_bounded_and_drops_are_counted(
    emu: Emulator, recording: RecordingConnect
) -> None:
    async with AudioStreamSession(options(emu.url, reconnect_buffer_bytes=5)) as session:
        recording.gate.clear()
        recording.sockets[0].transport.abort()
        await until(lambda: not session.connected)
        for chunk in (b"111", b"22", b"3", b"44"):
            await session.send_audio(chunk)
        # "3" pushed the oldest chunk out; "44" fits with the rest (5 bytes).
        assert (session.dropped_chunks, session.dropped_bytes, session.buffered_bytes) == (1, 3, 5)
        recording.gate.set()
        await until(lambda: session.connected)
        await until(lambda: stats(emu).frames == 3)
    assert bytes(stats(emu).data) == b"22344"


async def test_no_buffer_drops_everything_during_the_gap(
    emu: Emulator, recording: RecordingConnect
) -> None:
    async with AudioStreamSession(options(emu.url, reconnect_buffer_bytes=0)) as session:
        recording.gate.clear()
        recording.sockets[0].transport.abort()
        await until(lambda: not session.connected)
        await session.send_audio(b"lost")
        assert (session.dropped_chunks, session.dropped_bytes) == (1, 4)
        recording.gate.set()
        await until(lambda: session.connected)


async def test_close_during_the_gap_drops_and_counts_the_buffer(
    emu: Emulator, recording: RecordingConnect
) -> None:
    session = AudioStreamSession(options(emu.url))
    await session.connect()
    recording.gate.clear()
    recording.sockets[0].transport.abort()
    await until(lambda: not session.connected)
    await session.send_audio(b"pending")
    await session.close()  # cancels the held reconnect
    assert (session.dropped_chunks, session.buffered_bytes) == (1, 0)
    recording.gate.set()


async def test_reconnect_counts_only_once_ready_arrives() -> None:
    # Bug A2: daguito-sdk counted a connection that closed before `ready` as reconnected (and
    # kept the stale ready). Here connection 1 is dropped by the server, connection 2 closes
    # before ready, connection 3 is ready: only 3 counts, its ready replaces the first one, and
    # the audio sent meanwhile goes to connection 3.
    async def script(index: int, ws: ServerConnection) -> None:
        if index == 0:
            await send_ready(ws, "first", max_frame_bytes=1000)
            await ws.close(1012, "restarting")
        elif index == 1:
            await ws.close(1013, "try again later")
        else:
            await send_ready(ws, "third", max_frame_bytes=2000)
            await server.collect(index, ws)

    async with scripted(script) as server:
        async with AudioStreamSession(options(server.url)) as session:
            assert session.ready is not None and session.ready.session_key == "first"
            await until(lambda: server.connections >= 1 and not session.connected)
            await session.send_audio(b"gap audio")
            await until(lambda: session.connected)
            assert (session.reconnects, server.connections) == (1, 3)
            assert session.ready == AudioStreamReady("third", "pcm16", {"max_frame_bytes": 2000})
            await session.send_audio(bytes(1500))  # over the first limit, within the new one
            await until(lambda: len(server.received[2]) == 2)
        assert server.received[1] == []
        assert server.received[2] == [b"gap audio", bytes(1500)]


async def test_accept_then_close_cannot_cause_a_storm() -> None:
    # Bug B1 (in the audio client): a server that accepts, says ready and closes at once must
    # meet the growing backoff, not a tight reconnect loop (daguito-sdk: ~1000/s on loopback).
    async def script(index: int, ws: ServerConnection) -> None:
        await send_ready(ws)
        await ws.close(1012, "draining")

    async with scripted(script) as server, AudioStreamSession(options(server.url)) as session:
        await asyncio.sleep(1.5)
        # First retry immediate, then ~1 s (±20 %), then ~2 s.
        assert 2 <= server.connections <= 4
        assert server.connections - 2 <= session.reconnects <= server.connections - 1


async def test_refused_token_while_reconnecting_ends_the_session() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        if index == 0:
            await send_ready(ws)
            await ws.close(1012, "restarting")
            return
        await ws.send(orjson.dumps({"type": "error", "message": "token revoked"}).decode())
        await ws.close(1008, "token revoked")

    async with scripted(script) as server:
        session = AudioStreamSession(options(server.url))
        await session.connect()
        await until(lambda: server.connections == 2)

        async def send_fails() -> bool:
            try:
                await session.send_audio(b"x")
            except InvalidTokenError:
                return True
            return False

        buffered = 0
        deadline = asyncio.get_running_loop().time() + 10
        while not await send_fails():
            buffered += 1  # sent during the gap: buffered, then dropped with the session
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        with pytest.raises(AudioStreamError, match="token revoked"):
            await session.send_audio(b"x")
        assert session.dropped_chunks == buffered
        assert not session.connected
        await session.close()
        assert server.connections == 2


async def test_final_close_code_is_not_reconnected_and_connect_works_again() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        await send_ready(ws, f"c{index}")
        if index == 0:
            await ws.close(1000, "session over")
        else:
            await server.collect(index, ws)

    async with scripted(script) as server:
        session = AudioStreamSession(options(server.url))
        await session.connect()
        await until(lambda: not session.connected)
        with pytest.raises(
            AudioStreamError, match=r"closed by the server \(code 1000: session over\)"
        ) as caught:
            await session.send_audio(b"x")
        assert isinstance(caught.value, DaguitoConnectionError)
        assert server.connections == 1
        await session.connect()
        assert session.ready is not None and session.ready.session_key == "c1"
        await session.send_audio(b"y")
        await until(lambda: server.received[1] == [b"y"])
        await session.close()


async def test_without_auto_reconnect_a_drop_is_reported(
    emu: Emulator, recording: RecordingConnect
) -> None:
    session = AudioStreamSession(options(emu.url, auto_reconnect=False))
    await session.connect()
    recording.sockets[0].transport.abort()
    await until(lambda: not session.connected)
    with pytest.raises(AudioStreamError, match="connection closed") as caught:
        await session.send_audio(b"x")
    assert isinstance(caught.value, DaguitoConnectionError)
    assert len(recording.calls) == 1  # no reconnect
    await session.connect()  # a new connection on demand
    await session.send_audio(b"y")
    await session.close()
    assert (stats(emu).connections, bytes(stats(emu).data)) == (2, b"y")


async def test_soft_server_errors_are_kept_and_the_stream_goes_on() -> None:
    async def script(index: int, ws: ServerConnection) -> None:
        await send_ready(ws)
        async for message in ws:
            server.received[index].append(message)
            await ws.send(orjson.dumps({"type": "error", "message": "bad frame"}).decode())
            await ws.send(orjson.dumps({"type": "ack", "frames": 1}).decode())
            await ws.send("not json")

    async with scripted(script) as server, AudioStreamSession(options(server.url)) as session:
        await session.send_audio(b"x")
        await until(lambda: session.last_server_error == "bad frame")
        await session.send_audio(b"y")
        assert session.connected
        await until(lambda: len(server.received[0]) == 2)
