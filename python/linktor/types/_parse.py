"""Response bodies (raw JSON bytes) straight into the Linktor models.

The JSON is parsed and validated in one pass inside pydantic-core, never as a Python ``dict``
first: about 1.5x faster than ``json.loads`` + ``model_validate``. Validation runs in strict
mode first, which skips the coercion attempts of lax mode (another ~10-15% on typical bodies);
a body strict mode refuses (say, a number in a string field) is validated again in lax mode, so
the result and the accepted inputs are exactly those of ``model_validate``. Invalid JSON fails
at once. Errors are pydantic's ``ValidationError``.

Validators are cached per model, so the first call for a model pays for its schema once.
"""

from functools import cache, lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from linktor.types.common import PaginatedResponse

__all__ = ["parse", "parse_list", "parse_model", "parse_page"]

M = TypeVar("M", bound=BaseModel)

Raw = bytes | bytearray | str


def _is_json_error(exc: ValidationError) -> bool:
    return any(error["type"] == "json_invalid" for error in exc.errors(include_url=False))


def parse_model(model: type[M], raw: Raw) -> M:
    """``raw`` (a JSON object) as an instance of ``model``."""
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if _is_json_error(exc):
            raise
    return model.model_validate_json(raw)


@cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def parse_list(model: type[M], raw: Raw) -> list[M]:
    """``raw`` (a JSON array of objects) as a list of ``model``."""
    adapter = _list_adapter(model)
    try:
        result: list[M] = adapter.validate_json(raw, strict=True)
    except ValidationError as exc:
        if _is_json_error(exc):
            raise
        result = adapter.validate_json(raw)
    return result


@cache
def _page_model(model: type[BaseModel]) -> type[PaginatedResponse[Any]]:
    return PaginatedResponse[model]  # type: ignore[valid-type]


def parse_page(model: type[M], raw: Raw) -> PaginatedResponse[M]:
    """``raw`` (``{"data": [...], "pagination": {...}}``) as ``PaginatedResponse[model]``."""
    page: PaginatedResponse[M] = parse_model(_page_model(model), raw)
    return page


@lru_cache(maxsize=256)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def parse(tp: Any, raw: Raw) -> Any:
    """``raw`` as any type pydantic validates (``list[Message]``, ``dict[str, Contact]``, ...).
    ``tp`` must be hashable; adapters are cached per type."""
    adapter = _adapter(tp)
    try:
        return adapter.validate_json(raw, strict=True)
    except ValidationError as exc:
        if _is_json_error(exc):
            raise
    return adapter.validate_json(raw)
