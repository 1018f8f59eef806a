"""``relaywire.ingest.read(..., events={"linktor": delivery_event})``: deliveries that went
through a real receiver come back with the typed ``WebhookEvent`` that ``construct_event``
gives for the same request, without ``relaywire.ingest`` importing ``linktor``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _ingest_support import LINKTOR_SECRET, STANDARD_SECRET, linktor_headers, standard_headers

from linktor import construct_event
from linktor.types.webhook import UnknownWebhookEvent, WebhookEvent
from linktor.webhooks import delivery_event
from relaywire.ingest import DeliveryEventError, Receiver, Source, aread, read


def event_body(event_id: str, event_type: str = "message.received", **data: Any) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "timestamp": "2026-01-15T10:30:00.123Z",
            "tenantId": "tenant_demo",
            "data": {"conversationId": "conv_1", **data},
        }
    ).encode()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/events.db"


@pytest.fixture
def receiver(db: str) -> Iterator[Receiver]:
    sources = [
        Source("linktor", "/hooks/linktor", "linktor", secrets=[LINKTOR_SECRET]),
        Source("std", "/hooks/std", "standard", secrets=[STANDARD_SECRET]),
    ]
    with Receiver(sources, db) as running:
        yield running


def post(receiver: Receiver, path: str, body: bytes, headers: dict[str, str]) -> None:
    reply = httpx.post(receiver.url + path, content=body, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text


def same(event: Any, expected: Any) -> None:
    assert type(event) is type(expected)
    assert event == expected
    assert event.model_dump() == expected.model_dump()


def test_read_hands_back_the_events_construct_event_gives(receiver: Receiver, db: str) -> None:
    sent = [
        event_body("evt_1", text="hello"),
        event_body("evt_2", "conversation.created", status="open"),
        event_body("evt_3", "brand.new.type", anything=[1, 2]),
    ]
    expected = []
    for body in sent:
        headers = linktor_headers(body)
        post(receiver, "/hooks/linktor", body, headers)
        expected.append(construct_event(body, headers, LINKTOR_SECRET))
    other = b'{"kind":"ping"}'
    post(receiver, "/hooks/std", other, standard_headers(other, "msg_1"))

    deliveries = list(read(db, events={"linktor": delivery_event}))
    assert [(d.source, d.id) for d in deliveries] == [
        ("linktor", "evt_1"),
        ("linktor", "evt_2"),
        ("linktor", "evt_3"),
        ("std", "msg_1"),
    ]
    for delivery, event in zip(deliveries, expected, strict=False):
        same(delivery.event, event)
    assert isinstance(deliveries[0].event, WebhookEvent)
    assert deliveries[0].event.type == "message.received"
    assert isinstance(deliveries[2].event, UnknownWebhookEvent)
    assert deliveries[3].event is None  # no decoder for that source
    assert all(d.event is None for d in read(db))  # none asked for: none made

    # The cursor still works, and the async twin gives the same.
    after_first = list(read(db, after=deliveries[0].cursor, events={"linktor": delivery_event}))
    assert [d.id for d in after_first] == ["evt_2", "evt_3", "msg_1"]

    async def collect() -> list[Any]:
        return [d async for d in aread(db, events={"linktor": delivery_event})]

    for delivery, event in zip(asyncio.run(collect()), expected, strict=False):
        same(delivery.event, event)


def test_a_delivery_that_is_not_an_event_stops_with_its_cursor(receiver: Receiver, db: str) -> None:
    from linktor.utils.errors import WebhookPayloadError

    good, bad, after = event_body("evt_1"), b'{"id":"evt_2","data":{}}', event_body("evt_3")
    for body in (good, bad, after):
        post(receiver, "/hooks/linktor", body, linktor_headers(body))
    seen = []
    with pytest.raises(DeliveryEventError) as caught:
        for delivery in read(db, events={"linktor": delivery_event}):
            seen.append(delivery.id)
    assert seen == ["evt_1"]  # the deliveries before it came first
    assert caught.value.delivery.id == "evt_2"
    assert isinstance(caught.value.__cause__, WebhookPayloadError)
    assert "evt_2" in str(caught.value) and "linktor" in str(caught.value)
    assert LINKTOR_SECRET not in str(caught.value)
    rest = read(db, after=caught.value.delivery.cursor, events={"linktor": delivery_event})
    assert [d.id for d in rest] == ["evt_3"]


def test_events_must_map_sources_to_callables(db: str) -> None:
    with pytest.raises(TypeError, match="maps source names"):
        list(read(db, events=delivery_event))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callables"):
        list(read(db, events={"linktor": "delivery_event"}))  # type: ignore[dict-item]
