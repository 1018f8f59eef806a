"""The emulator's Daguito audio upstream (``/v1/audio/{session_id}``), over real sockets."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from relaywire.emulator import Emulator

TIMEOUT = 10.0


def audio_url(emu: Emulator, session_id: str = "py_audio", **query: str | None) -> str:
    params = {"token": "sk_wh_demo", "codec": "pcm16", "sr": "16000", **query}
    encoded = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    return f"{emu.ws_url}/v1/audio/{session_id}?{encoded}"


async def recv(ws: ClientConnection) -> dict[str, Any]:
    frame = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert isinstance(frame, dict)
    return frame


@asynccontextmanager
async def audio(
    emu: Emulator, session_id: str = "py_audio", **query: str | None
) -> AsyncIterator[ClientConnection]:
    async with connect(audio_url(emu, session_id, **query)) as ws:
        ready = await recv(ws)
        assert ready["type"] == "ready"
        yield ws


def stats(emu: Emulator, session_id: str = "py_audio") -> Any:
    return emu.call(lambda: emu.context.daguito_audio.get(session_id))  # type: ignore[attr-defined]


async def test_ready_frame(emu: Emulator) -> None:
    async with connect(audio_url(emu, "py_ready")) as ws:
        ready = await recv(ws)
    assert ready == {
        "type": "ready",
        "session_key": "py_ready",
        "codec": "pcm16",
        "sample_rate": 16000,
        "guards": {
            "max_frame_bytes": 256 * 1024,
            "supported_codecs": ["flac", "mulaw", "opus", "pcm16", "webm-opus"],
        },
    }


@pytest.mark.parametrize("token", ["sk_wh_demo", "dgsk_acc_demo"])
async def test_seeded_credentials_are_accepted(emu: Emulator, token: str) -> None:
    async with audio(emu, token=token, ack="1") as ws:
        await ws.send(b"\x00\x01" * 100)
        assert await recv(ws) == {"type": "ack", "frames": 1, "bytes": 200}


@pytest.mark.parametrize("codec", ["opus", "webm-opus", "mulaw", "flac"])
async def test_other_codecs_need_no_sample_rate(emu: Emulator, codec: str) -> None:
    async with connect(audio_url(emu, codec=codec, sr=None)) as ws:
        ready = await recv(ws)
    assert ready["codec"] == codec
    assert ready["sample_rate"] is None


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"token": "sk_wh_wrong"}, "invalid token"),
        ({"token": "sk_dgt_demo"}, "invalid token"),
        ({"token": None}, "missing token"),
        ({"codec": "mp3"}, "unsupported codec 'mp3' (one of flac, mulaw, opus, pcm16, webm-opus)"),
        ({"codec": None}, "codec is required (one of flac, mulaw, opus, pcm16, webm-opus)"),
        ({"sr": None}, "sr (the sample rate) is required for pcm16"),
        ({"sr": "0"}, "sr must be a positive integer, got '0'"),
        ({"sr": "abc"}, "sr must be a positive integer, got 'abc'"),
        ({"codec": "opus", "sr": "-8000"}, "sr must be a positive integer, got '-8000'"),
    ],
)
async def test_rejections_before_ready(emu: Emulator, query: dict[str, Any], error: str) -> None:
    async with connect(audio_url(emu, "py_rejected", **query)) as ws:
        assert await recv(ws) == {"type": "error", "message": error}
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1008
    assert info.value.rcvd.reason == error
    assert stats(emu, "py_rejected") is None


async def test_binary_frames_are_counted_and_kept(emu: Emulator) -> None:
    chunks = [bytes([i]) * 3200 for i in range(5)]
    async with audio(emu, "py_bin", ack="1") as ws:
        for index, chunk in enumerate(chunks, 1):
            await ws.send(chunk)
            assert await recv(ws) == {"type": "ack", "frames": index, "bytes": 3200 * index}
    session = stats(emu, "py_bin")
    assert session.frames == 5
    assert session.bytes == 16000
    assert bytes(session.data) == b"".join(chunks)
    assert (session.codec, session.sample_rate) == ("pcm16", 16000)


async def test_without_acks_only_errors_come_back(emu: Emulator) -> None:
    async with audio(emu, "py_quiet") as ws:
        await ws.send(b"a" * 10)
        await ws.send(b"b" * 20)
        await ws.send("bogus")  # the error is the sync point: frames before it were handled
        assert await recv(ws) == {"type": "error", "message": "unknown control frame 'bogus'"}
    session = stats(emu, "py_quiet")
    assert (session.frames, session.bytes) == (2, 30)
    assert session.errors == ["unknown control frame 'bogus'"]


async def test_frame_at_the_limit_passes_and_a_larger_one_is_a_soft_error(emu: Emulator) -> None:
    limit = 256 * 1024
    async with audio(emu, "py_big", ack="1") as ws:
        await ws.send(b"x" * limit)
        assert await recv(ws) == {"type": "ack", "frames": 1, "bytes": limit}
        await ws.send(b"x" * (limit + 1))
        assert await recv(ws) == {
            "type": "error",
            "message": f"audio frame too large: {limit + 1} bytes (the limit is {limit})",
        }
        await ws.send(b"y" * 10)  # the stream goes on
        assert await recv(ws) == {"type": "ack", "frames": 2, "bytes": limit + 10}
    assert stats(emu, "py_big").oversized_frames == 1


async def test_max_audio_frame_is_configurable() -> None:
    with Emulator(max_audio_frame=100) as emu:
        async with connect(audio_url(emu, "py_small")) as ws:
            assert (await recv(ws))["guards"]["max_frame_bytes"] == 100
            await ws.send(b"z" * 101)
            assert (await recv(ws))["type"] == "error"


async def test_pause_resume_and_end(emu: Emulator) -> None:
    async with audio(emu, "py_ctl", ack="1") as ws:
        await ws.send("pause")
        assert (await recv(ws))["type"] == "ack"
        assert stats(emu, "py_ctl").paused is True
        await ws.send("resume")
        assert (await recv(ws))["type"] == "ack"
        await ws.send(orjson.dumps({"type": "end"}).decode())
        assert (await recv(ws))["type"] == "ack"
    session = stats(emu, "py_ctl")
    assert (session.paused, session.pauses, session.resumes, session.ended) == (False, 1, 1, True)


async def test_base64_text_fallback(emu: Emulator) -> None:
    payload = b"\x10\x20" * 50
    frame = {"type": "audio", "data_b64": base64.b64encode(payload).decode()}
    async with audio(emu, "py_b64", ack="1") as ws:
        await ws.send(orjson.dumps(frame).decode())
        assert await recv(ws) == {"type": "ack", "frames": 1, "bytes": 100}
    assert bytes(stats(emu, "py_b64").data) == payload


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"type": "audio", "data_b64": "***"}', "audio frame data_b64 is not valid base64"),
        ('{"type": "audio"}', "audio frame without data_b64"),
        ('{"type": "volume"}', 'unknown control frame \'{"type": "volume"}\''),
        ("[1]", "unknown control frame '[1]'"),
        ("PAUSE", "unknown control frame 'PAUSE'"),
    ],
)
async def test_bad_text_frames_are_soft_errors(emu: Emulator, text: str, error: str) -> None:
    async with audio(emu, "py_soft", ack="1") as ws:
        await ws.send(text)
        assert await recv(ws) == {"type": "error", "message": error}
        await ws.send(b"ok")
        assert await recv(ws) == {"type": "ack", "frames": 1, "bytes": 2}


async def test_oversized_base64_frame_is_a_soft_error() -> None:
    with Emulator(max_audio_frame=10) as emu:
        frame = {"type": "audio", "data_b64": base64.b64encode(b"q" * 11).decode()}
        async with audio(emu, "py_b64big") as ws:
            await ws.send(orjson.dumps(frame).decode())
            assert (await recv(ws))["message"].startswith("audio frame too large: 11 bytes")


async def test_reconnect_keeps_the_session_counters(emu: Emulator) -> None:
    async with audio(emu, "py_again", ack="1") as ws:
        await ws.send(b"1234")
        await recv(ws)
    async with audio(emu, "py_again", ack="1", codec="opus", sr=None) as ws:
        await ws.send(b"56")
        assert await recv(ws) == {"type": "ack", "frames": 2, "bytes": 6}
        assert stats(emu, "py_again").connected is True
    session = stats(emu, "py_again")
    assert (session.connections, session.codec, bytes(session.data)) == (2, "opus", b"123456")
