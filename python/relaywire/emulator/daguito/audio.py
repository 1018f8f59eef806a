"""The Daguito audio upstream: WS ``/v1/audio/{session_id}`` (spec/daguito.md 2.13).

* Query: ``token`` (a webhook's ``sk_wh_`` token, an account key, or a live ``dst_`` stream
  token), ``codec`` (one of :data:`SUPPORTED_CODECS`, required), ``sr`` (the sample rate: a
  positive integer, required for ``pcm16``, checked when given for the others), and ``ack=1``
  to get an ``ack`` frame per accepted frame (off by default, as the official clients ignore
  it).
* A rejection before ``ready`` (bad token, codec or sample rate) is an ``error`` frame followed
  by a close with **1008** (policy violation), the message also being the close reason: the
  official client reports it as "server rejected audio session: <message>".
* ``ready``: ``{"type":"ready","session_key":<session_id>,"codec":...,"sample_rate":...,
  "guards":{"max_frame_bytes":...,"supported_codecs":[...]}}``.
* After ready: binary frames up to ``max_audio_frame`` bytes are audio; a larger one gets a soft
  ``error`` (the stream goes on). Text frames: plain ``pause`` / ``resume``, and the JSON
  fallbacks ``{"type":"audio","data_b64":...}`` and ``{"type":"end"}``. Anything else gets a
  soft ``error``. The server never sends binary.
* ``ack`` (with ``ack=1``): ``{"type":"ack","frames":<accepted frames>,"bytes":<accepted
  bytes>}`` after each accepted audio, ``pause``, ``resume`` or ``end`` frame.

Per-session statistics live in :class:`AudioSessions`, kept as ``ctx.daguito_audio``, so tests
(and the event stream) can read what arrived.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from relaywire.emulator._http import now_iso

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = ["REJECT_CODE", "SUPPORTED_CODECS", "AudioSession", "AudioSessions", "routes"]

SUPPORTED_CODECS = frozenset({"pcm16", "opus", "webm-opus", "mulaw", "flac"})
REJECT_CODE = 1008


@dataclass
class AudioSession:
    """What one audio session id has received, over all its connections."""

    session_id: str
    codec: str
    sample_rate: int | None
    connections: int = 0
    connected: bool = False
    frames: int = 0
    bytes: int = 0
    oversized_frames: int = 0
    paused: bool = False
    pauses: int = 0
    resumes: int = 0
    ended: bool = False
    errors: list[str] = field(default_factory=list)
    # The raw audio, in order (tests compare it with what they sent).
    data: bytearray = field(default_factory=bytearray)
    started_at: str = field(default_factory=now_iso)


class AudioSessions:
    """Every audio session of one emulator, by session id."""

    def __init__(self) -> None:
        self.sessions: dict[str, AudioSession] = {}

    def get(self, session_id: str) -> AudioSession | None:
        return self.sessions.get(session_id)

    def open(self, session_id: str, codec: str, sample_rate: int | None) -> AudioSession:
        session = self.sessions.get(session_id)
        if session is None:
            session = self.sessions[session_id] = AudioSession(session_id, codec, sample_rate)
        else:  # a reconnect may change the format; the counters go on
            session.codec, session.sample_rate = codec, sample_rate
        session.connections += 1
        session.connected = True
        session.ended = False
        return session


def _token_ok(ctx: EmulatorContext, token: str) -> bool:
    state = ctx.daguito
    if state.webhook_for_token(token) is not None or state.account_key(token) is not None:
        return True
    minted = state.stream_tokens.get(token)
    return minted is not None and state.webhook_accepts(minted.webhook_id, token)


def _check(ctx: EmulatorContext, websocket: WebSocket) -> tuple[str, int | None] | str:
    """(codec, sample rate) or the rejection message."""
    query = websocket.query_params
    token = query.get("token") or ""
    if not token:
        return "missing token"
    if not _token_ok(ctx, token):
        return "invalid token"
    codec = query.get("codec")
    if not codec:
        return f"codec is required (one of {', '.join(sorted(SUPPORTED_CODECS))})"
    if codec not in SUPPORTED_CODECS:
        return f"unsupported codec {codec!r} (one of {', '.join(sorted(SUPPORTED_CODECS))})"
    raw_rate = query.get("sr")
    if raw_rate is None or raw_rate == "":
        if codec == "pcm16":
            return "sr (the sample rate) is required for pcm16"
        return codec, None
    try:
        rate = int(raw_rate)
    except ValueError:
        rate = 0
    if rate <= 0:
        return f"sr must be a positive integer, got {raw_rate!r}"
    return codec, rate


class _AudioEndpoint:
    def __init__(self, ctx: EmulatorContext, sessions: AudioSessions) -> None:
        self.ctx = ctx
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        session_id = str(websocket.path_params["session_id"])
        await websocket.accept()
        checked = _check(self.ctx, websocket)
        if isinstance(checked, str):
            await websocket.send_text(_error(checked))
            await websocket.close(REJECT_CODE, checked[:120])
            return
        codec, rate = checked
        acks = websocket.query_params.get("ack") in ("1", "true")
        max_frame = self.ctx.config.max_audio_frame
        session = self.sessions.open(session_id, codec, rate)
        await websocket.send_text(
            orjson.dumps(
                {
                    "type": "ready",
                    "session_key": session_id,
                    "codec": codec,
                    "sample_rate": rate,
                    "guards": {
                        "max_frame_bytes": max_frame,
                        "supported_codecs": sorted(SUPPORTED_CODECS),
                    },
                }
            ).decode()
        )
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is not None:
                    problem = self._audio(session, data, max_frame)
                else:
                    problem = self._text(session, message.get("text") or "", max_frame)
                if problem is not None:
                    session.errors.append(problem)
                    await websocket.send_text(_error(problem))
                elif acks:
                    await websocket.send_text(
                        orjson.dumps(
                            {"type": "ack", "frames": session.frames, "bytes": session.bytes}
                        ).decode()
                    )
        except WebSocketDisconnect:
            pass
        finally:
            session.connected = False

    @staticmethod
    def _audio(session: AudioSession, data: bytes, max_frame: int) -> str | None:
        if len(data) > max_frame:
            session.oversized_frames += 1
            return f"audio frame too large: {len(data)} bytes (the limit is {max_frame})"
        session.frames += 1
        session.bytes += len(data)
        session.data += data
        return None

    def _text(self, session: AudioSession, text: str, max_frame: int) -> str | None:
        if text == "pause":
            session.paused = True
            session.pauses += 1
            return None
        if text == "resume":
            session.paused = False
            session.resumes += 1
            return None
        try:
            frame: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            return f"unknown control frame {text[:40]!r}"
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "end":
            session.ended = True
            return None
        if kind == "audio":
            encoded = frame.get("data_b64")
            if not isinstance(encoded, str):
                return "audio frame without data_b64"
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                return "audio frame data_b64 is not valid base64"
            return self._audio(session, data, max_frame)
        return f"unknown control frame {text[:40]!r}"


def _error(message: str) -> str:
    return orjson.dumps({"type": "error", "message": message}).decode()


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    """The audio route; its per-session statistics are kept as ``ctx.daguito_audio``."""
    sessions = AudioSessions()
    ctx.daguito_audio = sessions
    return [WebSocketRoute("/v1/audio/{session_id}", _AudioEndpoint(ctx, sessions))]
