"""The embedded sink: one SQLite file in WAL mode, ``synchronous=FULL``.

``sqlite:///events.db`` is relative to the working directory, ``sqlite:////var/lib/x.db``
absolute (as SQLAlchemy spells them). A batch is one transaction: ``INSERT OR IGNORE`` on the
unique ``(source, id)`` key, then ``COMMIT``, which in WAL mode with ``synchronous=FULL`` returns
after the write-ahead log is fsynced. Ids stay unique for as long as the delivery is stored.
Several receiver processes may share the file (SQLite serializes their commits).

The event loop never blocks on a slow fsync: the inserts of a batch run on it (they only touch
pages in memory), and the ``COMMIT`` runs on a thread owned by the sink while commits are slow
(on the loop while they take well under a millisecond, which costs less than a thread hand-off).
The WAL is checkpointed on that thread between two batches, once it holds about
``_CHECKPOINT_PAGES`` pages: the loop keeps serving meanwhile (the next batch gathers and waits
for it), and since no write of this connection runs beside it, the checkpoint completes and the
next batch starts the WAL over from its beginning, so the file stays that size under any load.
(A checkpoint running beside the writes never catches up with them under sustained load, and the
WAL then grows without bound.)
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

from relaywire.ingest._sink import (
    Delivery,
    Record,
    Sink,
    SinkError,
    SinkStats,
    SinkUnavailableError,
    query_options,
    sequence_cursor,
)

__all__ = ["SqliteSink"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    received_at REAL NOT NULL,
    headers BLOB NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (source, id)
)
"""
_INSERT = (
    "INSERT OR IGNORE INTO deliveries (source, id, received_at, headers, body) "
    "VALUES (?, ?, ?, ?, ?)"
)
# Checkpoint once the WAL holds about this many pages (SQLite's own auto-checkpoint threshold).
_CHECKPOINT_PAGES = 1000
# How long a write waits for another process's transaction (several workers on one file).
_BUSY_WAIT_MS = 10_000
# Commits faster than this on average run on the event loop (see _commit_on_loop).
_LOOP_COMMIT_SECONDS = 0.001


def sqlite_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        raise SinkError(f"a SQLite sink URL is sqlite:///relative.db or sqlite:////abs.db: {url!r}")
    path = unquote(parts.path[1:])
    if not path:
        raise SinkError("the SQLite sink URL has no file path")
    return path


class SqliteSink(Sink):
    durability: ClassVar[str] = (
        "committed to the SQLite write-ahead log and fsynced (WAL, synchronous=FULL)"
    )

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._wal_pages = 0
        self.commit = query_options(url).get("commit", "auto")
        if self.commit not in ("auto", "loop", "thread"):
            raise SinkError("sink option commit must be auto, loop or thread")
        # A moving average of commit times; the first commits run on the thread.
        self._commit_seconds = _LOOP_COMMIT_SECONDS

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="relaywire-ingest-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # Setting up waits for other processes (workers starting together) ...
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=_BUSY_WAIT_MS / 1000,
            )
            # Two processes switching a new file to WAL together: one is told "locked" at once,
            # without SQLite's busy handler, so this statement waits by itself.
            _retry_while_busy(conn, "PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # Commits never checkpoint; append() does it on the sink's thread between batches.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute(_SCHEMA)
            # ... but then a BEGIN on the event loop never sleeps in SQLite's busy handler: when
            # another process holds the write lock, _begin_waiting waits on the sink's thread.
            conn.execute("PRAGMA busy_timeout=0")
        except (sqlite3.Error, OSError) as exc:
            raise SinkUnavailableError(f"cannot open SQLite database {self.path}: {exc}") from exc
        self._conn = conn
        return conn

    async def open(self) -> None:
        await self._call(self._connect)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_conn)
            executor.shutdown(wait=True)

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _begin_waiting(conn: sqlite3.Connection) -> None:
        _retry_while_busy(conn, "BEGIN IMMEDIATE")

    @staticmethod
    def _commit(conn: sqlite3.Connection, *, wait: bool = True) -> None:
        """COMMIT; a busy database (another process checkpointing) is waited for when ``wait``,
        else reported as :class:`_Busy` with the transaction still open to retry."""
        try:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if not wait:
                    raise _Busy from exc
                _retry_while_busy(conn, "COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _timed_commit(self, conn: sqlite3.Connection) -> None:
        started = time.perf_counter()
        self._commit(conn)
        self._note_commit(time.perf_counter() - started)

    def _note_commit(self, seconds: float) -> None:
        self._commit_seconds += (seconds - self._commit_seconds) / 8

    def _commit_on_loop(self) -> bool:
        """Commit on the event loop while commits are short (the loop would rather block for a
        fast fsync than wait for a thread to be scheduled and take the GIL back); on the sink's
        thread while they are slow, so that the loop keeps serving meanwhile."""
        if self.commit == "auto":
            return self._commit_seconds < _LOOP_COMMIT_SECONDS
        return self.commit == "loop"

    @staticmethod
    def _insert(conn: sqlite3.Connection, batch: Sequence[Record]) -> list[bool]:
        rows = [(r.source, r.id, r.received_at, r.headers, r.body) for r in batch]
        conn.execute("SAVEPOINT batch")
        before = conn.total_changes
        conn.executemany(_INSERT, rows)
        if conn.total_changes - before == len(rows):
            conn.execute("RELEASE batch")
            return [True] * len(rows)
        # Some ids were stored already: redo row by row to learn which.
        conn.execute("ROLLBACK TO batch")
        stored = [conn.execute(_INSERT, row).rowcount == 1 for row in rows]
        conn.execute("RELEASE batch")
        return stored

    async def append(self, batch: Sequence[Record]) -> list[bool]:
        """Inserts run on the event loop (no fsync, and no GIL hand-off per row); the COMMIT,
        which writes and fsyncs the WAL, runs on the sink's thread while commits are slow, and
        so does the checkpoint due before this batch."""
        conn = self._conn if self._conn is not None else await self._call(self._connect)
        if self._wal_pages >= _CHECKPOINT_PAGES:
            self._wal_pages = 0
            # Shielded, like the commit: the connection is not used again before it finishes.
            await asyncio.shield(self._call(_checkpoint, conn))
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                await self._call(self._begin_waiting, conn)  # another process is writing
            try:
                stored = self._insert(conn, batch)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            committed = False
            if self._commit_on_loop():
                started = time.perf_counter()
                try:
                    self._commit(conn, wait=False)
                    committed = True
                except _Busy:  # the wait, if any, happens on the sink's thread
                    pass
                self._note_commit(time.perf_counter() - started)
            if not committed:
                # Shielded: once started, the commit finishes on its thread whatever happens.
                await asyncio.shield(self._call(self._timed_commit, conn))
        except sqlite3.Error as exc:
            raise SinkUnavailableError(f"SQLite write failed: {exc}") from exc
        self._wal_pages += 1 + sum(len(r.body) + len(r.headers) for r in batch) // 4096
        return stored

    def _read(self, after: str | None, limit: int) -> list[Delivery]:
        conn = self._connect()
        rows = conn.execute(
            "SELECT seq, source, id, received_at, headers, body FROM deliveries "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (sequence_cursor(after, "SQLite"), limit),
        ).fetchall()
        return [Delivery.from_stored(s, i, at, h, b, seq) for seq, s, i, at, h, b in rows]

    async def read(self, after: str | None, limit: int) -> list[Delivery]:
        return await self._call(self._read, after, limit)

    def _probe(self) -> None:
        try:
            self._connect().execute("SELECT 1 FROM deliveries LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise SinkUnavailableError(f"SQLite is not usable: {exc}") from exc

    async def probe(self) -> None:
        await self._call(self._probe)

    def _stats(self) -> SinkStats:
        conn = self._connect()
        per_source = dict(
            conn.execute("SELECT source, COUNT(*) FROM deliveries GROUP BY source ORDER BY source")
        )
        first = conn.execute(
            "SELECT seq, received_at FROM deliveries ORDER BY seq LIMIT 1"
        ).fetchone()
        last = conn.execute(
            "SELECT seq, received_at FROM deliveries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        size = sum(
            p.stat().st_size for p in Path(self.path).parent.glob(Path(self.path).name + "*")
        )
        return SinkStats(
            total=sum(per_source.values()),
            per_source=per_source,
            first_cursor=None if first is None else str(first[0]),
            last_cursor=None if last is None else str(last[0]),
            first_received_at=None if first is None else _utc(first[1]),
            last_received_at=None if last is None else _utc(last[1]),
            details={"path": str(Path(self.path).resolve()), "bytes on disk": size},
        )

    async def stats(self) -> SinkStats:
        return await self._call(self._stats)


def _retry_while_busy(conn: sqlite3.Connection, sql: str) -> None:
    """Run ``sql`` until the database is not busy (another process's transaction), for up to
    ``_BUSY_WAIT_MS``. Retries every 0.2 to 2 ms: SQLite's own busy handler sleeps up to 100 ms
    at a time, which a receiver would pay in latency."""
    deadline = time.monotonic() + _BUSY_WAIT_MS / 1000
    pause = 0.0002
    while True:
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.002)


class _Busy(Exception):
    """A COMMIT found the database busy; the transaction is still open."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (named in Python 3.11+)
    return "locked" in str(exc) or "busy" in str(exc)


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL back into the database (``PASSIVE``: it waits for no reader; what another
    process holds is copied at a later checkpoint)."""
    with contextlib.suppress(sqlite3.Error):  # retried at the next one
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
