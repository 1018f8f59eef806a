"""``daguito.knowledge_session``: KB ingestion and search against the emulator on real sockets
(and a scripted server for answers the emulator never gives)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _daguito_client_support import (
    Canned,
    canned_http,
    client_port_hook,
    count_async_clients,
    json_answer,
    pool_ports,
)

import daguito.errors
from daguito.errors import (
    DaguitoConnectionError,
    DaguitoTimeoutError,
    InvalidTokenError,
    RateLimitError,
)
from daguito.knowledge_session import (
    IngestTextInput,
    IngestTextResult,
    KnowledgeError,
    KnowledgeSession,
    KnowledgeSessionOptions,
    SearchHit,
    SearchInput,
    SearchResult,
)
from relaywire.emulator import Emulator

SURFACE = json.loads((Path(__file__).parent / "data" / "daguito_0_4_5_surface.json").read_text())[
    "daguito.knowledge_session"
]["names"]


def fields(cls: type) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out.append((f.name, repr(f.default)))
        elif f.default_factory is not dataclasses.MISSING:
            out.append((f.name, f"factory:{f.default_factory()!r}"))
        else:
            out.append((f.name, None))
    return out


def session(emu: Emulator, key: str = "sk_dgt_demo", **options: Any) -> KnowledgeSession:
    return KnowledgeSession(KnowledgeSessionOptions(emu.url, key, **options))


# -- surface ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "added"),
    [
        (KnowledgeSessionOptions, [("timeout", "60.0"), ("http_client", "None")]),
        (SearchInput, [("metadata_equals", "None")]),
        (IngestTextInput, []),
        (IngestTextResult, [("request_id", "None")]),
        (SearchHit, []),
        (SearchResult, [("request_id", "None")]),
    ],
)
def test_dataclass_fields_match_daguito_sdk_and_additions_come_last(
    cls: type, added: list[tuple[str, str]]
) -> None:
    official = [tuple(pair) for pair in SURFACE[cls.__name__]["fields"]]
    assert fields(cls) == official + added


def test_error_class_is_the_package_one() -> None:
    assert KnowledgeError is daguito.errors.KnowledgeError
    err = KnowledgeError("nope", 404)
    assert (str(err), err.status) == ("nope", 404)


# -- happy paths -----------------------------------------------------------------------------


async def test_ingest_then_search_with_and_without_async_with(emu: Emulator) -> None:
    async with session(emu, default_source_id="src_demo") as kb:
        ingested = await kb.ingest_text(
            IngestTextInput("Llamas hum when they are curious.", {"topic": "llamas"})
        )
    assert ingested == IngestTextResult("src_demo", 1, ingested.token_count)
    assert ingested.token_count > 0

    kb = session(emu)  # no async with: the pooled client
    result = await kb.search(SearchInput("llamas curious", top_k=3))
    assert result.query_original == "llamas curious"
    assert result.query_rewritten is None
    assert result.hits[0].content == "Llamas hum when they are curious."
    assert result.hits[0].metadata == {"topic": "llamas"}
    assert result.hits[0].source_id == "src_demo"
    assert result.hits[0].score > 0
    assert result.raw["chunks"][0]["id"] == result.hits[0].id


async def test_session_keeps_working_after_async_with(emu: Emulator) -> None:
    kb = session(emu)
    async with kb as entered:
        assert entered is kb
    assert (await kb.search(SearchInput("password"))).hits


async def test_metadata_equals_filters_the_search(emu: Emulator) -> None:
    # Bug K2: daguito-sdk's SearchInput had no metadata_equals (the JS SDK's filter).
    kb = session(emu)
    result = await kb.search(SearchInput("days", metadata_equals={"topic": "shipping"}))
    assert result.hits
    assert {hit.metadata["topic"] for hit in result.hits} == {"shipping"}
    unfiltered = await kb.search(SearchInput("days"))
    assert {hit.metadata["topic"] for hit in unfiltered.hits} != {"shipping"}


async def test_rewrite_reports_the_rewritten_query(emu: Emulator) -> None:
    result = await session(emu).search(SearchInput("RESET  Password", enable_rewrite=True))
    assert result.query_rewritten == "reset password"
    assert result.hits[0].metadata == {"topic": "passwords"}


async def test_explicit_source_id_wins_over_the_default(emu: Emulator) -> None:
    kb = session(emu, default_source_id="src_missing")
    result = await kb.ingest_text(IngestTextInput("x y z", source_id="src_demo"))
    assert result.source_id == "src_demo"


async def test_request_bodies() -> None:
    answer = json_answer({"chunks": [], "source_id": "s", "chunk_count": 0, "token_count": 0})
    async with canned_http(lambda seen: answer) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url + "/base/", "sk_dgt_k"))
        await kb.search(SearchInput("only the query"))
        await kb.search(
            SearchInput("q", 3, ["a", "b"], True, False, True, metadata_equals={"k": 1})
        )
        await kb.ingest_text(IngestTextInput("text", source_id="src 1/é"))
        await kb.ingest_text(IngestTextInput("text", {"m": 1}, "s"))
    first, full, plain, with_metadata = server.requests
    assert (first.method, first.path) == ("POST", "/base/api/sdk/knowledge/search")
    assert first.json() == {"query": "only the query"}
    assert full.json() == {
        "query": "q",
        "top_k": 3,
        "source_ids": ["a", "b"],
        "enable_rewrite": True,
        "enable_rerank": False,
        "enable_cache": True,
        "metadata_equals": {"k": 1},
    }
    # Source ids are one percent-encoded path segment.
    assert plain.path == "/base/api/sdk/knowledge/sources/src%201%2F%C3%A9/text"
    assert plain.json() == {"text": "text"}
    assert with_metadata.json() == {"text": "text", "metadata": {"m": 1}}
    for seen in server.requests:
        assert seen.headers["authorization"] == "Bearer sk_dgt_k"
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["x-daguito-client-lang"] == "python"


# -- response parsing (bug K1) -----------------------------------------------------------------


async def test_null_numbers_read_as_zero() -> None:
    # Bug K1: daguito-sdk raised TypeError on a null score, chunk_count or token_count.
    bodies = iter(
        [
            {"chunks": [{"id": "c", "source_id": "s", "content": "t", "score": None}]},
            {"source_id": None, "chunk_count": None, "token_count": None},
        ]
    )
    async with canned_http(lambda seen: json_answer(next(bodies))) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url, "k", "src_default"))
        result = await kb.search(SearchInput("q"))
        ingested = await kb.ingest_text(IngestTextInput("t"))
    assert result.hits == [SearchHit("c", "s", "t", 0.0, {})]
    assert ingested == IngestTextResult("src_default", 0, 0)


async def test_lenient_shapes_read_as_daguito_sdk_read_them() -> None:
    body = {
        "chunks": [
            "not a chunk",
            {"score": 1, "metadata": ["not", "a", "dict"]},
            {"id": 7, "source_id": "s", "content": "c", "score": 0.5, "metadata": {"a": 1}},
        ],
        "query_rewritten": 5,
    }
    async with canned_http(lambda seen: json_answer(body)) as server:
        result = await KnowledgeSession(KnowledgeSessionOptions(server.url, "k")).search(
            SearchInput("the query")
        )
    assert result.hits == [SearchHit("", "", "", 1.0, {}), SearchHit("7", "s", "c", 0.5, {"a": 1})]
    assert (result.query_original, result.query_rewritten) == ("the query", None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "expected JSON object response"),
        ("text", "expected JSON object response"),
        ({"chunks": "many"}, "chunks is str"),
        ({"chunks": [{"score": "high"}]}, "score is 'high'"),
        ({"chunks": [{"score": True}]}, "score is True"),
        ({"chunks": [{"content": {"nested": 1}}]}, "chunk content"),
    ],
)
async def test_wrongly_typed_search_answers_are_knowledge_errors(body: Any, message: str) -> None:
    async with canned_http(lambda seen: json_answer(body)) as server:
        with pytest.raises(KnowledgeError, match=message) as caught:
            await KnowledgeSession(KnowledgeSessionOptions(server.url, "k")).search(
                SearchInput("q")
            )
    assert caught.value.status == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"chunk_count": "3", "token_count": 1}, "chunk_count is '3'"),
        ({"chunk_count": 1, "token_count": 1.5}, "token_count is 1.5"),
        (None, "expected JSON object response"),
    ],
)
async def test_wrongly_typed_ingest_answers_are_knowledge_errors(body: Any, message: str) -> None:
    async with canned_http(lambda seen: json_answer(body)) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url, "k", "s"))
        with pytest.raises(KnowledgeError, match=message):
            await kb.ingest_text(IngestTextInput("t"))


async def test_integral_float_counts_are_accepted() -> None:
    answer = json_answer({"chunk_count": 2.0, "token_count": 9})
    async with canned_http(lambda seen: answer) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url, "k", "s"))
        assert await kb.ingest_text(IngestTextInput("t")) == IngestTextResult("s", 2, 9)


@pytest.mark.parametrize("body", [b"not json", b"{", b""])
async def test_invalid_json_is_a_knowledge_error(body: bytes) -> None:
    async with canned_http(lambda seen: Canned(200, body)) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url, "k", "s"))
        with pytest.raises(KnowledgeError) as caught:
            await kb.ingest_text(IngestTextInput("t"))
    assert caught.value.status == 200


# -- errors ----------------------------------------------------------------------------------


async def test_missing_source_id_fails_before_io() -> None:
    async with canned_http(lambda seen: json_answer({})) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url, "k"))
        with pytest.raises(KnowledgeError, match="source_id required"):
            await kb.ingest_text(IngestTextInput("t"))
    assert server.requests == []


async def test_malformed_inputs_fail_before_io() -> None:
    async with canned_http(lambda seen: json_answer({})) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url, "k", "s"))
        with pytest.raises(TypeError, match="text"):
            await kb.ingest_text(IngestTextInput(b"bytes"))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="query"):
            await kb.search(SearchInput(None))  # type: ignore[arg-type]
    assert server.requests == []


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan")])
def test_bad_timeouts_are_rejected_at_construction(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        KnowledgeSession(KnowledgeSessionOptions("http://127.0.0.1:1", "k", timeout=timeout))


async def test_unknown_key_is_invalid_token(emu: Emulator) -> None:
    with pytest.raises(KnowledgeError) as caught:
        await session(emu, "sk_dgt_nope").search(SearchInput("q"))
    assert isinstance(caught.value, InvalidTokenError)
    assert (caught.value.status, str(caught.value)) == (401, "invalid API key")
    assert caught.value.request_id


async def test_missing_scope_is_invalid_token_403(emu: Emulator) -> None:
    from relaywire.emulator.daguito.state import OrgKey

    def add_read_only_key() -> None:
        emu.daguito.org_keys["sk_dgt_ro"] = OrgKey("sk_dgt_ro", frozenset({"kb:read"}))

    emu.call(add_read_only_key)
    kb = session(emu, "sk_dgt_ro", default_source_id="src_demo")
    with pytest.raises(InvalidTokenError) as caught:
        await kb.ingest_text(IngestTextInput("t"))
    assert isinstance(caught.value, KnowledgeError)
    assert caught.value.status == 403
    assert "kb:write" in str(caught.value)


async def test_unknown_source_is_404(emu: Emulator) -> None:
    with pytest.raises(KnowledgeError) as caught:
        await session(emu).ingest_text(IngestTextInput("t", source_id="src nope"))
    assert caught.value.status == 404
    assert str(caught.value) == "unknown source src nope"


async def test_validation_error_is_400(emu: Emulator) -> None:
    with pytest.raises(KnowledgeError) as caught:
        await session(emu).search(SearchInput("   "))
    assert caught.value.status == 400
    assert not isinstance(caught.value, InvalidTokenError)


async def test_search_retries_a_transient_failure(emu: Emulator) -> None:
    emu.faults.http(503, path_prefix="/api/sdk/knowledge/search", retry_after=0)
    assert (await session(emu).search(SearchInput("password"))).hits


async def test_search_gives_up_after_two_retries(emu: Emulator) -> None:
    emu.faults.http(429, 3, path_prefix="/api/sdk/knowledge/search", retry_after=0)
    with pytest.raises(RateLimitError) as caught:
        await session(emu).search(SearchInput("password"))
    assert isinstance(caught.value, KnowledgeError) and caught.value.status == 429


async def test_ingest_is_never_retried(emu: Emulator) -> None:
    emu.faults.http(503, path_prefix="/api/sdk/knowledge/sources/", retry_after=0)
    kb = session(emu, default_source_id="src_demo")
    with pytest.raises(KnowledgeError) as caught:
        await kb.ingest_text(IngestTextInput("once only"))
    assert (caught.value.status, str(caught.value)) == (503, "injected fault: HTTP 503")
    assert (await kb.ingest_text(IngestTextInput("once only"))).chunk_count == 1


async def test_dropped_connection_is_a_connection_error(emu: Emulator) -> None:
    emu.faults.http(None, path_prefix="/api/sdk/knowledge/sources/")
    with pytest.raises(KnowledgeError) as caught:
        await session(emu, default_source_id="src_demo").ingest_text(IngestTextInput("t"))
    assert isinstance(caught.value, DaguitoConnectionError)
    assert caught.value.status is None


async def test_refused_connection_is_a_connection_error() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    kb = KnowledgeSession(KnowledgeSessionOptions(f"http://127.0.0.1:{port}", "k", "s"))
    with pytest.raises(DaguitoConnectionError) as caught:
        await kb.ingest_text(IngestTextInput("t"))
    assert isinstance(caught.value, KnowledgeError)


async def test_timeout_option_is_a_total_deadline() -> None:
    # Bug K2: daguito-sdk's timeout was fixed at 60 s.
    async with canned_http(lambda seen: Canned(hang=True)) as server:
        kb = KnowledgeSession(KnowledgeSessionOptions(server.url, "k", "s", timeout=0.2))
        with pytest.raises(KnowledgeError) as caught:
            await kb.ingest_text(IngestTextInput("t"))
    assert isinstance(caught.value, DaguitoTimeoutError)


# -- connection reuse ------------------------------------------------------------------------


async def test_calls_outside_async_with_share_the_pooled_connection(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # daguito-sdk built an httpx.AsyncClient per call when used without `async with`.
    ports = pool_ports()
    built = count_async_clients(monkeypatch)
    kb = session(emu, default_source_id="src_demo")
    await kb.search(SearchInput("password"))
    await kb.ingest_text(IngestTextInput("more text"))
    async with session(emu) as other:
        await other.search(SearchInput("billing"))
    assert built[0] == 0
    assert len(ports) == 3 and len(set(ports)) == 1


async def test_injected_client_is_used_and_left_open(emu: Emulator) -> None:
    ports: list[int] = []
    async with httpx.AsyncClient(event_hooks={"response": [client_port_hook(ports)]}) as client:
        async with session(emu, http_client=client) as kb:
            await kb.search(SearchInput("password"))
            await kb.search(SearchInput("billing"))
        assert not client.is_closed
    assert len(ports) == 2 and len(set(ports)) == 1
