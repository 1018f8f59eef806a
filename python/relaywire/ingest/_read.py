"""Reading stored deliveries back, in order, after a cursor the caller persists.

::

    cursor = load_cursor()
    for delivery in relaywire.ingest.read("sqlite:///events.db", after=cursor):
        handle(delivery)              # at-least-once: persist the cursor after handling
        save_cursor(delivery.cursor)

Iteration stops at the last delivery stored when it reaches it; call again (with the last
cursor) for more. :func:`aread` is the async twin; :func:`read` runs it on relaywire's
background event loop, page by page.

``events=`` maps source names to decoders (``Delivery -> event``) that the platform's package
provides, so that this package never imports one::

    from linktor.webhooks import delivery_event

    for delivery in relaywire.ingest.read(url, after=cursor, events={"linktor": delivery_event}):
        delivery.event                # the WebhookEvent construct_event gives for that body

Deliveries of other sources have ``event=None``. A decoder that raises stops the iteration
with :class:`DeliveryEventError`, whose ``delivery.cursor`` resumes after the delivery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeAlias

from relaywire.ingest._sink import (
    Delivery,
    DeliveryEventError,
    Sink,
    SinkError,
    SinkStats,
    open_sink,
)
from relaywire.transport.sync import run_sync

__all__ = ["EventDecoders", "aread", "astats", "read", "stats"]

_PAGE = 500

#: Per source name, what makes its deliveries' ``event`` (``linktor.webhooks.delivery_event``).
EventDecoders: TypeAlias = Mapping[str, Callable[[Delivery], Any]]


def _decoders(events: EventDecoders | None) -> dict[str, Callable[[Delivery], Any]]:
    if events is None:
        return {}
    if not isinstance(events, Mapping):
        raise TypeError(
            "events= maps source names to decoders, e.g. {'linktor': delivery_event}, "
            f"not {type(events).__name__}"
        )
    for source, decode in events.items():
        if not isinstance(source, str) or not callable(decode):
            raise TypeError(f"events= needs source names and callables, not {source!r}: {decode!r}")
    return dict(events)


def _with_event(delivery: Delivery, decoders: dict[str, Callable[[Delivery], Any]]) -> Delivery:
    """``delivery`` with the ``event`` its source's decoder made of it (if it has one)."""
    decode = decoders.get(delivery.source)
    if decode is None:
        return delivery
    try:
        event = decode(delivery)
    except Exception as exc:
        raise DeliveryEventError(delivery, exc) from exc
    return dataclasses.replace(delivery, event=event)


def _cursor(after: str | int | None) -> str | None:
    if after is None or isinstance(after, str):
        return after
    if isinstance(after, int) and not isinstance(after, bool):
        return str(after)
    raise SinkError(f"after= takes a cursor string (Delivery.cursor), not {type(after).__name__}")


async def aread(
    sink_url: str | Sink,
    after: str | int | None = None,
    *,
    page_size: int = _PAGE,
    events: EventDecoders | None = None,
) -> AsyncIterator[Delivery]:
    """Yield the deliveries stored after ``after`` (from the start when ``None``), in order,
    each with the ``event`` its source's decoder in ``events`` made of it."""
    cursor = _cursor(after)
    decoders = _decoders(events)
    sink = open_sink(sink_url) if isinstance(sink_url, str) else sink_url
    await sink.open()
    try:
        while True:
            page = await sink.read(cursor, page_size)
            for delivery in page:
                yield _with_event(delivery, decoders) if decoders else delivery
            if len(page) < page_size:
                return
            cursor = page[-1].cursor
    finally:
        await sink.close()


def read(
    sink_url: str,
    after: str | int | None = None,
    *,
    page_size: int = _PAGE,
    events: EventDecoders | None = None,
) -> Iterator[Delivery]:
    """The synchronous twin of :func:`aread`."""
    cursor = _cursor(after)
    decoders = _decoders(events)
    sink = open_sink(sink_url)
    run_sync(sink.open())
    try:
        while True:
            page = run_sync(sink.read(cursor, page_size))
            if decoders:
                for delivery in page:  # one at a time: an error comes after the ones before
                    yield _with_event(delivery, decoders)
            else:
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
