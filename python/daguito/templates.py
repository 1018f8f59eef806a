"""Extraction templates (daguito-sdk's ``daguito.templates``): preview a template's schema and an
example extraction (``POST /v1/templates/preview``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    request_json,
    wire_int,
    wire_object,
    wire_objects,
    wire_opt_object,
    wire_opt_str,
    wire_str,
    wire_str_list,
)
from daguito._url import join_http

__all__ = [
    "TemplateFieldDetail",
    "TemplateFieldType",
    "TemplatePreviewExample",
    "TemplatePreviewResult",
    "TemplatePreviewWarning",
    "TemplateSchema",
    "TemplatesService",
    "TranscriptOrigin",
]

TemplateFieldType = Literal["string", "number", "integer", "boolean", "date", "array", "enum"]
TranscriptOrigin = Literal["caller", "default"]

_FIELD_TYPES: frozenset[str] = frozenset(get_args(TemplateFieldType))
_PREVIEW = "/v1/templates/preview"


@dataclass
class TemplateFieldDetail:
    """One field of a template; ``enum_values`` only for ``enum`` fields."""

    name: str
    description: str
    type: TemplateFieldType
    enum_values: list[str] | None = None


@dataclass
class TemplateSchema:
    """The JSON schema generated for a template."""

    name: str
    schema: dict[str, Any]


@dataclass
class TemplatePreviewExample:
    """An example transcript and what the extractor took from it."""

    transcript: str
    transcript_origin: TranscriptOrigin
    extracted: dict[str, Any] | None
    model: str


@dataclass
class TemplatePreviewWarning:
    """Something about the template worth fixing (``field`` names the field when there is one)."""

    code: str
    message: str
    field: str | None = None
    hint: str | None = None


@dataclass
class TemplatePreviewResult:
    """The preview of a template: its schema, fields, an example and warnings."""

    template_schema: TemplateSchema
    field_names: list[str]
    field_count: int
    fields_detail: list[TemplateFieldDetail]
    example: TemplatePreviewExample | None
    body_hash: str
    warnings: list[TemplatePreviewWarning] = field(default_factory=list)


def _field_detail(wire: dict[str, Any]) -> TemplateFieldDetail:
    where = "TemplateFieldDetail"
    raw_type = wire.get("type")
    # An unknown wire type reads as "string", as in daguito-sdk.
    kind = raw_type if isinstance(raw_type, str) and raw_type in _FIELD_TYPES else "string"
    enum_values = wire_str_list(wire, "enum_values", where) if wire.get("enum_values") else None
    return TemplateFieldDetail(
        name=wire_str(wire, "name", where),
        description=wire_str(wire, "description", where),
        type=cast(TemplateFieldType, kind),
        enum_values=enum_values,
    )


def _example(wire: dict[str, Any] | None) -> TemplatePreviewExample | None:
    if wire is None:
        return None
    where = "TemplatePreviewExample"
    origin: TranscriptOrigin = "caller" if wire.get("transcript_origin") == "caller" else "default"
    return TemplatePreviewExample(
        transcript=wire_str(wire, "transcript", where),
        transcript_origin=origin,
        extracted=wire_opt_object(wire, "extracted", where),
        model=wire_str(wire, "model", where),
    )


def _warning(wire: dict[str, Any]) -> TemplatePreviewWarning:
    where = "TemplatePreviewWarning"
    return TemplatePreviewWarning(
        code=wire_str(wire, "code", where),
        message=wire_str(wire, "message", where),
        field=wire_opt_str(wire, "field", where),
        hint=wire_opt_str(wire, "hint", where),
    )


def _preview_result(data: dict[str, Any]) -> TemplatePreviewResult:
    where = "TemplatePreviewResult"
    schema = wire_object(data, "template_schema", where)
    return TemplatePreviewResult(
        template_schema=TemplateSchema(
            name=wire_str(schema, "name", "TemplateSchema"),
            schema=wire_object(schema, "schema", "TemplateSchema"),
        ),
        field_names=wire_str_list(data, "field_names", where),
        field_count=wire_int(data, "field_count", where),
        fields_detail=[_field_detail(item) for item in wire_objects(data, "fields_detail", where)],
        example=_example(wire_opt_object(data, "example", where)),
        body_hash=wire_str(data, "body_hash", where),
        warnings=[_warning(item) for item in wire_objects(data, "warnings", where)],
    )


class TemplatesService:
    """``/v1/templates``: preview what a template extracts."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    async def preview(
        self,
        template_body: str,
        *,
        vertical: str | None = None,
        model: str | None = None,
        force_regenerate: bool | None = None,
    ) -> TemplatePreviewResult:
        """The schema, fields and an example for ``template_body``.

        An empty body raises :class:`DaguitoError` before any request (as daguito-sdk did);
        options that are None are left out of the request.
        """
        if not template_body:
            raise DaguitoError("preview: template_body is required")
        body: dict[str, Any] = {"template_body": template_body}
        options = {"vertical": vertical, "model": model, "force_regenerate": force_regenerate}
        body.update((name, value) for name, value in options.items() if value is not None)
        data = await call(
            self._client_factory, "POST", join_http(self._api_url, _PREVIEW), body=body
        )
        return _preview_result(expect_object(data, f"POST {_PREVIEW}"))
