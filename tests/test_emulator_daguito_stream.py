"""The emulator's Daguito event stream and flow engine, over real sockets.

Plain ``websockets`` clients against ``/v1/webhooks/{id}/stream``: the handshake, every client
and server frame, every flow command, every stream fault. Never imports the client packages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from relaywire.emulator import Emulator
from relaywire.emulator.daguito.flow import OneShotResult, run_once
from relaywire.emulator.daguito.state import StreamToken, Upload

TIMEOUT = 10.0
END_TYPES = ("flow.completed", "flow.failed")


class Client:
    """A thin JSON wrapper around one socket; every receive has a timeout, so nothing hangs."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def recv_raw(self) -> str | bytes:
        return await asyncio.wait_for(self.ws.recv(), TIMEOUT)

    async def recv(self) -> dict[str, Any]:
        frame = orjson.loads(await self.recv_raw())
        assert isinstance(frame, dict)
        return frame

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def start(self, key: str | None) -> dict[str, Any]:
        await self.send({"type": "session.start", "session_key": key})
        return await self.recv()

    async def message(self, text: str | None, base_input: dict[str, Any] | None = None) -> None:
        frame: dict[str, Any] = {"type": "message", "message": {"kind": "text", "text": text}}
        if base_input is not None:
            frame["base_input"] = base_input
        await self.send(frame)

    async def until_end(self) -> list[dict[str, Any]]:
        """Frames up to and including flow.completed / flow.failed."""
        frames = []
        while True:
            frame = await self.recv()
            frames.append(frame)
            if frame["type"] in END_TYPES:
                return frames

    async def until(self, predicate: Any) -> list[dict[str, Any]]:
        frames = []
        while True:
            frame = await self.recv()
            frames.append(frame)
            if predicate(frame):
                return frames

    async def run(
        self, text: str | None, base_input: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        await self.message(text, base_input)
        return await self.until_end()

    async def closed_code(self) -> int | None:
        """Read until the server closes; the close code it sent."""
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await self.recv_raw()
        return info.value.rcvd.code if info.value.rcvd is not None else None


def stream_url(emu: Emulator, webhook_id: str = "wh_demo", token: str | None = "sk_wh_demo") -> str:
    url = f"{emu.ws_url}/v1/webhooks/{webhook_id}/stream"
    return url if token is None else f"{url}?token={token}"


@asynccontextmanager
async def opened(emu: Emulator, token: str = "sk_wh_demo", **kwargs: Any) -> AsyncIterator[Client]:
    async with connect(stream_url(emu, token=token), **kwargs) as ws:
        yield Client(ws)


@asynccontextmanager
async def session(
    emu: Emulator, key: str = "py_test", token: str = "sk_wh_demo", **kwargs: Any
) -> AsyncIterator[Client]:
    async with opened(emu, token, **kwargs) as client:
        assert (await client.recv())["type"] == "ready"
        started = await client.start(key)
        assert started["type"] == "session.started"
        yield client


def tokens_of(frames: list[dict[str, Any]], field: str = "text") -> list[str]:
    return [f["data"][field] for f in frames if f["type"] == "node.token"]


def ending(frames: list[dict[str, Any]]) -> dict[str, Any]:
    assert frames[-1]["type"] in END_TYPES
    return frames[-1]


def stream_hub(emu: Emulator) -> Any:
    return emu.context.daguito_stream  # type: ignore[attr-defined]


def add_upload(emu: Emulator, key: str, data: bytes | None, **fields: Any) -> None:
    upload = Upload(
        key=key,
        webhook_id="wh_demo",
        kind=fields.get("kind", "document"),
        mime_type=fields.get("mime_type", "application/pdf"),
        size_bytes=fields.get("size_bytes", 5),
        filename=fields.get("filename", "report.pdf"),
        expires_at=time.time() + 900,
        data=data,
    )
    emu.call(emu.daguito.uploads.__setitem__, key, upload)


# ---------------------------------------------------------------------------------- handshake


async def test_handshake_sends_ready_then_session_started(emu: Emulator) -> None:
    async with opened(emu) as client:
        assert await client.recv() == {"type": "ready", "webhook_id": "wh_demo"}
        started = await client.start("py_abc")
        assert started["type"] == "session.started"
        assert started["session_key"] == "py_abc"
        assert started["at"].endswith("Z")


@pytest.mark.parametrize("token", ["sk_wh_demo", "dgsk_acc_demo"])
async def test_seeded_credentials_are_accepted(emu: Emulator, token: str) -> None:
    async with session(emu, token=token) as client:
        assert ending(await client.run("hi"))["data"]["output"] == {"content": "echo: hi "}


async def test_bearer_header_is_tolerated(emu: Emulator) -> None:
    headers = {"Authorization": "Bearer sk_wh_demo"}
    async with connect(stream_url(emu, token=None), additional_headers=headers) as ws:
        assert (await Client(ws).recv())["type"] == "ready"


@pytest.mark.parametrize(
    ("webhook_id", "token", "error"),
    [
        ("wh_demo", "sk_wh_wrong", "invalid token"),
        ("wh_demo", "sk_dgt_demo", "invalid token"),  # an org key is not a webhook credential
        ("wh_demo", None, "missing token"),
        ("wh_demo", "", "missing token"),
        ("wh_nope", "sk_wh_demo", "unknown webhook 'wh_nope'"),
    ],
)
async def test_bad_credentials_are_refused_with_401(
    emu: Emulator, webhook_id: str, token: str | None, error: str
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(stream_url(emu, webhook_id, token)):
            pass
    assert info.value.response.status_code == 401
    assert orjson.loads(info.value.response.body) == {"error": error}


async def test_a_token_of_another_webhook_is_refused(emu: Emulator) -> None:
    emu.call(emu.daguito.add_webhook, "wh_other", "sk_wh_other")
    with pytest.raises(InvalidStatus) as info:
        async with connect(stream_url(emu, "wh_demo", "sk_wh_other")):
            pass
    assert info.value.response.status_code == 401
    async with connect(stream_url(emu, "wh_other", "sk_wh_other")) as ws:
        assert await Client(ws).recv() == {"type": "ready", "webhook_id": "wh_other"}


async def test_stream_token_binds_the_session_key(emu: Emulator) -> None:
    minted = StreamToken("dst_test", "wh_demo", "bound_key", "bidi", time.time() + 60)
    emu.call(emu.daguito.stream_tokens.__setitem__, "dst_test", minted)
    async with opened(emu, token="dst_test") as client:
        await client.recv()
        await client.send({"type": "session.start"})
        assert (await client.recv())["session_key"] == "bound_key"
        assert await client.start("other_key") == {
            "type": "error",
            "message": "the stream token is bound to another session_key",
        }


async def test_session_start_without_key_gets_one(emu: Emulator) -> None:
    async with opened(emu) as client:
        await client.recv()
        await client.send({"type": "session.start"})
        started = await client.recv()
        assert started["session_key"].startswith("emu_")
        assert ending(await client.run("x"))["session_key"] == started["session_key"]


async def test_message_before_session_start_is_an_error(emu: Emulator) -> None:
    async with opened(emu) as client:
        await client.recv()
        await client.message("hello")
        assert await client.recv() == {"type": "error", "message": "no active session"}
        await client.send({"type": "session.open"})
        assert await client.recv() == {"type": "error", "message": "no active session"}


async def test_json_ping_gets_pong(emu: Emulator) -> None:
    async with opened(emu) as client:
        await client.recv()
        await client.send({"type": "ping"})
        pong = await client.recv()
        assert pong["type"] == "pong"
        assert pong["at"].endswith("Z")


async def test_protocol_ping_is_answered(emu: Emulator) -> None:
    async with opened(emu) as client:
        await client.recv()
        latency = await asyncio.wait_for(await client.ws.ping(), TIMEOUT)
        assert latency >= 0


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("not json", "invalid frame: not JSON"),
        ("[1, 2]", "invalid frame: not a JSON object"),
        ('"text"', "invalid frame: not a JSON object"),
        ('{"type": "bogus"}', "unknown frame type 'bogus'"),
        ('{"no_type": 1}', "unknown frame type None"),
        (b'{"type": "bogus"}', "unknown frame type 'bogus'"),
        (
            '{"type": "message", "message": "hi"}',
            "invalid message frame: 'message' must be an object",
        ),
        (
            '{"type": "message", "message": {"kind": "text", "text": "a"}, "base_input": [1]}',
            "invalid message frame: 'base_input' must be an object",
        ),
        ('{"type": "session.start", "session_key": 5}', "session_key must be a string"),
        ('{"type": "tool_result", "call_id": "call_x", "ok": true}', None),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_up(
    emu: Emulator, raw: str | bytes, error: str | None
) -> None:
    async with session(emu) as client:
        await client.ws.send(raw)
        reply = await client.recv()
        assert reply["type"] == "error"
        assert reply["message"] == (error or "no tool call 'call_x' is waiting for a result")
        assert ending(await client.run("still up"))["type"] == "flow.completed"


# ----------------------------------------------------------------------------------- commands


async def test_plain_text_echoes_word_by_word(emu: Emulator) -> None:
    async with session(emu, key="py_echo") as client:
        frames = await client.run("hello   brave\nnew world")
    assert [f["type"] for f in frames] == [
        "node.started",
        *["node.token"] * 5,
        "node.completed",
        "flow.completed",
    ]
    assert tokens_of(frames) == ["echo: ", "hello ", "brave ", "new ", "world "]
    content = "echo: hello brave new world "
    assert frames[-2]["data"]["output"] == {"content": content}
    assert frames[-1]["data"]["output"] == {"content": content}
    assert isinstance(frames[-2]["data"]["duration_ms"], int)
    execution_id = frames[0]["data"]["execution_id"]
    assert execution_id.startswith("exec_")
    for frame in frames:
        assert frame["session_key"] == "py_echo"
        assert frame["at"].endswith("Z")
        assert isinstance(frame["data"], dict)
        if frame["type"].startswith("node."):
            assert frame["node_id"] == "agent"
        else:
            assert "node_id" not in frame
        if frame["type"] != "node.token":
            assert frame["data"]["execution_id"] == execution_id


async def test_text_is_escaped_exactly(emu: Emulator) -> None:
    text = 'quote" back\\slash ünï 日本 \u2028 tab\tend'
    async with session(emu) as client:
        frames = await client.run(text)
    expected = ["echo: ", *(f"{word} " for word in text.split())]
    assert tokens_of(frames) == expected
    assert ending(frames)["data"]["output"]["content"] == "".join(expected)


async def test_empty_and_missing_text(emu: Emulator) -> None:
    async with session(emu) as client:
        assert tokens_of(await client.run(" ")) == ["echo: "]
        assert ending(await client.run(None))["data"]["output"] == {"content": "echo: "}


async def test_stream_command_sends_numbered_tokens(emu: Emulator) -> None:
    async with session(emu) as client:
        frames = await client.run("/stream 600")
    tokens = tokens_of(frames)
    assert tokens == [f"t{i} " for i in range(600)]
    assert ending(frames)["data"]["output"] == {"content": "".join(tokens)}


async def test_stream_zero_sends_no_token(emu: Emulator) -> None:
    async with session(emu) as client:
        frames = await client.run("/stream 0")
    assert [f["type"] for f in frames] == ["node.started", "node.completed", "flow.completed"]
    assert ending(frames)["data"]["output"] == {"content": ""}


@pytest.mark.parametrize("arg", ["", "abc", "-1", "1.5", "99999999999"])
async def test_stream_usage_errors_fail_the_flow(emu: Emulator, arg: str) -> None:
    async with session(emu) as client:
        frames = await client.run(f"/stream {arg}")
    assert [f["type"] for f in frames] == ["node.started", "node.failed", "flow.failed"]
    assert frames[-1]["data"]["error"].startswith("usage: /stream N")


@pytest.mark.parametrize("field", ["token", "delta", "content", "text"])
async def test_token_field_is_selectable(emu: Emulator, field: str) -> None:
    async with session(emu) as client:
        frames = await client.run("/stream 3", {"token_field": field})
        words = await client.run("a b", {"token_field": field})
    assert tokens_of(frames, field) == ["t0 ", "t1 ", "t2 "]
    assert tokens_of(words, field) == ["echo: ", "a ", "b "]


WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "client_timeout_ms": 5000,
}


async def test_tool_call_round_trip(emu: Emulator) -> None:
    async with session(emu) as client:
        await client.message('/tool get_weather {"city": "Paris"}', {"client_tools": [WEATHER]})
        frames = await client.until(lambda f: f["type"] == "node.emit")
        call = frames[-1]["data"]
        assert call["kind"] == "agent.tool_call_started"
        assert call["tool_name"] == "get_weather"
        assert call["args"] == {"city": "Paris"}
        assert call["execution_id"] == frames[0]["data"]["execution_id"]
        result = {"temp": 21, "sky": "clear"}
        await client.send(
            {"type": "tool_result", "call_id": call["call_id"], "ok": True, "result": result}
        )
        rest = await client.until_end()
    text = 'tool get_weather returned {"sky":"clear","temp":21}'
    assert tokens_of(rest) == [text]
    assert ending(rest)["data"]["output"] == {"content": text}


async def test_tool_error_result_fails_the_flow(emu: Emulator) -> None:
    async with session(emu) as client:
        await client.message("/tool get_weather", {"client_tools": [WEATHER]})
        frames = await client.until(lambda f: f["type"] == "node.emit")
        call_id = frames[-1]["data"]["call_id"]
        assert frames[-1]["data"]["args"] == {}
        await client.send(
            {"type": "tool_result", "call_id": call_id, "ok": False, "error": "ValueError: boom"}
        )
        end = ending(await client.until_end())
    assert end["type"] == "flow.failed"
    assert end["data"]["error"] == "client tool 'get_weather' failed: ValueError: boom"


async def test_tool_timeout_fails_the_flow_and_late_results_are_refused(emu: Emulator) -> None:
    spec = {**WEATHER, "client_timeout_ms": 50}
    async with session(emu) as client:
        await client.message("/tool get_weather {}", {"client_tools": [spec]})
        frames = await client.until_end()
        call_id = frames[1]["data"]["call_id"]
        assert ending(frames)["data"]["error"] == "client tool 'get_weather' timed out after 50 ms"
        await client.send({"type": "tool_result", "call_id": call_id, "ok": True, "result": 1})
        late = await client.recv()
    assert late == {"type": "error", "message": f"no tool call {call_id!r} is waiting for a result"}


async def test_tool_wait_is_capped_by_the_config() -> None:
    with Emulator(max_tool_wait_ms=30) as emu:
        async with session(emu) as client:
            frames = await client.run("/tool get_weather {}", {"client_tools": [WEATHER]})
    assert ending(frames)["data"]["error"] == "client tool 'get_weather' timed out after 30 ms"


@pytest.mark.parametrize(
    ("text", "tools", "error"),
    [
        ("/tool nope {}", [WEATHER], "unknown client tool 'nope': base_input.client_tools has"),
        ("/tool get_weather {}", None, "unknown client tool 'get_weather'"),
        ("/tool get_weather {bad", [WEATHER], "/tool get_weather: the arguments are not valid"),
        ("/tool", [WEATHER], "usage: /tool NAME JSON"),
    ],
)
async def test_tool_errors(emu: Emulator, text: str, tools: Any, error: str) -> None:
    base_input = {"client_tools": tools} if tools is not None else None
    async with session(emu) as client:
        frames = await client.run(text, base_input)
    assert ending(frames)["type"] == "flow.failed"
    assert ending(frames)["data"]["error"].startswith(error)


async def test_progress_emits_tool_progress_frames(emu: Emulator) -> None:
    async with session(emu) as client:
        frames = await client.run("/progress cats")
    emits = [f["data"] for f in frames if f["type"] == "node.emit"]
    assert [e["stage"] for e in emits] == ["started", "halfway", "completed"]
    assert [e["progress"] for e in emits] == [0.0, 0.5, 1.0]
    for emit in emits:
        assert emit["kind"] == "tool_progress"
        assert emit["tool"] == "web_search"
        assert emit["resource"]["kind"] == "url"
        assert emit["trace_id"] == emits[0]["trace_id"]
        assert emit["attempt"] == 1
    result = emits[-1]["result"]
    assert result["summary"] == "found 2 results for cats"
    assert [set(item) for item in result["items"]] == [{"title", "snippet", "url"}] * 2
    assert ending(frames)["data"]["output"] == {"content": "found 2 results for cats "}


async def test_scope_is_echoed_exactly_and_recorded(emu: Emulator) -> None:
    scope = {"tenant": "acme", "tier": 2, "ratio": 0.5, "on": True, "bad": [1, {"x": None}]}
    async with session(emu, key="py_scope") as client:
        frames = await client.run("/scope", {"scope": scope})
        missing = await client.run("/scope")
    content = ending(frames)["data"]["output"]["content"]
    assert content == '{"bad":[1,{"x":null}],"on":true,"ratio":0.5,"tenant":"acme","tier":2}'
    assert tokens_of(frames) == [content]
    assert ending(missing)["data"]["output"] == {"content": "null"}
    recorded = emu.call(lambda: stream_hub(emu).get("py_scope").base_inputs)
    assert recorded[0] == {"scope": scope}


async def test_fail_command(emu: Emulator) -> None:
    async with session(emu) as client:
        frames = await client.run("/fail the LLM timed out")
        bare = await client.run("/fail")
    assert [f["type"] for f in frames] == ["node.started", "node.failed", "flow.failed"]
    assert frames[1]["data"]["error"] == "the LLM timed out"
    assert frames[2]["data"]["error"] == "the LLM timed out"
    assert ending(bare)["data"]["error"] == "failed"


def form_response(form_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"form_response": payload, "form_response_id": form_id, "is_form_response": True}


async def test_form_pauses_until_its_response(emu: Emulator) -> None:
    async with session(emu) as client:
        await client.message("/form contact")
        frames = await client.until(lambda f: f["type"] == "node.emit")
        form = frames[-1]["data"]
        assert form["kind"] == "form"
        assert form["form_id"] == "contact"
        assert [field["name"] for field in form["fields"]] == ["name", "email"]
        # A response to another form is refused; the flow keeps waiting.
        await client.message("[form-response]", form_response("other", {"x": 1}))
        assert await client.recv() == {
            "type": "error",
            "message": "form 'other' is not waiting (form 'contact' is)",
        }
        await client.message("[form-response]", form_response("contact", {"name": "Ada"}))
        rest = await client.until_end()
    assert [f["type"] for f in rest] == ["node.completed", "flow.completed"]
    assert ending(rest)["data"]["output"] == {"name": "Ada"}


async def test_form_without_id_is_a_usage_error(emu: Emulator) -> None:
    async with session(emu) as client:
        assert ending(await client.run("/form"))["data"]["error"] == "usage: /form ID"


async def test_form_response_with_no_waiting_form_completes_with_its_payload(
    emu: Emulator,
) -> None:
    async with session(emu) as client:
        frames = await client.run("[form-response]", form_response("f", {"name": "Bo"}))
    assert ending(frames)["data"]["output"] == {"name": "Bo"}


async def media_run(client: Client, key: str, text: str | None = None) -> list[dict[str, Any]]:
    media = {"key": key, "mime_type": "application/pdf", "size_bytes": 5}
    message = {"kind": "document", "text": text, "media": media}
    await client.send({"type": "message", "message": message})
    return await client.until_end()


async def test_media_message_describes_the_upload(emu: Emulator) -> None:
    add_upload(emu, "org/demo/report.pdf", b"%PDF-")
    async with session(emu) as client:
        frames = await media_run(client, "org/demo/report.pdf", "Summarize it")
    output = ending(frames)["data"]["output"]
    assert output["content"] == (
        "received document report.pdf (application/pdf, 5 bytes) with text: Summarize it "
    )
    assert output["content"] == "".join(tokens_of(frames))
    assert output["media"] == {
        "key": "org/demo/report.pdf",
        "kind": "document",
        "mime_type": "application/pdf",
        "size_bytes": 5,
        "filename": "report.pdf",
    }


@pytest.mark.parametrize("kind", ["image", "audio", "video"])
async def test_media_kinds(emu: Emulator, kind: str) -> None:
    add_upload(emu, f"k/{kind}", b"12345", kind=kind, mime_type=f"{kind}/x", filename="f.bin")
    async with session(emu) as client:
        frames = await media_run(client, f"k/{kind}")
    assert ending(frames)["data"]["output"]["content"] == (
        f"received {kind} f.bin ({kind}/x, 5 bytes) "
    )


async def test_media_with_unknown_key_or_missing_bytes_fails(emu: Emulator) -> None:
    add_upload(emu, "k/pending", None)
    async with session(emu) as client:
        unknown = ending(await media_run(client, "k/nope"))
        pending = ending(await media_run(client, "k/pending"))
    assert unknown["type"] == "flow.failed"
    assert unknown["data"]["error"] == "unknown media key 'k/nope'"
    assert pending["type"] == "flow.failed"
    assert pending["data"]["error"] == "upload 'k/pending' has no bytes: its PUT never arrived"


async def test_image_urls_are_described(emu: Emulator) -> None:
    async with session(emu) as client:
        one = await client.run("What is this?", {"image_url": "https://ex.com/a.jpg"})
        many = await client.run("", {"image_urls": ["https://ex.com/1.png", 7, "https://e/2"]})
    assert ending(one)["data"]["output"] == {
        "content": "echo: What is this? image: https://ex.com/a.jpg ",
        "images": ["https://ex.com/a.jpg"],
    }
    assert ending(many)["data"]["output"]["images"] == ["https://ex.com/1.png", "https://e/2"]
    assert tokens_of(many) == [
        "echo: ",
        "image: ",
        "https://ex.com/1.png ",
        "image: ",
        "https://e/2 ",
    ]


async def test_unknown_command_is_plain_text(emu: Emulator) -> None:
    async with session(emu) as client:
        frames = await client.run("/dance now")
    assert ending(frames)["data"]["output"] == {"content": "echo: /dance now "}


async def test_session_open_starts_a_run_without_a_message(emu: Emulator) -> None:
    async with session(emu) as client:
        await client.send({"type": "session.open"})
        plain = await client.until_end()
        await client.send({"type": "session.open", "base_input": {"text": "/stream 2"}})
        command = await client.until_end()
        await client.send({"type": "session.open", "base_input": 3})
        error = await client.recv()
    assert ending(plain)["data"]["output"] == {"content": "session opened "}
    assert tokens_of(command) == ["t0 ", "t1 "]
    assert error == {
        "type": "error",
        "message": "invalid session.open frame: 'base_input' must be an object",
    }


async def test_messages_of_a_session_run_in_order(emu: Emulator) -> None:
    async with session(emu) as client:
        for text in ("/stream 300", "one", "/fail two", "three"):
            await client.message(text)
        ends = [ending(await client.until_end()) for _ in range(4)]
    assert [e["type"] for e in ends] == [
        "flow.completed",
        "flow.completed",
        "flow.failed",
        "flow.completed",
    ]
    assert ends[1]["data"]["output"] == {"content": "echo: one "}
    assert ends[3]["data"]["output"] == {"content": "echo: three "}


async def test_cancel_ends_the_running_flow(emu: Emulator) -> None:
    async with session(emu) as client:
        await client.message("/form waits-forever")
        await client.until(lambda f: f["type"] == "node.emit")
        await client.send({"type": "cancel"})
        frames = await client.until_end()
        after = await client.run("after")
    assert [f["type"] for f in frames] == ["node.failed", "flow.failed"]
    assert frames[-1]["data"]["error"] == "cancelled"
    assert ending(after)["data"]["output"] == {"content": "echo: after "}


async def test_cancel_during_a_tool_wait_and_with_nothing_running(emu: Emulator) -> None:
    async with session(emu) as client:
        await client.send({"type": "cancel"})  # nothing runs: ignored, no frame
        await client.message("/tool get_weather {}", {"client_tools": [WEATHER]})
        frames = await client.until(lambda f: f["type"] == "node.emit")
        await client.send({"type": "cancel"})
        end = ending(await client.until_end())
        call_id = frames[-1]["data"]["call_id"]
        await client.send({"type": "tool_result", "call_id": call_id, "ok": True})
        late = await client.recv()
    assert frames[0]["type"] == "node.started"
    assert end["data"]["error"] == "cancelled"
    assert late["type"] == "error"


async def test_session_end_ends_the_session(emu: Emulator) -> None:
    async with session(emu, key="py_end") as client:
        await client.send({"type": "session.end"})
        ended = await client.recv()
        assert ended["type"] == "session.ended"
        assert ended["session_key"] == "py_end"
        await client.message("hello")
        assert await client.recv() == {"type": "error", "message": "no active session"}
        assert (await client.start("py_end"))["type"] == "session.started"
        assert ending(await client.run("back"))["type"] == "flow.completed"


async def test_reconnect_with_the_same_key_reattaches_to_a_waiting_form(emu: Emulator) -> None:
    async with session(emu, key="py_re") as first:
        await first.message("/form survey")
        await first.until(lambda f: f["type"] == "node.emit")
    async with session(emu, key="py_re") as second:
        await second.message("[form-response]", form_response("survey", {"ok": True}))
        frames = await second.until_end()
    assert ending(frames)["data"]["output"] == {"ok": True}
    assert ending(frames)["session_key"] == "py_re"


async def test_reconnect_answers_a_tool_call_of_the_previous_socket(emu: Emulator) -> None:
    async with session(emu, key="py_tool") as first:
        await first.message("/tool get_weather {}", {"client_tools": [WEATHER]})
        frames = await first.until(lambda f: f["type"] == "node.emit")
    call_id = frames[-1]["data"]["call_id"]
    async with session(emu, key="py_tool") as second:
        await second.send({"type": "tool_result", "call_id": call_id, "ok": True, "result": 5})
        end = ending(await second.until_end())
    assert end["data"]["output"] == {"content": "tool get_weather returned 5"}


async def test_produce_mode_does_not_take_the_output(emu: Emulator) -> None:
    async with session(emu, key="py_legs") as consumer, opened(emu) as producer:
        await producer.recv()
        await producer.send({"type": "session.start", "session_key": "py_legs", "mode": "produce"})
        assert (await producer.recv())["type"] == "session.started"
        await producer.message("from the producer")
        frames = await consumer.until_end()
        await producer.send({"type": "ping"})
        assert (await producer.recv())["type"] == "pong"  # nothing else came to the producer
    assert ending(frames)["data"]["output"] == {"content": "echo: from the producer "}


# ------------------------------------------------------------------------------ one-shot runs


def one_shot(
    emu: Emulator, text: str, base_input: dict[str, Any] | None = None, **kwargs: Any
) -> OneShotResult:
    async def run() -> OneShotResult:
        return await run_once(emu.context, "wh_demo", text, base_input or {}, **kwargs)

    # Emulator.call awaits a coroutine result; its annotation does not say so.
    return cast(OneShotResult, emu.call(run))


def test_run_once_completes_with_the_same_output_as_the_stream(emu: Emulator) -> None:
    result = one_shot(emu, "hello  world")
    assert result == OneShotResult(
        True, result.execution_id, "completed", {"content": "echo: hello world "}
    )
    assert result.execution_id.startswith("exec_")
    assert one_shot(emu, "/stream 3").output == {"content": "t0 t1 t2 "}
    assert one_shot(emu, "/scope", {"scope": {"b": 1, "a": "x"}}).output == {
        "content": '{"a":"x","b":1}'
    }
    assert one_shot(emu, "/progress").output == {"content": "found 2 results for emulator "}


def test_run_once_failures(emu: Emulator) -> None:
    failed = one_shot(emu, "/fail nope")
    assert (failed.ok, failed.status, failed.output, failed.error) == (
        False,
        "failed",
        None,
        "nope",
    )
    tool = one_shot(emu, "/tool get_weather {}", {"client_tools": [WEATHER]})
    assert tool.status == "failed"
    assert tool.error is not None and "HTTP runs cannot call client tools" in tool.error


def test_run_once_form_is_waiting_and_its_response_completes(emu: Emulator) -> None:
    waiting = one_shot(emu, "/form contact")
    assert (waiting.ok, waiting.status) == (True, "waiting")
    assert waiting.output["kind"] == "form"
    assert waiting.output["form_id"] == "contact"
    answered = one_shot(emu, "[form-response]", form_response("contact", {"name": "Ada"}))
    assert (answered.status, answered.output) == ("completed", {"name": "Ada"})


def test_run_once_with_a_media_message(emu: Emulator) -> None:
    add_upload(
        emu,
        "k/img",
        b"\x89PNG",
        kind="image",
        mime_type="image/png",
        filename="a.png",
        size_bytes=4,
    )
    media = {"key": "k/img", "mime_type": "image/png", "size_bytes": 4}
    result = one_shot(emu, "", message={"kind": "image", "text": None, "media": media})
    assert result.output["content"] == "received image a.png (image/png, 4 bytes) "
    missing = one_shot(emu, "", message={"kind": "image", "media": {**media, "key": "k/x"}})
    assert missing.error == "unknown media key 'k/x'"


# ------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("code", [None, 4001])
async def test_fault_close_after_ready(emu: Emulator, code: int | None) -> None:
    if code is None:
        emu.faults.stream(close_after_ready=True)
    else:
        emu.faults.stream(close_after_ready=True, close_code=code)
    async with opened(emu) as client:
        assert (await client.recv())["type"] == "ready"
        assert await client.closed_code() == (code or 1012)


async def test_fault_clean_close_after_tokens(emu: Emulator) -> None:
    emu.faults.stream(clean_close_after_tokens=3)
    async with session(emu, key="py_cc") as client:
        await client.message("/stream 10")
        frames = []
        with pytest.raises(ConnectionClosed) as info:
            while True:
                frames.append(await client.recv())
    assert info.value.rcvd is not None and info.value.rcvd.code == 1000
    assert tokens_of(frames) == ["t0 ", "t1 ", "t2 "]
    emu.faults.stream()
    async with session(emu, key="py_cc") as client:
        assert ending(await client.run("/stream 5"))["data"]["output"]["content"].endswith("t4 ")


async def test_fault_clean_close_after_zero_tokens_and_per_session(emu: Emulator) -> None:
    emu.faults.stream("py_victim", clean_close_after_tokens=0)
    async with session(emu, key="py_victim") as victim:
        await victim.message("hello")
        assert (await victim.recv())["type"] == "node.started"
        assert await victim.closed_code() == 1000
    async with session(emu, key="py_other") as other:
        assert ending(await other.run("hello"))["type"] == "flow.completed"


async def test_fault_oversized_output(emu: Emulator) -> None:
    size = 1024 * 1024 + 10
    emu.faults.stream(oversized_output_bytes=size)
    async with session(emu, max_size=None) as client:
        await client.message("big")
        raws: list[bytes] = []
        while not raws or b'"flow.completed"' not in raws[-1][:40]:
            raw = await client.recv_raw()
            raws.append(raw.encode() if isinstance(raw, str) else raw)
    assert len(raws[-1]) > 1024 * 1024
    output = orjson.loads(raws[-1])["data"]["output"]
    assert output["content"] == "echo: big "
    assert output["padding"] == "x" * size


async def test_fault_oversized_output_kills_a_default_client(emu: Emulator) -> None:
    emu.faults.stream(oversized_output_bytes=2 * 1024 * 1024)
    async with session(emu) as client:
        await client.message("big")
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await client.recv()
    assert info.value.sent is not None and info.value.sent.code == 1009


async def test_fault_session_ended(emu: Emulator) -> None:
    emu.faults.stream(session_ended=True)
    async with session(emu, key="py_se") as client:
        await client.message("first")
        await client.message("queued behind")
        frames = await client.until(lambda f: f["type"] == "session.ended")
        assert [f["type"] for f in frames][-2:] == ["flow.completed", "session.ended"]
        assert frames[-1]["session_key"] == "py_se"
        # The queued message meets an ended session; so does a new one.
        assert await client.recv() == {"type": "error", "message": "no active session"}
        await client.message("refused")
        assert await client.recv() == {"type": "error", "message": "no active session"}


async def test_fault_session_ended_restart_runs_again(emu: Emulator) -> None:
    emu.faults.stream(session_ended=True)
    async with session(emu, key="py_se2") as client:
        first = await client.run("one")
        assert (await client.recv())["type"] == "session.ended"
        assert (await client.start("py_se2"))["type"] == "session.started"
        second = await client.run("two")
        assert (await client.recv())["type"] == "session.ended"
    assert ending(first)["data"]["output"] == {"content": "echo: one "}
    assert ending(second)["data"]["output"] == {"content": "echo: two "}


async def test_fault_token_delay_keeps_the_text(emu: Emulator) -> None:
    emu.faults.stream(token_delay=0.001)
    async with session(emu) as client:
        numbered = await client.run("/stream 5")
        words = await client.run("a b c")
    assert tokens_of(numbered) == [f"t{i} " for i in range(5)]
    assert tokens_of(words) == ["echo: ", "a ", "b ", "c "]


async def test_fault_refuse_auth_http(emu: Emulator) -> None:
    emu.faults.stream(refuse_auth="http")
    with pytest.raises(InvalidStatus) as info:
        async with connect(stream_url(emu)):
            pass
    assert info.value.response.status_code == 401
    assert orjson.loads(info.value.response.body) == {"error": "invalid token (injected fault)"}


async def test_fault_refuse_auth_frame(emu: Emulator) -> None:
    emu.faults.stream(refuse_auth="frame")
    async with opened(emu) as client:
        assert await client.recv() == {
            "type": "error",
            "message": "invalid token (injected fault)",
        }
        assert await client.closed_code() == 1008


# -------------------------------------------------------------------------------- concurrency


async def test_500_concurrent_sessions_get_their_own_text() -> None:
    with Emulator() as emu:

        async def one(index: int) -> tuple[list[str], Any]:
            async with session(emu, key=f"py_c{index}") as client:
                await client.message(f"/stream {20 + index % 7}")
                numbered = await client.until_end()
                words = await client.run(f"user {index} says hi")
            return tokens_of(numbered), ending(words)["data"]["output"]["content"]

        results = await asyncio.gather(*(one(i) for i in range(500)))
    for index, (numbered, content) in enumerate(results):
        assert numbered == [f"t{i} " for i in range(20 + index % 7)]
        assert content == f"echo: user {index} says hi "
