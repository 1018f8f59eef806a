"""The emulator's outgoing Linktor webhooks: registration in both dialects, signed deliveries to a
real receiver on loopback, event filtering, retries and the delivery log."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from _emulator_support import DOCUMENTED
from websockets.asyncio.client import connect

from relaywire.emulator import Emulator
from relaywire.webhooks import verify_linktor, verify_linktor_request

SDK_AUTH = {"X-API-Key": "lk_demo"}
SERVER_AUTH = {"Authorization": "Bearer lk_demo"}
TIMEOUT = 10.0

EVENT_TYPES = [
    "message.received",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "conversation.created",
    "conversation.updated",
    "conversation.assigned",
    "conversation.resolved",
    "contact.created",
    "contact.updated",
    "channel.connected",
    "channel.disconnected",
    "channel.error",
]


# -- a webhook receiver on loopback ----------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lowercase
    body: bytes

    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers ``fail_status`` to the
    first ``fail_first`` of them (200 afterwards)."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500) -> None:
        self.requests: list[Received] = []
        self.fail_first = fail_first
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._changed:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    failing = len(receiver.requests) <= receiver.fail_first
                    receiver._changed.notify_all()
                answer = b'{"error":"try later"}' if failing else b'{"received":true}'
                self.send_response(fail_status if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll keeps ``shutdown()`` quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def wait_for(self, count: int) -> list[Received]:
        """The first ``count`` requests, once they have arrived."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.requests) >= count, TIMEOUT)
            assert arrived, f"only {len(self.requests)} of {count} webhook requests arrived"
            return self.requests[:count]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def register(emu: Emulator, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    reply = httpx.post(
        f"{emu.linktor_url}/webhooks",
        json={"url": url, "events": events, **extra},
        headers=SDK_AUTH,
    )
    assert reply.status_code == 201, reply.text
    webhook: dict[str, Any] = reply.json()
    return webhook


def simulate_inbound(
    emu: Emulator, text: str, conversation_id: str = "conv_demo"
) -> dict[str, Any]:
    reply = httpx.post(
        f"{emu.linktor_url}/_emulator/inbound",
        json={"conversation_id": conversation_id, "text": text},
        headers=SDK_AUTH,
    )
    assert reply.status_code == 201, reply.text
    message: dict[str, Any] = reply.json()
    return message


def simulate_status(emu: Emulator, message_id: str, status: str, **extra: Any) -> None:
    reply = httpx.post(
        f"{emu.linktor_url}/_emulator/messages/{message_id}/status",
        json={"status": status, **extra},
        headers=SDK_AUTH,
    )
    assert reply.status_code == 200, reply.text


def wait_log(emu: Emulator, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The delivery log once ``done(log)`` holds (polled, with a deadline)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        log = emu.webhook_deliveries
        if done(log):
            return log
        assert time.monotonic() < deadline, f"delivery log never got there: {log}"
        time.sleep(0.005)


def settled(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda log: len(log) >= count and all(d["status"] != "pending" for d in log)


# -- management, SDK dialect -----------------------------------------------------------------------


def test_sdk_dialect_create_list_get_update_delete(emu: Emulator) -> None:
    base = f"{emu.linktor_url}/webhooks"
    created = register(
        emu,
        "https://example.com/hooks",
        ["message.received", "message.sent"],
        headers={"X-Env": "test"},
    )
    assert created["id"].startswith("wh_")
    assert created["tenantId"] == "tenant_demo"
    assert created["url"] == "https://example.com/hooks"
    assert isinstance(created["secret"], str) and len(created["secret"]) >= 32
    assert created["events"] == ["message.received", "message.sent"]
    assert created["status"] == "active"
    assert created["headers"] == {"X-Env": "test"}
    assert created["retryPolicy"] == {
        "maxRetries": 3,
        "retryInterval": 1,
        "exponentialBackoff": True,
    }
    assert created["createdAt"] == created["updatedAt"]

    other = register(emu, "http://127.0.0.1:9/x", ["*"])
    listed = httpx.get(base, headers=SDK_AUTH).json()
    assert [w["id"] for w in listed["data"]] == [created["id"], other["id"]]
    assert listed["pagination"] == {"total": 2, "limit": 20, "offset": 0, "hasMore": False}
    assert httpx.get(base, params={"limit": 1}, headers=SDK_AUTH).json()["pagination"]["hasMore"]

    fetched = httpx.get(f"{base}/{created['id']}", headers=SDK_AUTH)
    assert fetched.status_code == 200
    assert fetched.json() == created

    patched = httpx.patch(
        f"{base}/{created['id']}",
        json={"events": ["*"], "status": "inactive", "retryPolicy": {"maxRetries": 1}},
        headers=SDK_AUTH,
    )
    assert patched.status_code == 200
    assert (patched.json()["events"], patched.json()["status"]) == (["*"], "inactive")
    assert patched.json()["retryPolicy"]["maxRetries"] == 1
    assert patched.json()["secret"] == created["secret"]

    deleted = httpx.delete(f"{base}/{created['id']}", headers=SDK_AUTH)
    assert (deleted.status_code, deleted.content) == (204, b"")
    missing = httpx.get(f"{base}/{created['id']}", headers=SDK_AUTH)
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    assert [w["id"] for w in httpx.get(base, headers=SDK_AUTH).json()["data"]] == [other["id"]]


def test_a_secret_can_be_chosen(emu: Emulator) -> None:
    assert register(emu, "http://127.0.0.1:9/x", ["*"], secret="my-secret")["secret"] == "my-secret"


# -- management, server dialect --------------------------------------------------------------------


@DOCUMENTED
def test_server_dialect_create_list_get_update_delete(emu: Emulator) -> None:
    base = f"{emu.linktor_server_url}/webhooks"
    reply = httpx.post(
        base,
        json={"url": "http://127.0.0.1:9/hooks", "events": ["conversation.created"]},
        headers=SERVER_AUTH,
    )
    assert reply.status_code == 201
    envelope = reply.json()
    assert envelope["success"] is True
    created = envelope["data"]
    assert created["tenant_id"] == "tenant_demo"
    assert created["events"] == ["conversation.created"]
    assert created["retry_policy"]["max_retries"] == 3
    assert {"id", "secret", "status", "headers", "created_at", "updated_at"} <= set(created)

    listed = httpx.get(base, headers=SERVER_AUTH).json()
    assert listed["success"] is True
    assert [w["id"] for w in listed["data"]] == [created["id"]]
    assert listed["meta"]["total_items"] == 1

    fetched = httpx.get(f"{base}/{created['id']}", headers=SERVER_AUTH).json()
    assert fetched == {"success": True, "data": created}

    put = httpx.put(
        f"{base}/{created['id']}", json={"url": "https://example.org/h"}, headers=SERVER_AUTH
    )
    assert put.json()["data"]["url"] == "https://example.org/h"

    assert httpx.delete(f"{base}/{created['id']}", headers=SERVER_AUTH).status_code == 204
    missing = httpx.get(f"{base}/{created['id']}", headers=SERVER_AUTH)
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert missing.json()["error"]["code"] == "NOT_FOUND"


@DOCUMENTED
def test_webhooks_need_credentials(emu: Emulator) -> None:
    body = {"url": "https://example.com/h", "events": ["*"]}
    sdk = httpx.post(f"{emu.linktor_url}/webhooks", json=body)
    assert (sdk.status_code, sdk.json()["code"]) == (401, "AUTHENTICATION_ERROR")
    server = httpx.post(f"{emu.linktor_server_url}/webhooks", json=body, headers=SDK_AUTH)
    assert (server.status_code, server.json()["code"]) == (401, "UNAUTHORIZED")


def test_webhooks_of_another_tenant_are_invisible(emu: Emulator) -> None:
    webhook = register(emu, "https://example.com/h", ["*"])

    def other_tenant_key() -> None:
        emu.linktor.api_keys["lk_other"] = {
            **emu.linktor.api_keys["lk_demo"],
            "tenant_id": "tenant_other",
            "user_id": None,
        }

    emu.call(other_tenant_key)
    other = {"X-API-Key": "lk_other"}
    assert httpx.get(f"{emu.linktor_url}/webhooks", headers=other).json()["data"] == []
    assert (
        httpx.get(f"{emu.linktor_url}/webhooks/{webhook['id']}", headers=other).status_code == 404
    )
    assert (
        httpx.delete(f"{emu.linktor_url}/webhooks/{webhook['id']}", headers=other).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"events": ["*"]}, "url"),
        ({"url": "ftp://example.com/h", "events": ["*"]}, "http(s)"),
        ({"url": "/relative", "events": ["*"]}, "http(s)"),
        ({"url": "https://example.com/h"}, "events"),
        ({"url": "https://example.com/h", "events": []}, "events"),
        ({"url": "https://example.com/h", "events": "message.sent"}, "events"),
        ({"url": "https://example.com/h", "events": ["message.inbound"]}, "message.inbound"),
        ({"url": "https://example.com/h", "events": ["*"], "headers": {"X-A": 1}}, "X-A"),
        (
            {"url": "https://example.com/h", "events": ["*"], "headers": {"bad name": "v"}},
            "bad name",
        ),
        (
            {
                "url": "https://example.com/h",
                "events": ["*"],
                "headers": {"X-Linktor-Signature": "x"},
            },
            "X-Linktor-Signature",
        ),
        (
            {"url": "https://example.com/h", "events": ["*"], "retryPolicy": {"maxRetries": -1}},
            "maxRetries",
        ),
        (
            {"url": "https://x.test/h", "events": ["*"], "retryPolicy": {"retryInterval": 2.5}},
            "retryInterval must be a whole number of seconds",
        ),
    ],
)
def test_invalid_registrations_are_400(emu: Emulator, body: dict[str, Any], words: str) -> None:
    reply = httpx.post(f"{emu.linktor_url}/webhooks", json=body, headers=SDK_AUTH)
    assert reply.status_code == 400
    assert reply.json()["code"] == "VALIDATION_ERROR"
    assert words in reply.json()["message"]


@DOCUMENTED
def test_unknown_event_types_are_answered_with_the_allowed_list(emu: Emulator) -> None:
    reply = httpx.post(
        f"{emu.linktor_server_url}/webhooks",
        json={"url": "https://example.com/h", "events": ["message.inbound"]},
        headers=SERVER_AUTH,
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    for event_type in EVENT_TYPES:
        assert event_type in error["details"]["allowed"]
        assert event_type in error["message"]


# -- deliveries ------------------------------------------------------------------------------------


def test_delivery_body_headers_and_signature(emu: Emulator, receiver: Receiver) -> None:
    webhook = register(emu, receiver.url, ["message.received"], headers={"X-Env": "test"})
    message = simulate_inbound(emu, "hello webhook")
    [request] = receiver.wait_for(1)

    assert request.path == "/hooks"
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert verify_linktor(request.body, headers["x-linktor-signature"], webhook["secret"])
    assert verify_linktor_request(request.body, headers, webhook["secret"])
    assert not verify_linktor(request.body, headers["x-linktor-signature"], "another secret")
    assert abs(int(headers["x-linktor-timestamp"]) - time.time()) <= 60
    assert headers["x-linktor-event"] == "message.received"
    assert headers["x-env"] == "test"

    event = request.event()
    assert set(event) == {"id", "type", "timestamp", "tenantId", "data"}
    assert event["id"].startswith("evt_")
    assert event["type"] == "message.received"
    assert event["tenantId"] == "tenant_demo"
    assert event["timestamp"].endswith("Z")
    assert event["data"] == {
        "message": message,
        "conversationId": "conv_demo",
        "contactId": "ct_demo_1",
        "channelId": "ch_demo",
        "channelType": "whatsapp",
    }

    [delivery] = wait_log(emu, settled(1))
    assert headers["x-linktor-delivery-id"] == delivery["id"]
    assert delivery["webhook_id"] == webhook["id"]
    assert delivery["event_id"] == event["id"]
    assert delivery["event_type"] == "message.received"
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        "success",
        1,
        200,
    )
    assert delivery["response_body"] == '{"received":true}'
    assert delivery["error"] is None


def test_only_subscribed_event_types_are_delivered(emu: Emulator, receiver: Receiver) -> None:
    register(emu, receiver.url, ["message.delivered", "message.failed"])
    message = simulate_inbound(emu, "not delivered as a webhook")
    simulate_status(emu, message["id"], "read")
    simulate_status(emu, message["id"], "delivered")
    simulate_status(emu, message["id"], "failed", reason="number blocked")
    delivered, failed = (r.event() for r in receiver.wait_for(2))
    assert delivered["type"] == "message.delivered"
    assert delivered["data"]["messageId"] == message["id"]
    assert delivered["data"]["status"] == "delivered"
    assert delivered["data"]["direction"] == "inbound"
    assert delivered["data"]["conversationId"] == "conv_demo"
    assert "error" not in delivered["data"]
    assert failed["type"] == "message.failed"
    assert failed["data"]["error"] == "number blocked"
    log = wait_log(emu, settled(2))
    assert [d["event_type"] for d in log] == ["message.delivered", "message.failed"]


def test_a_webhook_sees_only_its_tenants_events(emu: Emulator, receiver: Receiver) -> None:
    register(emu, receiver.url, ["contact.created"])

    def other_tenant_then_demo_contact() -> None:
        emu.linktor.create_contact({"name": "Elsewhere"}, tenant_id="tenant_other")
        emu.linktor.create_contact({"name": "Here"})

    emu.call(other_tenant_then_demo_contact)
    [request] = receiver.wait_for(1)
    assert request.event()["data"]["name"] == "Here"


def test_every_event_type_carries_its_sdk_data(emu: Emulator, receiver: Receiver) -> None:
    register(emu, receiver.url, ["*"])
    store = emu.linktor

    def happen() -> None:
        contact = store.create_contact({"name": "Lin", "email": "lin@example.com"})
        store.update_contact(contact["id"], {"name": "Lin Tor"})
        conversation = store.create_conversation(
            {"channel_id": "ch_demo", "contact_id": contact["id"]}
        )
        store.update_conversation(
            conversation["id"], {"assigned_to": "usr_demo", "status": "resolved"}
        )
        store.add_message(
            conversation["id"],
            direction="outbound",
            content={"text": "done"},
            sender_type="agent",
            sender_id="usr_demo",
        )
        store.set_channel_connected("ch_demo", False)
        store.set_channel_connected("ch_demo", True)

    emu.call(happen)
    events = [r.event() for r in receiver.wait_for(9)]
    assert [e["type"] for e in events] == [
        "contact.created",
        "contact.updated",
        "conversation.created",
        "conversation.updated",
        "conversation.assigned",
        "conversation.resolved",
        "message.sent",
        "channel.disconnected",
        "channel.connected",
    ]
    by_type = {e["type"]: e["data"] for e in events}
    contact_id = by_type["contact.created"]["contactId"]
    assert by_type["contact.created"] == {
        "contactId": contact_id,
        "name": "Lin",
        "email": "lin@example.com",
        "phone": None,
    }
    assert by_type["contact.updated"]["name"] == "Lin Tor"
    assert by_type["contact.updated"]["previousData"]["name"] == "Lin"
    conversation_id = by_type["conversation.created"]["conversationId"]
    assert by_type["conversation.created"] == {
        "conversationId": conversation_id,
        "contactId": contact_id,
        "channelId": "ch_demo",
        "status": "open",
        "assignedTo": None,
    }
    for kind in ("conversation.updated", "conversation.assigned", "conversation.resolved"):
        assert by_type[kind] == {
            "conversationId": conversation_id,
            "contactId": contact_id,
            "channelId": "ch_demo",
            "status": "resolved",
            "assignedTo": "usr_demo",
            "previousStatus": "open",
            "previousAssignedTo": None,
        }
    sent = by_type["message.sent"]
    assert sent["message"]["content"] == {"text": "done"}
    assert sent["message"]["senderType"] == "agent"
    assert (sent["conversationId"], sent["contactId"], sent["channelType"]) == (
        conversation_id,
        contact_id,
        "whatsapp",
    )
    assert by_type["channel.disconnected"] == {
        "channelId": "ch_demo",
        "channelType": "whatsapp",
        "status": "inactive",
    }
    assert by_type["channel.connected"]["status"] == "active"


def test_one_event_goes_to_every_matching_webhook_signed_with_each_secret(
    emu: Emulator, receiver: Receiver
) -> None:
    first = register(emu, receiver.url, ["message.received"])
    second = register(emu, receiver.url, ["*"])
    register(emu, receiver.url, ["message.sent"])
    simulate_inbound(emu, "fan out")
    requests = receiver.wait_for(2)
    bodies = {r.body for r in requests}
    assert len(bodies) == 1  # the same event, encoded once
    secrets = {first["secret"], second["secret"]}
    signed_with = {
        s
        for r in requests
        for s in secrets
        if verify_linktor(r.body, r.headers["x-linktor-signature"], s)
    }
    assert signed_with == secrets
    log = wait_log(emu, settled(2))
    assert {d["webhook_id"] for d in log} == {first["id"], second["id"]}


def test_deliveries_of_one_webhook_keep_event_order(emu: Emulator, receiver: Receiver) -> None:
    register(emu, receiver.url, ["message.received"])
    texts = [f"message {n}" for n in range(8)]
    for text in texts:
        simulate_inbound(emu, text)
    received = [r.event()["data"]["message"]["content"]["text"] for r in receiver.wait_for(8)]
    assert received == texts


def test_an_inactive_webhook_gets_nothing(emu: Emulator, receiver: Receiver) -> None:
    paused = register(emu, receiver.url, ["message.received"])
    httpx.patch(
        f"{emu.linktor_url}/webhooks/{paused['id']}", json={"status": "inactive"}, headers=SDK_AUTH
    )
    active = register(emu, receiver.url, ["message.received"])
    simulate_inbound(emu, "only for the active one")
    receiver.wait_for(1)
    log = wait_log(emu, settled(1))
    assert [d["webhook_id"] for d in log] == [active["id"]]


# -- retries ---------------------------------------------------------------------------------------


def test_failed_deliveries_are_retried_until_they_succeed() -> None:
    with Emulator(webhook_retry_delays=(0.01, 0.02)) as emu, Receiver(fail_first=2) as receiver:
        webhook = register(emu, receiver.url, ["message.received"])
        simulate_inbound(emu, "persist")
        attempts = receiver.wait_for(3)
        assert len({r.body for r in attempts}) == 1
        assert len({r.headers["x-linktor-delivery-id"] for r in attempts}) == 1
        for attempt in attempts:
            assert verify_linktor(
                attempt.body, attempt.headers["x-linktor-signature"], webhook["secret"]
            )

        [delivery] = wait_log(emu, settled(1))
        assert (delivery["status"], delivery["attempts"]) == ("success", 3)
        assert [a["response_status"] for a in delivery["attempt_log"]] == [500, 500, 200]
        assert [a["attempt"] for a in delivery["attempt_log"]] == [1, 2, 3]
        assert delivery["attempt_log"][0]["error"] == "receiver answered HTTP 500"
        assert delivery["error"] is None


def test_a_delivery_fails_after_the_last_retry() -> None:
    with (
        Emulator(webhook_retry_delays=(0.01, 0.02)) as emu,
        Receiver(fail_first=100, fail_status=503) as receiver,
    ):
        webhook = register(emu, receiver.url, ["message.received"])
        simulate_inbound(emu, "never accepted")
        [delivery] = wait_log(emu, settled(1))
        assert (delivery["status"], delivery["attempts"]) == ("failed", 3)
        assert delivery["response_status"] == 503
        assert delivery["response_body"] == '{"error":"try later"}'
        assert delivery["error"] == "receiver answered HTTP 503"
        assert len(receiver.requests) == 3

        # The same log through the API, as the SDK's WebhookDelivery.
        reply = httpx.get(
            f"{emu.linktor_url}/webhooks/{webhook['id']}/deliveries", headers=SDK_AUTH
        )
        [shown] = reply.json()["data"]
        assert shown == {
            "id": delivery["id"],
            "webhookId": webhook["id"],
            "eventId": delivery["event_id"],
            "eventType": "message.received",
            "status": "failed",
            "attempts": 3,
            "lastAttemptAt": delivery["last_attempt_at"],
            "responseStatus": 503,
            "responseBody": '{"error":"try later"}',
            "error": "receiver answered HTTP 503",
            "createdAt": delivery["created_at"],
        }


def test_a_retry_policy_caps_the_retries() -> None:
    with Emulator(webhook_retry_delays=(0.01,)) as emu, Receiver(fail_first=100) as receiver:
        register(emu, receiver.url, ["message.received"], retryPolicy={"maxRetries": 3})
        register(emu, receiver.url, ["message.sent"], retryPolicy={"maxRetries": 0})
        simulate_inbound(emu, "retried four times in all")
        emu.call(
            emu.linktor.add_message,
            "conv_demo",
            direction="outbound",
            content={"text": "tried once"},
            sender_type="agent",
        )
        log = wait_log(emu, settled(2))
        assert {d["event_type"]: d["attempts"] for d in log} == {
            "message.received": 4,  # the last configured delay repeats
            "message.sent": 1,
        }


def test_an_unreachable_receiver_is_logged_as_failed() -> None:
    with Receiver() as gone:
        url = gone.url
    with Emulator(webhook_retry_delays=(0.01,)) as emu:
        register(emu, url, ["message.received"])
        simulate_inbound(emu, "nobody listens")
        [delivery] = wait_log(emu, settled(1))
        assert (delivery["status"], delivery["attempts"]) == ("failed", 2)
        assert delivery["response_status"] is None
        assert "ConnectError" in delivery["error"]


@DOCUMENTED
def test_the_server_dialect_shows_deliveries_in_snake_case(
    emu: Emulator, receiver: Receiver
) -> None:
    webhook = register(emu, receiver.url, ["message.received"])
    simulate_inbound(emu, "logged")
    wait_log(emu, settled(1))
    reply = httpx.get(
        f"{emu.linktor_server_url}/webhooks/{webhook['id']}/deliveries", headers=SERVER_AUTH
    )
    [shown] = reply.json()["data"]
    assert shown["webhook_id"] == webhook["id"]
    assert (shown["status"], shown["response_status"]) == ("success", 200)


# -- a message sent through the REST API -----------------------------------------------------------


async def test_a_message_sent_through_the_sdk_api_reaches_socket_and_webhook(emu: Emulator) -> None:
    with Receiver() as receiver:
        webhook = register(emu, receiver.url, ["message.sent"])
        async with connect(f"{emu.ws_url}/linktor/ws?api_key=lk_demo") as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "connected"
            async with httpx.AsyncClient(base_url=emu.linktor_url) as http:
                reply = await http.post(
                    "/conversations/conv_demo/messages", json={"text": "hi"}, headers=SDK_AUTH
                )
            assert reply.status_code in (200, 201), reply.text
            message_id = reply.json()["id"]
            frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert frame["type"] == "new_message"
            assert frame["payload"]["message"]["id"] == message_id
            assert frame["payload"]["message"]["content"] == "hi"
        [request] = await asyncio.to_thread(receiver.wait_for, 1)
        event = request.event()
        assert event["type"] == "message.sent"
        assert event["data"]["message"]["id"] == message_id
        assert verify_linktor(
            request.body, request.headers["x-linktor-signature"], webhook["secret"]
        )
