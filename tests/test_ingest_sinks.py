"""The sink contract, on each engine against a real server: append a batch with de-duplication,
read back in order after a cursor (sync and async), stats, and clear errors for bad URLs and
cursors."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from relaywire.ingest import (
    Delivery,
    Record,
    SinkError,
    SinkUnavailableError,
    aread,
    astats,
    open_sink,
    read,
    stats,
)


@pytest.fixture(
    params=["sqlite", "sqlite-loop", "sqlite-thread", "redis", "redis-cluster", "jetstream"]
)
def sink_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/events.db"
    elif request.param.startswith("sqlite-"):  # each place a commit can run, forced
        yield f"sqlite:///{tmp_path}/events.db?commit={request.param[7:]}"
    elif request.param == "redis":
        yield request.getfixturevalue("redis_server").url("events")
    elif request.param == "redis-cluster":
        yield request.getfixturevalue("redis_cluster").url("events")
    else:
        yield request.getfixturevalue("nats_server").url("EVENTS")


def record(source: str, delivery_id: str, body: bytes, **headers: str) -> Record:
    return Record(source, delivery_id, time.time(), orjson.dumps(headers), body)


async def append(url: str, batch: list[Record]) -> list[bool]:
    sink = open_sink(url)
    await sink.open()
    try:
        return await sink.append(batch)
    finally:
        await sink.close()


# Bytes that are not UTF-8, a NUL, CR/LF: bodies are stored byte for byte.
ODD_BODY = b'{"id":"x"}\x00\xff\xfe\r\n\x80 end'


async def test_append_deduplicates_and_reads_back_in_order(sink_url: str) -> None:
    first = [
        record("linktor", "evt_1", b'{"id":"evt_1"}', **{"x-linktor-signature": "ab"}),
        record("std", "msg_1", ODD_BODY, **{"webhook-id": "msg_1", "x-odd": "caf\u00e9"}),
        record("linktor", "evt_1", b"a retry of the same delivery"),  # same id in one batch
    ]
    assert await append(sink_url, first) == [True, True, False]
    # Another connection (another receiver) sends the same ids again, and a new one.
    second = [record("std", "msg_1", b"retry"), record("linktor", "evt_2", b"two")]
    assert await append(sink_url, second) == [False, True]
    # The same id under another source is another delivery.
    assert await append(sink_url, [record("std", "evt_1", b"other source")]) == [True]

    stored = list(read(sink_url))
    assert [(d.source, d.id, d.body) for d in stored] == [
        ("linktor", "evt_1", b'{"id":"evt_1"}'),
        ("std", "msg_1", ODD_BODY),
        ("linktor", "evt_2", b"two"),
        ("std", "evt_1", b"other source"),
    ]
    assert all(isinstance(d, Delivery) for d in stored)
    assert stored[0].headers == {"x-linktor-signature": "ab"}
    assert stored[1].headers == {"webhook-id": "msg_1", "x-odd": "caf\u00e9"}
    assert stored[0].received_at.tzinfo is not None
    assert abs(stored[0].received_at.timestamp() - time.time()) < 60
    assert len({d.cursor for d in stored}) == 4

    # Resume after each cursor: exactly the rest, sync and async.
    for index, delivery in enumerate(stored):
        assert [d.id for d in read(sink_url, after=delivery.cursor)] == [
            d.id for d in stored[index + 1 :]
        ]
    assert [d.cursor async for d in aread(sink_url, after=stored[1].cursor)] == [
        d.cursor for d in stored[2:]
    ]
    assert [d.id async for d in aread(sink_url)] == [d.id for d in stored]


async def test_reading_pages_through_many_deliveries(sink_url: str) -> None:
    batch = [record("std", f"m{i}", f"body {i}".encode()) for i in range(120)]
    assert await append(sink_url, batch) == [True] * 120
    ids = [d.id async for d in aread(sink_url, page_size=25)]
    assert ids == [f"m{i}" for i in range(120)]
    assert [d.id for d in read(sink_url, page_size=7)][-3:] == ["m117", "m118", "m119"]


async def test_stats_count_per_source(sink_url: str) -> None:
    empty = await astats(sink_url)
    assert (empty.total, empty.per_source, empty.last_cursor) == (0, {}, None)
    await append(
        sink_url,
        [record("a", "1", b"x"), record("b", "1", b"y"), record("a", "2", b"z")],
    )
    result = stats(sink_url)
    assert result.total == 3
    assert result.per_source == {"a": 2, "b": 1}
    stored = list(read(sink_url))
    assert (result.first_cursor, result.last_cursor) == (stored[0].cursor, stored[-1].cursor)
    assert result.last_received_at is not None


def test_bad_cursor_is_a_sink_error(sink_url: str) -> None:
    with pytest.raises(SinkError, match="cursor"):
        list(read(sink_url, after="not-a-cursor"))
    with pytest.raises(SinkError, match="cursor string"):
        list(read(sink_url, after=1.5))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("events.db", "looks like"),
        ("kafka://broker/topic", "unknown sink 'kafka'"),
        ("sqlite://host/events.db", "sqlite:///relative.db"),
        ("sqlite:///", "no file path"),
        ("sqlite:///x.db?commit=later", "commit must be auto, loop or thread"),
        ("nats://127.0.0.1:4222", "nats://host:port/STREAM"),
        ("nats://127.0.0.1:4222/a.b", "letters, digits"),
        ("nats://127.0.0.1:4222/S?replicas=9", "replicas must be in 1..5"),
        ("nats://127.0.0.1:4222/S?timeout=x", "not a number"),
        ("redis://127.0.0.1:6379/0", "needs ?stream=NAME"),
        ("redis://127.0.0.1:6379/0?stream=s&wait=-1", "wait must be 0 or more"),
    ],
)
def test_invalid_sink_urls(url: str, message: str) -> None:
    with pytest.raises(SinkError, match=re.escape(message)):
        open_sink(url)


def test_passwords_never_show_in_a_sink_repr() -> None:
    sink = open_sink("redis://user:hunter2@127.0.0.1:6379/0?stream=s")
    assert "hunter2" not in repr(sink)
    assert "user:***@127.0.0.1:6379" in repr(sink)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:{port}/0?stream=s&timeout=0.5",
        "nats://127.0.0.1:{port}/S?timeout=0.5",
    ],
)
def test_an_unreachable_server_is_unavailable_not_a_crash(url: str) -> None:
    from _ingest_servers import free_port

    sink = open_sink(url.format(port=free_port()))

    async def attempt() -> None:
        try:
            await sink.open()
        finally:
            await sink.close()

    with pytest.raises(SinkUnavailableError):
        asyncio.run(attempt())


def test_sqlite_relative_and_absolute_paths(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    asyncio.run(append("sqlite:///rel/events.db", [record("s", "1", b"x")]))
    assert (tmp_path / "rel" / "events.db").exists()
    assert [d.id for d in read(f"sqlite:///{tmp_path}/rel/events.db")] == ["1"]


def test_sqlite_commits_on_the_loop_only_while_commits_are_fast(tmp_path: Path) -> None:
    from relaywire.ingest.sinks.sqlite import SqliteSink

    auto = SqliteSink(f"sqlite:///{tmp_path}/a.db")
    assert not auto._commit_on_loop()  # until a commit has been timed
    for _ in range(40):
        auto._note_commit(0.0002)  # an SSD's fsync
    assert auto._commit_on_loop()
    for _ in range(40):
        auto._note_commit(0.008)  # a slow disk: the loop keeps serving meanwhile
    assert not auto._commit_on_loop()
    forced = SqliteSink(f"sqlite:///{tmp_path}/b.db?commit=thread")
    forced._note_commit(0.0)
    assert not forced._commit_on_loop()
    assert SqliteSink(f"sqlite:///{tmp_path}/c.db?commit=loop")._commit_on_loop()


class _BusyOnce:
    """A connection whose first COMMIT finds the database busy (another process's checkpoint)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.in_transaction = True

    def execute(self, sql: str) -> None:
        import sqlite3

        self.statements.append(sql)
        if sql == "COMMIT" and self.statements.count("COMMIT") == 1:
            raise sqlite3.OperationalError("database is locked")
        if sql == "COMMIT":
            self.in_transaction = False


def test_a_busy_commit_keeps_the_transaction_and_is_retried_with_a_wait() -> None:
    from relaywire.ingest.sinks.sqlite import SqliteSink, _Busy

    on_loop = _BusyOnce()
    with pytest.raises(_Busy):
        SqliteSink._commit(on_loop, wait=False)  # type: ignore[arg-type]
    assert on_loop.statements == ["COMMIT"] and on_loop.in_transaction  # no ROLLBACK
    on_thread = _BusyOnce()
    SqliteSink._commit(on_thread)  # type: ignore[arg-type]
    assert on_thread.statements == ["COMMIT", "COMMIT"]
    assert not on_thread.in_transaction


def test_sqlite_wal_stays_bounded_under_sustained_writes(tmp_path: Path) -> None:
    """Batch after batch with no pause (a receiver under load), the WAL is checkpointed and
    started over: its file stays near the checkpoint threshold instead of growing with every
    byte written (a checkpoint beside the writes never caught up with them)."""
    from relaywire.ingest.sinks.sqlite import _CHECKPOINT_PAGES, SqliteSink

    sink = SqliteSink(f"sqlite:///{tmp_path}/load.db")
    body = b"x" * 4000
    threshold = _CHECKPOINT_PAGES * 4096

    async def run() -> list[int]:
        await sink.open()
        sizes = []
        try:
            for batch in range(250):  # ~50 MB, twelve times the threshold
                records = [
                    Record("load", f"{batch}-{i}", time.time(), b"{}", body) for i in range(50)
                ]
                assert await sink.append(records) == [True] * 50
                sizes.append((tmp_path / "load.db-wal").stat().st_size)
            return sizes
        finally:
            await sink.close()

    sizes = asyncio.run(run())
    assert 250 * 50 * len(body) > 10 * threshold
    assert max(sizes) < 3 * threshold, (max(sizes), threshold)
    assert stats(f"sqlite:///{tmp_path}/load.db").total == 250 * 50


_OPEN_ON_GO = """
import asyncio, sys
from relaywire.ingest import SinkUnavailableError
from relaywire.ingest.sinks.sqlite import SqliteSink
sink = SqliteSink(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
try:
    asyncio.run(sink.open())
    print("opened", flush=True)
except SinkUnavailableError as exc:
    print(f"refused: {exc}", flush=True)
finally:
    asyncio.run(sink.close())
"""


def test_sqlite_workers_opening_a_new_file_together_all_open_it(tmp_path: Path) -> None:
    """Two processes (``--workers 2``) opening a new database at the same moment: SQLite tells
    one that the file is locked while the other switches it to WAL, without waiting in its busy
    handler; the sink waits instead of failing (which left that worker answering 503 until its
    first probe, while /health, answered by the other worker, said ready)."""
    import subprocess
    import sys

    outcomes = []
    for round_ in range(10):
        url = f"sqlite:///{tmp_path}/new-{round_}.db"
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_ON_GO, url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
            for worker in workers:  # both go at once
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            for worker in workers:
                out, _ = worker.communicate(timeout=30)
                outcomes.append(out.strip())
        finally:
            for worker in workers:  # stopped by their PID whatever happened above
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
    assert outcomes == ["opened"] * 20, outcomes
