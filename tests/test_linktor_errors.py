"""``linktor.utils.errors``: the official hierarchy and constructors, and the mapping of every error
response shape (SDK protocol and self-hosted server) to them."""

from __future__ import annotations

import pickle
import time
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linktor.utils.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    LinktorError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    ValidationError,
    WebhookError,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookSignatureError,
    WebSocketError,
    create_error_from_response,
    is_retryable_error,
)

# ------------------------------------------------------------------ classes


@pytest.mark.parametrize(
    ("error", "code", "status", "message"),
    [
        (AuthenticationError(), "AUTHENTICATION_ERROR", 401, "Authentication failed"),
        (AuthorizationError(), "AUTHORIZATION_ERROR", 403, "Access denied"),
        (NotFoundError("Conversation"), "NOT_FOUND", 404, "Conversation not found"),
        (
            NotFoundError("Conversation", "c_1"),
            "NOT_FOUND",
            404,
            "Conversation with id 'c_1' not found",
        ),
        (ValidationError("bad"), "VALIDATION_ERROR", 400, "bad"),
        (RateLimitError(), "RATE_LIMIT_ERROR", 429, "Rate limit exceeded"),
        (ConflictError("dup"), "CONFLICT_ERROR", 409, "dup"),
        (ServerError(), "SERVER_ERROR", 500, "Internal server error"),
        (NetworkError(), "NETWORK_ERROR", None, "Network error"),
        (TimeoutError(), "TIMEOUT_ERROR", 408, "Request timeout"),
        (WebSocketError("closed"), "WEBSOCKET_ERROR", None, "closed"),
        (LinktorError("boom"), "UNKNOWN_ERROR", None, "boom"),
    ],
)
def test_defaults(error: LinktorError, code: str, status: int | None, message: str) -> None:
    assert isinstance(error, LinktorError)
    assert (error.code, error.status_code, error.status, error.message) == (
        code,
        status,
        status,
        message,
    )
    assert error.request_id is None
    assert error.details == ({"retry_after": None} if isinstance(error, RateLimitError) else {})
    assert error.args == (message,)
    assert str(error) == f"[{code}] {message}"
    assert (
        repr(error)
        == f"{type(error).__name__}(code={code!r}, message={message!r}, status_code={status!r})"
    )


def test_base_constructor_positional() -> None:
    error = LinktorError("m", "CODE", 418, "rid", {"k": "v"})
    assert (error.message, error.code, error.status_code, error.request_id) == (
        "m",
        "CODE",
        418,
        "rid",
    )
    assert error.details == {"k": "v"}
    assert str(error) == "[CODE] m (request_id: rid)"


def test_subclass_constructors_positional() -> None:
    assert AuthenticationError("no", "r1").request_id == "r1"
    not_found = NotFoundError("Contact", "k1", "r2")
    assert (not_found.resource, not_found.resource_id, not_found.request_id) == (
        "Contact",
        "k1",
        "r2",
    )
    validation = ValidationError("bad", {"field": "name"}, "r3")
    assert validation.details == {"field": "name"} and validation.request_id == "r3"
    limited = RateLimitError("slow down", 30, "r4")
    assert limited.retry_after == 30 and limited.details == {"retry_after": 30}
    assert NetworkError("down", {"errno": 111}).details == {"errno": 111}
    assert WebSocketError("x", {"code": 1006}).details == {"code": 1006}


def test_builtin_names_are_not_shadowed_outside() -> None:
    import builtins

    assert not issubclass(TimeoutError, builtins.TimeoutError)
    assert TimeoutError is not builtins.TimeoutError


@pytest.mark.parametrize(
    "error",
    [
        LinktorError("m", "C", 418, "rid", {"a": 1}, body={"x": 1}, server_code="S"),
        NotFoundError("Flow", "f1", "rid"),
        RateLimitError("slow", 2.5, "rid"),
        ValidationError("bad", {"f": "x"}, "rid", status_code=422),
        ServerError("down", "rid", status_code=503),
        NetworkError("n", {"e": 1}),
        WebSocketError("w"),
        TimeoutError(),
        WebhookSignatureError(reason="missing_signature"),
        WebhookPayloadError("Invalid webhook event structure", {"errors": []}),
        WebhookReplayError(),
    ],
)
def test_errors_pickle(error: LinktorError) -> None:
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error)
    assert clone.__dict__ == error.__dict__
    assert clone.args == error.args
    assert str(clone) == str(error)


def test_webhook_errors_are_value_errors_with_plain_messages() -> None:
    error = WebhookSignatureError()
    assert isinstance(error, ValueError) and isinstance(error, WebhookError)
    assert str(error) == "Webhook signature verification failed"
    assert (error.status_code, error.code, error.reason) == (
        401,
        "WEBHOOK_SIGNATURE_INVALID",
        "invalid_signature",
    )
    assert WebhookReplayError().status_code == 409
    assert WebhookPayloadError("Invalid JSON payload: x").status_code == 400
    assert repr(WebhookReplayError()).startswith("WebhookReplayError(code='WEBHOOK_REPLAYED'")


# ------------------------------------------------------------------ status mapping


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (400, ValidationError, "VALIDATION_ERROR"),
        (401, AuthenticationError, "AUTHENTICATION_ERROR"),
        (403, AuthorizationError, "AUTHORIZATION_ERROR"),
        (404, NotFoundError, "NOT_FOUND"),
        (408, TimeoutError, "TIMEOUT_ERROR"),
        (409, ConflictError, "CONFLICT_ERROR"),
        (422, ValidationError, "VALIDATION_ERROR"),
        (429, RateLimitError, "RATE_LIMIT_ERROR"),
        (500, ServerError, "SERVER_ERROR"),
        (502, ServerError, "SERVER_ERROR"),
        (503, ServerError, "SERVER_ERROR"),
        (599, ServerError, "SERVER_ERROR"),
    ],
)
def test_status_mapping(status: int, cls: type[LinktorError], code: str) -> None:
    error = create_error_from_response(status, {"message": "why", "code": "SRV"}, "rid")
    assert type(error) is cls
    assert error.code == code
    assert error.status_code == status  # the status received, 502/503 included
    assert error.message == "why"
    assert error.server_code == "SRV"
    assert error.request_id == "rid"


@pytest.mark.parametrize(("status", "code"), [(402, "QUOTA_EXCEEDED"), (418, None), (451, "X")])
def test_other_statuses_are_plain_linktor_errors(status: int, code: str | None) -> None:
    body = {"message": "m"} | ({"code": code} if code else {})
    error = create_error_from_response(status, body)
    assert type(error) is LinktorError
    assert error.code == (code or "UNKNOWN_ERROR")
    assert error.status_code == status


def test_not_found_keeps_the_server_message() -> None:
    error = create_error_from_response(404, {"message": "conversation not found"})
    assert isinstance(error, NotFoundError) and error.message == "conversation not found"
    assert error.resource == "Resource" and error.resource_id is None
    assert create_error_from_response(404, {}).message == "Resource not found"


# ------------------------------------------------------------------ body shapes

DETAILS = {"field": "email"}


@pytest.mark.parametrize(
    ("body", "message", "server_code", "details"),
    [
        pytest.param(
            {"code": "TOKEN_INVALID", "message": "invalid or expired token", "details": None},
            "invalid or expired token",
            "TOKEN_INVALID",
            {},
            id="top-level",
        ),
        pytest.param(
            {
                "success": False,
                "error": {"code": "VALIDATION_ERROR", "message": "bad", "details": DETAILS},
            },
            "bad",
            "VALIDATION_ERROR",
            DETAILS,
            id="success-false-nested",
        ),
        pytest.param(
            {"error": {"code": "NOT_FOUND", "message": "gone"}},
            "gone",
            "NOT_FOUND",
            {},
            id="nested",
        ),
        pytest.param(
            {"error": "send_to is required"}, "send_to is required", None, {}, id="error-text"
        ),
        pytest.param(
            {"error": "invalid_request", "message": "name is required"},
            "name is required",
            "invalid_request",
            {},
            id="error-code-and-message",
        ),
        pytest.param(
            {"message": "404 page not found"}, "404 page not found", None, {}, id="text-as-message"
        ),
        pytest.param("404 page not found", "404 page not found", None, {}, id="raw-text"),
        pytest.param(
            b'{"error": {"message": "m", "code": "C"}}', "m", "C", {}, id="raw-json-bytes"
        ),
        pytest.param('{"message": "m"}', "m", None, {}, id="raw-json-text"),
        pytest.param(b"\xff\xfe not utf-8", "\ufffd\ufffd not utf-8", None, {}, id="raw-bad-bytes"),
        pytest.param(["a", "b"], "Unknown error", None, {}, id="json-array"),
        pytest.param("", "Unknown error", None, {}, id="empty-text"),
        pytest.param(None, "Unknown error", None, {}, id="none"),
        pytest.param(42, "Unknown error", None, {}, id="number"),
        pytest.param({}, "Unknown error", None, {}, id="empty-object"),
        pytest.param({"message": "  "}, "Unknown error", None, {}, id="blank-message"),
        pytest.param({"message": {"text": "x"}}, '{"text": "x"}', None, {}, id="object-message"),
        pytest.param(
            {"message": "m", "details": "why"}, "m", None, {"detail": "why"}, id="text-details"
        ),
        pytest.param(
            {"message": "top", "error": {"details": DETAILS}},
            "top",
            None,
            DETAILS,
            id="nested-details-only",
        ),
    ],
)
def test_body_shapes(
    body: Any, message: str, server_code: str | None, details: dict[str, Any]
) -> None:
    for status in (400, 401, 418, 500):
        error = create_error_from_response(status, body)
        assert error.message == message, status
        assert error.server_code == server_code
        assert error.details == details
        assert error.body is body


def test_request_id_sources() -> None:
    headers = httpx.Headers({"X-Request-ID": "from-header"})
    body = {"message": "m", "requestId": "from-body"}
    assert create_error_from_response(500, body, "given", headers=headers).request_id == "given"
    assert create_error_from_response(500, body, headers=headers).request_id == "from-header"
    assert (
        create_error_from_response(500, body, headers={"x-request-id": "lower"}).request_id
        == "lower"
    )
    assert create_error_from_response(500, body).request_id == "from-body"
    assert create_error_from_response(500, {"request_id": "snake"}).request_id == "snake"
    assert create_error_from_response(500, {}).request_id is None


# ------------------------------------------------------------------ rate limits


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ({"retry_after": 30}, None, 30),
        ({"retryAfter": 12}, None, 12),
        ({"error": {"message": "m", "retry_after": 5}}, None, 5),
        ({}, {"Retry-After": "7"}, 7),
        ({}, {"retry-after": "1.5"}, 1.5),
        ({}, {"Retry-After-Ms": "250"}, 0.25),
        ({"retry_after": 30}, {"Retry-After": "7"}, 7),
        ({"retry_after": 30}, {"Retry-After": "soon"}, 30),
        ({}, {"Retry-After": "-3"}, None),
        ({}, {"Retry-After": "nan"}, None),
        ({}, {"X-RateLimit-Limit": "100"}, None),
        ({}, None, None),
    ],
)
def test_retry_after(body: dict[str, Any], headers: dict[str, str] | None, expected: Any) -> None:
    error = create_error_from_response(429, body, headers=headers)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == expected
    assert error.details["retry_after"] == expected


def test_retry_after_http_date_and_reset() -> None:
    later = formatdate(time.time() + 60, usegmt=True)
    error = create_error_from_response(429, {}, headers={"Retry-After": later})
    assert isinstance(error, RateLimitError) and 50 < error.retry_after <= 60
    past = formatdate(time.time() - 60, usegmt=True)
    error = create_error_from_response(429, {}, headers={"Retry-After": past})
    assert isinstance(error, RateLimitError) and error.retry_after == 0
    reset = str(int(time.time()) + 30)
    error = create_error_from_response(429, {}, headers=httpx.Headers({"X-RateLimit-Reset": reset}))
    assert isinstance(error, RateLimitError) and 25 < error.retry_after <= 30


# ------------------------------------------------------------------ retryable


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RateLimitError(), True),
        (ServerError(), True),
        (ServerError(status_code=503), True),
        (NetworkError(), True),
        (TimeoutError(), True),
        (AuthenticationError(), False),
        (AuthorizationError(), False),
        (NotFoundError("x"), False),
        (ValidationError("x"), False),
        (ConflictError("x"), False),
        (WebSocketError("x"), False),
        (LinktorError("x"), False),
        (ValueError("x"), False),
        (OSError("x"), False),
    ],
)
def test_is_retryable(error: BaseException, retryable: bool) -> None:
    assert is_retryable_error(error) is retryable


# ------------------------------------------------------------------ never crashes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["message", "code", "details", "error", "success", "retry_after", "requestId", "x"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@given(
    status=st.integers(100, 999),
    body=json_values | st.binary(max_size=64) | st.text(max_size=64),
    headers=st.dictionaries(
        st.sampled_from(
            ["Retry-After", "retry-after-ms", "X-RateLimit-Reset", "X-Request-ID", "Other"]
        ),
        st.text(max_size=40),
        max_size=4,
    ),
)
def test_any_response_maps_to_a_linktor_error(
    status: int, body: Any, headers: dict[str, str]
) -> None:
    error = create_error_from_response(status, body, headers=headers)
    assert isinstance(error, LinktorError)
    assert isinstance(error.message, str) and error.message
    assert isinstance(error.details, dict)
    assert error.request_id is None or isinstance(error.request_id, str)
    str(error), repr(error)
    pickle.loads(pickle.dumps(error))
