"""The linktor clients against the emulator: bots, AI, knowledge bases, flows, analytics, VRE,
in both dialects and both modes; and the methods the self-hosted server has no route for."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _linktor_client_support import (
    COMBO_IDS,
    COMBOS,
    Harness,
    module_emulator,
    open_client,
    recorded_client,
    unique,
)

from linktor import (
    Agent,
    Bot,
    BotStatus,
    BotType,
    Document,
    DocumentStatus,
    DocumentType,
    Flow,
    FlowExecution,
    FlowExecutionStatus,
    FlowStatus,
    KnowledgeBase,
    KnowledgeBaseStatus,
    NotFoundError,
    VREListTemplatesResponse,
    VREOutputFormat,
    VREPreviewResponse,
    VRERenderAndSendResponse,
    VRERenderResponse,
)
from linktor._dialect import UnsupportedOperationError
from linktor._resources import SERVER_UNSUPPORTED
from relaywire.emulator import Emulator

emulator = pytest.fixture(scope="module")(module_emulator)


@pytest.fixture(params=COMBOS, ids=COMBO_IDS)
def lk(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Harness]:
    dialect, mode = request.param
    harness = open_client(emulator, dialect, mode)
    yield harness
    harness.close()


# -- bots ----------------------------------------------------------------------------------------


def test_seeded_bots(lk: Harness) -> None:
    bots = {b.id: b for b in lk.client.bots.iter()}
    assert {"bot_demo", "bot_demo_flow"} <= bots.keys()
    page = lk.client.bots.list(limit=1)
    assert len(page.data) == 1 and page.pagination.total == len(bots)
    assert page.pagination.has_more
    demo = lk.client.bots.get("bot_demo")
    assert isinstance(demo, Bot)
    assert demo.type is BotType.AI and demo.status is BotStatus.ACTIVE
    assert demo.channel_ids == ["ch_demo"]
    assert demo.config.ai_config is not None
    assert demo.config.ai_config.model == "gpt-4o-mini"
    assert bots["bot_demo_flow"].type is BotType.FLOW


def test_bot_lifecycle(lk: Harness) -> None:
    name = unique("bot")
    created = lk.client.bots.create(
        name=name,
        type="ai",
        config={
            "welcomeMessage": "Hi there",
            "aiConfig": {"model": "gpt-4o", "useKnowledgeBase": False, "systemPrompt": "Brief."},
        },
        channel_ids=["ch_demo"],
    )
    assert created.name == name and created.type is BotType.AI
    assert created.config.welcome_message == "Hi there"
    assert created.config.ai_config is not None and created.config.ai_config.model == "gpt-4o"
    assert created.channel_ids == ["ch_demo"]
    renamed = lk.client.bots.update(created.id, name=name + "-2")
    assert renamed.name == name + "-2"
    assert lk.client.bots.activate(created.id).status is BotStatus.ACTIVE
    assert lk.client.bots.deactivate(created.id).status is BotStatus.INACTIVE
    unassigned = lk.client.bots.update(created.id, channel_ids=[])
    assert unassigned.channel_ids == []
    assert lk.client.bots.delete(created.id) is None
    with pytest.raises(NotFoundError):
        lk.client.bots.get(created.id)


# -- AI ------------------------------------------------------------------------------------------


def test_completions(lk: Harness) -> None:
    result = lk.client.ai.completions.create(
        [{"role": "user", "content": "How do refunds work?"}], max_tokens=200
    )
    assert "Refunds are issued" in result["message"]["content"]
    assert result["message"]["role"] == "assistant"
    assert set(result["usage"]) >= {"promptTokens", "completionTokens", "totalTokens"}
    assert result["finishReason"] == "stop"
    text = lk.client.ai.completions.complete("What are your support hours?")
    assert "Monday to Friday" in text


def test_embeddings(lk: Harness) -> None:
    if lk.server:
        with pytest.raises(UnsupportedOperationError):
            lk.client.ai.embeddings.embed("hello world")
        return
    vector = lk.client.ai.embeddings.embed("hello world")
    assert len(vector) == 256 and all(isinstance(x, float) for x in vector)
    batch = lk.client.ai.embeddings.create(["a b", "c d"])
    assert [item["index"] for item in batch["data"]] == [0, 1]


def test_agents(lk: Harness) -> None:
    if lk.server:
        with pytest.raises(UnsupportedOperationError):
            lk.client.ai.agents.list()
        return
    assert "agent_demo" in {a.id for a in lk.client.ai.agents.iter()}
    assert "agent_demo" in {a.id for a in lk.client.ai.agents.list(limit=100).data}
    agent = lk.client.ai.agents.get("agent_demo")
    assert isinstance(agent, Agent) and agent.knowledge_base_ids == ["kb_demo"]
    answer = lk.client.ai.agents.invoke("agent_demo", "How do I reset my password?")
    assert "Forgot password" in answer["response"]
    created = lk.client.ai.agents.create(name=unique("agent"), model="relaywire-echo-1")
    changed = lk.client.ai.agents.update(created.id, temperature=0.3)
    assert changed.temperature == pytest.approx(0.3)
    assert lk.client.ai.agents.delete(created.id) is None
    with pytest.raises(NotFoundError):
        lk.client.ai.agents.get(created.id)


# -- knowledge bases ----------------------------------------------------------------------------


def test_seeded_knowledge_base(lk: Harness) -> None:
    kb = lk.client.knowledge_bases.get("kb_demo")
    assert isinstance(kb, KnowledgeBase)
    assert kb.status is KnowledgeBaseStatus.ACTIVE and kb.document_count >= 6
    assert "kb_demo" in {k.id for k in lk.client.knowledge_bases.iter()}
    page = lk.client.knowledge_bases.list(limit=100)
    assert "kb_demo" in {k.id for k in page.data}
    assert all(isinstance(k, KnowledgeBase) for k in page.data)
    documents = list(lk.client.knowledge_bases.iter_documents("kb_demo", limit=4))
    assert len(documents) == kb.document_count
    assert all(isinstance(d, Document) and d.status is DocumentStatus.COMPLETED for d in documents)
    assert "How do refunds work?" in {d.name for d in documents}


def test_query_has_the_same_shape_in_both_dialects(lk: Harness) -> None:
    result = lk.client.knowledge_bases.query("kb_demo", "How do I reset my password?", top_k=2)
    assert set(result) == {"chunks", "query", "model"}
    assert 1 <= len(result["chunks"]) <= 2
    best = result["chunks"][0]
    assert {"id", "documentId", "content", "chunkIndex", "tokenCount", "score"} <= set(best)
    assert "reset link" in best["content"]
    scores = [c["score"] for c in result["chunks"]]
    assert scores == sorted(scores, reverse=True)
    texts = lk.client.knowledge_bases.search("kb_demo", "support hours", top_k=1)
    assert len(texts) == 1 and "Monday to Friday" in texts[0]


def test_knowledge_base_lifecycle(lk: Harness) -> None:
    name = unique("kb")
    created = lk.client.knowledge_bases.create(name=name, description="test", chunk_size=400)
    assert created.name == name and created.chunk_size == 400
    assert created.status is KnowledgeBaseStatus.EMPTY and created.document_count == 0
    renamed = lk.client.knowledge_bases.update(created.id, name=name + "-2")
    assert renamed.name == name + "-2"
    assert lk.client.knowledge_bases.delete(created.id) is None
    with pytest.raises(NotFoundError):
        lk.client.knowledge_bases.get(created.id)


def test_upload_and_delete_document(lk: Harness, emulator: Emulator) -> None:
    kb = lk.client.knowledge_bases.create(name=unique("kb"))
    if lk.server:
        with pytest.raises(UnsupportedOperationError):
            lk.client.knowledge_bases.upload_document(kb.id, b"text", "notes.txt")
        kb_record = emulator.linktor.collection("knowledge_bases")[kb.id]
        entry = emulator.call(
            emulator.linktor.add_kb_entry, kb_record, {"name": "Q?", "content": "A."}
        )
        doc_id = entry["id"]
    else:
        document = lk.client.knowledge_bases.upload_document(
            kb.id, b"Shipping takes three days.", "shipping.md", metadata={"lang": "en"}
        )
        assert document.name == "shipping.md" and document.type is DocumentType.MARKDOWN
        assert document.metadata == {"lang": "en"}
        doc_id = document.id
    assert [d.id for d in lk.client.knowledge_bases.list_documents(kb.id).data] == [doc_id]
    assert lk.client.knowledge_bases.delete_document(kb.id, doc_id) is None
    assert lk.client.knowledge_bases.list_documents(kb.id).data == []


# -- flows ---------------------------------------------------------------------------------------

_NODES = [
    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
    {
        "id": "hello",
        "type": "message",
        "position": {"x": 0, "y": 100},
        "data": {"messageContent": "Hello {{name}}"},
    },
    {"id": "end", "type": "end", "position": {"x": 0, "y": 200}, "data": {}},
]
_EDGES = [
    {"id": "e1", "source": "start", "target": "hello"},
    {"id": "e2", "source": "hello", "target": "end"},
]


def test_seeded_flow(lk: Harness) -> None:
    flow = lk.client.flows.get("flow_demo")
    assert isinstance(flow, Flow)
    assert flow.status is FlowStatus.ACTIVE
    assert [n.id for n in flow.nodes] == ["start", "greet", "ask", "end"]
    assert [(e.source, e.target) for e in flow.edges] == [
        ("start", "greet"),
        ("greet", "ask"),
        ("ask", "end"),
    ]
    assert "flow_demo" in {f.id for f in lk.client.flows.iter(limit=1)}
    active = lk.client.flows.list(status="active")
    assert "flow_demo" in {f.id for f in active.data}
    assert all(f.status is FlowStatus.ACTIVE for f in active.data)


def test_flow_lifecycle(lk: Harness) -> None:
    name = unique("flow")
    created = lk.client.flows.create(name=name, nodes=_NODES, edges=_EDGES)
    assert created.name == name
    assert [n.id for n in created.nodes] == ["start", "hello", "end"]
    assert [(e.source, e.target) for e in created.edges] == [("start", "hello"), ("hello", "end")]
    assert created.nodes[1].data.message_content == "Hello {{name}}"
    assert lk.client.flows.update(created.id, name=name + "-2").name == name + "-2"
    assert lk.client.flows.activate(created.id).status is FlowStatus.ACTIVE
    assert lk.client.flows.deactivate(created.id).status is FlowStatus.INACTIVE
    assert lk.client.flows.delete(created.id) is None
    with pytest.raises(NotFoundError):
        lk.client.flows.get(created.id)


def test_flow_execute(lk: Harness) -> None:
    if lk.server:
        with pytest.raises(UnsupportedOperationError):
            lk.client.flows.execute("flow_demo", "conv_demo")
        return
    execution = lk.client.flows.execute("flow_demo", "conv_demo", variables={"name": "Ada"})
    assert isinstance(execution, FlowExecution)
    assert execution.status is FlowExecutionStatus.WAITING
    assert execution.current_node_id == "ask"


# -- analytics -----------------------------------------------------------------------------------


def test_analytics(lk: Harness) -> None:
    report = lk.client.analytics.get_conversation_metrics(period="weekly")
    assert isinstance(report["data"], list) and len(report["data"]) == 7
    assert "date" in report["data"][0]
    if lk.server:
        for method in ("get_dashboard", "get_message_metrics"):
            with pytest.raises(UnsupportedOperationError):
                getattr(lk.client.analytics, method)()
        return
    assert lk.client.analytics.get_dashboard()["conversations"]["total"] >= 0
    assert "data" in lk.client.analytics.get_message_metrics(startDate="2024-01-01")
    assert "activeConversations" in lk.client.analytics.get_realtime()


# -- VRE -----------------------------------------------------------------------------------------


def _png(image_base64: str) -> bytes:
    data = base64.b64decode(image_base64)
    assert data.startswith(b"\x89PNG")
    return data


def test_vre_render(lk: Harness) -> None:
    render = lk.client.vre.render(
        "tenant_demo",
        "card_produto",
        {"nome": "Café", "preco": 24.9, "unidade": "un"},
        width=400,
        quality=0,
    )
    assert isinstance(render, VRERenderResponse)
    assert (render.width, render.height) == (400, 400)
    assert render.format is VREOutputFormat.PNG
    assert render.render_time_ms < 1000  # the server's nanoseconds are converted
    _png(render.image_base64)


def test_vre_templates_and_preview(lk: Harness) -> None:
    templates = lk.client.vre.list_templates()
    assert isinstance(templates, VREListTemplatesResponse)
    assert len(templates.templates) == 6
    preview = lk.client.vre.preview("status_pedido")
    assert isinstance(preview, VREPreviewResponse)
    assert (preview.width, preview.height) == (800, 600)
    custom = lk.client.vre.preview(
        "status_pedido", {"numero_pedido": "9", "status_atual": "entregue"}
    )
    assert _png(custom.image_base64) != _png(preview.image_base64)


def test_vre_render_and_send(lk: Harness) -> None:
    sent = lk.client.vre.render_and_send(
        "conv_demo", "menu_opcoes", {"titulo": "Menu", "opcoes": [{"label": "A"}]}, caption="Hi"
    )
    assert isinstance(sent, VRERenderAndSendResponse)
    assert sent.caption == "Hi" and sent.image_url.endswith(".png")
    assert bool(sent.message_id) != lk.server  # the server does not say the message id


_CONVENIENCE: list[tuple[str, Callable[[Any], Any]]] = [
    ("menu", lambda vre: vre.render_menu("tenant_demo", "Menu", [{"label": "Pedidos"}])),
    ("card", lambda vre: vre.render_product_card("tenant_demo", "Café", 24.9, "un", estoque=0)),
    ("status", lambda vre: vre.render_order_status("tenant_demo", "42", "transporte")),
    ("list", lambda vre: vre.render_product_list("tenant_demo", "Ofertas", [{"nome": "A"}])),
    ("confirm", lambda vre: vre.render_confirmation("tenant_demo", 10.0, [{"nome": "A"}])),
    ("pix", lambda vre: vre.render_pix_payment("tenant_demo", 10.0, "000201")),
]


@pytest.mark.parametrize("render", [c[1] for c in _CONVENIENCE], ids=[c[0] for c in _CONVENIENCE])
def test_vre_convenience(lk: Harness, render: Callable[[Any], Any]) -> None:
    result = render(lk.client.vre)
    assert isinstance(result, VRERenderResponse)
    _png(result.image_base64)


# -- what the server cannot do -------------------------------------------------------------------

_UNSUPPORTED_CALLS: dict[str, Callable[[Any], Any]] = {
    "ai.agents.list": lambda c: c.ai.agents.list(),
    "ai.agents.get": lambda c: c.ai.agents.get("agent_demo"),
    "ai.agents.create": lambda c: c.ai.agents.create(name="x", model="m"),
    "ai.agents.update": lambda c: c.ai.agents.update("agent_demo", name="x"),
    "ai.agents.delete": lambda c: c.ai.agents.delete("agent_demo"),
    "ai.agents.invoke": lambda c: c.ai.agents.invoke("agent_demo", "hi"),
    "ai.agents.iter": lambda c: list(c.ai.agents.iter()),
    "ai.embeddings.create": lambda c: c.ai.embeddings.create("hi"),
    "ai.embeddings.embed": lambda c: c.ai.embeddings.embed("hi"),
    "knowledge_bases.upload_document": lambda c: c.knowledge_bases.upload_document(
        "kb_demo", b"x", "x.txt"
    ),
    "flows.execute": lambda c: c.flows.execute("flow_demo", "conv_demo"),
    "analytics.get_dashboard": lambda c: c.analytics.get_dashboard(),
    "analytics.get_message_metrics": lambda c: c.analytics.get_message_metrics(),
    "analytics.get_realtime": lambda c: c.analytics.get_realtime(),
    "webhooks.create": lambda c: c.webhooks.create("https://example.test/h", ["message.sent"]),
    "webhooks.list": lambda c: c.webhooks.list(),
    "webhooks.get": lambda c: c.webhooks.get("wh_1"),
    "webhooks.delete": lambda c: c.webhooks.delete("wh_1"),
}


def test_every_unsupported_method_is_tested() -> None:
    assert set(_UNSUPPORTED_CALLS) == set(SERVER_UNSUPPORTED)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(_UNSUPPORTED_CALLS))
def test_unsupported_on_server_sends_nothing(emulator: Emulator, mode: str, name: str) -> None:
    with recorded_client(emulator, "server", mode) as (harness, recorder):
        before = len(recorder.requests)
        with pytest.raises(UnsupportedOperationError) as caught:
            _UNSUPPORTED_CALLS[name](harness.client)
        assert len(recorder.requests) == before
    error = caught.value
    assert error.code == "UNSUPPORTED_OPERATION"
    assert error.details["operation"] == name
    assert isinstance(error, NotImplementedError)
