"""``client.webhooks`` (create / list / get / delete), sync and async, and a signed delivery
from the emulator to a real local receiver, verified with the SDK helpers. The self-hosted
server has no webhook management and sends no webhooks: the server dialect refuses them."""

from __future__ import annotations

import asyncio
import http.client
import queue
from collections.abc import Iterator
from typing import Any

import pytest
from _support import recording_http_server

from linktor import LinktorAsyncClient, LinktorClient, NotFoundError, construct_event
from linktor._dialect import UnsupportedOperationError
from linktor.types.webhook import WebhookConfig, WebhookEventType
from linktor.utils.webhook import SIGNATURE_HEADER, verify_webhook
from relaywire.emulator import Emulator

API_KEY = "lk_demo"


Received = queue.Queue[tuple[http.client.HTTPMessage, bytes]]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    with recording_http_server() as (url, requests):
        yield f"{url}/hooks", requests


@pytest.fixture
def base_url(emu: Emulator) -> str:
    return emu.linktor_url


def test_crud(base_url: str) -> None:
    with LinktorClient(base_url=base_url, api_key=API_KEY) as client:
        created = client.webhooks.create(
            "https://example.test/in",
            [WebhookEventType.MESSAGE_RECEIVED, "message.sent"],
            {"X-Team": "support"},
        )
        assert isinstance(created, WebhookConfig)
        assert created.secret.startswith("whsec_")
        assert created.events == [WebhookEventType.MESSAGE_RECEIVED, WebhookEventType.MESSAGE_SENT]
        assert created.headers == {"X-Team": "support"}  # user header names are not re-cased
        assert [w.id for w in client.webhooks.list().data] == [created.id]
        assert client.webhooks.get(created.id) == created
        client.webhooks.delete(created.id)
        with pytest.raises(NotFoundError):
            client.webhooks.get(created.id)


def test_async_twin(emu: Emulator) -> None:
    async def main() -> None:
        async with LinktorAsyncClient(base_url=emu.linktor_url, api_key=API_KEY) as client:
            created = await client.webhooks.create("https://example.test/a", ["message.read"])
            assert (await client.webhooks.get(created.id)).url == "https://example.test/a"
            assert len((await client.webhooks.list()).data) == 1
            await client.webhooks.delete(created.id)

    asyncio.run(main())


@pytest.mark.parametrize("url", ["", None])
def test_create_needs_a_url(emu: Emulator, url: Any) -> None:
    with (
        LinktorClient(base_url=emu.linktor_url, api_key=API_KEY) as client,
        pytest.raises(ValueError, match="url"),
    ):
        client.webhooks.create(url, ["message.received"])


def test_signed_delivery_reaches_a_receiver_and_verifies(
    base_url: str, receiver: tuple[str, Received]
) -> None:
    url, deliveries = receiver
    with LinktorClient(base_url=base_url, api_key=API_KEY) as client:
        hook = client.webhooks.create(url, ["message.sent"])
        client.conversations.send_text("conv_demo", "signed, sealed, delivered")
        message, body = deliveries.get(timeout=10)
        headers = {k.lower(): v for k, v in message.items()}
    assert verify_webhook(body, headers, hook.secret)
    assert not verify_webhook(body + b" ", headers, hook.secret)
    assert not verify_webhook(body, headers, "whsec_wrong")
    event = construct_event(body, headers, hook.secret)
    assert event.type == WebhookEventType.MESSAGE_SENT
    assert headers[SIGNATURE_HEADER.lower()]


def test_fractional_retry_delays_render_whole_seconds() -> None:
    # The emulator reported retryPolicy.retryInterval 0.1 for webhook_retry_delays=(0.1, 0.2),
    # and the SDK's own WebhookConfig (an int, as the platform renders it) refused the answer.
    with (
        Emulator(webhook_retry_delays=(0.1, 0.2)) as emu,
        LinktorClient(base_url=emu.linktor_url, api_key=API_KEY) as client,
    ):
        created = client.webhooks.create("https://example.test/in", ["message.received"])
        assert created.retry_policy is not None
        assert created.retry_policy.retry_interval == 1  # 0.1 s, rounded up to a second
        assert created.retry_policy.max_retries == 2
        assert created.retry_policy.exponential_backoff is True
        assert client.webhooks.get(created.id).retry_policy == created.retry_policy


def test_the_server_dialect_has_no_webhook_management(
    emu: Emulator, receiver: tuple[str, Received]
) -> None:
    url, _ = receiver
    with LinktorClient(base_url=emu.linktor_server_url) as client:
        client.auth.login("demo@linktor.local", "demo-password")
        for call in (
            lambda: client.webhooks.create(url, ["message.sent"]),
            lambda: client.webhooks.list(),
            lambda: client.webhooks.get("wh_1"),
            lambda: client.webhooks.delete("wh_1"),
        ):
            with pytest.raises(UnsupportedOperationError, match="no webhook management"):
                call()
        # And the server itself has no such route (its /webhooks/* are channel callbacks).
        with pytest.raises(NotFoundError):
            client._http.get("/webhooks")
