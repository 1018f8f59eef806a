"""The two Linktor dialects' envelopes, errors and authentication.

``SDK`` is the protocol the official SDKs and the Go documentation assume (mounted at
``/linktor``); ``SERVER`` is the self-hosted server's (mounted at ``/linktor/api/v1``). Route
modules build answers only through these helpers, so each dialect's shapes live in one place.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response

from relaywire.emulator._http import ApiError, json_response
from relaywire.emulator.linktor.store import LinktorStore, Record

__all__ = [
    "ACCESS_TTL",
    "REFRESH_TTL",
    "Dialect",
    "Jwt",
    "Principal",
    "authenticate",
    "created",
    "ok",
    "page",
    "paginate",
    "render_sdk_error",
    "render_server_error",
    "request_id",
]

ACCESS_TTL = 900
REFRESH_TTL = 168 * 3600


class Dialect(enum.Enum):
    SDK = "sdk"
    SERVER = "server"


def request_id(conn: HTTPConnection) -> str:
    return str(conn.scope.get("state", {}).get("request_id", ""))


# -- success ---------------------------------------------------------------------------------------


def ok(dialect: Dialect, data: Any, status: int = 200) -> Response:
    """A single resource: bare for the SDK dialect, ``{"success", "data"}`` for the server."""
    if dialect is Dialect.SDK:
        return json_response(data, status)
    body: dict[str, Any] = {"success": True}
    if data is not None:
        body["data"] = data
    return json_response(body, status)


def created(dialect: Dialect, data: Any) -> Response:
    return ok(dialect, data, 201)


@dataclass(frozen=True)
class Page:
    """A slice of a list and what the client asked for."""

    items: list[Any]
    total: int
    limit: int
    offset: int

    @property
    def page_number(self) -> int:
        return self.offset // self.limit + 1 if self.limit else 1


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400, "VALIDATION_ERROR", f"query parameter {name} must be an integer"
        ) from None
    if not low <= value <= high:
        raise ApiError(400, "VALIDATION_ERROR", f"query parameter {name} must be in {low}..{high}")
    return value


def paginate(
    dialect: Dialect, items: Sequence[Any], params: Mapping[str, str], default_size: int = 20
) -> Page:
    """Slice ``items`` by ``limit``/``offset`` (SDK) or ``page``/``page_size`` (server)."""
    if dialect is Dialect.SDK:
        limit = _int_param(params, "limit", default_size, 1, 1000)
        offset = _int_param(params, "offset", 0, 0, 10**9)
    else:
        limit = _int_param(params, "page_size", default_size, 1, 1000)
        offset = (_int_param(params, "page", 1, 1, 10**9) - 1) * limit
    return Page(list(items[offset : offset + limit]), len(items), limit, offset)


def page(dialect: Dialect, result: Page, *, server_shape: str = "meta") -> Response:
    """A list answer.

    SDK: ``{data, pagination: {total, limit, offset, hasMore}}``. Server: ``server_shape``
    ``"meta"`` gives ``{success, data, meta: {...}}`` (conversations, messages, contacts),
    ``"pagination"`` gives ``{data, pagination: {total, page, page_size, pages}}`` (bots, flows,
    knowledge bases), ``"plain"`` gives ``{success, data}`` (channels)."""
    pages = math.ceil(result.total / result.limit) if result.limit else 0
    if dialect is Dialect.SDK:
        return json_response(
            {
                "data": result.items,
                "pagination": {
                    "total": result.total,
                    "limit": result.limit,
                    "offset": result.offset,
                    "hasMore": result.offset + len(result.items) < result.total,
                },
            }
        )
    if server_shape == "pagination":
        return json_response(
            {
                "data": result.items,
                "pagination": {
                    "total": result.total,
                    "page": result.page_number,
                    "page_size": result.limit,
                    "pages": pages,
                },
            }
        )
    if server_shape == "plain":
        return json_response({"success": True, "data": result.items})
    number = result.page_number
    return json_response(
        {
            "success": True,
            "data": result.items,
            "meta": {
                "page": number,
                "page_size": result.limit,
                "total_pages": pages,
                "total_items": result.total,
                "has_next": number * result.limit < result.total,
                "has_previous": number > 1,
            },
        }
    )


# -- errors ----------------------------------------------------------------------------------------


def render_sdk_error(error: ApiError, rid: str) -> Response:
    """``{code, message, status, requestId, details}`` at the top level."""
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "status": error.status,
        "requestId": rid,
        "details": error.details,
        **error.extra,
    }
    return json_response(body, error.status, error.headers)


# Codes the server's auth middleware answers with a top-level body instead of the nested one.
_TOP_LEVEL_CODES = frozenset({"UNAUTHORIZED", "TOKEN_INVALID"})


def render_server_error(error: ApiError, rid: str) -> Response:
    """The server's nested ``{"success": false, "error": {...}}``; auth failures and rate limits
    top-level ``{code, message, details}``; unknown routes plain-text ``404 page not found``."""
    if error.code == "ROUTE_NOT_FOUND":
        return PlainTextResponse("404 page not found", 404, error.headers)
    if error.code in _TOP_LEVEL_CODES or error.code == "RATE_LIMITED":
        body: dict[str, Any] = {
            "code": error.code,
            "message": error.message,
            "details": error.details,
            **error.extra,
        }
        return json_response(body, error.status, error.headers)
    inner: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        inner["details"] = {k: str(v) for k, v in error.details.items()}
    return json_response({"success": False, "error": inner}, error.status, error.headers)


# -- authentication --------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Jwt:
    """HS256 JSON Web Tokens with the server's claims (tenant_id, user_id, email, role)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)

    def issue(self, user: Record, ttl: int, *, kind: str = "access") -> str:
        now = int(time.time())
        claims = {
            "tenant_id": user["tenant_id"],
            "user_id": user["id"],
            "email": user["email"],
            "role": user["role"],
            "iss": "linktor",
            "sub": user["id"],
            "iat": now,
            "exp": now + ttl,
            # Not in the real server's tokens; lets two tokens minted in one second differ.
            "jti": secrets.token_hex(8),
            "typ": kind,
        }
        header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64url(orjson.dumps(claims))
        signing_input = f"{header}.{payload}".encode()
        signature = hmac.new(self.secret, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token, else ``None``."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            signature = _b64url_decode(parts[2])
            expected = hmac.new(
                self.secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256
            ).digest()
            if not hmac.compare_digest(signature, expected):
                return None
            claims = orjson.loads(_b64url_decode(parts[1]))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
            return None
        return claims


@dataclass(frozen=True)
class Principal:
    """Who is calling: from an API key or a JWT."""

    tenant_id: str
    user_id: str
    role: str
    via: str  # "api_key" or "jwt"


def principal_for_token(store: LinktorStore, jwt: Jwt, token: str) -> Principal | None:
    """A bearer credential (JWT or API key) to its principal, or ``None``."""
    key = store.api_keys.get(token)
    if key is not None:
        user = store.users.get(key.get("user_id") or "")
        return Principal(
            key["tenant_id"], key.get("user_id") or "", user["role"] if user else "admin", "api_key"
        )
    claims = jwt.claims(token)
    if claims is None or not claims.get("user_id") or not claims.get("tenant_id"):
        return None
    return Principal(
        claims["tenant_id"], claims["user_id"], str(claims.get("role", "agent")), "jwt"
    )


def authenticate(
    conn: HTTPConnection, dialect: Dialect, store: LinktorStore, jwt: Jwt
) -> Principal:
    """The caller, or a 401 in the dialect's words.

    SDK: ``X-API-Key: <key>`` or ``Authorization: Bearer <key or JWT>``. Server: only
    ``Authorization: Bearer`` (a JWT from ``/auth/login``, or an API key, as its docs promise);
    an ``X-API-Key`` header is ignored there, as the real server ignores it."""
    if dialect is Dialect.SDK:
        api_key = conn.headers.get("x-api-key")
        if api_key:
            found = principal_for_token(store, jwt, api_key)
            if found is None or found.via != "api_key":
                raise ApiError(401, "AUTHENTICATION_ERROR", "invalid API key")
            return found
    header = conn.headers.get("authorization")
    if not header:
        code = "UNAUTHORIZED" if dialect is Dialect.SERVER else "AUTHENTICATION_ERROR"
        raise ApiError(401, code, "missing authorization header")
    if not header.startswith("Bearer "):
        code = "UNAUTHORIZED" if dialect is Dialect.SERVER else "AUTHENTICATION_ERROR"
        raise ApiError(401, code, "invalid authorization header format")
    token = header[len("Bearer ") :].strip()
    if not token:
        code = "UNAUTHORIZED" if dialect is Dialect.SERVER else "AUTHENTICATION_ERROR"
        raise ApiError(401, code, "missing token")
    found = principal_for_token(store, jwt, token)
    if found is None:
        code = "TOKEN_INVALID" if dialect is Dialect.SERVER else "AUTHENTICATION_ERROR"
        raise ApiError(401, code, "invalid or expired token")
    return found
