"""The emulator's Linktor REST API: conversations, messages, contacts, channels, users, API keys
and the tenant, in both dialects over one store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _emulator_support import DOCUMENTED
from test_emulator_linktor_rest import (  # noqa: F401  (fixtures)
    Side,
    check_page,
    check_shape,
    sdk_fixture,
    server_fixture,
    side_fixture,
)

from relaywire.emulator import Emulator

# -- conversations -------------------------------------------------------------------------------


def test_seeded_conversations(sdk: Side, server: Side) -> None:
    items = check_page(sdk.http.get("/conversations", params={"limit": 100}).json(), "Conversation")
    assert len(items) >= 25
    assert {c["status"] for c in items} == {"open", "pending", "resolved", "snoozed"}
    demo = sdk.http.get("/conversations/conv_demo").json()
    check_shape("Conversation", demo)
    assert demo["status"] == "open" and demo["lastMessage"]["direction"] == "inbound"
    shown = server.data(server.http.get("/conversations/conv_demo"))
    assert shown["status"] == "open" and shown["contact_id"] == demo["contactId"]
    # The server has no "snoozed": it shows those conversations as pending.
    statuses = {c["status"] for c in server.items(server.http.get("/conversations?page_size=50"))}
    assert statuses == {"open", "pending", "resolved"}


@pytest.mark.parametrize(
    ("params", "key", "value"),
    [
        ({"status": "open"}, "status", "open"),
        ({"channelId": "ch_demo"}, "channelId", "ch_demo"),
        ({"contactId": "ct_demo_2"}, "contactId", "ct_demo_2"),
        ({"contact_id": "ct_demo_2"}, "contactId", "ct_demo_2"),
    ],
)
def test_sdk_conversation_filters(sdk: Side, params: dict[str, str], key: str, value: str) -> None:
    items = sdk.items(sdk.http.get("/conversations", params={**params, "limit": 100}))
    assert items and all(c[key] == value for c in items)


@DOCUMENTED
def test_conversation_search_and_assigned_filter(sdk: Side, server: Side) -> None:
    found = sdk.items(sdk.http.get("/conversations", params={"search": "Grace Hopper"}))
    assert found and all(c["contactId"] == "ct_demo_2" for c in found)
    sdk.http.post("/conversations/conv_demo/assign", json={"agentId": "usr_demo"})
    assigned = sdk.items(sdk.http.get("/conversations", params={"assignedTo": "usr_demo"}))
    assert [c["id"] for c in assigned] == ["conv_demo"]
    on_server = server.items(server.http.get("/conversations", params={"assigned_to": "usr_demo"}))
    assert [c["assigned_user_id"] for c in on_server] == ["usr_demo"]


def test_sdk_patch_resolve_and_assign(sdk: Side) -> None:
    updated = sdk.http.patch("/conversations/conv_demo", json={"status": "resolved", "tags": ["x"]})
    check_shape("Conversation", updated.json())
    assert updated.json()["status"] == "resolved" and updated.json()["tags"] == ["x"]
    assigned = sdk.http.post("/conversations/conv_demo/assign", json={"agentId": "agent_7"})
    assert assigned.json()["assignedTo"] == "agent_7" and assigned.json()["assignedAt"]
    cleared = sdk.http.patch("/conversations/conv_demo", json={"assignedTo": None})
    assert cleared.json()["assignedTo"] is None
    bad = sdk.http.patch("/conversations/conv_demo", json={"status": "closed"})
    assert sdk.error(bad, 400)[0] == "VALIDATION_ERROR"
    assert sdk.error(sdk.http.post("/conversations/conv_demo/assign", json={}), 400)


@DOCUMENTED
def test_server_conversation_lifecycle(server: Side) -> None:
    created = server.data(
        server.http.post(
            "/conversations",
            json={"contact_id": "ct_demo_3", "channel_id": "ch_demo", "subject": "Hi"},
        ),
        201,
    )
    cid = created["id"]
    assert created["status"] == "open" and created["priority"] == "normal"
    updated = server.data(server.http.put(f"/conversations/{cid}", json={"priority": "high"}))
    assert updated["priority"] == "high"
    assigned = server.data(
        server.http.post(f"/conversations/{cid}/assign", json={"user_id": "usr_demo"})
    )
    assert assigned["assigned_user_id"] == "usr_demo"
    unknown_user = server.http.post(f"/conversations/{cid}/assign", json={"user_id": "nobody"})
    assert server.error(unknown_user, 404)[0] == "USER_NOT_FOUND"
    reopened = server.http.post(f"/conversations/{cid}/reopen")
    assert server.error(reopened, 400)[1] == "conversation is already open"
    resolved = server.data(server.http.post(f"/conversations/{cid}/resolve"))
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    again = server.http.post(f"/conversations/{cid}/resolve")
    assert server.error(again, 400)[1] == "conversation is already resolved"
    assert server.data(server.http.post(f"/conversations/{cid}/reopen"))["status"] == "open"
    closed = server.data(server.http.put(f"/conversations/{cid}", json={"status": "closed"}))
    assert closed["status"] == "closed"


def test_server_conversation_create_needs_known_contact(server: Side) -> None:
    missing = server.http.post("/conversations", json={"channel_id": "ch_demo"})
    assert server.error(missing, 400)[0] == "VALIDATION_ERROR"
    unknown = server.http.post("/conversations", json={"contact_id": "x", "channel_id": "ch_demo"})
    assert server.error(unknown, 404)[0] == "CONTACT_NOT_FOUND"


# -- messages ----------------------------------------------------------------------------------


def test_sdk_send_text_and_list(sdk: Side, emu: Emulator) -> None:
    sent = sdk.http.post("/conversations/conv_demo/messages", json={"text": "Hello there"})
    assert sent.status_code == 201
    message = sent.json()
    check_shape("Message", message)
    assert message["direction"] == "outbound" and message["senderType"] == "agent"
    assert message["content"] == {"text": "Hello there"}
    listed = check_page(sdk.http.get("/conversations/conv_demo/messages").json(), "Message")
    assert [m["id"] for m in listed][-1] == message["id"]  # oldest first
    assert emu.linktor.messages[message["id"]]["sender_type"] == "agent"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"media": {"url": "https://x.test/a.png"}}, "image"),
        ({"media": {"url": "https://x.test/a", "mimeType": "video/mp4"}}, "video"),
        ({"media": {"url": "https://x.test/report.pdf"}}, "document"),
        ({"location": {"latitude": -23.5, "longitude": -46.6, "name": "SP"}}, "location"),
        ({"text": "Pick one", "buttons": [{"type": "reply", "text": "Yes"}]}, "text"),
        ({"template": {"name": "welcome", "language": "en"}}, "text"),
    ],
)
def test_sdk_send_rich_messages(sdk: Side, body: dict[str, Any], content_type: str) -> None:
    message = sdk.http.post("/conversations/conv_demo/messages", json=body).json()
    check_shape("Message", message)
    assert message["contentType"] == content_type
    if "media" in body:
        assert message["content"]["media"]["mimeType"]


@pytest.mark.parametrize(
    "body",
    [{}, {"metadata": {"a": 1}}, {"text": 5}, {"media": {"caption": "no url"}}, {"location": {}}],
)
def test_sdk_send_rejects_empty_or_malformed(sdk: Side, body: dict[str, Any]) -> None:
    response = sdk.http.post("/conversations/conv_demo/messages", json=body)
    assert sdk.error(response, 400)[0] == "VALIDATION_ERROR"


@DOCUMENTED
def test_server_send_list_get_and_react(server: Side, sdk: Side) -> None:
    sent = server.data(
        server.http.post(
            "/conversations/conv_demo/messages",
            json={"content_type": "template", "content": "order_update", "metadata": {"k": "v"}},
        ),
        201,
    )
    assert sent["sender_type"] == "user" and sent["content_type"] == "template"
    assert sent["status"] == "pending" and sent["content"] == "order_update"
    listed = server.http.get("/conversations/conv_demo/messages").json()
    assert listed["data"][0]["id"] == sent["id"]  # newest first
    assert listed["meta"]["total_items"] == 2
    assert server.data(server.http.get(f"/messages/{sent['id']}"))["id"] == sent["id"]
    # The SDK dialect sees the same message with a content type its enum accepts.
    check_shape("Message", sdk.http.get(f"/messages/{sent['id']}").json())
    path = f"/conversations/conv_demo/messages/{sent['id']}/reactions"
    reacted = server.data(server.http.post(path, json={"emoji": "👍"}))
    assert reacted == {"message": "Reaction added", "message_id": sent["id"], "emoji": "👍"}
    shown = server.data(server.http.get(f"/messages/{sent['id']}"))
    assert [r["emoji"] for r in shown["reactions"]] == ["👍"]
    removed = server.data(server.http.post(path, json={"emoji": ""}))
    assert removed["message"] == "Reaction removed"
    bad = server.http.post("/conversations/conv_demo/messages", json={"content": "x"})
    assert server.error(bad, 400)[0] == "VALIDATION_ERROR"
    wrong_type = server.http.post(
        "/conversations/conv_demo/messages", json={"content_type": "hologram", "content": "x"}
    )
    assert server.error(wrong_type, 400)[0] == "VALIDATION_ERROR"


@DOCUMENTED
def test_messages_of_unknown_conversation(side: Side, emu: Emulator) -> None:
    response = side.http.post("/conversations/nope/messages", json={"text": "x"})
    assert side.error(response, 404)[0] in ("NOT_FOUND", "CONVERSATION_NOT_FOUND")


# -- contacts ----------------------------------------------------------------------------------


def test_contact_crud(side: Side) -> None:
    created = side.data(
        side.http.post("/contacts", json={"name": "Mary Jackson", "email": "mary@example.com"}),
        201,
    )
    cid = created["id"]
    if side.sdk:
        check_shape("Contact", created)
    fetched = side.data(side.http.get(f"/contacts/{cid}"))
    assert fetched["name"] == "Mary Jackson"
    changed = side.data(
        side.http.request(side.update, f"/contacts/{cid}", json={"name": "Mary W. Jackson"})
    )
    assert changed["name"] == "Mary W. Jackson"
    found = side.items(side.http.get("/contacts", params={"search": "jackson"}))
    assert [c["id"] for c in found] == [cid]
    deleted = side.http.delete(f"/contacts/{cid}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert side.http.get(f"/contacts/{cid}").status_code == 404


def test_server_put_overwrites_omitted_fields(server: Side) -> None:
    created = server.data(
        server.http.post("/contacts", json={"name": "Dorothy", "email": "d@example.com"}), 201
    )
    replaced = server.data(server.http.put(f"/contacts/{created['id']}", json={"name": "Dot"}))
    assert replaced["name"] == "Dot" and "email" not in replaced


def test_sdk_contact_fields_and_identifiers(sdk: Side) -> None:
    body = {
        "name": "Ana",
        "phone": "+5511999990000",
        "customFields": {"tier": "gold", "score": 3},
        "tags": ["vip"],
        "identifiers": [{"channelType": "whatsapp", "channelId": "ch_demo", "identifier": "+55"}],
    }
    contact = sdk.http.post("/contacts", json=body).json()
    check_shape("Contact", contact)
    assert contact["customFields"] == {"tier": "gold", "score": 3}
    assert contact["identifiers"][0]["identifier"] == "+55"
    by_tag = sdk.items(sdk.http.get("/contacts", params={"tags": "vip"}))
    assert [c["id"] for c in by_tag] == [contact["id"]]


@DOCUMENTED
def test_server_contact_rules(server: Side) -> None:
    empty = server.http.post("/contacts", json={"name": "  "})
    assert server.error(empty, 400)[0] == "VALIDATION_ERROR"
    duplicate = server.http.post("/contacts", json={"name": "X", "email": "ada@example.com"})
    assert server.error(duplicate, 409)[0] == "CONFLICT"
    non_string_map = server.http.post("/contacts", json={"name": "X", "custom_fields": {"a": 1}})
    assert server.error(non_string_map, 400)[0] == "VALIDATION_ERROR"
    page = server.http.get("/contacts", params={"page": 2, "page_size": 2}).json()
    assert page["meta"]["total_items"] == 5 and page["meta"]["total_pages"] == 3
    assert len(page["data"]) == 2


def test_sdk_contact_conflict_is_conflict_error(sdk: Side) -> None:
    response = sdk.http.post("/contacts", json={"name": "X", "phone": "+15550000001"})
    assert sdk.error(response, 409)[0] == "CONFLICT_ERROR"


@DOCUMENTED
def test_server_contact_identities(server: Side, sdk: Side) -> None:
    identity = server.data(
        server.http.post(
            "/contacts/ct_demo_1/identities",
            json={"channel_type": "telegram", "identifier": "@ada"},
        ),
        201,
    )
    assert identity["contact_id"] == "ct_demo_1" and identity["channel_type"] == "telegram"
    sdk_view = sdk.http.get("/contacts/ct_demo_1").json()
    check_shape("Contact", sdk_view)
    assert "@ada" in [i["identifier"] for i in sdk_view["identifiers"]]
    gone = server.http.delete(f"/contacts/ct_demo_1/identities/{identity['id']}")
    assert gone.status_code == 204
    again = server.http.delete(f"/contacts/ct_demo_1/identities/{identity['id']}")
    assert server.error(again, 404)[0] == "NOT_FOUND"


def test_a_contact_created_in_one_dialect_is_seen_by_the_other(sdk: Side, server: Side) -> None:
    from_sdk = sdk.http.post("/contacts", json={"name": "Via SDK", "email": "sdk@example.com"})
    on_server = server.data(server.http.get(f"/contacts/{from_sdk.json()['id']}"))
    assert on_server["email"] == "sdk@example.com"
    from_server = server.data(server.http.post("/contacts", json={"name": "Via server"}), 201)
    on_sdk = sdk.http.get(f"/contacts/{from_server['id']}").json()
    check_shape("Contact", on_sdk)
    assert on_sdk["name"] == "Via server"
    server.http.put(f"/contacts/{from_sdk.json()['id']}", json={"name": "Renamed"})
    assert sdk.http.get(f"/contacts/{from_sdk.json()['id']}").json()["name"] == "Renamed"


def test_a_message_sent_in_one_dialect_is_listed_by_the_other(sdk: Side, server: Side) -> None:
    sent = sdk.http.post("/conversations/conv_demo_02/messages", json={"text": "cross"}).json()
    listed = server.http.get("/conversations/conv_demo_02/messages").json()["data"]
    assert listed[0]["id"] == sent["id"] and listed[0]["content"] == "cross"


# -- channels ----------------------------------------------------------------------------------


@DOCUMENTED
def test_channel_crud_and_connection(side: Side, emu: Emulator) -> None:
    body = {"name": "Support bot", "type": "telegram", "config": {"bot_token": "123:abc"}}
    created = side.data(side.http.post("/channels", json=body), 201)
    chid = created["id"]
    if side.sdk:
        check_shape("Channel", created)
        assert created["status"] == "inactive"
    else:
        assert created["connection_status"] == "disconnected"
    connected = side.data(side.http.post(f"/channels/{chid}/connect"))
    if side.sdk:
        assert connected["status"] == "active"
    else:
        assert connected["channel"]["connection_status"] == "connected"
    disconnected = side.data(side.http.post(f"/channels/{chid}/disconnect"))
    if side.sdk:
        assert disconnected["status"] == "inactive"
    else:
        assert disconnected == {"message": "Channel disconnected"}
    renamed = side.data(side.http.request(side.update, f"/channels/{chid}", json={"name": "N"}))
    assert renamed["name"] == "N"
    assert chid in [c["id"] for c in side.items(side.http.get("/channels"))]
    assert side.http.delete(f"/channels/{chid}").status_code == 204
    assert side.http.post(f"/channels/{chid}/connect").status_code == 404


def test_channel_types_per_dialect(sdk: Side, server: Side) -> None:
    voice = server.data(server.http.post("/channels", json={"name": "Calls", "type": "voice"}), 201)
    check_shape("Channel", sdk.http.get(f"/channels/{voice['id']}").json())
    rejected = sdk.http.post("/channels", json={"name": "Calls", "type": "voice"})
    assert sdk.error(rejected, 400)[0] == "VALIDATION_ERROR"
    sms = sdk.items(sdk.http.get("/channels", params={"type": "sms"}))
    assert [c["id"] for c in sms] == [voice["id"]]


@DOCUMENTED
def test_server_channel_status_and_enabled(server: Side) -> None:
    disabled = server.data(server.http.put("/channels/ch_demo/enabled", json={"enabled": False}))
    assert disabled["enabled"] is False
    status = server.data(server.http.put("/channels/ch_demo/status", json={"status": "inactive"}))
    assert status["connection_status"] == "disconnected"
    bad = server.http.put("/channels/ch_demo/enabled", json={"enabled": "no"})
    assert server.error(bad, 400)[0] == "VALIDATION_ERROR"


# -- the caller, users, API keys, tenant (server) ---------------------------------------------


def test_server_me_update_and_password(server: Side, emu: Emulator) -> None:
    renamed = server.data(server.http.put("/me", json={"name": "Demo Boss"}))
    assert renamed["name"] == "Demo Boss"
    wrong = server.http.put(
        "/me/password", json={"current_password": "nope", "new_password": "new-password-1"}
    )
    assert server.error(wrong, 401)[0] == "INVALID_CREDENTIALS"
    short = server.http.put(
        "/me/password", json={"current_password": "demo-password", "new_password": "short"}
    )
    assert server.error(short, 400)[0] == "VALIDATION_ERROR"
    changed = server.http.put(
        "/me/password", json={"current_password": "demo-password", "new_password": "new-password-1"}
    )
    assert server.data(changed) == {"message": "Password changed successfully"}
    login = httpx.post(
        f"{emu.linktor_server_url}/auth/login",
        json={"email": "demo@linktor.local", "password": "new-password-1"},
    )
    assert login.status_code == 200


def test_server_users_and_role_gate(server: Side, emu: Emulator) -> None:
    body = {
        "email": "agent@linktor.local",
        "password": "agent-password",
        "name": "A",
        "role": "agent",
    }
    user = server.data(server.http.post("/users", json=body), 201)
    assert user["role"] == "agent" and "password" not in user
    assert server.error(server.http.post("/users", json=body), 409)[0] == "CONFLICT"
    login = httpx.post(
        f"{emu.linktor_server_url}/auth/login",
        json={"email": "agent@linktor.local", "password": "agent-password"},
    ).json()
    agent = {"Authorization": f"Bearer {login['data']['access_token']}"}
    forbidden = httpx.get(f"{emu.linktor_server_url}/users", headers=agent)
    # The server's role gate is a middleware: its refusal is top-level, like the auth one's.
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "code": "FORBIDDEN",
        "message": "insufficient permissions",
        "details": None,
    }
    assert httpx.get(f"{emu.linktor_server_url}/contacts", headers=agent).status_code == 200
    updated = server.data(server.http.put(f"/users/{user['id']}", json={"role": "supervisor"}))
    assert updated["role"] == "supervisor"
    assert server.http.delete(f"/users/{user['id']}").status_code == 204


def test_server_api_keys(server: Side, emu: Emulator) -> None:
    created = server.data(server.http.post("/api-keys", json={"name": "CI"}), 201)
    assert created["key"].startswith("lk_") and len(created["key"]) == 51
    assert created["key_prefix"] == created["key"][:12]
    listed = server.data(server.http.get("/api-keys"))
    assert created["id"] in [k["id"] for k in listed] and all("key" not in k for k in listed)
    works = httpx.get(f"{emu.linktor_url}/channels", headers={"X-API-Key": created["key"]})
    assert works.status_code == 200
    assert server.http.delete(f"/api-keys/{created['id']}").status_code == 204
    revoked = httpx.get(f"{emu.linktor_url}/channels", headers={"X-API-Key": created["key"]})
    assert revoked.status_code == 401


def test_server_tenant(server: Side) -> None:
    tenant = server.data(server.http.get("/tenant"))
    assert tenant["id"] == "tenant_demo"
    renamed = server.data(server.http.put("/tenant", json={"name": "Acme"}))
    assert renamed["name"] == "Acme"
    usage = server.data(server.http.get("/tenant/usage"))
    assert usage["conversations"] == 28 and usage["contacts"] == 5
