"""The servers ``bench_ingest.py`` measures ours against, each run in its own process.

* ``baseline:app``: what users write today. A Starlette route on uvicorn (httptools, uvloop),
  verifying with the ``standardwebhooks`` library, then one sqlite3 insert and commit per
  request (WAL, synchronous=FULL, the delivery id unique).
* ``floor:app``: a bare ASGI app answering 200 without reading the request, for granian.
* ``durable_floor``: an RSGI app that only reads the body and stores it by group commit in
  SQLite (WAL, synchronous=FULL) before answering 200: informative, the least a durable
  receiver does on this server.

Configuration comes from the environment: ``BENCH_DB`` (baseline database path) and
``BENCH_SECRET`` (the Standard Webhooks secret); ``BENCH_COMMIT`` (``thread``, the default, or
``loop``: where the durable floor commits).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Any


def _baseline() -> Any:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    hook = Webhook(os.environ["BENCH_SECRET"])
    db = sqlite3.connect(os.environ["BENCH_DB"], isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, received_at REAL, body BLOB)"
    )

    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            hook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        db.execute("BEGIN")
        db.execute(
            "INSERT OR IGNORE INTO events VALUES (?, julianday('now'), ?)",
            (request.headers["webhook-id"], body),
        )
        db.execute("COMMIT")
        return JSONResponse({"status": "stored"})

    return Starlette(routes=[Route("/hooks/std", webhook, methods=["POST"])])


async def floor(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def baseline() -> Any:
    """uvicorn factory for the baseline app."""
    return _baseline()


class _DurableFloor:
    """RSGI (granian's own interface): read the body, store it in SQLite by group commit (WAL,
    synchronous=FULL; one transaction for everything queued while the last one committed), answer
    200 once it is committed. No verification, no delivery id, no headers kept, no metrics: the
    least a durable receiver does, as a bound on what ours can do."""

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None
        self.rows: list[tuple[bytes]] = []
        self.waiting: list[Any] = []
        self.writer: asyncio.Task[None] | None = None
        self.on_loop = os.environ.get("BENCH_COMMIT", "thread") == "loop"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(os.environ["BENCH_DB"], isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS bodies (body BLOB)")
        return db

    def __rsgi_init__(self, loop: Any) -> None:
        self.db = self._connect()

    def __rsgi_del__(self, loop: Any) -> None:
        if self.db is not None:
            self.db.close()

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        if scope.method != "POST":
            protocol.response_empty(200, [])
            return
        body = bytes(await protocol())
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.rows.append((body,))
        self.waiting.append(future)
        if self.writer is None or self.writer.done():
            self.writer = loop.create_task(self._write())
        await future
        protocol.response_empty(200, [])

    async def _write(self) -> None:
        db = self.db
        assert db is not None
        loop = asyncio.get_running_loop()
        while self.rows:
            rows, waiting = self.rows, self.waiting
            self.rows, self.waiting = [], []
            db.execute("BEGIN")
            db.executemany("INSERT INTO bodies VALUES (?)", rows)
            if self.on_loop:
                db.execute("COMMIT")
            else:
                await loop.run_in_executor(None, db.execute, "COMMIT")
            for future in waiting:
                future.set_result(None)


durable_floor = _DurableFloor()
