"""The servers ``bench_ingest.py`` measures ours against, each run in its own process.

* ``baseline:app``: what users write today. A Starlette route on uvicorn (httptools, uvloop),
  verifying with the ``standardwebhooks`` library, then one sqlite3 insert and commit per
  request (WAL, synchronous=FULL, the delivery id unique).
* ``floor:app``: a bare ASGI app answering 200 without reading the request, for granian.

Configuration comes from the environment: ``BENCH_DB`` (baseline database path) and
``BENCH_SECRET`` (the Standard Webhooks secret).
"""

from __future__ import annotations

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
