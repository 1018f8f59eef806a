"""Daguito knowledge routes of the emulator: the SDK data plane (``/api/sdk/knowledge``), flow
resolution (``/api/sdk/flows``) and the admin knowledge routes (``/api/public/knowledge``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _emulator_support import bearer, error_of

from relaywire.emulator import Emulator
from relaywire.emulator._search import count_tokens
from relaywire.emulator.daguito.state import OrgKey

ORG_KEY = "sk_dgt_demo"
ACCOUNT_KEY = "dgsk_acc_demo"

PHOTOSYNTHESIS = (
    "Photosynthesis is how green plants turn sunlight, water and carbon dioxide into glucose "
    "and oxygen. Chlorophyll in the chloroplasts absorbs the light that drives the reaction."
)


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=10) as http:
        yield http


def ingest(
    client: httpx.Client, text: str, source: str = "src_demo", token: str = ORG_KEY, **extra: Any
) -> httpx.Response:
    return client.post(
        f"/api/sdk/knowledge/sources/{source}/text",
        json={"text": text, **extra},
        headers=bearer(token),
    )


def search(client: httpx.Client, body: Any, token: str = ORG_KEY) -> httpx.Response:
    return client.post("/api/sdk/knowledge/search", json=body, headers=bearer(token))


def add_key(emu: Emulator, key: str, *scopes: str) -> None:
    emu.daguito.org_keys[key] = OrgKey(key, frozenset(scopes))


# -- SDK data plane -------------------------------------------------------------------------------


def test_a_fresh_emulator_answers_a_search(client: httpx.Client) -> None:
    response = search(client, {"query": "How do I reset my password?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"chunks", "query_original", "query_rewritten"}
    assert body["query_original"] == "How do I reset my password?"
    assert body["query_rewritten"] is None
    top = body["chunks"][0]
    assert set(top) == {"id", "source_id", "content", "score", "metadata"}
    assert top["source_id"] == "src_demo"
    assert top["metadata"] == {"topic": "passwords"}
    assert "reset link" in top["content"]
    assert 0 < top["score"] <= 1


def test_ingested_text_is_the_top_hit_for_its_topic(client: httpx.Client) -> None:
    response = ingest(client, PHOTOSYNTHESIS, metadata={"doc": "biology"})
    assert response.status_code == 200
    assert response.json() == {
        "source_id": "src_demo",
        "chunk_count": 1,
        "token_count": count_tokens(PHOTOSYNTHESIS),
    }
    chunks = search(client, {"query": "how do plants use sunlight"}).json()["chunks"]
    assert chunks[0]["content"] == PHOTOSYNTHESIS
    assert chunks[0]["metadata"] == {"doc": "biology"}
    # The seeded topics still win their own queries.
    shipping = search(client, {"query": "express delivery tracking"}).json()["chunks"]
    assert shipping[0]["metadata"] == {"topic": "shipping"}


def test_long_text_is_chunked(client: httpx.Client) -> None:
    text = "\n\n".join(f"Paragraph {n} talks about topic{n} at length. " * 8 for n in range(10))
    body = ingest(client, text).json()
    assert body["chunk_count"] > 3
    assert body["token_count"] == count_tokens(text)
    hit = search(client, {"query": "topic7", "top_k": 1}).json()["chunks"]
    assert len(hit) == 1
    assert "topic7" in hit[0]["content"]


def test_search_top_k_and_no_match(client: httpx.Client) -> None:
    three = search(client, {"query": "the email link phone card order", "top_k": 3}).json()
    assert len(three["chunks"]) == 3
    scores = [chunk["score"] for chunk in three["chunks"]]
    assert scores == sorted(scores, reverse=True)
    assert search(client, {"query": "zzyzx quux"}).json()["chunks"] == []


def test_search_rewrite_is_the_normalised_query(client: httpx.Client) -> None:
    body = search(client, {"query": "  Reset, PASSWORD?! ", "enable_rewrite": True}).json()
    assert body["query_original"] == "  Reset, PASSWORD?! "
    assert body["query_rewritten"] == "reset password"
    assert body["chunks"][0]["metadata"] == {"topic": "passwords"}


def test_search_accepts_every_flag_python_and_js_send(client: httpx.Client) -> None:
    body = {
        "query": "refund",
        "top_k": 2,
        "source_ids": ["src_demo"],
        "enable_rewrite": False,
        "enable_rerank": True,
        "enable_cache": True,
        "metadata_equals": {"topic": "billing"},
    }
    response = search(client, body)
    assert response.status_code == 200
    chunks = response.json()["chunks"]
    assert [chunk["metadata"] for chunk in chunks] == [{"topic": "billing"}]


def test_search_metadata_equals_filters(client: httpx.Client) -> None:
    ingest(client, "Refunds for gadgets take ten days.", metadata={"topic": "gadgets"})
    body = {"query": "refunds", "metadata_equals": {"topic": "gadgets"}}
    chunks = search(client, body).json()["chunks"]
    assert [chunk["content"] for chunk in chunks] == ["Refunds for gadgets take ten days."]


def test_search_source_ids_filter(client: httpx.Client) -> None:
    source = client.post(
        "/api/public/knowledge/sources",
        json={"org_id": "org_demo", "name": "Plants"},
        headers=bearer(ACCOUNT_KEY),
    ).json()["source"]
    assert ingest(client, PHOTOSYNTHESIS, source=source["id"]).status_code == 200
    only_new = search(client, {"query": "sunlight password", "source_ids": [source["id"]]}).json()
    assert {chunk["source_id"] for chunk in only_new["chunks"]} == {source["id"]}
    only_demo = search(client, {"query": "sunlight password", "source_ids": ["src_demo"]}).json()
    assert {chunk["source_id"] for chunk in only_demo["chunks"]} == {"src_demo"}
    nothing = search(client, {"query": "sunlight", "source_ids": ["src_unknown"]}).json()
    assert nothing["chunks"] == []


def test_ingest_into_an_unknown_source_is_404(client: httpx.Client) -> None:
    response = ingest(client, "text", source="src_nope")
    assert response.status_code == 404
    assert "src_nope" in error_of(response)


def test_knowledge_credentials(emu: Emulator, client: httpx.Client) -> None:
    add_key(emu, "sk_dgt_reader", "kb:read")
    add_key(emu, "sk_dgt_writer", "kb:write")
    missing = client.post("/api/sdk/knowledge/search", json={"query": "x"})
    assert missing.status_code == 401
    assert error_of(missing) == "missing bearer"
    assert search(client, {"query": "x"}, token="sk_dgt_unknown").status_code == 401
    assert search(client, {"query": "x"}, token=ACCOUNT_KEY).status_code == 401
    assert search(client, {"query": "x"}, token="sk_wh_demo").status_code == 401
    # A reader searches but cannot ingest; a writer ingests but cannot search.
    assert search(client, {"query": "x"}, token="sk_dgt_reader").status_code == 200
    denied = ingest(client, "text", token="sk_dgt_reader")
    assert denied.status_code == 403
    assert "kb:write" in error_of(denied)
    assert ingest(client, "text", token="sk_dgt_writer").status_code == 200
    denied = search(client, {"query": "x"}, token="sk_dgt_writer")
    assert denied.status_code == 403
    assert "kb:read" in error_of(denied)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "query required"),
        ({"query": ""}, "query must not be empty"),
        ({"query": 5}, "query must be a string"),
        ({"query": "x", "top_k": 0}, "top_k must be between 1 and 100"),
        ({"query": "x", "top_k": 101}, "top_k must be between 1 and 100"),
        ({"query": "x", "top_k": "3"}, "top_k must be an integer"),
        ({"query": "x", "source_ids": "src_demo"}, "source_ids must be an array of strings"),
        ({"query": "x", "source_ids": [1]}, "source_ids must be an array of strings"),
        ({"query": "x", "enable_rewrite": "yes"}, "enable_rewrite must be a boolean"),
        ({"query": "x", "enable_rerank": 1}, "enable_rerank must be a boolean"),
        ({"query": "x", "enable_cache": "no"}, "enable_cache must be a boolean"),
        ({"query": "x", "metadata_equals": []}, "metadata_equals must be an object"),
        (["x"], "JSON object"),
    ],
)
def test_search_validates_the_body(client: httpx.Client, body: Any, needle: str) -> None:
    response = search(client, body)
    assert response.status_code == 400
    assert needle in error_of(response)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "text required"),
        ({"text": "   "}, "text must not be empty"),
        ({"text": 5}, "text must be a string"),
        ({"text": "x", "metadata": ["a"]}, "metadata must be an object"),
    ],
)
def test_ingest_validates_the_body(client: httpx.Client, body: Any, needle: str) -> None:
    response = client.post(
        "/api/sdk/knowledge/sources/src_demo/text", json=body, headers=bearer(ORG_KEY)
    )
    assert response.status_code == 400
    assert needle in error_of(response)


@pytest.mark.parametrize("content", [b"", b"{oops", b"null"])
def test_knowledge_non_json_bodies_are_400(client: httpx.Client, content: bytes) -> None:
    for path in ("/api/sdk/knowledge/search", "/api/sdk/knowledge/sources/src_demo/text"):
        response = client.post(path, content=content, headers=bearer(ORG_KEY))
        assert response.status_code == 400
        error_of(response)


# -- flow resolution ------------------------------------------------------------------------------


def test_resolve_flow_by_slug(client: httpx.Client) -> None:
    response = client.get("/api/sdk/flows", params={"slug": "demo"}, headers=bearer(ORG_KEY))
    assert response.status_code == 200
    assert response.json() == {
        "flow_id": "flow_demo",
        "slug": "demo",
        "name": "Demo flow",
        "webhook_id": "wh_demo",
        "webhook_token": "sk_wh_demo",
    }


def test_resolved_token_runs_the_flow(emu: Emulator, client: httpx.Client) -> None:
    emu.call(emu.daguito.add_webhook, "wh_sales", "sk_wh_sales", slug="sales", name="Sales")
    resolved = client.get("/api/sdk/flows?slug=sales", headers=bearer(ORG_KEY)).json()
    assert resolved["webhook_id"] == "wh_sales"
    run = client.post(f"/h/{resolved['webhook_token']}", json={"text": "hi"}).json()
    assert run["ok"] is True


def test_resolve_flow_errors(emu: Emulator, client: httpx.Client) -> None:
    add_key(emu, "sk_dgt_kb_only", "kb:read", "kb:write")
    unknown = client.get("/api/sdk/flows?slug=nope", headers=bearer(ORG_KEY))
    assert unknown.status_code == 404
    assert "nope" in error_of(unknown)
    for url in ("/api/sdk/flows", "/api/sdk/flows?slug=", "/api/sdk/flows?slug=%20"):
        missing = client.get(url, headers=bearer(ORG_KEY))
        assert missing.status_code == 400
        assert error_of(missing) == "slug required"
    scope = client.get("/api/sdk/flows?slug=demo", headers=bearer("sk_dgt_kb_only"))
    assert scope.status_code == 403
    assert "flow:run" in error_of(scope)
    assert client.get("/api/sdk/flows?slug=demo").status_code == 401
    assert client.get("/api/sdk/flows?slug=demo", headers=bearer("sk_dgt_x")).status_code == 401


# -- admin knowledge ------------------------------------------------------------------------------


def admin(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return client.request(
        method, "/api/public/knowledge" + path, headers=bearer(ACCOUNT_KEY), **kwargs
    )


def test_list_bases_and_sources(client: httpx.Client) -> None:
    bases = admin(client, "GET", "/bases").json()["bases"]
    assert [(base["id"], base["org_id"]) for base in bases] == [("kb_demo", "org_demo")]
    sources = admin(client, "GET", "/sources").json()["sources"]
    assert len(sources) == 1
    demo = sources[0]
    assert (demo["id"], demo["org_id"], demo["base_id"]) == ("src_demo", "org_demo", "kb_demo")
    assert demo["chunk_count"] == 4
    assert {"name", "created_at"} <= set(demo)
    assert admin(client, "GET", "/sources?org_id=org_demo").json()["sources"] == sources
    assert admin(client, "GET", "/sources?org_id=org_other").json() == {"sources": []}
    assert admin(client, "GET", "/bases?org_id=org_other").json() == {"bases": []}


def test_create_source(client: httpx.Client) -> None:
    response = admin(
        client, "POST", "/sources", json={"org_id": "org_demo", "name": "FAQ", "description": "d"}
    )
    assert response.status_code == 201
    source = response.json()["source"]
    assert source["id"].startswith("src_")
    assert (source["name"], source["base_id"], source["chunk_count"]) == ("FAQ", "kb_demo", 0)
    assert source["description"] == "d"
    listed = admin(client, "GET", "/sources").json()["sources"]
    assert source["id"] in {item["id"] for item in listed}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"name": "x"}, 400, "org_id required"),
        ({"org_id": "org_demo"}, 400, "name required"),
        ({"org_id": "org_demo", "name": 3}, 400, "name must be a string"),
        ({"org_id": "org_other", "name": "x"}, 403, "org_id does not match"),
        ({"org_id": "org_demo", "name": "x", "base_id": "kb_nope"}, 404, "kb_nope"),
    ],
)
def test_create_source_errors(
    client: httpx.Client, body: dict[str, Any], status: int, needle: str
) -> None:
    response = admin(client, "POST", "/sources", json=body)
    assert response.status_code == status
    assert needle in error_of(response)


def test_ingest_url_is_a_completed_job(client: httpx.Client) -> None:
    url = "https://docs.example.com/guides/warranty-claims?lang=en"
    response = admin(
        client, "POST", "/sources/src_demo/url", json={"url": url, "metadata": {"kind": "web"}}
    )
    assert response.status_code == 202
    job = response.json()
    assert job["job_id"].startswith("job_")
    assert (job["status"], job["source_id"], job["org_id"]) == ("completed", "src_demo", "org_demo")
    assert job["progress"] == 1.0
    assert job["error"] is None
    assert job["result"]["chunk_count"] == 1
    assert job["result"]["url"] == url
    assert admin(client, "GET", f"/ingest-jobs/{job['job_id']}").json() == job
    hits = search(client, {"query": "warranty claims"}).json()["chunks"]
    assert hits[0]["metadata"] == {"kind": "web", "url": url}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "url required"),
        ({"url": "ftp://example.com/x"}, "absolute http(s) URL"),
        ({"url": "/relative"}, "absolute http(s) URL"),
        ({"url": 5}, "url must be a string"),
        ({"url": "https://example.com", "metadata": 1}, "metadata must be an object"),
    ],
)
def test_ingest_url_validates(client: httpx.Client, body: Any, needle: str) -> None:
    response = admin(client, "POST", "/sources/src_demo/url", json=body)
    assert response.status_code == 400
    assert needle in error_of(response)


def test_admin_ingest_text_answers_both_shapes(client: httpx.Client) -> None:
    response = admin(client, "POST", "/sources/src_demo/text", json={"text": PHOTOSYNTHESIS})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["source_id"] == "src_demo"
    assert body["chunk_count"] == body["result"]["chunk_count"] == 1
    assert body["token_count"] == body["result"]["token_count"] == count_tokens(PHOTOSYNTHESIS)
    assert admin(client, "GET", f"/ingest-jobs/{body['job_id']}").status_code == 200


def test_admin_unknown_ids_are_404(client: httpx.Client) -> None:
    assert admin(client, "GET", "/ingest-jobs/job_nope").status_code == 404
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/sources/src_nope/text", {"json": {"text": "x"}}),
        ("POST", "/sources/src_nope/url", {"json": {"url": "https://a.b"}}),
        ("DELETE", "/sources/src_nope/chunks?metadata_key=a&metadata_value=b", {}),
        ("PATCH", "/sources/src_nope/chunks", {"json": {"match": {}, "patch": {}}}),
    ]
    for method, path, kwargs in cases:
        response = admin(client, method, path, **kwargs)
        assert response.status_code == 404, (method, path)
        assert "src_nope" in error_of(response)


def test_delete_chunks_by_metadata(client: httpx.Client) -> None:
    admin(
        client,
        "POST",
        "/sources/src_demo/text",
        json={"text": PHOTOSYNTHESIS, "metadata": {"n": 1}},
    )
    params = {"metadata_key": "topic", "metadata_value": "billing"}
    response = admin(client, "DELETE", "/sources/src_demo/chunks", params=params)
    assert response.status_code == 200
    assert response.json() == {"deleted_count": 1}
    assert search(client, {"query": "invoices refunds"}).json()["chunks"] == []
    # Non-string metadata values match their JSON text.
    numeric = admin(client, "DELETE", "/sources/src_demo/chunks?metadata_key=n&metadata_value=1")
    assert numeric.json() == {"deleted_count": 1}
    again = admin(client, "DELETE", "/sources/src_demo/chunks?metadata_key=n&metadata_value=1")
    assert again.json() == {"deleted_count": 0}
    remaining = admin(client, "GET", "/sources").json()["sources"][0]["chunk_count"]
    assert remaining == 3


def test_delete_chunks_needs_both_parameters(client: httpx.Client) -> None:
    for query in (
        "",
        "?metadata_key=topic",
        "?metadata_value=x",
        "?metadata_key=&metadata_value=x",
    ):
        response = admin(client, "DELETE", "/sources/src_demo/chunks" + query)
        assert response.status_code == 400
        assert error_of(response) == "metadata_key and metadata_value required"


def test_patch_chunks_metadata(client: httpx.Client) -> None:
    body = {
        "match": {"metadata_key": "topic", "metadata_value": "shipping"},
        "patch": {"region": "eu", "topic": None},
    }
    response = admin(client, "PATCH", "/sources/src_demo/chunks", json=body)
    assert response.status_code == 200
    assert response.json() == {"updated_count": 1}
    found = search(client, {"query": "delivery", "metadata_equals": {"region": "eu"}}).json()
    assert [chunk["metadata"] for chunk in found["chunks"]] == [{"region": "eu"}]
    none = admin(
        client,
        "PATCH",
        "/sources/src_demo/chunks",
        json={"match": {"metadata_key": "topic", "metadata_value": "nope"}, "patch": {"a": 1}},
    )
    assert none.json() == {"updated_count": 0}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "match and patch required"),
        ({"match": {"metadata_key": "a", "metadata_value": 1}}, "match and patch required"),
        ({"match": [], "patch": {}}, "match must be an object"),
        ({"match": {"metadata_value": 1}, "patch": {}}, "metadata_key required"),
        ({"match": {"metadata_key": "a"}, "patch": {}}, "metadata_value required"),
        ({"match": {"metadata_key": "a", "metadata_value": 1}, "patch": 3}, "patch must be"),
    ],
)
def test_patch_chunks_validates(client: httpx.Client, body: Any, needle: str) -> None:
    response = admin(client, "PATCH", "/sources/src_demo/chunks", json=body)
    assert response.status_code == 400
    assert needle in error_of(response)


def test_admin_knowledge_credentials(client: httpx.Client) -> None:
    assert client.get("/api/public/knowledge/sources").status_code == 401
    wrong = client.get("/api/public/knowledge/sources", headers=bearer("dgsk_acc_wrong"))
    assert wrong.status_code == 401
    org = client.get("/api/public/knowledge/bases", headers=bearer(ORG_KEY))
    assert org.status_code == 403
    assert error_of(org) == "not an admin"
