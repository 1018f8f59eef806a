"""Auto-pagination: iterate the items of every page of a list method, sync or async.

Every list method returns a :class:`~linktor.types.common.PaginatedResponse` in the SDK's shape
(``limit``/``offset``/``has_more``/``next_cursor``) whatever the dialect, so one rule drives
both: ask for the next offset (or the next cursor, when the server gives one) until a page says
there is no more or comes back empty. The first request uses the caller's parameters as given;
the next ones keep them and move ``offset`` (the server dialect turns that into ``page``).

Some lists the self-hosted server does not page at all (conversations, messages, channels):
their :class:`UnpagedPages` note when the server's only page was full, and the iteration then
ends with one :class:`~linktor._dialect.UnpagedListWarning` rather than silently.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from linktor._dialect import UnpagedListWarning
from linktor._plan import Pages, Plan

__all__ = ["UnpagedPages", "iterate_async", "iterate_sync", "next_params"]

T_co = TypeVar("T_co", covariant=True)


@dataclass
class UnpagedPages(Pages[T_co]):
    """:class:`Pages` of a list the server may not page (server dialect). Its fetch plan sets
    ``cut_at`` to the size of the server's only page when that page was full."""

    what: str = "iter()"
    cut_at: int | None = None

    def warn(self) -> None:
        if self.cut_at is not None:
            warnings.warn(
                UnpagedListWarning(
                    f"{self.what}: the self-hosted Linktor server does not page this list; it "
                    f"returned its first {self.cut_at} items and more may exist that no "
                    "request can reach"
                ),
                stacklevel=3,
            )


def _finish(pages: Pages[Any]) -> None:
    if isinstance(pages, UnpagedPages):
        pages.warn()


# Names that select a page; the next request replaces them with offset (or cursor).
_PAGE_SELECTORS = ("offset", "page", "cursor", "page_size", "pageSize")


def next_params(params: dict[str, Any], page: Any) -> dict[str, Any] | None:
    """The parameters of the page after ``page`` (fetched with ``params``), or ``None``."""
    items = page.data
    if not items:
        return None
    pagination = page.pagination
    following = {k: v for k, v in params.items() if k not in _PAGE_SELECTORS}
    cursor = getattr(pagination, "next_cursor", None)
    if cursor:
        if cursor == params.get("cursor"):
            return None  # the same cursor again: stop rather than loop
        following["cursor"] = cursor
        return following
    if not pagination.has_more:
        return None
    served = int(pagination.offset or 0)
    if served < int(params.get("offset") or 0):
        return None  # the server ignored the offset: asking again would loop forever
    offset = served + len(items)
    following["offset"] = offset
    following.setdefault("limit", pagination.limit or len(items))
    return following


def iterate_sync(pages: Pages[Any], run: Callable[[Plan[Any]], Any]) -> Iterator[Any]:
    """Every item of every page, fetching the next page only when the previous is used up."""
    params: dict[str, Any] | None = dict(pages.params)
    while params is not None:
        page = run(pages.fetch(params))
        yield from page.data
        params = next_params(params, page)
    _finish(pages)


async def iterate_async(
    pages: Pages[Any], run: Callable[[Plan[Any]], Coroutine[Any, Any, Any]]
) -> AsyncIterator[Any]:
    """The ``async for`` twin of :func:`iterate_sync`."""
    params: dict[str, Any] | None = dict(pages.params)
    while params is not None:
        page = await run(pages.fetch(params))
        for item in page.data:
            yield item
        params = next_params(params, page)
    _finish(pages)
