"""``linktor.utils.webhook`` (the official helpers, on the Rust verifier), the replay guard, and
the Starlette/FastAPI and Flask helpers of ``linktor.webhooks``. Expected signatures are computed
with the standard library, never with the code under test."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from typing import Annotated, Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import linktor
from linktor.types.webhook import UnknownWebhookEvent, WebhookEvent, WebhookEventType
from linktor.utils.errors import (
    WebhookError,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookSignatureError,
)
from linktor.utils.webhook import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    compute_signature,
    construct_event,
    create_webhook_handler,
    is_event_type,
    verify_webhook,
    verify_webhook_signature,
)

SECRET = "whsec-линктор-secret"
EVENT = {
    "id": "evt_1",
    "type": "message.received",
    "timestamp": "2024-01-15T10:30:00Z",
    "tenantId": "t_1",
    "data": {"message": {"id": "m_1", "text": "olá"}, "conversationId": "c_1"},
}
BODY = json.dumps(EVENT, ensure_ascii=False).encode()


def reference_signature(body: bytes | str, secret: str = SECRET) -> str:
    data = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


SIG = reference_signature(BODY)


def now() -> int:
    return int(time.time())


def signed(body: bytes = BODY, secret: str = SECRET, *, ts: int | None = None) -> dict[str, str]:
    headers = {"X-Linktor-Signature": reference_signature(body, secret)}
    if ts is not None:
        headers["X-Linktor-Timestamp"] = str(ts)
    return headers


def event_body(**changes: Any) -> bytes:
    event = dict(EVENT)
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return json.dumps(event).encode()


# ------------------------------------------------------------------ constants and signatures


def test_constants_and_top_level_names() -> None:
    assert (SIGNATURE_HEADER, TIMESTAMP_HEADER, DEFAULT_TOLERANCE) == (
        "x-linktor-signature",
        "x-linktor-timestamp",
        300,
    )
    assert linktor.verify_webhook_signature is verify_webhook_signature
    assert linktor.construct_event is construct_event


def test_compute_signature_known_answer() -> None:
    fox = b"The quick brown fox jumps over the lazy dog"
    assert compute_signature(fox, "key") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    assert compute_signature(BODY, SECRET) == SIG
    assert compute_signature(BODY.decode(), SECRET) == SIG


def test_verify_signature_accepts_the_signature() -> None:
    assert verify_webhook_signature(BODY, SIG, SECRET) is True
    assert verify_webhook_signature(BODY.decode(), SIG, SECRET) is True


@pytest.mark.parametrize(
    ("payload", "signature", "secret"),
    [
        pytest.param(BODY + b" ", SIG, SECRET, id="tampered-body"),
        pytest.param(BODY, SIG, "other", id="wrong-secret"),
        pytest.param(BODY, SIG.upper(), SECRET, id="uppercase"),
        pytest.param(BODY, "sha256=" + SIG, SECRET, id="sha256-prefix"),
        pytest.param(BODY, f" {SIG} ", SECRET, id="whitespace"),
        pytest.param(BODY, "", SECRET, id="empty-signature"),
        pytest.param(BODY, SIG, "", id="empty-secret"),
        pytest.param(BODY, SIG[:-1], SECRET, id="truncated"),
        # The official function raised TypeError here; a non-ASCII signature simply fails.
        pytest.param(BODY, SIG[:-1] + "é", SECRET, id="non-ascii"),
    ],
)
def test_verify_signature_rejects(payload: bytes, signature: str, secret: str) -> None:
    assert verify_webhook_signature(payload, signature, secret) is False


@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=40))
def test_signatures_match_the_standard_library(body: bytes, secret: str) -> None:
    try:
        key = secret.encode()
    except UnicodeEncodeError:
        return  # lone surrogates: not a secret anyone can configure
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    assert compute_signature(body, secret) == expected
    assert verify_webhook_signature(body, expected, secret) is True
    assert verify_webhook_signature(body + b"x", expected, secret) is False


@given(signature=st.text(max_size=80))
def test_arbitrary_signature_text_is_a_plain_no(signature: str) -> None:
    assert verify_webhook_signature(BODY, signature, SECRET) is (signature == SIG)


# ------------------------------------------------------------------ verify_webhook


@pytest.mark.parametrize(
    "name",
    ["X-Linktor-Signature", "x-linktor-signature", "X-LINKTOR-SIGNATURE", "x-Linktor-signature"],
)
def test_verify_webhook_header_names_in_any_case(name: str) -> None:
    assert verify_webhook(BODY, {name: SIG}, SECRET) is True
    assert verify_webhook(BODY, {name: SIG, "x-linktor-TIMESTAMP": str(now())}, SECRET) is True


def test_verify_webhook_header_containers() -> None:
    fresh = str(now())
    assert verify_webhook(
        BODY, httpx.Headers({"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": fresh}), SECRET
    )
    assert verify_webhook(
        BODY,
        [(b"x-linktor-signature", SIG.encode()), (b"x-linktor-timestamp", fresh.encode())],
        SECRET,
    )
    assert verify_webhook(BODY, [("X-Linktor-Signature", SIG)], SECRET)


def test_verify_webhook_go_style_signature_argument() -> None:
    assert verify_webhook(BODY, SIG, SECRET) is True
    assert verify_webhook(BODY, SIG.encode(), SECRET) is True
    assert verify_webhook(BODY, "0" * 64, SECRET) is False


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (0, True),
        (-299, True),
        (299, True),
        (-302, False),
        (302, False),
        (-86400, False),
        (86400, False),
    ],
)
def test_verify_webhook_timestamp_window(offset: int, expected: bool) -> None:
    # A second away from the 300 s edges, so the clock ticking mid-test cannot flip the answer
    # (the exact edges are checked against a fixed ``now`` in test_webhooks_linktor.py).
    assert verify_webhook(BODY, signed(ts=now() + offset), SECRET) is expected


@pytest.mark.parametrize(
    "timestamp",
    ["1700000000.5", "abc", str(int(time.time() * 1000)), "1e9", "0x10"],
)
def test_verify_webhook_bad_timestamps(timestamp: str) -> None:
    assert verify_webhook(BODY, {**signed(), "X-Linktor-Timestamp": timestamp}, SECRET) is False


def test_verify_webhook_custom_tolerance_and_empty_timestamp() -> None:
    old = now() - 1000
    assert verify_webhook(BODY, signed(ts=old), SECRET) is False
    assert verify_webhook(BODY, signed(ts=old), SECRET, tolerance=2000) is True
    assert verify_webhook(BODY, {**signed(), "X-Linktor-Timestamp": ""}, SECRET) is True


def test_verify_webhook_missing_or_wrong() -> None:
    assert verify_webhook(BODY, {}, SECRET) is False
    assert verify_webhook(BODY, {"X-Linktor-Timestamp": str(now())}, SECRET) is False
    assert verify_webhook(BODY, signed(), "wrong") is False
    assert verify_webhook(BODY + b"!", signed(), SECRET) is False
    assert verify_webhook(BODY, {"X-Linktor-Signature": "sha256=" + SIG}, SECRET) is False


def test_verify_webhook_with_replay_guard() -> None:
    guard = ReplayGuard()
    assert verify_webhook(BODY, signed(), SECRET, replay_guard=guard) is True
    assert verify_webhook(BODY, signed(), SECRET, replay_guard=guard) is False
    other = event_body(id="evt_2")
    assert verify_webhook(other, signed(other), SECRET, replay_guard=guard) is True
    # A forged request is never recorded, so it cannot evict or block anything.
    assert (
        verify_webhook(b"forged", {"X-Linktor-Signature": "0" * 64}, SECRET, replay_guard=guard)
        is False
    )
    assert len(guard) == 2


# ------------------------------------------------------------------ construct_event


def test_construct_event_official_form() -> None:
    event = construct_event(BODY, signed(ts=now()), SECRET)
    assert isinstance(event, WebhookEvent)
    assert event.type is WebhookEventType.MESSAGE_RECEIVED and event.type == "message.received"
    assert event.id == "evt_1" and event.tenant_id == "t_1"
    assert event.timestamp == datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)
    assert event.data["message"]["text"] == "olá"
    assert construct_event(BODY.decode(), signed(), SECRET, 300) == event


@pytest.mark.parametrize(
    "timestamp",
    [
        None,
        lambda: now(),
        lambda: str(now()),
        lambda: str(now()).encode(),
        lambda: datetime.now(timezone.utc),
    ],
)
def test_construct_event_keyword_form(timestamp: Any) -> None:
    ts = timestamp() if callable(timestamp) else timestamp
    event = construct_event(BODY, signature=SIG, timestamp=ts, secret=SECRET)
    assert event.id == "evt_1"


def test_construct_event_keyword_form_checks_the_timestamp() -> None:
    with pytest.raises(WebhookSignatureError) as info:
        construct_event(BODY, signature=SIG, timestamp=now() - 1000, secret=SECRET)
    assert info.value.reason == "invalid_timestamp"
    with pytest.raises(WebhookSignatureError):
        construct_event(BODY, signature=SIG, timestamp=float(now()) + 0.5, secret=SECRET)
    assert construct_event(
        BODY, signature=SIG, timestamp=now() - 1000, secret=SECRET, tolerance=2000
    )


def test_construct_event_argument_errors() -> None:
    with pytest.raises(TypeError, match="secret"):
        construct_event(BODY, signed())
    with pytest.raises(TypeError, match="either"):
        construct_event(BODY, signed(), SECRET, signature=SIG)
    with pytest.raises(TypeError, match="headers"):
        construct_event(BODY, secret=SECRET)
    with pytest.raises(TypeError, match="timestamp"):
        construct_event(BODY, signature=SIG, timestamp=True, secret=SECRET)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_signature"),
        ({"X-Linktor-Signature": ""}, "missing_signature"),
        ({"X-Linktor-Signature": "0" * 64}, "invalid_signature"),
        ({"X-Linktor-Signature": "sha256=" + SIG}, "invalid_signature"),
        ({"X-Linktor-Signature": SIG.upper()}, "invalid_signature"),
        ({"X-Linktor-Signature": SIG[:-1] + "é"}, "invalid_signature"),
        ({"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": "1"}, "invalid_timestamp"),
        ({"X-Linktor-Signature": SIG, "X-Linktor-Timestamp": "soon"}, "invalid_timestamp"),
        (
            [(b"x-linktor-signature", SIG.encode()), (b"x-linktor-timestamp", b"1")],
            "invalid_timestamp",
        ),
    ],
)
def test_construct_event_signature_failures(headers: Any, reason: str) -> None:
    with pytest.raises(WebhookSignatureError) as info:
        construct_event(BODY, headers, SECRET)
    error = info.value
    assert isinstance(error, ValueError)
    assert str(error) == "Webhook signature verification failed"
    assert error.reason == reason and error.status_code == 401


def test_construct_event_wrong_secret() -> None:
    with pytest.raises(ValueError, match="signature verification failed"):
        construct_event(BODY, signed(), "other-secret")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"\xff\xfe{}", "Invalid JSON payload", id="not-utf8"),
        pytest.param(b"{not json", "Invalid JSON payload", id="not-json"),
        pytest.param(b"", "Invalid JSON payload", id="empty"),
        pytest.param(b"[1, 2]", "Invalid webhook event structure", id="array"),
        pytest.param(b'"text"', "Invalid webhook event structure", id="string"),
        pytest.param(event_body(id=None), "Invalid webhook event structure", id="no-id"),
        pytest.param(event_body(id=""), "Invalid webhook event structure", id="empty-id"),
        pytest.param(event_body(type=None), "Invalid webhook event structure", id="no-type"),
        pytest.param(
            event_body(timestamp=None), "Invalid webhook event structure", id="no-timestamp"
        ),
        pytest.param(
            event_body(tenantId=None), "Invalid webhook event structure: tenantId", id="no-tenant"
        ),
        pytest.param(event_body(data=None), "Invalid webhook event structure: data", id="no-data"),
        pytest.param(
            event_body(timestamp="yesterday"),
            "Invalid webhook event structure: timestamp",
            id="bad-ts",
        ),
        pytest.param(event_body(type=5), "Invalid webhook event structure: type", id="type-number"),
    ],
)
def test_construct_event_payload_errors(body: bytes, message: str) -> None:
    with pytest.raises(WebhookPayloadError) as info:
        construct_event(body, signed(body), SECRET)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(message)
    assert info.value.status_code == 400


def test_construct_event_accepts_snake_case_tenant() -> None:
    body = event_body(tenantId=None)[:-1] + b', "tenant_id": "t_9"}'
    assert construct_event(body, signed(body), SECRET).tenant_id == "t_9"


def test_unknown_event_types_pass_through() -> None:
    body = json.dumps(
        {
            "id": "evt_9",
            "type": "message.inbound",
            "timestamp": "2024-01-15T10:30:00Z",
            "data": [1, 2],
        }
    ).encode()
    event = construct_event(body, signed(body), SECRET)
    assert isinstance(event, UnknownWebhookEvent) and isinstance(event, WebhookEvent)
    assert event.type == "message.inbound" and event.data == [1, 2] and event.tenant_id is None
    assert is_event_type(event, "message.inbound")
    assert not is_event_type(event, WebhookEventType.MESSAGE_RECEIVED)


def test_is_event_type() -> None:
    event = construct_event(BODY, signed(), SECRET)
    assert is_event_type(event, "message.received")
    assert is_event_type(event, WebhookEventType.MESSAGE_RECEIVED)
    assert not is_event_type(event, "message.sent")
    assert is_event_type(EVENT, "message.received")


def test_construct_event_with_replay_guard() -> None:
    guard = ReplayGuard()
    construct_event(BODY, signed(), SECRET, replay_guard=guard)
    with pytest.raises(WebhookReplayError) as info:
        construct_event(BODY, signed(ts=now()), SECRET, replay_guard=guard)  # a fresh timestamp
    assert info.value.status_code == 409 and isinstance(info.value, ValueError)
    bad = b"[]"
    with pytest.raises(WebhookPayloadError):
        construct_event(bad, signed(bad), SECRET, replay_guard=guard)
    assert len(guard) == 1  # only parsed events are remembered


@given(body=st.binary(max_size=300))
def test_construct_event_on_any_signed_body_raises_only_payload_errors(body: bytes) -> None:
    try:
        event = construct_event(body, signed(body), SECRET)
    except WebhookPayloadError:
        return
    assert isinstance(event, WebhookEvent)


# ------------------------------------------------------------------ create_webhook_handler


def test_handler_dispatches_and_answers_200() -> None:
    seen: list[Any] = []
    handle = create_webhook_handler(SECRET, {WebhookEventType.MESSAGE_RECEIVED: seen.append})
    assert handle(BODY, signed()) == (200, None)
    assert [e.id for e in seen] == ["evt_1"]
    by_string = create_webhook_handler(SECRET, {"message.received": seen.append})
    assert by_string(BODY, signed()) == (200, None) and len(seen) == 2
    assert create_webhook_handler(SECRET, {})(BODY, signed()) == (200, None)


def test_handler_error_statuses() -> None:
    handle = create_webhook_handler(SECRET, {})
    assert handle(BODY, {}) == (400, "Webhook signature verification failed")
    assert handle(b"[]", signed(b"[]")) == (
        400,
        "Invalid webhook event structure",
    )  # officially a 500
    assert handle(b"{", signed(b"{"))[0] == 400

    def raises_value_error(event: Any) -> None:
        raise ValueError("bad data")

    def raises_runtime_error(event: Any) -> None:
        raise RuntimeError("handler broke")

    assert create_webhook_handler(SECRET, {"message.received": raises_value_error})(
        BODY, signed()
    ) == (400, "bad data")
    assert create_webhook_handler(SECRET, {"message.received": raises_runtime_error})(
        BODY, signed()
    ) == (500, "handler broke")


def test_handler_unknown_type_dispatched_by_string() -> None:
    body = event_body(type="conversation.escalated")
    seen: list[Any] = []
    handle = create_webhook_handler(SECRET, {"conversation.escalated": seen.append})
    assert handle(body, signed(body)) == (200, None) and seen[0].type == "conversation.escalated"


def test_handler_with_replay_guard_forgets_failed_deliveries() -> None:
    guard = ReplayGuard()
    calls: list[int] = []

    def flaky(event: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database down")

    handle = create_webhook_handler(SECRET, {"message.received": flaky}, replay_guard=guard)
    assert handle(BODY, signed()) == (500, "database down")
    assert handle(BODY, signed()) == (200, None)  # the retry is processed
    assert handle(BODY, signed()) == (400, "Webhook already received (replayed signature)")
    assert len(calls) == 2


# ------------------------------------------------------------------ ReplayGuard


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_guard_window_expiry() -> None:
    clock = FakeClock()
    guard = ReplayGuard(window=10, clock=clock)
    assert guard.remember("a") is True
    assert guard.remember("a") is False and "a" in guard and guard.seen("a")
    clock.now += 9.9
    assert guard.remember("a") is False
    clock.now += 0.2
    assert "a" not in guard and len(guard) == 0
    assert guard.remember("a") is True


def test_guard_is_bounded_and_forgets_oldest() -> None:
    guard = ReplayGuard(max_entries=3, clock=FakeClock())
    for name in "abcd":
        assert guard.remember(name)
    assert len(guard) == 3 and "a" not in guard and "d" in guard
    guard.forget("d")
    guard.forget("missing")
    assert "d" not in guard and len(guard) == 2
    guard.clear()
    assert len(guard) == 0
    assert repr(guard) == "ReplayGuard(window=600, max_entries=3)"


@pytest.mark.parametrize(
    ("window", "max_entries"), [(0, 10), (-1, 10), (float("nan"), 10), (10, 0)]
)
def test_guard_rejects_bad_settings(window: float, max_entries: int) -> None:
    with pytest.raises(ValueError):
        ReplayGuard(window=window, max_entries=max_entries)


def test_guard_is_thread_safe() -> None:
    guard = ReplayGuard()
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for i in range(200):
            outcome = guard.remember(f"sig-{i}")
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 200 and len(guard) == 200


# ------------------------------------------------------------------ framework helpers


def test_helpers_import_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, linktor.webhooks\n"
        "assert not {'starlette', 'flask', 'fastapi'} & set(sys.modules), sys.modules.keys()\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


starlette = pytest.importorskip("starlette")


def starlette_client(app: Any, **options: Any) -> Any:
    """Starlette's TestClient. Recent Starlette warns on import that it would rather drive
    ``httpx2`` than ``httpx``; only that notice is silenced."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    return TestClient(app, **options)


def starlette_app(**endpoint_options: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from linktor.webhooks import (
        starlette_webhook_endpoint,
        verify_starlette_request,
        webhook_event_dependency,
    )

    dependency = webhook_event_dependency(SECRET)

    async def manual(request: Request) -> JSONResponse:
        try:
            event = await verify_starlette_request(request, SECRET)
        except WebhookError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status_code or 400)
        return JSONResponse({"id": event.id, "type": str(event.type)})

    async def with_dependency(request: Request) -> JSONResponse:
        event = await dependency(request)
        return JSONResponse({"id": event.id})

    return Starlette(
        routes=[
            Route(
                "/hook", starlette_webhook_endpoint(SECRET, **endpoint_options), methods=["POST"]
            ),
            Route("/manual", manual, methods=["POST"]),
            Route("/dependency", with_dependency, methods=["POST"]),
        ]
    )


def test_starlette_endpoint() -> None:
    seen: list[Any] = []

    async def on_message(event: Any) -> None:
        await asyncio.sleep(0)
        seen.append(event)

    guard = ReplayGuard()
    app = starlette_app(handlers={"message.received": on_message}, replay_guard=guard)
    with starlette_client(app) as client:
        ok = client.post("/hook", content=BODY, headers=signed(ts=now()))
        assert (ok.status_code, ok.json()) == (200, {"received": True})
        assert seen[0].id == "evt_1"
        replay = client.post("/hook", content=BODY, headers=signed(ts=now()))
        assert replay.status_code == 409 and replay.json()["code"] == "WEBHOOK_REPLAYED"
        bad = client.post("/hook", content=BODY, headers={"X-Linktor-Signature": "0" * 64})
        assert bad.status_code == 401
        assert bad.json() == {
            "error": "Webhook signature verification failed",
            "code": "WEBHOOK_SIGNATURE_INVALID",
        }
        stale = client.post(
            "/hook", content=event_body(id="e2"), headers=signed(event_body(id="e2"), ts=1)
        )
        assert stale.status_code == 401
        junk = client.post("/hook", content=b"[]", headers=signed(b"[]"))
        assert junk.status_code == 400 and junk.json()["code"] == "WEBHOOK_PAYLOAD_INVALID"


def test_starlette_endpoint_handler_failure_is_retried() -> None:
    calls: list[int] = []

    def flaky(event: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("down")

    app = starlette_app(handlers={"message.received": flaky}, replay_guard=ReplayGuard())
    with starlette_client(app, raise_server_exceptions=False) as client:
        assert client.post("/hook", content=BODY, headers=signed()).status_code == 500
        assert client.post("/hook", content=BODY, headers=signed()).status_code == 200
    assert len(calls) == 2


def test_starlette_manual_and_dependency() -> None:
    with starlette_client(starlette_app(handlers={})) as client:
        ok = client.post("/manual", content=BODY, headers=signed())
        assert ok.json() == {"id": "evt_1", "type": "message.received"}
        assert client.post("/manual", content=BODY, headers={}).status_code == 401
        assert client.post("/dependency", content=BODY, headers=signed()).json() == {"id": "evt_1"}
        refused = client.post("/dependency", content=b"{}", headers=signed(b"{}"))
        assert refused.status_code == 400
        assert refused.text == "Invalid webhook event structure"


def test_dependency_declares_the_request_for_fastapi() -> None:
    from starlette.requests import Request

    from linktor.webhooks import webhook_event_dependency

    dependency = webhook_event_dependency(SECRET)
    assert dependency.__annotations__["request"] is Request


def test_fastapi_dependency() -> None:
    fastapi = pytest.importorskip("fastapi")
    from linktor.webhooks import webhook_event_dependency

    app = fastapi.FastAPI()
    verified = webhook_event_dependency(SECRET)

    @app.post("/hook")
    async def receive(event: Annotated[Any, fastapi.Depends(verified)]) -> dict[str, str]:
        return {"id": event.id}

    with starlette_client(app) as client:
        assert client.post("/hook", content=BODY, headers=signed()).json() == {"id": "evt_1"}
        assert client.post("/hook", content=BODY).status_code == 401


def test_flask_decorator_and_function() -> None:
    flask = pytest.importorskip("flask")

    from linktor.webhooks import flask_webhook, verify_flask_request

    app = flask.Flask(__name__)
    guard = ReplayGuard()
    seen: list[Any] = []

    @app.post("/hook")
    @flask_webhook(SECRET, replay_guard=guard)
    def hook(event: Any) -> None:
        seen.append(event)

    @app.post("/custom/<name>")
    @flask_webhook(SECRET)
    def custom(event: Any, name: str) -> Any:
        return {"id": event.id, "name": name}, 202

    @app.post("/manual")
    def manual() -> Any:
        try:
            event = verify_flask_request(secret=SECRET)
        except WebhookError as exc:
            return {"error": exc.message}, exc.status_code
        return {"type": str(event.type)}

    client = app.test_client()
    ok = client.post("/hook", data=BODY, headers=signed(ts=now()))
    assert (ok.status_code, ok.get_json()) == (200, {"received": True})
    assert seen[0].id == "evt_1"
    assert client.post("/hook", data=BODY, headers=signed()).status_code == 409
    bad = client.post("/hook", data=BODY, headers={"X-Linktor-Signature": SIG.upper()})
    assert bad.status_code == 401 and bad.get_json()["code"] == "WEBHOOK_SIGNATURE_INVALID"
    assert client.post("/hook", data=b"[]", headers=signed(b"[]")).status_code == 400
    custom_answer = client.post("/custom/x", data=BODY, headers=signed())
    assert (custom_answer.status_code, custom_answer.get_json()) == (
        202,
        {"id": "evt_1", "name": "x"},
    )
    assert client.post("/manual", data=BODY, headers=signed()).get_json() == {
        "type": "message.received"
    }
    assert client.post("/manual", data=BODY).status_code == 401
    with app.test_request_context("/x", method="POST", data=BODY, headers=signed()):
        assert verify_flask_request(flask.request, SECRET).id == "evt_1"
    with pytest.raises(TypeError, match="secret"):
        verify_flask_request(None)
