"""The Daguito part of ``relaywire demo``: the ``daguito`` package against the embedded emulator.

A streaming session prints tokens as they arrive, answers a client tool call and shows tool
progress; then an upload, a knowledge-base ingest and search, and a one-shot run; then a
summary of what each step took. Everything runs on 127.0.0.1; nothing needs a network.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import daguito
from daguito import (
    IngestTextInput,
    KnowledgeSession,
    KnowledgeSessionOptions,
    NodeEmitEvent,
    NodeTokenEvent,
    SearchInput,
    UploadInput,
    WebhookRunInput,
    WebhookStreamOptions,
    WebhookStreamSession,
    parse_tool_progress,
    text_message,
)

__all__ = ["run_daguito_demo"]

T = TypeVar("T")

WEBHOOK_ID = "wh_demo"
WEBHOOK_TOKEN = "sk_wh_demo"
ORG_KEY = "sk_dgt_demo"
SOURCE_ID = "src_demo"


class _Steps:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    async def run(
        self, name: str, step: Callable[[], Awaitable[T]], detail: Callable[[T], str]
    ) -> T:
        start = time.perf_counter()
        result = await step()
        elapsed = time.perf_counter() - start
        self.rows.append((name, elapsed, detail(result)))
        return result


async def _stream(api_url: str, steps: _Steps) -> None:
    opts = WebhookStreamOptions(api_url=api_url, webhook_id=WEBHOOK_ID, token=WEBHOOK_TOKEN)
    async with WebhookStreamSession(opts) as session:

        @session.tool(
            "get_weather",
            "Current weather for a city",
            {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            timeout_seconds=5,
        )
        def get_weather(args: dict[str, Any]) -> dict[str, Any]:
            print(f"    [tool] get_weather({args}) called by the flow")
            return {"city": args.get("city"), "forecast": "sunny", "celsius": 24}

        def show_token(event: NodeTokenEvent) -> None:
            sys.stdout.write(event.text)
            sys.stdout.flush()

        def show_progress(event: NodeEmitEvent) -> None:
            progress = parse_tool_progress(event)
            if progress is None:
                return
            share = "" if progress.progress is None else f" {progress.progress:.0%}"
            line = f"    [progress] {progress.tool}: {progress.stage}{share}"
            if progress.result is not None and progress.result.items:
                items = progress.result.items
                line += f" ({len(items)} results, first: {items[0].title})"
            print(line)

        stop_printing = session.on("node.token", show_token)
        session.on("node.emit", show_progress)

        print("  Streaming a reply, token by token:\n    ", end="")
        turn = await steps.run(
            "stream a reply",
            lambda: session.run_turn(text_message("Hello from the relaywire demo, streamed live")),
            lambda r: f"{len(r.text.split())} tokens in {r.elapsed_ms} ms",
        )
        stop_printing()
        print()
        print("  A client-side tool call:")
        turn = await steps.run(
            "client tool call",
            lambda: session.run_turn(text_message('/tool get_weather {"city": "Lisbon"}')),
            lambda r: r.text.strip(),
        )
        print(f"    flow answered: {turn.text.strip()}")
        print("  Tool progress events:")
        await steps.run(
            "tool progress",
            lambda: session.run_turn(text_message("/progress relaywire sdk")),
            lambda r: "3 progress events",
        )


async def _http_parts(api_url: str, steps: _Steps) -> None:
    data = b"%PDF-1.4\n% relaywire demo document\n" + b"x" * 4000
    upload = await steps.run(
        "presigned upload",
        lambda: daguito.upload_file(
            UploadInput(
                api_url=api_url,
                webhook_id=WEBHOOK_ID,
                token=WEBHOOK_TOKEN,
                kind="document",
                data=data,
                filename="demo.pdf",
            )
        ),
        lambda r: f"{r.size_bytes} bytes (first HTTP call: sets up the connection pool)",
    )
    print(f"  Uploaded demo.pdf: media key {upload.media_key} ({upload.mime_type})")

    async with KnowledgeSession(
        KnowledgeSessionOptions(api_url=api_url, api_key=ORG_KEY, default_source_id=SOURCE_ID)
    ) as kb:
        ingested = await steps.run(
            "knowledge ingest",
            lambda: kb.ingest_text(
                IngestTextInput(
                    text="relaywire verifies webhooks in Rust and streams tokens in batches.",
                    metadata={"topic": "demo"},
                )
            ),
            lambda r: f"{r.chunk_count} chunk(s), {r.token_count} tokens",
        )
        print(f"  Ingested into {ingested.source_id}: {ingested.chunk_count} chunk(s)")
        found = await steps.run(
            "knowledge search",
            lambda: kb.search(SearchInput(query="how are tokens streamed?", top_k=3)),
            lambda r: f"{len(r.hits)} hit(s)",
        )
        for hit in found.hits[:3]:
            print(f"    hit {hit.score:.2f}  {hit.content[:70]}")

    run = await steps.run(
        "one-shot run",
        lambda: daguito.run_webhook(
            WebhookRunInput(api_url=api_url, token=WEBHOOK_TOKEN, input={"text": "one-shot hello"})
        ),
        lambda r: f"status {r.status}",
    )
    print(f"  One-shot run {run.execution_id}: {run.status}, output {run.output}")


async def _demo(api_url: str) -> list[tuple[str, float, str]]:
    steps = _Steps()
    await _stream(api_url, steps)
    await _http_parts(api_url, steps)
    return steps.rows


def run_daguito_demo(api_url: str) -> int:
    """Run the Daguito walkthrough against the emulator at ``api_url``; 0 on success."""
    print("Daguito (package `daguito`, drop-in for daguito-sdk 0.4.5) on the local emulator\n")
    rows = asyncio.run(_demo(api_url))
    print("\n  Summary")
    width = max(len(name) for name, _, _ in rows)
    for name, seconds, detail in rows:
        print(f"    {name.ljust(width)}  {seconds * 1000:8.1f} ms  {detail}")
    return 0
