"""Every Daguito HTTP route (spec/daguito.md sections 2.2 and 2.3), served at the emulator's root.

Errors are raised as :class:`ApiError` and rendered ``{"error": message}``. Every body is
validated, so malformed input is a 400 that says what is wrong, never a 500.

Where the spec is silent, the emulator decides (and the tests pin it down):

* ``POST /h/{token}`` with an account key routes on the body's ``webhook_id``; without one it runs
  the org's oldest webhook. A missing or ``null`` ``text`` runs the flow on ``""``.
* Presigned uploads point at ``PUT /_emulator/storage/{key}?signature=…`` on this emulator.
  Bad signature or expired URL → 403, Content-Type or length differing from what was signed →
  400, a second PUT → 409. The size cap is ``DaguitoState.max_upload_bytes`` (25 MiB); above it
  the presign is a 413.
* Stream tokens are minted with the webhook's own token or an account key (never with another
  stream token, which would let a ``consume`` token mint a ``bidi`` one).
* Account routes answer 401 for an unknown key and 403 ``not an admin`` for a valid non-admin
  credential (an org key or a webhook token).
* ``enable_rewrite`` rewrites the query to its normalised form (case-folded words);
  ``enable_rerank`` and ``enable_cache`` are accepted and change nothing (BM25 order is final).
* Admin knowledge ingestion runs synchronously: jobs are ``completed`` when created. URL ingestion
  does not touch the network: the "fetched" page is a deterministic text built from the URL.
* Template preview bodies are one field per line, ``name: type: description`` (see
  :func:`parse_template`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from relaywire.emulator._http import (
    ApiError,
    iso,
    json_response,
    new_id,
    read_json_object,
)
from relaywire.emulator.daguito.flow import run_once
from relaywire.emulator.daguito.state import (
    AccountKey,
    DaguitoState,
    Flow,
    IngestJob,
    OrgKey,
    PublicKey,
    StreamToken,
    Upload,
    Webhook,
)

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = ["parse_template", "routes"]

_log = logging.getLogger("relaywire.emulator")

Handler = Callable[[Request], Awaitable[Response]]

UPLOAD_KINDS = frozenset({"image", "audio", "document", "video"})
STREAM_ROLES = frozenset({"produce", "consume", "bidi"})
DEFAULT_STREAM_TTL = 3600
MAX_STREAM_TTL = 24 * 3600
MAX_TOP_K = 100
STORAGE_PREFIX = "/_emulator/storage"
TEMPLATE_TYPES = frozenset({"string", "number", "integer", "boolean", "date", "array", "enum"})
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
_ENUM_TYPE = re.compile(r"enum\((.*)\)\Z", re.IGNORECASE)

MODELS: tuple[dict[str, str], ...] = (
    {"provider": "emulator", "id": "echo-1", "displayName": "Emulator Echo", "tier": "free"},
    {
        "provider": "emulator",
        "id": "echo-large-1",
        "displayName": "Emulator Echo Large",
        "tier": "standard",
    },
    {
        "provider": "emulator",
        "id": "extract-1",
        "displayName": "Emulator Extractor",
        "tier": "standard",
    },
)

NODE_CATALOG: dict[str, Any] = {
    "categories": [
        {"id": "io", "name": "Input and output"},
        {"id": "ai", "name": "AI"},
        {"id": "logic", "name": "Logic"},
    ],
    "nodes": [
        {"type": "input", "category": "io", "name": "Input", "description": "The run's input."},
        {"type": "output", "category": "io", "name": "Output", "description": "The run's result."},
        {"type": "agent", "category": "ai", "name": "Agent", "description": "An LLM agent."},
        {
            "type": "knowledge",
            "category": "ai",
            "name": "Knowledge search",
            "description": "Searches the org's knowledge sources.",
        },
        {
            "type": "branch",
            "category": "logic",
            "name": "Branch",
            "description": "Routes on a condition.",
        },
    ],
}


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    """The Daguito HTTP routes of one emulator."""
    return _DaguitoHttp(ctx).routes()


# -- request helpers ------------------------------------------------------------------------------


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message)


def _forbidden(message: str) -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message)


def _bearer(request: Request) -> str:
    """The bearer credential; 401 when it is missing or not a plausible key."""
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("missing bearer")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Authorization must be 'Bearer <key>'")
    # compare_digest refuses non-ASCII strings; no real key contains any.
    if not token.isascii():
        raise _unauthorized("invalid credentials")
    return token


def _required_str(body: dict[str, Any], name: str, *, max_length: int = 10_000) -> str:
    value = body.get(name)
    if value is None:
        raise _invalid(f"{name} required")
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if not value.strip():
        raise _invalid(f"{name} must not be empty")
    if len(value) > max_length:
        raise _invalid(f"{name} is longer than {max_length} characters")
    return value


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    return value


def _optional_int(
    body: dict[str, Any], name: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    # bool is an int subclass; true is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name} must be an integer")
    number: int = value
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise _invalid(f"{name} must be {bound}")
    return number


def _optional_number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(f"{name} must be a number")
    return float(value)


def _optional_bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _invalid(f"{name} must be a boolean")
    return value


def _optional_object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise _invalid(f"{name} must be an object")
    return value


def _optional_str_list(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(f"{name} must be an array of strings")
    return value


def _budget_field(body: dict[str, Any]) -> int | None:
    """``monthly_budget_micro_usd`` of a budget PATCH: present, and a non-negative int or null."""
    if "monthly_budget_micro_usd" not in body:
        raise _invalid("monthly_budget_micro_usd required (null clears the cap)")
    try:
        return _optional_int(body, "monthly_budget_micro_usd", minimum=0)
    except ApiError:
        raise _invalid("monthly_budget_micro_usd must be a non-negative integer or null") from None


def _same_media_type(left: str, right: str) -> bool:
    def normal(value: str) -> str:
        return ";".join(part.strip() for part in value.lower().split(";"))

    return normal(left) == normal(right)


def _normalise_query(query: str) -> str:
    return " ".join(re.findall(r"\w+", query.casefold()))


def _next_month_start(now: datetime) -> datetime:
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def _metadata_matches_query(value: Any, wanted: str) -> bool:
    """Whether a chunk's metadata value equals a query-string value (``1`` matches ``"1"``)."""
    if isinstance(value, str):
        return value == wanted
    return orjson.dumps(value).decode() == wanted


def _safe_filename(filename: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.rsplit("/", 1)[-1]).strip("._")
    return cleaned[:100] or "file"


# -- wire shapes ----------------------------------------------------------------------------------


def _account_key_json(key: AccountKey, *, plaintext: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "monthly_budget_micro_usd": key.monthly_budget_micro_usd,
        "current_mtd_micro_usd": key.current_mtd_micro_usd,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }
    if plaintext:
        data["plaintext"] = key.plaintext
    return data


def _public_key_json(key: PublicKey, *, plaintext: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": key.id,
        "flow_id": key.flow_id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "allowed_origins": list(key.allowed_origins),
        "monthly_budget_micro_usd": key.monthly_budget_micro_usd,
        "current_mtd_micro_usd": key.current_mtd_micro_usd,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }
    if plaintext:
        data["plaintext"] = key.plaintext
    return data


def _job_json(job: IngestJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "status": job.status,
        "source_id": job.source_id,
        "org_id": job.org_id,
        "progress": job.progress,
        "error": job.error,
        "result": dict(job.result),
    }


# -- templates ------------------------------------------------------------------------------------


def parse_template(body: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Parse a template body into ``(name, fields_detail, warnings)``.

    The format is one field per line, ``name: type: description``, where ``type`` is one of
    ``string number integer boolean date array`` or ``enum(a|b|c)``. A first line ``# Title``
    names the template (else ``TEMPLATE``); other ``#`` lines and blank lines are ignored. An
    unknown type becomes ``string`` with an ``unknown_type`` warning; a line without a colon, an
    invalid or duplicate name and a missing description are warnings too."""
    name = "TEMPLATE"
    fields: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    seen: set[str] = set()
    lines = body.splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            title = re.sub(r"\W+", "_", line.lstrip("#").strip()).strip("_").upper()
            if number == 1 and title:
                name = title
            continue
        if ":" not in line:
            warnings.append(
                {
                    "code": "unparsed_line",
                    "message": f"line {number} has no ':' and was ignored",
                    "hint": "write fields as 'name: type: description'",
                }
            )
            continue
        parts = [part.strip() for part in line.split(":", 2)]
        field_name = parts[0]
        raw_type = parts[1] if len(parts) > 1 else ""
        description = parts[2] if len(parts) > 2 else ""
        if not _FIELD_NAME.match(field_name):
            warnings.append(
                {
                    "code": "invalid_field_name",
                    "message": f"line {number}: {field_name!r} is not a valid field name",
                    "hint": "use letters, digits and underscores, not starting with a digit",
                }
            )
            continue
        if field_name in seen:
            warnings.append(
                {
                    "code": "duplicate_field",
                    "field": field_name,
                    "message": f"line {number}: {field_name} is defined twice; the first wins",
                }
            )
            continue
        seen.add(field_name)
        detail: dict[str, Any] = {"name": field_name, "description": description}
        enum_match = _ENUM_TYPE.match(raw_type)
        if enum_match:
            values = [value.strip() for value in enum_match.group(1).split("|") if value.strip()]
            detail["type"] = "enum"
            detail["enum_values"] = values
            if not values:
                warnings.append(
                    {
                        "code": "empty_enum",
                        "field": field_name,
                        "message": f"{field_name} is an enum without values",
                        "hint": "list the values as enum(a|b|c)",
                    }
                )
        elif raw_type.lower() in TEMPLATE_TYPES - {"enum"}:
            detail["type"] = raw_type.lower()
        else:
            detail["type"] = "string"
            warnings.append(
                {
                    "code": "unknown_type",
                    "field": field_name,
                    "message": f"{field_name}: unknown type {raw_type!r}, using string",
                    "hint": "types: " + ", ".join(sorted(TEMPLATE_TYPES)),
                }
            )
        if not description:
            warnings.append(
                {
                    "code": "missing_description",
                    "field": field_name,
                    "message": f"{field_name} has no description",
                    "hint": "a description helps the extractor find the value",
                }
            )
        fields.append(detail)
    if not fields:
        warnings.append(
            {
                "code": "no_fields",
                "message": "the template defines no fields",
                "hint": "write one field per line: 'name: type: description'",
            }
        )
    return name, fields, warnings


def _field_schema(detail: dict[str, Any]) -> dict[str, Any]:
    kind = detail["type"]
    schema: dict[str, Any]
    if kind == "date":
        schema = {"type": "string", "format": "date"}
    elif kind == "array":
        schema = {"type": "array", "items": {"type": "string"}}
    elif kind == "enum":
        schema = {"type": "string", "enum": list(detail.get("enum_values") or [])}
    else:
        schema = {"type": kind}
    if detail["description"]:
        schema["description"] = detail["description"]
    return schema


def _example_value(detail: dict[str, Any]) -> Any:
    kind = detail["type"]
    name = str(detail["name"]).replace("_", " ")
    examples: dict[str, Any] = {
        "number": 1.5,
        "integer": 1,
        "boolean": True,
        "date": "2024-01-15",
        "array": [f"example {name}"],
    }
    if kind == "enum":
        values = detail.get("enum_values") or []
        return values[0] if values else None
    return examples.get(kind, f"example {name}")


# -- the routes -----------------------------------------------------------------------------------


class _DaguitoHttp:
    """The handlers, sharing the emulator context."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx

    @property
    def state(self) -> DaguitoState:
        return self.ctx.daguito

    def routes(self) -> list[BaseRoute]:
        table: list[tuple[str, Handler, list[str]]] = [
            ("/h/{token:path}", self.run_hook, ["POST"]),
            ("/v1/webhooks/{webhook_id}/upload", self.presign_upload, ["POST"]),
            (STORAGE_PREFIX + "/{key:path}", self.put_upload, ["PUT"]),
            ("/v1/webhooks/{webhook_id}/stream-tokens", self.mint_stream_token, ["POST"]),
            ("/api/sdk/knowledge/sources/{source_id}/text", self.sdk_ingest_text, ["POST"]),
            ("/api/sdk/knowledge/search", self.sdk_search, ["POST"]),
            ("/api/sdk/flows", self.resolve_flow, ["GET"]),
            ("/v1/account/api-keys", self.list_account_keys, ["GET"]),
            ("/v1/account/api-keys", self.create_account_key, ["POST"]),
            ("/v1/account/api-keys/{key_id}", self.revoke_account_key, ["DELETE"]),
            ("/v1/account/api-keys/{key_id}/budget", self.account_key_budget, ["PATCH"]),
            ("/v1/flows/upsert-agent", self.upsert_agent, ["POST"]),
            ("/v1/flows/upsert", self.upsert_flow, ["POST"]),
            ("/v1/flows/{flow_id}/public-keys", self.list_public_keys, ["GET"]),
            ("/v1/flows/{flow_id}/public-keys", self.create_public_key, ["POST"]),
            ("/v1/flows/{flow_id}/public-keys/{key_id}", self.revoke_public_key, ["DELETE"]),
            ("/v1/flows/{flow_id}/public-keys/{key_id}/budget", self.public_key_budget, ["PATCH"]),
            ("/v1/account/budget", self.get_org_budget, ["GET"]),
            ("/v1/account/budget", self.set_org_budget, ["PATCH"]),
            ("/v1/templates/preview", self.preview_template, ["POST"]),
            ("/v1/org/analytics", self.org_analytics, ["GET"]),
            ("/v1/models", self.list_models, ["GET"]),
            ("/api/public/nodes/catalog", self.node_catalog, ["GET"]),
            ("/api/public/knowledge/bases", self.list_bases, ["GET"]),
            ("/api/public/knowledge/sources", self.list_sources, ["GET"]),
            ("/api/public/knowledge/sources", self.create_source, ["POST"]),
            ("/api/public/knowledge/sources/{source_id}/url", self.admin_ingest_url, ["POST"]),
            ("/api/public/knowledge/sources/{source_id}/text", self.admin_ingest_text, ["POST"]),
            ("/api/public/knowledge/sources/{source_id}/chunks", self.delete_chunks, ["DELETE"]),
            ("/api/public/knowledge/sources/{source_id}/chunks", self.patch_chunks, ["PATCH"]),
            ("/api/public/knowledge/ingest-jobs/{job_id}", self.get_ingest_job, ["GET"]),
        ]
        return [
            Route(path, self._counted(path.replace(":path}", "}"), handler), methods=methods)
            for path, handler, methods in table
        ]

    def _counted(self, path: str, handler: Handler) -> Handler:
        async def counted(request: Request) -> Response:
            self.state.http_by_path[path] += 1
            return await handler(request)

        return counted

    # -- credentials ----------------------------------------------------------------------------

    def _account(self, request: Request) -> AccountKey:
        """The account key of an admin request (401 unknown, 403 a valid non-admin credential)."""
        token = _bearer(request)
        key = self.state.account_key(token)
        if key is None:
            if token in self.state.org_keys or self.state.webhook_for_token(token) is not None:
                raise _forbidden("not an admin")
            raise _unauthorized("invalid account key")
        key.last_used_at = iso(datetime.now(timezone.utc))
        return key

    def _org_key(self, request: Request, scope: str) -> OrgKey:
        found = self.state.org_keys.get(_bearer(request))
        if found is None:
            raise _unauthorized("invalid API key")
        if scope not in found.scopes:
            raise _forbidden(f"API key lacks the {scope} scope")
        return found

    def _webhook(self, webhook_id: str) -> Webhook:
        webhook = self.state.webhooks.get(webhook_id)
        if webhook is None:
            raise _not_found(f"unknown webhook {webhook_id}")
        return webhook

    def _flow(self, flow_id: str, org_id: str) -> Flow:
        flow = self.state.flows.get(flow_id)
        if flow is None or flow.org_id != org_id:
            raise _not_found(f"unknown flow {flow_id}")
        return flow

    def _source(self, source_id: str, org_id: str) -> dict[str, object]:
        source = self.state.sources.get(source_id)
        if source is None or source.get("org_id") != org_id:
            raise _not_found(f"unknown source {source_id}")
        return source

    # -- one-shot run -----------------------------------------------------------------------------

    async def run_hook(self, request: Request) -> Response:
        """``POST /h/{token}``: run the flow once on ``input["text"]``."""
        token = request.path_params["token"]
        webhook = self.state.webhook_for_token(token) if token.isascii() else None
        account = None
        if webhook is None:
            account = self.state.account_key(token) if token.isascii() else None
            if account is None:
                raise _unauthorized("invalid webhook token")
        body = await read_json_object(request, required=False)
        if webhook is None:
            assert account is not None  # for mypy: one of the two matched above
            webhook = self._webhook_for_account(account, body.get("webhook_id"))
        text = body.get("text")
        if text is None:
            text = ""
        elif not isinstance(text, str):
            raise _invalid("text must be a string")
        result = await run_once(self.ctx, webhook.id, text, body)
        answer: dict[str, Any] = {
            "ok": result.ok,
            "execution_id": result.execution_id,
            "status": result.status,
            "output": result.output,
        }
        if result.error is not None:
            answer["error"] = result.error
        return json_response(answer)

    def _webhook_for_account(self, account: AccountKey, webhook_id: Any) -> Webhook:
        if webhook_id is None:
            webhooks = self.state.webhooks_of_org(account.org_id)
            if not webhooks:
                raise _not_found("the org has no webhooks")
            return webhooks[0]
        if not isinstance(webhook_id, str):
            raise _invalid("webhook_id must be a string")
        webhook = self.state.webhooks.get(webhook_id)
        if webhook is None or webhook.org_id != account.org_id:
            raise _not_found(f"unknown webhook {webhook_id}")
        return webhook

    # -- uploads ----------------------------------------------------------------------------------

    async def presign_upload(self, request: Request) -> Response:
        """``POST /v1/webhooks/{id}/upload``: sign kind, MIME type and size into a PUT URL."""
        webhook_id = request.path_params["webhook_id"]
        token = _bearer(request)
        webhook = self._webhook(webhook_id)
        if not self.state.webhook_accepts(webhook.id, token):
            raise _unauthorized("invalid token for this webhook")
        body = await read_json_object(request)
        kind = _required_str(body, "kind")
        if kind not in UPLOAD_KINDS:
            raise _invalid("kind must be one of " + ", ".join(sorted(UPLOAD_KINDS)))
        mime_type = _required_str(body, "mime_type", max_length=255).strip()
        if "/" not in mime_type:
            raise _invalid("mime_type must look like type/subtype")
        filename = _required_str(body, "filename", max_length=255)
        size = _optional_int(body, "size_bytes", minimum=1)
        if size is None:
            raise _invalid("size_bytes required")
        limit = self.state.max_upload_bytes
        if size > limit:
            raise ApiError(
                413, "PAYLOAD_TOO_LARGE", f"size_bytes {size} is over the {limit}-byte limit"
            )
        ttl = self.ctx.config.upload_ttl
        key = f"uploads/{webhook.id}/{secrets.token_hex(8)}/{_safe_filename(filename)}"
        upload = Upload(
            key=key,
            webhook_id=webhook.id,
            kind=kind,
            mime_type=mime_type,
            size_bytes=size,
            filename=filename,
            expires_at=time.time() + ttl,
        )
        self.state.uploads[key] = upload
        base = str(request.base_url).rstrip("/")
        return json_response(
            {
                "upload_url": f"{base}{STORAGE_PREFIX}/{key}?signature={upload.upload_token}",
                "key": key,
                "required_headers": {"Content-Type": mime_type},
                "expires_in_sec": ttl,
            }
        )

    async def put_upload(self, request: Request) -> Response:
        """The presigned ``PUT``: authorised by the URL's signature, checked against it."""
        signature = request.query_params.get("signature", "")
        upload = (
            self.state.upload_by_token(request.path_params["key"], signature)
            if signature.isascii()
            else None
        )
        if upload is None:
            raise _forbidden("unknown upload URL or bad signature")
        if upload.complete:
            raise ApiError(409, "CONFLICT", "this upload URL was already used")
        if upload.expires_at <= time.time():
            raise _forbidden("upload URL expired")
        content_type = request.headers.get("content-type")
        if not content_type:
            raise _invalid(f"Content-Type required (signed: {upload.mime_type})")
        if not _same_media_type(content_type, upload.mime_type):
            raise _invalid(
                f"Content-Type {content_type!r} does not match the signed {upload.mime_type!r}"
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip() != str(upload.size_bytes):
            raise _invalid(
                f"Content-Length {declared} does not match the signed size {upload.size_bytes}"
            )
        data = bytearray()
        async for part in request.stream():
            data += part
            if len(data) > upload.size_bytes:
                raise _invalid(f"body is larger than the signed size {upload.size_bytes}")
        if len(data) != upload.size_bytes:
            raise _invalid(f"body is {len(data)} bytes, but the signed size is {upload.size_bytes}")
        # Two PUTs may race through the checks above while their bodies stream in.
        if upload.complete:
            raise ApiError(409, "CONFLICT", "this upload URL was already used")
        upload.data = bytes(data)
        etag = hashlib.sha256(upload.data).hexdigest()[:32]
        return Response(status_code=200, headers={"ETag": f'"{etag}"'})

    # -- stream tokens ----------------------------------------------------------------------------

    async def mint_stream_token(self, request: Request) -> Response:
        """``POST /v1/webhooks/{id}/stream-tokens``: a ``dst_`` token for one session and role."""
        token = _bearer(request)
        webhook = self._webhook(request.path_params["webhook_id"])
        own = secrets.compare_digest(webhook.token, token)
        account = self.state.account_key(token)
        if not own and (account is None or account.org_id != webhook.org_id):
            raise _unauthorized("invalid token for this webhook")
        body = await read_json_object(request)
        session_key = _required_str(body, "session_key", max_length=256)
        role = _optional_str(body, "role") or "consume"
        if role not in STREAM_ROLES:
            raise _invalid("role must be one of " + ", ".join(sorted(STREAM_ROLES)))
        ttl = _optional_int(body, "ttl_seconds", minimum=1, maximum=MAX_STREAM_TTL)
        expires_at = int(time.time()) + (ttl or DEFAULT_STREAM_TTL)
        minted = StreamToken(
            token="dst_" + secrets.token_urlsafe(24),
            webhook_id=webhook.id,
            session_key=session_key,
            role=role,
            expires_at=float(expires_at),
        )
        self.state.stream_tokens[minted.token] = minted
        return json_response(
            {
                "token": minted.token,
                "session_key": session_key,
                "role": role,
                "expires_at": expires_at,
            }
        )

    # -- knowledge data plane ---------------------------------------------------------------------

    async def sdk_ingest_text(self, request: Request) -> Response:
        """``POST /api/sdk/knowledge/sources/{id}/text``: chunk and index a text."""
        key = self._org_key(request, "kb:write")
        source_id = request.path_params["source_id"]
        body = await read_json_object(request)
        self._source(source_id, key.org_id)
        text = _required_str(body, "text", max_length=10_000_000)
        metadata = _optional_object(body, "metadata")
        chunk_count, token_count = self.state.ingest_text(source_id, text, metadata)
        return json_response(
            {"source_id": source_id, "chunk_count": chunk_count, "token_count": token_count}
        )

    async def sdk_search(self, request: Request) -> Response:
        """``POST /api/sdk/knowledge/search``: BM25 over the org's sources."""
        key = self._org_key(request, "kb:read")
        body = await read_json_object(request)
        query = _required_str(body, "query")
        top_k = _optional_int(body, "top_k", minimum=1, maximum=MAX_TOP_K) or 5
        source_ids = _optional_str_list(body, "source_ids")
        rewrite = _optional_bool(body, "enable_rewrite")
        for name in ("enable_rerank", "enable_cache"):
            _optional_bool(body, name)
        metadata_equals = _optional_object(body, "metadata_equals")
        org_sources = [
            source_id
            for source_id, source in self.state.sources.items()
            if source.get("org_id") == key.org_id
        ]
        allowed = org_sources if source_ids is None else [s for s in source_ids if s in org_sources]
        rewritten = _normalise_query(query) if rewrite else None
        hits = self.state.knowledge.search(
            rewritten or query, top_k, source_ids=allowed, metadata_equals=metadata_equals
        )
        return json_response(
            {
                "chunks": [
                    {
                        "id": chunk.id,
                        "source_id": chunk.source_id,
                        "content": chunk.content,
                        "score": score,
                        "metadata": chunk.metadata,
                    }
                    for chunk, score in hits
                ],
                "query_original": query,
                "query_rewritten": rewritten,
            }
        )

    async def resolve_flow(self, request: Request) -> Response:
        """``GET /api/sdk/flows?slug=``: the flow's webhook id and token."""
        key = self._org_key(request, "flow:run")
        slug = request.query_params.get("slug", "").strip()
        if not slug:
            raise _invalid("slug required")
        flow = self.state.flow_by_slug(slug)
        if flow is None or flow.org_id != key.org_id:
            raise _not_found(f"no flow with slug {slug!r}")
        return json_response(
            {
                "flow_id": flow.id,
                "slug": flow.slug,
                "name": flow.name,
                "webhook_id": flow.webhook_id,
                "webhook_token": self.state.webhooks[flow.webhook_id].token,
            }
        )

    # -- account keys -----------------------------------------------------------------------------

    def _account_key_by_id(self, key_id: str, org_id: str) -> AccountKey:
        key = self.state.account_keys.get(key_id)
        if key is None or key.org_id != org_id:
            raise _not_found(f"unknown account key {key_id}")
        return key

    async def list_account_keys(self, request: Request) -> Response:
        caller = self._account(request)
        keys = [k for k in self.state.account_keys.values() if k.org_id == caller.org_id]
        return json_response({"keys": [_account_key_json(k) for k in keys]})

    async def create_account_key(self, request: Request) -> Response:
        caller = self._account(request)
        body = await read_json_object(request)
        name = _required_str(body, "name", max_length=200)
        budget = _optional_int(body, "monthly_budget_micro_usd", minimum=0)
        key = AccountKey(
            id=new_id("ak"),
            name=name,
            plaintext="dgsk_acc_" + secrets.token_urlsafe(24),
            monthly_budget_micro_usd=budget,
            org_id=caller.org_id,
        )
        self.state.account_keys[key.id] = key
        return json_response(_account_key_json(key, plaintext=True), 201)

    async def revoke_account_key(self, request: Request) -> Response:
        """Revoking is idempotent; the key stays listed with ``revoked_at`` set."""
        caller = self._account(request)
        key = self._account_key_by_id(request.path_params["key_id"], caller.org_id)
        if key.revoked_at is None:
            key.revoked_at = iso(datetime.now(timezone.utc))
        return Response(status_code=204)

    async def account_key_budget(self, request: Request) -> Response:
        caller = self._account(request)
        key = self._account_key_by_id(request.path_params["key_id"], caller.org_id)
        body = await read_json_object(request)
        key.monthly_budget_micro_usd = _budget_field(body)
        return json_response(_account_key_json(key))

    # -- public keys ------------------------------------------------------------------------------

    def _public_key(self, flow: Flow, key_id: str) -> PublicKey:
        key = self.state.public_keys.get(key_id)
        if key is None or key.flow_id != flow.id:
            raise _not_found(f"unknown public key {key_id}")
        return key

    async def list_public_keys(self, request: Request) -> Response:
        caller = self._account(request)
        flow = self._flow(request.path_params["flow_id"], caller.org_id)
        keys = [k for k in self.state.public_keys.values() if k.flow_id == flow.id]
        return json_response({"keys": [_public_key_json(k) for k in keys]})

    async def create_public_key(self, request: Request) -> Response:
        caller = self._account(request)
        flow = self._flow(request.path_params["flow_id"], caller.org_id)
        body = await read_json_object(request)
        name = _required_str(body, "name", max_length=200)
        origins = _optional_str_list(body, "allowed_origins") or []
        budget = _optional_int(body, "monthly_budget_micro_usd", minimum=0)
        key = PublicKey(
            id=new_id("pk"),
            flow_id=flow.id,
            name=name,
            plaintext="dgpk_flow_" + secrets.token_urlsafe(24),
            allowed_origins=list(origins),
            monthly_budget_micro_usd=budget,
        )
        self.state.public_keys[key.id] = key
        return json_response(_public_key_json(key, plaintext=True), 201)

    async def revoke_public_key(self, request: Request) -> Response:
        caller = self._account(request)
        flow = self._flow(request.path_params["flow_id"], caller.org_id)
        key = self._public_key(flow, request.path_params["key_id"])
        if key.revoked_at is None:
            key.revoked_at = iso(datetime.now(timezone.utc))
        return Response(status_code=204)

    async def public_key_budget(self, request: Request) -> Response:
        caller = self._account(request)
        flow = self._flow(request.path_params["flow_id"], caller.org_id)
        key = self._public_key(flow, request.path_params["key_id"])
        body = await read_json_object(request)
        key.monthly_budget_micro_usd = _budget_field(body)
        return json_response(_public_key_json(key))

    # -- budgets ----------------------------------------------------------------------------------

    def _org_budget_json(self) -> dict[str, Any]:
        return {
            "monthly_budget_micro_usd": self.state.org_budget_micro_usd,
            "current_mtd_micro_usd": self.state.org_mtd_micro_usd,
            "mtd_reset_at": iso(_next_month_start(datetime.now(timezone.utc))),
        }

    async def get_org_budget(self, request: Request) -> Response:
        self._account(request)
        return json_response(self._org_budget_json())

    async def set_org_budget(self, request: Request) -> Response:
        self._account(request)
        body = await read_json_object(request)
        self.state.org_budget_micro_usd = _budget_field(body)
        return json_response(self._org_budget_json())

    # -- templates --------------------------------------------------------------------------------

    async def preview_template(self, request: Request) -> Response:
        """``POST /v1/templates/preview``: a deterministic schema and example (see
        :func:`parse_template` for the body format)."""
        self._account(request)
        body = await read_json_object(request, required=False)
        template_body = body.get("template_body")
        if template_body is not None and not isinstance(template_body, str):
            raise _invalid("template_body must be a string")
        if not template_body or not template_body.strip():
            raise _invalid("template_body required")
        vertical = _optional_str(body, "vertical")
        model = _optional_str(body, "model") or "extract-1"
        _optional_bool(body, "force_regenerate")  # nothing is cached, so nothing to force
        name, fields, warnings = parse_template(template_body)
        schema = {
            "type": "object",
            "properties": {detail["name"]: _field_schema(detail) for detail in fields},
            "required": [detail["name"] for detail in fields],
            "additionalProperties": False,
        }
        example = None
        if fields:
            extracted = {detail["name"]: _example_value(detail) for detail in fields}
            said = "; ".join(
                f"{str(name).replace('_', ' ')} is {orjson.dumps(value).decode()}"
                for name, value in extracted.items()
            )
            prefix = f"[{vertical}] " if vertical else ""
            example = {
                "transcript": f"{prefix}Caller: {said}.",
                "transcript_origin": "default",
                "extracted": extracted,
                "model": model,
            }
        return json_response(
            {
                "template_schema": {"name": name, "schema": schema},
                "field_names": [detail["name"] for detail in fields],
                "field_count": len(fields),
                "fields_detail": fields,
                "example": example,
                "warnings": warnings,
                "body_hash": "sha256:" + hashlib.sha256(template_body.encode()).hexdigest(),
            }
        )

    # -- flows (JS-only upsert) -------------------------------------------------------------------

    def _upsert(self, org_id: str, slug: str, name: str, spec: dict[str, Any]) -> Response:
        if not _SLUG.match(slug):
            raise _invalid("slug must be lowercase letters, digits, '-' or '_' (at most 64)")
        flow = self.state.flow_by_slug(slug)
        created = flow is None
        if flow is None:
            webhook = self.state.add_webhook(
                new_id("wh"), "sk_wh_" + secrets.token_urlsafe(24), slug=slug, name=name
            )
            flow = self.state.flows[webhook.flow_id]
        elif flow.org_id != org_id:
            raise _forbidden(f"slug {slug!r} belongs to another org")
        flow.name = name
        version = self.state.flow_versions.get(flow.id, 0) + 1
        self.state.flow_versions[flow.id] = version
        self.state.flow_specs[flow.id] = spec
        return json_response(
            {
                "flow_id": flow.id,
                "slug": flow.slug,
                "name": flow.name,
                "version": version,
                "created": created,
                "webhook_id": flow.webhook_id,
                "webhook_token": self.state.webhooks[flow.webhook_id].token,
            },
            201 if created else 200,
        )

    async def upsert_agent(self, request: Request) -> Response:
        """``POST /v1/flows/upsert-agent``: create or update an agent flow by slug."""
        caller = self._account(request)
        body = await read_json_object(request)
        slug = _required_str(body, "slug", max_length=64)
        name = _required_str(body, "name", max_length=200)
        for field_name in ("provider", "model", "system_prompt"):
            _required_str(body, field_name, max_length=100_000)
        _optional_number(body, "temperature")
        for field_name in ("max_tokens", "history_turns", "recent_turns", "max_tool_iterations"):
            _optional_int(body, field_name, minimum=0)
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise _invalid("tools must be an array")
            for index, tool in enumerate(tools):
                if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                    raise _invalid(f"tools[{index}] must be an object with a string name")
                if tool.get("kind", "handler") != "handler":
                    raise _invalid(f"tools[{index}].kind must be 'handler'")
                _optional_object(tool, "config")
        _optional_object(body, "memory_facts_schema")
        _optional_object(body, "memory_summary_config")
        _optional_str_list(body, "context_memory_keys")
        return self._upsert(caller.org_id, slug, name, {"kind": "agent", **body})

    async def upsert_flow(self, request: Request) -> Response:
        """``POST /v1/flows/upsert``: create or update a graph flow by slug. The graph is
        ``{"nodes", "edges"}``, either under ``graph`` or at the top level."""
        caller = self._account(request)
        body = await read_json_object(request)
        slug = _required_str(body, "slug", max_length=64)
        name = _required_str(body, "name", max_length=200)
        graph = body.get("graph", body)
        if not isinstance(graph, dict):
            raise _invalid("graph must be an object")
        nodes = graph.get("nodes")
        edges = graph.get("edges", [])
        if not isinstance(nodes, list) or not nodes:
            raise _invalid("graph.nodes must be a non-empty array")
        if not isinstance(edges, list):
            raise _invalid("graph.edges must be an array")
        node_ids: set[str] = set()
        for index, node in enumerate(nodes):
            if not isinstance(node, dict) or not isinstance(node.get("id"), str):
                raise _invalid(f"graph.nodes[{index}] must be an object with a string id")
            if node["id"] in node_ids:
                raise _invalid(f"graph.nodes[{index}]: duplicate id {node['id']!r}")
            node_ids.add(node["id"])
        for index, edge in enumerate(edges):
            if not isinstance(edge, dict):
                raise _invalid(f"graph.edges[{index}] must be an object")
            for end in ("source", "target"):
                if edge.get(end) not in node_ids:
                    raise _invalid(f"graph.edges[{index}].{end} must name a node")
        return self._upsert(caller.org_id, slug, name, {"kind": "graph", **body})

    # -- dead-code admin routes -------------------------------------------------------------------

    async def org_analytics(self, request: Request) -> Response:
        caller = self._account(request)
        by_path = dict(self.state.http_by_path)
        return json_response(
            {
                "org_id": caller.org_id,
                "llm_today": {"requests": 0, "tokens": 0, "cost_usd": 0.0},
                "messages_today": {
                    "inbound": {"webhook": by_path.get("/h/{token}", 0)},
                    "outbound_last_24h": 0,
                },
                "http_today": {"total": sum(by_path.values()), "by_path": by_path},
                "budget": {
                    "org_cap_micro_usd": self.state.org_budget_micro_usd,
                    "org_mtd_micro_usd": self.state.org_mtd_micro_usd,
                    "key_cap_micro_usd": caller.monthly_budget_micro_usd,
                    "key_mtd_micro_usd": caller.current_mtd_micro_usd,
                },
            }
        )

    async def list_models(self, request: Request) -> Response:
        caller = self._account(request)
        return json_response({"org_id": caller.org_id, "models": list(MODELS)})

    async def node_catalog(self, request: Request) -> Response:
        self._account(request)
        return json_response(NODE_CATALOG)

    # -- admin knowledge --------------------------------------------------------------------------

    def _source_json(self, source: dict[str, object]) -> dict[str, Any]:
        count = sum(1 for chunk in self.state.knowledge.chunks() if chunk.source_id == source["id"])
        return {**source, "chunk_count": count}

    @staticmethod
    def _org_filter(request: Request, caller: AccountKey) -> str:
        # The key sees only its own org; asking for another simply finds nothing.
        return request.query_params.get("org_id") or caller.org_id

    async def list_bases(self, request: Request) -> Response:
        caller = self._account(request)
        org_id = self._org_filter(request, caller)
        bases = [
            dict(base)
            for base in self.state.knowledge_bases.values()
            if base["org_id"] == org_id == caller.org_id
        ]
        return json_response({"bases": bases})

    async def list_sources(self, request: Request) -> Response:
        caller = self._account(request)
        org_id = self._org_filter(request, caller)
        sources = [
            self._source_json(source)
            for source in self.state.sources.values()
            if source["org_id"] == org_id == caller.org_id
        ]
        return json_response({"sources": sources})

    async def create_source(self, request: Request) -> Response:
        """Needs ``org_id`` and ``name``; ``base_id`` defaults to the org's first base."""
        caller = self._account(request)
        body = await read_json_object(request)
        org_id = _required_str(body, "org_id", max_length=200)
        name = _required_str(body, "name", max_length=200)
        description = _optional_str(body, "description")
        if org_id != caller.org_id:
            raise _forbidden("org_id does not match the key's org")
        base_id = _optional_str(body, "base_id")
        bases = [b for b in self.state.knowledge_bases.values() if b["org_id"] == org_id]
        if base_id is None:
            if not bases:
                base_id = new_id("kb")
                self.state.knowledge_bases[base_id] = {
                    "id": base_id,
                    "name": "Default knowledge base",
                    "org_id": org_id,
                    "created_at": iso(datetime.now(timezone.utc)),
                }
            else:
                base_id = str(bases[0]["id"])
        elif not any(base["id"] == base_id for base in bases):
            raise _not_found(f"unknown knowledge base {base_id}")
        source: dict[str, object] = {
            "id": new_id("src"),
            "name": name,
            "org_id": org_id,
            "base_id": base_id,
            "created_at": iso(datetime.now(timezone.utc)),
        }
        if description is not None:
            source["description"] = description
        self.state.sources[str(source["id"])] = source
        return json_response({"source": self._source_json(source)}, 201)

    def _ingest_job(
        self, source_id: str, org_id: str, text: str, metadata: dict[str, Any] | None, **extra: Any
    ) -> IngestJob:
        chunk_count, token_count = self.state.ingest_text(source_id, text, metadata)
        job = IngestJob(
            job_id=new_id("job"),
            source_id=source_id,
            org_id=org_id,
            result={"chunk_count": chunk_count, "token_count": token_count, **extra},
        )
        self.state.ingest_jobs[job.job_id] = job
        return job

    async def admin_ingest_url(self, request: Request) -> Response:
        """Ingest a URL without fetching it: the page text is derived from the URL itself."""
        caller = self._account(request)
        source_id = request.path_params["source_id"]
        body = await read_json_object(request)
        self._source(source_id, caller.org_id)
        url = _required_str(body, "url", max_length=2048).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _invalid("url must be an absolute http(s) URL")
        metadata = {**(_optional_object(body, "metadata") or {}), "url": url}
        words = " ".join(re.findall(r"[A-Za-z0-9]+", f"{parts.path} {parts.query}")) or "home"
        text = (
            f"Page fetched from {url}.\n\n"
            f"This page on {parts.hostname} is about {words}. The emulator does not fetch URLs; "
            "it stores this stand-in text so the page can be searched."
        )
        job = self._ingest_job(source_id, caller.org_id, text, metadata, url=url)
        return json_response(_job_json(job), 202)

    async def admin_ingest_text(self, request: Request) -> Response:
        """Answers both readings of this route: Python's ``IngestJobStatus`` fields and JS's
        ``{source_id, chunk_count, token_count}``."""
        caller = self._account(request)
        source_id = request.path_params["source_id"]
        body = await read_json_object(request)
        self._source(source_id, caller.org_id)
        text = _required_str(body, "text", max_length=10_000_000)
        metadata = _optional_object(body, "metadata")
        job = self._ingest_job(source_id, caller.org_id, text, metadata)
        return json_response(
            {
                **_job_json(job),
                "chunk_count": job.result["chunk_count"],
                "token_count": job.result["token_count"],
            }
        )

    async def delete_chunks(self, request: Request) -> Response:
        """``DELETE …/chunks?metadata_key=&metadata_value=``: by exact metadata match."""
        caller = self._account(request)
        source_id = request.path_params["source_id"]
        self._source(source_id, caller.org_id)
        key = request.query_params.get("metadata_key")
        value = request.query_params.get("metadata_value")
        if not key or value is None:
            raise _invalid("metadata_key and metadata_value required")
        deleted = self.state.knowledge.remove_where(
            lambda chunk: (
                chunk.source_id == source_id
                and key in chunk.metadata
                and _metadata_matches_query(chunk.metadata[key], value)
            )
        )
        return json_response({"deleted_count": deleted})

    async def patch_chunks(self, request: Request) -> Response:
        """``PATCH …/chunks`` ``{match:{metadata_key, metadata_value}, patch}``: merges ``patch``
        into each matching chunk's metadata; a ``null`` in the patch removes that key."""
        caller = self._account(request)
        source_id = request.path_params["source_id"]
        body = await read_json_object(request)
        self._source(source_id, caller.org_id)
        match = _optional_object(body, "match")
        patch = _optional_object(body, "patch")
        if match is None or patch is None:
            raise _invalid("match and patch required")
        key = _required_str(match, "metadata_key", max_length=200)
        if "metadata_value" not in match:
            raise _invalid("match.metadata_value required")
        wanted = match["metadata_value"]
        updated = 0
        for chunk in self.state.knowledge.chunks():
            if chunk.source_id != source_id or chunk.metadata.get(key, ...) != wanted:
                continue
            for name, value in patch.items():
                if value is None:
                    chunk.metadata.pop(name, None)
                else:
                    chunk.metadata[name] = value
            updated += 1
        return json_response({"updated_count": updated})

    async def get_ingest_job(self, request: Request) -> Response:
        caller = self._account(request)
        job = self.state.ingest_jobs.get(request.path_params["job_id"])
        if job is None or job.org_id != caller.org_id:
            raise _not_found(f"unknown ingest job {request.path_params['job_id']}")
        return json_response(_job_json(job))
