"""What the linktor clients put on the wire in each dialect: query values, key casing, multipart
bodies and the routes and verbs of each method (recorded with httpx event hooks)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from _linktor_client_support import module_emulator, recorded_client, unique

from linktor import ConversationStatus, Document, MediaContent, NotFoundError
from relaywire.emulator import Emulator

emulator = pytest.fixture(scope="module")(module_emulator)

MODES = ["sync", "async"]


def body(request: Any) -> Any:
    return orjson.loads(request.content)


def last_to(recorder: Any, suffix: str) -> Any:
    return [r for r in recorder.requests if r.url.path.endswith(suffix)][-1]


@pytest.mark.parametrize("mode", MODES)
def test_query_values(emulator: Emulator, mode: str) -> None:
    params = {
        "status": ConversationStatus.OPEN,
        "channel_id": "ch_demo",
        "tags": ["demo", "vip"],
        "unread": True,
        "assigned_to": None,
        "after": dt.datetime(2024, 1, 2, 3, 4, 5),
        "limit": 5,
        "offset": 10,
    }
    with recorded_client(emulator, "sdk", mode) as (harness, recorder):
        harness.client.conversations.list(**params)
    assert last_to(recorder, "/conversations").url.params.multi_items() == [
        ("status", "open"),
        ("channelId", "ch_demo"),
        ("tags", "demo"),
        ("tags", "vip"),
        ("unread", "true"),
        ("after", "2024-01-02T03:04:05"),
        ("limit", "5"),
        ("offset", "10"),
    ]
    with recorded_client(emulator, "server", mode) as (harness, recorder):
        harness.client.conversations.list(**params)
    assert last_to(recorder, "/conversations").url.params.multi_items() == [
        ("status", "open"),
        ("channel_id", "ch_demo"),
        ("tags", "demo"),
        ("tags", "vip"),
        ("unread", "true"),
        ("after", "2024-01-02T03:04:05"),
        ("page", "3"),
        ("page_size", "5"),
    ]


@pytest.mark.parametrize("mode", MODES)
def test_body_casing(emulator: Emulator, mode: str) -> None:
    email = f"{unique('case')}@example.com"
    expected = {
        "sdk": {
            "name": "Casey",
            "email": email,
            "avatarUrl": "https://img.example.com/c.png",
            "customFields": {"favoriteColor": "blue"},
        },
        "server": {
            "name": "Casey",
            "email": email,
            "avatar_url": "https://img.example.com/c.png",
            "custom_fields": {"favoriteColor": "blue"},
        },
    }
    for dialect, wire in expected.items():
        with recorded_client(emulator, dialect, mode) as (harness, recorder):
            created = harness.client.contacts.create(
                name="Casey",
                email=email,
                avatar_url="https://img.example.com/c.png",
                custom_fields={"favoriteColor": "blue"},  # user data: keys kept as given
            )
            harness.client.contacts.delete(created.id)
        assert body(last_to(recorder, "/contacts")) == wire
        assert created.custom_fields == {"favoriteColor": "blue"}


@pytest.mark.parametrize("mode", MODES)
def test_models_as_arguments(emulator: Emulator, mode: str) -> None:
    media = MediaContent(url="https://cdn.example.com/a.jpg", mime_type="image/jpeg")
    with recorded_client(emulator, "sdk", mode) as (harness, recorder):
        sent = harness.client.conversations.send_message("conv_demo", media=media)
    assert body(last_to(recorder, "/messages")) == {
        "media": {"url": "https://cdn.example.com/a.jpg", "mimeType": "image/jpeg"}
    }
    assert sent.content.media is not None and sent.content.media.mime_type == "image/jpeg"
    with recorded_client(emulator, "server", mode) as (harness, recorder):
        sent = harness.client.conversations.send_message("conv_demo", media=media)
    assert body(last_to(recorder, "/messages")) == {
        "content_type": "image",
        "content": "https://cdn.example.com/a.jpg",
    }
    assert sent.content.media is not None and sent.content.media.url.endswith("a.jpg")


@pytest.mark.parametrize("mode", MODES)
def test_multipart_upload(emulator: Emulator, mode: str) -> None:
    # A default JSON Content-Type (as the official SDK always sent) must not break multipart.
    headers = {"Content-Type": "application/json"}
    with recorded_client(emulator, "sdk", mode, headers=headers) as (harness, recorder):
        document = harness.client.knowledge_bases.upload_document(
            "kb_demo", b"Returns are free for 30 days.", "returns.txt", source_url="https://x.io/r"
        )
        raw = harness.client._http.upload(
            "/knowledge-bases/kb_demo/documents", b"# Hi", "hi.md", additional_data={"type": "txt"}
        )
        harness.client.knowledge_bases.delete_document("kb_demo", document.id)
        harness.client.knowledge_bases.delete_document("kb_demo", raw["id"])
    upload = next(r for r in recorder.requests if r.method == "POST")
    content_type = upload.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="returns.txt"' in upload.content
    assert b"Content-Type: text/plain" in upload.content
    assert b'name="sourceUrl"' in upload.content
    assert isinstance(document, Document)
    assert document.name == "returns.txt" and document.source_url == "https://x.io/r"
    assert raw["name"] == "hi.md" and raw["type"] == "txt"


@pytest.mark.parametrize("mode", MODES)
def test_ids_are_escaped(emulator: Emulator, mode: str) -> None:
    with (
        recorded_client(emulator, "sdk", mode) as (harness, recorder),
        pytest.raises(NotFoundError),
    ):
        harness.client.contacts.get("a/b c")
    assert recorder.requests[-1].url.raw_path == b"/linktor/contacts/a%2Fb%20c"


def _fresh_conversation(emu: Emulator) -> str:
    record = emu.call(
        emu.linktor.create_conversation, {"channel_id": "ch_demo", "contact_id": "ct_demo_2"}
    )
    return str(record["id"])


ROUTES = {
    "sdk": [
        "PATCH /linktor/conversations/{conv}",
        "PATCH /linktor/conversations/{conv}",
        "GET /linktor/auth/me",
        "GET /linktor/contacts/ct_demo_4",
        "PATCH /linktor/contacts/ct_demo_4",
        "POST /linktor/channels/ch_demo/disconnect",
        "POST /linktor/channels/ch_demo/connect",
        "PATCH /linktor/bots/bot_demo_flow",
        "POST /linktor/knowledge-bases/kb_demo/query",
        "POST /linktor/ai/completions",
        "PATCH /linktor/flows/flow_demo",
        "PATCH /linktor/flows/flow_demo",
        "POST /linktor/vre/templates/menu_opcoes/preview",
    ],
    "server": [
        "PUT /linktor/api/v1/conversations/{conv}",
        "GET /linktor/api/v1/channels",  # the conversations' channel types, learnt once
        "POST /linktor/api/v1/conversations/{conv}/resolve",
        "GET /linktor/api/v1/me",
        "GET /linktor/api/v1/contacts/ct_demo_4",
        "GET /linktor/api/v1/contacts/ct_demo_4",  # its PUT overwrites: read first
        "PUT /linktor/api/v1/contacts/ct_demo_4",
        "POST /linktor/api/v1/channels/ch_demo/disconnect",
        "GET /linktor/api/v1/channels/ch_demo",
        "POST /linktor/api/v1/channels/ch_demo/connect",
        "POST /linktor/api/v1/bots/bot_demo_flow/deactivate",
        "GET /linktor/api/v1/bots/bot_demo_flow",
        "POST /linktor/api/v1/knowledge-bases/kb_demo/search",
        "GET /linktor/api/v1/ai/providers",
        "POST /linktor/api/v1/ai/complete",
        "POST /linktor/api/v1/flows/flow_demo/deactivate",
        "GET /linktor/api/v1/flows/flow_demo",
        "POST /linktor/api/v1/flows/flow_demo/activate",
        "GET /linktor/api/v1/flows/flow_demo",
        "GET /linktor/api/v1/vre/templates/menu_opcoes/preview",
    ],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", ["sdk", "server"])
def test_routes_and_verbs(emulator: Emulator, dialect: str, mode: str) -> None:
    conversation = _fresh_conversation(emulator)
    with recorded_client(emulator, dialect, mode) as (harness, recorder):
        start = len(recorder.requests)
        client = harness.client
        harness.raw._http.channel_types.clear()
        client.conversations.update(conversation, tags=["x"])
        client.conversations.resolve(conversation)
        client.auth.get_current_user()
        client.contacts.get("ct_demo_4")
        client.contacts.update("ct_demo_4", phone="+15550000004")
        client.channels.disconnect("ch_demo")
        client.channels.connect("ch_demo")
        client.bots.deactivate("bot_demo_flow")
        result = client.knowledge_bases.query("kb_demo", "password", top_k=50)
        client.ai.completions.create([{"role": "user", "content": "hi"}])
        client.flows.deactivate("flow_demo")
        client.flows.activate("flow_demo")
        client.vre.preview("menu_opcoes")
        sent = recorder.requests[start:]
    expected = [route.format(conv=conversation) for route in ROUTES[dialect]]
    assert [f"{r.method} {r.url.path}" for r in sent] == expected
    assert len(result["chunks"]) >= 1
    if dialect == "server":
        search = next(r for r in sent if r.url.path.endswith("/search"))
        assert body(search) == {"query": "password", "limit": 20}  # the server's maximum
        complete = next(r for r in sent if r.url.path.endswith("/ai/complete"))
        assert body(complete)["provider"] == "openai"
        assert body(complete)["model"] == "gpt-4o-mini"
    else:
        query = next(r for r in sent if r.url.path.endswith("/query"))
        assert body(query) == {"query": "password", "topK": 50}
