"""What the client says about itself on the wire, over real sockets.

A server may gate features by client version, so the ``X-Daguito-Client*`` headers keep
daguito-sdk's shape, and the version never compares lower than the API level we implement.
relaywire identifies itself in ``User-Agent``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import pytest
from _support import recording_http_server
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


async def test_http_requests_carry_the_official_header_shape() -> None:
    answer = json.dumps({"ok": True, "execution_id": "e1", "status": "completed"}).encode()
    with recording_http_server((200, "application/json", answer)) as (url, requests):
        result = await run_webhook(WebhookRunInput(api_url=url, token="sk_wh_identity"))
        headers, _ = requests.get(timeout=10)
    assert result.execution_id == "e1"
    assert headers.get_all("X-Daguito-Client") == [f"daguito-sdk-python/{SDK_VERSION}"]
    assert headers.get_all("X-Daguito-Client-Version") == [SDK_VERSION]
    assert headers.get_all("User-Agent") == [f"relaywire-python/{relaywire_version}"]


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
