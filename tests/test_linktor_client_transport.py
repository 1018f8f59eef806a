"""The linktor transport: error mapping, retries, idempotency keys, timeouts, token refresh.

Error statuses come from the emulator's fault injection (rendered in each dialect's error shape:
top-level for the SDK protocol, nested ``error`` for the server) or from its real answers;
plain-text and non-JSON answers come from :class:`_linktor_client_support.RawServer`. Retry
attempts are counted from the requests the client sent (httpx event hooks) and from the
emulator's remaining faults, never from timings.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from _linktor_client_support import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    Harness,
    RawServer,
    module_emulator,
    open_client,
    recorded_client,
)

import linktor
from linktor import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    LinktorAsyncClient,
    LinktorClient,
    LinktorError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from linktor._dialect import InvalidResponseError
from relaywire.emulator import Emulator

emulator = pytest.fixture(scope="module")(module_emulator)

DIALECTS = ["sdk", "server"]
MODES = ["sync", "async"]
MESSAGES = "/conversations/conv_demo/messages"


def fault_prefix(emu: Emulator, dialect: str, path: str) -> str:
    return ("/linktor/api/v1" if dialect == "server" else "/linktor") + path


@pytest.fixture(autouse=True)
def _no_faults_left(emulator: Emulator) -> Iterator[None]:
    yield
    emulator.faults.clear()
    emulator.set_rate_limit(None)


# -- error mapping ---------------------------------------------------------------------------

STATUS_ERRORS = [
    (400, ValidationError, "VALIDATION_ERROR"),
    (401, AuthenticationError, "AUTHENTICATION_ERROR"),
    (403, AuthorizationError, "AUTHORIZATION_ERROR"),
    (404, NotFoundError, "NOT_FOUND"),
    (409, ConflictError, "CONFLICT_ERROR"),
    (422, ValidationError, "VALIDATION_ERROR"),
    (429, RateLimitError, "RATE_LIMIT_ERROR"),
    (500, ServerError, "SERVER_ERROR"),
    (503, ServerError, "SERVER_ERROR"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("status", "kind", "code"), STATUS_ERRORS)
def test_status_to_error(
    emulator: Emulator, dialect: str, mode: str, status: int, kind: type[Exception], code: str
) -> None:
    harness = open_client(
        emulator, dialect, mode, max_retries=0, headers={"X-Request-ID": "rid-test-1"}
    )
    try:
        emulator.faults.http(
            status,
            path_prefix=fault_prefix(emulator, dialect, "/conversations/conv_demo"),
            retry_after=7 if status == 429 else None,
        )
        with pytest.raises(kind) as caught:
            harness.client.conversations.get("conv_demo")
    finally:
        harness.close()
    error = caught.value
    assert type(error) is kind
    assert isinstance(error, LinktorError)
    assert error.code == code
    assert error.status_code == status
    assert error.message == f"injected fault: HTTP {status}"
    assert error.request_id == "rid-test-1"
    assert error.server_code  # the server's own code is kept
    if status == 429:
        assert isinstance(error, RateLimitError)
        assert error.retry_after == 7


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_real_errors_keep_the_servers_words(emulator: Emulator, dialect: str, mode: str) -> None:
    harness = open_client(emulator, dialect, mode)
    try:
        with pytest.raises(NotFoundError) as missing:
            harness.client.conversations.get("conv_nope")
        with pytest.raises(ValidationError) as invalid:
            # The self-hosted server's code refuses only an empty name (blanks are a name).
            harness.client.contacts.create(name="" if dialect == "server" else "   ")
    finally:
        harness.close()
    assert missing.value.message == "conversation not found"
    assert missing.value.server_code in ("NOT_FOUND", "CONVERSATION_NOT_FOUND")
    assert missing.value.request_id
    assert invalid.value.status_code == 400
    assert "name" in invalid.value.message
    if dialect == "server":
        assert invalid.value.message == "contact name is required"  # its words, no details
    else:
        assert invalid.value.details  # the emulator says which field


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_bad_api_key(emulator: Emulator, dialect: str, mode: str) -> None:
    harness = open_client(emulator, dialect, mode, login=False, api_key="lk_wrong")
    try:
        with pytest.raises(AuthenticationError) as caught:
            harness.client.contacts.list()
    finally:
        harness.close()
    assert caught.value.status_code == 401


@pytest.mark.parametrize("mode", MODES)
def test_plain_text_404_of_an_unknown_route(emulator: Emulator, mode: str) -> None:
    harness = open_client(emulator, "server", mode)
    try:
        with pytest.raises(NotFoundError) as caught:
            harness.client._http.get("/no-such-route")
    finally:
        harness.close()
    assert caught.value.message == "404 page not found"


PLAIN_ANSWERS = [
    (400, ValidationError),
    (401, AuthenticationError),
    (403, AuthorizationError),
    (404, NotFoundError),
    (409, ConflictError),
    (422, ValidationError),
    (429, RateLimitError),
    (500, ServerError),
    (503, ServerError),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("status", "kind"), PLAIN_ANSWERS)
def test_plain_text_error_bodies(mode: str, status: int, kind: type[Exception]) -> None:
    with RawServer([(status, "text/plain", b"upstream said no")]) as server:
        harness = _raw_client(server, mode)
        try:
            with pytest.raises(kind) as caught:
                harness.client.contacts.get("ct_1")
        finally:
            harness.close()
    assert caught.value.message == "upstream said no"  # type: ignore[attr-defined]
    assert caught.value.request_id == "raw-1"  # type: ignore[attr-defined]


def _raw_client(server: RawServer, mode: str, **options: object) -> Harness:
    import asyncio

    from _linktor_client_support import AsyncFacade

    options.setdefault("max_retries", 0)
    if mode == "sync":
        client = LinktorClient(server.url, api_key="k", **options)  # type: ignore[arg-type]
        return Harness("sdk", mode, client, None, client)
    loop = asyncio.new_event_loop()
    raw = LinktorAsyncClient(server.url, api_key="k", **options)  # type: ignore[arg-type]
    return Harness("sdk", mode, AsyncFacade(raw, loop), loop, raw)


@pytest.mark.parametrize("mode", MODES)
def test_non_json_success_is_a_typed_error(mode: str) -> None:
    answers = [
        (200, "text/html", b"<html>maintenance</html>"),
        (200, "application/json", b'{"id": "ct_1"}'),
        (200, "text/html", b"<html>maintenance</html>"),
    ]
    with RawServer(answers) as server:
        harness = _raw_client(server, mode)
        try:
            with pytest.raises(InvalidResponseError) as not_json:
                harness.client.contacts.get("ct_1")
            with pytest.raises(InvalidResponseError) as wrong_shape:
                harness.client.contacts.get("ct_1")
            with pytest.raises(InvalidResponseError):
                harness.client._http.get("/contacts/ct_1")
        finally:
            harness.close()
    assert not_json.value.code == "INVALID_RESPONSE"
    assert not_json.value.status_code == 200 and not_json.value.request_id == "raw-1"
    assert "not JSON" in not_json.value.message
    assert wrong_shape.value.details["errors"]
    assert not isinstance(not_json.value, ValueError)


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_get_is_retried_after_retry_after(
    emulator: Emulator, dialect: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = fault_prefix(emulator, dialect, "/contacts/ct_demo_2")
    with recorded_client(emulator, dialect, mode, retry_delay=30.0) as (harness, recorder):
        emulator.faults.http(503, count=1, path_prefix=prefix, retry_after=0.01)
        emulator.faults.http(429, count=1, path_prefix=prefix, retry_after=0)
        with caplog.at_level(logging.INFO, logger="linktor"):
            contact = harness.client.contacts.get("ct_demo_2")
    assert contact.name == "Grace Hopper"
    attempts = [p for p in recorder.paths() if p.endswith("/contacts/ct_demo_2")]
    assert len(attempts) == 3
    assert emulator.faults.take_http(prefix) is None  # both faults were consumed
    # The waits are the server's Retry-After, not the 30 s backoff.
    delays = [r.getMessage().rsplit(" in ", 1)[1] for r in caplog.records if "retry" in r.msg]
    assert delays == ["0.01s", "0.00s"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_post_without_idempotency_key_is_not_retried(
    emulator: Emulator, dialect: str, mode: str
) -> None:
    prefix = fault_prefix(emulator, dialect, MESSAGES)
    with recorded_client(emulator, dialect, mode) as (harness, recorder):
        emulator.faults.http(503, count=2, path_prefix=prefix, retry_after=0)
        with pytest.raises(ServerError) as caught:
            harness.client.conversations.send_text("conv_demo", "only once")
        sent = [r for r in recorder.requests if r.url.path.endswith(MESSAGES)]
    assert caught.value.status_code == 503
    assert len(sent) == 1 and "idempotency-key" not in sent[0].headers
    assert emulator.faults.take_http(prefix) is not None  # the second failure is still armed


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_post_with_idempotency_key_is_retried(emulator: Emulator, dialect: str, mode: str) -> None:
    prefix = fault_prefix(emulator, dialect, MESSAGES)
    with recorded_client(emulator, dialect, mode) as (harness, recorder):
        emulator.faults.http(503, count=2, path_prefix=prefix, retry_after=0)
        message = harness.client.conversations.send_text(
            "conv_demo", "exactly once", idempotency_key="send-42"
        )
        sent = [r for r in recorder.requests if r.url.path.endswith(MESSAGES)]
    assert message.content.text == "exactly once"
    assert len(sent) == 3
    assert {r.headers["idempotency-key"] for r in sent} == {"send-42"}
    assert emulator.faults.take_http(prefix) is None


@pytest.mark.parametrize("mode", MODES)
def test_retries_give_up_after_max_retries(emulator: Emulator, mode: str) -> None:
    prefix = fault_prefix(emulator, "sdk", "/bots")
    with recorded_client(emulator, "sdk", mode, max_retries=2) as (harness, recorder):
        emulator.faults.http(429, count=5, path_prefix=prefix, retry_after=0)
        with pytest.raises(RateLimitError) as caught:
            harness.client.bots.list()
        assert len(recorder.requests) == 3
    assert caught.value.retry_after == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_long_retry_after_is_not_waited_for(emulator: Emulator, mode: str) -> None:
    prefix = fault_prefix(emulator, "sdk", "/bots")
    with recorded_client(emulator, "sdk", mode) as (harness, recorder):
        emulator.faults.http(503, count=1, path_prefix=prefix, retry_after=3600)
        with pytest.raises(ServerError):
            harness.client.bots.list()
        assert len(recorder.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_client_errors_are_not_retried(emulator: Emulator, mode: str) -> None:
    prefix = fault_prefix(emulator, "sdk", "/bots")
    with recorded_client(emulator, "sdk", mode) as (harness, recorder):
        emulator.faults.http(409, count=2, path_prefix=prefix)
        with pytest.raises(ConflictError):
            harness.client.bots.list()
        assert len(recorder.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_rate_limit_answer(emulator: Emulator, mode: str) -> None:
    emulator.set_rate_limit(2)
    harness = open_client(emulator, "sdk", mode, max_retries=0)
    try:
        harness.client.bots.list()
        harness.client.bots.list()
        with pytest.raises(RateLimitError) as caught:
            harness.client.bots.list()
    finally:
        harness.close()
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_dropped_connection(emulator: Emulator, dialect: str, mode: str) -> None:
    get_prefix = fault_prefix(emulator, dialect, "/contacts/ct_demo_3")
    post_prefix = fault_prefix(emulator, dialect, MESSAGES)
    harness = open_client(emulator, dialect, mode)
    try:
        emulator.faults.http(None, count=1, path_prefix=get_prefix)
        assert harness.client.contacts.get("ct_demo_3").name == "Alan Turing"  # retried
        emulator.faults.http(None, count=1, path_prefix=post_prefix)
        with pytest.raises(NetworkError) as caught:
            harness.client.conversations.send_text("conv_demo", "dropped")
    finally:
        harness.close()
    assert caught.value.code == "NETWORK_ERROR"
    assert not isinstance(caught.value, httpx.HTTPError)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused(mode: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    if mode == "sync":
        client = LinktorClient(url, api_key="k", max_retries=1, retry_delay=0.001)
        with client, pytest.raises(NetworkError) as caught:
            client.contacts.list()
    else:
        import asyncio

        async def run() -> NetworkError:
            async with LinktorAsyncClient(url, api_key="k", max_retries=1, retry_delay=0.001) as c:
                with pytest.raises(NetworkError) as raised:
                    await c.contacts.list()
                return raised.value

        error = asyncio.run(run())
        assert error.code == "NETWORK_ERROR"
        return
    assert caught.value.status_code is None


@pytest.mark.parametrize("mode", MODES)
def test_timeout(mode: str) -> None:
    with RawServer([], silent=True) as server:
        harness = _raw_client(server, mode, timeout=0.1)
        try:
            with pytest.raises(linktor.TimeoutError) as caught:
                harness.client.contacts.list()
        finally:
            harness.close()
    assert caught.value.code == "TIMEOUT_ERROR"
    assert not isinstance(caught.value, httpx.TimeoutException)
    assert server.hits == 1  # max_retries=0: one attempt


# -- credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_token_refresh_on_401(emulator: Emulator, dialect: str, mode: str) -> None:
    fresh = open_client(emulator, dialect, "sync", login=False, api_key=None)
    token = fresh.client.auth.login(DEMO_EMAIL, DEMO_PASSWORD).access_token
    fresh.close()
    calls: list[int] = []

    def refresh() -> str:
        calls.append(1)
        return token

    harness = open_client(
        emulator,
        dialect,
        mode,
        login=False,
        api_key=None,
        access_token="expired.jwt.token",
        on_token_refresh=refresh,
    )
    try:
        assert harness.client.auth.get_current_user().email == DEMO_EMAIL
        assert harness.client.contacts.get("ct_demo_1").name == "Ada Lovelace"
    finally:
        harness.close()
    assert calls == [1]


@pytest.mark.parametrize("mode", MODES)
def test_credential_headers(emulator: Emulator, mode: str) -> None:
    with recorded_client(emulator, "sdk", mode, headers={"X-Team": "qa"}) as (harness, recorder):
        harness.client.contacts.get("ct_demo_1")
        harness.client.auth.login(DEMO_EMAIL, DEMO_PASSWORD)
        harness.client.contacts.get("ct_demo_1")
    with_key, login, with_token = recorder.requests
    assert with_key.headers["x-api-key"] == "lk_demo" and "authorization" not in with_key.headers
    assert with_key.headers["x-team"] == "qa"
    assert "content-type" not in with_key.headers  # a GET has no body
    assert login.headers["content-type"] == "application/json"
    assert with_token.headers["authorization"].startswith("Bearer ey")
    assert "x-api-key" not in with_token.headers  # the latest credential replaces the other
    with recorded_client(emulator, "server", mode) as (harness, recorder):
        harness.client.contacts.get("ct_demo_1")
    login, *after = recorder.requests
    assert login.url.path.endswith("/auth/login") and "authorization" not in login.headers
    assert all("x-api-key" not in r.headers for r in recorder.requests)
    assert after and all(r.headers["authorization"].startswith("Bearer ey") for r in after)


async def test_async_stream_verb() -> None:
    events = b'data: {"delta": "He"}\n\n: comment\n\ndata: {"delta": "llo"}\n\ndata: [DONE]\n\n'
    answers = [
        (200, "text/event-stream", events),
        (503, "application/json", b'{"code": "BUSY", "message": "try later"}'),
    ]
    with RawServer(answers) as server:
        async with LinktorAsyncClient(server.url, api_key="k") as client:
            chunks = [chunk async for chunk in client._http.stream("/ai/completions", {"a": 1})]
            with pytest.raises(ServerError) as caught:
                async for _ in client._http.stream("/ai/completions", {"a": 1}):
                    pass
    assert chunks == [{"delta": "He"}, {"delta": "llo"}]
    assert caught.value.status_code == 503 and caught.value.message == "try later"
    assert server.request_lines[0] == "POST /ai/completions HTTP/1.1"
