"""Daguito admin routes of the emulator (account key auth): account keys, public keys, budgets,
template previews, flow upserts and the dead-code analytics, models and node catalog routes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _emulator_support import bearer, error_of

from relaywire.emulator import Emulator
from relaywire.emulator.daguito.http import parse_template

ACCOUNT_KEY = "dgsk_acc_demo"
ORG_KEY = "sk_dgt_demo"
WEBHOOK_TOKEN = "sk_wh_demo"

ADMIN_ROUTES = [
    ("GET", "/v1/account/api-keys"),
    ("POST", "/v1/account/api-keys"),
    ("DELETE", "/v1/account/api-keys/ak_demo"),
    ("PATCH", "/v1/account/api-keys/ak_demo/budget"),
    ("GET", "/v1/flows/flow_demo/public-keys"),
    ("POST", "/v1/flows/flow_demo/public-keys"),
    ("DELETE", "/v1/flows/flow_demo/public-keys/pk_x"),
    ("PATCH", "/v1/flows/flow_demo/public-keys/pk_x/budget"),
    ("GET", "/v1/account/budget"),
    ("PATCH", "/v1/account/budget"),
    ("POST", "/v1/templates/preview"),
    ("POST", "/v1/flows/upsert-agent"),
    ("POST", "/v1/flows/upsert"),
    ("GET", "/v1/org/analytics"),
    ("GET", "/v1/models"),
    ("GET", "/api/public/nodes/catalog"),
    ("GET", "/api/public/knowledge/bases"),
]


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=10, headers=bearer(ACCOUNT_KEY)) as http:
        yield http


# -- credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_need_an_account_key(client: httpx.Client, method: str, path: str) -> None:
    missing = client.request(method, path, headers={"Authorization": ""}, json={})
    assert missing.status_code == 401
    assert error_of(missing) == "missing bearer"
    unknown = client.request(method, path, headers=bearer("dgsk_acc_unknown"), json={})
    assert unknown.status_code == 401
    assert error_of(unknown) == "invalid account key"
    for not_admin in (ORG_KEY, WEBHOOK_TOKEN):
        denied = client.request(method, path, headers=bearer(not_admin), json={})
        assert denied.status_code == 403
        assert error_of(denied) == "not an admin"


@pytest.mark.parametrize(
    "header", ["Basic abc", "Bearer", "Token abc", "dgsk_acc_demo", "Bearer é"]
)
def test_malformed_authorization_is_401(client: httpx.Client, header: str) -> None:
    response = client.get("/v1/account/budget", headers=[(b"Authorization", header.encode())])
    assert response.status_code == 401
    error_of(response)


def test_bearer_scheme_is_case_insensitive(client: httpx.Client) -> None:
    response = client.get("/v1/account/budget", headers={"Authorization": f"bearer {ACCOUNT_KEY}"})
    assert response.status_code == 200


# -- account keys ---------------------------------------------------------------------------------


def test_list_account_keys(client: httpx.Client) -> None:
    response = client.get("/v1/account/api-keys")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["id"] == "ak_demo"
    assert key["name"] == "Demo account key"
    assert ACCOUNT_KEY.startswith(key["key_prefix"])
    assert key["monthly_budget_micro_usd"] is None
    assert key["current_mtd_micro_usd"] == 0
    assert key["created_at"].endswith("Z")
    assert key["last_used_at"] is not None  # this very request used it
    assert key["revoked_at"] is None
    assert "plaintext" not in key


def test_create_use_and_revoke_an_account_key(client: httpx.Client) -> None:
    response = client.post(
        "/v1/account/api-keys", json={"name": "ci", "monthly_budget_micro_usd": 5_000_000}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["plaintext"].startswith("dgsk_acc_")
    assert created["plaintext"].startswith(created["key_prefix"])
    assert (created["name"], created["monthly_budget_micro_usd"]) == ("ci", 5_000_000)
    assert created["revoked_at"] is None

    new_key = bearer(created["plaintext"])
    listed = client.get("/v1/account/api-keys", headers=new_key).json()["keys"]
    assert [key["id"] for key in listed] == ["ak_demo", created["id"]]
    assert all("plaintext" not in key for key in listed)
    # The new key is an account key everywhere, including as a /h token.
    assert client.post(f"/h/{created['plaintext']}", json={"text": "x"}).json()["ok"] is True

    revoked = client.delete(f"/v1/account/api-keys/{created['id']}")
    assert revoked.status_code == 204
    assert revoked.content == b""
    assert client.get("/v1/account/api-keys", headers=new_key).status_code == 401
    assert client.post(f"/h/{created['plaintext']}", json={"text": "x"}).status_code == 401
    after = {key["id"]: key for key in client.get("/v1/account/api-keys").json()["keys"]}
    assert after[created["id"]]["revoked_at"] is not None
    # Revoking twice is harmless.
    assert client.delete(f"/v1/account/api-keys/{created['id']}").status_code == 204


def test_create_without_budget_leaves_it_null(client: httpx.Client) -> None:
    created = client.post("/v1/account/api-keys", json={"name": "no cap"}).json()
    assert created["monthly_budget_micro_usd"] is None


def test_revoking_the_calling_key_locks_it_out(client: httpx.Client) -> None:
    assert client.delete("/v1/account/api-keys/ak_demo").status_code == 204
    assert client.get("/v1/account/api-keys").status_code == 401


def test_set_account_key_budget(client: httpx.Client) -> None:
    response = client.patch(
        "/v1/account/api-keys/ak_demo/budget", json={"monthly_budget_micro_usd": 1234}
    )
    assert response.status_code == 200
    assert response.json()["monthly_budget_micro_usd"] == 1234
    (listed,) = client.get("/v1/account/api-keys").json()["keys"]
    assert listed["monthly_budget_micro_usd"] == 1234
    cleared = client.patch(
        "/v1/account/api-keys/ak_demo/budget", json={"monthly_budget_micro_usd": None}
    )
    assert cleared.json()["monthly_budget_micro_usd"] is None


def test_account_key_unknown_ids_are_404(client: httpx.Client) -> None:
    assert client.delete("/v1/account/api-keys/ak_nope").status_code == 404
    response = client.patch(
        "/v1/account/api-keys/ak_nope/budget", json={"monthly_budget_micro_usd": 1}
    )
    assert response.status_code == 404
    assert "ak_nope" in error_of(response)


BAD_BUDGETS: list[tuple[Any, str]] = [
    ({}, "monthly_budget_micro_usd required"),
    ({"monthly_budget_micro_usd": -1}, "non-negative integer or null"),
    ({"monthly_budget_micro_usd": "10"}, "non-negative integer or null"),
    ({"monthly_budget_micro_usd": True}, "non-negative integer or null"),
    ({"monthly_budget_micro_usd": 1.5}, "non-negative integer or null"),
    ([1], "JSON object"),
]


@pytest.mark.parametrize(("body", "needle"), BAD_BUDGETS)
def test_budget_patches_validate(client: httpx.Client, body: Any, needle: str) -> None:
    for path in ("/v1/account/api-keys/ak_demo/budget", "/v1/account/budget"):
        response = client.patch(path, json=body)
        assert response.status_code == 400, path
        assert needle in error_of(response)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "name required"),
        ({"name": ""}, "name must not be empty"),
        ({"name": 1}, "name must be a string"),
        ({"name": "x", "monthly_budget_micro_usd": -5}, "monthly_budget_micro_usd must be >= 0"),
        ({"name": "x", "monthly_budget_micro_usd": "5"}, "must be an integer"),
    ],
)
def test_create_account_key_validates(client: httpx.Client, body: Any, needle: str) -> None:
    response = client.post("/v1/account/api-keys", json=body)
    assert response.status_code == 400
    assert needle in error_of(response)


def test_non_json_admin_bodies_are_400(client: httpx.Client) -> None:
    for method, path in [(m, p) for m, p in ADMIN_ROUTES if m in ("POST", "PATCH")]:
        if path.endswith("/pk_x/budget"):
            continue  # the key does not exist: 404 before the body is read
        response = client.request(method, path, content=b"{broken")
        assert response.status_code == 400, path
        assert "not valid JSON" in error_of(response)


# -- public keys ----------------------------------------------------------------------------------


def test_public_key_lifecycle(client: httpx.Client) -> None:
    assert client.get("/v1/flows/flow_demo/public-keys").json() == {"keys": []}
    response = client.post(
        "/v1/flows/flow_demo/public-keys",
        json={"name": "site", "allowed_origins": ["https://example.com"]},
    )
    assert response.status_code == 201
    created = response.json()
    assert created["plaintext"].startswith("dgpk_flow_")
    assert created["plaintext"].startswith(created["key_prefix"])
    assert created["flow_id"] == "flow_demo"
    assert created["allowed_origins"] == ["https://example.com"]
    assert created["monthly_budget_micro_usd"] is None
    assert created["current_mtd_micro_usd"] == 0

    (listed,) = client.get("/v1/flows/flow_demo/public-keys").json()["keys"]
    assert listed["id"] == created["id"]
    assert "plaintext" not in listed

    path = f"/v1/flows/flow_demo/public-keys/{created['id']}"
    budget = client.patch(path + "/budget", json={"monthly_budget_micro_usd": 99})
    assert budget.status_code == 200
    assert budget.json()["monthly_budget_micro_usd"] == 99
    assert client.delete(path).status_code == 204
    (revoked,) = client.get("/v1/flows/flow_demo/public-keys").json()["keys"]
    assert revoked["revoked_at"] is not None
    assert revoked["monthly_budget_micro_usd"] == 99


def test_public_keys_are_per_flow(emu: Emulator, client: httpx.Client) -> None:
    emu.call(emu.daguito.add_webhook, "wh_two", "sk_wh_two")
    created = client.post("/v1/flows/flow_demo/public-keys", json={"name": "a"}).json()
    assert created["allowed_origins"] == []
    assert client.get("/v1/flows/flow_two/public-keys").json() == {"keys": []}
    other = client.delete(f"/v1/flows/flow_two/public-keys/{created['id']}")
    assert other.status_code == 404


def test_public_key_errors(client: httpx.Client) -> None:
    unknown_flow = client.get("/v1/flows/flow_nope/public-keys")
    assert unknown_flow.status_code == 404
    assert "flow_nope" in error_of(unknown_flow)
    assert client.post("/v1/flows/flow_nope/public-keys", json={"name": "a"}).status_code == 404
    assert client.delete("/v1/flows/flow_demo/public-keys/pk_nope").status_code == 404
    patch = client.patch(
        "/v1/flows/flow_demo/public-keys/pk_nope/budget", json={"monthly_budget_micro_usd": 1}
    )
    assert patch.status_code == 404
    for body, needle in [
        ({}, "name required"),
        ({"name": "a", "allowed_origins": "https://x"}, "allowed_origins must be an array"),
        ({"name": "a", "allowed_origins": [1]}, "allowed_origins must be an array"),
        ({"name": "a", "monthly_budget_micro_usd": -1}, "monthly_budget_micro_usd"),
    ]:
        response = client.post("/v1/flows/flow_demo/public-keys", json=body)
        assert response.status_code == 400
        assert needle in error_of(response)


# -- budgets --------------------------------------------------------------------------------------


def test_org_budget(client: httpx.Client) -> None:
    initial = client.get("/v1/account/budget")
    assert initial.status_code == 200
    body = initial.json()
    assert set(body) == {"monthly_budget_micro_usd", "current_mtd_micro_usd", "mtd_reset_at"}
    assert body["monthly_budget_micro_usd"] is None
    assert body["current_mtd_micro_usd"] == 0
    assert body["mtd_reset_at"].endswith("-01T00:00:00.000Z")
    capped = client.patch("/v1/account/budget", json={"monthly_budget_micro_usd": 10_000_000})
    assert capped.json()["monthly_budget_micro_usd"] == 10_000_000
    assert client.get("/v1/account/budget").json()["monthly_budget_micro_usd"] == 10_000_000
    cleared = client.patch("/v1/account/budget", json={"monthly_budget_micro_usd": None})
    assert cleared.json()["monthly_budget_micro_usd"] is None


# -- templates ------------------------------------------------------------------------------------

SOAP = """# SOAP 27
chief_complaint: string: Why the patient came in
age: integer: Age in years
temperature: number: Body temperature in Celsius
smoker: boolean: Whether the patient smokes
visit_date: date: Day of the visit
medications: array: Current medications
severity: enum(low|medium|high): How bad it is
"""


def test_template_preview(client: httpx.Client) -> None:
    response = client.post("/v1/templates/preview", json={"template_body": SOAP, "model": "m-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["template_schema"]["name"] == "SOAP_27"
    names = [
        "chief_complaint",
        "age",
        "temperature",
        "smoker",
        "visit_date",
        "medications",
        "severity",
    ]
    assert body["field_names"] == names
    assert body["field_count"] == 7
    assert body["fields_detail"][0] == {
        "name": "chief_complaint",
        "description": "Why the patient came in",
        "type": "string",
    }
    assert body["fields_detail"][-1]["enum_values"] == ["low", "medium", "high"]
    assert [detail["type"] for detail in body["fields_detail"]] == [
        "string",
        "integer",
        "number",
        "boolean",
        "date",
        "array",
        "enum",
    ]
    schema = body["template_schema"]["schema"]
    assert schema["required"] == names
    assert schema["properties"]["visit_date"] == {
        "type": "string",
        "format": "date",
        "description": "Day of the visit",
    }
    assert schema["properties"]["severity"]["enum"] == ["low", "medium", "high"]
    example = body["example"]
    assert example["transcript_origin"] == "default"
    assert example["model"] == "m-1"
    assert set(example["extracted"]) == set(names)
    assert example["extracted"]["severity"] == "low"
    assert example["transcript"].startswith("Caller: ")
    assert body["warnings"] == []
    assert body["body_hash"] == "sha256:" + hashlib.sha256(SOAP.encode()).hexdigest()
    # Deterministic: the same body gives the same answer.
    again = client.post("/v1/templates/preview", json={"template_body": SOAP, "model": "m-1"})
    assert again.json() == body


def test_template_preview_warnings(client: httpx.Client) -> None:
    template = "\n".join(
        [
            "a: string: ok",
            "a: integer: twice",
            "b: money: what",
            "c: string",
            "no colon",
            "9x: s: b",
        ]
    )
    body = client.post(
        "/v1/templates/preview", json={"template_body": template, "vertical": "clinic"}
    ).json()
    assert body["template_schema"]["name"] == "TEMPLATE"
    assert body["field_names"] == ["a", "b", "c"]
    assert [(w["code"], w.get("field")) for w in body["warnings"]] == [
        ("duplicate_field", "a"),
        ("unknown_type", "b"),
        ("missing_description", "c"),
        ("unparsed_line", None),
        ("invalid_field_name", None),
    ]
    assert all(isinstance(w["message"], str) and w["message"] for w in body["warnings"])
    assert body["fields_detail"][1]["type"] == "string"
    assert body["example"]["transcript"].startswith("[clinic] Caller: ")


def test_template_without_fields_has_no_example(client: httpx.Client) -> None:
    body = client.post("/v1/templates/preview", json={"template_body": "# Only a title"}).json()
    assert body["field_count"] == 0
    assert body["example"] is None
    assert [w["code"] for w in body["warnings"]] == ["no_fields"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"template_body": ""}, "template_body required"),
        ({"template_body": "   \n"}, "template_body required"),
        ({}, "template_body required"),
        ({"template_body": 5}, "template_body must be a string"),
        ({"template_body": "a: string: b", "vertical": 1}, "vertical must be a string"),
        ({"template_body": "a: string: b", "force_regenerate": "y"}, "must be a boolean"),
    ],
)
def test_template_preview_validates(client: httpx.Client, body: Any, needle: str) -> None:
    response = client.post("/v1/templates/preview", json=body)
    assert response.status_code == 400
    assert needle in error_of(response)


def test_empty_template_is_the_documented_error(client: httpx.Client) -> None:
    response = client.post("/v1/templates/preview", json={"template_body": ""})
    assert response.json() == {"error": "template_body required"}


def test_parse_template_directly() -> None:
    name, fields, warnings = parse_template("# Intake form\nx: enum(): nothing\n")
    assert name == "INTAKE_FORM"
    assert fields == [{"name": "x", "description": "nothing", "type": "enum", "enum_values": []}]
    assert [w["code"] for w in warnings] == ["empty_enum"]


# -- flow upserts ---------------------------------------------------------------------------------

AGENT = {
    "slug": "support-bot",
    "name": "Support bot",
    "provider": "emulator",
    "model": "echo-1",
    "system_prompt": "Be helpful.",
    "temperature": 0.2,
    "max_tokens": 512,
    "tools": [{"kind": "handler", "name": "lookup", "config": {"a": 1}}],
    "context_memory_keys": ["plan"],
}


def test_upsert_agent_creates_then_updates(client: httpx.Client) -> None:
    created = client.post("/v1/flows/upsert-agent", json=AGENT)
    assert created.status_code == 201
    first = created.json()
    assert (first["slug"], first["name"], first["version"]) == ("support-bot", "Support bot", 1)
    assert first["created"] is True
    assert first["webhook_token"].startswith("sk_wh_")

    resolved = client.get("/api/sdk/flows?slug=support-bot", headers=bearer(ORG_KEY)).json()
    assert resolved["flow_id"] == first["flow_id"]
    assert resolved["webhook_token"] == first["webhook_token"]
    run = client.post(f"/h/{first['webhook_token']}", json={"text": "hi"}).json()
    assert run["ok"] is True

    updated = client.post("/v1/flows/upsert-agent", json={**AGENT, "name": "Support bot 2"})
    assert updated.status_code == 200
    second = updated.json()
    assert (second["flow_id"], second["webhook_id"]) == (first["flow_id"], first["webhook_id"])
    assert (second["version"], second["created"], second["name"]) == (2, False, "Support bot 2")


def test_upsert_agent_stores_the_spec(emu: Emulator, client: httpx.Client) -> None:
    flow_id = client.post("/v1/flows/upsert-agent", json=AGENT).json()["flow_id"]
    assert emu.daguito.flow_specs[flow_id]["system_prompt"] == "Be helpful."


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"slug": None}, "slug required"),
        ({"slug": "Has Spaces"}, "slug must be lowercase"),
        ({"model": None}, "model required"),
        ({"system_prompt": 3}, "system_prompt must be a string"),
        ({"temperature": "hot"}, "temperature must be a number"),
        ({"max_tokens": -1}, "max_tokens must be >= 0"),
        ({"tools": {}}, "tools must be an array"),
        ({"tools": [{"kind": "handler"}]}, "tools[0] must be an object with a string name"),
        ({"tools": [{"kind": "http", "name": "x"}]}, "tools[0].kind must be 'handler'"),
        ({"tools": [{"name": "x", "config": []}]}, "config must be an object"),
        ({"memory_facts_schema": []}, "memory_facts_schema must be an object"),
        ({"context_memory_keys": [1]}, "context_memory_keys must be an array of strings"),
    ],
)
def test_upsert_agent_validates(client: httpx.Client, change: dict[str, Any], needle: str) -> None:
    body = {key: value for key, value in {**AGENT, **change}.items() if value is not None}
    response = client.post("/v1/flows/upsert-agent", json=body)
    assert response.status_code == 400
    assert needle in error_of(response)


GRAPH = {
    "slug": "triage",
    "name": "Triage",
    "graph": {
        "nodes": [{"id": "in", "type": "input"}, {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "out", "sourceHandle": "default"}],
    },
}


def test_upsert_graph_flow(client: httpx.Client) -> None:
    created = client.post("/v1/flows/upsert", json=GRAPH)
    assert created.status_code == 201
    assert created.json()["version"] == 1
    # The graph may also sit at the top level.
    flat = {"slug": "triage", "name": "Triage", **GRAPH["graph"]}  # type: ignore[dict-item]
    updated = client.post("/v1/flows/upsert", json=flat)
    assert updated.status_code == 200
    assert updated.json()["version"] == 2


@pytest.mark.parametrize(
    ("graph", "needle"),
    [
        ("x", "graph must be an object"),
        ({"nodes": []}, "graph.nodes must be a non-empty array"),
        ({"nodes": [{"type": "input"}]}, "graph.nodes[0] must be an object with a string id"),
        ({"nodes": [{"id": "a"}, {"id": "a"}]}, "duplicate id"),
        ({"nodes": [{"id": "a"}], "edges": {}}, "graph.edges must be an array"),
        ({"nodes": [{"id": "a"}], "edges": [1]}, "graph.edges[0] must be an object"),
        ({"nodes": [{"id": "a"}], "edges": [{"source": "a", "target": "b"}]}, "target"),
    ],
)
def test_upsert_graph_validates(client: httpx.Client, graph: Any, needle: str) -> None:
    response = client.post("/v1/flows/upsert", json={"slug": "g", "name": "G", "graph": graph})
    assert response.status_code == 400
    assert needle in error_of(response)


# -- dead-code admin routes -----------------------------------------------------------------------


def test_models(client: httpx.Client) -> None:
    body = client.get("/v1/models").json()
    assert body["org_id"] == "org_demo"
    assert body["models"]
    for model in body["models"]:
        assert set(model) == {"provider", "id", "displayName", "tier"}


def test_node_catalog(client: httpx.Client) -> None:
    body = client.get("/api/public/nodes/catalog").json()
    categories = {category["id"] for category in body["categories"]}
    assert body["nodes"]
    assert all(node["category"] in categories for node in body["nodes"])


def test_org_analytics_counts_requests(client: httpx.Client) -> None:
    client.post(f"/h/{WEBHOOK_TOKEN}", json={"text": "a"})
    client.post(f"/h/{WEBHOOK_TOKEN}", json={"text": "b"})
    client.patch("/v1/account/api-keys/ak_demo/budget", json={"monthly_budget_micro_usd": 7})
    body = client.get("/v1/org/analytics").json()
    assert body["org_id"] == "org_demo"
    assert body["llm_today"] == {"requests": 0, "tokens": 0, "cost_usd": 0.0}
    assert body["messages_today"] == {"inbound": {"webhook": 2}, "outbound_last_24h": 0}
    by_path = body["http_today"]["by_path"]
    assert by_path["/h/{token}"] == 2
    assert by_path["/v1/org/analytics"] == 1
    assert body["http_today"]["total"] == sum(by_path.values())
    assert body["budget"] == {
        "org_cap_micro_usd": None,
        "org_mtd_micro_usd": 0,
        "key_cap_micro_usd": 7,
        "key_mtd_micro_usd": 0,
    }


def test_unknown_route_and_method_are_json_404(client: httpx.Client) -> None:
    for method, path in [("GET", "/v1/nope"), ("PUT", "/v1/account/budget")]:
        response = client.request(method, path)
        assert response.status_code == 404
        assert "no route" in error_of(response)
