"""The emulator's Linktor agent WebSocket, over real sockets with a plain ``websockets`` client.

Absence of a frame is never waited for: a ``ping`` (answered in order with ``pong``) or a later
event that must arrive first serves as the barrier.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from _emulator_support import DOCUMENTED
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from relaywire.emulator import Emulator
from relaywire.emulator._context import EmulatorConfig, EmulatorContext
from relaywire.emulator.linktor.realtime import RealtimeHub

TIMEOUT = 5.0


def demo_jwt(emu: Emulator) -> str:
    return emu.call(lambda: emu.context.jwt.issue(emu.linktor.users["usr_demo"], 900))


def add_agent(emu: Emulator, user_id: str, name: str, tenant_id: str = "tenant_demo") -> str:
    """Another user (with an API key, returned) in ``tenant_id``."""
    key = f"lk_{user_id}"

    def add() -> None:
        store = emu.linktor
        store.users[user_id] = {
            **store.users["usr_demo"],
            "id": user_id,
            "tenant_id": tenant_id,
            "email": f"{user_id}@example.com",
            "name": name,
            "role": "agent",
        }
        store.api_keys[key] = {
            **store.api_keys["lk_demo"],
            "id": f"key_{user_id}",
            "tenant_id": tenant_id,
            "user_id": user_id,
        }

    emu.call(add)
    return key


@asynccontextmanager
async def socket(
    emu: Emulator, query: str = "api_key=lk_demo", headers: dict[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    """A connection to ``/linktor/ws``; its ``connected`` frame is already read."""
    async with connect(f"{emu.ws_url}/linktor/ws?{query}", additional_headers=headers) as ws:
        assert (await recv(ws))["type"] == "connected"
        yield ws


async def recv(ws: ClientConnection) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert isinstance(frame, dict)
    assert set(frame) == {"type", "payload"}
    return frame


async def expect(ws: ClientConnection, frame_type: str) -> dict[str, Any]:
    frame = await recv(ws)
    assert frame["type"] == frame_type, frame
    payload: dict[str, Any] = frame["payload"]
    return payload


async def send(ws: ClientConnection, frame: Any) -> None:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))


async def barrier(ws: ClientConnection) -> None:
    """Every frame the server queued for ``ws`` before now has been read when this returns."""
    await send(ws, {"type": "ping"})
    await expect(ws, "pong")


def inbound(emu: Emulator, conversation_id: str, text: str) -> dict[str, Any]:
    record: dict[str, Any] = emu.call(
        emu.linktor.add_message,
        conversation_id,
        direction="inbound",
        content={"text": text},
        sender_type="contact",
        sender_id="ct_demo_1",
    )
    return record


# -- authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mount", "emu"),
    [("/linktor/ws", "code"), ("/linktor/api/v1/ws", "documented")],
    indirect=["emu"],
)
@pytest.mark.parametrize(
    "form",
    [
        "bearer-key",
        "bearer-jwt",
        "x-api-key",
        "query-token-jwt",
        "query-token-key",
        "query-api-key",
    ],
)
async def test_connects_with_every_credential_form(emu: Emulator, mount: str, form: str) -> None:
    jwt = demo_jwt(emu)
    query, headers = {
        "bearer-key": ("", {"Authorization": "Bearer lk_demo"}),
        "bearer-jwt": ("", {"Authorization": f"Bearer {jwt}"}),
        "x-api-key": ("", {"X-API-Key": "lk_demo"}),
        "query-token-jwt": (f"?token={jwt}", {}),
        "query-token-key": ("?token=lk_demo", {}),
        "query-api-key": ("?api_key=lk_demo", {}),
    }[form]
    async with connect(f"{emu.ws_url}{mount}{query}", additional_headers=headers) as ws:
        payload = await expect(ws, "connected")
    assert payload == {
        "user_id": "usr_demo",
        "tenant_id": "tenant_demo",
        "online_users": ["usr_demo"],
    }


@DOCUMENTED
@pytest.mark.parametrize(
    ("query", "headers", "reason"),
    [
        ("", {}, "missing token"),
        ("?token=", {}, "missing token"),
        ("?token=not-a-token", {}, "invalid token"),
        ("?api_key=lk_wrong", {}, "invalid token"),
        ("", {"Authorization": "Bearer lk_wrong"}, "invalid token"),
        ("", {"Authorization": "Basic bGtfZGVtbzo="}, "invalid token"),
        ("", {"X-API-Key": "lk_wrong"}, "invalid token"),
    ],
)
async def test_bad_credentials_are_refused_at_the_upgrade(
    emu: Emulator, query: str, headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{emu.ws_url}/linktor/api/v1/ws{query}", additional_headers=headers):
            pass
    response = caught.value.response
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert json.loads(bytes(response.body)) == {"error": reason}


async def test_expired_jwt_is_refused(emu: Emulator) -> None:
    expired = emu.call(lambda: emu.context.jwt.issue(emu.linktor.users["usr_demo"], -10))
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{emu.ws_url}/linktor/ws?token={expired}"):
            pass
    assert json.loads(bytes(caught.value.response.body)) == {"error": "invalid token"}


# -- presence and typing ---------------------------------------------------------------------------


async def test_presence_online_and_offline_reach_the_other_users(emu: Emulator) -> None:
    grace_key = add_agent(emu, "usr_grace", "Grace")
    async with socket(emu) as demo:
        async with connect(f"{emu.ws_url}/linktor/ws?api_key={grace_key}") as grace:
            connected = await expect(grace, "connected")
            assert connected["user_id"] == "usr_grace"
            assert connected["online_users"] == ["usr_demo", "usr_grace"]
            assert await expect(demo, "presence") == {"user_id": "usr_grace", "status": "online"}
            await barrier(grace)  # grace is not told about her own arrival
        offline = await expect(demo, "presence")
    assert offline["user_id"] == "usr_grace"
    assert offline["status"] == "offline"
    datetime.fromisoformat(offline["last_seen"].replace("Z", "+00:00"))


async def test_typing_is_relayed_to_the_other_connections_only(emu: Emulator) -> None:
    grace_key = add_agent(emu, "usr_grace", "Grace")
    async with socket(emu) as demo, socket(emu, f"api_key={grace_key}") as grace:
        await expect(demo, "presence")
        await send(
            demo, {"type": "typing", "payload": {"conversation_id": "conv_demo", "is_typing": True}}
        )
        assert await expect(grace, "typing") == {
            "conversation_id": "conv_demo",
            "user_id": "usr_demo",
            "user_name": "Demo Admin",
            "is_typing": True,
        }
        await barrier(demo)  # the sender does not get its own typing back

        # The TS SDK's flat, camelCase frame is understood too.
        await send(grace, {"type": "typing", "conversationId": "conv_demo", "isTyping": False})
        assert await expect(demo, "typing") == {
            "conversation_id": "conv_demo",
            "user_id": "usr_grace",
            "user_name": "Grace",
            "is_typing": False,
        }


async def test_every_connection_of_one_user_receives(emu: Emulator) -> None:
    """The real server keeps only a user's latest connection; here all of them receive, and
    closing one leaves the other working."""
    grace_key = add_agent(emu, "usr_grace", "Grace")
    async with socket(emu, f"api_key={grace_key}") as observer:
        async with socket(emu) as first:
            assert (await expect(observer, "presence"))["status"] == "online"
            async with connect(f"{emu.ws_url}/linktor/ws?api_key=lk_demo") as second:
                connected = await expect(second, "connected")
                assert connected["online_users"] == ["usr_grace", "usr_demo"]
                inbound(emu, "conv_demo", "to both")
                for ws in (first, second):
                    assert (await expect(ws, "new_message"))["message"]["content"] == "to both"
                await expect(observer, "new_message")
            inbound(emu, "conv_demo", "still here")
            assert (await expect(first, "new_message"))["message"]["content"] == "still here"
            # usr_demo is still online through ``first``: no offline presence came before this.
            assert (await expect(observer, "new_message"))["message"]["content"] == "still here"
        assert (await expect(observer, "presence"))["status"] == "offline"


# -- store events ----------------------------------------------------------------------------------


async def test_store_changes_become_frames(emu: Emulator) -> None:
    headers = {"Authorization": f"Bearer {demo_jwt(emu)}"}
    async with socket(emu) as ws, httpx.AsyncClient(base_url=emu.linktor_server_url) as http:
        # An inbound message through the simulator.
        reply = await http.post(
            "/_emulator/inbound",
            json={"conversation_id": "conv_demo", "text": "hello"},
            headers=headers,
        )
        assert reply.status_code == 201
        message = reply.json()["data"]
        new = await expect(ws, "new_message")
        assert new == {"conversation_id": "conv_demo", "message": message}
        assert new["message"]["content"] == "hello"
        assert new["message"]["sender_type"] == "contact"

        # Its delivery report.
        reply = await http.post(
            f"/_emulator/messages/{message['id']}/status", json={"status": "read"}, headers=headers
        )
        assert reply.status_code == 200
        updated = await expect(ws, "message_updated")
        assert updated["conversation_id"] == "conv_demo"
        assert updated["message_id"] == message["id"]
        assert updated["status"] == "read"
        assert updated["message"]["read_at"] == reply.json()["data"]["read_at"]

        # A failure carries the reason on the message.
        reply = await http.post(
            f"/_emulator/messages/{message['id']}/status",
            json={"status": "failed", "reason": "blocked"},
            headers=headers,
        )
        failed = await expect(ws, "message_updated")
        assert (failed["status"], failed["message"]["error_message"]) == ("failed", "blocked")

        # An outbound message stored directly.
        sent = emu.call(
            emu.linktor.add_message,
            "conv_demo",
            direction="outbound",
            content={"text": "on it"},
            sender_type="agent",
            sender_id="usr_demo",
        )
        new = await expect(ws, "new_message")
        assert new["message"]["id"] == sent["id"]
        assert new["message"]["sender_type"] == "user"

        # A new conversation opened by an inbound message.
        reply = await http.post(
            "/_emulator/inbound",
            json={"contact_id": "ct_demo_2", "channel_id": "ch_demo", "text": "new here"},
            headers=headers,
        )
        assert reply.status_code == 201
        new_conversation_id = reply.json()["data"]["conversation_id"]
        opened = await expect(ws, "conversation_created")
        assert opened["conversation_id"] == opened["id"] == new_conversation_id
        assert (opened["contact_id"], opened["channel_id"], opened["status"]) == (
            "ct_demo_2",
            "ch_demo",
            "open",
        )
        assert (await expect(ws, "new_message"))["conversation_id"] == new_conversation_id

        # An update (assignment and resolution give one conversation_updated).
        emu.call(
            emu.linktor.update_conversation,
            new_conversation_id,
            {"status": "resolved", "assigned_to": "usr_demo"},
        )
        changed = await expect(ws, "conversation_updated")
        assert changed["conversation_id"] == new_conversation_id
        assert (changed["status"], changed["assigned_user_id"]) == ("resolved", "usr_demo")
        await barrier(ws)


async def test_other_tenants_events_are_not_sent(emu: Emulator) -> None:
    other_key = add_agent(emu, "usr_other", "Other", tenant_id="tenant_other")

    def other_conversation() -> str:
        store = emu.linktor
        channel = store.create_channel(
            {"name": "Other", "type": "webchat"}, tenant_id="tenant_other"
        )
        contact = store.create_contact({"name": "Someone"}, tenant_id="tenant_other")
        conversation = store.create_conversation(
            {"channel_id": channel["id"], "contact_id": contact["id"]}, tenant_id="tenant_other"
        )
        return str(conversation["id"])

    conversation_id = emu.call(other_conversation)
    async with socket(emu, f"api_key={other_key}") as other:
        connected_users = emu.call(lambda: emu.context.linktor_hub.online_users("tenant_other"))
        assert connected_users == ["usr_other"]
        async with socket(emu):  # a demo-tenant user coming online is not news to tenant_other
            inbound(emu, "conv_demo", "demo tenant only")
            inbound(emu, conversation_id, "for tenant_other")
            assert (await expect(other, "new_message"))["conversation_id"] == conversation_id


# -- subscriptions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subscribe",
    [
        {"type": "subscribe", "payload": {"conversation_id": "conv_demo_02"}},
        {"type": "subscribe", "conversation_id": "conv_demo_02"},
        {"type": "subscribe", "conversationId": "conv_demo_02"},
        {"type": "subscribe", "payload": {"conversationId": "conv_demo_02"}},
    ],
)
async def test_subscriptions_filter_conversation_frames(
    emu: Emulator, subscribe: dict[str, Any]
) -> None:
    async with socket(emu) as ws:
        await send(ws, subscribe)
        await barrier(ws)
        inbound(emu, "conv_demo", "not subscribed")
        inbound(emu, "conv_demo_02", "subscribed")
        assert (await expect(ws, "new_message"))["message"]["content"] == "subscribed"


async def test_subscriptions_also_filter_typing_and_keep_presence(emu: Emulator) -> None:
    grace_key = add_agent(emu, "usr_grace", "Grace")
    async with socket(emu) as demo:
        await send(demo, {"type": "subscribe", "payload": {"conversation_id": "conv_demo_03"}})
        await barrier(demo)
        async with socket(emu, f"api_key={grace_key}") as grace:
            assert (await expect(demo, "presence"))["user_id"] == "usr_grace"  # not scoped
            await send(grace, {"type": "typing", "payload": {"conversation_id": "conv_demo"}})
            await send(grace, {"type": "typing", "payload": {"conversation_id": "conv_demo_03"}})
            assert (await expect(demo, "typing"))["conversation_id"] == "conv_demo_03"


async def test_unsubscribe_restores_the_whole_tenant(emu: Emulator) -> None:
    async with socket(emu) as ws:
        await send(ws, {"type": "subscribe", "payload": {"conversation_id": "conv_demo_02"}})
        await send(ws, {"type": "subscribe", "payload": {"conversation_id": "conv_demo_03"}})
        await send(ws, {"type": "unsubscribe", "payload": {"conversation_id": "conv_demo_02"}})
        await barrier(ws)
        inbound(emu, "conv_demo_02", "dropped subscription")
        inbound(emu, "conv_demo_03", "kept subscription")
        assert (await expect(ws, "new_message"))["conversation_id"] == "conv_demo_03"

        await send(ws, {"type": "unsubscribe", "conversationId": "conv_demo_03"})
        await barrier(ws)
        inbound(emu, "conv_demo_04", "everything again")
        assert (await expect(ws, "new_message"))["conversation_id"] == "conv_demo_04"


# -- ping and errors -------------------------------------------------------------------------------


async def test_ping_is_answered_with_pong(emu: Emulator) -> None:
    async with socket(emu) as ws:
        await send(ws, {"type": "ping"})
        pong = await expect(ws, "pong")
    assert set(pong) == {"at"}
    assert datetime.fromisoformat(pong["at"].replace("Z", "+00:00")).tzinfo is not None


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ({"payload": {}}, "'type'"),
        ({"type": 7}, "'type'"),
        ({"type": "typing", "payload": "conv_demo"}, "'payload'"),
        ({"type": "dance"}, "unknown frame type: dance"),
        ({"type": "subscribe", "payload": {}}, "needs a conversation_id"),
        ({"type": "subscribe", "payload": {"conversation_id": "conv_nope"}}, "not found"),
        ({"type": "typing", "payload": {"conversation_id": 5}}, "needs a conversation_id"),
        (
            {"type": "typing", "payload": {"conversation_id": "conv_demo", "is_typing": "yes"}},
            "boolean",
        ),
    ],
)
async def test_malformed_frames_get_an_error_and_the_connection_stays(
    emu: Emulator, frame: Any, words: str
) -> None:
    async with socket(emu) as ws:
        await send(ws, frame)
        error = await expect(ws, "error")
        assert words in error["message"]
        await barrier(ws)


async def test_binary_json_frames_are_understood(emu: Emulator) -> None:
    async with socket(emu) as ws:
        await ws.send(b'{"type": "ping"}')
        assert "at" in await expect(ws, "pong")


# -- the bounded send queue ------------------------------------------------------------------------


async def test_a_full_send_queue_drops_new_frames_for_that_connection_only() -> None:
    hub = RealtimeHub(EmulatorContext(EmulatorConfig()), queue_size=2)
    slow = hub.open("tenant_demo", "usr_demo")  # each queue now holds ``connected``
    fast = hub.open("tenant_demo", "usr_demo")
    hub.broadcast("tenant_demo", "typing", {"n": 1})
    while not fast.queue.empty():  # ``fast`` keeps up, ``slow`` reads nothing
        fast.queue.get_nowait()
    hub.broadcast("tenant_demo", "typing", {"n": 2})
    hub.broadcast("tenant_demo", "typing", {"n": 3})
    assert (slow.dropped, fast.dropped) == (2, 0)
    slow_frames = [json.loads(slow.queue.get_nowait()) for _ in range(slow.queue.qsize())]
    assert [(f["type"], f["payload"].get("n")) for f in slow_frames] == [
        ("connected", None),
        ("typing", 1),
    ]
    fast_frames = [json.loads(fast.queue.get_nowait()) for _ in range(fast.queue.qsize())]
    assert [f["payload"]["n"] for f in fast_frames] == [2, 3]


# -- the simulator routes --------------------------------------------------------------------------


async def test_simulated_inbound_opens_a_conversation_in_the_sdk_dialect(emu: Emulator) -> None:
    async with socket(emu) as ws, httpx.AsyncClient(base_url=emu.linktor_url) as http:
        reply = await http.post(
            "/_emulator/inbound",
            json={
                "contactId": "ct_demo_3",
                "channelId": "ch_demo",
                "text": "hi",
                "metadata": {"k": "v"},
            },
            headers={"X-API-Key": "lk_demo"},
        )
        assert reply.status_code == 201
        message = reply.json()
        assert message["direction"] == "inbound"
        assert (message["senderType"], message["senderId"]) == ("contact", "ct_demo_3")
        assert message["content"] == {"text": "hi"}
        assert message["metadata"] == {"k": "v"}
        opened = await expect(ws, "conversation_created")
        assert opened["id"] == message["conversationId"]
        assert (await expect(ws, "new_message"))["message"]["id"] == message["id"]

        reply = await http.post(
            f"/_emulator/messages/{message['id']}/status",
            json={"status": "delivered"},
            headers={"X-API-Key": "lk_demo"},
        )
        assert (reply.status_code, reply.json()["status"]) == (200, "delivered")
        assert (await expect(ws, "message_updated"))["status"] == "delivered"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/_emulator/inbound", {"conversation_id": "conv_nope", "text": "x"}, 404),
        ("/_emulator/inbound", {"conversation_id": "conv_demo"}, 400),
        ("/_emulator/inbound", {"conversation_id": "conv_demo", "content": "x"}, 400),
        ("/_emulator/inbound", {"text": "x"}, 400),
        (
            "/_emulator/inbound",
            {"contact_id": "ct_nope", "channel_id": "ch_demo", "text": "x"},
            404,
        ),
        (
            "/_emulator/inbound",
            {"contact_id": "ct_demo_1", "channel_id": "ch_nope", "text": "x"},
            404,
        ),
        ("/_emulator/messages/msg_nope/status", {"status": "read"}, 404),
        ("/_emulator/messages/{message}/status", {"status": "sent"}, 400),
        ("/_emulator/messages/{message}/status", {"status": "failed", "reason": 3}, 400),
    ],
)
async def test_simulator_rejects_bad_requests_without_side_effects(
    emu: Emulator, path: str, body: dict[str, Any], status: int
) -> None:
    message_id = inbound(emu, "conv_demo", "existing")["id"]
    async with socket(emu) as ws, httpx.AsyncClient(base_url=emu.linktor_server_url) as http:
        reply = await http.post(
            path.format(message=message_id),
            json=body,
            headers={"Authorization": f"Bearer {demo_jwt(emu)}"},
        )
        assert reply.status_code == status
        assert reply.json()["success"] is False
        await barrier(ws)  # nothing was announced


@pytest.mark.parametrize("mount", ["/linktor", "/linktor/api/v1"])
async def test_simulator_needs_credentials(emu: Emulator, mount: str) -> None:
    async with httpx.AsyncClient(base_url=f"{emu.url}{mount}") as http:
        reply = await http.post(
            "/_emulator/inbound", json={"conversation_id": "conv_demo", "text": "x"}
        )
    assert reply.status_code == 401
