"""WebhookStreamSession, run_webhook_stream and the sync twin, over real sockets to the emulator.

Each test that pins a daguito-sdk 0.4.5 bug names it (spec/daguito.md 6.2).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import threading
import time
from typing import Any

import orjson
import pytest
import websockets
from websockets.asyncio.server import serve

import daguito
import daguito.webhook_stream_session as wss
from daguito import (
    ClosedEvent,
    DaguitoConnectionError,
    FlowCompletedEvent,
    InvalidTokenError,
    NodeEmitEvent,
    NodeTokenEvent,
    ReadyEvent,
    StreamError,
    SyncWebhookStreamSession,
    ToolSpec,
    WebhookRunStreamInput,
    WebhookStreamOptions,
    WebhookStreamRunError,
    WebhookStreamSession,
    parse_tool_progress,
    run_webhook_stream,
    text_message,
)
from relaywire.emulator import Emulator

WEBHOOK = "wh_demo"
TOKEN = "sk_wh_demo"


def options(emu: Emulator, **kw: Any) -> WebhookStreamOptions:
    return WebhookStreamOptions(api_url=emu.url, webhook_id=WEBHOOK, token=TOKEN, **kw)


def hub(emu: Emulator) -> Any:
    return emu.context.daguito_stream  # type: ignore[attr-defined]


async def until_completed(it: Any) -> list[tuple[str, Any]]:
    seen = []
    async for etype, payload in it:
        seen.append((etype, payload))
        if etype in ("flow.completed", "flow.failed"):
            return seen
    return seen


def drop_server_side(emu: Emulator, key: str, code: int = 1012) -> None:
    """Close the session's socket from the emulator with ``code`` (a recoverable drop)."""
    session = hub(emu).get(key)
    deadline = time.monotonic() + 5
    while session.output is None and time.monotonic() < deadline:  # attached after started
        time.sleep(0.005)
    emu.call(session.output.close, code)


def words(text: str) -> list[str]:
    return [f"{w} " for w in text.split()]


# --- handshake and basic flow -----------------------------------------------------------


async def test_connect_returns_after_session_started(emu: Emulator) -> None:
    # B20: daguito-sdk returned right after the upgrade, before session.started.
    session = WebhookStreamSession(options(emu))
    await session.connect()
    try:
        assert session.is_open
        assert hub(emu).get(session.session_key).active
        assert session.session_key.startswith("py_") and len(session.session_key) == 19
    finally:
        await session.close()


async def test_text_turn_yields_typed_events_in_order(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        events = session.events()
        await session.send(text_message("hello world"))
        seen = await until_completed(events)
    types = [t for t, _ in seen]
    assert types == [
        "ready",
        "node.started",
        *["node.token"] * 3,
        "node.completed",
        "flow.completed",
    ]
    assert seen[0][1] == ReadyEvent(webhook_id=WEBHOOK)
    assert [p.text for t, p in seen if t == "node.token"] == ["echo: ", "hello ", "world "]
    assert all(p == NodeTokenEvent("agent", p.text) for t, p in seen if t == "node.token")
    completed = seen[-1][1]
    assert isinstance(completed, FlowCompletedEvent)
    assert completed.output == {"content": "echo: hello world "}
    assert dataclasses.asdict(completed)["output"] == {"content": "echo: hello world "}
    assert isinstance(completed.elapsed_ms, int) and completed.elapsed_ms >= 0


async def test_events_that_arrive_before_iteration_are_delivered(emu: Emulator) -> None:
    # B4: daguito-sdk registered the iterator's queue on the first __anext__, losing these.
    async with WebhookStreamSession(options(emu)) as session:
        await session.send(text_message("early bird"))
        await asyncio.sleep(0.3)
        seen = await until_completed(session.events())
    assert [p.text for t, p in seen if t == "node.token"] == ["echo: ", *words("early bird")]


async def test_events_between_two_iterations_are_delivered(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        await session.send(text_message("one"))
        await until_completed(session.events())
        await session.send(text_message("two"))
        await asyncio.sleep(0.2)
        seen = await until_completed(session.events())
    assert [p.text for t, p in seen if t == "node.token"] == ["echo: ", "two "]


async def test_iterators_broadcast(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        first, second = session.events(), session.events()
        await session.send(text_message("both of us"))
        a, b = await asyncio.gather(until_completed(first), until_completed(second))
    # the backlog (here: ready) goes to the first iterator; later events to both
    assert a[0][0] == "ready" and a[1:] == b and len(b) > 3


async def test_lazy_connect_on_send_and_send_raw_before_handshake(emu: Emulator) -> None:
    # B20: send_raw before the handshake was silently dropped.
    session = WebhookStreamSession(options(emu))
    events = session.events()
    await session.send_raw({"type": "message", "message": {"kind": "text", "text": "raw frame"}})
    seen = await until_completed(events)
    await session.close()
    assert seen[-1][1].output == {"content": "echo: raw frame "}


# --- ending and closing -----------------------------------------------------------------


async def test_iterator_ends_when_server_closes_without_reconnect(emu: Emulator) -> None:
    # B3: with auto_reconnect=False, daguito-sdk's events() never ended.
    session = WebhookStreamSession(options(emu, auto_reconnect=False))
    await session.connect()
    emu.faults.stream(session.session_key, clean_close_after_tokens=2)
    await session.send(text_message("a b c d e f"))
    seen = [item async for item in session.events()]
    assert seen[-1] == ("closed", ClosedEvent(code=1000, reason=""))
    assert type(seen[-1][1].code) is int  # B22: was a CloseCode enum member
    await session.close()


async def test_clean_server_close_is_1000_and_not_reconnected(emu: Emulator) -> None:
    # B2: daguito-sdk reported a clean 1000 as 1006 and reconnected.
    session = WebhookStreamSession(options(emu))
    await session.connect()
    emu.faults.stream(session.session_key, clean_close_after_tokens=1)
    closed: list[ClosedEvent] = []
    session.on("closed", closed.append)
    await session.send(text_message("x y z"))
    seen = [item async for item in session.events()]
    assert seen[-1][1] == ClosedEvent(code=1000, reason="")
    assert closed == [ClosedEvent(code=1000, reason="")]
    assert session.connections == 1
    with pytest.raises(StreamError, match="session ended"):
        await session.send(text_message("again"))
    await session.close()


async def test_close_is_idempotent_ends_iterators_and_later_calls_raise(emu: Emulator) -> None:
    # B11: after close(), daguito-sdk's send()/connect() silently did nothing.
    session = WebhookStreamSession(options(emu))
    await session.connect()
    it = session.events()
    await session.close()
    await session.close()
    assert [item async for item in it] == [("ready", ReadyEvent(WEBHOOK))]
    with pytest.raises(StreamError, match="closed"):
        await session.send(text_message("late"))
    with pytest.raises(StreamError, match="closed"):
        await session.connect()
    assert hub(emu).get(session.session_key) is None  # session.end reached the server


# --- reconnects -------------------------------------------------------------------------


async def test_send_during_outage_is_delivered_once_after_reconnect(emu: Emulator) -> None:
    # B12: a send during the backoff opened a second socket in parallel.
    async with WebhookStreamSession(options(emu)) as session:
        events = session.events()
        emu.faults.stream(close_after_ready=True)  # the next connection opens and drops
        drop_server_side(emu, session.session_key)
        await asyncio.sleep(0.05)
        assert not session.is_open
        await session.send(text_message("queued while down"))
        await asyncio.sleep(0.6)
        emu.faults.clear()
        seen = await until_completed(events)
        server = hub(emu).get(session.session_key)
        await asyncio.sleep(0.2)
        assert server.runs_completed == 1
        assert [p.output for t, p in seen if t == "flow.completed"] == [
            {"content": "echo: queued while down "}
        ]
        assert session.connections >= 3


async def test_reconnects_are_bounded_when_connections_drop_at_once(emu: Emulator) -> None:
    # B1: daguito-sdk reconnected ~1000 times a second to a server that accepts and drops.
    session = WebhookStreamSession(options(emu))
    await session.connect()
    emu.faults.stream(close_after_ready=True)
    drop_server_side(emu, session.session_key)
    await asyncio.sleep(1.5)
    attempts = session.connections - 1
    # immediate, then ~0.5 s, ~1 s (+-20 % jitter): three or four in 1.5 s, never a storm
    assert 2 <= attempts <= 4, attempts
    emu.faults.clear()
    await session.connect()  # waits for the reconnect loop
    assert session.is_open
    await session.close()


async def test_non_recoverable_close_ends_the_session(emu: Emulator) -> None:
    session = WebhookStreamSession(options(emu))
    await session.connect()
    drop_server_side(emu, session.session_key, code=1008)
    seen = [item async for item in session.events()]
    assert seen[-1] == ("closed", ClosedEvent(code=1008, reason=""))
    assert session.connections == 1
    await session.close()


async def test_session_ended_by_server_restarts_on_the_same_socket(emu: Emulator) -> None:
    # B9: after session.ended every later send queued forever.
    async with WebhookStreamSession(options(emu)) as session:
        emu.faults.stream(session.session_key, session_ended=True)
        first = await session.collect_text(text_message("first"))
        await asyncio.sleep(0.3)  # session.ended follows flow.completed; the client restarts
        second = await session.collect_text(text_message("second"), timeout=10)
    assert (first, second) == ("echo: first ", "echo: second ")
    assert session.connections == 1


# --- refusals and errors ----------------------------------------------------------------


async def test_bad_token_is_invalid_token_error(emu: Emulator) -> None:
    # B10: daguito-sdk raised websockets' InvalidStatus.
    session = WebhookStreamSession(dataclasses.replace(options(emu), token="sk_wh_wrong"))
    with pytest.raises(InvalidTokenError) as info:
        await session.connect()
    assert isinstance(info.value, StreamError) and info.value.status == 401
    await session.close()


@pytest.mark.parametrize("mode", ["http", "frame"])
async def test_refused_auth_fault_is_invalid_token_error(emu: Emulator, mode: str) -> None:
    emu.faults.stream(refuse_auth=mode)
    session = WebhookStreamSession(options(emu))
    with pytest.raises(InvalidTokenError, match="invalid token"):
        await session.connect()
    await session.close()


async def test_connection_refused_is_a_typed_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    opts = WebhookStreamOptions(api_url=f"http://127.0.0.1:{port}", webhook_id=WEBHOOK, token=TOKEN)
    session = WebhookStreamSession(opts)
    with pytest.raises(DaguitoConnectionError) as info:
        await session.connect()
    assert isinstance(info.value, StreamError)
    assert isinstance(info.value.__cause__, Exception)
    await session.close()


async def test_webhook_id_is_percent_encoded(emu: Emulator) -> None:
    # B14: an id with a space produced an invalid HTTP request line.
    session = WebhookStreamSession(dataclasses.replace(options(emu), webhook_id="wh demo?x"))
    with pytest.raises(InvalidTokenError, match="unknown webhook 'wh demo\\?x'"):
        await session.connect()
    await session.close()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("api_url", "", ValueError),
        ("webhook_id", "", ValueError),
        ("token", "", ValueError),
        ("scope", ["tenant", "t1"], TypeError),
        ("base_input", ["x"], TypeError),
        ("max_message_size", 0, ValueError),
        ("max_queue", -1, ValueError),
        ("open_timeout", 0, ValueError),
        ("max_reconnect_delay", 0, ValueError),
        ("max_reconnect_delay", "5", ValueError),
    ],
)
def test_bad_options_are_refused_up_front(field: str, value: Any, error: type[Exception]) -> None:
    opts = WebhookStreamOptions(api_url="http://127.0.0.1:1", webhook_id=WEBHOOK, token=TOKEN)
    with pytest.raises(error, match=field):
        WebhookStreamSession(dataclasses.replace(opts, **{field: value}))


@pytest.mark.parametrize(
    ("message", "error"),
    [("not a dict", TypeError), ({"kind": "text", "file": "x"}, ValueError)],
)
async def test_bad_messages_raise(emu: Emulator, message: Any, error: type[Exception]) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        with pytest.raises(error):
            await session.send(message)
        with pytest.raises(TypeError):
            await session.send(text_message("x"), base_input=["nope"])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="JSON"):
            await session.send_raw({"type": "message", "bad": object()})


async def test_oversized_frame_within_limit_is_delivered(emu: Emulator) -> None:
    # B21: daguito-sdk's 1 MiB default killed the socket and lost flow.completed.
    async with WebhookStreamSession(options(emu)) as session:
        emu.faults.stream(session.session_key, oversized_output_bytes=2 * 1024 * 1024)
        result = await session.run_turn(text_message("big"))
    assert len(str(result.output)) > 2 * 1024 * 1024


async def test_frame_over_max_message_size_closes_1009_without_reconnect(emu: Emulator) -> None:
    session = WebhookStreamSession(options(emu, max_message_size=1024 * 1024))
    await session.connect()
    emu.faults.stream(session.session_key, oversized_output_bytes=2 * 1024 * 1024)
    await session.send(text_message("big"))
    seen = [item async for item in session.events()]
    assert seen[-1] == ("closed", ClosedEvent(code=1009, reason="message too big"))
    assert session.connections == 1
    await session.close()


# --- scope, base input ------------------------------------------------------------------


async def test_scope_and_base_input_merge(emu: Emulator) -> None:
    # B6: base_input={} fell back to opts.base_input.
    opts = options(emu, base_input={"lang": "es"}, scope={"tenant": "t1", "tier": 2, "vip": True})
    async with WebhookStreamSession(opts) as session:
        scope_text = await session.collect_text(text_message("/scope"))
        await session.collect_text(text_message("hi"), base_input={})
        await session.collect_text(text_message("hi"), base_input={"lang": "en"})
        recorded = list(hub(emu).get(session.session_key).base_inputs)
    assert scope_text.strip() == '{"tenant":"t1","tier":2,"vip":true}'
    assert recorded[0] == {"lang": "es", "scope": {"tenant": "t1", "tier": 2, "vip": True}}
    assert recorded[1] == {"scope": {"tenant": "t1", "tier": 2, "vip": True}}
    assert recorded[2]["lang"] == "en"


async def test_non_primitive_scope_values_are_dropped_not_refused(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    # B5: daguito-sdk forwarded lists and dicts; the Go SDK documents that only str, int, float
    # and bool values are forwarded and the rest are dropped at the wire boundary. Code that ran
    # on daguito-sdk must not crash here (it did with a ValueError before).
    scope = {"user": "u1", "tags": [1, 2], "meta": {"secret-ish": "v"}, "none": None, "n": 1.5}
    caplog.set_level(logging.DEBUG, logger="daguito.stream")
    async with WebhookStreamSession(options(emu, scope=scope)) as session:
        first = await session.collect_text(text_message("/scope"))
        second = await session.collect_text(text_message("/scope"))
    assert orjson.loads(first) == orjson.loads(second) == {"user": "u1", "n": 1.5}
    dropped = [r.getMessage() for r in caplog.records if "not forwarded" in r.getMessage()]
    assert sorted(dropped) == sorted(
        [
            "scope['tags'] is a list, not a str, int, float or bool: not forwarded",
            "scope['meta'] is a dict, not a str, int, float or bool: not forwarded",
            "scope['none'] is a NoneType, not a str, int, float or bool: not forwarded",
        ]
    )  # once per key across both messages, and never a value
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "not forwarded" in r.message)
    assert "secret-ish" not in caplog.text and "[1, 2]" not in caplog.text


async def test_scope_with_only_non_primitive_values_sends_no_scope(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu, scope={"tags": ["a"]})) as session:
        await session.collect_text(text_message("hi"))
        recorded = list(hub(emu).get(session.session_key).base_inputs)
    assert recorded == [{}]


async def test_image_and_form_messages_translate(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        text = await session.collect_text(daguito.image_url_message("https://x.test/a.png", "look"))
        form = await session.run_turn(daguito.form_response_message("f1", {"name": "Ada"}))
        recorded = list(hub(emu).get(session.session_key).base_inputs)
    assert "image: https://x.test/a.png" in text
    assert form.output == {"name": "Ada"}
    assert recorded[1]["form_response_id"] == "f1" and recorded[1]["is_form_response"] is True


async def test_elapsed_ms_is_per_turn(emu: Emulator) -> None:
    # B13: elapsed_ms counted from session.started, so it grew across turns.
    async with WebhookStreamSession(options(emu)) as session:
        await session.run_turn(text_message("one"))
        await asyncio.sleep(1.0)
        second = await session.run_turn(text_message("two"))
    assert 0 <= second.elapsed_ms < 900


# --- tools ------------------------------------------------------------------------------


async def test_tool_decorator_answers_the_server(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:

        @session.tool("get_weather", "Weather by city", {"type": "object"}, timeout_seconds=5)
        def get_weather(args: dict[str, Any]) -> dict[str, Any]:
            return {"city": args["city"], "temp": 21}

        emits: list[NodeEmitEvent] = []
        session.on("node.emit", emits.append)
        text = await session.collect_text(text_message('/tool get_weather {"city":"Paris"}'))
    assert text == 'tool get_weather returned {"city":"Paris","temp":21}'
    assert emits[0].kind == "agent.tool_call_started"  # still delivered to users


async def test_register_tool_with_async_handler(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:

        async def lookup(args: dict[str, Any]) -> list[int]:
            await asyncio.sleep(0.01)
            return [args["n"], args["n"] * 2]

        session.register_tool(ToolSpec("lookup", "Doubles", {"type": "object"}, 5000), lookup)
        text = await session.collect_text(text_message('/tool lookup {"n":4}'))
    assert text == "tool lookup returned [4,8]"


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (lambda args: 1 / 0, "tool handler raised ZeroDivisionError"),
        (lambda args: {1, 2}, "tool result is not JSON-serializable"),
        (lambda args: time.sleep(5), "tool timed out after 2000 ms"),
    ],
    ids=["raises", "not-json", "timeout"],
)
async def test_tool_failures_always_send_an_error_result(
    emu: Emulator, handler: Any, expected: str
) -> None:
    # B7: no tool_result for a non-JSON result (the server waited), no client timeout, and
    # the exception text went to the server.
    async with WebhookStreamSession(options(emu)) as session:
        session.register_tool(ToolSpec("t", "", {"type": "object"}, 2000), handler)
        with pytest.raises(WebhookStreamRunError) as info:
            await session.run_turn(text_message("/tool t {}"))
    assert info.value.status == "failed"
    assert info.value.message.startswith("client tool 't' failed: " + expected)


def test_register_tool_validates() -> None:
    session = WebhookStreamSession(
        WebhookStreamOptions(api_url="http://127.0.0.1:1", webhook_id=WEBHOOK, token=TOKEN)
    )
    with pytest.raises(TypeError):
        session.register_tool({"name": "x"}, print)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        session.register_tool(ToolSpec("x"), "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ToolSpec("")
    with pytest.raises(ValueError):
        session.tool("x", "", {}, timeout_seconds=0)


# --- tool progress, listeners -----------------------------------------------------------


async def test_tool_progress_events_parse_from_event_or_data(emu: Emulator) -> None:
    # B15: parse_tool_progress(event) always gave None, and result was dropped.
    async with WebhookStreamSession(options(emu)) as session:
        emits: list[NodeEmitEvent] = []
        session.on("node.emit", emits.append)
        await session.run_turn(text_message("/progress relaywire"))
    progress = [parse_tool_progress(e) for e in emits]
    assert all(p is not None for p in progress) and len(progress) == 3
    assert progress == [parse_tool_progress(e.data) for e in emits]
    assert progress[-1] is not None and progress[-1].stage == "completed"
    assert progress[-1].result is not None and progress[-1].result.items


async def test_async_listeners_run_and_a_failing_listener_does_not_stop_others(
    emu: Emulator,
) -> None:
    # B17: async listeners were never awaited.
    got: list[str] = []

    async def slow(ev: NodeTokenEvent) -> None:
        await asyncio.sleep(0)
        got.append(ev.text)

    def broken(ev: Any) -> None:
        raise RuntimeError("listener bug")

    async with WebhookStreamSession(options(emu)) as session:
        session.on("node.token", broken)
        session.on("node.token", slow)
        await session.run_turn(text_message("a b"))
        await asyncio.sleep(0.05)
    assert got == ["echo: ", "a ", "b "]


async def test_slow_consumer_gets_backpressure_not_unbounded_memory(emu: Emulator) -> None:
    # B18: daguito-sdk's per-iterator queues were unbounded.
    opts = options(emu, max_queue=256)
    async with WebhookStreamSession(opts) as session:
        it = session.events()
        await session.send(text_message("/stream 20000"))
        tokens = 0
        high = 0
        paused_seen = False
        async for etype, _ in it:
            high = max(high, len(it._buffer))
            paused_seen = paused_seen or session._reading_paused
            if etype == "node.token":
                tokens += 1
                if tokens % 2000 == 0:
                    await asyncio.sleep(0.02)
            if etype == "flow.completed":
                break
    assert tokens == 20000
    assert paused_seen
    assert high < 256 + 20000 // 2  # bounded by max_queue plus one socket read's worth


# --- helpers: run_turn, run_webhook_stream ----------------------------------------------


async def test_run_turn_collects_text_natively(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        result = await session.run_turn(text_message("/stream 500"))
        assert session._backlog[-1][0] == "flow.completed"
        assert not any(t == "node.token" for t, _ in session._backlog)  # no per-token objects
    assert result.text == "".join(f"t{i} " for i in range(500))
    assert result.output == {"content": result.text}
    assert result.execution_id.startswith("exec_")


async def test_run_turn_failure_and_timeout(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        with pytest.raises(WebhookStreamRunError, match="boom") as info:
            await session.run_turn(text_message("/fail boom"))
        assert info.value.status == "failed"
        emu.faults.stream(session.session_key, token_delay=0.5)
        with pytest.raises(WebhookStreamRunError, match="timed out") as timeout:
            await session.run_turn(text_message("slow words"), timeout=0.2)
        assert timeout.value.status == "timeout"


async def test_run_webhook_stream(emu: Emulator) -> None:
    result = await run_webhook_stream(
        WebhookRunStreamInput(api_url=emu.url, webhook_id=WEBHOOK, token=TOKEN, text="hola mundo")
    )
    assert result.ok and result.status == "completed"
    assert result.output == {"content": "echo: hola mundo "}
    assert result.execution_id.startswith("exec_")
    with pytest.raises(WebhookStreamRunError, match="nope") as info:
        await run_webhook_stream(
            WebhookRunStreamInput(
                api_url=emu.url, webhook_id=WEBHOOK, token=TOKEN, text="/fail nope"
            )
        )
    assert info.value.status == "failed"
    with pytest.raises(InvalidTokenError):
        await run_webhook_stream(
            WebhookRunStreamInput(api_url=emu.url, webhook_id=WEBHOOK, token="bad", text="x")
        )
    with pytest.raises(ValueError):
        await run_webhook_stream(
            WebhookRunStreamInput(api_url=emu.url, webhook_id=WEBHOOK, token=TOKEN, timeout_ms=0)
        )


async def test_two_hundred_concurrent_sessions_all_get_their_text(emu: Emulator) -> None:
    async def one(i: int) -> str:
        return (
            await run_webhook_stream(
                WebhookRunStreamInput(
                    api_url=emu.url, webhook_id=WEBHOOK, token=TOKEN, text=f"session {i} says hi"
                )
            )
        ).output["content"]

    texts = await asyncio.gather(*(one(i) for i in range(200)))
    assert texts == [f"echo: session {i} says hi " for i in range(200)]


async def test_paced_stream_delivers_every_token(emu: Emulator) -> None:
    async with WebhookStreamSession(options(emu)) as session:
        emu.faults.stream(session.session_key, token_delay=0.002)
        result = await session.run_turn(text_message("/stream 100"))
    assert result.text == "".join(f"t{i} " for i in range(100))


# --- sync twin ----------------------------------------------------------------------------


def test_sync_session_from_plain_code(emu: Emulator) -> None:
    with SyncWebhookStreamSession(options(emu)) as session:
        events = session.events()
        session.send(text_message("sync works"))
        seen = []
        for etype, payload in events:
            seen.append((etype, payload))
            if etype == "flow.completed":
                break
        assert session.collect_text(text_message("again")) == "echo: again "
    assert seen[-1][1].output == {"content": "echo: sync works "}


async def test_sync_session_inside_a_running_loop(emu: Emulator) -> None:
    with SyncWebhookStreamSession(options(emu)) as session:
        assert session.run_turn(text_message("in a loop")).text == "echo: in a loop "


def test_sync_session_from_threads(emu: Emulator) -> None:
    results: dict[int, str] = {}

    def work(i: int) -> None:
        with SyncWebhookStreamSession(options(emu)) as session:
            results[i] = session.collect_text(text_message(f"thread {i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"echo: thread {i} " for i in range(4)}


# --- a patched connect() (daguito-sdk's test seam) and malformed frames --------------------


async def test_patched_connect_is_used(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = websockets.asyncio.client.connect

    def patched(url: str, **kwargs: Any) -> Any:
        calls.append(url)
        return real(url, **kwargs)

    monkeypatch.setattr(wss, "connect", patched)
    async with WebhookStreamSession(options(emu)) as session:
        text = await session.collect_text(text_message("via the library"))
    assert text == "echo: via the library "
    assert len(calls) == 1 and "token=sk_wh_demo" in calls[0]
    assert "x_daguito_client_lang=python" in calls[0]


async def test_malformed_and_unknown_frames_do_not_break_the_stream() -> None:
    # B19: one bad frame could crash the receive loop and lose the rest of the batch.
    async def handler(ws: Any) -> None:
        await ws.send('{"type":"ready","webhook_id":"wh_x"}')
        start = await ws.recv()
        assert '"session.start"' in start
        await ws.send('{"type":"session.started"}')
        await ws.recv()  # the message
        await ws.send("not json at all")
        await ws.send("[1, 2]")
        await ws.send('{"type":"brand.new","data":{"x":1}}')
        await ws.send('{"type":"node.token","node_id":"n","data":{"text":"ok"}}')
        await ws.send('{"type":"flow.completed","data":{"output":1}}')
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        opts = WebhookStreamOptions(
            api_url=f"http://127.0.0.1:{port}", webhook_id="wh_x", token="t"
        )
        async with WebhookStreamSession(opts) as session:
            await session.send(text_message("go"))
            seen = await until_completed(session.events())
    types = [t for t, _ in seen]
    assert types == ["ready", "unknown", "node.token", "flow.completed"]
    assert seen[1][1] == daguito.UnknownFrameEvent(
        "brand.new", {"type": "brand.new", "data": {"x": 1}}
    )


def test_sync_twins_for_one_shot_runs_and_tools(emu: Emulator) -> None:
    result = daguito.run_webhook_stream_sync(
        WebhookRunStreamInput(api_url=emu.url, webhook_id=WEBHOOK, token=TOKEN, text="sync run")
    )
    assert result.output == {"content": "echo: sync run "}
    with SyncWebhookStreamSession(options(emu)) as session:
        session.register_tool(
            ToolSpec("double", "", {"type": "object"}, 5000), lambda a: a["n"] * 2
        )
        tokens: list[str] = []
        session.on("node.token", lambda ev: tokens.append(ev.text))
        assert session.collect_text(text_message('/tool double {"n": 21}')) == (
            "tool double returned 42"
        )
        assert tokens == ["tool double returned 42"]
        session.send_raw({"type": "ping"})  # answered with a pong, which is not an event
        assert session.session_key.startswith("py_")


async def test_events_consumed_by_listeners_are_not_kept_in_the_backlog(emu: Emulator) -> None:
    # With only on() listeners, nothing accumulates for iterators that may never come.
    async with WebhookStreamSession(options(emu)) as session:
        tokens: list[str] = []
        session.on("node.token", lambda ev: tokens.append(ev.text))
        await session.run_turn(text_message("/stream 300"))
        assert len(tokens) == 300
        assert len(session._backlog) == 1  # only "ready", which arrived before the listener
