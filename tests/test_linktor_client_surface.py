"""The official SDK's public surface, on both clients: constructing does no I/O, the resources
and methods exist under the official names with the official parameters, and the async client
has the same tree as coroutines (the official one had no resources at all)."""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import linktor
import linktor.client as client_module
from linktor import LinktorAsyncClient, LinktorClient, LinktorError
from linktor._dialect import Dialect, InvalidResponseError, UnsupportedOperationError
from linktor.utils.http import AsyncHttpClient, HttpClient

# resource path -> {method: official parameters ("**" = takes **kwargs/**params)}
OFFICIAL: dict[str, dict[str, list[str]]] = {
    "auth": {
        "login": ["email", "password"],
        "logout": [],
        "refresh_token": ["refresh_token"],
        "get_current_user": [],
    },
    "conversations": {
        "list": ["**"],
        "get": ["id"],
        "update": ["id", "**"],
        "send_message": ["conversation_id", "**"],
        "send_text": ["conversation_id", "text"],
        "list_messages": ["conversation_id", "**"],
        "resolve": ["id"],
        "assign": ["id", "agent_id"],
    },
    "contacts": {
        "list": ["**"],
        "get": ["id"],
        "create": ["**"],
        "update": ["id", "**"],
        "delete": ["id"],
        "search": ["query", "**"],
    },
    "channels": {
        "list": ["**"],
        "get": ["id"],
        "create": ["**"],
        "update": ["id", "**"],
        "delete": ["id"],
        "connect": ["id"],
        "disconnect": ["id"],
    },
    "bots": {
        "list": ["**"],
        "get": ["id"],
        "create": ["**"],
        "update": ["id", "**"],
        "delete": ["id"],
        "activate": ["id"],
        "deactivate": ["id"],
    },
    "ai.agents": {
        "list": ["**"],
        "get": ["id"],
        "create": ["**"],
        "update": ["id", "**"],
        "delete": ["id"],
        "invoke": ["id", "message", "**"],
    },
    "ai.completions": {"create": ["messages", "**"], "complete": ["prompt", "**"]},
    "ai.embeddings": {"create": ["input", "**"], "embed": ["text", "**"]},
    "knowledge_bases": {
        "list": ["**"],
        "get": ["id"],
        "create": ["**"],
        "update": ["id", "**"],
        "delete": ["id"],
        "query": ["id", "query", "top_k=5", "**"],
        "search": ["id", "query", "top_k=5"],
        "list_documents": ["kb_id", "**"],
        "upload_document": ["kb_id", "file", "filename", "**"],
        "delete_document": ["kb_id", "doc_id"],
    },
    "flows": {
        "list": ["**"],
        "get": ["id"],
        "create": ["**"],
        "update": ["id", "**"],
        "delete": ["id"],
        "execute": ["id", "conversation_id", "**"],
        "activate": ["id"],
        "deactivate": ["id"],
    },
    "analytics": {
        "get_dashboard": ["**"],
        "get_conversation_metrics": ["**"],
        "get_message_metrics": ["**"],
        "get_realtime": [],
    },
    "vre": {
        "render": [
            "tenant_id",
            "template_id",
            "data",
            "channel=None",
            "format=None",
            "width=None",
            "quality=None",
            "scale=None",
        ],
        "render_and_send": [
            "conversation_id",
            "template_id",
            "data",
            "caption=None",
            "follow_up_text=None",
        ],
        "list_templates": ["tenant_id=None"],
        "preview": ["template_id", "data=None"],
        "render_menu": ["tenant_id", "titulo", "opcoes", "subtitulo=None", "channel='whatsapp'"],
        "render_product_card": [
            "tenant_id",
            "nome",
            "preco",
            "unidade",
            "sku=None",
            "estoque=None",
            "imagem_url=None",
            "destaque=None",
            "channel='whatsapp'",
        ],
        "render_order_status": [
            "tenant_id",
            "numero_pedido",
            "status_atual",
            "itens_resumo=None",
            "valor_total=None",
            "previsao_entrega=None",
            "motorista=None",
            "channel='whatsapp'",
        ],
        "render_product_list": [
            "tenant_id",
            "titulo",
            "produtos",
            "mensagem=None",
            "channel='whatsapp'",
        ],
        "render_confirmation": [
            "tenant_id",
            "valor_total",
            "itens",
            "titulo=None",
            "subtitulo=None",
            "previsao_entrega=None",
            "mensagem=None",
            "channel='whatsapp'",
        ],
        "render_pix_payment": [
            "tenant_id",
            "valor",
            "pix_payload",
            "numero_pedido=None",
            "expiracao=None",
            "mensagem=None",
            "channel='whatsapp'",
        ],
    },
}

ITERATORS = {
    "conversations": ["iter", "iter_messages"],
    "contacts": ["iter"],
    "channels": ["iter"],
    "bots": ["iter"],
    "ai.agents": ["iter"],
    "knowledge_bases": ["iter", "iter_documents"],
    "flows": ["iter"],
}

RESOURCE_CLASSES = {
    "auth": "AuthResource",
    "conversations": "ConversationsResource",
    "contacts": "ContactsResource",
    "channels": "ChannelsResource",
    "bots": "BotsResource",
    "ai": "AIResource",
    "ai.agents": "AgentsSubResource",
    "ai.completions": "CompletionsSubResource",
    "ai.embeddings": "EmbeddingsSubResource",
    "knowledge_bases": "KnowledgeBasesResource",
    "flows": "FlowsResource",
    "analytics": "AnalyticsResource",
    "vre": "VREResource",
}


def resource(client: Any, path: str) -> Any:
    for part in path.split("."):
        client = getattr(client, part)
    return client


def described(parameter: inspect.Parameter) -> str:
    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
        return "**"
    if parameter.default is inspect.Parameter.empty:
        return parameter.name
    return f"{parameter.name}={parameter.default!r}"


def official_part(method: Any) -> list[str]:
    """The parameters the official SDK has: positional-or-keyword ones and ``**kwargs``
    (our keyword-only extras such as ``idempotency_key`` come after them)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.VAR_KEYWORD)
    return [described(p) for p in inspect.signature(method).parameters.values() if p.kind in kinds]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network I/O during construction")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# -- construction ----------------------------------------------------------------------------


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"api_key": "lk_test"},
        {"access_token": "jwt"},
        {"base_url": "https://linktor.example.com/api/v1", "api_key": "k"},
        {
            "base_url": "http://localhost:8081",
            "timeout": 5,
            "max_retries": 0,
            "headers": {"A": "b"},
        },
    ],
)
def test_construction_does_no_io(options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKTOR_API_KEY", raising=False)
    with LinktorClient(**options) as client:
        assert client.conversations is not None
    assert client._http._client is None  # the pool is built on the first request

    async def run() -> None:
        async with LinktorAsyncClient(**options) as async_client:
            assert async_client.conversations is not None
        pool = async_client._http._pool
        assert pool is not None and not pool._clients  # no httpx client built yet

    asyncio.run(run())


def test_official_constructor_parameters() -> None:
    sync = inspect.signature(LinktorClient).parameters
    assert [described(p) for p in list(sync.values())[:8]] == [
        "base_url='https://api.linktor.io'",
        "api_key=None",
        "access_token=None",
        "timeout=30.0",
        "max_retries=3",
        "retry_delay=1.0",
        "headers=None",
        "on_token_refresh=None",
    ]
    asynchronous = inspect.signature(LinktorAsyncClient).parameters
    assert [described(p) for p in list(asynchronous.values())[:7]] == [
        "base_url='https://api.linktor.io'",
        "api_key=None",
        "access_token=None",
        "timeout=30.0",
        "max_retries=3",
        "retry_delay=1.0",
        "headers=None",
    ]


def test_exports() -> None:
    assert client_module.__all__ == ["LinktorAsyncClient", "LinktorClient"]
    assert linktor.LinktorClient is LinktorClient
    assert linktor.LinktorAsyncClient is LinktorAsyncClient
    for name in RESOURCE_CLASSES.values():
        assert inspect.isclass(getattr(client_module, name))
        assert inspect.isclass(getattr(client_module, "Async" + name))


# -- the resource tree -----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(RESOURCE_CLASSES))
def test_resource_classes(path: str) -> None:
    sync, asynchronous = LinktorClient(), LinktorAsyncClient()
    assert type(resource(sync, path)).__name__ == RESOURCE_CLASSES[path]
    assert type(resource(asynchronous, path)).__name__ == "Async" + RESOURCE_CLASSES[path]
    assert resource(sync, path)._http is sync._http
    assert resource(asynchronous, path)._http is asynchronous._http
    assert isinstance(sync._http, HttpClient)
    assert isinstance(asynchronous._http, AsyncHttpClient)


@pytest.mark.parametrize(
    ("path", "name"), [(p, m) for p, methods in OFFICIAL.items() for m in methods]
)
def test_official_methods(path: str, name: str) -> None:
    sync_method = getattr(resource(LinktorClient(), path), name)
    async_method = getattr(resource(LinktorAsyncClient(), path), name)
    assert official_part(sync_method) == OFFICIAL[path][name]
    assert official_part(async_method) == OFFICIAL[path][name]
    assert not inspect.iscoroutinefunction(sync_method)
    assert inspect.iscoroutinefunction(async_method)
    assert sync_method.__name__ == async_method.__name__ == name
    assert sync_method.__doc__ == async_method.__doc__


@pytest.mark.parametrize(
    ("path", "name"), [(p, m) for p, methods in ITERATORS.items() for m in methods]
)
def test_iterators(path: str, name: str) -> None:
    args = ["kb"] if name != "iter" else []
    with LinktorClient(dialect="sdk") as client:
        iterator = getattr(resource(client, path), name)(*args, limit=1)
        assert isinstance(iterator, Iterator)
        iterator.close()  # never started: no request

    async def run() -> None:
        async with LinktorAsyncClient() as async_client:
            method = getattr(resource(async_client, path), name)
            assert not inspect.iscoroutinefunction(method)
            agen = method(*args, limit=1)
            assert isinstance(agen, AsyncIterator)
            await agen.aclose()

    asyncio.run(run())


def test_keyword_arguments_are_accepted() -> None:
    send = LinktorClient().conversations.send_text
    bound = inspect.signature(send).bind(conversation_id="c", text="t", idempotency_key="k")
    assert bound.arguments == {"conversation_id": "c", "text": "t", "idempotency_key": "k"}
    query = inspect.signature(LinktorClient().knowledge_bases.query)
    assert query.bind("kb", "q", top_k=3).arguments == {"id": "kb", "query": "q", "top_k": 3}


def test_credentials_and_dialects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKTOR_API_KEY", raising=False)
    client = LinktorClient(api_key="lk_1")
    assert client.dialect is Dialect.SDK
    assert client._http._auth == {"X-API-Key": "lk_1"}
    client.set_access_token("jwt")
    assert client._http._auth == {"Authorization": "Bearer jwt"}
    client.set_api_key("lk_2")
    assert client._http._auth == {"X-API-Key": "lk_2"}
    server = LinktorClient("https://h.example/api/v1/", api_key="lk_1")
    assert server.dialect is Dialect.SERVER
    assert server._http._auth == {"Authorization": "Bearer lk_1"}
    assert LinktorClient("https://h.example/api/v1", dialect="sdk").dialect is Dialect.SDK
    assert LinktorAsyncClient("https://h.example", dialect="server").dialect is Dialect.SERVER
    with pytest.raises(ValueError, match="dialect"):
        LinktorClient(dialect="graphql")
    monkeypatch.setenv("LINKTOR_API_KEY", "lk_env")
    assert LinktorClient()._http.api_key == "lk_env"
    assert LinktorClient(access_token="t")._http.api_key is None
    assert "dialect='server'" in repr(server)


def test_http_client_verbs() -> None:
    for cls in (HttpClient, AsyncHttpClient):
        verbs = {name: official_part(getattr(cls, name)) for name in ("get", "post", "delete")}
        assert verbs == {
            "get": ["self", "path", "params=None"],
            "post": ["self", "path", "data=None", "**"],
            "delete": ["self", "path", "**"],
        }
        assert official_part(cls.upload) == [
            "self",
            "path",
            "file",
            "filename",
            "field_name='file'",
            "additional_data=None",
        ]
    assert inspect.isasyncgenfunction(AsyncHttpClient.stream)


def test_error_classes() -> None:
    unsupported = UnsupportedOperationError("ai.agents.list", "why")
    assert isinstance(unsupported, LinktorError) and isinstance(unsupported, NotImplementedError)
    assert str(unsupported).startswith("[UNSUPPORTED_OPERATION] ai.agents.list is not available")
    invalid = InvalidResponseError("bad", status_code=200, request_id="r")
    assert isinstance(invalid, LinktorError) and invalid.code == "INVALID_RESPONSE"
    assert client_module.UnsupportedOperationError is UnsupportedOperationError
