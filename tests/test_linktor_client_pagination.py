"""Auto-pagination: the page arithmetic of both dialects, and the ``iter`` methods live."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from _linktor_client_support import (
    COMBO_IDS,
    COMBOS,
    Harness,
    RawServer,
    module_emulator,
    open_client,
    recorded_client,
)

from linktor import Contact, Conversation, LinktorAsyncClient, LinktorClient
from linktor._dialect import (
    UnpagedListWarning,
    Window,
    merge_pages,
    server_list_query,
    server_page,
    spans_next_page,
)
from linktor._pagination import next_params
from relaywire.emulator import Emulator

emulator = pytest.fixture(scope="module")(module_emulator)


@pytest.fixture(params=COMBOS, ids=COMBO_IDS)
def lk(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Harness]:
    dialect, mode = request.param
    harness = open_client(emulator, dialect, mode)
    yield harness
    harness.close()


# -- the server's pages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "query", "window"),
    [
        ({}, {}, Window(0, None)),
        ({"limit": 10}, {"page": 1, "page_size": 10}, Window(0, 10)),
        ({"limit": 10, "offset": 20}, {"page": 3, "page_size": 10}, Window(20, 10)),
        ({"offset": 40}, {"page": 3, "page_size": 20}, Window(40, 20)),
        ({"limit": 10, "offset": 5}, {"page": 1, "page_size": 10}, Window(5, 10, skip=5)),
        ({"limit": 10, "offset": 25}, {"page": 3, "page_size": 10}, Window(25, 10, skip=5)),
        ({"page": 2, "page_size": 5}, {"page": 2, "page_size": 5}, Window(5, 5)),
        ({"channelId": "c", "cursor": "x", "status": None}, {"channel_id": "c"}, Window(0, None)),
    ],
)
def test_server_list_query(params: dict[str, Any], query: dict[str, Any], window: Window) -> None:
    assert server_list_query(params) == (query, window)


def test_server_list_query_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        server_list_query({"limit": 0})
    with pytest.raises(ValueError):
        server_list_query({"limit": 5, "offset": -1})


def _meta(page: int, size: int, total: int) -> dict[str, Any]:
    return {
        "page": page,
        "page_size": size,
        "total_pages": -(-total // size),
        "total_items": total,
        "has_next": page * size < total,
        "has_previous": page > 1,
    }


def test_server_page_shapes() -> None:
    items = [{"n": n} for n in range(3)]
    meta = {"success": True, "data": items, "meta": _meta(2, 3, 7)}
    assert server_page(meta, Window(3, 3))["pagination"] == {
        "total": 7,
        "limit": 3,
        "offset": 3,
        "has_more": True,
    }
    paged = {"data": items, "pagination": {"total": 9, "page": 3, "page_size": 3, "pages": 3}}
    assert server_page(paged, Window(6, 3))["pagination"] == {
        "total": 9,
        "limit": 3,
        "offset": 6,
        "has_more": False,
    }
    # Unpaginated (the server's channels): the window is cut here.
    plain = {"success": True, "data": [{"n": n} for n in range(5)]}
    cut = server_page(plain, Window(1, 2))
    assert cut["data"] == [{"n": 1}, {"n": 2}]
    assert cut["pagination"] == {"total": 5, "limit": 2, "offset": 1, "has_more": True}
    assert server_page([{"n": 0}], Window())["pagination"]["has_more"] is False
    # A misaligned offset spans two pages: the leading items of the first are dropped.
    window = Window(25, 10, skip=5)
    third = {"success": True, "data": [{"n": n} for n in range(20, 30)], "meta": _meta(3, 10, 40)}
    fourth = {"success": True, "data": [{"n": n} for n in range(30, 40)], "meta": _meta(4, 10, 40)}
    assert spans_next_page(third, window) and not spans_next_page(third, Window(20, 10))
    assert not spans_next_page(fourth, Window(35, 10, skip=5))  # the last page
    shifted = server_page(merge_pages(third, fourth), window)
    assert [i["n"] for i in shifted["data"]] == list(range(25, 35))
    assert shifted["pagination"] == {"total": 40, "limit": 10, "offset": 25, "has_more": True}
    last = server_page(fourth, Window(35, 10, skip=5))
    assert [i["n"] for i in last["data"]] == list(range(35, 40))
    assert last["pagination"]["has_more"] is False
    assert server_page({"data": items, "pagination": {}}, Window())["data"] == items
    adapted = server_page({"success": True, "data": items}, Window(), lambda i: i["n"])
    assert adapted["data"] == [0, 1, 2]


def test_server_page_of_a_server_that_does_not_page() -> None:
    # The self-hosted server's conversations: page 1 of 20 whatever was asked, total counted
    # before the filters, no next page.
    first_twenty = {
        "success": True,
        "data": [{"n": n} for n in range(20)],
        "meta": {**_meta(1, 20, 28), "has_next": False, "total_pages": 0},
    }
    inside = server_page(first_twenty, Window(5, 5))
    assert [i["n"] for i in inside["data"]] == [5, 6, 7, 8, 9]
    assert inside["pagination"] == {"total": 28, "limit": 5, "offset": 5, "has_more": True}
    assert inside["truncated"] is None
    tail = server_page(first_twenty, Window(15, 10, skip=5))
    assert [i["n"] for i in tail["data"]] == [15, 16, 17, 18, 19]
    assert tail["pagination"]["has_more"] is False and tail["truncated"] == 20
    beyond = server_page(first_twenty, Window(20, 10))
    assert beyond["data"] == [] and beyond["truncated"] == 20
    # Asked for everything: a full page, no next page, a larger total (its messages).
    assert server_page(first_twenty, Window())["truncated"] == 20
    # A short page is the whole list: nothing was cut.
    short = {"success": True, "data": [{"n": 0}], "meta": {**_meta(1, 20, 28), "has_next": False}}
    assert server_page(short, Window(0, 5))["truncated"] is None
    # A server that pages (the documented profile) is never cut.
    assert (
        server_page({"success": True, "data": [{"n": 0}] * 20, "meta": _meta(1, 20, 28)}, Window())[
            "truncated"
        ]
        is None
    )
    # An unpaginated list at the server's cap may go on (its channels).
    hundred = {"success": True, "data": [{"n": n} for n in range(100)]}
    assert server_page(hundred, Window(), cap=100)["truncated"] == 100
    assert server_page(hundred, Window(0, 10), cap=100)["truncated"] is None


def _page(items: list[Any], **pagination: Any) -> SimpleNamespace:
    info = {"offset": 0, "limit": len(items), "has_more": False, "next_cursor": None}
    return SimpleNamespace(data=items, pagination=SimpleNamespace(**{**info, **pagination}))


def test_next_params() -> None:
    params = {"status": "open", "limit": 2}
    following = next_params(params, _page([1, 2], has_more=True))
    assert following == {"status": "open", "limit": 2, "offset": 2}
    assert next_params({**params, "offset": 2}, _page([3, 4], offset=2, has_more=True)) == {
        "status": "open",
        "limit": 2,
        "offset": 4,
    }
    assert next_params(params, _page([1, 2])) is None  # no more
    assert next_params(params, _page([], has_more=True)) is None  # empty page
    # A server that ignores the offset would be asked the same page forever.
    assert next_params({"offset": 2}, _page([1, 2], has_more=True)) is None
    assert next_params(params, _page([1], next_cursor="c2")) == {
        "status": "open",
        "limit": 2,
        "cursor": "c2",
    }
    assert next_params({"cursor": "c2"}, _page([1], next_cursor="c2")) is None
    # page/page_size given by the caller turn into offsets after the first page.
    assert next_params(
        {"page": 2, "page_size": 5}, _page([1] * 5, offset=5, limit=5, has_more=True)
    ) == {
        "offset": 10,
        "limit": 5,
    }


# -- live ------------------------------------------------------------------------------------


def test_pages_cover_the_list_exactly_once(lk: Harness) -> None:
    everything = [c.id for c in lk.client.conversations.list(limit=100).data]
    # The self-hosted server lists only its first 20 conversations: the iteration walks them
    # in windows of 6 (cut from that one page), then says where it had to stop.
    with pytest.warns(UnpagedListWarning, match="first 20") if lk.server else nullcontext():
        walked = [c.id for c in lk.client.conversations.iter(limit=6)]
    assert walked == everything
    if lk.server:
        assert len(walked) == 20
    contacts = [c.id for c in lk.client.contacts.list(limit=10).data]
    assert [c.id for c in lk.client.contacts.list(limit=2, offset=1).data] == contacts[1:3]
    assert [c.id for c in lk.client.contacts.iter(limit=2, offset=1)] == contacts[1:]


def test_iteration_is_lazy(emulator: Emulator) -> None:
    for dialect, mode in COMBOS:
        with recorded_client(emulator, dialect, mode) as (harness, recorder):
            before = len(recorder.requests)
            first = next(iter(harness.client.contacts.iter(limit=1)))
            assert isinstance(first, Contact)
            assert len(recorder.requests) == before + 1, (dialect, mode)


async def test_native_async_for(emulator: Emulator) -> None:
    for url in (emulator.linktor_url, emulator.linktor_server_url):
        async with LinktorAsyncClient(url, api_key="lk_demo") as client:
            server = client.dialect.value == "server"
            if server:
                await client.auth.login("demo@linktor.local", "demo-password")
            with pytest.warns(UnpagedListWarning) if server else nullcontext():
                seen = [c async for c in client.conversations.iter(limit=9)]
            total = (await client.conversations.list()).pagination.total
            # The self-hosted server: its first page of 20 is all there is to reach.
            assert len(seen) == (20 if server else total) and total > 20
            assert all(isinstance(c, Conversation) for c in seen)


def _contact(n: int) -> dict[str, Any]:
    return {
        "id": f"ct_{n}",
        "tenantId": "t",
        "name": f"C{n}",
        "identifiers": [],
        "conversationCount": 0,
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-01-01T00:00:00Z",
    }


def test_cursor_pages() -> None:
    first = {
        "data": [_contact(1), _contact(2)],
        "pagination": {"total": 3, "limit": 2, "offset": 0, "hasMore": True, "nextCursor": "c2"},
    }
    second = {
        "data": [_contact(3)],
        "pagination": {"total": 3, "limit": 2, "offset": 0, "hasMore": False},
    }
    answers = [(200, "application/json", orjson.dumps(body)) for body in (first, second)]
    with RawServer(answers) as server, LinktorClient(server.url, api_key="k") as client:
        names = [c.name for c in client.contacts.iter(limit=2, search="c")]
    assert names == ["C1", "C2", "C3"]
    assert server.request_lines == [
        "GET /contacts?limit=2&search=c HTTP/1.1",
        "GET /contacts?limit=2&search=c&cursor=c2 HTTP/1.1",
    ]
