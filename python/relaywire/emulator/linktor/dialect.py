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
import re
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
    "SERVER_PROFILES",
    "Dialect",
    "GoPage",
    "Jwt",
    "MiddlewareError",
    "Principal",
    "authenticate",
    "code_fixed_meta",
    "code_meta",
    "code_paginated",
    "created",
    "first_query",
    "go_atoi",
    "go_div",
    "is_code_profile",
    "ok",
    "page",
    "paginate",
    "render_sdk_error",
    "render_server_code_error",
    "render_server_error",
    "request_id",
]

ACCESS_TTL = 900
REFRESH_TTL = 168 * 3600


class Dialect(enum.Enum):
    SDK = "sdk"
    SERVER = "server"


#: How the server dialect behaves: ``"code"`` as the self-hosted server's code does (the
#: default), ``"documented"`` as its documentation describes.
SERVER_PROFILES = ("code", "documented")


def is_code_profile(ctx: Any) -> bool:
    """Whether an emulator context serves the server dialect as the server's code does."""
    return bool(ctx.config.linktor_server_profile == "code")


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


# -- paging as the self-hosted server's code does it (profile "code") -----------------------------

_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63


def first_query(params: Mapping[str, str], name: str) -> str | None:
    """A query parameter as gin's ``c.Query``/``c.DefaultQuery`` see it: the first value when
    the name repeats, ``""`` when it is present but empty, ``None`` when absent."""
    getlist = getattr(params, "getlist", None)
    values = getlist(name) if getlist is not None else [params[name]] if name in params else []
    return str(values[0]) if values else None


def go_atoi(raw: str | None, default: int) -> int | None:
    """``strconv.Atoi(c.DefaultQuery(name, default))``: ``default`` when absent, ``None`` when
    the text is not a Go integer (Atoi's error)."""
    if raw is None:
        return default
    if not _GO_INT.fullmatch(raw):
        return None
    value = int(raw)
    return value if -_INT64 <= value < _INT64 else None


def go_div(numerator: int, denominator: int) -> int:
    """Go's integer division (truncates toward zero)."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


@dataclass(frozen=True)
class GoPage:
    """The server's ``ListParams``: ``page`` and ``page_size`` as its handler parsed them. The
    repository asks the database for ``LIMIT limit OFFSET offset``."""

    page: int
    size: int

    @property
    def limit(self) -> int:
        return 20 if self.size <= 0 else min(self.size, 100)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def slice(self, items: Sequence[Any]) -> list[Any]:
        return list(items[self.offset : self.offset + self.limit])

    @classmethod
    def lenient(cls, params: Mapping[str, str], default_size: int = 20) -> GoPage:
        """The contacts handler: a bad or non-positive ``page``/``page_size`` keeps the default."""
        number = go_atoi(first_query(params, "page"), 1)
        size = go_atoi(first_query(params, "page_size"), default_size)
        return cls(
            number if number and number > 0 else 1, size if size and size > 0 else default_size
        )

    @classmethod
    def strict(cls, params: Mapping[str, str], default_size: int = 20) -> GoPage:
        """The bots, flows and knowledge-base handlers: ``page, _ := strconv.Atoi(...)``, so a
        bad value becomes 0 and nothing is checked."""
        number = go_atoi(first_query(params, "page"), 1)
        size = go_atoi(first_query(params, "page_size"), default_size)
        return cls(number or 0, size or 0)


def code_meta(items: list[Any], total: int, result: GoPage) -> Response:
    """``RespondWithMeta`` as the contacts list fills it (an empty list is ``null``)."""
    size = result.size
    return json_response(
        {
            "success": True,
            "data": items or None,
            "meta": {
                "page": result.page,
                "page_size": size,
                "total_pages": go_div(total + size - 1, size),
                "total_items": total,
                "has_next": result.page * size < total,
                "has_previous": result.page > 1,
            },
        }
    )


def code_fixed_meta(items: list[Any], total: int, size: int) -> Response:
    """The conversations and messages lists: ``meta`` fixed at page 1 of ``size``, no next."""
    return json_response(
        {
            "success": True,
            "data": items or None,
            "meta": {
                "page": 1,
                "page_size": size,
                "total_pages": 0,
                "total_items": total,
                "has_next": False,
                "has_previous": False,
            },
        }
    )


def code_paginated(items: list[Any], total: int, result: GoPage) -> Response:
    """``RespondPaginated`` (bots, flows, knowledge bases, items). A ``page_size`` of 0 divides
    by zero there: the server panics and its recovery answers 500 with an empty body."""
    if result.size == 0:
        return Response(status_code=500)
    return json_response(
        {
            "data": items or None,
            "pagination": {
                "total": total,
                "page": result.page,
                "page_size": result.size,
                "pages": go_div(total + result.size - 1, result.size),
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


class MiddlewareError(ApiError):
    """A refusal of the server's auth middleware: a top-level ``{code, message, details}``
    body, whatever the code (a handler's ``TOKEN_INVALID`` is nested like its other errors)."""


def render_server_code_error(error: ApiError, rid: str) -> Response:
    """The server's errors as its code writes them (profile ``"code"``): the middleware's at
    the top level, every handler's nested and without ``details``. The server has no rate
    limiter: an emulator-injected 429 keeps the emulator's top-level shape."""
    if isinstance(error, MiddlewareError) or error.code == "RATE_LIMITED":
        body: dict[str, Any] = {
            "code": error.code,
            "message": error.message,
            "details": error.details,
            **error.extra,
        }
        return json_response(body, error.status, error.headers)
    if error.code == "ROUTE_NOT_FOUND":
        return PlainTextResponse("404 page not found", 404, error.headers)
    inner = {"code": error.code, "message": error.message}
    return json_response({"success": False, "error": inner}, error.status, error.headers)


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
    conn: HTTPConnection,
    dialect: Dialect,
    store: LinktorStore,
    jwt: Jwt,
    *,
    jwt_only: bool = False,
) -> Principal:
    """The caller, or a 401 in the dialect's words.

    SDK: ``X-API-Key: <key>`` or ``Authorization: Bearer <key or JWT>``. Server: only
    ``Authorization: Bearer``; an ``X-API-Key`` header is ignored there, as the real server
    ignores it. The bearer may be a JWT from ``/auth/login`` or an API key (as its docs promise)
    unless ``jwt_only``: the server's code (profile ``"code"``) checks JWTs only, so an API key
    is an invalid token there."""
    if dialect is Dialect.SDK:
        api_key = conn.headers.get("x-api-key")
        if api_key:
            found = principal_for_token(store, jwt, api_key)
            if found is None or found.via != "api_key":
                raise ApiError(401, "AUTHENTICATION_ERROR", "invalid API key")
            return found
    server = dialect is Dialect.SERVER
    refuse = MiddlewareError if server else ApiError
    header = conn.headers.get("authorization")
    if not header:
        raise refuse(401, _auth_code(server), "missing authorization header")
    if not header.startswith("Bearer "):
        raise refuse(401, _auth_code(server), "invalid authorization header format")
    token = header[len("Bearer ") :].strip()
    if not token:
        raise refuse(401, _auth_code(server), "missing token")
    found = principal_for_token(store, jwt, token)
    if found is None or (jwt_only and found.via != "jwt"):
        raise refuse(401, _auth_code(server, "TOKEN_INVALID"), "invalid or expired token")
    return found


def _auth_code(server: bool, code: str = "UNAUTHORIZED") -> str:
    return code if server else "AUTHENTICATION_ERROR"
