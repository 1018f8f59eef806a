"""``daguito.webhook_session``: one-shot runs over HTTP, against the emulator on real sockets
(and a scripted server for answers the emulator never gives)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from _daguito_client_support import (
    Canned,
    canned_http,
    client_port_hook,
    count_async_clients,
    json_answer,
    pool_ports,
)

import daguito.errors
from daguito._http import POOL
from daguito.errors import (
    DaguitoConnectionError,
    DaguitoError,
    DaguitoTimeoutError,
    InvalidTokenError,
    RateLimitError,
)
from daguito.webhook_session import (
    WebhookError,
    WebhookRunInput,
    WebhookRunResult,
    run_webhook,
    run_webhook_sync,
)
from relaywire.emulator import Emulator
from relaywire.transport.sync import run_sync

SURFACE = json.loads((Path(__file__).parent / "data" / "daguito_0_4_5_surface.json").read_text())[
    "daguito.webhook_session"
]["names"]


def fields(cls: type) -> list[tuple[str, Any]]:
    return [
        (f.name, None if f.default is dataclasses.MISSING else repr(f.default))
        for f in dataclasses.fields(cls)
    ]


# -- surface ---------------------------------------------------------------------------------


def test_dataclass_fields_match_daguito_sdk_and_additions_come_last() -> None:
    official = [tuple(pair) for pair in SURFACE["WebhookRunInput"]["fields"]]
    assert fields(WebhookRunInput)[: len(official)] == official
    assert fields(WebhookRunInput)[len(official) :] == [("http_client", "None")]
    assert fields(WebhookRunResult) == [
        *(tuple(p) for p in SURFACE["WebhookRunResult"]["fields"]),
        ("request_id", "None"),  # relaywire addition, not compared
    ]


def test_error_class_is_the_package_one() -> None:
    assert WebhookError is daguito.errors.WebhookError
    assert issubclass(WebhookError, DaguitoError)
    err = WebhookError("boom", 502)
    assert (str(err), err.status) == ("boom", 502)


# -- happy paths -----------------------------------------------------------------------------


async def test_run_returns_the_flow_result(emu: Emulator) -> None:
    result = await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo", {"text": "hello world"}))
    assert result.ok is True
    assert result.status == "completed"
    assert result.output == {"content": "echo: hello world "}
    assert result.execution_id.startswith("exec_")


async def test_no_input_sends_an_empty_object(emu: Emulator) -> None:
    result = await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo"))
    assert (result.ok, result.status) == (True, "completed")
    async with canned_http(lambda seen: json_answer({"ok": True})) as server:
        await run_webhook(WebhookRunInput(server.url, "t"))
        await run_webhook(WebhookRunInput(server.url, "t", {}))
    assert [seen.body for seen in server.requests] == [b"{}", b"{}"]


async def test_account_key_routes_on_the_body_webhook_id(emu: Emulator) -> None:
    emu.call(emu.daguito.add_webhook, "wh_other", "sk_wh_other")
    result = await run_webhook(
        WebhookRunInput(emu.url, "dgsk_acc_demo", {"webhook_id": "wh_other", "text": "hi"})
    )
    assert result.output == {"content": "echo: hi "}


async def test_request_shape() -> None:
    answer = json_answer({"ok": True, "execution_id": "e1", "status": "completed", "output": 1})
    async with canned_http(lambda seen: answer) as server:
        # A base path is kept; the token is one percent-encoded path segment.
        await run_webhook(
            WebhookRunInput(server.url + "/base/", "sk wh/x?y#z", {"text": "é", 7: [1]})
        )
    (seen,) = server.requests
    assert (seen.method, seen.path) == ("POST", "/base/h/sk%20wh%2Fx%3Fy%23z")
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["x-daguito-client-lang"] == "python"
    assert "authorization" not in seen.headers
    # Non-string keys are converted as json.dumps does (orjson alone would refuse them).
    assert seen.json() == {"text": "é", "7": [1]}


async def test_integers_beyond_64_bits_still_encode() -> None:
    answer = json_answer({"ok": True})
    async with canned_http(lambda seen: answer) as server:
        await run_webhook(WebhookRunInput(server.url, "t", {"n": 2**70}))
    assert server.requests[0].json() == {"n": 2**70}


async def test_unserialisable_input_is_a_type_error_before_io() -> None:
    async with canned_http(lambda seen: json_answer({})) as server:
        with pytest.raises(TypeError):
            await run_webhook(WebhookRunInput(server.url, "t", {"s": {1, 2}}))
    assert server.requests == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # A body that is not an object, or lacks keys, reads as daguito-sdk read it.
        ([1, 2], WebhookRunResult(False, "", "unknown", None)),
        ({}, WebhookRunResult(False, "", "unknown", None)),
        (
            {"ok": 1, "execution_id": 5, "status": "x", "output": [1]},
            WebhookRunResult(True, "5", "x", [1]),
        ),
        ({"ok": True, "error": None, "output": "o"}, WebhookRunResult(True, "", "unknown", "o")),
    ],
)
async def test_unusual_bodies(body: Any, expected: WebhookRunResult) -> None:
    async with canned_http(lambda seen: json_answer(body)) as server:
        assert await run_webhook(WebhookRunInput(server.url, "t")) == expected


# -- errors ----------------------------------------------------------------------------------


async def test_bad_token_is_an_invalid_token_webhook_error(emu: Emulator) -> None:
    with pytest.raises(WebhookError) as caught:
        await run_webhook(WebhookRunInput(emu.url, "sk_wh_nope"))
    err = caught.value
    assert isinstance(err, InvalidTokenError)
    assert err.status == 401
    assert str(err) == "HTTP 401: invalid webhook token"
    assert err.request_id  # the emulator's X-Request-ID
    assert err.body == {"error": "invalid webhook token"}


async def test_request_id_comes_from_the_response() -> None:
    answer = json_answer({"error": "nope"}, 403, **{"X-Request-ID": "req_42"})
    async with canned_http(lambda seen: answer) as server:
        with pytest.raises(InvalidTokenError) as caught:
            await run_webhook(WebhookRunInput(server.url, "t"))
    assert isinstance(caught.value, WebhookError)
    assert (caught.value.status, caught.value.request_id) == (403, "req_42")


async def test_server_error_is_not_retried(emu: Emulator) -> None:
    # One injected 500: a retry would have succeeded, but a run is not idempotent.
    emu.faults.http(500, path_prefix="/h/")
    with pytest.raises(WebhookError) as caught:
        await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo", {"text": "x"}))
    assert caught.value.status == 500
    assert str(caught.value) == "HTTP 500: injected fault: HTTP 500"
    assert (await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo"))).ok


async def test_rate_limit(emu: Emulator) -> None:
    emu.faults.http(429, path_prefix="/h/", retry_after=3)
    with pytest.raises(RateLimitError) as caught:
        await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo"))
    assert isinstance(caught.value, WebhookError)
    assert caught.value.status == 429


async def test_dropped_connection_is_a_connection_error(emu: Emulator) -> None:
    emu.faults.http(None, path_prefix="/h/")
    with pytest.raises(WebhookError) as caught:
        await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo"))
    assert isinstance(caught.value, DaguitoConnectionError)
    assert not isinstance(caught.value, DaguitoTimeoutError)
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, Exception)


async def test_refused_connection_is_a_connection_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(WebhookError) as caught:
        await run_webhook(WebhookRunInput(f"http://127.0.0.1:{port}", "t"))
    assert isinstance(caught.value, DaguitoConnectionError)


async def test_failed_flow_raises_with_its_error(emu: Emulator) -> None:
    with pytest.raises(WebhookError) as caught:
        await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo", {"text": "/fail boom"}))
    assert (str(caught.value), caught.value.status) == ("boom", 200)
    assert caught.value.body["status"] == "failed"


@pytest.mark.parametrize("body", [b"not json", b"{", b""])
async def test_invalid_json_is_a_webhook_error(body: bytes) -> None:
    async with canned_http(lambda seen: Canned(200, body)) as server:
        with pytest.raises(WebhookError, match="invalid JSON response") as caught:
            await run_webhook(WebhookRunInput(server.url, "t"))
    assert caught.value.status == 200


async def test_timeout_is_a_timeout_error() -> None:
    async with canned_http(lambda seen: Canned(hang=True)) as server:
        with pytest.raises(WebhookError) as caught:
            await run_webhook(WebhookRunInput(server.url, "t", timeout_seconds=0.2))
    assert isinstance(caught.value, DaguitoTimeoutError)
    assert caught.value.status is None


async def test_timeout_is_a_total_deadline() -> None:
    # Bug W3: daguito-sdk applied timeout_seconds per phase, so a body trickling in one byte
    # every 50 ms never tripped a 0.3 s timeout (it finished after ~2 s). It is a deadline now.
    answer = json_answer({"ok": True, "output": "x" * 40})
    answer.trickle = 0.05
    async with canned_http(lambda seen: answer) as server:
        with pytest.raises(DaguitoTimeoutError):
            await run_webhook(WebhookRunInput(server.url, "t", timeout_seconds=0.3))


@pytest.mark.parametrize("timeout", [0, 0.0, -1, math.nan, math.inf])
async def test_bad_timeouts_are_rejected_before_io(timeout: float) -> None:
    # Bug W3: daguito-sdk silently ran with 90 s when timeout_seconds was 0.
    async with canned_http(lambda seen: json_answer({})) as server:
        with pytest.raises(ValueError, match="timeout_seconds"):
            await run_webhook(WebhookRunInput(server.url, "t", timeout_seconds=timeout))
        with pytest.raises(TypeError, match="timeout_seconds"):
            await run_webhook(WebhookRunInput(server.url, "t", timeout_seconds="5"))  # type: ignore[arg-type]
    assert server.requests == []


async def test_none_timeout_means_the_default(emu: Emulator) -> None:
    assert (await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo", timeout_seconds=None))).ok


async def test_httpx_timeout_is_accepted(emu: Emulator) -> None:
    inp = WebhookRunInput(emu.url, "sk_wh_demo", timeout_seconds=httpx.Timeout(5.0))  # type: ignore[arg-type]
    assert (await run_webhook(inp)).ok


@pytest.mark.parametrize(("token", "error"), [("", ValueError), (None, TypeError)])
async def test_malformed_token_is_rejected_before_io(token: Any, error: type[Exception]) -> None:
    async with canned_http(lambda seen: json_answer({})) as server:
        with pytest.raises(error):
            await run_webhook(WebhookRunInput(server.url, token))
    assert server.requests == []


# -- connection reuse (bug W1) -----------------------------------------------------------------


async def test_calls_share_one_pooled_client_and_connection(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bug W1: daguito-sdk built (and closed) an httpx.AsyncClient, and so a new TCP
    # connection, on every call.
    ports = pool_ports()  # creates this loop's pooled client
    built = count_async_clients(monkeypatch)
    for _ in range(5):
        assert (await run_webhook(WebhookRunInput(emu.url, "sk_wh_demo"))).ok
    assert built[0] == 0
    assert len(ports) == 5 and len(set(ports)) == 1


async def test_injected_client_is_used_and_left_open(emu: Emulator) -> None:
    ports: list[int] = []
    async with httpx.AsyncClient(event_hooks={"response": [client_port_hook(ports)]}) as client:
        for _ in range(3):
            inp = WebhookRunInput(emu.url, "sk_wh_demo", http_client=client)
            assert (await run_webhook(inp)).ok
        assert not client.is_closed
    assert len(ports) == 3 and len(set(ports)) == 1


# -- the sync twin (bug W2) --------------------------------------------------------------------


async def test_sync_twin_works_inside_a_running_loop(emu: Emulator) -> None:
    # Bug W2: daguito-sdk's run_webhook_sync called asyncio.run, which raises RuntimeError
    # inside a running loop (Jupyter, async web handlers).
    result = run_webhook_sync(WebhookRunInput(emu.url, "sk_wh_demo", {"text": "sync"}))
    assert result.output == {"content": "echo: sync "}


def test_sync_twin_works_from_plain_threads(emu: Emulator) -> None:
    results: list[WebhookRunResult] = []

    def worker(index: int) -> None:
        results.append(
            run_webhook_sync(WebhookRunInput(emu.url, "sk_wh_demo", {"text": f"t{index}"}))
        )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.output["content"] for r in results) == ["echo: t0 ", "echo: t1 ", "echo: t2 "]


def test_sync_twin_reuses_the_background_loop_connection(emu: Emulator) -> None:
    async def watch() -> list[int]:
        return pool_ports()

    ports = run_sync(watch())
    for _ in range(3):
        run_webhook_sync(WebhookRunInput(emu.url, "sk_wh_demo"))
    assert len(ports) == 3 and len(set(ports)) == 1

    async def forget() -> None:
        POOL.get().event_hooks["response"].clear()

    run_sync(forget())


def test_sync_twin_raises_the_same_errors(emu: Emulator) -> None:
    with pytest.raises(InvalidTokenError) as caught:
        run_webhook_sync(WebhookRunInput(emu.url, "sk_wh_nope"))
    assert isinstance(caught.value, WebhookError) and caught.value.status == 401
    with pytest.raises(ValueError, match="timeout_seconds"):
        run_webhook_sync(WebhookRunInput(emu.url, "sk_wh_demo", timeout_seconds=0))


async def test_sync_twin_refuses_a_client_of_another_loop(emu: Emulator) -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ValueError, match="http_client"):
            run_webhook_sync(WebhookRunInput(emu.url, "sk_wh_demo", http_client=client))


async def test_sync_twin_from_a_coroutine_leaves_no_unawaited_coroutine(emu: Emulator) -> None:
    # filterwarnings=error turns a "coroutine ... was never awaited" into a failure.
    with pytest.raises(ValueError):
        run_webhook_sync(WebhookRunInput(emu.url, "", timeout_seconds=1))
