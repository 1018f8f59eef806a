"""What the client says about itself on the wire, over real sockets.

A server may gate features by client version, so the ``X-Daguito-Client*`` headers keep
daguito-sdk's shape, and the version never compares lower than the API level we implement.
relaywire identifies itself in ``User-Agent``.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from packaging.version import Version
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

import daguito
from daguito import (
    AudioStreamOptions,
    AudioStreamSession,
    StreamError,
    WebhookRunInput,
    WebhookStreamOptions,
    WebhookStreamSession,
    run_webhook,
)
from daguito._client_headers import SDK_VERSION
from relaywire import __version__ as relaywire_version


def test_sdk_version_keeps_the_api_level_and_names_relaywire() -> None:
    assert f"0.4.5+relaywire.{relaywire_version}" == SDK_VERSION
    assert daguito.__version__ == "0.4.5"
    # PEP 440 and semver both order it at or above 0.4.5: a local label / build metadata.
    assert Version(SDK_VERSION) >= Version("0.4.5")
    assert Version(SDK_VERSION).public == "0.4.5"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, list[str]]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append({k.lower(): self.headers.get_all(k) or [] for k in self.headers})
        body = json.dumps({"ok": True, "execution_id": "e1", "status": "completed"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_recorder() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    seen: list[dict[str, list[str]]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_http_requests_carry_the_official_header_shape(
    http_recorder: tuple[str, list[dict[str, list[str]]]],
) -> None:
    url, seen = http_recorder
    result = await run_webhook(WebhookRunInput(api_url=url, token="sk_wh_identity"))
    assert result.execution_id == "e1"
    (headers,) = seen
    assert headers["x-daguito-client"] == [f"daguito-sdk-python/{SDK_VERSION}"]
    assert headers["x-daguito-client-version"] == [SDK_VERSION]
    assert headers["user-agent"] == [f"relaywire-python/{relaywire_version}"]


@pytest.fixture
async def ws_recorder() -> AsyncIterator[tuple[str, list[Request]]]:
    requests: list[Request] = []

    def refuse(connection: ServerConnection, request: Request) -> Response:
        requests.append(request)
        return connection.respond(HTTPStatus.FORBIDDEN, "recorded\n")

    async def handler(ws: ServerConnection) -> None:  # never reached
        raise AssertionError

    async with serve(handler, "127.0.0.1", 0, process_request=refuse) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}", requests


def check_upgrade(request: Request) -> None:
    headers = request.headers
    assert headers.get_all("User-Agent") == [f"relaywire-python/{relaywire_version}"]
    assert headers.get_all("X-Daguito-Client") == [f"daguito-sdk-python/{SDK_VERSION}"]
    assert headers.get_all("X-Daguito-Client-Version") == [SDK_VERSION]
    query = dict(parse_qsl(urlsplit(request.path).query))
    assert query["x_daguito_client_version"] == SDK_VERSION


async def test_stream_upgrade_carries_the_official_header_shape(
    ws_recorder: tuple[str, list[Request]],
) -> None:
    url, requests = ws_recorder
    session = WebhookStreamSession(
        WebhookStreamOptions(api_url=url, webhook_id="wh_1", token="sk_wh_identity")
    )
    with pytest.raises(StreamError):
        await session.connect()
    await session.close()
    (request,) = requests
    check_upgrade(request)


async def test_audio_upgrade_carries_the_official_header_shape(
    ws_recorder: tuple[str, list[Request]],
) -> None:
    # The audio session goes through the websockets library's connect: one User-Agent, ours.
    url, requests = ws_recorder
    session = AudioStreamSession(
        AudioStreamOptions(api_url=url, token="sk_wh_identity", sample_rate=16000)
    )
    with pytest.raises(daguito.AudioStreamError):
        await session.connect()
    await session.close()
    (request,) = requests
    check_upgrade(request)
