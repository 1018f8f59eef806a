"""The soak's own server (benches/_soak_server.py): its faults stay bounded when traffic stops.

The soak once ran its load phase clean and then never finished: while it wound down, nobody
sent REST requests, the fault schedule kept queueing "the next 3 requests fail" every few
seconds, and the final listing met a backlog of failures that grew faster than its backing-off
retries used it up.
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx

from relaywire.emulator import Emulator

SERVER = Path(__file__).resolve().parent.parent / "benches" / "_soak_server.py"


def soak_server() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_soak_server", SERVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def fault_schedule(emu: Emulator, interval: float) -> Iterator[threading.Event]:
    """The soak server's fault schedule running against ``emu`` (stopped, faults cleared, on
    exit); yields the event that stops it."""
    stop = threading.Event()
    schedule = threading.Thread(target=soak_server().fault_schedule, args=(emu, interval, stop))
    schedule.start()
    try:
        yield stop
    finally:
        stop.set()
        schedule.join(5)
        emu.faults.clear()


def test_faults_do_not_pile_up_while_no_request_comes(emu: Emulator) -> None:
    with fault_schedule(emu, 0.01) as stop:
        # Forty intervals without a request: one batch is queued, and no more.
        stop.wait(0.4)
        assert emu.faults.pending_http() == 3
        statuses = [httpx.get(f"{emu.linktor_url}/conversations").status_code for _ in range(3)]
        assert statuses == [500, 500, 500]
    assert httpx.get(f"{emu.linktor_url}/conversations").status_code in (200, 401)


def test_the_next_batch_follows_once_one_is_used_up(emu: Emulator) -> None:
    with fault_schedule(emu, 0.01) as stop:
        seen: list[int] = []
        for _ in range(200):
            if emu.faults.pending_http():
                seen.append(httpx.get(f"{emu.linktor_url}/conversations").status_code)
                if len(seen) == 6:
                    break
            stop.wait(0.01)
        # 500 three times, then the next batch: 502 three times (the statuses take turns).
        assert seen == [500, 500, 500, 502, 502, 502]
