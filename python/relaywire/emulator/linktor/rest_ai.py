"""Linktor REST, automation half: bots, AI agents, completions, embeddings, the server's AI
helpers, and flows (with the SDK's ``execute`` and the server's ``test``).

The "model" is deterministic so tests can assert on it: a reply is the best knowledge-base answer
for the last user message when one scores well enough, else an echo; an embedding is a hashed,
L2-normalised bag of words. The same input against the same data always gives the same output.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import orjson
from starlette.responses import Response

from relaywire.emulator._http import ApiError, json_response, now_iso
from relaywire.emulator._search import count_tokens, tokenize
from relaywire.emulator.linktor.dialect import Dialect
from relaywire.emulator.linktor.rest_core import Api, Call, CodeList, Field, Resource, apply
from relaywire.emulator.linktor.rest_knowledge import DEFAULT_EMBEDDING_MODEL, search
from relaywire.emulator.linktor.store import LinktorStore, Record, stamp
from relaywire.emulator.linktor.wire import (
    drop_none,
    sdk_agent,
    sdk_bot,
    sdk_flow,
    sdk_flow_execution,
    server_bot,
    server_flow,
    server_flow_nodes,
    snakify_keys,
)

__all__ = ["embed", "register", "reply"]

SDK, SERVER = Dialect.SDK, Dialect.SERVER
EMBEDDING_DIMENSIONS = 256
COMPLETION_MODEL = "relaywire-echo-1"
# A knowledge-base hit must score at least this (BM25, normalised) to ground an answer.
GROUNDING_THRESHOLD = 0.3
PROVIDERS = {
    "openai": ["gpt-4o-mini", "gpt-4o"],
    "anthropic": ["claude-3-5-haiku", "claude-3-5-sonnet"],
    "ollama": ["llama3.1", "qwen2.5"],
}


def register(api: Api) -> None:
    """Add the bot, AI and flow routes of ``api``'s dialect."""
    BOTS.register(api)
    FLOWS.register(api)
    if api.sdk:
        AGENTS.register(api)
        api.add("POST", "/ai/agents/{id}/invoke", _invoke_agent)
        api.add("POST", "/ai/completions", _completions)
        api.add("POST", "/ai/embeddings", _embeddings)
        api.add("POST", "/flows/{id}/execute", _execute_flow)
        return
    for verb in ("activate", "deactivate"):
        api.add("POST", f"/bots/{{id}}/{verb}", _bot_activation)
        api.add("POST", f"/flows/{{id}}/{verb}", _flow_activation)
    api.add("POST", "/bots/{id}/channels", _bot_add_channel)
    api.add("DELETE", "/bots/{id}/channels/{channel_id}", _bot_remove_channel)
    api.add("PUT", "/bots/{id}/config", _bot_config)
    api.add("POST", "/bots/{id}/test", _bot_test)
    api.add("POST", "/flows/{id}/test", _flow_test)
    api.add("GET", "/ai/providers", _providers)
    api.add("GET", "/ai/providers/{provider}/models", _provider_models)
    api.add("POST", "/ai/complete", _complete)
    api.add("POST", "/ai/classify-intent", _classify_intent)
    api.add("POST", "/ai/analyze-sentiment", _analyze_sentiment)


# -- the deterministic model -----------------------------------------------------------------


def reply(
    store: LinktorStore, tenant: str, prompt: str, kb_ids: list[str] | None = None
) -> tuple[str, float]:
    """An answer to ``prompt`` and its confidence: the best knowledge-base answer, or an echo."""
    hits = search(store, tenant, prompt, 1, kb_ids, min_score=GROUNDING_THRESHOLD)
    if hits:
        chunk, score = hits[0]
        entry = store.collection("kb_entries").get(str(chunk.document_id)) or {}
        # An FAQ item answers with its answer; a document with the matching passage.
        text = entry.get("content") if entry.get("kind") == "item" else chunk.content
        return str(text or chunk.content), score
    return f'I could not find an answer to "{prompt}" in the knowledge base.', 0.0


def embed(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A hashed bag-of-words vector, L2-normalised: texts sharing words point the same way."""
    vector = [0.0] * dimensions
    for word in tokenize(text) or text.casefold().split():
        digest = hashlib.sha256(word.encode()).digest()
        slot = int.from_bytes(digest[:4], "big") % dimensions
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(value * value for value in vector))
    return [round(value / norm, 6) for value in vector] if norm else vector


def _limit(text: str, max_tokens: int | None) -> tuple[str, str]:
    """``text`` cut to about ``max_tokens`` tokens, and the finish reason."""
    if max_tokens is not None and count_tokens(text) > max_tokens:
        return text[: max_tokens * 4], "length"
    return text, "stop"


def _digest(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


_ROLES = ("system", "user", "assistant", "tool")


def _last_user_text(messages: list[Record]) -> str:
    for number, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES or not isinstance(content, str):
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"messages[{number}] needs a role ({', '.join(_ROLES)}) and a string content",
            )
    users = [str(m["content"]) for m in messages if m["role"] == "user"]
    return users[-1] if users else str(messages[-1]["content"])


_COMPLETION = (
    Field("messages", "dict_list", required=True, low=1),
    Field("model"),
    Field("agent_id"),
    Field("knowledge_base_ids", "str_list"),
    Field("max_tokens", "int", low=1),
    Field("temperature", "num", low=0, high=2),
    Field("conversation_id"),
    Field("stream", "bool"),
    Field("tools", "list"),
)


async def _completions(call: Call) -> Response:
    values = await call.fields(_COMPLETION)
    prompt = _last_user_text(values["messages"])
    kb_ids = values.get("knowledge_base_ids")
    if values.get("agent_id"):
        agent = call.find(call.store.collection("agents"), values["agent_id"], "agent")
        kb_ids = kb_ids or agent.get("knowledge_base_ids")
    answer, _ = reply(call.store, call.tenant, prompt, kb_ids)
    text, finish = _limit(answer, values.get("max_tokens"))
    prompt_tokens = sum(count_tokens(m["content"]) for m in values["messages"])
    model = values.get("model") or COMPLETION_MODEL
    return call.ok(
        {
            "id": f"cmpl_{_digest(values['messages'], model, kb_ids)}",
            "model": model,
            "message": {"role": "assistant", "content": text},
            "usage": _usage(prompt_tokens, count_tokens(text)),
            "finishReason": finish,
        }
    )


def _usage(prompt: int, completion: int) -> Record:
    return {
        "promptTokens": prompt,
        "completionTokens": completion,
        "totalTokens": prompt + completion,
    }


_EMBEDDING = (
    Field("input", "any", required=True),
    Field("model"),
    Field("dimensions", "int", low=8, high=4096),
)


async def _embeddings(call: Call) -> Response:
    values = await call.fields(_EMBEDDING)
    texts = values["input"]
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "VALIDATION_ERROR", "input must be a string or an array of strings")
    dimensions = values.get("dimensions") or EMBEDDING_DIMENSIONS
    tokens = sum(count_tokens(text) for text in texts)
    return call.ok(
        {
            "data": [
                {"index": index, "embedding": embed(text, dimensions)}
                for index, text in enumerate(texts)
            ],
            "model": values.get("model") or DEFAULT_EMBEDDING_MODEL,
            "usage": {"promptTokens": tokens, "totalTokens": tokens},
        }
    )


# -- the server's AI helpers -------------------------------------------------------------------


async def _providers(call: Call) -> Response:
    providers = [
        {"name": name, "available": True, "default_model": models[0], "models": models}
        for name, models in PROVIDERS.items()
    ]
    return call.ok({"providers": providers})


async def _provider_models(call: Call) -> Response:
    provider = call.arg("provider")
    if provider not in PROVIDERS:
        raise ApiError(404, "NOT_FOUND", f"Provider not available: {provider}")
    return call.ok({"provider": provider, "models": PROVIDERS[provider]})


_COMPLETE = (
    Field("provider", required=True),
    Field("model", required=True),
    Field("messages", "dict_list", required=True, low=1),
    Field("max_tokens", "int", low=1),
    Field("temperature", "num", low=0, high=2),
)


async def _complete(call: Call) -> Response:
    values = await call.fields(_COMPLETE)
    if values["provider"] not in PROVIDERS:
        raise ApiError(400, "VALIDATION_ERROR", f"Provider not available: {values['provider']}")
    answer, confidence = reply(call.store, call.tenant, _last_user_text(values["messages"]))
    text, finish = _limit(answer, values.get("max_tokens") or 1024)
    prompt_tokens = sum(count_tokens(m["content"]) for m in values["messages"])
    completion_tokens = count_tokens(text)
    return call.ok(
        {
            "content": text,
            "model": values["model"],
            "tokens_used": prompt_tokens + completion_tokens,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "finish_reason": finish,
            "confidence": confidence,
            "latency_ms": 0,
        }
    )


_DEFAULT_INTENTS = ("greeting", "support", "billing", "human_agent", "goodbye")
_INTENT_WORDS = {
    "greeting": {"hello", "hi", "hey", "good", "morning"},
    "support": {"help", "problem", "issue", "error", "reset", "password", "broken"},
    "billing": {"refund", "invoice", "payment", "price", "bill", "charge"},
    "human_agent": {"human", "agent", "person", "someone", "talk"},
    "goodbye": {"bye", "goodbye", "thank", "thanks"},
}


async def _classify_intent(call: Call) -> Response:
    spec = (Field("message", required=True), Field("provider"), Field("intents", "str_list"))
    values = await call.fields(spec)
    words = set(tokenize(values["message"]))
    scores = []
    for intent in values.get("intents") or _DEFAULT_INTENTS:
        vocabulary = {*tokenize(intent.replace("_", " ")), *_INTENT_WORDS.get(intent, set())}
        overlap = len(words & {w for v in vocabulary for w in tokenize(v)})
        scores.append((round(min(1.0, overlap / 2), 3), intent))
    scores.sort(key=lambda item: -item[0])  # stable: ties keep the given order
    candidates = [{"name": name, "confidence": score} for score, name in scores]
    best = candidates[0] if scores and scores[0][0] > 0 else {"name": "unknown", "confidence": 0}
    return call.ok({"intent": best, "candidates": candidates})


_POSITIVE = {"good", "great", "thank", "thanks", "love", "excellent", "happy", "awesome", "nice"}
_NEGATIVE = {"bad", "terrible", "angry", "hate", "awful", "broken", "worst", "problem", "slow"}


async def _analyze_sentiment(call: Call) -> Response:
    values = await call.fields((Field("message", required=True), Field("provider")))
    words = [w.casefold() for w in re.findall(r"\w+", values["message"])]
    score = sum((w in _POSITIVE) - (w in _NEGATIVE) for w in words) / max(1, len(words))
    score = round(max(-1.0, min(1.0, score * 3)), 3)
    sentiment = "positive" if score > 0.1 else "negative" if score < -0.1 else "neutral"
    return call.ok({"sentiment": sentiment, "score": score, "confidence": round(abs(score), 3)})


# -- bots ------------------------------------------------------------------------------------


def _bot_values(values: dict[str, Any]) -> dict[str, Any]:
    """The SDK's camelCase ``BotConfig`` merged key by key into the flat, snake_case config the
    record keeps (the server's words); ``aiConfig.model`` is the bot's model."""
    config = values.pop("config", None)
    if isinstance(config, dict):
        config = snakify_keys(config)
        ai = config.pop("ai_config", None) or {}
        if isinstance(ai, dict):
            if isinstance(ai.get("model"), str):
                values["model"] = ai.pop("model")
            config.update(ai)
        values.update({f"config.{key}": value for key, value in config.items()})
    return values


def _make_bot(call: Call, values: dict[str, Any]) -> Record:
    fields: Record = {
        "description": None,
        "status": "inactive",
        "provider": "openai",
        "model": None,
        "config": {},
        "channel_ids": [],
        "flow_id": None,
        "agent_id": None,
        "knowledge_base_ids": None,
        "metadata": None,
    }
    apply(fields, _bot_values(values))
    fields["id"] = call.new_id("bot")
    return call.store.create_record("bots", "bot", fields, tenant_id=call.tenant)


def _change_bot(call: Call, bot: Record, values: dict[str, Any]) -> Record:
    apply(bot, _bot_values(values))
    bot["updated_at"] = stamp()
    return bot


_BOT_STATUSES = ("active", "inactive", "draft")
_SDK_BOT = (
    Field("description"),
    Field("config", "dict"),
    Field("channel_ids", "str_list"),
    Field("flow_id"),
    Field("agent_id"),
    Field("knowledge_base_ids", "str_list"),
    Field("metadata", "dict"),
)
_SERVER_BOT_TUNING = (
    Field("system_prompt", target="config.system_prompt"),
    Field("temperature", "num", low=0, high=2, target="config.temperature"),
    Field("max_tokens", "int", low=1, target="config.max_tokens"),
)
_BOT_TYPES = {SDK: ("flow", "ai", "hybrid"), SERVER: ("ai", "rule_based", "hybrid")}

BOTS = Resource(
    path="/bots",
    what="bot",
    records=lambda store: store.collection("bots"),
    sdk_view=lambda bot, store: sdk_bot(bot),
    server_view=lambda bot, store, t: server_bot(bot, t=t),
    create_fields={
        SDK: (
            Field("name", required=True),
            Field("type", required=True, choices=_BOT_TYPES[SDK]),
            *_SDK_BOT,
        ),
        SERVER: (
            Field("name", required=True),
            Field(
                "type",
                required=True,
                choices=_BOT_TYPES[SERVER],
                rename={"rule_based": "flow"},
                loose=True,
            ),
            Field("provider", required=True, choices=tuple(PROVIDERS), loose=True),
            Field("model", required=True),
            *_SERVER_BOT_TUNING,
        ),
    },
    update_fields={
        SDK: (
            Field("name"),
            Field("type", choices=_BOT_TYPES[SDK]),
            Field("status", choices=_BOT_STATUSES),
            *_SDK_BOT,
        ),
        SERVER: (
            Field("name"),
            Field("model"),
            *_SERVER_BOT_TUNING,
            Field("welcome_message", target="config.welcome_message"),
            Field("fallback_message", target="config.fallback_message"),
        ),
    },
    make=_make_bot,
    change=_change_bot,
    deletable=frozenset({SDK, SERVER}),
    filters={
        SDK: {"status": "status", "type": "type", "channel_id": "channelIds"},
        SERVER: {"status": "status", "type": "type"},
    },
    code_list=CodeList("bots", ("created_at", "updated_at", "name", "type", "status", "provider")),
)


def _bot(call: Call) -> Record:
    return BOTS.find(call)


async def _bot_activation(call: Call) -> Response:
    bot = _bot(call)
    active = call.request.url.path.endswith("/activate")
    bot["status"] = "active" if active else "inactive"
    bot["updated_at"] = stamp()
    return call.ok({"message": "Bot activated" if active else "Bot deactivated"})


async def _bot_add_channel(call: Call) -> Response:
    bot = _bot(call)
    channel_id = (await call.fields((Field("channel_id", required=True),)))["channel_id"]
    call.find(call.store.channels, channel_id, "channel")
    if channel_id not in bot["channel_ids"]:
        bot["channel_ids"] = [*bot["channel_ids"], channel_id]
    bot["updated_at"] = stamp()
    if call.code:
        return call.ok({"message": "Channel assigned to bot"})
    return BOTS.answer(call, bot)


async def _bot_remove_channel(call: Call) -> Response:
    bot = _bot(call)
    channel_id = call.arg("channel_id")
    if channel_id not in bot["channel_ids"]:
        raise ApiError(404, "CHANNEL_NOT_FOUND", "channel is not assigned to this bot")
    bot["channel_ids"] = [c for c in bot["channel_ids"] if c != channel_id]
    bot["updated_at"] = stamp()
    if call.code:
        return call.ok({"message": "Channel unassigned from bot"})
    return BOTS.answer(call, bot)


async def _bot_config(call: Call) -> Response:
    bot = _bot(call)
    config = await call.body()
    bot["config"] = {**(bot.get("config") or {}), **config}
    bot["updated_at"] = stamp()
    return BOTS.answer(call, bot)


async def _bot_test(call: Call) -> Response:
    bot = _bot(call)
    message = (await call.fields((Field("message", required=True),)))["message"]
    answer, confidence = reply(call.store, call.tenant, message, bot.get("knowledge_base_ids"))
    return call.ok({"response": answer, "confidence": confidence, "should_escalate": False})


# -- AI agents (SDK) ---------------------------------------------------------------------------


def _make_agent(call: Call, values: dict[str, Any]) -> Record:
    fields: Record = {
        "description": None,
        "status": "active",
        "system_prompt": None,
        "temperature": 0.7,
        "max_tokens": 1024,
        "tools": None,
        "knowledge_base_ids": None,
        "metadata": None,
    }
    fields.update({k: v for k, v in values.items() if v is not None})
    return call.store.create_record("agents", "agent", fields, tenant_id=call.tenant)


_AGENT = (
    Field("description"),
    Field("system_prompt"),
    Field("temperature", "num", low=0, high=2),
    Field("max_tokens", "int", low=1),
    Field("tools", "dict_list"),
    Field("knowledge_base_ids", "str_list"),
    Field("metadata", "dict"),
)

AGENTS = Resource(
    path="/ai/agents",
    what="agent",
    records=lambda store: store.collection("agents"),
    sdk_view=lambda agent, store: sdk_agent(agent),
    server_view=lambda agent, store, t: agent,
    create_fields={SDK: (Field("name", required=True), Field("model", required=True), *_AGENT)},
    update_fields={
        SDK: (
            Field("name"),
            Field("model"),
            Field("status", choices=("active", "inactive", "draft")),
            *_AGENT,
        )
    },
    make=_make_agent,
    deletable=frozenset({SDK}),
    filters={SDK: {"status": "status"}},
)

_INVOKE = (
    Field("message", required=True),
    Field("conversation_id"),
    Field("context", "dict"),
    Field("stream", "bool"),
)


async def _invoke_agent(call: Call) -> Response:
    agent = AGENTS.find(call)
    values = await call.fields(_INVOKE)
    answer, _ = reply(call.store, call.tenant, values["message"], agent.get("knowledge_base_ids"))
    text, _ = _limit(answer, agent["max_tokens"])
    conversation_id = values.get("conversation_id") or f"aconv_{_digest(agent['id'])[:12]}"
    return call.ok(
        {
            "response": text,
            "conversationId": conversation_id,
            "toolResults": [],
            "usage": _usage(count_tokens(values["message"]), count_tokens(text)),
        }
    )


# -- flows -------------------------------------------------------------------------------------

_SDK_NODE_TYPES: tuple[str, ...] = (
    *("start", "message", "condition", "action", "input", "ai", "api", "delay", "assign", "end"),
)
_SERVER_NODE_TYPES = ("message", "question", "condition", "action", "vre", "end")
_FROM_SERVER_NODE = {"question": "input", "vre": "message"}


def _sdk_nodes(nodes: list[Record]) -> list[Record]:
    for node in nodes:
        if not isinstance(node.get("id"), str) or node.get("type") not in _SDK_NODE_TYPES:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                "nodes[] need a string id and a type among " + ", ".join(_SDK_NODE_TYPES),
            )
    return [{"position": {"x": 0, "y": 0}, "data": {}, **node} for node in nodes]


def _sdk_edges(edges: list[Record]) -> list[Record]:
    for edge in edges:
        if not all(isinstance(edge.get(key), str) for key in ("id", "source", "target")):
            raise ApiError(400, "VALIDATION_ERROR", "edges[] need string id, source and target")
    return edges


def _from_server_nodes(values: dict[str, Any]) -> None:
    """Keep the server's node list as sent and derive the SDK's graph from it."""
    nodes = values.get("server_nodes")
    if nodes is None:
        return
    sdk_nodes, edges = [], []
    for order, node in enumerate(nodes):
        transitions = node.get("transitions") or []
        bad = not isinstance(transitions, list) or not all(
            isinstance(t, dict) and isinstance(t.get("to_node_id"), str) for t in transitions
        )
        if not isinstance(node.get("id"), str) or node.get("type") not in _SERVER_NODE_TYPES or bad:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                "nodes[] need a string id, a type among "
                + ", ".join(_SERVER_NODE_TYPES)
                + " and transitions with to_node_id",
            )
        content = node.get("content")
        data = drop_none({"label": node["id"], "messageContent": content})
        sdk_nodes.append(
            {
                "id": node["id"],
                "type": _FROM_SERVER_NODE.get(node["type"], node["type"]),
                "position": {"x": 0, "y": 120 * order},
                "data": data,
            }
        )
        for number, transition in enumerate(transitions):
            edge = {
                "id": transition.get("id") or f"{node['id']}_t{number}",
                "source": node["id"],
                "target": transition["to_node_id"],
                "label": transition.get("value"),
                "condition": transition.get("condition"),
            }
            edges.append(drop_none(edge))
    if values.get("start_node_id") and values["start_node_id"] not in {n["id"] for n in nodes}:
        raise ApiError(400, "VALIDATION_ERROR", "start_node_id must name one of the nodes")
    values["nodes"], values["edges"] = sdk_nodes, edges


def _flow_values(call: Call, values: dict[str, Any]) -> dict[str, Any]:
    if call.sdk and ("nodes" in values or "edges" in values):
        values["server_nodes"] = None  # the server's view is derived from the new graph
    if "is_active" in values:
        values["status"] = "active" if values.pop("is_active") else "inactive"
    _from_server_nodes(values)
    return values


def _make_flow(call: Call, values: dict[str, Any]) -> Record:
    fields: Record = {
        "description": None,
        "status": "draft" if call.sdk else "inactive",
        "version": 1,
        "nodes": [],
        "edges": [],
        "variables": None,
        "metadata": None,
        "server_nodes": None,
        "bot_id": None,
        "trigger": "manual",
        "trigger_value": None,
        "start_node_id": None,
        "priority": 0,
    }
    fields.update({k: v for k, v in _flow_values(call, values).items() if v is not None})
    fields["id"] = call.new_id("flow")
    return call.store.create_record("flows", "flow", fields, tenant_id=call.tenant)


def _change_flow(call: Call, flow: Record, values: dict[str, Any]) -> Record:
    apply(flow, _flow_values(call, values))
    flow["version"] += 1
    flow["updated_at"] = stamp()
    return flow


_SDK_FLOW = (
    Field("description"),
    Field("nodes", "dict_list", convert=_sdk_nodes),
    Field("edges", "dict_list", convert=_sdk_edges),
    Field("variables", "dict_list"),
    Field("metadata", "dict"),
)
_TRIGGERS = ("intent", "keyword", "manual", "welcome")
_SERVER_FLOW = (
    Field("description"),
    Field("bot_id"),
    Field("trigger_value"),
    Field("priority", "int"),
)

FLOWS = Resource(
    path="/flows",
    what="flow",
    records=lambda store: store.collection("flows"),
    sdk_view=lambda flow, store: sdk_flow(flow),
    server_view=lambda flow, store, t: server_flow(flow, t=t),
    create_fields={
        SDK: (Field("name", required=True), *_SDK_FLOW),
        SERVER: (
            Field("name", required=True),
            Field("trigger", required=True, choices=_TRIGGERS, loose=True),
            Field("start_node_id", required=True),
            Field("nodes", "dict_list", required=True, low=1, target="server_nodes"),
            *_SERVER_FLOW,
        ),
    },
    update_fields={
        SDK: (
            Field("name"),
            Field("status", choices=("active", "inactive", "draft")),
            *_SDK_FLOW,
        ),
        SERVER: (
            Field("name"),
            Field("trigger", choices=_TRIGGERS, loose=True),
            Field("start_node_id"),
            Field("nodes", "dict_list", low=1, target="server_nodes"),
            Field("is_active", "bool"),
            *_SERVER_FLOW,
        ),
    },
    make=_make_flow,
    change=_change_flow,
    deletable=frozenset({SDK, SERVER}),
    filters={
        SDK: {"status": "status"},
        SERVER: {"bot_id": "bot_id", "is_active": "is_active", "trigger": "trigger"},
    },
    server_bare=True,
    server_deleted="Flow deleted successfully",
    code_list=CodeList(
        "flows",
        ("created_at", "updated_at", "name", "trigger", "is_active", "priority"),
        {"bot_id": "bot_id", "is_active": "is_active", "trigger": "trigger"},
    ),
)


async def _flow_activation(call: Call) -> Response:
    flow = FLOWS.find(call)
    active = call.request.url.path.endswith("/activate")
    flow["status"] = "active" if active else "inactive"
    flow["updated_at"] = stamp()
    word = "activated" if active else "deactivated"
    return json_response({"message": f"Flow {word} successfully"})


_EXECUTE = (
    Field("conversation_id", required=True),
    Field("variables", "dict"),
    Field("start_node_id"),
)
_MAX_STEPS = 100
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


async def _execute_flow(call: Call) -> Response:
    """Walk the flow from its start: message nodes post bot messages to the conversation; an
    input node stops the walk (``waiting``), an end node or a dead end completes it."""
    flow = FLOWS.find(call)
    values = await call.fields(_EXECUTE)
    conversation = call.find(call.store.conversations, values["conversation_id"], "conversation")
    nodes = {node["id"]: node for node in flow["nodes"]}
    variables: Record = dict(values.get("variables") or {})
    current = values.get("start_node_id") or next(
        (n["id"] for n in flow["nodes"] if n["type"] == "start"),
        flow["nodes"][0]["id"] if flow["nodes"] else None,
    )
    if current is not None and current not in nodes:
        raise ApiError(400, "VALIDATION_ERROR", f"unknown start node {current}")
    started = now_iso()
    history: list[Record] = []
    status = "completed"
    while current is not None and len(history) < _MAX_STEPS:
        node = nodes[current]
        step: Record = {"node_id": current, "node_type": node["type"], "started_at": now_iso()}
        text = (node.get("data") or {}).get("messageContent")
        if node["type"] == "message" and isinstance(text, str) and text:
            text = _PLACEHOLDER.sub(lambda m: str(variables.get(m.group(1), m.group(0))), text)
            sent = call.store.add_message(
                conversation["id"],
                direction="outbound",
                content={"text": text},
                sender_type="bot",
                metadata={"flow_id": flow["id"], "node_id": current},
            )
            step["output"] = {"messageId": sent["id"], "text": text}
        step["completed_at"] = now_iso()
        history.append(step)
        if node["type"] == "input":
            status = "waiting"
            break
        if node["type"] == "end":
            current = None
            break
        current = next((e["target"] for e in flow["edges"] if e["source"] == current), None)
        if current is not None and current not in nodes:
            status = "failed"
            break
    execution = call.store.create_record(
        "flow_executions",
        "fexec",
        {
            "flow_id": flow["id"],
            "conversation_id": conversation["id"],
            "status": status,
            "current_node_id": current if status != "completed" else None,
            "variables": variables,
            "history": history,
            "started_at": started,
            "completed_at": None if status == "waiting" else now_iso(),
            "error": "an edge points to an unknown node" if status == "failed" else None,
        },
        tenant_id=call.tenant,
    )
    return call.ok(sdk_flow_execution(execution))


async def _flow_test(call: Call) -> Response:
    """For each input, the node whose quick replies or transitions it matches (else the start)."""
    flow = FLOWS.find(call)
    inputs = (await call.fields((Field("inputs", "str_list", required=True),)))["inputs"]
    nodes = server_flow_nodes(flow)
    start = server_flow(flow)["start_node_id"]
    by_id = {node["id"]: node for node in nodes}
    results = []
    for text in inputs:
        target = start
        for node in nodes:
            for transition in node.get("transitions") or []:
                value = str(transition.get("value") or "")
                if value and value.casefold() in text.casefold():
                    target = transition["to_node_id"]
                    break
            else:
                continue
            break
        node = by_id.get(target, {})
        results.append({"input": text, "node_id": target, "response": node.get("content", "")})
    return json_response({"flow_id": flow["id"], "results": results})
