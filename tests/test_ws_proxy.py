"""WebSockets honour proxies as httpx does for REST: ws:// through HTTP_PROXY, wss:// through
HTTPS_PROXY, ALL_PROXY as the fallback, NO_PROXY respected, credentials from the proxy URL, a
``proxy=`` option (True: the environment, a URL, None: never) and a typed error when the proxy
refuses. Everything goes through a real CONNECT proxy on loopback (tests/_proxy_support.py).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from _proxy_support import LoopbackProxy
from websockets.asyncio.server import ServerConnection, serve

import daguito
from daguito import (
    AudioStreamOptions,
    AudioStreamSession,
    DaguitoConnectionError,
    StreamError,
    WebhookRunInput,
    WebhookStreamOptions,
    WebhookStreamSession,
    text_message,
)
from linktor import WebSocketError
from linktor.websocket import LinktorWebSocket
from relaywire.emulator import Emulator
from relaywire.transport.proxy import ProxyError, bypassed, open_tunnel, proxy_for

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def proxy() -> Iterator[LoopbackProxy]:
    with LoopbackProxy() as running:
        yield running


def stream_options(emu: Emulator, **kw: Any) -> WebhookStreamOptions:
    return WebhookStreamOptions(api_url=emu.url, webhook_id="wh_demo", token="sk_wh_demo", **kw)


# --- choosing the proxy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "url", "expected"),
    [
        ({"HTTP_PROXY": "http://p:1"}, "ws://h.test/x", "http://p:1"),
        ({"HTTP_PROXY": "http://p:1"}, "wss://h.test/x", None),
        ({"HTTPS_PROXY": "http://s:2"}, "wss://h.test/x", "http://s:2"),
        ({"ALL_PROXY": "http://a:3"}, "wss://h.test/x", "http://a:3"),
        ({"https_proxy": "http://lower:4", "HTTPS_PROXY": "http://upper:5"}, "wss://h/x", None),
        ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "h.test"}, "ws://h.test/x", None),
        ({"HTTP_PROXY": "http://p:1", "NO_PROXY": ".test"}, "ws://a.h.test/x", None),
        ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "*"}, "ws://h.test/x", None),
        ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "other.test"}, "ws://h.test/x", "http://p:1"),
        ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.0/8"}, "ws://127.0.0.1:9/x", None),
        ({}, "ws://h.test/x", None),
    ],
)
def test_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], url: str, expected: str | None
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if "https_proxy" in environment:  # the lowercase name wins, as in httpx and urllib
        expected = environment["https_proxy"]
    assert proxy_for(url) == expected


def test_explicit_proxy_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://env:1")
    assert proxy_for("ws://h/x", None) is None
    assert proxy_for("ws://h/x", False) is None
    assert proxy_for("ws://h/x", "http://mine:2") == "http://mine:2"
    with pytest.raises(TypeError, match="proxy must be"):
        proxy_for("ws://h/x", 3128)  # type: ignore[arg-type]


def test_no_proxy_matching() -> None:
    assert bypassed("api.example.com", "example.com")
    assert bypassed("example.com", ".example.com")
    assert not bypassed("badexample.com", "example.com")
    assert bypassed("localhost", "localhost:8080, other")
    assert bypassed("::1", "[::1]")
    assert bypassed("10.1.2.3", "10.0.0.0/8")
    assert not bypassed("11.1.2.3", "10.0.0.0/8")


@pytest.mark.parametrize("url", ["socks5://127.0.0.1:1080", "https://proxy.test:443"])
async def test_unsupported_proxy_schemes_are_refused_before_any_io(url: str) -> None:
    with pytest.raises(ProxyError, match="http:// proxies only"):
        await open_tunnel(url, "h.test", 443)


# --- Daguito over a real proxy --------------------------------------------------------------


async def test_stream_goes_through_http_proxy_from_the_environment(
    emu: Emulator, proxy: LoopbackProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with WebhookStreamSession(stream_options(emu)) as session:
        assert await session.collect_text(text_message("via proxy")) == "echo: via proxy "
    # REST takes the same proxy (httpx), so both paths work behind it
    result = await daguito.run_webhook(WebhookRunInput(api_url=emu.url, token="sk_wh_demo"))
    assert result.status == "completed"
    assert proxy.tunnels == [f"127.0.0.1:{emu.port}"]
    assert [a.method for a in proxy.asked] == ["CONNECT", "POST"]


async def test_no_proxy_and_proxy_none_connect_directly(
    emu: Emulator, proxy: LoopbackProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with WebhookStreamSession(stream_options(emu, proxy=None)) as session:
        assert await session.collect_text(text_message("direct")) == "echo: direct "
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with WebhookStreamSession(stream_options(emu)) as session:
        assert await session.collect_text(text_message("bypass")) == "echo: bypass "
    assert proxy.asked == []


async def test_proxy_credentials_come_from_the_url(emu: Emulator) -> None:
    with LoopbackProxy(password="s3cret-proxy-pass") as guarded:
        opts = stream_options(emu, proxy=guarded.url_with_credentials())
        async with WebhookStreamSession(opts) as session:
            assert await session.collect_text(text_message("auth")) == "echo: auth "
        assert [(a.method, a.authorized) for a in guarded.asked] == [("CONNECT", True)]

        wrong = WebhookStreamSession(
            stream_options(emu, proxy=guarded.url_with_credentials("wrong-pass"))
        )
        with pytest.raises(StreamError) as info:
            await wrong.connect()
        await wrong.close()
    error = info.value
    assert isinstance(error, DaguitoConnectionError)
    assert isinstance(error.__cause__, ProxyError) and error.__cause__.status == 407
    assert "HTTP 407 Proxy Authentication Required" in str(error)
    assert "wrong-pass" not in str(error) and "wrong-pass" not in repr(error.__cause__)


async def test_a_refusing_proxy_is_a_typed_error(emu: Emulator) -> None:
    with LoopbackProxy(refuse=403) as refusing:
        session = WebhookStreamSession(stream_options(emu, proxy=refusing.url))
        with pytest.raises(DaguitoConnectionError, match=r"refused the tunnel .* HTTP 403"):
            await session.connect()
        await session.close()


async def test_audio_goes_through_the_proxy(
    emu: Emulator, proxy: LoopbackProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The audio session drives the websockets library: the tunnel is handed to it as a socket.
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    opts = AudioStreamOptions(api_url=emu.url, token="sk_wh_demo", sample_rate=16000)
    async with AudioStreamSession(opts) as audio:
        await audio.send_audio(b"\x00" * 320)
        assert audio.connected
    assert proxy.tunnels == [f"127.0.0.1:{emu.port}"]
    with LoopbackProxy(refuse=403) as refusing:
        failing = AudioStreamSession(
            AudioStreamOptions(
                api_url=emu.url, token="sk_wh_demo", sample_rate=16000, proxy=refusing.url
            )
        )
        with pytest.raises(daguito.AudioStreamError, match="HTTP 403"):
            await failing.connect()
        await failing.close()


# --- Linktor realtime over wss:// through HTTPS_PROXY ---------------------------------------


@pytest.fixture
def tls() -> tuple[trustme.CA, ssl.SSLContext]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server)
    return ca, server


async def test_linktor_realtime_wss_through_https_proxy(
    tls: tuple[trustme.CA, ssl.SSLContext], proxy: LoopbackProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, server_context = tls

    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "connected", "payload": {"user_id": "u1"}}))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, ssl=server_context) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # not for wss://
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        ws = LinktorWebSocket(
            f"wss://localhost:{port}/ws", api_key="lk_proxy_test", ssl=client_context
        )
        await ws.connect()
        await ws.disconnect()
    assert proxy.tunnels == [f"localhost:{port}"]


async def test_linktor_realtime_proxy_refusal_is_a_websocket_error(proxy: LoopbackProxy) -> None:
    with LoopbackProxy(refuse=403) as refusing:
        ws = LinktorWebSocket("ws://127.0.0.1:9/ws", api_key="k", proxy=refusing.url)
        with pytest.raises(WebSocketError) as info:
            await ws.connect()
    assert info.value.details == {"reason": "proxy", "status": 403}
