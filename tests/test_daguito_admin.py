"""The Daguito admin client (``daguito.client.Daguito`` and its services) over real sockets.

Most tests talk to the emulator. Responses the emulator never sends (wrong-typed bodies, missing
fields, a ``"message"`` error field, a server that does not answer) come from ``CannedServer``,
a small HTTP/1.1 server on 127.0.0.1 that answers what the test queued and records each request.

Tests that pin a fix of daguito-sdk 0.4.5 say which bug (spec/daguito.md section 6.2) in a
comment; each of them fails against daguito-sdk.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

import relaywire.transport.http as transport_http
from daguito._admin_http import SharedClient, request_json
from daguito._http import POOL
from daguito.admin_account_keys import AccountKeysService, make_client_factory
from daguito.admin_analytics import AnalyticsService, OrgAnalytics
from daguito.admin_budgets import BudgetsService
from daguito.admin_flow_types import (
    AgentFlowSpec,
    FlowGraph,
    FlowGraphEdge,
    FlowGraphNode,
    FlowSpec,
    FlowToolRef,
    UpsertResult,
)
from daguito.admin_flows import FlowsService, ResolvedFlowWebhook
from daguito.admin_knowledge import AdminKnowledgeService, IngestJobStatus
from daguito.admin_nodes import NodesService
from daguito.admin_public_keys import PublicKeysService
from daguito.admin_types import (
    AccountKey,
    AccountKeyCreated,
    OrgBudget,
    PublicKey,
    PublicKeyCreated,
    parse_account_key,
    parse_public_key,
)
from daguito.client import DEFAULT_API_URL, Daguito
from daguito.errors import (
    DaguitoConnectionError,
    DaguitoError,
    DaguitoTimeoutError,
    InvalidTokenError,
    RateLimitError,
)
from daguito.models import Model, ModelsService
from daguito.templates import TemplatePreviewResult, TemplatesService
from relaywire.emulator import Emulator

ACCOUNT_KEY = "dgsk_acc_demo"
ORG_KEY = "sk_dgt_demo"
WEBHOOK_TOKEN = "sk_wh_demo"
FLOW_ID = "flow_demo"
SOURCE_ID = "src_demo"
ORG_ID = "org_demo"


# -- a canned HTTP server --------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    target: str  # the raw request target, as sent (percent-encoding intact)
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}

# (status, headers, body); None holds the request without ever answering.
Reply = tuple[int, dict[str, str], bytes] | None


@dataclass
class CannedServer:
    """Answers queued replies in order (``{}`` with 200 when the queue is empty), keep-alive."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0
    url: str = ""
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def reply(
        self, status: int = 200, body: Any = b"", headers: dict[str, str] | None = None
    ) -> None:
        if not isinstance(body, bytes):
            body = orjson.dumps(body)
        self.replies.append((status, headers or {}, body))

    def stall(self) -> None:
        self.replies.append(None)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                request_line, *lines = head.split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Recorded(method, target, headers, body))
                reply = self.replies.pop(0) if self.replies else (200, {}, b"{}")
                if reply is None:
                    await reader.read()  # until the client gives up
                    return
                status, extra, payload = reply
                phrase = _PHRASES.get(status, "Other")
                lines_out = [f"HTTP/1.1 {status} {phrase}", f"Content-Length: {len(payload)}"]
                lines_out += [f"{name}: {value}" for name, value in extra.items()]
                writer.write(("\r\n".join(lines_out) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def canned() -> AsyncIterator[CannedServer]:
    server = CannedServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def admin(emu: Emulator) -> AsyncIterator[Daguito]:
    async with Daguito(emu.url, ACCOUNT_KEY) as client:
        yield client


@pytest.fixture
async def org(emu: Emulator) -> AsyncIterator[Daguito]:
    """A client with the org key, which ``flows.resolve_webhook`` needs."""
    async with Daguito(emu.url, ORG_KEY) as client:
        yield client


@pytest.fixture
async def canned_client(canned: CannedServer) -> AsyncIterator[Daguito]:
    async with Daguito(canned.url, "key_canned", max_retries=0) as client:
        yield client


class RecordingAsyncio:
    """Stands in for ``asyncio`` inside relaywire.transport.http: records retry sleeps and
    skips them, so tests see the delays a retry asked for without waiting or timing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.delays.append(delay)
        await asyncio.sleep(0)
        return result


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> RecordingAsyncio:
    recorder = RecordingAsyncio()
    monkeypatch.setattr(transport_http, "asyncio", recorder)
    return recorder


def requests_reached(emu: Emulator) -> int:
    """How many requests reached an emulator route so far."""
    return sum(emu.daguito.http_by_path.values())


# -- construction ---------------------------------------------------------------------------------


def test_constructing_does_no_io_and_needs_no_loop() -> None:
    # Nothing listens on port 9; construction must not notice (no connection, no loop needed).
    client = Daguito("http://127.0.0.1:9", "k")
    assert client.api_url == "http://127.0.0.1:9"
    assert client.api_key == "k"
    assert client._owned is None
    for name in ("account_keys", "public_keys", "budgets", "flows", "templates"):
        assert getattr(client, name) is not None


def test_positional_order_is_api_url_then_api_key() -> None:
    client = Daguito("https://example.test", "secret")
    assert (client.api_url, client.api_key) == ("https://example.test", "secret")


def test_api_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGUITO_API_URL", raising=False)
    assert Daguito(api_key="k").api_url == DEFAULT_API_URL == "https://ingest.daguito.com"
    monkeypatch.setenv("DAGUITO_API_URL", "https://env.example")
    assert Daguito(api_key="k").api_url == "https://env.example"
    assert Daguito("https://explicit.example", "k").api_url == "https://explicit.example"


def test_api_key_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGUITO_API_KEY", "dgsk_acc_env")
    assert Daguito().api_key == "dgsk_acc_env"
    assert Daguito(api_key="dgsk_acc_arg").api_key == "dgsk_acc_arg"


def test_api_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGUITO_API_KEY", raising=False)
    with pytest.raises(ValueError, match=r"^api_key is required$"):
        Daguito()
    with pytest.raises(ValueError, match=r"^api_key is required$"):
        Daguito("https://example.test", "")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": 0}, ValueError),
        ({"timeout": -1.0}, ValueError),
        ({"timeout": "60"}, TypeError),
        ({"max_retries": -1}, ValueError),
        ({"max_retries": True}, ValueError),
        ({"http_client": object()}, TypeError),
    ],
)
def test_invalid_options_are_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        Daguito("https://example.test", "k", **kwargs)


def test_repr_does_not_show_the_key() -> None:
    assert "secret" not in repr(Daguito("https://example.test", "secret"))


def test_dead_modules_are_wired_into_the_client() -> None:
    # Bug D3: daguito-sdk shipped these services but no client attribute reached them.
    client = Daguito("https://example.test", "k")
    assert isinstance(client.analytics, AnalyticsService)
    assert isinstance(client.knowledge, AdminKnowledgeService)
    assert isinstance(client.nodes, NodesService)
    assert isinstance(client.models, ModelsService)
    assert callable(client.flows.upsert_agent)
    assert callable(client.flows.upsert_flow)


# -- client lifecycle and connection reuse ---------------------------------------------------------


async def test_async_with_owns_a_client_and_closes_it(emu: Emulator) -> None:
    client = Daguito(emu.url, ACCOUNT_KEY)
    async with client as entered:
        assert entered is client
        owned = client._owned
        assert owned is not None
        await client.budgets.get_org()
        assert client._client() is owned
    assert owned.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.budgets.get_org()
    async with client:  # entering again opens a new client
        assert (await client.budgets.get_org()).current_mtd_micro_usd == 0


async def test_all_services_share_one_connection(canned: CannedServer) -> None:
    # Bug D1: daguito-sdk opened a new AsyncClient (and connection) for every call.
    canned.reply(200, {"keys": []})
    canned.reply(200, {"monthly_budget_micro_usd": None, "current_mtd_micro_usd": 0})
    canned.reply(200, {"categories": [], "nodes": []})
    canned.reply(204)
    canned.reply(200, {"monthly_budget_micro_usd": 5, "current_mtd_micro_usd": 0})
    async with Daguito(canned.url, "k") as client:
        await client.account_keys.list()
        await client.budgets.get_org()
        await client.nodes.get_catalog()
        await client.account_keys.revoke("ak_1")
        await client.budgets.set_org(5)
    assert [r.method for r in canned.requests] == ["GET", "GET", "GET", "DELETE", "PATCH"]
    assert canned.connections == 1


async def test_without_async_with_the_package_pool_is_used(canned: CannedServer) -> None:
    client = Daguito(canned.url, "k")
    for _ in range(3):
        canned.reply(200, {"categories": [], "nodes": []})
        await client.nodes.get_catalog()
    assert client._client() is POOL.get()
    assert canned.connections == 1


async def test_an_injected_http_client_is_used_and_left_open(canned: CannedServer) -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [hook]}) as http_client:
        async with Daguito(canned.url, "k", http_client=http_client) as client:
            assert client._owned is None
            canned.reply(200, {"categories": [], "nodes": []})
            canned.reply(200, {"models": []})
            await client.nodes.get_catalog()
            await client.models.list()
        assert not http_client.is_closed
        assert seen == ["/api/public/nodes/catalog", "/v1/models"]


async def test_requests_carry_auth_client_and_custom_headers(canned: CannedServer) -> None:
    async with Daguito(canned.url, "dgsk_acc_x", headers={"X-Trace": "t-1"}) as client:
        await client.budgets.set_org(7)
    (request,) = canned.requests
    assert request.headers["authorization"] == "Bearer dgsk_acc_x"
    assert request.headers["x-trace"] == "t-1"
    assert request.headers["x-daguito-client-lang"] == "python"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"monthly_budget_micro_usd": 7}


async def test_the_timeout_bounds_a_call(canned: CannedServer) -> None:
    canned.stall()
    async with Daguito(canned.url, "k", timeout=0.3, max_retries=0) as client:
        with pytest.raises(DaguitoTimeoutError) as caught:
            await client.budgets.get_org()
    assert isinstance(caught.value, DaguitoError)
    assert caught.value.status is None


async def test_a_refused_connection_is_a_connection_error() -> None:
    # Bind and release a port, so that nothing listens on it.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with Daguito(f"http://127.0.0.1:{port}", "k", max_retries=0) as client:
        with pytest.raises(DaguitoConnectionError) as caught:
            await client.budgets.get_org()
    assert isinstance(caught.value, DaguitoError)
    assert not isinstance(caught.value, InvalidTokenError)


async def test_services_keep_the_zero_argument_factory_contract(emu: Emulator) -> None:
    # Called directly with daguito-sdk's factory, a service uses one new client per call and
    # closes it, as daguito-sdk did.
    made: list[httpx.AsyncClient] = []
    factory = make_client_factory(ACCOUNT_KEY)

    def recording_factory() -> httpx.AsyncClient:
        made.append(factory())
        return made[-1]

    service = AccountKeysService(emu.url, recording_factory)
    keys = await service.list()
    assert [key.id for key in keys] == ["ak_demo"]
    updated = await service.set_budget("ak_demo", 99)
    assert updated.monthly_budget_micro_usd == 99
    assert len(made) == 3  # list, then PATCH and GET for set_budget
    assert all(client.is_closed for client in made)


def test_make_client_factory_builds_an_authorized_client() -> None:
    client = make_client_factory("dgsk_acc_q")()
    try:
        assert client.headers["authorization"] == "Bearer dgsk_acc_q"
        assert client.headers["content-type"] == "application/json"
        assert "x-daguito-client" in client.headers
        assert client.timeout == httpx.Timeout(60.0)
    finally:
        asyncio.run(client.aclose())


async def test_shared_client_lends_without_closing(canned: CannedServer) -> None:
    async with httpx.AsyncClient() as shared:
        lender = SharedClient(
            lambda: shared, headers={}, timeout=5.0, retry=transport_http.RetryPolicy()
        )
        async with lender() as lent:
            assert lent is shared
        assert not shared.is_closed
        # Services built on it send on the shared client.
        assert await BudgetsService(canned.url, lender).get_org() == OrgBudget(None, 0, None)


# -- account keys ----------------------------------------------------------------------------------


async def test_account_keys_list(admin: Daguito) -> None:
    (key,) = await admin.account_keys.list()
    assert isinstance(key, AccountKey)
    assert (key.id, key.name, key.revoked_at) == ("ak_demo", "Demo account key", None)
    assert ACCOUNT_KEY.startswith(key.key_prefix)
    assert key.monthly_budget_micro_usd is None
    assert key.current_mtd_micro_usd == 0


async def test_account_keys_create_set_budget_and_revoke(admin: Daguito) -> None:
    created = await admin.account_keys.create("ci", 5_000)
    assert isinstance(created, AccountKeyCreated)
    assert created.plaintext.startswith("dgsk_acc_")
    assert (created.name, created.monthly_budget_micro_usd) == ("ci", 5_000)

    updated = await admin.account_keys.set_budget(created.id, 7_000)
    assert type(updated) is AccountKey
    assert (updated.id, updated.monthly_budget_micro_usd) == (created.id, 7_000)
    cleared = await admin.account_keys.set_budget(created.id, None)
    assert cleared.monthly_budget_micro_usd is None

    assert await admin.account_keys.revoke(created.id) is None
    listed = {key.id: key for key in await admin.account_keys.list()}
    assert listed[created.id].revoked_at is not None


async def test_account_keys_create_leaves_out_a_none_budget(
    canned_client: Daguito, canned: CannedServer
) -> None:
    canned.reply(201, {"id": "ak_1", "name": "n", "plaintext": "dgsk_acc_p"})
    created = await canned_client.account_keys.create("n")
    assert canned.requests[0].json() == {"name": "n"}
    assert created.plaintext == "dgsk_acc_p"
    assert created.key_prefix == ""  # missing strings read as ""


async def test_account_key_errors_carry_status_kind_and_request_id(emu: Emulator) -> None:
    async with Daguito(emu.url, "dgsk_acc_unknown", headers={"X-Request-ID": "req-42"}) as client:
        with pytest.raises(InvalidTokenError) as caught:
            await client.account_keys.list()
    assert isinstance(caught.value, DaguitoError)
    assert (caught.value.status, str(caught.value)) == (401, "invalid account key")
    assert caught.value.request_id == "req-42"

    async with Daguito(emu.url, ORG_KEY) as client:  # a valid key that is not an admin key
        with pytest.raises(InvalidTokenError) as caught:
            await client.account_keys.create("x")
    assert (caught.value.status, str(caught.value)) == (403, "not an admin")


async def test_account_key_not_found_and_validation_errors(admin: Daguito) -> None:
    with pytest.raises(DaguitoError) as caught:
        await admin.account_keys.revoke("ak_nope")
    assert caught.value.status == 404
    assert not isinstance(caught.value, (InvalidTokenError, RateLimitError))
    assert caught.value.request_id  # the emulator stamps every answer
    with pytest.raises(DaguitoError, match="unknown account key ak_nope") as caught:
        await admin.account_keys.set_budget("ak_nope", 1)
    assert caught.value.status == 404
    with pytest.raises(DaguitoError, match="name must not be empty") as caught:
        await admin.account_keys.create("")
    assert caught.value.status == 400
    with pytest.raises(DaguitoError, match="non-negative integer or null"):
        await admin.account_keys.set_budget("ak_demo", -1)


async def test_path_ids_are_percent_encoded(
    admin: Daguito, canned_client: Daguito, canned: CannedServer
) -> None:
    # The emulator sees the id intact: "?" did not start a query, the space survived.
    with pytest.raises(DaguitoError, match=r"unknown account key a b\?c"):
        await admin.account_keys.revoke("a b?c")
    canned.reply(204)
    canned.reply(204)
    canned.reply(200, {"job_id": "j"})
    await canned_client.account_keys.revoke("a/b c?d#e")
    await canned_client.public_keys.revoke("f/1", "k%2")
    await canned_client.knowledge.get_ingest_job("j/../x")
    assert [r.target for r in canned.requests] == [
        "/v1/account/api-keys/a%2Fb%20c%3Fd%23e",
        "/v1/flows/f%2F1/public-keys/k%252",
        "/api/public/knowledge/ingest-jobs/j%2F..%2Fx",
    ]


async def test_empty_ids_are_refused_before_any_request(
    canned_client: Daguito, canned: CannedServer
) -> None:
    calls = [
        canned_client.account_keys.revoke(""),
        canned_client.account_keys.set_budget("", 1),
        canned_client.public_keys.list(""),
        canned_client.public_keys.create("", "n", []),
        canned_client.public_keys.revoke(FLOW_ID, ""),
        canned_client.public_keys.set_budget("", "pk", 1),
        canned_client.flows.resolve_webhook(""),
        canned_client.knowledge.ingest_text("", "text"),
        canned_client.knowledge.ingest_url("", "https://example.test"),
        canned_client.knowledge.get_ingest_job(""),
        canned_client.knowledge.delete_chunks_by_metadata("", "k", "v"),
        canned_client.knowledge.update_chunks_metadata("", {"metadata_key": "k"}, {}),
    ]
    for coroutine in calls:
        with pytest.raises(ValueError):
            await coroutine
    assert canned.requests == []


async def test_set_budget_falls_back_to_the_patch_answer(
    canned_client: Daguito, canned: CannedServer
) -> None:
    canned.reply(200, {"id": "ak_1", "monthly_budget_micro_usd": 3})
    canned.reply(200, {"keys": [{"id": "ak_other"}]})
    key = await canned_client.account_keys.set_budget("ak_1", 3)
    assert (key.id, key.monthly_budget_micro_usd) == ("ak_1", 3)
    canned.reply(204)
    canned.reply(200, [])
    with pytest.raises(DaguitoError, match="key not found after budget update"):
        await canned_client.account_keys.set_budget("ak_1", 3)
    assert [r.method for r in canned.requests] == ["PATCH", "GET", "PATCH", "GET"]


async def test_account_keys_accept_a_bare_array(
    canned_client: Daguito, canned: CannedServer
) -> None:
    canned.reply(200, [{"id": "ak_1", "current_mtd_micro_usd": "12"}])
    (key,) = await canned_client.account_keys.list()
    assert (key.id, key.current_mtd_micro_usd, key.created_at) == ("ak_1", 12, "")
    canned.reply(204)
    assert await canned_client.account_keys.list() == []


# -- public keys -----------------------------------------------------------------------------------


async def test_public_keys_lifecycle(admin: Daguito) -> None:
    assert await admin.public_keys.list(FLOW_ID) == []
    created = await admin.public_keys.create(FLOW_ID, "site", ["https://a.test"], 1_000)
    assert isinstance(created, PublicKeyCreated)
    assert created.plaintext.startswith("dgpk_flow_")
    assert (created.flow_id, created.allowed_origins) == (FLOW_ID, ["https://a.test"])
    assert created.monthly_budget_micro_usd == 1_000

    (listed,) = await admin.public_keys.list(FLOW_ID)
    assert type(listed) is PublicKey and listed.id == created.id
    updated = await admin.public_keys.set_budget(FLOW_ID, created.id, 2_000)
    assert updated.monthly_budget_micro_usd == 2_000
    assert (
        await admin.public_keys.set_budget(FLOW_ID, created.id, None)
    ).monthly_budget_micro_usd is None
    await admin.public_keys.revoke(FLOW_ID, created.id)
    (revoked,) = await admin.public_keys.list(FLOW_ID)
    assert revoked.revoked_at is not None


async def test_public_keys_errors(admin: Daguito) -> None:
    with pytest.raises(DaguitoError, match="unknown flow flow_nope") as caught:
        await admin.public_keys.list("flow_nope")
    assert caught.value.status == 404
    with pytest.raises(DaguitoError, match="unknown public key pk_nope") as caught:
        await admin.public_keys.revoke(FLOW_ID, "pk_nope")
    assert caught.value.status == 404
    with pytest.raises(DaguitoError, match="name must not be empty") as caught:
        await admin.public_keys.create(FLOW_ID, "", [])
    assert caught.value.status == 400


async def test_public_key_parsing_drops_non_string_origins(
    canned_client: Daguito, canned: CannedServer
) -> None:
    canned.reply(
        200, {"keys": [{"id": "pk", "allowed_origins": ["https://a", 3, None, "https://b"]}]}
    )
    (key,) = await canned_client.public_keys.list(FLOW_ID)
    assert key.allowed_origins == ["https://a", "https://b"]
    canned.reply(201, {"id": "pk", "allowed_origins": "https://a"})
    with pytest.raises(DaguitoError, match="allowed_origins must be an array"):
        await canned_client.public_keys.create(FLOW_ID, "n", ["https://a"])
    assert canned.requests[-1].json() == {"name": "n", "allowed_origins": ["https://a"]}


# -- budgets ---------------------------------------------------------------------------------------


async def test_org_budget_get_and_set(admin: Daguito) -> None:
    budget = await admin.budgets.get_org()
    assert isinstance(budget, OrgBudget)
    assert (budget.monthly_budget_micro_usd, budget.current_mtd_micro_usd) == (None, 0)
    assert budget.mtd_reset_at is not None
    assert (await admin.budgets.set_org(10_000)).monthly_budget_micro_usd == 10_000
    assert (await admin.budgets.get_org()).monthly_budget_micro_usd == 10_000
    assert (await admin.budgets.set_org(None)).monthly_budget_micro_usd is None
    with pytest.raises(DaguitoError, match="non-negative") as caught:
        await admin.budgets.set_org(-5)
    assert caught.value.status == 400


# -- flows -----------------------------------------------------------------------------------------


async def test_resolve_webhook(org: Daguito) -> None:
    resolved = await org.flows.resolve_webhook("demo")
    assert resolved == ResolvedFlowWebhook(FLOW_ID, "demo", "Demo flow", "wh_demo", WEBHOOK_TOKEN)


async def test_resolve_webhook_errors(org: Daguito, admin: Daguito) -> None:
    with pytest.raises(DaguitoError, match="no flow with slug 'a b&c'") as caught:
        await org.flows.resolve_webhook("a b&c")  # the slug reached the server whole
    assert caught.value.status == 404
    with pytest.raises(InvalidTokenError, match="invalid API key") as caught:
        await admin.flows.resolve_webhook("demo")  # an account key is not an org key
    assert caught.value.status == 401
    with pytest.raises(TypeError):
        await org.flows.resolve_webhook(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        {"flow_id": "f"},
        {"flow_id": "f", "slug": "s", "name": "n", "webhook_id": "w"},
        {"flow_id": "f", "webhook_id": "w", "webhook_token": None},
        {},
        b"",
        [1, 2],
        b"null",
    ],
    ids=["only-flow-id", "no-token", "null-token", "empty-object", "empty-body", "array", "null"],
)
async def test_resolve_webhook_with_a_bad_answer_is_a_daguito_error(
    canned_client: Daguito, canned: CannedServer, body: Any
) -> None:
    # Bug D2: daguito-sdk indexed the answer directly and raised KeyError or TypeError.
    canned.reply(200, body)
    with pytest.raises(DaguitoError, match="/api/sdk/flows"):
        await canned_client.flows.resolve_webhook("demo")


async def test_resolve_webhook_defaults_slug_and_name(
    canned_client: Daguito, canned: CannedServer
) -> None:
    canned.reply(200, {"flow_id": 1, "webhook_id": "w", "webhook_token": "t"})
    resolved = await canned_client.flows.resolve_webhook("my-slug")
    assert resolved == ResolvedFlowWebhook("1", "my-slug", "", "w", "t")
    assert canned.requests[0].target == "/api/sdk/flows?slug=my-slug"


async def test_upsert_agent_creates_then_updates(admin: Daguito, org: Daguito) -> None:
    spec = AgentFlowSpec(
        "support-bot",
        "Support",
        "emulator",
        "echo-1",
        "Be brief.",
        temperature=0.2,
        max_tokens=256,
        tools=[FlowToolRef("lookup", {"table": "orders"})],
        context_memory_keys=["customer"],
    )
    first = await admin.flows.upsert_agent(spec)
    assert isinstance(first, UpsertResult)
    assert (first.slug, first.name, first.created) == ("support-bot", "Support", True)
    assert first.flow_id and first.webhook_id
    spec.name = "Support v2"
    second = await admin.flows.upsert_agent(spec)
    assert (second.flow_id, second.name, second.created) == (first.flow_id, "Support v2", False)
    resolved = await org.flows.resolve_webhook("support-bot")
    assert (resolved.flow_id, resolved.webhook_id) == (first.flow_id, first.webhook_id)


async def test_upsert_flow_and_its_errors(admin: Daguito) -> None:
    graph = FlowGraph(
        [FlowGraphNode("in", "input"), FlowGraphNode("out", "output", config={"x": 1})],
        [FlowGraphEdge("e1", "in", "out", source_handle="yes")],
    )
    result = await admin.flows.upsert_flow(FlowSpec("graph-flow", "Graph", graph, "webhook"))
    assert (result.slug, result.created) == ("graph-flow", True)
    # A raw dict is sent as given.
    again = await admin.flows.upsert_flow(
        {"slug": "graph-flow", "name": "G", "graph": graph.to_wire()}
    )  # type: ignore[arg-type]
    assert (again.flow_id, again.created) == (result.flow_id, False)

    broken = FlowGraph([FlowGraphNode("in")], [FlowGraphEdge("e", "in", "nowhere")])
    with pytest.raises(DaguitoError, match="must name a node") as caught:
        await admin.flows.upsert_flow(FlowSpec("graph-flow", "Graph", broken))
    assert caught.value.status == 400
    with pytest.raises(DaguitoError, match="slug must be lowercase") as caught:
        await admin.flows.upsert_agent(AgentFlowSpec("Bad Slug", "n", "p", "m", "s"))
    assert caught.value.status == 400
    with pytest.raises(TypeError):
        await admin.flows.upsert_agent(42)  # type: ignore[arg-type]


async def test_upsert_routes_and_bodies(canned_client: Daguito, canned: CannedServer) -> None:
    canned.reply(
        201, {"flow_id": "f", "slug": "s", "name": "n", "webhook_id": "w", "created": True}
    )
    canned.reply(
        200, {"flow_id": "f", "slug": "s", "name": "n", "webhook_id": "w", "created": False}
    )
    await canned_client.flows.upsert_agent(AgentFlowSpec("s", "n", "p", "m", "sp", max_tokens=0))
    await canned_client.flows.upsert_flow(FlowSpec("s", "n", FlowGraph()))
    agent, graph = canned.requests
    assert (agent.method, agent.target) == ("POST", "/v1/flows/upsert-agent")
    assert agent.json() == {
        "slug": "s",
        "name": "n",
        "provider": "p",
        "model": "m",
        "system_prompt": "sp",
        "max_tokens": 0,
    }
    assert (graph.method, graph.target) == ("POST", "/v1/flows/upsert")
    assert graph.json() == {"slug": "s", "name": "n", "graph": {"nodes": [], "edges": []}}


def test_flow_type_wire_forms() -> None:
    assert FlowToolRef("t").to_wire() == {"kind": "handler", "name": "t"}
    assert FlowGraphEdge("e", "a", "b", "h").to_wire() == {
        "id": "e",
        "source": "a",
        "target": "b",
        "sourceHandle": "h",
    }
    assert FlowGraphNode("n", kind="k", position={"x": 1}).to_wire() == {
        "id": "n",
        "kind": "k",
        "position": {"x": 1},
    }
    spec = AgentFlowSpec("s", "n", "p", "m", "sp", tools=[FlowToolRef("t"), {"name": "raw"}])  # type: ignore[list-item]
    assert spec.to_wire()["tools"] == [{"kind": "handler", "name": "t"}, {"name": "raw"}]
    assert UpsertResult.from_wire({"created": "false", "flow_id": 3}) == UpsertResult(
        "3", "", "", "", False
    )
    # The dead-code dataclasses keep slots, as in daguito-sdk.
    assert not hasattr(spec, "__dict__")


# -- templates -------------------------------------------------------------------------------------


async def test_template_preview(admin: Daguito) -> None:
    body = "\n".join(
        [
            "# Soap note",
            "name: string: the caller's name",
            "age: integer: age",
            "mood: enum(ok|bad): mood",
            "x: weird: y",
        ]
    )
    result = await admin.templates.preview(body, vertical="health", model="echo-1")
    assert isinstance(result, TemplatePreviewResult)
    assert result.template_schema.name == "SOAP_NOTE"
    assert result.field_names == ["name", "age", "mood", "x"]
    assert result.field_count == 4
    kinds = {detail.name: (detail.type, detail.enum_values) for detail in result.fields_detail}
    assert kinds == {
        "name": ("string", None),
        "age": ("integer", None),
        "mood": ("enum", ["ok", "bad"]),
        "x": ("string", None),
    }
    assert result.example is not None
    assert (result.example.model, result.example.transcript_origin) == ("echo-1", "default")
    assert result.example.transcript.startswith("[health] ")
    assert [(w.code, w.field) for w in result.warnings] == [("unknown_type", "x")]
    assert result.body_hash.startswith("sha256:")


async def test_template_preview_errors(
    admin: Daguito, canned_client: Daguito, canned: CannedServer
) -> None:
    with pytest.raises(DaguitoError, match="template_body is required") as caught:
        await canned_client.templates.preview("")
    assert caught.value.status is None
    assert canned.requests == []  # refused before any request
    with pytest.raises(DaguitoError, match="template_body required") as caught:
        await admin.templates.preview("   ")
    assert caught.value.status == 400


async def test_template_preview_options_and_lenient_parsing(
    canned_client: Daguito, canned: CannedServer
) -> None:
    canned.reply(
        200,
        {
            "template_schema": {"name": "T", "schema": {"type": "object"}},
            "field_names": ["a", 1],
            "field_count": "1",
            "fields_detail": [{"name": "a", "type": "nope"}],
            "example": {"transcript_origin": "caller", "extracted": None},
            "warnings": [{"code": "c", "message": "m"}],
        },
    )
    result = await canned_client.templates.preview(
        "a: nope: x", force_regenerate=False, vertical=""
    )
    assert canned.requests[0].json() == {
        "template_body": "a: nope: x",
        "vertical": "",
        "force_regenerate": False,
    }
    assert result.field_names == ["a"]
    assert result.field_count == 1
    assert result.fields_detail[0].type == "string"
    assert result.example is not None and result.example.transcript_origin == "caller"
    assert result.body_hash == ""


# -- analytics, models, nodes ----------------------------------------------------------------------


async def test_org_analytics(admin: Daguito) -> None:
    await admin.budgets.get_org()
    analytics = await admin.analytics.get_org()
    assert isinstance(analytics, OrgAnalytics)
    assert analytics.org_id == ORG_ID
    assert analytics.http_today.by_path["/v1/account/budget"] == 1
    assert analytics.http_today.total >= 2
    assert analytics.budget.org_cap_micro_usd is None
    assert analytics.llm_today.cost_usd == 0.0
    assert analytics.raw["org_id"] == ORG_ID


async def test_models_list(admin: Daguito) -> None:
    models = await admin.models.list()
    assert models[0] == Model("emulator", "echo-1", "Emulator Echo", "free")
    assert all(isinstance(model, Model) for model in models)


async def test_node_catalog(admin: Daguito) -> None:
    catalog = await admin.nodes.get_catalog()
    assert {"categories", "nodes"} <= set(catalog)
    assert any(node["type"] == "agent" for node in catalog["nodes"])


async def test_dead_code_routes_need_an_admin_key(org: Daguito) -> None:
    for call in (
        org.analytics.get_org(),
        org.models.list(),
        org.nodes.get_catalog(),
        org.knowledge.list_bases(),
    ):
        with pytest.raises(InvalidTokenError) as caught:
            await call
        assert caught.value.status == 403


# -- admin knowledge -------------------------------------------------------------------------------


async def test_knowledge_bases_and_sources(admin: Daguito) -> None:
    (base,) = await admin.knowledge.list_bases()
    assert (base.id, base.name) == ("kb_demo", "Demo knowledge base")
    assert await admin.knowledge.list_bases("org_other") == []
    (source,) = await admin.knowledge.list_sources(ORG_ID)
    assert (source.id, source.org_id, source.chunk_count) == (SOURCE_ID, ORG_ID, 4)
    assert source.kb_id == "kb_demo"


async def test_knowledge_create_ingest_and_edit_chunks(admin: Daguito) -> None:
    source = await admin.knowledge.create_source(
        {"org_id": ORG_ID, "name": "Docs", "description": "d"}
    )
    assert (source.name, source.description, source.chunk_count) == ("Docs", "d", 0)

    job = await admin.knowledge.ingest_text(
        source.id, "Refunds take five days. " * 20, {"lang": "en"}
    )
    assert isinstance(job, IngestJobStatus)
    assert job.status == "completed" and job.job_id
    assert job.result is not None and job.result["chunk_count"] >= 1
    assert job.source_id == source.id

    url_job = await admin.knowledge.ingest_url(
        source.id, "https://help.example/refunds?x=1", {"lang": "en"}
    )
    assert url_job.status == "completed"
    fetched = await admin.knowledge.get_ingest_job(url_job.job_id)
    assert (fetched.job_id, fetched.progress) == (url_job.job_id, 1.0)

    updated = await admin.knowledge.update_chunks_metadata(
        source.id, {"metadata_key": "lang", "metadata_value": "en"}, {"reviewed": True}
    )
    assert updated == job.result["chunk_count"] + 1
    deleted = await admin.knowledge.delete_chunks_by_metadata(
        source.id, "url", "https://help.example/refunds?x=1"
    )
    assert deleted == 1
    (listed,) = [s for s in await admin.knowledge.list_sources() if s.id == source.id]
    assert listed.chunk_count == job.result["chunk_count"]


async def test_knowledge_errors(
    admin: Daguito, canned_client: Daguito, canned: CannedServer
) -> None:
    for bad_source, needle in (({"name": "n"}, "org_id"), ({"org_id": ORG_ID}, "name")):
        with pytest.raises(DaguitoError, match=f"source.{needle} is required"):
            await canned_client.knowledge.create_source(bad_source)
    with pytest.raises(DaguitoError, match="text is required"):
        await canned_client.knowledge.ingest_text(SOURCE_ID, "")
    with pytest.raises(DaguitoError, match="url is required"):
        await canned_client.knowledge.ingest_url(SOURCE_ID, "")
    with pytest.raises(DaguitoError, match="metadata_key is required"):
        await canned_client.knowledge.delete_chunks_by_metadata(SOURCE_ID, "", "v")
    with pytest.raises(DaguitoError, match="patch must be a dict"):
        await canned_client.knowledge.update_chunks_metadata(SOURCE_ID, {"metadata_key": "k"}, None)  # type: ignore[arg-type]
    with pytest.raises(DaguitoError, match=r"match\.metadata_key is required"):
        await canned_client.knowledge.update_chunks_metadata(SOURCE_ID, {}, {})
    assert canned.requests == []

    with pytest.raises(InvalidTokenError, match="org_id does not match") as caught:
        await admin.knowledge.create_source({"org_id": "org_other", "name": "n"})
    assert caught.value.status == 403
    with pytest.raises(DaguitoError, match="unknown source src_nope") as caught:
        await admin.knowledge.ingest_text("src_nope", "text")
    assert caught.value.status == 404
    with pytest.raises(DaguitoError, match="unknown ingest job job_nope") as caught:
        await admin.knowledge.get_ingest_job("job_nope")
    assert caught.value.status == 404
    with pytest.raises(DaguitoError, match="absolute http") as caught:
        await admin.knowledge.ingest_url(SOURCE_ID, "ftp://nope")
    assert caught.value.status == 400


async def test_ingest_text_reads_the_js_answer_shape(
    canned_client: Daguito, canned: CannedServer
) -> None:
    # Bug D5: daguito-sdk parsed the JS-shaped answer as a job with job_id "", status "unknown"
    # and no result; relaywire reads the counts into one IngestJobStatus shape.
    canned.reply(200, {"source_id": "src_1", "chunk_count": 3, "token_count": 120})
    job = await canned_client.knowledge.ingest_text("src_1", "text", {"k": "v"})
    assert job.status == "completed"
    assert job.result == {"chunk_count": 3, "token_count": 120}
    assert (job.source_id, job.job_id) == ("src_1", "")
    assert job.raw == {"source_id": "src_1", "chunk_count": 3, "token_count": 120}
    assert canned.requests[0].json() == {"text": "text", "metadata": {"k": "v"}}
    # A job answer keeps its own status and result.
    canned.reply(202, {"job_id": "j", "status": "queued", "result": None})
    queued = await canned_client.knowledge.ingest_text("src_1", "text")
    assert (queued.job_id, queued.status, queued.result) == ("j", "queued", None)


async def test_knowledge_request_shapes(canned_client: Daguito, canned: CannedServer) -> None:
    canned.reply(200, {"bases": []})
    canned.reply(
        200, {"sources": [{"id": "s", "kb_id": "kb", "chunk_count": "2", "source_count": True}]}
    )
    canned.reply(200, {"deleted_count": 2})
    canned.reply(200, {"updated_count": 1})
    await canned_client.knowledge.list_bases("org x&y")
    (source,) = await canned_client.knowledge.list_sources("")
    assert (source.kb_id, source.chunk_count, source.source_count) == ("kb", 2, 1)
    assert await canned_client.knowledge.delete_chunks_by_metadata("s", "topic key", "a&b") == 2
    assert (
        await canned_client.knowledge.update_chunks_metadata(
            "s", {"metadata_key": "k", "metadata_value": 5}, {"p": None}
        )
        == 1
    )
    targets = [(r.method, r.target) for r in canned.requests]
    assert targets == [
        ("GET", "/api/public/knowledge/bases?org_id=org+x%26y"),
        ("GET", "/api/public/knowledge/sources"),
        (
            "DELETE",
            "/api/public/knowledge/sources/s/chunks?metadata_key=topic+key&metadata_value=a%26b",
        ),
        ("PATCH", "/api/public/knowledge/sources/s/chunks"),
    ]
    assert canned.requests[-1].json() == {
        "match": {"metadata_key": "k", "metadata_value": "5"},
        "patch": {"p": None},
    }


# -- error mapping ---------------------------------------------------------------------------------


async def test_an_error_message_field_is_read(canned_client: Daguito, canned: CannedServer) -> None:
    # Bug D6: daguito-sdk ignored "message" and reported the raw body text.
    canned.reply(400, {"message": "budget too small"}, {"X-Request-ID": "r-1"})
    with pytest.raises(DaguitoError) as caught:
        await canned_client.budgets.set_org(1)
    assert (str(caught.value), caught.value.status, caught.value.request_id) == (
        "budget too small",
        400,
        "r-1",
    )
    assert caught.value.body == {"message": "budget too small"}


@pytest.mark.parametrize(
    ("status", "body", "message", "kind"),
    [
        (401, {"error": "missing bearer"}, "missing bearer", InvalidTokenError),
        (403, {"error": "not an admin"}, "not an admin", InvalidTokenError),
        (429, {"error": "slow down"}, "slow down", RateLimitError),
        (502, b"upstream broke", "upstream broke", DaguitoError),
        (503, b"", "Service Unavailable", DaguitoError),
    ],
)
async def test_status_errors(
    canned_client: Daguito,
    canned: CannedServer,
    status: int,
    body: Any,
    message: str,
    kind: type[DaguitoError],
) -> None:
    canned.reply(status, body)
    with pytest.raises(kind) as caught:
        await canned_client.nodes.get_catalog()
    assert (str(caught.value), caught.value.status) == (message, status)


@pytest.mark.parametrize(
    ("call", "body", "needle"),
    [
        ("budgets", [1], "expected a JSON object from GET /v1/account/budget"),
        ("budgets", b"", "expected a JSON object"),
        ("budgets", b"not json", "invalid JSON response"),
        ("keys", {"keys": "x"}, "expected a keys array"),
        ("keys", {"keys": [{"id": "a"}, 5]}, r"keys\[1\] must be an object"),
        (
            "keys",
            {"keys": [{"id": "a", "current_mtd_micro_usd": "lots"}]},
            "current_mtd_micro_usd must be an integer",
        ),
        ("keys", "hello", "expected a keys array"),
        ("analytics", {"llm_today": "x"}, "llm_today must be an object"),
        ("analytics", {"http_today": {"total": {"n": 1}}}, "total must be an integer"),
        ("models", {"models": "x"}, "expected a models array"),
        ("models", {"models": [None]}, r"models\[0\] must be an object"),
        ("nodes", b"[]", "expected a JSON object"),
        ("templates", {"template_schema": "x"}, "template_schema must be an object"),
        ("templates", {"fields_detail": ["x"]}, r"fields_detail\[0\] must be an object"),
        ("templates", {"template_schema": {"schema": [1]}}, "schema must be an object"),
        ("sources", {"sources": 5}, "expected a sources array"),
        ("create_source", {"id": "s"}, "expected source object"),
        ("delete_chunks", b"", "expected a JSON object"),
        ("job", {"job_id": "j", "progress": "half"}, "progress must be a finite number"),
        ("job", {"job_id": "j", "result": [1]}, "result must be an object or null"),
    ],
)
async def test_wrong_typed_answers_are_daguito_errors(
    canned_client: Daguito, canned: CannedServer, call: str, body: Any, needle: str
) -> None:
    # daguito-sdk raised AttributeError/ValueError/TypeError for several of these.
    calls = {
        "budgets": canned_client.budgets.get_org,
        "keys": canned_client.account_keys.list,
        "analytics": canned_client.analytics.get_org,
        "models": canned_client.models.list,
        "nodes": canned_client.nodes.get_catalog,
        "templates": lambda: canned_client.templates.preview("x"),
        "sources": canned_client.knowledge.list_sources,
        "create_source": lambda: canned_client.knowledge.create_source(
            {"org_id": "o", "name": "n"}
        ),
        "delete_chunks": lambda: canned_client.knowledge.delete_chunks_by_metadata("s", "k", "v"),
        "job": lambda: canned_client.knowledge.get_ingest_job("j"),
    }
    canned.reply(200, body)
    with pytest.raises(DaguitoError, match=needle):
        await calls[call]()


def test_parsers_coerce_like_daguito_sdk() -> None:
    key = parse_account_key(
        {"id": 7, "monthly_budget_micro_usd": 5.9, "current_mtd_micro_usd": True}
    )
    assert (key.id, key.monthly_budget_micro_usd, key.current_mtd_micro_usd) == ("7", 5, 1)
    public = parse_public_key({"allowed_origins": None, "revoked_at": 3})
    assert (public.allowed_origins, public.revoked_at) == ([], "3")
    analytics = OrgAnalytics.from_wire(
        {"messages_today": {"inbound": {"a": 1, "b": "x", "c": 2.5}}, "llm_today": []}
    )
    assert analytics.messages_today.inbound == {"a": 1, "c": 2}
    assert analytics.llm_today.requests == 0
    assert Model.from_wire({"id": "m"}).display_name == "m"


async def test_request_json_contract(emu: Emulator, canned: CannedServer) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ACCOUNT_KEY}"}) as client:
        budget = await request_json(client, "GET", f"{emu.url}/v1/account/budget")
        assert budget["monthly_budget_micro_usd"] is None
        created = await request_json(
            client, "POST", f"{emu.url}/v1/account/api-keys", body={"name": "rj"}
        )
        assert (
            await request_json(client, "DELETE", f"{emu.url}/v1/account/api-keys/{created['id']}")
            is None
        )
        for method in ("PUT", "get"):
            with pytest.raises(DaguitoError, match=f"unsupported method: {method}"):
                await request_json(client, method, f"{canned.url}/x")
        assert canned.requests == []
        canned.reply(200, b"")
        canned.reply(200, b"null")
        assert await request_json(client, "GET", f"{canned.url}/empty") is None
        assert await request_json(client, "POST", f"{canned.url}/null") is None
        assert canned.requests[1].body == b"{}"  # POST always sends an object


# -- retries ---------------------------------------------------------------------------------------


async def test_get_retries_honouring_retry_after(
    emu: Emulator, admin: Daguito, retry_sleeps: RecordingAsyncio
) -> None:
    emu.faults.http(503, count=2, path_prefix="/v1/account/budget", retry_after=1.5)
    budget = await admin.budgets.get_org()
    assert budget.current_mtd_micro_usd == 0
    assert retry_sleeps.delays == [1.5, 1.5]
    assert emu.faults.take_http("/v1/account/budget") is None  # both faults were used


async def test_get_gives_up_after_max_retries(
    emu: Emulator, retry_sleeps: RecordingAsyncio
) -> None:
    emu.faults.http(429, count=3, path_prefix="/v1/models", retry_after=0)
    async with Daguito(emu.url, ACCOUNT_KEY, max_retries=1) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.models.list()
    assert caught.value.status == 429
    assert retry_sleeps.delays == [0.0]
    assert emu.faults.take_http("/v1/models") is not None  # one of three left unused


async def test_a_retry_after_beyond_the_cap_is_not_waited_for(
    emu: Emulator, admin: Daguito, retry_sleeps: RecordingAsyncio
) -> None:
    emu.faults.http(503, path_prefix="/v1/models", retry_after=3600)
    with pytest.raises(DaguitoError) as caught:
        await admin.models.list()
    assert caught.value.status == 503
    assert retry_sleeps.delays == []


async def test_delete_retries_and_a_dropped_get_is_retried(
    emu: Emulator, admin: Daguito, retry_sleeps: RecordingAsyncio
) -> None:
    created = await admin.account_keys.create("retry-me")
    emu.faults.http(500, path_prefix="/v1/account/api-keys/")
    await admin.account_keys.revoke(created.id)
    emu.faults.http(None, path_prefix="/v1/account/api-keys")  # connection dropped mid-body
    listed = {key.id: key for key in await admin.account_keys.list()}
    assert listed[created.id].revoked_at is not None
    assert len(retry_sleeps.delays) == 2 and all(delay > 0 for delay in retry_sleeps.delays)


@pytest.mark.parametrize(
    ("status", "kind"), [(429, RateLimitError), (503, DaguitoError), (None, DaguitoConnectionError)]
)
async def test_post_and_patch_are_never_retried(
    emu: Emulator,
    admin: Daguito,
    retry_sleeps: RecordingAsyncio,
    status: int | None,
    kind: type[DaguitoError],
) -> None:
    emu.faults.http(status, count=2, path_prefix="/v1/templates/preview", retry_after=0)
    with pytest.raises(kind) as caught:
        await admin.templates.preview("a: string: b")
    assert caught.value.status == status
    assert emu.faults.take_http("/v1/templates/preview") is not None  # the second was not used
    emu.faults.http(status, count=2, path_prefix="/v1/account/budget", retry_after=0)
    with pytest.raises(kind):
        await admin.budgets.set_org(1)
    assert emu.faults.take_http("/v1/account/budget") is not None
    assert retry_sleeps.delays == []
    assert requests_reached(emu) == 0  # faults answer before any route


async def test_max_retries_zero_disables_retries(
    emu: Emulator, retry_sleeps: RecordingAsyncio
) -> None:
    emu.faults.http(500, path_prefix="/v1/account/budget")
    async with Daguito(emu.url, ACCOUNT_KEY, max_retries=0) as client:
        with pytest.raises(DaguitoError) as caught:
            await client.budgets.get_org()
        assert caught.value.status == 500
        assert (await client.budgets.get_org()).monthly_budget_micro_usd is None
    assert retry_sleeps.delays == []


async def test_user_factory_calls_retry_gets_too(
    emu: Emulator, retry_sleeps: RecordingAsyncio
) -> None:
    emu.faults.http(503, path_prefix="/api/public/nodes/catalog", retry_after=0)
    catalog = await NodesService(emu.url, make_client_factory(ACCOUNT_KEY)).get_catalog()
    assert "nodes" in catalog
    assert retry_sleeps.delays == [0.0]


async def test_every_service_is_constructible_directly(emu: Emulator) -> None:
    factory = make_client_factory(ACCOUNT_KEY)
    assert (await BudgetsService(emu.url, factory).get_org()).monthly_budget_micro_usd is None
    assert await PublicKeysService(emu.url, factory).list(FLOW_ID) == []
    assert (await TemplatesService(emu.url, factory).preview("a: string: b")).field_count == 1
    assert (await AnalyticsService(emu.url, factory).get_org()).org_id == ORG_ID
    assert await ModelsService(emu.url, factory).list()
    assert await AdminKnowledgeService(emu.url, factory).list_bases()
    resolved = await FlowsService(emu.url, make_client_factory(ORG_KEY)).resolve_webhook("demo")
    assert resolved.webhook_id == "wh_demo"
