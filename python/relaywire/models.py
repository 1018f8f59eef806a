"""pydantic v2 models straight from JSON bytes, built by the Rust core when it can give exactly
pydantic's answer.

:func:`validate_json` is a drop-in for ``Model.model_validate_json(data)``. The first call for a
model reads its pydantic-core schema and compiles it into a :class:`ModelPlan` (the fields, the
keys each one is read from, their types, defaults and nested models). Afterwards one native call
parses the JSON and builds the instances the way pydantic-core does (``__dict__`` in field
order, ``__pydantic_fields_set__``, no extras), without validators in Python.

The plan covers the plain shapes response models have: ``str``, ``int``, ``float``, ``bool``,
``Any``, ``datetime``, ``str`` enums and string literals, ``X | None``, lists, ``dict[str, X]``,
nested and recursive models, aliases (with or without population by name), defaults and default
factories, left-to-right unions (``Field(union_mode="left_to_right")``, such as
``MessageStatus | str``) and unions discriminated by a string literal
(``Field(discriminator="type")``). A model with anything else (validators, smart unions,
constraints, extra fields kept or forbidden, custom ``__init__``, ``model_post_init``, config
that changes parsing) gets no plan.

The plan builds only what it knows to be pydantic's result. For anything else in a document,
such as a number in a string field, a timestamp in another spelling, an unknown enum value, a
missing required field or invalid JSON, it declines, and the whole document goes to
``model_validate_json``. Results, the inputs accepted and the errors raised are pydantic's.

:class:`DialectPlan` (with :class:`LinktorRules`) builds models the same way from a Linktor
self-hosted server's records, through the rules ``linktor._dialect`` adapts them by, and
:class:`RealtimeEvents` lets ``relaywire.streams.EnvelopeDecoder`` build Linktor's realtime
events (see ``linktor._builders``), and :class:`WebhookEvents` builds Linktor's webhook
events (verifying the request first, in ``construct_event``).
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, TypeVar

from relaywire._native import (
    DialectPlan,
    LinktorRules,
    ModelPlan,
    RealtimeEvents,
    WebhookEvents,
)
from relaywire.transport import fork

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "DialectPlan",
    "Incomplete",
    "LinktorRules",
    "ModelPlan",
    "RealtimeEvents",
    "Unsupported",
    "WebhookEvents",
    "compile_plan",
    "plan_for",
    "validate_json",
]

M = TypeVar("M", bound="BaseModel")

# Default modes of a field, as ModelPlan reads them.
REQUIRED: Final = 0
VALUE: Final = 1
DEEPCOPY: Final = 2
FACTORY: Final = 3

# Keys of a core schema that do not change what validation accepts or returns.
_NEUTRAL_KEYS = frozenset({"type", "ref", "metadata", "serialization"})
# Model config (pydantic-core's CoreConfig) entries that leave JSON validation of the supported
# shapes as the plan does it; any other entry, or another value, means no plan.
_NEUTRAL_CONFIG: Mapping[str, Callable[[Any], bool]] = {
    "title": lambda _: True,
    "validate_by_alias": lambda _: True,
    "validate_by_name": lambda _: True,
    "populate_by_name": lambda _: True,
    "loc_by_alias": lambda _: True,
    "serialize_by_alias": lambda _: True,
    "ser_json_timedelta": lambda _: True,
    "ser_json_temporal": lambda _: True,
    "ser_json_bytes": lambda _: True,
    "ser_json_inf_nan": lambda _: True,
    "hide_input_in_errors": lambda _: True,
    "validation_error_cause": lambda _: True,
    "cache_strings": lambda _: True,
    "extra_fields_behavior": lambda value: value == "ignore",
    "strict": lambda value: value is False,
}


class Unsupported(Exception):
    """A schema the plan cannot reproduce exactly: the model gets no plan."""


class Incomplete(Unsupported):
    """The model's schema cannot be built yet (a forward reference not defined yet)."""


# Keys of a union schema that only change its error's text (the plan never raises errors).
_UNION_ERROR_KEYS = ("custom_error_type", "custom_error_message", "custom_error_context")


def _discriminator_keys(discriminator: Any) -> tuple[str, ...]:
    """The keys a tagged union reads its tag from, the first one present: a field name, or
    pydantic's choices of one-key paths (the name, then the alias)."""
    if type(discriminator) is str:
        return (discriminator,)
    if (
        isinstance(discriminator, list)
        and discriminator
        and all(
            isinstance(path, list) and len(path) == 1 and type(path[0]) is str
            for path in discriminator
        )
    ):
        return tuple(path[0] for path in discriminator)
    raise Unsupported("a discriminator that is not a key")


def _has_missing_hook(cls: type[Enum]) -> bool:
    """Whether ``cls`` looks up values that are not members (pydantic calls ``cls(value)``)."""
    return getattr(cls._missing_, "__func__", None) is not _ENUM_MISSING


_ENUM_MISSING = Enum._missing_.__func__  # type: ignore[attr-defined]


def _check_keys(schema: Mapping[str, Any], allowed: frozenset[str] | set[str]) -> None:
    extra = set(schema) - allowed - _NEUTRAL_KEYS
    if extra:
        raise Unsupported(f"{schema.get('type')!r} schema with {sorted(extra)}")


class _Compiler:
    """Turns one model's core schema into ModelPlan's input: a list of models, each
    ``(cls, fields)``; the root model is first."""

    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]) -> None:
        self.definitions = definitions
        self.models: list[tuple[type, list[tuple[Any, ...]]]] = []
        self.index: dict[type, int] = {}

    def kind(self, schema: Mapping[str, Any]) -> tuple[Any, ...]:
        kind = schema.get("type")
        if kind in ("str", "int", "float", "bool", "any"):
            _check_keys(schema, set())
            return (kind,)
        if kind == "datetime":
            _check_keys(schema, {"microseconds_precision"})
            if schema.get("microseconds_precision", "truncate") != "truncate":
                raise Unsupported("datetime without truncated microseconds")
            return ("datetime",)
        if kind == "nullable":
            _check_keys(schema, {"schema"})
            return ("nullable", self.kind(schema["schema"]))
        if kind == "list":
            _check_keys(schema, {"items_schema"})
            return ("list", self.kind(schema.get("items_schema", {"type": "any"})))
        if kind == "dict":
            _check_keys(schema, {"keys_schema", "values_schema"})
            keys = schema.get("keys_schema", {"type": "any"})
            if keys.get("type") not in ("str", "any") or set(keys) - _NEUTRAL_KEYS:
                raise Unsupported("dict keys other than str")
            return ("dict", self.kind(schema.get("values_schema", {"type": "any"})))
        if kind == "enum":
            _check_keys(schema, {"cls", "members", "sub_type", "missing"})
            if schema.get("sub_type") != "str":
                raise Unsupported("an enum that is not a str enum")
            # With a `_missing_` hook, a value that is no member may still be accepted.
            open_enum = schema.get("missing") is not None or _has_missing_hook(schema["cls"])
            return ("choice", {member.value: member for member in schema["members"]}, open_enum)
        if kind == "literal":
            _check_keys(schema, {"expected"})
            expected = schema["expected"]
            if not all(type(value) is str for value in expected):
                raise Unsupported("a literal with values other than str")
            return ("choice", {value: value for value in expected})
        if kind == "union":
            _check_keys(schema, {"choices", "mode", "strict", *_UNION_ERROR_KEYS})
            if schema.get("strict"):
                raise Unsupported("a strict union")
            if schema.get("mode", "smart") != "left_to_right":
                raise Unsupported("a smart union")
            members = [c[0] if isinstance(c, tuple) else c for c in schema["choices"]]
            return ("union", [self.kind(member) for member in members])
        if kind == "tagged-union":
            allowed = {"choices", "discriminator", "from_attributes", "strict", *_UNION_ERROR_KEYS}
            _check_keys(schema, allowed)
            if schema.get("strict"):
                raise Unsupported("a strict union")
            return ("tagged", _discriminator_keys(schema["discriminator"]), self.tags(schema))
        if kind == "model":
            return ("model", self.model(schema))
        if kind == "definition-ref":
            ref = schema["schema_ref"]
            if ref not in self.definitions:
                raise Unsupported(f"unresolved reference {ref!r}")
            return self.kind(self.definitions[ref])
        if kind == "definitions":
            raise Unsupported("nested definitions")
        raise Unsupported(f"{kind!r} schema")

    def tags(self, schema: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
        tags: dict[str, tuple[Any, ...]] = {}
        for tag, member in schema["choices"].items():
            if type(tag) is not str:
                raise Unsupported("a union tag that is not a str")
            tags[tag] = self.kind(member)
        return tags

    def model(self, schema: Mapping[str, Any]) -> int:
        cls = schema["cls"]
        if cls in self.index:
            return self.index[cls]
        _check_keys(
            schema, {"cls", "schema", "config", "custom_init", "root_model", "generic_origin"}
        )
        if schema.get("custom_init") or schema.get("root_model"):
            raise Unsupported(f"{cls.__name__}: custom __init__ or a root model")
        if getattr(cls, "__pydantic_post_init__", None):
            raise Unsupported(f"{cls.__name__}: model_post_init")
        config = schema.get("config", {})
        for key, value in config.items():
            neutral = _NEUTRAL_CONFIG.get(key)
            if neutral is None or not neutral(value):
                raise Unsupported(f"{cls.__name__}: config {key}={value!r}")
        by_alias = config.get("validate_by_alias", True)
        by_name = config.get("validate_by_name", config.get("populate_by_name", False))
        inner = schema["schema"]
        if inner.get("type") != "model-fields":
            raise Unsupported(f"{cls.__name__}: {inner.get('type')!r} inner schema")
        _check_keys(inner, {"fields", "model_name", "computed_fields", "extra_behavior"})
        if inner.get("extra_behavior", "ignore") != "ignore":
            raise Unsupported(f"{cls.__name__}: extra fields kept or forbidden")
        index = len(self.models)
        fields: list[tuple[Any, ...]] = []
        self.models.append((cls, fields))
        self.index[cls] = index
        for name, field in inner["fields"].items():
            fields.append(self.field(name, field, by_alias=by_alias, by_name=by_name))
        return index

    def field(
        self, name: str, field: Mapping[str, Any], *, by_alias: bool, by_name: bool
    ) -> tuple[Any, ...]:
        if field.get("type") != "model-field":
            raise Unsupported(f"field {name!r}: {field.get('type')!r}")
        _check_keys(
            field,
            {
                "schema",
                "validation_alias",
                "serialization_alias",
                "serialization_exclude",
                "serialization_exclude_if",
                "exclude",
            },
        )
        alias = field.get("validation_alias")
        if alias is not None and type(alias) is not str:
            raise Unsupported(f"field {name!r}: an alias path or alias choices")
        if alias is None or alias == name:
            keys: tuple[str, ...] = (name,)
        elif by_alias and by_name:
            keys = (alias, name)
        elif by_alias:
            keys = (alias,)
        else:
            keys = (name,)
        schema = field["schema"]
        mode, default = REQUIRED, None
        if schema.get("type") == "default":
            _check_keys(
                schema, {"schema", "default", "default_factory", "default_factory_takes_data"}
            )
            if "default_factory" in schema:
                if schema.get("default_factory_takes_data"):
                    raise Unsupported(f"field {name!r}: a default factory that takes the data")
                mode, default = FACTORY, schema["default_factory"]
            else:
                default = schema["default"]
                try:
                    hash(default)
                except TypeError:
                    mode = DEEPCOPY  # pydantic-core copies an unhashable default
                else:
                    mode = VALUE
            schema = schema["schema"]
        return (name, keys, self.kind(schema), mode, default)


def compile_plan(model: type[BaseModel]) -> ModelPlan:
    """The plan of ``model``; raises :class:`Unsupported` when it cannot have one (and
    whatever pydantic raises when the model itself cannot be built)."""
    try:
        # An incomplete model's schema is a stand-in that raises when it is read.
        schema: Mapping[str, Any] = dict(model.__pydantic_core_schema__)
    except Exception as exc:  # the model is not complete yet: pydantic says why when used
        raise Incomplete(str(exc)) from exc
    definitions: dict[str, Mapping[str, Any]] = {}
    if schema.get("type") == "definitions":
        _check_keys(schema, {"schema", "definitions"})
        definitions = {item["ref"]: item for item in schema["definitions"]}
        schema = schema["schema"]
    if schema.get("type") == "definition-ref":  # a recursive model refers to itself
        schema = definitions.get(str(schema.get("schema_ref")), schema)
    if schema.get("type") != "model" or schema.get("cls") is not model:
        raise Unsupported(f"{model.__name__}: the schema is not the model's own")
    compiler = _Compiler(definitions)
    try:
        compiler.model(schema)
    except (KeyError, TypeError, AttributeError) as exc:  # a schema shape this code does not know
        raise Unsupported(f"{model.__name__}: {exc!r}") from exc
    from pydantic_core import TzInfo  # what pydantic-core puts in the datetimes it parses

    return ModelPlan(compiler.models, tzinfo=TzInfo, deepcopy=copy.deepcopy)


_plans: weakref.WeakKeyDictionary[type, ModelPlan | None] = weakref.WeakKeyDictionary()
_plans_lock = threading.Lock()


@fork.on_fork_in_child
def _new_lock() -> None:  # another parent thread may have held it at fork time
    global _plans_lock
    _plans_lock = threading.Lock()


def plan_for(model: type[BaseModel]) -> ModelPlan | None:
    """The cached plan of ``model``, or ``None`` if it cannot have one (compiled once)."""
    try:
        return _plans[model]
    except KeyError:
        pass
    try:
        plan: ModelPlan | None = compile_plan(model)
    except Incomplete:
        return None  # not remembered: the model may be completed later
    except Unsupported:
        plan = None
    with _plans_lock:
        _plans[model] = plan
    return plan


def validate_json(model: type[M], data: str | bytes | bytearray) -> M:
    """``model.model_validate_json(data)``, through the model's plan when it has one and the
    document is one the plan reproduces exactly."""
    if isinstance(data, (bytes, bytearray)):  # what else pydantic takes is a str
        plan = plan_for(model)
        if plan is not None:
            built = plan.build(data)
            if built is not None:
                return built  # type: ignore[no-any-return]
    return model.model_validate_json(data)
