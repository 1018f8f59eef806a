"""The flow engine: the command interpreter behind every emulated Daguito webhook.

One implementation of each command serves both transports: the event stream
(:mod:`relaywire.emulator.daguito.stream`) and the HTTP one-shot route (:func:`run_once`). The
engine writes frames to a :class:`FlowSink`; the WebSocket sink sends them, the one-shot sink
collects nothing but the outcome.

What a message does (``text`` is the message text; commands are its first word):

* plain text: streams ``echo: <text>`` one word per ``node.token`` (each token is the word plus
  one space, words split on any whitespace), then completes with
  ``{"content": <the tokens joined>}``. So the content always ends with a space, and runs of
  whitespace in the input become one space. ``base_input.image_url`` / ``image_urls`` add the
  tokens ``image: <url>`` per URL and ``"images": [...]`` to the output.
* ``/stream N``: N tokens ``t0 ``, ``t1 ``, ... then completes the same way (the content is every
  token joined: about 7 bytes per token, so N above ~140 000 gives a completion frame over
  1 MiB).
* ``/tool NAME JSON``: calls a client tool from ``base_input.client_tools``; completes with
  ``tool NAME returned <result as compact JSON with sorted keys>`` (one token).
* ``/progress [QUERY]``: three ``tool_progress`` ``node.emit`` frames (started, halfway,
  completed with a result), then completes with a summary.
* ``/scope``: completes with ``base_input.scope`` as compact JSON with sorted keys (``null``
  when absent), values exactly as received (no filtering), in one token.
* ``/fail TEXT``: ``node.failed`` + ``flow.failed`` with error ``TEXT`` (``"failed"`` if empty).
* ``/form ID``: a ``node.emit`` of kind ``form``, then waits for the form response, and
  completes with its payload as the output. Over HTTP the run ends as ``"waiting"``.
* a form response (``base_input.is_form_response``) that no form is waiting for: completes at
  once with its payload as the output.
* a media message (``message.media.key``): describes the upload it references; an unknown key
  or an upload whose bytes never arrived fails.
* an unknown ``/command`` is plain text.

Every completed text output satisfies ``output["content"] == "".join(tokens)``. Lifecycle
frames: ``node.started`` first, then tokens / emits, then ``node.completed`` (``duration_ms``,
``output``) and ``flow.completed`` (``output``), or ``node.failed`` and ``flow.failed``. Every
lifecycle and emit frame's ``data`` carries the run's ``execution_id``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from relaywire.emulator._http import new_id

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = [
    "NODE_ID",
    "FlowRequest",
    "FlowSink",
    "OneShotResult",
    "RunAbandoned",
    "ToolReply",
    "run_flow",
    "run_once",
]

NODE_ID = "agent"
# The official Python client's default tool timeout (30 s), used when a spec has none.
DEFAULT_TOOL_TIMEOUT_MS = 30_000
MAX_STREAM_TOKENS = 10_000_000
MEDIA_KINDS = frozenset({"image", "audio", "document", "video"})


class RunAbandoned(Exception):
    """Raised by a sink to end a run silently (a fault closed the stream mid-flow)."""


@dataclass
class ToolReply:
    """A client's ``tool_result``."""

    ok: bool
    result: Any = None
    error: str | None = None


@dataclass
class OneShotResult:
    """How a run ended: ``status`` is ``"completed"``, ``"failed"`` or ``"waiting"`` (a form)."""

    ok: bool
    execution_id: str
    status: str
    output: Any
    error: str | None = None


@dataclass
class FlowRequest:
    """One run's input: the message (text, kind, media) and the merged ``base_input``."""

    text: str | None = None
    kind: str = "text"
    media: Mapping[str, Any] | None = None
    base_input: Mapping[str, Any] = field(default_factory=dict)
    # Started by ``session.open`` rather than by a message.
    opened: bool = False


class FlowSink(Protocol):
    """Where a run's frames go. ``interactive`` sinks have a client that can answer tool
    calls and forms."""

    interactive: bool

    async def frame(self, type_: str, data: dict[str, Any], *, node: bool = True) -> None:
        """Send one lifecycle frame (``node`` frames carry ``node_id``)."""

    async def tokens(self, texts: Sequence[str]) -> None:
        """Send one ``node.token`` per text."""

    async def numbered_tokens(self, stem: str, count: int) -> None:
        """Send ``count`` tokens ``f"{stem}{i} "`` for i in 0..count-1, as fast as possible."""

    async def wait_tool_result(self, call_id: str, timeout_s: float) -> ToolReply:
        """The client's answer to ``call_id``; raises :class:`TimeoutError` after ``timeout_s``."""

    async def wait_form(self, form_id: str) -> Any:
        """The payload of the response to form ``form_id``."""


def dumps_sorted(value: Any) -> str:
    """Compact JSON with sorted keys: the deterministic text of ``/scope`` and ``/tool``."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def numbered_text(stem: str, count: int) -> str:
    """What a client gets by joining ``/stream`` tokens."""
    return "".join([f"{stem}{i} " for i in range(count)])


class _Run:
    def __init__(
        self, ctx: EmulatorContext, request: FlowRequest, sink: FlowSink, execution_id: str
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.base_input = request.base_input
        self.sink = sink
        self.execution_id = execution_id
        self.started = time.perf_counter()

    # -- endings ------------------------------------------------------------------------------

    async def complete(self, output: Any) -> OneShotResult:
        duration_ms = int((time.perf_counter() - self.started) * 1000)
        eid = self.execution_id
        await self.sink.frame(
            "node.completed", {"duration_ms": duration_ms, "output": output, "execution_id": eid}
        )
        await self.sink.frame("flow.completed", {"output": output, "execution_id": eid}, node=False)
        return OneShotResult(True, eid, "completed", output)

    async def fail(self, error: str) -> OneShotResult:
        eid = self.execution_id
        await self.sink.frame("node.failed", {"error": error, "execution_id": eid})
        await self.sink.frame("flow.failed", {"error": error, "execution_id": eid}, node=False)
        return OneShotResult(False, eid, "failed", None, error)

    async def say(self, words: Sequence[str], **extra: Any) -> OneShotResult:
        """Stream words (each plus a space) and complete with their concatenation."""
        texts = [f"{word} " for word in words]
        await self.sink.tokens(texts)
        return await self.complete({"content": "".join(texts), **extra})

    async def say_once(self, text: str) -> OneShotResult:
        """Stream ``text`` as a single token (keeps its inner whitespace exact)."""
        await self.sink.tokens([text])
        return await self.complete({"content": text})

    async def emit(self, data: dict[str, Any]) -> None:
        await self.sink.frame("node.emit", {**data, "execution_id": self.execution_id})

    # -- dispatch -----------------------------------------------------------------------------

    async def run(self) -> OneShotResult:
        await self.sink.frame("node.started", {"execution_id": self.execution_id})
        request = self.request
        if request.media is not None:
            return await self.media(request.media)
        if self.base_input.get("is_form_response") is True:
            return await self.complete(self.base_input.get("form_response"))
        text = request.text
        if request.opened and text is None:
            text_in = self.base_input.get("text")
            if not isinstance(text_in, str):
                return await self.say(["session", "opened"])
            text = text_in
        text = text or ""
        parts = text.split(None, 1)
        command = parts[0] if parts else ""
        rest = parts[1].strip() if len(parts) > 1 else ""
        if command == "/stream":
            return await self.stream(rest)
        if command == "/tool":
            return await self.tool(rest)
        if command == "/progress":
            return await self.progress(rest)
        if command == "/scope":
            return await self.say_once(dumps_sorted(self.base_input.get("scope")))
        if command == "/fail":
            return await self.fail(rest or "failed")
        if command == "/form":
            return await self.form(rest)
        return await self.echo(text)

    # -- commands -----------------------------------------------------------------------------

    async def echo(self, text: str) -> OneShotResult:
        words = ["echo:", *text.split()]
        urls: list[str] = []
        image_url = self.base_input.get("image_url")
        if isinstance(image_url, str):
            urls.append(image_url)
        image_urls = self.base_input.get("image_urls")
        if isinstance(image_urls, list):
            urls.extend(url for url in image_urls if isinstance(url, str))
        for url in urls:
            words += ["image:", url]
        if urls:
            return await self.say(words, images=urls)
        return await self.say(words)

    async def stream(self, rest: str) -> OneShotResult:
        try:
            count = int(rest)
        except ValueError:
            count = -1
        if not 0 <= count <= MAX_STREAM_TOKENS:
            return await self.fail(f"usage: /stream N (an integer from 0 to {MAX_STREAM_TOKENS})")
        await self.sink.numbered_tokens("t", count)
        return await self.complete({"content": numbered_text("t", count)})

    async def tool(self, rest: str) -> OneShotResult:
        parts = rest.split(None, 1)
        if not parts:
            return await self.fail("usage: /tool NAME JSON")
        name = parts[0]
        try:
            args = orjson.loads(parts[1]) if len(parts) > 1 else {}
        except orjson.JSONDecodeError as exc:
            return await self.fail(f"/tool {name}: the arguments are not valid JSON: {exc}")
        specs = self.base_input.get("client_tools")
        specs = specs if isinstance(specs, list) else []
        spec = next((s for s in specs if isinstance(s, dict) and s.get("name") == name), None)
        if spec is None:
            known = [s.get("name") for s in specs if isinstance(s, dict)]
            return await self.fail(
                f"unknown client tool {name!r}: base_input.client_tools has {known!r}"
            )
        if not self.sink.interactive:
            return await self.fail(
                f"client tool {name!r} needs a connected client to answer it; "
                "HTTP runs cannot call client tools (use the event stream)"
            )
        timeout_ms = spec.get("client_timeout_ms")
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
            timeout_ms = DEFAULT_TOOL_TIMEOUT_MS
        timeout_ms = min(timeout_ms, self.ctx.config.max_tool_wait_ms)
        call_id = new_id("call")
        await self.emit(
            {"kind": "agent.tool_call_started", "tool_name": name, "call_id": call_id, "args": args}
        )
        try:
            reply = await self.sink.wait_tool_result(call_id, timeout_ms / 1000)
        except TimeoutError:
            return await self.fail(f"client tool {name!r} timed out after {timeout_ms} ms")
        if not reply.ok:
            return await self.fail(f"client tool {name!r} failed: {reply.error or 'error'}")
        return await self.say_once(f"tool {name} returned {dumps_sorted(reply.result)}")

    async def progress(self, rest: str) -> OneShotResult:
        query = rest or "emulator"
        base = {
            "kind": "tool_progress",
            "tool": "web_search",
            "resource": {"kind": "url", "name": "example.com", "url": "https://example.com/"},
            "trace_id": new_id("tr"),
            "attempt": 1,
        }
        items = [
            {"title": f"{query} (1)", "snippet": "first hit", "url": "https://example.com/1"},
            {"title": f"{query} (2)", "snippet": "second hit", "url": "https://example.com/2"},
        ]
        summary = f"found {len(items)} results for {query}"
        await self.emit({**base, "stage": "started", "progress": 0.0})
        await self.emit({**base, "stage": "halfway", "progress": 0.5})
        result = {"summary": summary, "items": items}
        await self.emit({**base, "stage": "completed", "progress": 1.0, "result": result})
        return await self.say(summary.split())

    async def form(self, form_id: str) -> OneShotResult:
        if not form_id:
            return await self.fail("usage: /form ID")
        form = {
            "kind": "form",
            "form_id": form_id,
            "title": f"Form {form_id}",
            "fields": [
                {"name": "name", "label": "Name", "type": "string", "required": True},
                {"name": "email", "label": "Email", "type": "email", "required": False},
            ],
        }
        await self.emit(form)
        if not self.sink.interactive:
            return OneShotResult(True, self.execution_id, "waiting", form)
        payload = await self.sink.wait_form(form_id)
        return await self.complete(payload)

    async def media(self, media: Mapping[str, Any]) -> OneShotResult:
        key = media.get("key")
        upload = self.ctx.daguito.uploads.get(key) if isinstance(key, str) else None
        if upload is None:
            return await self.fail(f"unknown media key {key!r}")
        if not upload.complete:
            return await self.fail(f"upload {key!r} has no bytes: its PUT never arrived")
        words = [
            "received",
            upload.kind,
            upload.filename,
            f"({upload.mime_type},",
            f"{upload.size_bytes}",
            "bytes)",
        ]
        if self.request.text:
            words += ["with", "text:", *self.request.text.split()]
        described = {
            "key": upload.key,
            "kind": upload.kind,
            "mime_type": upload.mime_type,
            "size_bytes": upload.size_bytes,
            "filename": upload.filename,
        }
        return await self.say(words, media=described)


async def run_flow(
    ctx: EmulatorContext, request: FlowRequest, sink: FlowSink, execution_id: str | None = None
) -> OneShotResult:
    """Run one flow to its end, writing its frames to ``sink``.

    Raises :class:`RunAbandoned` when the sink abandons the run (a stream fault), and
    :class:`asyncio.CancelledError` when the run is cancelled; the caller reports those.
    """
    run = _Run(ctx, request, sink, execution_id or new_id("exec"))
    return await run.run()


class _CollectingSink:
    """The one-shot sink: no client, so no frames go anywhere and nobody answers."""

    interactive = False

    async def frame(self, type_: str, data: dict[str, Any], *, node: bool = True) -> None:
        return None

    async def tokens(self, texts: Sequence[str]) -> None:
        return None

    async def numbered_tokens(self, stem: str, count: int) -> None:
        return None

    async def wait_tool_result(self, call_id: str, timeout_s: float) -> ToolReply:
        raise TimeoutError  # unreachable: the engine checks ``interactive`` first

    async def wait_form(self, form_id: str) -> Any:
        raise TimeoutError  # unreachable: the engine checks ``interactive`` first


def request_from_message(
    message: Mapping[str, Any] | None, base_input: Mapping[str, Any] | None
) -> FlowRequest:
    """A :class:`FlowRequest` from a wire ``message`` object and its ``base_input``."""
    base = dict(base_input) if isinstance(base_input, Mapping) else {}
    if message is None:
        return FlowRequest(base_input=base, opened=True)
    text = message.get("text")
    kind = message.get("kind")
    media = message.get("media")
    return FlowRequest(
        text=text if isinstance(text, str) else None,
        kind=kind if isinstance(kind, str) else "text",
        media=media if isinstance(media, Mapping) else None,
        base_input=base,
    )


async def run_once(
    ctx: EmulatorContext,
    webhook_id: str,
    text: str,
    base_input: dict[str, Any],
    *,
    message: Mapping[str, Any] | None = None,
) -> OneShotResult:
    """Run a flow for the HTTP one-shot route (``POST /h/{token}``) and return how it ended.

    ``message`` (a wire message object, e.g. with ``media``) overrides ``text`` when given.
    Nobody can answer a client tool over HTTP, so ``/tool`` fails; ``/form`` ends as
    ``"waiting"`` with the form as the output.
    """
    request = request_from_message(message or {"kind": "text", "text": text}, base_input)
    return await run_flow(ctx, request, _CollectingSink())
