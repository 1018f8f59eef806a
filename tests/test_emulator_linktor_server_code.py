"""``/linktor/api/v1`` in the default ``"code"`` profile: what the self-hosted server's code does,
limits included (issue 16), over real sockets; and the ``"documented"`` profile switch.

Each section is one point of the issue. The server's own behaviour is read from its code
(edsonmartins/linktor at 607f2d6); docs/linktor-server.md lists it route by route.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from _emulator_support import DOCUMENTED
from test_emulator_linktor_realtime import TIMEOUT, demo_jwt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from relaywire.emulator import Emulator, EmulatorConfig

DEMO_EMAIL = "demo@linktor.local"
DEMO_PASSWORD = "demo-password"
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")


def go_moment(text: str) -> datetime:
    """A Go timestamp (fraction trimmed) as a datetime (Python 3.10 wants 6 digits)."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{fraction.ljust(6, '0')}+00:00")


def is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


def login(emu: Emulator) -> dict[str, Any]:
    reply = httpx.post(
        f"{emu.linktor_server_url}/auth/login",
        json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
    )
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()["data"]
    return data


@pytest.fixture
def api(emu: Emulator) -> Iterator[httpx.Client]:
    token = login(emu)["access_token"]
    with httpx.Client(
        base_url=emu.linktor_server_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


def data(reply: httpx.Response, status: int = 200) -> Any:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["success"] is True
    return body.get("data", "<absent>")


def error(reply: httpx.Response, status: int) -> dict[str, Any]:
    """The handler error object (``{"success": false, "error": {...}}``), never with details."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"success", "error"} and body["success"] is False
    found: dict[str, Any] = body["error"]
    assert "details" not in found
    return found


def new_contact(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Person {uuid.uuid4().hex[:6]}", **fields}
    created: dict[str, Any] = data(api.post("/contacts", json=body), 201)
    return created


def new_conversation(api: httpx.Client) -> dict[str, Any]:
    contact = new_contact(api)
    created: dict[str, Any] = data(
        api.post("/conversations", json={"contact_id": contact["id"], "channel_id": "ch_demo"}),
        201,
    )
    return created


def add_user(api: httpx.Client, emu: Emulator, name: str) -> str:
    """A second agent of the demo tenant, logged in: its access token."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@linktor.local"
    body = {"email": email, "password": "agent-password", "name": name, "role": "agent"}
    data(api.post("/users", json=body), 201)
    reply = httpx.post(
        f"{emu.linktor_server_url}/auth/login", json={"email": email, "password": "agent-password"}
    )
    return str(reply.json()["data"]["access_token"])


# -- the profile switch ---------------------------------------------------------------------------


def test_the_default_profile_is_code(emu: Emulator) -> None:
    assert emu.config.linktor_server_profile == "code"
    assert EmulatorConfig().linktor_server_profile == "code"


@pytest.mark.parametrize("profile", ["", "Code", "documentation", None, 1])
def test_a_bad_profile_is_a_clear_error(profile: Any) -> None:
    with pytest.raises(
        ValueError, match="linktor_server_profile must be one of 'code', 'documented'"
    ):
        Emulator(linktor_server_profile=profile)


def test_the_command_line_chooses_the_profile() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "relaywire", "emulator", "--linktor-server-profile", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "--linktor-server-profile" in bad.stderr and "'documented'" in bad.stderr
    command = ["emulator", "--port", "0", "--linktor-server-profile", "documented"]
    process = subprocess.Popen(
        [sys.executable, "-m", "relaywire", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" ", 1)[1].strip()
        banner = "".join(process.stdout.readline() for _ in range(4))
        assert "profile 'documented'" in banner
        # Documented: an API key as a Bearer token is accepted (the code refuses it).
        reply = httpx.get(
            f"{url}/linktor/api/v1/channels", headers={"Authorization": "Bearer lk_demo"}
        )
        assert reply.status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=20)


# -- 1. contact identity routes -------------------------------------------------------------------


def test_identity_routes_answer_200_with_the_whole_contact(api: httpx.Client) -> None:
    contact = new_contact(api, email="ident@example.com")
    assert "identities" not in contact  # a new contact has none
    path = f"/contacts/{contact['id']}/identities"
    # Any channel type: the server binds a free string.
    added = data(api.post(path, json={"channel_type": "carrier_pigeon", "identifier": "coo"}))
    assert added["id"] == contact["id"] and added["email"] == "ident@example.com"
    [identity] = added["identities"]
    assert identity["channel_type"] == "carrier_pigeon" and identity["identifier"] == "coo"
    assert identity["contact_id"] == contact["id"] and is_uuid(identity["id"])
    # The same channel type and identifier again: the upsert keeps one, with the new metadata.
    again = data(
        api.post(
            path,
            json={"channel_type": "carrier_pigeon", "identifier": "coo", "metadata": {"a": "1"}},
        )
    )
    assert [(i["id"], i.get("metadata")) for i in again["identities"]] == [
        (identity["id"], {"a": "1"})
    ]
    removed = data(api.delete(f"{path}/{identity['id']}"))
    assert removed["id"] == contact["id"] and "identities" not in removed
    assert "identities" not in data(api.get(f"/contacts/{contact['id']}"))


def test_removing_an_unknown_identity_is_an_internal_error(api: httpx.Client) -> None:
    contact = new_contact(api)
    found = error(api.delete(f"/contacts/{contact['id']}/identities/nope"), 500)
    assert found == {"code": "INTERNAL_ERROR", "message": "failed to remove identity"}
    assert error(api.delete("/contacts/nope/identities/x"), 404)["code"] == "CONTACT_NOT_FOUND"


@DOCUMENTED
def test_documented_identity_routes_answer_201_and_204(emu: Emulator, api: httpx.Client) -> None:
    contact = new_contact(api)
    path = f"/contacts/{contact['id']}/identities"
    identity = data(api.post(path, json={"channel_type": "telegram", "identifier": "@x"}), 201)
    assert identity["contact_id"] == contact["id"] and "email" not in identity
    assert api.delete(f"{path}/{identity['id']}").status_code == 204


# -- 2. conversations are get-or-create -----------------------------------------------------------


def test_creating_a_conversation_returns_the_open_one(api: httpx.Client) -> None:
    contact = new_contact(api)
    body = {"contact_id": contact["id"], "channel_id": "ch_demo", "subject": "first"}
    first = data(api.post("/conversations", json=body), 201)
    assert is_uuid(first["id"]) and first["status"] == "open"
    again = data(api.post("/conversations", json={**body, "subject": "second"}), 201)
    assert again["id"] == first["id"] and again["subject"] == "first"
    # Once resolved it is not open any more: the next create opens a new one.
    data(api.post(f"/conversations/{first['id']}/resolve"))
    third = data(api.post("/conversations", json=body), 201)
    assert third["id"] != first["id"]


def test_a_seeded_pending_conversation_counts_as_open(api: httpx.Client) -> None:
    listed = data(api.get("/conversations", params={"status": "pending"}))
    pending = listed[0]
    body = {"contact_id": pending["contact_id"], "channel_id": pending["channel_id"]}
    assert data(api.post("/conversations", json=body), 201)["status"] in ("open", "pending")


def test_conversation_create_checks_contact_then_channel(api: httpx.Client) -> None:
    nobody = {"contact_id": "nope", "channel_id": "nope"}
    assert error(api.post("/conversations", json=nobody), 404)["code"] == "CONTACT_NOT_FOUND"
    contact = new_contact(api)
    no_channel = {"contact_id": contact["id"], "channel_id": "nope"}
    found = error(api.post("/conversations", json=no_channel), 404)
    assert found == {"code": "CHANNEL_NOT_FOUND", "message": "channel not found"}
    invalid = error(api.post("/conversations", json={"channel_id": "ch_demo"}), 400)
    assert invalid == {"code": "VALIDATION_ERROR", "message": "Invalid request body"}


@DOCUMENTED
def test_documented_create_always_makes_a_new_conversation(
    emu: Emulator, api: httpx.Client
) -> None:
    body = {"contact_id": "ct_demo_2", "channel_id": "ch_demo"}
    first = data(api.post("/conversations", json=body), 201)
    assert data(api.post("/conversations", json=body), 201)["id"] != first["id"]


# -- 3. lenient inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"page": "x", "page_size": "y"},
        {"page": "0", "page_size": "-5"},
        {"page": "", "page_size": ""},
    ],
)
def test_bad_or_non_positive_paging_falls_back_to_the_defaults(
    api: httpx.Client, params: dict[str, str]
) -> None:
    body = api.get("/contacts", params=params).json()
    assert (body["meta"]["page"], body["meta"]["page_size"]) == (1, 20)
    assert len(body["data"]) == 5  # the seeds


def test_page_size_is_capped_at_100(emu: Emulator, api: httpx.Client) -> None:
    def add_many() -> None:
        for number in range(110):
            emu.linktor.create_contact({"name": f"Bulk {number:03d}"})

    emu.call(add_many)
    body = api.get("/contacts", params={"page_size": 500}).json()
    assert len(body["data"]) == 100
    # The meta repeats what was asked, not what was served.
    assert body["meta"] == {
        "page": 1,
        "page_size": 500,
        "total_pages": 1,
        "total_items": 115,
        "has_next": False,
        "has_previous": False,
    }
    second = api.get("/contacts", params={"page": 2, "page_size": 60}).json()
    assert len(second["data"]) == 55 and second["meta"]["has_previous"] is True


def test_free_strings_where_the_docs_list_values(api: httpx.Client) -> None:
    conversation = new_conversation(api)
    path = f"/conversations/{conversation['id']}"
    changed = data(api.put(path, json={"priority": "whenever", "status": "parked"}))
    assert (changed["priority"], changed["status"]) == ("whenever", "parked")
    sent = data(
        api.post(f"{path}/messages", json={"content_type": "hologram", "content": "beam"}), 201
    )
    assert sent["content_type"] == "hologram" and sent["content"] == "beam"
    channel = data(api.post("/channels", json={"type": "smoke_signals", "name": "Hill"}), 201)
    assert channel["type"] == "smoke_signals" and is_uuid(channel["id"])
    bot = {"name": "B", "type": "whatever", "provider": "someone", "model": "m1"}
    assert data(api.post("/bots", json=bot), 201)["provider"] == "someone"


def test_assigning_an_unknown_user_is_not_a_404(api: httpx.Client) -> None:
    conversation = new_conversation(api)
    path = f"/conversations/{conversation['id']}/assign"
    # Nothing looks the user up; the database's foreign key refuses the write.
    found = error(api.post(path, json={"user_id": str(uuid.uuid4())}), 500)
    assert found == {"code": "INTERNAL_ERROR", "message": "failed to assign conversation"}
    assert data(api.post(path, json={"user_id": "usr_demo"}))["assigned_user_id"] == "usr_demo"


@DOCUMENTED
def test_documented_inputs_are_strict(emu: Emulator, api: httpx.Client) -> None:
    reply = api.get("/contacts", params={"page_size": "y"})
    assert reply.status_code == 400
    conversation = data(
        api.post("/conversations", json={"contact_id": "ct_demo_3", "channel_id": "ch_demo"}), 201
    )
    path = f"/conversations/{conversation['id']}"
    assert api.put(path, json={"priority": "whenever"}).status_code == 400
    assert api.post(f"{path}/assign", json={"user_id": "usr_nobody"}).status_code == 404


# -- 4. paging and filters ------------------------------------------------------------------------


def test_conversations_ignore_paging_and_count_before_filters(api: httpx.Client) -> None:
    first = api.get("/conversations").json()
    later = api.get("/conversations", params={"page": 3, "page_size": 5}).json()
    assert len(first["data"]) == 20 and later["data"] == first["data"]
    assert later["meta"] == {
        "page": 1,
        "page_size": 20,
        "total_pages": 0,
        "total_items": 28,
        "has_next": False,
        "has_previous": False,
    }
    stamps = [go_moment(c["updated_at"]) for c in first["data"]]
    assert stamps == sorted(stamps, reverse=True)
    resolved = api.get("/conversations", params={"status": "resolved"}).json()
    assert {c["status"] for c in resolved["data"]} == {"resolved"}
    assert resolved["meta"]["total_items"] == 28  # counted before the filter
    # Only status filters: channel, assignee and contact are ignored.
    for name in ("channel_id", "assigned_to", "contact_id"):
        assert api.get("/conversations", params={name: "nope"}).json()["data"] == first["data"]


def test_messages_are_the_newest_50_newest_first(emu: Emulator, api: httpx.Client) -> None:
    conversation = new_conversation(api)

    def add_many() -> None:
        for number in range(55):
            emu.linktor.add_message(
                conversation["id"],
                direction="inbound",
                content={"text": f"m{number:02d}"},
                sender_type="contact",
            )

    emu.call(add_many)
    path = f"/conversations/{conversation['id']}/messages"
    body = api.get(path, params={"page": 2, "page_size": 10}).json()
    assert [m["content"] for m in body["data"]] == [f"m{n:02d}" for n in range(54, 4, -1)]
    assert body["meta"] == {
        "page": 1,
        "page_size": 50,
        "total_pages": 0,
        "total_items": 55,
        "has_next": False,
        "has_previous": False,
    }


def test_messages_of_an_unknown_conversation_are_an_empty_list(api: httpx.Client) -> None:
    body = api.get("/conversations/nope/messages").json()
    assert body["success"] is True and body["data"] is None
    assert body["meta"]["total_items"] == 0


def test_empty_lists_are_null(api: httpx.Client) -> None:
    assert api.get("/contacts", params={"search": "zzz-nobody"}).json()["data"] is None
    assert api.get("/conversations", params={"status": "nope"}).json()["data"] is None
    assert api.get("/flows", params={"trigger": "nope"}).json()["data"] is None
    assert api.get("/knowledge-bases/nope/items").json()["data"] is None


def test_bots_flows_and_knowledge_bases_page_without_checks(api: httpx.Client) -> None:
    assert api.get("/bots", params={"page_size": 1}).json()["pagination"] == {
        "total": 2,
        "page": 1,
        "page_size": 1,
        "pages": 2,
    }
    # page 0: a negative OFFSET the database refuses; page_size 0: a division by zero.
    found = error(api.get("/bots", params={"page": "0"}), 500)
    assert found == {"code": "INTERNAL_ERROR", "message": "failed to query bots"}
    crashed = api.get("/flows", params={"page_size": "x"})
    assert (crashed.status_code, crashed.content) == (500, b"")
    # Bots filter on nothing; flows on bot_id, is_active and trigger.
    assert api.get("/bots", params={"status": "nope"}).json()["pagination"]["total"] == 2
    assert len(api.get("/flows", params={"is_active": "yes"}).json()["data"] or []) == 0
    assert len(api.get("/flows", params={"is_active": "true"}).json()["data"]) == 1
    ascending = api.get("/bots", params={"sort_by": "name", "sort_dir": "asc"}).json()["data"]
    assert [b["name"] for b in ascending] == sorted(b["name"] for b in ascending)


@DOCUMENTED
def test_documented_conversations_page(emu: Emulator, api: httpx.Client) -> None:
    body = api.get("/conversations", params={"page": 2, "page_size": 10}).json()
    assert len(body["data"]) == 10 and body["meta"]["has_next"] is True


# -- 5. wire shapes -------------------------------------------------------------------------------


def test_created_records_get_uuids_and_the_seeds_keep_their_ids(api: httpx.Client) -> None:
    conversation = new_conversation(api)
    assert is_uuid(conversation["id"]) and is_uuid(conversation["contact_id"])
    message = data(
        api.post(
            f"/conversations/{conversation['id']}/messages",
            json={"content_type": "text", "content": "hi"},
        ),
        201,
    )
    assert is_uuid(message["id"])
    flow = {
        "name": "F",
        "trigger": "manual",
        "start_node_id": "a",
        "nodes": [{"id": "a", "type": "end"}],
    }
    assert is_uuid(data(api.post("/flows", json=flow), 201)["id"])
    assert is_uuid(data(api.post("/knowledge-bases", json={"name": "K", "type": "faq"}), 201)["id"])
    seeded = data(api.get("/conversations/conv_demo"))
    assert seeded["id"] == "conv_demo" and seeded["channel_id"] == "ch_demo"


def test_timestamps_are_written_as_go_writes_them(emu: Emulator, api: httpx.Client) -> None:
    contact = new_contact(api)
    stored = emu.call(lambda: dict(emu.linktor.contacts[contact["id"]]))
    assert re.fullmatch(r".{19}\.\d{6}Z", stored["created_at"])  # microseconds kept
    fraction = stored["created_at"][20:26].rstrip("0")
    expected = (
        f"{stored['created_at'][:19]}.{fraction}Z" if fraction else f"{stored['created_at'][:19]}Z"
    )
    assert contact["created_at"] == expected
    for record in data(api.get("/conversations")):
        assert GO_TIME.match(record["created_at"]) and GO_TIME.match(record["updated_at"])


def test_a_pending_message_has_no_sent_at(api: httpx.Client) -> None:
    conversation = new_conversation(api)
    path = f"/conversations/{conversation['id']}/messages"
    sent = data(api.post(path, json={"content_type": "text", "content": "hi"}), 201)
    assert sent["status"] == "pending" and "sent_at" not in sent
    assert sent["sender_type"] == "user" and sent["sender_id"] == "usr_demo"
    assert "sent_at" not in data(api.get(f"/messages/{sent['id']}"))


def test_a_media_message_has_its_caption_in_content_and_url_in_attachments(
    emu: Emulator, api: httpx.Client
) -> None:
    url = "https://cdn.example.com/cat.png"
    sdk = httpx.post(
        f"{emu.linktor_url}/conversations/conv_demo/messages",
        json={"media": {"url": url, "mimeType": "image/png", "caption": "a cat"}},
        headers={"X-API-Key": "lk_demo"},
    ).json()
    shown = data(api.get(f"/messages/{sdk['id']}"))
    assert shown["content_type"] == "image" and shown["content"] == "a cat"
    [attachment] = shown["attachments"]
    assert attachment["url"] == url and attachment["mime_type"] == "image/png"
    assert attachment["message_id"] == sdk["id"] and attachment["type"] == "image"
    # The list does not load attachments.
    [listed] = [
        m for m in data(api.get("/conversations/conv_demo/messages")) if m["id"] == sdk["id"]
    ]
    assert listed["content"] == "a cat" and "attachments" not in listed
    # Sent through the server, the content is the string as given and there is no attachment.
    sent = data(
        api.post(
            "/conversations/conv_demo/messages", json={"content_type": "image", "content": url}
        ),
        201,
    )
    again = data(api.get(f"/messages/{sent['id']}"))
    assert again["content"] == url and "attachments" not in again


def test_conversations_show_no_tags_or_metadata_on_read(api: httpx.Client) -> None:
    contact = new_contact(api)
    body = {"contact_id": contact["id"], "channel_id": "ch_demo", "tags": ["vip"]}
    created = data(api.post("/conversations", json=body), 201)
    assert created["tags"] == ["vip"]  # the answer echoes what the request set
    read = data(api.get(f"/conversations/{created['id']}"))
    assert "tags" not in read and "metadata" not in read
    updated = data(api.put(f"/conversations/{created['id']}", json={"tags": ["gold"]}))
    assert updated["tags"] == ["gold"]
    assert "tags" not in data(api.get(f"/conversations/{created['id']}"))
    assert all("tags" not in c for c in data(api.get("/conversations")))


# -- 6. auth --------------------------------------------------------------------------------------


def test_an_api_key_as_bearer_is_refused(emu: Emulator) -> None:
    reply = httpx.get(
        f"{emu.linktor_server_url}/channels", headers={"Authorization": "Bearer lk_demo"}
    )
    assert reply.status_code == 401
    assert reply.json() == {
        "code": "TOKEN_INVALID",
        "message": "invalid or expired token",
        "details": None,
    }
    # The SDK mount still takes it.
    assert (
        httpx.get(f"{emu.linktor_url}/channels", headers={"X-API-Key": "lk_demo"}).status_code
        == 200
    )


def test_refresh_accepts_any_valid_jwt(emu: Emulator) -> None:
    tokens = login(emu)
    url = f"{emu.linktor_server_url}/auth/refresh"
    for token in (tokens["refresh_token"], tokens["access_token"]):
        reply = httpx.post(url, json={"refresh_token": token})
        assert set(data(reply)) == {"access_token", "refresh_token", "expires_in"}
    refused = httpx.post(url, json={"refresh_token": "not.a.jwt"})
    assert refused.status_code == 401
    assert error(refused, 401) == {"code": "TOKEN_INVALID", "message": "Invalid refresh token"}


@DOCUMENTED
def test_documented_auth_takes_api_keys_and_only_refresh_tokens(emu: Emulator) -> None:
    reply = httpx.get(
        f"{emu.linktor_server_url}/channels", headers={"Authorization": "Bearer lk_demo"}
    )
    assert reply.status_code == 200
    access = login(emu)["access_token"]
    refused = httpx.post(f"{emu.linktor_server_url}/auth/refresh", json={"refresh_token": access})
    assert refused.status_code == 401


async def refused_upgrade(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, additional_headers=headers):
            pass
    response = caught.value.response
    return response.status_code, json.loads(bytes(response.body))


async def test_the_websocket_needs_the_bearer_header_and_the_query_token(emu: Emulator) -> None:
    jwt = demo_jwt(emu)
    ws = f"{emu.ws_url}/linktor/api/v1/ws"
    middleware = {
        "code": "UNAUTHORIZED",
        "message": "missing authorization header",
        "details": None,
    }
    # A browser cannot set the header: the query token alone is refused by the middleware.
    assert await refused_upgrade(f"{ws}?token={jwt}", {}) == (401, middleware)
    api_key = {"Authorization": "Bearer lk_demo"}
    status, body = await refused_upgrade(f"{ws}?api_key=lk_demo", api_key)
    assert (status, body["code"]) == (401, "TOKEN_INVALID")
    bearer = {"Authorization": f"Bearer {jwt}"}
    assert await refused_upgrade(ws, bearer) == (401, {"error": "missing token"})
    assert await refused_upgrade(f"{ws}?token=lk_demo", bearer) == (401, {"error": "invalid token"})
    async with connect(f"{ws}?token={jwt}", additional_headers=bearer) as socket:
        connected = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
    assert connected == {
        "type": "connected",
        "payload": {
            "user_id": "usr_demo",
            "tenant_id": "tenant_demo",
            "online_users": ["usr_demo"],
        },
    }


# -- 7. realtime ----------------------------------------------------------------------------------


async def open_socket(emu: Emulator, token: str) -> ClientConnection:
    socket = await connect(
        f"{emu.ws_url}/linktor/api/v1/ws?token={token}",
        additional_headers={"Authorization": f"Bearer {token}"},
    )
    assert json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))["type"] == "connected"
    return socket


def relayed_user(frame: dict[str, Any]) -> str:
    return str(frame["payload"]["user_id"])


async def next_frame(socket: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT))
    return frame


async def test_realtime_sends_only_connected_presence_and_typing(
    emu: Emulator, api: httpx.Client
) -> None:
    other = await asyncio.to_thread(add_user, api, emu, "Grace")
    demo = await open_socket(emu, demo_jwt(emu))
    try:
        grace = await open_socket(emu, other)
        online = await next_frame(demo)
        assert online["type"] == "presence" and online["payload"]["status"] == "online"
        # Store changes reach no socket: a message, a status change, a new conversation.
        await asyncio.to_thread(
            api.post,
            "/conversations/conv_demo/messages",
            json={"content_type": "text", "content": "unseen"},
        )
        await asyncio.to_thread(new_conversation, api)
        # Unknown frames are ignored, not answered with an error.
        await demo.send("not json")
        await demo.send(json.dumps({"type": "subscribe", "payload": {"conversation_id": "x"}}))
        await demo.send(json.dumps({"type": "ping"}))
        # Typing is relayed to the other users only (demo's frames are read in order, so once
        # Grace sees this one, anything the ones above caused is already queued for demo).
        typing = {"type": "typing", "payload": {"conversation_id": "conv_demo", "is_typing": True}}
        await demo.send(json.dumps(typing))
        relayed = await next_frame(grace)
        assert relayed["payload"]["user_id"] == "usr_demo" and relayed["payload"]["is_typing"]
        # Missing fields are "" and false.
        await grace.send(json.dumps({"type": "typing", "payload": {}}))
        echoed = await next_frame(demo)  # the first frame demo gets after connecting Grace
        assert echoed == {
            "type": "typing",
            "payload": {
                "conversation_id": "",
                "user_id": relayed_user(echoed),
                "user_name": "",
                "is_typing": False,
            },
        }
        assert relayed_user(echoed) != "usr_demo"
        await grace.close()
        offline = await next_frame(demo)
        assert offline["type"] == "presence" and offline["payload"]["status"] == "offline"
        assert re.fullmatch(r".{19}Z", offline["payload"]["last_seen"])
    finally:
        await demo.close()


async def test_a_users_newest_connection_replaces_the_previous(
    emu: Emulator, api: httpx.Client
) -> None:
    other = await asyncio.to_thread(add_user, api, emu, "Alan")
    jwt = demo_jwt(emu)
    old = await open_socket(emu, jwt)
    new = await open_socket(emu, jwt)
    alan = await open_socket(emu, other)
    hub = emu.context.linktor_code_hub
    try:
        assert (await next_frame(new))["type"] == "presence"  # Alan is online
        await alan.send(json.dumps({"type": "typing", "payload": {"conversation_id": "c1"}}))
        typing = await next_frame(new)
        assert typing["type"] == "typing"
        alan_id = relayed_user(typing)
        # One entry per user: the newest connection.
        assert emu.call(hub.online_users, "tenant_demo") == ["usr_demo", alan_id]
        # The old connection is out of the hub, but when it closes it takes the user's entry
        # (the new connection) with it: the new connection silently receives nothing more.
        await old.close()
        offline = await next_frame(alan)
        assert (offline["type"], offline["payload"]["user_id"]) == ("presence", "usr_demo")
        assert emu.call(hub.online_users, "tenant_demo") == [alan_id]
    finally:
        for socket in (new, alan):
            await socket.close()


# -- 8. webhooks ----------------------------------------------------------------------------------


def test_there_is_no_webhook_management(api: httpx.Client) -> None:
    for method, path in [
        ("POST", "/webhooks"),
        ("GET", "/webhooks"),
        ("GET", "/webhooks/wh_1"),
        ("DELETE", "/webhooks/wh_1"),
    ]:
        reply = api.request(method, path, json={"url": "https://example.com", "events": ["*"]})
        assert (reply.status_code, reply.text) == (404, "404 page not found")


def test_the_generic_inbound_webhook_receives_a_message(emu: Emulator, api: httpx.Client) -> None:
    url = f"{emu.linktor_server_url}/webhooks/generic/ch_demo"
    body = {
        "message_id": "ext-1",
        "sender_id": "visitor-7",
        "sender_name": "Visitor",
        "content_type": "TEXT",
        "content": "  hello\r\nthere  ",
        "metadata": {"source": "kiosk"},
    }
    reply = httpx.post(url, json=body)  # public: no credential
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["status"] == "ok" and is_uuid(answer["message_id"])
    contact = data(api.get("/contacts", params={"search": "Visitor"}))[0]
    conversations = emu.call(
        lambda: [
            c["id"] for c in emu.linktor.conversations.values() if c["contact_id"] == contact["id"]
        ]
    )
    [message] = data(api.get(f"/conversations/{conversations[0]}/messages"))
    assert message["content"] == "hello\nthere" and message["sender_type"] == "contact"
    assert message["status"] == "pending" and message["external_id"] == "ext-1"
    assert message["id"] != answer["message_id"]  # the server names the event, not the message
    # The same external id again is dropped; the same sender reuses contact and conversation.
    assert httpx.post(url, json=body).status_code == 200
    assert httpx.post(url, json={**body, "message_id": "ext-2"}).status_code == 200
    listed = data(api.get(f"/conversations/{conversations[0]}/messages"))
    assert [m["external_id"] for m in listed] == ["ext-2", "ext-1"]


@pytest.mark.parametrize(
    ("channel", "body", "status", "answer"),
    [
        ("nope", {}, 404, {"error": "channel not found"}),
        ("ch_demo", {"content": 5}, 400, {"error": "invalid payload"}),
        ("ch_demo", {"metadata": {"a": 1}}, 400, {"error": "invalid payload"}),
        ("ch_demo", [], 400, {"error": "invalid payload"}),
    ],
)
def test_the_generic_webhook_refuses_what_the_server_refuses(
    emu: Emulator, channel: str, body: Any, status: int, answer: dict[str, str]
) -> None:
    reply = httpx.post(f"{emu.linktor_server_url}/webhooks/generic/{channel}", json=body)
    assert (reply.status_code, reply.json()) == (status, answer)


def test_a_sender_without_metadata_crashes_the_generic_webhook(emu: Emulator) -> None:
    reply = httpx.post(
        f"{emu.linktor_server_url}/webhooks/generic/ch_demo",
        json={"sender_id": "x", "content": "y"},
    )
    assert (reply.status_code, reply.content) == (500, b"")


def test_the_status_callback_moves_a_message(emu: Emulator, api: httpx.Client) -> None:
    conversation = new_conversation(api)
    sent = data(
        api.post(
            f"/conversations/{conversation['id']}/messages",
            json={"content_type": "text", "content": "x"},
        ),
        201,
    )
    url = f"{emu.linktor_server_url}/webhooks/status/ch_demo"
    assert httpx.post(url, json={"message_id": sent["id"], "status": "delivered"}).json() == {
        "status": "ok"
    }
    shown = data(api.get(f"/messages/{sent['id']}"))
    assert shown["status"] == "delivered" and GO_TIME.match(shown["delivered_at"])
    httpx.post(url, json={"message_id": sent["id"], "status": "failed", "error_message": "gone"})
    assert data(api.get(f"/messages/{sent['id']}"))["error_message"] == "gone"


def test_whatsapp_verification_signature_and_messages(emu: Emulator, api: httpx.Client) -> None:
    credentials = {"verify_token": "vt", "webhook_secret": "s3cret"}
    channel = data(
        api.post(
            "/channels",
            json={"type": "whatsapp_official", "name": "WA", "credentials": credentials},
        ),
        201,
    )
    url = f"{emu.linktor_server_url}/webhooks/whatsapp/{channel['id']}"
    verified = httpx.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "42"}
    )
    assert (verified.status_code, verified.text) == (200, "42")
    wrong = httpx.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "no", "hub.challenge": "42"}
    )
    assert (wrong.status_code, wrong.json()) == (403, {"error": "verification failed"})
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "contacts": [{"wa_id": "5511999", "profile": {"name": "Maria"}}],
                            "messages": [
                                {
                                    "id": "wamid.1",
                                    "from": "5511999",
                                    "type": "text",
                                    "text": {"body": "oi"},
                                },
                                {
                                    "id": "wamid.2",
                                    "from": "5511999",
                                    "type": "image",
                                    "image": {
                                        "id": "media-9",
                                        "caption": "foto",
                                        "mime_type": "image/jpeg",
                                    },
                                },
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(payload).encode()
    unsigned = httpx.post(url, content=raw)
    assert (unsigned.status_code, unsigned.json()) == (401, {"error": "invalid signature"})
    signature = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    reply = httpx.post(url, content=raw, headers={"X-Hub-Signature-256": signature})
    assert (reply.status_code, reply.json()) == (200, {"status": "ok"})
    [contact] = data(api.get("/contacts", params={"search": "5511999"}))
    assert (contact["name"], contact["phone"]) == ("Maria", "5511999")
    [conversation_id] = emu.call(
        lambda: [
            c["id"] for c in emu.linktor.conversations.values() if c["contact_id"] == contact["id"]
        ]
    )
    image, text = data(api.get(f"/conversations/{conversation_id}/messages"))
    assert text["content"] == "oi" and image["content"] == "foto"
    [attachment] = data(api.get(f"/messages/{image['id']}"))["attachments"]
    assert attachment["url"] == "media-9"


def test_telegram_ids_become_one_character(emu: Emulator, api: httpx.Client) -> None:
    channel = data(api.post("/channels", json={"type": "telegram", "name": "TG"}), 201)
    update = {
        "update_id": 1,
        "message": {
            "message_id": 65,
            "from": {"id": 66, "first_name": "Zora", "last_name": "Q"},
            "chat": {"id": 67, "type": "private"},
            "text": "hello",
        },
    }
    url = f"{emu.linktor_server_url}/webhooks/telegram/{channel['id']}"
    assert httpx.post(url, json=update).json() == {"status": "ok"}
    [contact] = data(api.get("/contacts", params={"search": "Zora Q"}))
    identity = data(api.get(f"/contacts/{contact['id']}"))["identities"][0]
    assert identity["identifier"] == "B"  # string(rune(66))
    assert httpx.post(url, json={"update_id": 1.5}).status_code == 400


def test_other_providers_exist_but_are_not_parsed(emu: Emulator) -> None:
    base = f"{emu.linktor_server_url}/webhooks"
    assert httpx.post(f"{base}/twilio/nope", data={"Body": "x"}).status_code == 404
    reply = httpx.post(f"{base}/twilio/ch_demo", data={"Body": "x"})
    assert reply.status_code == 501 and "generic" in reply.json()["error"]


# -- 9. search does not match a missing phone (every profile) -------------------------------------


def assert_none_matches_nobody(emu: Emulator) -> None:
    def add() -> None:
        emu.linktor.create_contact({"name": "No Phone", "email": "nophone@example.com"})

    emu.call(add)
    token = login(emu)["access_token"]
    server = httpx.get(
        f"{emu.linktor_server_url}/contacts",
        params={"search": "none"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert server["data"] in (None, [])
    sdk = httpx.get(
        f"{emu.linktor_url}/contacts", params={"search": "none"}, headers={"X-API-Key": "lk_demo"}
    ).json()
    assert sdk["data"] == []


def test_search_none_does_not_match_contacts_without_a_phone(emu: Emulator) -> None:
    assert_none_matches_nobody(emu)


@DOCUMENTED
def test_documented_search_none_does_not_match_contacts_without_a_phone(emu: Emulator) -> None:
    assert_none_matches_nobody(emu)


def test_search_is_an_ilike_on_each_field(api: httpx.Client) -> None:
    names = lambda params: [c["name"] for c in data(api.get("/contacts", params=params)) or []]  # noqa: E731
    assert names({"search": "ADA"}) == ["Ada Lovelace"]
    assert names({"search": "L_velace"}) == ["Ada Lovelace"]  # _ is any one character
    assert names({"search": "ada%lovelace"}) == ["Ada Lovelace"]
    assert names({"search": "Ada ada"}) == []  # no field holds both
    assert names({"search": "  grace  "}) == ["Grace Hopper"]  # trimmed
    found = error(api.get("/contacts", params={"search": "trailing\\"}), 500)
    assert found["code"] == "INTERNAL_ERROR"
