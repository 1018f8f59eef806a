"""The durable floor of ``benches/bench_ingest.py`` stores every body it answers 200, committed
(a bound on what a durable receiver can do only holds if the floor really stores)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sqlite3
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

APPS = Path(__file__).resolve().parent.parent / "benches" / "_ingest_apps.py"


def _apps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_ingest_apps_under_test", APPS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class _Protocol:
    """Granian's RSGI protocol as the floor uses it: one body read, then an empty answer."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status: int | None = None

    async def __call__(self) -> bytes:
        await asyncio.sleep(0)
        return self.body

    def response_empty(self, status: int, headers: list[Any]) -> None:
        self.status = status


@pytest.mark.parametrize("commit", ["loop", "thread"])
def test_every_body_answered_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, commit: str
) -> None:
    db = tmp_path / "floor.db"
    monkeypatch.setenv("BENCH_DB", str(db))
    monkeypatch.setenv("BENCH_COMMIT", commit)
    floor = _apps()._DurableFloor()
    scope = SimpleNamespace(proto="http", method="POST")
    bodies = [f"body {i}".encode() * (i % 7 + 1) for i in range(300)]

    async def main() -> list[_Protocol]:
        floor.__rsgi_init__(asyncio.get_running_loop())
        protocols = [_Protocol(body) for body in bodies]
        await asyncio.gather(*(floor.__rsgi__(scope, p) for p in protocols))
        return protocols

    protocols = asyncio.run(main())
    assert [p.status for p in protocols] == [200] * len(bodies)
    floor.__rsgi_del__(None)
    # A second connection sees only what was committed.
    with contextlib.closing(sqlite3.connect(db)) as check:
        stored = sorted(row[0] for row in check.execute("SELECT body FROM bodies"))
    assert stored == sorted(bodies)
