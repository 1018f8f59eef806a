"""The emulator's Linktor REST API: auth, envelopes, errors and pagination in both dialects.

Also the shared helpers of the ``test_emulator_linktor_rest_*`` modules: one client per dialect
and a checker for the shapes the official SDK's pydantic models require (spec/linktor.md 1.5),
written as plain data so no SDK is imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _emulator_support import DOCUMENTED

from relaywire.emulator import Emulator

DEMO_KEY = "lk_demo"
DEMO_EMAIL = "demo@linktor.local"
DEMO_PASSWORD = "demo-password"

# -- the SDK's models as data: "key" required, "key?" optional; a set is an enum ---------------

CHANNEL_TYPES = {"whatsapp", "telegram", "facebook", "instagram", "webchat", "sms", "email", "rcs"}
CONTENT_TYPES = {"text", "image", "video", "audio", "document", "location", "contact", "sticker"}
MODELS: dict[str, dict[str, Any]] = {
    "User": {
        "id": str,
        "email": str,
        "name": str,
        "role": {"admin", "agent", "supervisor", "viewer"},
        "tenantId": str,
        "createdAt": str,
        "updatedAt": str,
    },
    "LoginResponse": {
        "accessToken": str,
        "refreshToken": str,
        "expiresIn": int,
        "tokenType": str,
        "user": "User",
    },
    "Message": {
        "id": str,
        "conversationId": str,
        "direction": {"inbound", "outbound"},
        "contentType": CONTENT_TYPES,
        "content": dict,
        "status": {"pending", "sent", "delivered", "read", "failed"},
        "senderType": {"contact", "agent", "bot", "system"},
        "createdAt": str,
        "updatedAt": str,
    },
    "Conversation": {
        "id": str,
        "tenantId": str,
        "channelId": str,
        "channelType": CHANNEL_TYPES,
        "contactId": str,
        "status": {"open", "pending", "resolved", "snoozed"},
        "lastMessage?": "Message",
        "unreadCount": int,
        "tags?": list,
        "createdAt": str,
        "updatedAt": str,
    },
    "Contact": {
        "id": str,
        "tenantId": str,
        "name": str,
        "identifiers": ["ContactIdentifier"],
        "conversationCount": int,
        "createdAt": str,
        "updatedAt": str,
    },
    "ContactIdentifier": {"channelType": str, "channelId": str, "identifier": str},
    "Channel": {
        "id": str,
        "tenantId": str,
        "name": str,
        "type": CHANNEL_TYPES,
        "status": {"active", "inactive", "connecting", "error"},
        "config": dict,
        "createdAt": str,
        "updatedAt": str,
    },
    "Bot": {
        "id": str,
        "tenantId": str,
        "name": str,
        "status": {"active", "inactive", "draft"},
        "type": {"flow", "ai", "hybrid"},
        "config": "BotConfig",
        "channelIds": list,
        "createdAt": str,
        "updatedAt": str,
    },
    "BotConfig": {"aiConfig?": "AIBotConfig"},
    "AIBotConfig": {"model": str, "useKnowledgeBase": bool},
    "Agent": {
        "id": str,
        "tenantId": str,
        "name": str,
        "status": {"active", "inactive", "draft"},
        "model": str,
        "temperature": float,
        "maxTokens": int,
        "createdAt": str,
        "updatedAt": str,
    },
    "KnowledgeBase": {
        "id": str,
        "tenantId": str,
        "name": str,
        "status": {"active", "processing", "error", "empty"},
        "embeddingModel": str,
        "chunkSize": int,
        "chunkOverlap": int,
        "documentCount": int,
        "totalChunks": int,
        "createdAt": str,
        "updatedAt": str,
    },
    "Document": {
        "id": str,
        "knowledgeBaseId": str,
        "name": str,
        "type": {"pdf", "txt", "docx", "html", "markdown", "csv", "json"},
        "status": {"pending", "processing", "completed", "failed"},
        "size": int,
        "chunkCount": int,
        "createdAt": str,
        "updatedAt": str,
    },
    "ScoredChunk": {
        "id": str,
        "documentId": str,
        "content": str,
        "chunkIndex": int,
        "tokenCount": int,
        "score": float,
    },
    "Flow": {
        "id": str,
        "tenantId": str,
        "name": str,
        "status": {"active", "inactive", "draft"},
        "version": int,
        "nodes": ["FlowNode"],
        "edges": ["FlowEdge"],
        "createdAt": str,
        "updatedAt": str,
    },
    "FlowNode": {
        "id": str,
        "type": {"start", "message", "condition", "action", "input", "ai", "api", "delay"}
        | {"assign", "end"},
        "position": {"x": (int, float), "y": (int, float)},
        "data": dict,
    },
    "FlowEdge": {"id": str, "source": str, "target": str},
    "FlowExecution": {
        "id": str,
        "flowId": str,
        "conversationId": str,
        "status": {"running", "waiting", "completed", "failed", "cancelled"},
        "variables": dict,
        "history": ["FlowExecutionStep"],
        "startedAt": str,
    },
    "FlowExecutionStep": {"nodeId": str, "nodeType": str, "startedAt": str},
    "Pagination": {"total": int, "limit": int, "offset": int, "hasMore": bool},
    "CompletionResponse": {
        "id": str,
        "model": str,
        "message": {"role": str, "content": str},
        "usage": "TokenUsage",
        "finishReason": str,
    },
    "TokenUsage": {"promptTokens": int, "completionTokens": int, "totalTokens": int},
    "EmbeddingResponse": {"data": ["Embedding"], "model": str, "usage": dict},
    "Embedding": {"index": int, "embedding": list},
    "InvokeAgentResponse": {"response": str, "conversationId": str, "usage": "TokenUsage"},
    "VRERenderResponse": {
        "imageBase64": str,
        "caption": str,
        "width": int,
        "height": int,
        "format": {"png", "webp", "jpeg"},
        "renderTimeMs": int,
    },
    "VRERenderAndSendResponse": {"messageId": str, "imageUrl": str, "caption": str},
    "VRETemplate": {"id": str, "name": str, "description": str, "schema": dict},
    "VREPreviewResponse": {"imageBase64": str, "width": int, "height": int},
}


def check_shape(spec: Any, value: Any, where: str = "$") -> None:
    """Assert ``value`` fits ``spec`` (a model name, a dict of fields, a type, an enum set or a
    one-element list), as the SDK's pydantic model would; the message says where it did not."""
    if isinstance(spec, str):
        check_shape(MODELS[spec], value, f"{where}<{spec}>")
    elif isinstance(spec, dict):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for key, item_spec in spec.items():
            name = key.rstrip("?")
            if key.endswith("?") and value.get(name) is None:
                continue
            assert name in value, f"{where}: missing {name}"
            check_shape(item_spec, value[name], f"{where}.{name}")
    elif isinstance(spec, list):
        assert isinstance(value, list), f"{where}: expected an array"
        for index, item in enumerate(value):
            check_shape(spec[0], item, f"{where}[{index}]")
    elif isinstance(spec, set):
        assert value in spec, f"{where}: {value!r} not in {sorted(spec)}"
    elif spec is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    else:
        assert isinstance(value, spec) and not (spec is int and isinstance(value, bool)), (
            f"{where}: {value!r} is not {spec}"
        )


def check_page(body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """An SDK ``PaginatedResponse[model]``; returns its items."""
    check_shape({"data": [model], "pagination": "Pagination"}, body)
    return list(body["data"])


# -- one client per dialect ------------------------------------------------------------------


@dataclass
class Side:
    """A dialect as a test sees it: how to call it and how to read its answers."""

    name: str
    http: httpx.Client

    @property
    def sdk(self) -> bool:
        return self.name == "sdk"

    @property
    def update(self) -> str:
        return "PATCH" if self.sdk else "PUT"

    def data(self, response: httpx.Response, status: int = 200) -> Any:
        """The resource of a single-resource answer (unwrapping the server's envelope)."""
        assert response.status_code == status, response.text
        body = response.json()
        if self.sdk:
            return body
        assert body["success"] is True
        return body["data"]

    def items(self, response: httpx.Response) -> list[dict[str, Any]]:
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    def error(self, response: httpx.Response, status: int) -> tuple[str, str]:
        """(code, message) of an error answer in the dialect's error shape."""
        assert response.status_code == status, response.text
        assert response.headers["x-request-id"]
        body = response.json()
        if self.sdk:
            assert body["status"] == status
            assert body["requestId"] == response.headers["x-request-id"]
            return body["code"], body["message"]
        if "error" in body:
            assert body["success"] is False and set(body) == {"success", "error"}
            return body["error"]["code"], body["error"]["message"]
        return body["code"], body["message"]  # the server's auth middleware: top-level

    def key(self, snake: str) -> str:
        """A field name in this dialect's case."""
        if not self.sdk:
            return snake
        head, *rest = snake.split("_")
        return head + "".join(part.title() for part in rest)


def server_token(emu: Emulator) -> str:
    response = httpx.post(
        f"{emu.linktor_server_url}/auth/login",
        json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
    )
    return str(response.json()["data"]["access_token"])


# Named fixtures, so that the other modules can import them without shadowing their arguments.
@pytest.fixture(name="sdk")
def sdk_fixture(emu: Emulator) -> Iterator[Side]:
    with httpx.Client(base_url=emu.linktor_url, headers={"X-API-Key": DEMO_KEY}) as client:
        yield Side("sdk", client)


@pytest.fixture(name="server")
def server_fixture(emu: Emulator) -> Iterator[Side]:
    headers = {"Authorization": f"Bearer {server_token(emu)}"}
    with httpx.Client(base_url=emu.linktor_server_url, headers=headers) as client:
        yield Side("server", client)


@pytest.fixture(name="side", params=["sdk", "server"])
def side_fixture(request: pytest.FixtureRequest) -> Side:
    """Each test using this runs once per dialect."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# -- auth --------------------------------------------------------------------------------------


def test_sdk_login_returns_login_response_with_a_working_jwt(emu: Emulator) -> None:
    body = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    response = httpx.post(f"{emu.linktor_url}/auth/login", json=body)
    assert response.status_code == 200
    login = response.json()
    check_shape("LoginResponse", login)
    assert login["tokenType"] == "Bearer" and login["expiresIn"] == 900
    assert login["user"]["email"] == DEMO_EMAIL
    me = httpx.get(
        f"{emu.linktor_url}/auth/me", headers={"Authorization": f"Bearer {login['accessToken']}"}
    )
    check_shape("User", me.json())
    assert me.json()["id"] == login["user"]["id"]


def test_server_login_envelope_and_bearer_auth(emu: Emulator) -> None:
    body = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    response = httpx.post(f"{emu.linktor_server_url}/auth/login", json=body)
    envelope = response.json()
    assert response.status_code == 200 and envelope["success"] is True
    data = envelope["data"]
    assert set(data) == {"user", "access_token", "refresh_token", "expires_in"}
    assert data["expires_in"] == 900 and data["user"]["tenant_id"] == "tenant_demo"
    me = httpx.get(
        f"{emu.linktor_server_url}/me",
        headers={"Authorization": f"Bearer {data['access_token']}"},
    )
    assert me.json()["data"]["email"] == DEMO_EMAIL


@pytest.mark.parametrize(
    ("body", "status", "sdk_code", "server_code"),
    [
        ({"email": DEMO_EMAIL, "password": "wrong-password"}, 401, "AUTHENTICATION_ERROR", None),
        (
            {"email": "nobody@linktor.local", "password": "whatever"},
            401,
            "AUTHENTICATION_ERROR",
            None,
        ),
        ({"email": DEMO_EMAIL}, 400, "VALIDATION_ERROR", "VALIDATION_ERROR"),
        ({"email": 5, "password": "x"}, 400, "VALIDATION_ERROR", "VALIDATION_ERROR"),
        ({"email": "not-an-email", "password": "secret1"}, 400, "VALIDATION_ERROR", None),
    ],
)
def test_bad_logins(
    sdk: Side,
    server: Side,
    body: dict[str, Any],
    status: int,
    sdk_code: str,
    server_code: str | None,
) -> None:
    assert sdk.error(sdk.http.post("/auth/login", json=body), status)[0] == sdk_code
    server_answer = server.http.post("/auth/login", json=body)
    code, _ = server.error(server_answer, status)
    expected = server_code or ("INVALID_CREDENTIALS" if status == 401 else "VALIDATION_ERROR")
    assert code == expected
    if status == 401:
        assert server_answer.json()["error"]["message"] == "Invalid email or password"


@DOCUMENTED
def test_refresh_in_both_dialects(emu: Emulator) -> None:
    login = httpx.post(
        f"{emu.linktor_url}/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    ).json()
    sdk_refresh = httpx.post(
        f"{emu.linktor_url}/auth/refresh", json={"refreshToken": login["refreshToken"]}
    )
    check_shape({"accessToken": str, "refreshToken": str, "expiresIn": int}, sdk_refresh.json())
    server_refresh = httpx.post(
        f"{emu.linktor_server_url}/auth/refresh", json={"refresh_token": login["refreshToken"]}
    )
    assert set(server_refresh.json()["data"]) == {"access_token", "refresh_token", "expires_in"}
    # An access token is not a refresh token.
    wrong = httpx.post(
        f"{emu.linktor_server_url}/auth/refresh", json={"refresh_token": login["accessToken"]}
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "TOKEN_INVALID"


def test_sdk_logout_is_204(sdk: Side) -> None:
    response = sdk.http.post("/auth/logout")
    assert response.status_code == 204 and response.content == b""


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}, {"X-API-Key": "nope"}],
)
def test_sdk_auth_failures_are_401_top_level(
    emu: Emulator, sdk: Side, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{emu.linktor_url}/conversations", headers=headers)
    assert sdk.error(response, 401)[0] == "AUTHENTICATION_ERROR"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "UNAUTHORIZED"),
        ({"X-API-Key": DEMO_KEY}, "UNAUTHORIZED"),  # the real server never reads X-API-Key
        ({"Authorization": "Token abc"}, "UNAUTHORIZED"),
        ({"Authorization": "Bearer not.a.jwt"}, "TOKEN_INVALID"),
    ],
)
def test_server_auth_failures_use_the_middleware_shape(
    emu: Emulator, headers: dict[str, str], code: str
) -> None:
    response = httpx.get(f"{emu.linktor_server_url}/contacts", headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}
    assert response.json()["code"] == code


@DOCUMENTED
def test_api_key_as_bearer_works_in_both_dialects(emu: Emulator) -> None:
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    for base in (emu.linktor_url, emu.linktor_server_url):
        assert httpx.get(f"{base}/channels", headers=headers).status_code == 200


# -- envelopes, errors, pagination ---------------------------------------------------------------


def test_every_answer_has_a_request_id_and_echoes_the_callers(sdk: Side, server: Side) -> None:
    for side in (sdk, server):
        assert side.http.get("/conversations").headers["x-request-id"]
        echoed = side.http.get("/nope/nope", headers={"X-Request-ID": "rid-1"})
        assert echoed.headers["x-request-id"] == "rid-1"


def test_sdk_pagination_limit_offset(sdk: Side) -> None:
    first = sdk.http.get("/conversations", params={"limit": 10, "offset": 0}).json()
    items = check_page(first, "Conversation")
    assert len(items) == 10
    assert first["pagination"] == {"total": 28, "limit": 10, "offset": 0, "hasMore": True}
    last = sdk.http.get("/conversations", params={"limit": 10, "offset": 20}).json()
    assert len(last["data"]) == 8 and last["pagination"]["hasMore"] is False
    ids = {c["id"] for c in items} | {c["id"] for c in last["data"]}
    assert len(ids) == 18


@DOCUMENTED
def test_server_meta_and_pagination_envelopes(server: Side) -> None:
    conversations = server.http.get("/conversations", params={"page": 2, "page_size": 10}).json()
    assert conversations["success"] is True and len(conversations["data"]) == 10
    assert conversations["meta"] == {
        "page": 2,
        "page_size": 10,
        "total_pages": 3,
        "total_items": 28,
        "has_next": True,
        "has_previous": True,
    }
    bots = server.http.get("/bots", params={"page_size": 1}).json()
    assert "success" not in bots
    assert bots["pagination"] == {"total": 2, "page": 1, "page_size": 1, "pages": 2}
    channels = server.http.get("/channels").json()
    assert set(channels) == {"success", "data"} and isinstance(channels["data"], list)


@pytest.mark.parametrize("params", [{"limit": "ten"}, {"limit": 0}, {"offset": -1}])
def test_sdk_bad_pagination_is_400(sdk: Side, params: dict[str, Any]) -> None:
    assert sdk.error(sdk.http.get("/contacts", params=params), 400)[0] == "VALIDATION_ERROR"


def test_not_found_codes(sdk: Side, server: Side) -> None:
    for path, server_code in [
        ("/conversations/nope", "CONVERSATION_NOT_FOUND"),
        ("/contacts/nope", "CONTACT_NOT_FOUND"),
        ("/channels/nope", "CHANNEL_NOT_FOUND"),
        ("/bots/nope", "NOT_FOUND"),
        ("/knowledge-bases/nope", "NOT_FOUND"),
    ]:
        assert sdk.error(sdk.http.get(path), 404)[0] == "NOT_FOUND"
        assert server.error(server.http.get(path), 404)[0] == server_code
    assert server.http.get("/flows/nope").json()["error"]["code"] == "NOT_FOUND"


def test_server_has_no_patch_and_no_sdk_only_routes(server: Side) -> None:
    for method, path in [
        ("PATCH", "/contacts/ct_demo_1"),
        ("PATCH", "/conversations/conv_demo"),
        ("GET", "/auth/me"),
        ("POST", "/ai/completions"),
        ("POST", "/knowledge-bases/kb_demo/query"),
    ]:
        response = server.http.request(method, path, json={})
        assert response.status_code == 404 and response.text == "404 page not found"


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"], ids=repr
)
def test_malformed_bodies_are_400_in_each_dialects_shape(side: Side, content: bytes) -> None:
    for path in ("/contacts", "/conversations/conv_demo/messages", "/bots"):
        response = side.http.post(
            path, content=content, headers={"Content-Type": "application/json"}
        )
        assert side.error(response, 400)[0] == "VALIDATION_ERROR"


@DOCUMENTED
def test_validation_errors_name_every_bad_field(side: Side, emu: Emulator) -> None:
    response = side.http.post("/contacts", json={"name": 1, "tags": "x"})
    code, message = side.error(response, 400)
    assert code == "VALIDATION_ERROR"
    assert "name must be a string" in message and "tags must be an array of strings" in message
