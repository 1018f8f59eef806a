"""The emulator's Linktor REST API: bots, AI agents, completions, embeddings, knowledge bases,
flows, analytics and VRE, in both dialects."""

from __future__ import annotations

import base64
import math
from typing import Any

import httpx
import pytest
from _emulator_support import DOCUMENTED
from test_emulator_linktor_rest import (  # noqa: F401  (fixtures)
    DEMO_KEY,
    Side,
    check_page,
    check_shape,
    sdk_fixture,
    server_fixture,
    side_fixture,
)

from relaywire.emulator import Emulator

RESET_QUESTION = "How do I reset my password?"

# -- generic CRUD: one table for the resources both dialects share --------------------------------

CRUD = {
    # resource: (path, SDK create body, server create body, update body, SDK model)
    "bots": (
        "/bots",
        {"name": "B", "type": "ai", "config": {"aiConfig": {"model": "m-1", "systemPrompt": "p"}}},
        {"name": "B", "type": "rule_based", "provider": "anthropic", "model": "m-1"},
        {"name": "B2"},
        "Bot",
    ),
    "knowledge-bases": (
        "/knowledge-bases",
        {"name": "K", "chunkSize": 400, "chunkOverlap": 40},
        {"name": "K", "type": "documents", "config": {"chunk_size": 400}},
        {"name": "K2"},
        "KnowledgeBase",
    ),
    "flows": (
        "/flows",
        {"name": "F", "nodes": [{"id": "n1", "type": "start"}], "edges": []},
        {
            "name": "F",
            "trigger": "keyword",
            "start_node_id": "n1",
            "nodes": [{"id": "n1", "type": "message", "content": "hi", "transitions": []}],
        },
        {"name": "F2"},
        "Flow",
    ),
}


@pytest.mark.parametrize("resource", list(CRUD))
def test_generic_crud(side: Side, resource: str) -> None:
    path, sdk_body, server_body, update, model = CRUD[resource]
    response = side.http.post(path, json=sdk_body if side.sdk else server_body)
    created = side.data(response, 201)
    if side.sdk:
        check_shape(model, created)
    item = f"{path}/{created['id']}"
    # The server answers GET/PUT of a flow with the bare object.
    bare = resource == "flows" and not side.sdk
    fetched = side.http.get(item).json() if bare else side.data(side.http.get(item))
    assert fetched["id"] == created["id"]
    changed_response = side.http.request(side.update, item, json=update)
    changed = changed_response.json() if bare else side.data(changed_response)
    assert changed["name"] == update["name"]
    listing = side.http.get(path, params={"limit": 100, "page_size": 100}).json()
    if side.sdk:
        check_page(listing, model)
    else:
        assert set(listing) == {"data", "pagination"}
    assert created["id"] in [r["id"] for r in listing["data"]]
    deleted = side.http.delete(item)
    if bare:
        assert deleted.json() == {"message": "Flow deleted successfully"}
    else:
        assert deleted.status_code == 204
    assert side.http.get(item).status_code == 404


def test_seeded_lists_are_not_empty_and_parse(sdk: Side) -> None:
    for path, model in [
        ("/bots", "Bot"),
        ("/ai/agents", "Agent"),
        ("/knowledge-bases", "KnowledgeBase"),
        ("/flows", "Flow"),
        ("/channels", "Channel"),
        ("/contacts", "Contact"),
    ]:
        assert check_page(sdk.http.get(path).json(), model), path


# -- bots ----------------------------------------------------------------------------------------


def test_bot_words_per_dialect(sdk: Side, server: Side) -> None:
    made = server.data(
        server.http.post(
            "/bots",
            json={"name": "Rules", "type": "rule_based", "provider": "ollama", "model": "llama3.1"},
        ),
        201,
    )
    assert made["type"] == "rule_based" and made["status"] == "inactive"
    seen = sdk.http.get(f"/bots/{made['id']}").json()
    check_shape("Bot", seen)
    assert seen["type"] == "flow" and seen["config"]["aiConfig"]["model"] == "llama3.1"
    assert (
        sdk.http.patch(f"/bots/{made['id']}", json={"status": "draft"}).json()["status"] == "draft"
    )
    assert server.data(server.http.get(f"/bots/{made['id']}"))["status"] == "training"


def test_bot_activation_in_both_dialects(sdk: Side, server: Side) -> None:
    answer = server.data(server.http.post("/bots/bot_demo_flow/activate"))
    assert answer == {"message": "Bot activated"}
    assert sdk.http.get("/bots/bot_demo_flow").json()["status"] == "active"
    sdk.http.patch("/bots/bot_demo_flow", json={"status": "inactive"})
    assert server.data(server.http.get("/bots/bot_demo_flow"))["status"] == "inactive"
    assert server.data(server.http.post("/bots/bot_demo_flow/deactivate")) == {
        "message": "Bot deactivated"
    }
    active = sdk.items(sdk.http.get("/bots", params={"status": "active"}))
    assert [b["id"] for b in active] == ["bot_demo"]


@DOCUMENTED
def test_server_bot_extras(server: Side) -> None:
    channel = server.data(server.http.post("/channels", json={"name": "W", "type": "webchat"}), 201)
    added = server.data(
        server.http.post("/bots/bot_demo/channels", json={"channel_id": channel["id"]})
    )
    assert channel["id"] in added["channels"]
    removed = server.data(server.http.delete(f"/bots/bot_demo/channels/{channel['id']}"))
    assert channel["id"] not in removed["channels"]
    configured = server.data(server.http.put("/bots/bot_demo/config", json={"temperature": 0.1}))
    assert configured["config"]["temperature"] == 0.1
    tested = server.data(server.http.post("/bots/bot_demo/test", json={"message": RESET_QUESTION}))
    assert "Forgot password" in tested["response"]
    missing = server.http.post("/bots", json={"name": "B", "type": "ai"})
    assert server.error(missing, 400)[0] == "VALIDATION_ERROR"


def test_sdk_bot_rejects_unknown_type(sdk: Side) -> None:
    response = sdk.http.post("/bots", json={"name": "B", "type": "rule_based"})
    assert sdk.error(response, 400)[0] == "VALIDATION_ERROR"


# -- AI: agents, completions, embeddings -----------------------------------------------------------


def test_agents_crud_and_invoke(sdk: Side) -> None:
    created = sdk.http.post(
        "/ai/agents", json={"name": "Helper", "model": "m", "knowledgeBaseIds": ["kb_demo"]}
    )
    agent = created.json()
    assert created.status_code == 201
    check_shape("Agent", agent)
    invoked = sdk.http.post(f"/ai/agents/{agent['id']}/invoke", json={"message": RESET_QUESTION})
    check_shape("InvokeAgentResponse", invoked.json())
    assert "Forgot password" in invoked.json()["response"]
    updated = sdk.http.patch(f"/ai/agents/{agent['id']}", json={"status": "inactive"}).json()
    assert updated["status"] == "inactive"
    assert sdk.http.delete(f"/ai/agents/{agent['id']}").status_code == 204
    gone = sdk.http.post(f"/ai/agents/{agent['id']}/invoke", json={"message": "x"})
    assert sdk.error(gone, 404)[0] == "NOT_FOUND"
    assert sdk.error(sdk.http.post("/ai/agents", json={"name": "no model"}), 400)


def test_completion_is_kb_grounded_and_deterministic(sdk: Side) -> None:
    body = {"messages": [{"role": "user", "content": "how do I reset my password"}]}
    first = sdk.http.post("/ai/completions", json=body).json()
    check_shape("CompletionResponse", first)
    assert first["message"]["role"] == "assistant"
    assert "Forgot password" in first["message"]["content"]  # what complete() returns
    assert sdk.http.post("/ai/completions", json=body).json() == first
    usage = first["usage"]
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"]


def test_completion_without_a_kb_answer_echoes(sdk: Side) -> None:
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "zebra"},
        ]
    }
    answer = sdk.http.post("/ai/completions", json=body).json()["message"]["content"]
    assert '"zebra"' in answer
    limited = sdk.http.post("/ai/completions", json={**body, "maxTokens": 2}).json()
    assert limited["finishReason"] == "length" and len(limited["message"]["content"]) <= 8


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": [{"role": "user"}]},
        {"messages": [{"role": "x", "content": "y"}]},
    ],
)
def test_completion_rejects_bad_messages(sdk: Side, body: dict[str, Any]) -> None:
    assert sdk.error(sdk.http.post("/ai/completions", json=body), 400)[0] == "VALIDATION_ERROR"


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_are_deterministic_normalised_and_similar_for_similar_text(sdk: Side) -> None:
    texts = ["reset my password", "password reset link", "refund for my order"]
    answer = sdk.http.post("/ai/embeddings", json={"input": texts}).json()
    check_shape("EmbeddingResponse", answer)
    vectors = [item["embedding"] for item in answer["data"]]
    assert [item["index"] for item in answer["data"]] == [0, 1, 2]
    assert all(len(v) == 256 and math.isclose(_cosine(v, v), 1.0, abs_tol=1e-4) for v in vectors)
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2])
    single = sdk.http.post("/ai/embeddings", json={"input": texts[0]}).json()
    assert single["data"][0]["embedding"] == vectors[0]  # what embed() returns
    sized = sdk.http.post("/ai/embeddings", json={"input": "x", "dimensions": 16}).json()
    assert len(sized["data"][0]["embedding"]) == 16
    bad_bodies: list[dict[str, Any]] = [{}, {"input": 3}, {"input": []}, {"input": ["a", 1]}]
    for bad in bad_bodies:
        assert sdk.error(sdk.http.post("/ai/embeddings", json=bad), 400)[0] == "VALIDATION_ERROR"


def test_server_ai_endpoints(server: Side) -> None:
    body = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "how do I reset my password"}],
    }
    done = server.data(server.http.post("/ai/complete", json=body))
    assert "Forgot password" in done["content"] and done["finish_reason"] == "stop"
    assert done["tokens_used"] == done["prompt_tokens"] + done["completion_tokens"]
    unknown = server.http.post("/ai/complete", json={**body, "provider": "acme"})
    assert server.error(unknown, 400)[1] == "Provider not available: acme"
    providers = server.data(server.http.get("/ai/providers"))["providers"]
    assert {p["name"] for p in providers} == {"openai", "anthropic", "ollama"}
    models = server.data(server.http.get("/ai/providers/anthropic/models"))
    assert models["provider"] == "anthropic" and models["models"]
    intent = server.data(
        server.http.post("/ai/classify-intent", json={"message": "I want a refund"})
    )
    assert intent["intent"]["name"] == "billing"
    mood = server.data(
        server.http.post("/ai/analyze-sentiment", json={"message": "terrible, broken"})
    )
    assert mood["sentiment"] == "negative" and mood["score"] < 0


# -- knowledge bases -----------------------------------------------------------------------------


def test_sdk_query_finds_the_reset_faq(sdk: Side) -> None:
    result = sdk.http.post(
        "/knowledge-bases/kb_demo/query", json={"query": "how do I reset my password", "topK": 3}
    ).json()
    check_shape({"chunks": ["ScoredChunk"], "query": str, "model": str}, result)
    assert result["chunks"][0]["content"].startswith(RESET_QUESTION)  # what search() returns
    scores = [c["score"] for c in result["chunks"]]
    assert scores == sorted(scores, reverse=True)
    strict = sdk.http.post(
        "/knowledge-bases/kb_demo/query", json={"query": "password refund", "threshold": 0.99}
    ).json()
    assert strict["chunks"] == []
    bad = sdk.http.post("/knowledge-bases/kb_demo/query", json={"query": "x", "topK": "5"})
    assert sdk.error(bad, 400)[0] == "VALIDATION_ERROR"


def test_server_search_returns_items(server: Side) -> None:
    response = server.http.post(
        "/knowledge-bases/kb_demo/search", json={"query": "reset my password", "limit": 2}
    )
    body = response.json()
    assert set(body) == {"results", "query", "count"} and body["count"] == len(body["results"])
    top = body["results"][0]
    assert top["item"]["question"] == RESET_QUESTION and top["highlights"]
    too_many = server.http.post("/knowledge-bases/kb_demo/search", json={"query": "x", "limit": 50})
    assert server.error(too_many, 400)[0] == "VALIDATION_ERROR"


def test_sdk_document_upload_is_searchable_and_deletable(emu: Emulator, sdk: Side) -> None:
    kb = sdk.http.post("/knowledge-bases", json={"name": "Docs"}).json()
    assert kb["status"] == "empty"
    text = b"# Exports\n\nTo export your data open Reports and press the Export CSV button."
    uploaded = httpx.post(
        f"{emu.linktor_url}/knowledge-bases/{kb['id']}/documents",
        headers={"X-API-Key": DEMO_KEY},
        files={"file": ("exports.md", text)},
    )
    assert uploaded.status_code == 201
    document = uploaded.json()
    check_shape("Document", document)
    assert document["type"] == "markdown" and document["chunkCount"] == 1
    assert sdk.http.get(f"/knowledge-bases/{kb['id']}").json()["documentCount"] == 1
    hits = sdk.http.post(f"/knowledge-bases/{kb['id']}/query", json={"query": "export csv"})
    assert hits.json()["chunks"][0]["documentId"] == document["id"]
    docs = check_page(sdk.http.get(f"/knowledge-bases/{kb['id']}/documents").json(), "Document")
    assert [d["id"] for d in docs] == [document["id"]]
    assert (
        sdk.http.delete(f"/knowledge-bases/{kb['id']}/documents/{document['id']}").status_code
        == 204
    )
    after = sdk.http.post(f"/knowledge-bases/{kb['id']}/query", json={"query": "export csv"})
    assert after.json()["chunks"] == []


def test_upload_labelled_as_json_like_the_official_sdk_sends_it(emu: Emulator, sdk: Side) -> None:
    # The official SDK's client-wide Content-Type header replaces the multipart one.
    request = httpx.Request(
        "POST", "http://x/", files={"file": ("notes.txt", b"Opening hours are 9 to 5.")}
    )
    body = request.read()
    uploaded = sdk.http.post(
        "/knowledge-bases/kb_demo/documents",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert uploaded.status_code == 201 and uploaded.json()["name"] == "notes.txt"


def test_upload_errors(emu: Emulator, sdk: Side) -> None:
    url = f"{emu.linktor_url}/knowledge-bases/kb_demo/documents"
    headers = {"X-API-Key": DEMO_KEY}
    no_file = httpx.post(url, headers=headers, files={"other": ("a.txt", b"x")})
    assert sdk.error(no_file, 400)[0] == "VALIDATION_ERROR"
    empty = httpx.post(url, headers=headers, files={"file": ("a.txt", b"")})
    assert sdk.error(empty, 400)[0] == "VALIDATION_ERROR"
    binary = httpx.post(url, headers=headers, files={"file": ("scan.pdf", b"%PDF\xff\xfe\x00")})
    assert binary.status_code == 201 and binary.json()["status"] == "failed"
    assert binary.json()["error"]
    as_json = sdk.http.post(
        "/knowledge-bases/kb_demo/documents", json={"name": "a.md", "content": "alpha beta"}
    )
    assert as_json.status_code == 201 and as_json.json()["type"] == "markdown"


def test_server_items_crud_bulk_and_cross_dialect(server: Side, sdk: Side) -> None:
    path = "/knowledge-bases/kb_demo/items"
    item = server.data(
        server.http.post(
            path, json={"question": "Do you ship abroad?", "answer": "Yes, to 40 countries."}
        ),
        201,
    )
    assert server.data(server.http.get(f"{path}/{item['id']}"))["answer"].startswith("Yes")
    changed = server.data(
        server.http.put(f"{path}/{item['id']}", json={"answer": "Only to Europe."})
    )
    assert changed["answer"] == "Only to Europe."
    hits = sdk.http.post("/knowledge-bases/kb_demo/query", json={"query": "ship abroad europe"})
    assert hits.json()["chunks"][0]["documentId"] == item["id"]
    bulk = server.http.post(
        f"{path}/bulk",
        json={"items": [{"question": "Q1", "answer": "A1"}, {"question": "Q2"}]},
    ).json()
    assert bulk["created"] == 1 and len(bulk["errors"]) == 1 and "answer" in bulk["errors"][0]
    listing = server.http.get(path, params={"page_size": 100}).json()
    assert listing["pagination"]["total"] == 8
    assert server.http.delete(f"{path}/{item['id']}").status_code == 204
    assert server.http.get(f"{path}/{item['id']}").status_code == 404
    regenerated = server.data(server.http.post("/knowledge-bases/kb_demo/regenerate-embeddings"))
    assert regenerated["items_processed"] == 7


def test_deleting_a_kb_removes_its_chunks(sdk: Side, server: Side) -> None:
    assert server.http.delete("/knowledge-bases/kb_demo").status_code == 204
    body = {"messages": [{"role": "user", "content": "how do I reset my password"}]}
    answer = sdk.http.post("/ai/completions", json=body).json()["message"]["content"]
    assert "Forgot password" not in answer


def test_kb_chunking_settings_are_validated(sdk: Side) -> None:
    bad = sdk.http.post(
        "/knowledge-bases", json={"name": "K", "chunkSize": 100, "chunkOverlap": 100}
    )
    assert sdk.error(bad, 400)[0] == "VALIDATION_ERROR"


# -- flows ---------------------------------------------------------------------------------------


def test_sdk_flow_execute_posts_bot_messages(sdk: Side, emu: Emulator) -> None:
    execution = sdk.http.post("/flows/flow_demo/execute", json={"conversationId": "conv_demo"})
    check_shape("FlowExecution", execution.json())
    run = execution.json()
    assert run["status"] == "waiting" and run["currentNodeId"] == "ask"
    assert [step["nodeId"] for step in run["history"]] == ["start", "greet", "ask"]
    messages = sdk.items(sdk.http.get("/conversations/conv_demo/messages"))
    assert messages[-1]["senderType"] == "bot"
    assert messages[-1]["content"]["text"] == "Hi! How can we help?"
    unknown = sdk.http.post("/flows/flow_demo/execute", json={"conversationId": "nope"})
    assert sdk.error(unknown, 404)[0] == "NOT_FOUND"
    missing = sdk.http.post("/flows/flow_demo/execute", json={})
    assert sdk.error(missing, 400)[0] == "VALIDATION_ERROR"


def test_flow_graph_translates_between_dialects(sdk: Side, server: Side) -> None:
    flow = server.http.get("/flows/flow_demo").json()
    assert flow["is_active"] is True and flow["start_node_id"] == "start"
    greet = next(n for n in flow["nodes"] if n["id"] == "greet")
    assert greet["content"] == "Hi! How can we help?"
    assert greet["transitions"][0]["to_node_id"] == "ask"
    made = server.data(
        server.http.post(
            "/flows",
            json={
                "name": "Menu",
                "trigger": "keyword",
                "trigger_value": "menu",
                "start_node_id": "q",
                "nodes": [
                    {
                        "id": "q",
                        "type": "question",
                        "content": "Sales or support?",
                        "transitions": [
                            {
                                "id": "t1",
                                "to_node_id": "s",
                                "condition": "contains",
                                "value": "sales",
                            }
                        ],
                    },
                    {"id": "s", "type": "end", "content": "Connecting you to sales"},
                ],
            },
        ),
        201,
    )
    seen = sdk.http.get(f"/flows/{made['id']}").json()
    check_shape("Flow", seen)
    assert [n["type"] for n in seen["nodes"]] == ["input", "end"]
    assert seen["edges"] == [
        {"id": "t1", "source": "q", "target": "s", "label": "sales", "condition": "contains"}
    ]
    tested = server.http.post(f"/flows/{made['id']}/test", json={"inputs": ["I want sales", "hmm"]})
    results = tested.json()["results"]
    assert [r["node_id"] for r in results] == ["s", "q"]
    activated = server.http.post(f"/flows/{made['id']}/activate")
    assert activated.json() == {"message": "Flow activated successfully"}
    assert sdk.http.get(f"/flows/{made['id']}").json()["status"] == "active"
    active = server.http.get("/flows", params={"is_active": "true"}).json()["data"]
    assert made["id"] in [f["id"] for f in active]
    bumped = sdk.http.patch(f"/flows/{made['id']}", json={"description": "d"}).json()
    assert bumped["version"] == 2


@DOCUMENTED
@pytest.mark.parametrize(
    "body",
    [
        {"name": "F", "trigger": "keyword", "start_node_id": "x", "nodes": []},
        {
            "name": "F",
            "trigger": "sometimes",
            "start_node_id": "a",
            "nodes": [{"id": "a", "type": "end"}],
        },
        {
            "name": "F",
            "trigger": "manual",
            "start_node_id": "zz",
            "nodes": [{"id": "a", "type": "end"}],
        },
        {
            "name": "F",
            "trigger": "manual",
            "start_node_id": "a",
            "nodes": [{"id": "a", "type": "teleport"}],
        },
    ],
)
def test_server_flow_validation(server: Side, body: dict[str, Any]) -> None:
    assert server.error(server.http.post("/flows", json=body), 400)[0] == "VALIDATION_ERROR"


def test_sdk_flow_validation(sdk: Side) -> None:
    bad_node = sdk.http.post(
        "/flows", json={"name": "F", "nodes": [{"id": "a", "type": "teleport"}]}
    )
    assert sdk.error(bad_node, 400)[0] == "VALIDATION_ERROR"
    bad_edge = sdk.http.post("/flows", json={"name": "F", "edges": [{"id": "e"}]})
    assert sdk.error(bad_edge, 400)[0] == "VALIDATION_ERROR"


# -- analytics -----------------------------------------------------------------------------------


def test_sdk_analytics_are_computed_from_the_store(sdk: Side) -> None:
    dashboard = sdk.http.get("/analytics/dashboard").json()
    assert dashboard["conversations"]["total"] == 28
    assert dashboard["conversations"]["open"] >= 1 and dashboard["contacts"]["total"] == 5
    sdk.http.post("/conversations/conv_demo/messages", json={"text": "hi"})
    messages = sdk.http.get("/analytics/messages").json()
    assert messages["total"] == 29 and sum(day["outbound"] for day in messages["data"]) == 1
    conversations = sdk.http.get("/analytics/conversations").json()
    assert sum(day["total"] for day in conversations["data"]) == 28
    realtime = sdk.http.get("/analytics/realtime").json()
    assert realtime["activeConversations"] == dashboard["conversations"]["open"]
    future = sdk.http.get(
        "/analytics/dashboard", params={"startDate": "2999-01-01", "endDate": "2999-01-02"}
    )
    assert future.json()["conversations"]["total"] == 0
    bad = sdk.http.get("/analytics/dashboard", params={"startDate": "yesterday"})
    assert sdk.error(bad, 400)[0] == "VALIDATION_ERROR"


def test_server_analytics_shapes(server: Side) -> None:
    overview = server.http.get("/analytics/overview").json()
    assert overview["period"] == "weekly" and overview["total_conversations"] == 28
    for name in ("conversations", "flows", "escalations", "channels"):
        body = server.http.get(f"/analytics/{name}").json()
        assert set(body) == {"data"} and isinstance(body["data"], list)
    channels = server.http.get("/analytics/channels").json()["data"]
    assert channels[0]["channel_id"] == "ch_demo" and channels[0]["total_conversations"] == 28
    bad = server.http.get("/analytics/overview", params={"period": "hourly"})
    assert bad.status_code == 400 and set(bad.json()) == {"error"}


# -- VRE -----------------------------------------------------------------------------------------

CARD = {"nome": "Café", "preco": 24.9, "unidade": "un"}


def test_vre_render_is_a_deterministic_png(side: Side) -> None:
    body = {"tenant_id": "tenant_demo", "template_id": "card_produto", "data": CARD, "width": 300}
    first = side.http.post("/vre/render", json=body).json()
    second = side.http.post("/vre/render", json=body).json()
    image_key = "imageBase64" if side.sdk else "image_base64"
    if side.sdk:
        check_shape("VRERenderResponse", first)
    else:
        assert first["render_time_ms"] == 1_000_000  # a Go Duration: nanoseconds
    assert first[image_key] == second[image_key]
    assert base64.b64decode(first[image_key]).startswith(b"\x89PNG\r\n\x1a\n")
    assert first["width"] == 300 and first[side.key("cache_hit")] is False
    assert second[side.key("cache_hit")] is True
    other = side.http.post("/vre/render", json={**body, "data": {**CARD, "nome": "Chá"}}).json()
    assert other[image_key] != first[image_key]


def test_vre_errors(sdk: Side, server: Side) -> None:
    missing = {"tenant_id": "t", "template_id": "card_produto", "data": {"nome": "x"}}
    assert sdk.error(sdk.http.post("/vre/render", json=missing), 400)[0] == "VALIDATION_ERROR"
    unknown = {**missing, "template_id": "poster"}
    assert sdk.error(sdk.http.post("/vre/render", json=unknown), 404)[0] == "NOT_FOUND"
    on_server = server.http.post("/vre/render", json=unknown)
    assert on_server.status_code == 404 and set(on_server.json()) == {"error"}
    no_target = server.http.post(
        "/vre/render-and-send", json={"template_id": "card_produto", "data": CARD}
    )
    assert no_target.status_code == 400 and no_target.json() == {"error": "send_to is required"}


def test_vre_render_and_send_posts_an_image_message(emu: Emulator, sdk: Side, server: Side) -> None:
    body = {"conversation_id": "conv_demo", "template_id": "card_produto", "data": CARD}
    sent = sdk.http.post("/vre/render-and-send", json={**body, "follow_up_text": "Anything else?"})
    check_shape("VRERenderAndSendResponse", sent.json())
    image = httpx.get(sent.json()["imageUrl"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    messages = sdk.items(sdk.http.get("/conversations/conv_demo/messages"))
    assert [m["contentType"] for m in messages[-2:]] == ["image", "text"]
    assert messages[-2]["id"] == sent.json()["messageId"]
    by_phone = server.http.post(
        "/vre/render-and-send", json={**body, "send_to": "+15550000002"}
    ).json()
    assert by_phone["delivered"] is True and by_phone["image_url"].endswith(".png")


def test_vre_templates_and_preview(sdk: Side, server: Side) -> None:
    templates = sdk.http.get("/vre/templates").json()["templates"]
    for template in templates:
        check_shape("VRETemplate", template)
    names = server.http.get("/vre/templates").json()["templates"]
    assert names == [t["id"] for t in templates] and "cobranca_pix" in names
    preview = sdk.http.post("/vre/templates/menu_opcoes/preview")
    check_shape("VREPreviewResponse", preview.json())
    with_data = sdk.http.post(
        "/vre/templates/menu_opcoes/preview", json={"data": {"titulo": "T", "opcoes": []}}
    )
    assert with_data.json()["imageBase64"] != preview.json()["imageBase64"]
    server_preview = server.http.get("/vre/templates/status_pedido/preview").json()
    assert server_preview["format"] == "png" and server_preview["image_base64"]
    config = server.http.put("/vre/config", json={"default_width": 640}).json()
    assert config["default_width"] == 640
    assert server.http.delete("/vre/cache").json()["message"] == "Cache cleared"
