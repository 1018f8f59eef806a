"""A forked child works, and so does its parent (gunicorn --preload, Celery prefork, and
multiprocessing's default start method on Linux all fork a process that already used relaywire).

Before the fix the child inherited the sync runner's event loop without its thread, so every sync
twin waited forever; it also inherited the parent's pooled connections (two processes on one
socket) and rayon's thread pool without its threads.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import daguito
from daguito import (
    SyncWebhookStreamSession,
    WebhookRunInput,
    WebhookRunStreamInput,
    WebhookStreamOptions,
    text_message,
)
from linktor import LinktorClient
from relaywire.emulator import Emulator
from relaywire.webhooks import LinktorVerifier

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

#: A hung child is killed after this long (a hang guard, not a speed check).
HANG_GUARD_SECONDS = 60.0


def big_batch(verifier: LinktorVerifier) -> tuple[list[bytes], list[str]]:
    """A batch large enough for the thread pool (10,000 x 1 KiB), every 7th signature wrong."""
    bodies = [os.urandom(1024) for _ in range(10_000)]
    signatures = [verifier.sign(b) if i % 7 else "0" * 64 for i, b in enumerate(bodies)]
    return bodies, signatures


def in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Fork; run ``work`` in the child and return what it reported (or its error)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # 3.12+ warns that forking a multi-threaded process may deadlock: the point of the test.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            try:
                report = {"ok": True, **work()}
            except BaseException:
                report = {"ok": False, "error": traceback.format_exc()}
                code = 1
            os.write(write_end, json.dumps(report).encode())
            os.close(write_end)
        finally:
            os._exit(code)
    os.close(write_end)
    return _wait(pid, read_end)


def _wait(pid: int, read_end: int) -> dict[str, Any]:
    chunks: list[bytes] = []
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"the forked child hung for {HANG_GUARD_SECONDS:g}s")
            ready, _, _ = select.select([read_end], [], [], min(left, 0.5))
            if ready:
                data = os.read(read_end, 65536)
                if not data:
                    break
                chunks.append(data)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    report: dict[str, Any] = json.loads(b"".join(chunks) or b"{}")
    assert report.get("ok"), report.get("error", f"child exited with status {status}")
    return report


def test_child_and_parent_both_work_after_a_fork(emu: Emulator) -> None:
    run = WebhookRunInput(api_url=emu.url, token="sk_wh_demo", input={"text": "x"})
    opts = WebhookStreamOptions(api_url=emu.url, webhook_id="wh_demo", token="sk_wh_demo")
    one_shot = WebhookRunStreamInput(
        api_url=emu.url, webhook_id="wh_demo", token="sk_wh_demo", text="streamed once"
    )
    verifier = LinktorVerifier("fork-secret")
    bodies, signatures = big_batch(verifier)
    expected = [bool(i % 7) for i in range(len(bodies))]

    # The parent uses everything first: the runner thread, pooled connections, rayon's pool.
    assert daguito.run_webhook_sync(run).status == "completed"
    client = LinktorClient(base_url=emu.linktor_url, api_key="lk_demo")
    assert client.conversations.get("conv_demo").id == "conv_demo"
    parent_pool = id(client._http._httpx())
    assert verifier.verify_many(bodies, signatures) == expected
    with SyncWebhookStreamSession(opts) as session:
        assert session.collect_text(text_message("before")) == "echo: before "

        def child() -> dict[str, Any]:
            return {
                "run": daguito.run_webhook_sync(run).status,
                "stream": daguito.run_webhook_stream_sync(one_shot).output,
                "session": _fresh_session_text(opts),
                "linktor": client.conversations.send_text("conv_demo", "from the child").text,
                "own_pool": id(client._http._httpx()) != parent_pool,
                "batch": verifier.verify_many(bodies, signatures) == expected,
            }

        report = in_child(child)
        # the parent's session, client and runner still work
        assert session.collect_text(text_message("after")) == "echo: after "
    assert daguito.run_webhook_sync(run).status == "completed"
    assert client.conversations.get("conv_demo").id == "conv_demo"
    assert id(client._http._httpx()) == parent_pool
    client.close()
    assert report == {
        "ok": True,
        "run": "completed",
        "stream": {"content": "echo: streamed once "},
        "session": "echo: child ",
        "linktor": "from the child",
        "own_pool": True,
        "batch": True,
    }


def _fresh_session_text(opts: WebhookStreamOptions) -> str:
    with SyncWebhookStreamSession(opts) as session:
        return session.collect_text(text_message("child"))


def test_a_child_forked_before_any_use_works_too(emu: Emulator) -> None:
    run = WebhookRunInput(api_url=emu.url, token="sk_wh_demo")
    report = in_child(lambda: {"run": daguito.run_webhook_sync(run).status})
    assert report["run"] == "completed"


def test_batch_verification_in_a_forked_child() -> None:
    # rayon's global pool came over without its threads: a large verify_many waited forever.
    verifier = LinktorVerifier("fork-secret")
    bodies, signatures = big_batch(verifier)
    expected = [bool(i % 7) for i in range(len(bodies))]
    assert verifier.verify_many(bodies, signatures) == expected  # the parent's pool is up
    report = in_child(lambda: {"batch": verifier.verify_many(bodies, signatures) == expected})
    assert report["batch"] is True
    assert verifier.verify_many(bodies, signatures) == expected


def test_ed25519_batches_and_arrow_columns_in_a_forked_child() -> None:
    # verify_arrow and the Ed25519 batches use the same per-process pool as verify_many.
    import base64

    import pyarrow as pa

    from relaywire.webhooks import StandardWebhook, verify_arrow

    seed = bytes(range(32))
    signer, hmac = StandardWebhook("whsk_" + base64.b64encode(seed).decode()), StandardWebhook(b"k")
    bodies = [os.urandom(256) for _ in range(600)]
    v1a = [
        {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": signer.sign("m", 1, b)}
        for b in bodies
    ]
    table = pa.table(
        {
            "body": pa.array([os.urandom(1024) for _ in range(5000)], pa.binary()),
            "webhook-id": ["m"] * 5000,
            "webhook-timestamp": ["1"] * 5000,
        }
    )
    table = table.append_column(
        "webhook-signature", pa.array([hmac.sign("m", 1, b.as_py()) for b in table["body"]])
    )

    def work() -> dict[str, Any]:
        batch = signer.verify_many(bodies, v1a, tolerance=None)
        arrow = verify_arrow(hmac, table, tolerance=None).to_pylist()
        return {"batch": batch == [True] * 600, "arrow": arrow == [True] * 5000}

    assert work() == {"batch": True, "arrow": True}  # the parent's pool is up
    report = in_child(work)
    assert (report["batch"], report["arrow"]) == (True, True), report
    assert work() == {"batch": True, "arrow": True}
