"""The client side of bench_daguito.py: one worker process per contender, the same code in each.

The parent starts this file with the interpreter and environment of a contender (relaywire's
``daguito`` from the normal environment, or daguito-sdk 0.4.5 from its own directory) and sends
it one JSON command per line on stdin; each answer is one JSON line on stdout. Only the standard
library and daguito-sdk's public API are used (``WebhookStreamOptions``, ``WebhookStreamSession``
as an async context manager, ``events()``, ``on()``, ``send()``, ``text_message``,
``run_webhook``, ``WebhookRunInput``), so the same code runs against both packages. The bare
client imports whatever ``websockets`` the process resolves (the reference's own copy).

Commands (``op``):

* ``hello``: where ``daguito``, ``websockets`` and ``httpx`` were imported from, and any module
  loaded from outside the allowed directories (``allowed``: the reference's directory).
* ``stream``: one session (``style`` ``events``, ``on`` or ``bare``): connect, a warm-up turn
  (``/stream 10``), then the timed turn (``/stream N``). CPU is ``time.process_time()`` from
  just before ``send()`` to the arrival of ``flow.completed``; the token count, the joined text
  and the completion output are checked.
* ``stream`` with style ``probe``: frames per socket read of one stream (no timing).
* ``run_webhook``: one warm-up call, then ``calls`` sequential calls, each timed (wall and CPU).

A command may carry a ``timeout`` in seconds. Warnings and log records of level WARNING or above
raised while a command runs are returned with its answer (``noise``), so that the parent can
report them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import sysconfig
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

WARMUP_TOKENS = 10


def expected_text(count: int) -> str:
    """What ``/stream N`` streams, joined (the emulator and the burst server agree)."""
    return "".join([f"t{index} " for index in range(count)])


def check_turn(texts: list[str], output: Any, count: int) -> None:
    if len(texts) != count:
        raise AssertionError(f"received {len(texts)} node.token events, expected {count}")
    for index, text in enumerate(texts):
        if text != f"t{index} ":
            raise AssertionError(f"token {index} is {text!r}, expected {f't{index} '!r}")
    content = output.get("content") if isinstance(output, dict) else None
    if content != expected_text(count):
        raise AssertionError(f"flow.completed output is not the joined text: {str(output)[:80]}")


class Failed(Exception):
    """The stream ended with something other than ``flow.completed``."""


# --- the daguito public API -------------------------------------------------------------------


class EventsConsumer:
    """``async for etype, ev in session.events()``: one iterator for the session's lifetime."""

    def __init__(self, session: Any) -> None:
        self.events = session.events()

    async def _consume(self) -> tuple[list[str], Any]:
        texts: list[str] = []
        append = texts.append
        async for etype, ev in self.events:
            if etype == "node.token":
                append(ev.text)
            elif etype == "flow.completed":
                return texts, ev
            elif etype in ("flow.failed", "error", "closed"):
                raise Failed(f"{etype}: {ev!r}")
        raise Failed("events() ended before flow.completed")

    async def turn(self, send: Callable[[], Awaitable[None]]) -> tuple[float, list[str], Any]:
        task = asyncio.ensure_future(self._consume())
        # daguito-sdk attaches an iterator's queue when iteration starts: let the task start.
        await asyncio.sleep(0)
        cpu = time.process_time()
        await send()
        texts, completed = await task
        return time.process_time() - cpu, texts, completed


class ListenerConsumer:
    """``session.on("node.token", cb)`` and a future resolved by ``flow.completed``."""

    def __init__(self, session: Any) -> None:
        self.texts: list[str] = []
        self.done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        session.on("node.token", self._on_token)
        session.on("flow.completed", self._on_completed)
        for etype in ("flow.failed", "error", "closed"):
            session.on(etype, lambda ev, etype=etype: self._on_failed(etype, ev))

    def _on_token(self, ev: Any) -> None:
        self.texts.append(ev.text)

    def _on_completed(self, ev: Any) -> None:
        if not self.done.done():
            self.done.set_result(ev)

    def _on_failed(self, etype: str, ev: Any) -> None:
        if not self.done.done():
            self.done.set_exception(Failed(f"{etype}: {ev!r}"))

    async def turn(self, send: Callable[[], Awaitable[None]]) -> tuple[float, list[str], Any]:
        self.texts = texts = list[str]()
        self.done = asyncio.get_running_loop().create_future()
        cpu = time.process_time()
        await send()
        completed = await self.done
        return time.process_time() - cpu, texts, completed


async def daguito_stream(
    url: str, webhook_id: str, token: str, count: int, style: str
) -> dict[str, Any]:
    from daguito import WebhookStreamOptions, WebhookStreamSession, text_message

    opts = WebhookStreamOptions(api_url=url, webhook_id=webhook_id, token=token)
    async with WebhookStreamSession(opts) as session:
        consumer = EventsConsumer(session) if style == "events" else ListenerConsumer(session)

        def sender(n: int) -> Callable[[], Awaitable[None]]:
            return lambda: session.send(text_message(f"/stream {n}"))

        # The warm-up turn also makes sure the session is started before the timed one.
        _, texts, completed = await consumer.turn(sender(WARMUP_TOKENS))
        check_turn(texts, completed.output, WARMUP_TOKENS)
        wall = time.perf_counter()
        cpu, texts, completed = await consumer.turn(sender(count))
        wall = time.perf_counter() - wall
        check_turn(texts, completed.output, count)
    return {"cpu": cpu, "wall": wall, "tokens": len(texts)}


# --- the bare websockets baseline -------------------------------------------------------------


async def bare_stream(url: str, webhook_id: str, token: str, count: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    ws_url = f"{url.replace('http', 'ws', 1)}/v1/webhooks/{webhook_id}/stream?token={token}"
    async with connect(ws_url) as ws:
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready", ready
        await ws.send(json.dumps({"type": "session.start", "session_key": "py_bare_bench"}))
        started = json.loads(await ws.recv())
        assert started["type"] == "session.started", started

        async def turn(n: int) -> tuple[float, list[str], Any]:
            message = {"type": "message", "message": {"kind": "text", "text": f"/stream {n}"}}
            texts: list[str] = []
            append = texts.append
            cpu = time.process_time()
            await ws.send(json.dumps(message))
            async for raw in ws:
                frame = json.loads(raw)
                etype = frame.get("type")
                if etype == "node.token":
                    append(frame["data"]["text"])
                elif etype == "flow.completed":
                    return time.process_time() - cpu, texts, frame["data"].get("output")
                elif etype in ("flow.failed", "error"):
                    raise Failed(f"{etype}: {frame!r}")
            raise Failed("the connection closed before flow.completed")

        _, texts, output = await turn(WARMUP_TOKENS)
        check_turn(texts, output, WARMUP_TOKENS)
        wall = time.perf_counter()
        cpu, texts, output = await turn(count)
        wall = time.perf_counter() - wall
        check_turn(texts, output, count)
    return {"cpu": cpu, "wall": wall, "tokens": len(texts)}


async def probe_stream(url: str, webhook_id: str, token: str, count: int) -> dict[str, Any]:
    """How many frames each socket read brings (a raw asyncio protocol over websockets'
    Sans-I/O client, counting ``data_received`` calls): checks that a stream is paced."""
    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.uri import parse_uri

    loop = asyncio.get_running_loop()
    uri = parse_uri(f"{url.replace('http', 'ws', 1)}/v1/webhooks/{webhook_id}/stream?token={token}")

    class Probe(asyncio.Protocol):
        def __init__(self) -> None:
            self.ws = ClientProtocol(uri, max_size=None)
            self.ws.send_request(self.ws.connect())
            self.transport: Any = None
            self.done: asyncio.Future[None] = loop.create_future()
            self.counting = False
            self.reads = self.frames = self.tokens = 0

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.flush()

        def flush(self) -> None:
            for chunk in self.ws.data_to_send():
                if chunk:
                    self.transport.write(chunk)

        def send(self, frame: dict[str, Any]) -> None:
            self.ws.send_text(json.dumps(frame).encode())

        def data_received(self, data: bytes) -> None:
            try:
                self.receive(data)
            except Exception as err:
                if not self.done.done():
                    self.done.set_exception(err)

        def connection_lost(self, exc: Exception | None) -> None:
            if not self.done.done():
                self.done.set_exception(exc or Failed("the server closed the connection"))

        def receive(self, data: bytes) -> None:
            self.reads += self.counting
            self.ws.receive_data(data)
            for event in self.ws.events_received():
                if not isinstance(event, Frame) or event.opcode is not Opcode.TEXT:
                    continue  # the server's keepalive pings, a close
                self.frames += self.counting
                etype = json.loads(bytes(event.data)).get("type")
                if etype == "ready":
                    self.send({"type": "session.start", "session_key": "py_probe_bench"})
                elif etype == "session.started":
                    self.counting = True
                    message = {"kind": "text", "text": f"/stream {count}"}
                    self.send({"type": "message", "message": message})
                elif etype == "node.token":
                    self.tokens += 1
                elif etype in ("flow.completed", "flow.failed", "error") and not self.done.done():
                    self.done.set_result(None)
            self.flush()

    transport, probe = await loop.create_connection(Probe, uri.host, uri.port)
    try:
        await probe.done
    finally:
        transport.abort()
    if probe.tokens != count:
        raise AssertionError(f"received {probe.tokens} node.token frames, expected {count}")
    return {"frames_per_read": probe.frames / probe.reads, "tokens": probe.tokens}


# --- run_webhook ------------------------------------------------------------------------------


async def run_webhook_calls(url: str, token: str, calls: int) -> dict[str, Any]:
    from daguito import WebhookRunInput, run_webhook

    run_input = WebhookRunInput(api_url=url, token=token, input={"text": "hi"})

    async def call() -> None:
        result = await run_webhook(run_input)
        if not result.ok or result.output != {"content": "echo: hi "}:
            raise AssertionError(f"unexpected run_webhook result: {result!r}")

    await call()
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        await call()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return {"walls": walls, "cpus": cpus}


# --- the worker loop --------------------------------------------------------------------------


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(os.path.realpath(paths[name]) for name in ("stdlib", "platstdlib"))


def hello(allowed: list[str]) -> dict[str, Any]:
    import httpx
    import websockets

    import daguito

    answer: dict[str, Any] = {
        "python": sys.version.split()[0],
        "daguito": os.path.realpath(daguito.__file__ or ""),
        "daguito_version": getattr(daguito, "__version__", "?"),
        "websockets": os.path.realpath(websockets.__file__ or ""),
        "websockets_version": getattr(websockets, "__version__", "?"),
        "httpx": os.path.realpath(httpx.__file__ or ""),
    }
    if allowed:
        roots = (*_stdlib_dirs(), *(os.path.realpath(path) for path in allowed))
        here = os.path.realpath(__file__)
        answer["foreign"] = sorted(
            name
            for name, module in list(sys.modules.items())
            if (found := getattr(module, "__file__", None))
            and not os.path.realpath(found).startswith(roots)
            and os.path.realpath(found) != here
        )
    return answer


class _Noise(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"log {record.name} {record.levelname}: {record.getMessage()}")


async def execute(command: dict[str, Any]) -> dict[str, Any]:
    op = command["op"]
    if op == "hello":
        return hello(command.get("allowed") or [])
    if op == "stream":
        args = (command["url"], command["webhook_id"], command["token"], command["tokens"])
        if command["style"] == "bare":
            return await bare_stream(*args)
        if command["style"] == "probe":
            return await probe_stream(*args)
        return await daguito_stream(*args, command["style"])
    if op == "run_webhook":
        return await run_webhook_calls(command["url"], command["token"], command["calls"])
    raise ValueError(f"unknown op {op!r}")


async def serve() -> None:
    loop = asyncio.get_running_loop()
    noise = _Noise()
    logging.getLogger().addHandler(noise)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        noise.records = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = await asyncio.wait_for(execute(command), command.get("timeout"))
                answer = {"ok": True, **result}
            except asyncio.TimeoutError:
                answer = {"ok": False, "error": f"timed out after {command['timeout']} s"}
            except Exception:
                answer = {"ok": False, "error": traceback.format_exc()}
        answer["noise"] = noise.records + [
            f"warning {w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
        ]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(serve())
