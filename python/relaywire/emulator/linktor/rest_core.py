"""What every Linktor REST route shares: the per-call context, body validation and a generic,
data-driven CRUD for resources that both dialects expose with different words and verbs.

A handler is ``async def handler(call: Call) -> Response``; :class:`Api` wraps it with
authentication and dialect-specific error codes and turns it into a starlette route.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from relaywire.emulator._context import EmulatorContext
from relaywire.emulator._http import ApiError, json_response, new_id, read_json_object
from relaywire.emulator.linktor.dialect import (
    Dialect,
    GoPage,
    MiddlewareError,
    Principal,
    authenticate,
    code_meta,
    code_paginated,
    created,
    first_query,
    is_code_profile,
    ok,
    page,
    paginate,
)
from relaywire.emulator.linktor.store import LinktorStore, Record, stamp
from relaywire.emulator.linktor.wire import Times, camel, go_time, ms

__all__ = [
    "INVALID_BODY",
    "Api",
    "Call",
    "CodeList",
    "Field",
    "Handler",
    "Resource",
    "ServerView",
    "View",
    "apply",
    "parse",
]

Handler = Callable[["Call"], Awaitable[Response]]
View = Callable[[Record, LinktorStore], Record]
#: A server-dialect view: the record, the store, and how to write timestamps.
ServerView = Callable[[Record, LinktorStore, Times], Record]

# Error codes the SDKs know (their exception classes carry these fixed codes).
_SDK_CODES = {
    "INVALID_CREDENTIALS": "AUTHENTICATION_ERROR",
    "TOKEN_INVALID": "AUTHENTICATION_ERROR",
    "TOKEN_EXPIRED": "AUTHENTICATION_ERROR",
    "UNAUTHORIZED": "AUTHENTICATION_ERROR",
    "FORBIDDEN": "AUTHORIZATION_ERROR",
    "CONFLICT": "CONFLICT_ERROR",
    "BAD_REQUEST": "VALIDATION_ERROR",
}
# The not-found codes the real server has; any other resource answers plain NOT_FOUND.
_SERVER_NOT_FOUND = frozenset(
    {
        "NOT_FOUND",
        "TENANT_NOT_FOUND",
        "USER_NOT_FOUND",
        "CHANNEL_NOT_FOUND",
        "CONTACT_NOT_FOUND",
        "CONVERSATION_NOT_FOUND",
        "MESSAGE_NOT_FOUND",
    }
)


def _dialect_error(error: ApiError, dialect: Dialect) -> ApiError:
    code = error.code
    if code.endswith("_NOT_FOUND") and (dialect is Dialect.SDK or code not in _SERVER_NOT_FOUND):
        code = "NOT_FOUND"
    elif dialect is Dialect.SDK:
        code = _SDK_CODES.get(code, code)
    if code == error.code:
        return error
    return ApiError(
        error.status, code, error.message, error.details, headers=error.headers, extra=error.extra
    )


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    dialect: Dialect
    ctx: EmulatorContext
    principal: Principal

    @property
    def store(self) -> LinktorStore:
        return self.ctx.linktor

    @property
    def sdk(self) -> bool:
        return self.dialect is Dialect.SDK

    @property
    def code(self) -> bool:
        """The server dialect in the ``"code"`` profile: do what the server's code does."""
        return self.dialect is Dialect.SERVER and is_code_profile(self.ctx)

    @property
    def t(self) -> Times:
        """How this answer writes timestamps (Go's form in the code profile)."""
        return go_time if self.code else ms

    @property
    def tenant(self) -> str:
        return self.principal.tenant_id

    def new_id(self, prefix: str) -> str:
        """An id for a record created by this call: a UUID, as the server makes, in the code
        profile; the emulator's readable ids otherwise."""
        return str(uuid.uuid4()) if self.code else new_id(prefix)

    def arg(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str) -> str | None:
        """A query parameter by its snake_case name; the SDK dialect also takes camelCase,
        since the SDKs forward keyword arguments verbatim."""
        params = self.request.query_params
        value = params.get(name)
        if value is None and self.sdk:
            value = params.get(camel(name))
        return value if value else None

    async def body(self, *, required: bool = True) -> dict[str, Any]:
        try:
            return await read_json_object(self.request, required=required)
        except ApiError as error:
            if self.code and error.status == 400:
                raise ApiError(400, "VALIDATION_ERROR", INVALID_BODY) from None
            raise

    async def fields(
        self, spec: Sequence[Field], *, partial: bool = False, required: bool = True
    ) -> dict[str, Any]:
        """The request body validated against ``spec``, keyed by canonical names (in the code
        profile any problem is the server's bare ``Invalid request body``)."""
        body = await self.body(required=required)
        return parse(body, spec, self.dialect, partial=partial, plain=self.code)

    def find(self, records: Mapping[str, Record], record_id: str, what: str) -> Record:
        """A record of the caller's tenant, or a 404 naming it."""
        record = records.get(record_id)
        if record is None or record.get("tenant_id", self.tenant) != self.tenant:
            code = f"{what.upper().replace(' ', '_')}_NOT_FOUND"
            raise ApiError(404, code, f"{what} not found", {"id": record_id})
        return record

    def user(self) -> Record:
        return self.find(self.store.users, self.principal.user_id, "user")

    def ok(self, data: Any, status: int = 200) -> Response:
        return ok(self.dialect, data, status)

    def created(self, data: Any) -> Response:
        return created(self.dialect, data)

    def page(self, items: Sequence[Any], shape: str = "meta", default_size: int = 20) -> Response:
        result = paginate(self.dialect, items, self.request.query_params, default_size)
        return page(self.dialect, result, server_shape=shape)


class Api:
    """Collects one dialect's routes; every handler is authenticated unless ``public``."""

    def __init__(self, ctx: EmulatorContext, dialect: Dialect) -> None:
        self.ctx = ctx
        self.dialect = dialect
        self.routes: list[BaseRoute] = []

    @property
    def sdk(self) -> bool:
        return self.dialect is Dialect.SDK

    @property
    def code(self) -> bool:
        """The server dialect in the ``"code"`` profile."""
        return self.dialect is Dialect.SERVER and is_code_profile(self.ctx)

    def add(
        self,
        methods: str,
        path: str,
        handler: Handler,
        *,
        public: bool = False,
        admin: bool = False,
        plain_errors: bool = False,
    ) -> None:
        """Route ``methods`` (space-separated) on ``path`` to ``handler``.

        ``admin``: only admins (the server's ``RequireRole``). ``plain_errors``: handler errors
        as ``{"error": text}`` (the server's analytics and VRE handlers)."""
        ctx, dialect, jwt_only = self.ctx, self.dialect, self.code
        anonymous = Principal("", "", "", "anonymous")

        async def endpoint(request: Request) -> Response:
            store = ctx.linktor
            principal = (
                anonymous
                if public
                else authenticate(request, dialect, store, ctx.jwt, jwt_only=jwt_only)
            )
            if admin and jwt_only and principal.role != "admin":
                # The server's RequireRole("admin"): a middleware refusal, top-level.
                raise MiddlewareError(403, "FORBIDDEN", "insufficient permissions")
            if admin and principal.role not in ("admin", "owner"):
                raise _dialect_error(
                    ApiError(403, "FORBIDDEN", "insufficient permissions"), dialect
                )
            try:
                return await handler(Call(request, dialect, ctx, principal))
            except ApiError as error:
                if plain_errors and dialect is Dialect.SERVER:
                    return json_response({"error": error.message}, error.status)
                raise _dialect_error(error, dialect) from None

        self.routes.append(Route(path, endpoint, methods=methods.split()))


# -- request bodies --------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "num": ("a number", _is_number),
    "bool": ("a boolean", lambda v: isinstance(v, bool)),
    "dict": ("an object", lambda v: isinstance(v, dict)),
    "list": ("an array", lambda v: isinstance(v, list)),
    "str_list": (
        "an array of strings",
        lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    ),
    "dict_list": (
        "an array of objects",
        lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
    ),
    # The server binds these maps to Go's map[string]string.
    "str_map": (
        "an object of strings",
        lambda v: isinstance(v, dict) and all(isinstance(i, str) for i in v.values()),
    ),
    "any": ("anything", lambda v: True),
}


@dataclass(frozen=True)
class Field:
    """One body field: its snake_case wire name (the SDK dialect also accepts camelCase), its
    kind (see ``_KINDS``), and where it goes in the canonical record (dotted for nesting)."""

    key: str
    kind: str = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    target: str = ""
    rename: Mapping[str, str] = field(default_factory=dict)
    low: float | None = None
    high: float | None = None
    convert: Callable[[Any], Any] | None = None
    # The server's code binds this as a free string (its documentation lists ``choices``).
    loose: bool = False

    def check(self, value: Any, *, code: bool = False) -> str | None:
        """Why ``value`` is not acceptable, or ``None`` (``code``: as the server's code
        binds it, so a ``loose`` field takes any string)."""
        noun, test = _KINDS[self.kind]
        if not test(value):
            return f"must be {noun}"
        if self.choices and value not in self.choices and not (code and self.loose):
            return "must be one of " + ", ".join(self.choices)
        if self.kind == "str" and self.required and not value.strip():
            return "must not be empty"
        size = len(value) if isinstance(value, (str, list)) else value
        if self.low is not None and _is_number(size) and size < self.low:
            return f"must be at least {self.low:g}" + (" long" if self.kind == "str" else "")
        if self.high is not None and _is_number(size) and size > self.high:
            return f"must be at most {self.high:g}" + (" long" if self.kind == "str" else "")
        return None


#: What the server's handlers answer for any body their binding refuses (no details).
INVALID_BODY = "Invalid request body"


def parse(
    body: Mapping[str, Any],
    spec: Iterable[Field],
    dialect: Dialect,
    *,
    partial: bool = False,
    plain: bool = False,
) -> dict[str, Any]:
    """Validate ``body`` against ``spec``; a 400 ``VALIDATION_ERROR`` lists every problem
    (``plain``: says only :data:`INVALID_BODY`, as the server's code does).

    ``partial`` (updates): nothing is required. ``null`` clears an optional field."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for spec_field in spec:
        names = [spec_field.key]
        if dialect is Dialect.SDK:
            names.insert(0, camel(spec_field.key))
        shown = names[0]
        name = next((n for n in names if n in body), None)
        value = body[name] if name is not None else None
        if value is None:
            if spec_field.required and not partial:
                problems[shown] = "is required"
            elif name is not None and not spec_field.required:
                values[spec_field.target or spec_field.key] = None
            continue
        problem = spec_field.check(value, code=plain)
        if problem is not None:
            problems[shown] = problem
            continue
        if spec_field.rename and isinstance(value, str):
            value = spec_field.rename.get(value, value)
        if spec_field.convert is not None:
            value = spec_field.convert(value)
        values[spec_field.target or spec_field.key] = value
    if problems and plain:
        raise ApiError(400, "VALIDATION_ERROR", INVALID_BODY)
    if problems:
        summary = "; ".join(f"{name} {problem}" for name, problem in problems.items())
        raise ApiError(400, "VALIDATION_ERROR", f"invalid request body: {summary}", problems)
    return values


def apply(record: Record, values: Mapping[str, Any]) -> Record:
    """Write parsed values into a record; dotted names reach into nested dicts."""
    for name, value in values.items():
        *path, last = name.split(".")
        target = record
        for part in path:
            nested = target.get(part)
            if not isinstance(nested, dict):
                nested = target[part] = {}
            target = nested
        target[last] = value
    return record


# -- generic CRUD ----------------------------------------------------------------------------------

Maker = Callable[[Call, dict[str, Any]], Record]
Changer = Callable[[Call, Record, dict[str, Any]], Record]
Remover = Callable[[Call, Record], None]


@dataclass(frozen=True)
class Resource:
    """A resource both dialects expose: its collection, views, body specs and hooks.

    A dialect gets ``create``/``update``/``delete`` only when this spec gives it fields (or
    ``deletable``); updates are PATCH in the SDK dialect and PUT in the server's. List filters
    map query names to keys of the dialect's *view*, so they compare what the client sees."""

    path: str
    what: str
    records: Callable[[LinktorStore], dict[str, Record]]
    sdk_view: View
    server_view: ServerView
    create_fields: Mapping[Dialect, Sequence[Field]] = field(default_factory=dict)
    update_fields: Mapping[Dialect, Sequence[Field]] = field(default_factory=dict)
    make: Maker | None = None
    change: Changer | None = None
    remove: Remover | None = None
    deletable: frozenset[Dialect] = frozenset()
    filters: Mapping[Dialect, Mapping[str, str]] = field(default_factory=dict)
    search_text: Callable[[Record, LinktorStore], str] = lambda r, s: (
        f"{r.get('name') or ''} {r.get('description') or ''}"
    )
    order_by: str = "created_at"
    server_list: str = "pagination"
    server_bare: bool = False  # GET/PUT answer the bare object (the server's flows)
    server_deleted: str | None = None  # 200 {"message"} instead of 204 (the server's flows)
    admin: bool = False  # every route needs the admin role (the server's users)
    code_list: CodeList | None = None  # how the server's code lists it (profile "code")

    def view(self, call: Call, record: Record) -> Record:
        if call.sdk:
            return self.sdk_view(record, call.store)
        return self.server_view(record, call.store, call.t)

    def find(self, call: Call) -> Record:
        return call.find(self.records(call.store), call.arg("id"), self.what)

    def answer(self, call: Call, record: Record) -> Response:
        data = self.view(call, record)
        return json_response(data) if self.server_bare and not call.sdk else call.ok(data)

    def register(self, api: Api) -> None:
        """Add this resource's list/create/get/update/delete routes to ``api``."""
        dialect, admin = api.dialect, self.admin
        api.add("GET", self.path, self._list, admin=admin)
        if dialect in self.create_fields:
            api.add("POST", self.path, self._create, admin=admin)
        item = f"{self.path}/{{id}}"
        api.add("GET", item, self._get, admin=admin)
        if dialect in self.update_fields:
            api.add("PATCH" if api.sdk else "PUT", item, self._update, admin=admin)
        if dialect in self.deletable:
            api.add("DELETE", item, self._delete, admin=admin)

    async def _list(self, call: Call) -> Response:
        records = [r for r in self.records(call.store).values() if r["tenant_id"] == call.tenant]
        if call.code and self.code_list is not None:
            return self.code_list.answer(call, [self.view(call, r) for r in records])
        records.sort(key=lambda r: str(r.get(self.order_by) or ""), reverse=True)
        search = call.query("search")
        if search:
            needle = search.casefold()
            records = [r for r in records if needle in self.search_text(r, call.store).casefold()]
        views = [self.view(call, r) for r in records]
        for param, key in self.filters.get(call.dialect, {}).items():
            wanted = call.query(param)
            if wanted is not None:
                views = [v for v in views if _matches(v.get(key), wanted)]
        if self.server_list == "plain" and not call.sdk:
            return call.ok(views)  # unpaginated, as the server's channel list
        return call.page(views, self.server_list)

    async def _get(self, call: Call) -> Response:
        return self.answer(call, self.find(call))

    async def _create(self, call: Call) -> Response:
        values = await call.fields(self.create_fields[call.dialect])
        assert self.make is not None
        return call.created(self.view(call, self.make(call, values)))

    async def _update(self, call: Call) -> Response:
        record = self.find(call)
        values = await call.fields(self.update_fields[call.dialect], partial=True)
        if self.change is not None:
            record = self.change(call, record, values)
        else:
            apply(record, values)
            record["updated_at"] = stamp()
        return self.answer(call, record)

    async def _delete(self, call: Call) -> Response:
        record = self.find(call)
        if self.remove is not None:
            self.remove(call, record)
        else:
            self.records(call.store).pop(record["id"], None)
        if self.server_deleted and not call.sdk:
            return json_response({"message": self.server_deleted})
        return Response(status_code=204)


@dataclass(frozen=True)
class CodeList:
    """How the server's code lists bots, flows, knowledge bases and their items: ``page`` and
    ``page_size`` parsed without checks (:meth:`GoPage.strict`), ``sort_by`` among
    ``sort_columns`` (else ``created_at``) and ``sort_dir`` (``asc``, else descending), the
    ``filters`` it knows (query name to view key; counted after filtering), the
    ``{data, pagination}`` envelope. A negative offset is the database's error."""

    plural: str
    sort_columns: tuple[str, ...] = ("created_at", "updated_at", "name")
    filters: Mapping[str, str] = field(default_factory=dict)
    first_page_only: bool = False  # the users list: page 1 of 20 with ``meta``, params ignored

    def answer(self, call: Call, views: list[Record]) -> Response:
        params = call.request.query_params
        if self.first_page_only:
            views.sort(key=lambda v: _sort_key(v.get("created_at")), reverse=True)
            window = GoPage(1, 20)
            return code_meta(window.slice(views), len(views), window)
        window = GoPage.strict(params)
        for name, key in self.filters.items():
            wanted = first_query(params, name)
            if wanted:
                views = [v for v in views if _code_matches(v.get(key), wanted)]
        column = first_query(params, "sort_by") or "created_at"
        if column not in self.sort_columns:
            column = "created_at"
        descending = first_query(params, "sort_dir") not in ("asc", "ASC")
        views.sort(key=lambda v: _sort_key(v.get(column)), reverse=descending)
        if window.offset < 0:
            raise ApiError(500, "INTERNAL_ERROR", f"failed to query {self.plural}")
        return code_paginated(window.slice(views), len(views), window)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, (bool, int, float)):
        return (1, float(value))
    return (2, str(value))


def _code_matches(value: Any, wanted: str) -> bool:
    """A filter as the server's SQL applies it (``is_active``: ``true`` or anything else)."""
    if isinstance(value, bool):
        return value is (wanted == "true")
    return value is not None and str(value) == wanted


def _matches(value: Any, wanted: str) -> bool:
    """A query value against a view value (booleans as ``true``/``false``, lists by member)."""
    if isinstance(value, bool):
        return wanted.lower() == str(value).lower()
    if isinstance(value, list):
        return wanted in value
    return value is not None and str(value) == wanted
