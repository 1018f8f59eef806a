"""Reading stored deliveries back, in order, after a cursor the caller persists.

::

    cursor = load_cursor()
    for delivery in relaywire.ingest.read("sqlite:///events.db", after=cursor):
        handle(delivery)              # at-least-once: persist the cursor after handling
        save_cursor(delivery.cursor)

Iteration stops at the last delivery stored when it reaches it; call again (with the last
cursor) for more. :func:`aread` is the async twin; :func:`read` runs it on relaywire's
background event loop, page by page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from relaywire.ingest._sink import Delivery, Sink, SinkError, SinkStats, open_sink
from relaywire.transport.sync import run_sync

__all__ = ["aread", "astats", "read", "stats"]

_PAGE = 500


def _cursor(after: str | int | None) -> str | None:
    if after is None or isinstance(after, str):
        return after
    if isinstance(after, int) and not isinstance(after, bool):
        return str(after)
    raise SinkError(f"after= takes a cursor string (Delivery.cursor), not {type(after).__name__}")


async def aread(
    sink_url: str | Sink, after: str | int | None = None, *, page_size: int = _PAGE
) -> AsyncIterator[Delivery]:
    """Yield the deliveries stored after ``after`` (from the start when ``None``), in order."""
    cursor = _cursor(after)
    sink = open_sink(sink_url) if isinstance(sink_url, str) else sink_url
    await sink.open()
    try:
        while True:
            page = await sink.read(cursor, page_size)
            for delivery in page:
                yield delivery
            if len(page) < page_size:
                return
            cursor = page[-1].cursor
    finally:
        await sink.close()


def read(
    sink_url: str, after: str | int | None = None, *, page_size: int = _PAGE
) -> Iterator[Delivery]:
    """The synchronous twin of :func:`aread`."""
    cursor = _cursor(after)
    sink = open_sink(sink_url)
    run_sync(sink.open())
    try:
        while True:
            page = run_sync(sink.read(cursor, page_size))
            yield from page
            if len(page) < page_size:
                return
            cursor = page[-1].cursor
    finally:
        run_sync(sink.close())


async def astats(sink_url: str) -> SinkStats:
    """Counts per source and the stored range of the sink at ``sink_url``."""
    sink = open_sink(sink_url)
    await sink.open()
    try:
        return await sink.stats()
    finally:
        await sink.close()


def stats(sink_url: str) -> SinkStats:
    """The synchronous twin of :func:`astats`."""
    return run_sync(astats(sink_url))
