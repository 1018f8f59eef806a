"""Per-call options and response metadata, as openai-python and stripe-python users expect:
``with_options``, ``model._request_id``, ``client.rate_limit``, errors with headers,
``linktor.TimeoutError`` as a ``NetworkError``, and ``LINKTOR_BASE_URL``."""

from __future__ import annotations

import asyncio
import time

import pytest
from _linktor_client_support import RawServer

import linktor
from linktor import LinktorAsyncClient, LinktorClient, NetworkError, NotFoundError, ServerError
from linktor.websocket import realtime_url
from relaywire.emulator import Emulator
from relaywire.transport.http import RateLimit

KEY = "lk_demo"


def test_with_options_is_a_cheap_copy_on_the_same_pool(emu: Emulator) -> None:
    with LinktorClient(base_url=emu.linktor_url, api_key=KEY) as client:
        quick = client.with_options(timeout=2.5, max_retries=0, headers={"X-Trace": "t1"})
        assert type(quick) is LinktorClient and quick is not client
        assert quick.conversations.get("conv_demo").id == "conv_demo"
        assert quick._http._httpx() is client._http._httpx()  # one pool
        assert (quick._http.timeout, quick._http.max_retries) == (2.5, 0)
        assert (client._http.timeout, client._http.max_retries) == (30.0, 3)
        quick.close()  # the copy leaves the shared pool open
        assert client.conversations.get("conv_demo").id == "conv_demo"


def test_with_options_settings_apply_per_call(emu: Emulator) -> None:
    with LinktorClient(base_url=emu.linktor_url, api_key=KEY, retry_delay=0.01) as client:
        emu.faults.http(503, 1, path_prefix="/linktor/conversations")
        assert client.conversations.get("conv_demo").id == "conv_demo"  # retried
        emu.faults.http(503, 1, path_prefix="/linktor/conversations")
        with pytest.raises(ServerError):
            client.with_options(max_retries=0).conversations.get("conv_demo")
    with RawServer([(200, "application/json", b"{}")]) as raw:
        copy = LinktorClient(base_url=raw.url, api_key=KEY).with_options(headers={"X-Trace": "t2"})
        copy.analytics.get_realtime()
    assert "X-Trace: t2" in raw.request_heads[0]


def test_with_options_timeout(emu: Emulator) -> None:
    with RawServer([], silent=True) as silent:
        client = LinktorClient(base_url=silent.url, api_key=KEY, max_retries=0)
        with pytest.raises(linktor.TimeoutError) as info:
            client.with_options(timeout=0.2).contacts.get("c1")
        client.close()
    assert isinstance(info.value, NetworkError)  # a timeout is a network failure too


def test_with_options_on_the_async_client(emu: Emulator) -> None:
    async def run() -> None:
        async with LinktorAsyncClient(base_url=emu.linktor_url, api_key=KEY) as client:
            copy = client.with_options(timeout=3.0, max_retries=1)
            assert type(copy) is LinktorAsyncClient
            assert (await copy.conversations.get("conv_demo")).id == "conv_demo"
            assert copy._http._pool is client._http._pool
            await copy.close()  # leaves the shared pool open
            assert (await client.conversations.get("conv_demo")).id == "conv_demo"

    asyncio.run(run())


def test_models_carry_the_request_id_without_it_being_a_field(emu: Emulator) -> None:
    with LinktorClient(base_url=emu.linktor_url, api_key=KEY) as client:
        first = client.conversations.get("conv_demo")
        second = client.conversations.get("conv_demo")
        page = client.conversations.list(limit=2)
    assert first._request_id and second._request_id and first._request_id != second._request_id
    assert page._request_id
    assert first == second  # not compared
    assert "_request_id" not in first.model_dump() and "request_id" not in first.model_dump()
    assert "_request_id" not in repr(first)
    built = linktor.Conversation.model_validate(first.model_dump())
    assert built._request_id is None  # a model that came from no response


def test_rate_limit_headers_of_the_last_response(emu: Emulator) -> None:
    emu.set_rate_limit(100, window=60)
    with LinktorClient(base_url=emu.linktor_url, api_key=KEY) as client:
        assert client.rate_limit is None
        client.conversations.get("conv_demo")
        first = client.rate_limit
        client.conversations.get("conv_demo")
        second = client.rate_limit
    assert isinstance(first, RateLimit) and isinstance(second, RateLimit)
    assert (first.limit, first.remaining) == (100, 99)
    assert (second.limit, second.remaining) == (100, 98)
    assert second.reset is not None and second.reset >= time.time()


def test_errors_carry_the_response_headers(emu: Emulator) -> None:
    emu.set_rate_limit(100, window=60)
    with (
        LinktorClient(base_url=emu.linktor_url, api_key=KEY) as client,
        pytest.raises(NotFoundError) as info,
    ):
        client.contacts.get("no-such-contact")
    error = info.value
    assert error.headers is not None
    assert error.headers["x-request-id"] == error.request_id
    assert error.headers["X-RateLimit-Limit"] == "100"  # case-insensitive


def test_base_url_from_the_environment(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKTOR_BASE_URL", emu.linktor_url)
    with LinktorClient(api_key=KEY) as client:
        assert client._http.base_url == emu.linktor_url
        assert client.conversations.get("conv_demo").id == "conv_demo"
    explicit = LinktorClient(base_url="https://api.linktor.io", api_key=KEY)
    assert explicit._http.base_url == "https://api.linktor.io"  # given, even if the default
    assert LinktorAsyncClient(api_key=KEY)._http.base_url == emu.linktor_url
    assert realtime_url() == emu.ws_url + "/linktor/ws"
    monkeypatch.delenv("LINKTOR_BASE_URL")
    assert LinktorClient(api_key=KEY)._http.base_url == "https://api.linktor.io"
