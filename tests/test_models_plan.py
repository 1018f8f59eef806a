"""``relaywire.models``: the native ``ModelPlan`` gives exactly ``model_validate_json``'s result.

* :func:`assert_identical` compares instances strictly (types, ``__dict__`` order, fields set,
  extras, privates, tzinfo types and offsets, float reprs, dict order).
* Property tests: canonical documents (random key order, extra keys, omissions, duplicates,
  escapes) are built by the plan itself and equal pydantic's; messy documents (wrong types,
  other timestamp spellings, unknown enum values, lone surrogates, big integers, broken JSON)
  give pydantic's result or pydantic's error, whether the plan builds them or declines.
* Explicit declines, defaults (copies and factories), unsupported models, the constructor's
  checks, every ``linktor.types`` model, real emulator answers over sockets, threads and
  re-entrant default factories.
"""

from __future__ import annotations

import abc
import copy
import importlib
import json
import pickle
import pkgutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, IntEnum
from typing import Annotated, Any, Literal

import httpx
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    ValidationError,
    conint,
    field_validator,
    model_validator,
)
from pydantic_core import TzInfo

import linktor
import linktor.types
from relaywire.emulator import Emulator
from relaywire.models import ModelPlan, Unsupported, compile_plan, plan_for, validate_json

DEMO_KEY = "lk_demo"

# -- strict equality -----------------------------------------------------------------------------


def assert_identical(a: Any, b: Any, path: str = "$") -> None:
    """``a`` and ``b`` are the same value down to types, orders, float signs and tzinfo types."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, BaseModel):
        assert list(a.__dict__) == list(b.__dict__), f"{path}: field order"
        for key in a.__dict__:
            assert_identical(a.__dict__[key], b.__dict__[key], f"{path}.{key}")
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__, f"{path}: fields set"
        assert type(a.__pydantic_fields_set__) is set
        assert a.__pydantic_extra__ == b.__pydantic_extra__, f"{path}: extra"
        assert a.__pydantic_private__ == b.__pydantic_private__, f"{path}: private"
    elif isinstance(a, Enum):
        assert a is b, f"{path}: {a!r} is not {b!r}"
    elif isinstance(a, datetime):
        assert a == b, f"{path}: {a!r} != {b!r}"
        assert type(a.tzinfo) is type(b.tzinfo), f"{path}: {a.tzinfo!r} vs {b.tzinfo!r}"
        assert a.utcoffset() == b.utcoffset(), f"{path}: offsets"
        assert a.isoformat() == b.isoformat(), f"{path}: {a.isoformat()} != {b.isoformat()}"
    elif isinstance(a, float):
        assert repr(a) == repr(b), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key_a, key_b in zip(a, b, strict=True):
            assert type(key_a) is type(key_b), f"{path}: key types"
            assert_identical(a[key_a], b[key_b], f"{path}[{key_a!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def errors_of(exc: ValidationError) -> str:
    # repr: an input holding nan must still compare equal to itself.
    return repr(exc.errors(include_url=False))


def check_same(model: type[BaseModel], data: bytes | bytearray) -> Any:
    """``validate_json`` and ``plan.build`` against ``model_validate_json`` on ``data``;
    returns what the plan built (``None`` when it declined)."""
    plan = plan_for(model)
    assert plan is not None
    try:
        expected = model.model_validate_json(data)
    except ValidationError as exc:
        assert plan.build(data) is None, "the plan built a document pydantic rejects"
        with pytest.raises(ValidationError) as info:
            validate_json(model, data)
        assert errors_of(info.value) == errors_of(exc)
        return None
    built = plan.build(data)
    if built is not None:
        assert_identical(built, expected)
    assert_identical(validate_json(model, data), expected)
    return built


def test_assert_identical_is_strict() -> None:
    class Small(BaseModel):
        x: float
        when: datetime | None = None

    one = Small.model_validate_json(b'{"x": 0.0}')
    for other in [
        Small.model_validate_json(b'{"x": -0.0}'),
        Small.model_validate_json(b'{"x": 0.0, "when": null}'),
        Small.model_validate_json(b'{"when": null, "x": 0.0}'),
    ]:
        with pytest.raises(AssertionError):
            assert_identical(one, other)
    z = Small.model_validate_json(b'{"x": 1, "when": "2024-01-01T10:00:00Z"}')
    plus = Small.model_validate_json(b'{"x": 1, "when": "2024-01-01T11:00:00+01:00"}')
    with pytest.raises(AssertionError):
        assert_identical(z, plus)
    with pytest.raises(AssertionError):
        assert_identical({"a": 1, "b": 2}, {"b": 2, "a": 1})
    with pytest.raises(AssertionError):
        assert_identical([1], [1.0])
    assert_identical(one, Small.model_validate_json(b'{"x": 0}'))


# -- test models ---------------------------------------------------------------------------------


class Color(str, Enum):
    RED = "red"
    GREEN = "green"
    ACCENT = "é"
    EMOJI = "😀"


class Leaf(BaseModel):
    name: str
    score: float = 0.5
    tags: list[str] = []


class Record(BaseModel):
    """Every supported kind, aliases with population by name, defaults of each mode."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    title: str = Field(alias="titleText")
    ratio: float
    active: bool = False
    color: Color
    mode: Literal["a", "b"] = "a"
    created: datetime = Field(alias="createdAt")
    seen: datetime | None = Field(default=None, alias="seenAt")
    leaf: Leaf
    leaves: list[Leaf] = []
    maybe_leaf: Leaf | None = Field(default=None, alias="maybeLeaf")
    default_leaf: Leaf = Leaf(name="default")
    meta: dict[str, Any] = {}
    counts: dict[str, int] = Field(default_factory=dict)
    names: list[str] = Field(default_factory=list)
    anything: Any = None
    maybe_int: int | None = None
    colors: list[Color] | None = None
    grid: dict[str, list[int | None]] = {}
    label: str = "none"
    stamps: dict[str, datetime] = {}
    by_name: dict[str, Leaf] | None = Field(default=None, alias="byName")
    weight: float | None = None


class AliasOnly(BaseModel):
    """Aliases without population by name: the field names are unknown keys."""

    user_name: str = Field(alias="userName")
    count: int = Field(default=0, alias="n")
    when: datetime | None = None
    smile: str = Field(default="", alias="😀é")


class NameOnly(BaseModel):
    """Validation by name only: the aliases are unknown keys."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=False)

    user_name: str = Field(alias="userName")
    flag: bool = Field(default=True, alias="isFlag")


class Crossed(BaseModel):
    """One key feeding two fields: ``b`` is ``a``'s alias and ``b``'s name."""

    model_config = ConfigDict(populate_by_name=True)

    a: int = Field(alias="b")
    b: int = 0


class Node(BaseModel):
    value: int
    label: str | None = None
    children: list[Node] = []


class Forest(BaseModel):
    """Recursion below the root model."""

    name: str = ""
    trees: list[Node] = []
    root: Node | None = None


class Empty(BaseModel):
    pass


class Status(str, Enum):
    PENDING = "pending"
    SENT = "sent"
    ACCENT = "é"


class Cat(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["cat"] = Field(alias="petKind")
    name: str
    lives: int = 9


class Dog(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["dog", "puppy"] = Field(alias="petKind")
    barks: bool = True
    friend: Pet | None = None


Pet = Annotated[Cat | Dog, Field(discriminator="kind")]
StatusOrText = Annotated[Status | str, Field(union_mode="left_to_right")]


class Unions(BaseModel):
    """Left-to-right unions (an enum or any string, a model or a string, a datetime or a
    string, an int or a string) and unions tagged by a literal ``kind``."""

    model_config = ConfigDict(populate_by_name=True)

    status: Status | str = Field(union_mode="left_to_right")
    maybe: Status | str | None = Field(default=None, union_mode="left_to_right")
    leafy: Leaf | str = Field(default="none", union_mode="left_to_right")
    when: datetime | str = Field(default="never", union_mode="left_to_right")
    number: int | str = Field(default=0, union_mode="left_to_right")
    many: list[StatusOrText] = Field(default_factory=list, alias="manyStatuses")
    pet: Pet
    pets: list[Pet] = []
    maybe_pet: Pet | None = Field(default=None, alias="maybePet")
    pet_or_text: Annotated[Pet | str, Field(union_mode="left_to_right")] = "none"


Dog.model_rebuild()


# -- JSON text, duplicates and escapes included --------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text written as is (numbers the standard library cannot write, broken text)."""

    text: str


@dataclass(frozen=True)
class Obj:
    """A JSON object as its (key, value) pairs: repeated keys are possible."""

    items: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Style:
    ascii_only: bool
    escape_keys: bool
    comma: str
    colon: str


def escape_all(text: str) -> str:
    """``text`` as a JSON string with every character a ``\\uXXXX`` escape (pairs above BMP)."""
    out = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04X}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def dump_str(text: str, style: Style, *, key: bool = False) -> str:
    if key and style.escape_keys:
        return escape_all(text)
    return json.dumps(text, ensure_ascii=style.ascii_only or has_surrogate(text))


def dump(value: Any, style: Style) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        pairs = (
            f"{dump_str(k, style, key=True)}{style.colon}{dump(v, style)}" for k, v in value.items
        )
        return "{" + style.comma.join(pairs) + "}"
    if isinstance(value, list):
        return "[" + style.comma.join(dump(v, style) for v in value) + "]"
    if isinstance(value, str):
        return dump_str(value, style)
    return json.dumps(value)


styles = st.builds(
    Style,
    ascii_only=st.booleans(),
    escape_keys=st.booleans(),
    comma=st.sampled_from([",", ", ", " ,\n\t", "\r\n,"]),
    colon=st.sampled_from([":", ": ", " :\t"]),
)

# -- value strategies ----------------------------------------------------------------------------

I64 = 2**63
SPECIAL_TEXT = ["", "é", "\n", '\t"\\/', "😀", "\x00", "\x7f", "\u2028", "日本語", "a\u0301"]
texts = st.one_of(st.text(max_size=10), st.sampled_from(SPECIAL_TEXT))
ints = st.one_of(
    st.integers(-(2**31), 2**31),
    st.integers(-I64, I64 - 1),
    st.sampled_from([0, -1, I64 - 1, -I64]),
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
float_texts = st.builds(
    lambda sign, whole, frac, exp: Raw(f"{sign}{whole}.{frac}{exp}"),
    st.sampled_from(["", "-"]),
    st.from_regex(r"0|[1-9][0-9]{0,20}", fullmatch=True),
    st.from_regex(r"[0-9]{1,25}", fullmatch=True),
    st.sampled_from(["", "e5", "E-7", "e+20", "e-99", "E99", "e0"]),
)
float_values = st.one_of(
    finite_floats, ints, float_texts, st.sampled_from([Raw("-0"), Raw("-0.0"), Raw("1E+2")])
)
any_keys = st.sampled_from(["k", "K", "é", "", "key", "😀", "a b"])


def sometimes(
    valid: st.SearchStrategy[Any], rate: float, other: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """``valid``, or ``other`` with probability ``rate``."""
    if not rate:
        return valid
    # Hypothesis favours small numbers (and shrinks towards them): those pick ``valid``.
    threshold = 100 - max(1, round(rate * 100))
    return st.integers(0, 99).flatmap(lambda n: other if n >= threshold else valid)


def any_values(rate: float) -> st.SearchStrategy[Any]:
    """JSON values for ``Any`` fields and unknown keys; objects may repeat keys."""
    scalars = st.one_of(st.none(), st.booleans(), ints, finite_floats, texts, float_texts)
    return st.recursive(
        sometimes(scalars, rate, junk_scalars),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.lists(st.tuples(any_keys, inner), max_size=4).map(lambda p: Obj(tuple(p))),
        ),
        max_leaves=8,
    )


@st.composite
def canonical_datetimes(draw: st.DrawFn) -> str:
    value = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    digits = draw(st.integers(0, 6))
    if digits:
        text += "." + f"{value.microsecond:06d}"[:digits]
    zone = draw(st.sampled_from(["", "Z", "offset"]))
    if zone == "Z":
        text += "Z"
    elif zone == "offset":
        sign = draw(st.sampled_from("+-"))
        text += f"{sign}{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}"
    return text


OTHER_DATETIMES = [
    "2024-01-15 10:30:00",
    "2024-01-15 10:30:00Z",
    "2024-01-15",
    "2024-01-15T10:30",
    "2024-01-15T10:30:00.1234567Z",
    "2024-01-15T10:30:00.123456789",
    "2024-01-15T10:30:00.9999999Z",
    "2024-01-15T10:30:00.0000009+01:00",
    "2024-01-15T10:30:00.1234567890Z",
    "2024-01-15T10:30:00.12345678901234567890",
    "2024-01-15T10:30:00.",
    "2024-01-15T10:30:00,5Z",
    "2024-01-15T10:30:00+0100",
    "2024-01-15T10:30:00+01",
    "2024-01-15T10:30:00+24:00",
    "2024-01-15T10:30:00-00:00",
    "2024-01-15t10:30:00z",
    "2024-01-15T10:30:00z",
    "2024-01-15T10:30:00.Z",
    "2023-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "2023-13-01T00:00:00",
    "2023-04-31T00:00:00",
    "2023-01-01T24:00:00",
    "2023-01-01T23:60:00",
    "2023-01-01T23:59:60",
    "0000-01-01T00:00:00",
    "1700000000",
    "1700000000.5",
    "now",
    "",
    " 2024-01-15T10:30:00Z",
    "2024-01-15T10:30:00Z ",
    "+2024-01-15T10:30:00Z",
    "\uff12\uff10\uff12\uff14-01-15T10:30:00Z",  # full-width digits
]
LONE_SURROGATES = ["\ud800", "x\udfffy", "\udc00\ud800", "😀\ud83d"]
junk_scalars = st.one_of(
    st.sampled_from(
        [
            Raw("9223372036854775808"),
            Raw("-9223372036854775809"),
            Raw("123456789012345678901234567890"),
            Raw("1e400"),
            Raw("-1e400"),
            Raw("NaN"),
            Raw("Infinity"),
            Raw("-Infinity"),
            Raw("1.0"),
            Raw("1e2"),
            Raw("-0"),
            "12",
            " 12 ",
            "1.5",
            "true",
            "1",
            "0",
            "off",
            "yes",
            "inf",
            "RED",
            "purple",
            " red",
            "c",
            "A",
            *LONE_SURROGATES,
        ]
    ),
    st.sampled_from(OTHER_DATETIMES),
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(min_value=-3, max_value=3),
)
junk = st.one_of(
    junk_scalars,
    st.just([]),
    st.just(Obj(())),
    st.lists(junk_scalars, min_size=1, max_size=2),
    junk_scalars.map(lambda value: Obj((("a", value),))),
)


def datetimes_text(rate: float) -> st.SearchStrategy[Any]:
    other = st.one_of(st.sampled_from(OTHER_DATETIMES), junk)
    return sometimes(canonical_datetimes(), min(1.0, 3 * rate), other)


# -- object strategies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """How a field appears in a document: its keys (first wins), values for a junk rate,
    whether it is required."""

    keys: tuple[str, ...]
    values: Callable[[float], st.SearchStrategy[Any]]
    required: bool = False


def messy(valid: st.SearchStrategy[Any], rate: float) -> st.SearchStrategy[Any]:
    return sometimes(valid, rate, junk)


def nullable(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), valid)


def listing(item: st.SearchStrategy[Any], size: int = 3) -> st.SearchStrategy[Any]:
    return st.lists(item, max_size=size)


def mapping(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(st.tuples(any_keys, value), max_size=4).map(lambda p: Obj(tuple(p)))


@st.composite
def objects(draw: st.DrawFn, specs: list[Spec], rate: float) -> Obj:
    """An object for ``specs``: fields in random order under one of their keys, optional
    ones sometimes left out, unknown keys, repeated keys; with a junk ``rate`` above 0, also
    required fields left out and values of the wrong type, each with that probability."""
    items: list[tuple[str, Any]] = []
    for spec in specs:
        if spec.required:
            if draw(sometimes(st.just(False), rate, st.just(True))):
                continue
        elif draw(st.integers(0, 3)) == 0:
            continue
        for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
            key = draw(st.sampled_from(spec.keys))
            items.append((key, draw(spec.values(rate))))
    extra_keys = st.sampled_from(["unknown", "x", "ID", "Id", "é", "", "data", "children_"])
    for _ in range(draw(st.integers(0, 2))):
        items.append((draw(extra_keys), draw(any_values(rate))))
    return Obj(tuple(draw(st.permutations(items))))


def leaf_specs() -> list[Spec]:
    return [
        Spec(("name",), lambda r: messy(texts, r), required=True),
        Spec(("score",), lambda r: messy(float_values, r)),
        Spec(("tags",), lambda r: messy(listing(messy(texts, r)), r)),
    ]


def leaves(rate: float) -> st.SearchStrategy[Any]:
    return messy(objects(leaf_specs(), rate), rate)


COLORS = st.sampled_from([member.value for member in Color])


def record_specs() -> list[Spec]:
    dt = datetimes_text
    return [
        Spec(("id",), lambda r: messy(ints, r), required=True),
        Spec(("titleText", "title"), lambda r: messy(texts, r), required=True),
        Spec(("ratio",), lambda r: messy(float_values, r), required=True),
        Spec(("active",), lambda r: messy(st.booleans(), r)),
        Spec(("color",), lambda r: messy(COLORS, r), required=True),
        Spec(("mode",), lambda r: messy(st.sampled_from(["a", "b"]), r)),
        Spec(("createdAt", "created"), dt, required=True),
        Spec(("seenAt", "seen"), lambda r: messy(nullable(dt(r)), r)),
        Spec(("leaf",), leaves, required=True),
        Spec(("leaves",), lambda r: messy(listing(leaves(r)), r)),
        Spec(("maybeLeaf", "maybe_leaf"), lambda r: messy(nullable(leaves(r)), r)),
        Spec(("default_leaf",), leaves),
        Spec(("meta",), lambda r: messy(mapping(any_values(r)), r)),
        Spec(("counts",), lambda r: messy(mapping(messy(ints, r)), r)),
        Spec(("names",), lambda r: messy(listing(messy(texts, r)), r)),
        Spec(("anything",), any_values),
        Spec(("maybe_int",), lambda r: messy(nullable(ints), r)),
        Spec(("colors",), lambda r: messy(nullable(listing(messy(COLORS, r))), r)),
        Spec(("grid",), lambda r: messy(mapping(listing(nullable(messy(ints, r)))), r)),
        Spec(("label",), lambda r: messy(texts, r)),
        Spec(("stamps",), lambda r: messy(mapping(dt(r)), r)),
        Spec(("byName", "by_name"), lambda r: messy(nullable(mapping(leaves(r))), r)),
        Spec(("weight",), lambda r: messy(nullable(float_values), r)),
    ]


def alias_only_specs() -> list[Spec]:
    return [
        # The names are unknown keys here: writing them must change nothing.
        Spec(("userName", "user_name"), lambda r: messy(texts, r)),
        Spec(("n", "count"), lambda r: messy(ints, r)),
        Spec(("when",), lambda r: messy(nullable(datetimes_text(r)), r)),
        Spec(("userName",), lambda r: messy(texts, r), required=True),
        Spec(("😀é", "smile"), lambda r: messy(texts, r)),
    ]


def name_only_specs() -> list[Spec]:
    return [
        Spec(("user_name", "userName"), lambda r: messy(texts, r)),
        Spec(("user_name",), lambda r: messy(texts, r), required=True),
        Spec(("flag", "isFlag"), lambda r: messy(st.booleans(), r)),
    ]


def crossed_specs() -> list[Spec]:
    return [
        Spec(("a", "b"), lambda r: messy(ints, r)),
        Spec(("b",), lambda r: messy(ints, r), required=True),
    ]


def node_specs(depth: int) -> list[Spec]:
    def children(rate: float) -> st.SearchStrategy[Any]:
        if depth >= 3:
            return st.just([])
        return messy(listing(objects(node_specs(depth + 1), rate), 2), rate)

    return [
        Spec(("value",), lambda r: messy(ints, r), required=True),
        Spec(("label",), lambda r: messy(nullable(texts), r)),
        Spec(("children",), children),
    ]


def forest_specs() -> list[Spec]:
    return [
        Spec(("name",), lambda r: messy(texts, r)),
        Spec(("trees",), lambda r: messy(listing(objects(node_specs(1), r), 2), r)),
        Spec(("root",), lambda r: messy(nullable(objects(node_specs(1), r)), r)),
    ]


STATUS_TEXTS = st.one_of(st.sampled_from([m.value for m in Status] + ["PENDING", "x", ""]), texts)


def pet_specs(kind: str, depth: int) -> list[Spec]:
    kinds = {"cat": ["cat"], "dog": ["dog", "puppy"]}[kind]
    specs = [Spec(("kind", "petKind"), lambda r: messy(st.sampled_from(kinds), r), required=True)]
    if kind == "cat":
        specs += [
            Spec(("name",), lambda r: messy(texts, r), required=True),
            Spec(("lives",), lambda r: messy(ints, r)),
        ]
    else:
        specs.append(Spec(("barks",), lambda r: messy(st.booleans(), r)))
        if depth < 2:
            specs.append(Spec(("friend",), lambda r: messy(nullable(pets(r, depth + 1)), r)))
    return specs


def pets(rate: float, depth: int = 0) -> st.SearchStrategy[Any]:
    """A cat or a dog; with junk, also an unknown kind, none, or the other one's kind."""
    cat = objects(pet_specs("cat", depth), rate)
    dog = objects(pet_specs("dog", depth), rate)
    odd = st.builds(
        lambda kind, body: Obj((("kind", kind), *body.items)),
        st.sampled_from(["bird", "", "Cat", 5]),
        objects(pet_specs("cat", depth), rate),
    )
    return messy(st.one_of(cat, dog), rate) if not rate else st.one_of(cat, dog, messy(odd, 1))


def union_specs() -> list[Spec]:
    return [
        Spec(("status",), lambda r: messy(STATUS_TEXTS, r), required=True),
        Spec(("maybe",), lambda r: messy(nullable(STATUS_TEXTS), r)),
        Spec(("leafy",), lambda r: messy(st.one_of(texts, leaves(r)), r)),
        # A string that is not a canonical timestamp, or any string for an int, may be what
        # pydantic reads as a datetime or an int: the plan declines it (junk documents only).
        Spec(("when",), lambda r: messy(datetimes_text(r), r) if not r else st.one_of(texts, junk)),
        Spec(("number",), lambda r: messy(ints, r) if not r else st.one_of(ints, texts, junk)),
        Spec(("manyStatuses", "many"), lambda r: messy(listing(messy(STATUS_TEXTS, r)), r)),
        Spec(("pet",), pets, required=True),
        Spec(("pets",), lambda r: messy(listing(pets(r), 2), r)),
        Spec(("maybePet", "maybe_pet"), lambda r: messy(nullable(pets(r)), r)),
        Spec(("pet_or_text",), lambda r: messy(st.one_of(texts, pets(r)), r)),
    ]


SPECS: dict[type[BaseModel], Callable[[], list[Spec]]] = {
    Record: record_specs,
    AliasOnly: alias_only_specs,
    NameOnly: name_only_specs,
    Crossed: crossed_specs,
    Node: lambda: node_specs(0),
    Forest: forest_specs,
    Leaf: leaf_specs,
    Empty: list,
    Unions: union_specs,
}
MODELS = list(SPECS)


def documents(model: type[BaseModel], rate: float = 0.0) -> st.SearchStrategy[bytes]:
    """JSON documents for ``model``: canonical with ``rate=0``, else with junk values (and
    missing required fields) at about that rate."""
    return st.builds(
        lambda obj, style, pad: (pad[0] + dump(obj, style) + pad[1]).encode(),
        objects(SPECS[model](), rate),
        styles,
        st.sampled_from([("", ""), (" ", "\n"), ("\r\n\t", " ")]),
    )


def broken(data: bytes, how: int) -> bytes:
    """``data`` made into something else: invalid JSON, another top-level value..."""
    variants = [
        data,
        b"\xef\xbb\xbf" + data,
        data[: len(data) // 2],
        data + b" x",
        data + b"\x0c",
        b"\x0b" + data,
        data.replace(b'"', b"'", 1),
        data.replace(b":", b"::", 1),
        b"[" + data + b"]",
        b"null",
        b'"text"',
        b"",
        data.replace(b'"', b'"\xff', 1),
        data.replace(b'"', b'"\xed\xa0\x80', 1),
        data.replace(b'"', b'"\x01', 1),
        data.rstrip()[:-1] + b",}",
    ]
    return variants[how % len(variants)]


# Examples per model (the file should run in well under 20 s): the big model gets most.
EXAMPLES = {Record: 80, Forest: 40, Node: 50, Unions: 80}


def property_settings(model: type[BaseModel]) -> settings:
    return settings(
        max_examples=EXAMPLES.get(model, 40),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_canonical_documents_are_built_by_the_plan(model: type[BaseModel]) -> None:
    plan = plan_for(model)
    assert plan is not None

    @property_settings(model)
    @given(document=documents(model))
    def run(document: bytes) -> None:
        expected = model.model_validate_json(document)
        built = plan.build(document)
        assert built is not None, "the plan declined a canonical document"
        assert_identical(built, expected)
        assert_identical(validate_json(model, document), expected)
        # Every buffer type gives the same instance.
        assert_identical(plan.build(bytearray(document)), expected)
        assert_identical(plan.build(memoryview(document)), expected)

    run()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_any_document_gives_pydantics_answer(model: type[BaseModel]) -> None:
    @property_settings(model)
    @given(
        document=st.sampled_from([0.02, 0.05, 0.15]).flatmap(lambda r: documents(model, r)),
        how=st.one_of(st.just(0), st.integers(0, 15)),
    )
    def run(document: bytes, how: int) -> None:
        check_same(model, broken(document, how))

    run()


# -- explicit cases ------------------------------------------------------------------------------

LEAF = {"name": "leaf"}
RECORD: dict[str, Any] = {
    "id": 1,
    "titleText": "t",
    "ratio": 0.25,
    "color": "red",
    "createdAt": "2024-01-15T10:30:00Z",
    "leaf": LEAF,
}


def record(**changes: Any) -> bytes:
    body = {**RECORD, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_canonical_record_builds() -> None:
    built = check_same(Record, record())
    assert isinstance(built, Record)
    assert built.created.tzinfo == TzInfo(0)
    assert type(built.created.tzinfo) is TzInfo
    assert built.__pydantic_fields_set__ == {"id", "title", "ratio", "color", "created", "leaf"}
    assert list(built.__dict__) == list(Record.model_fields)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(record(**{"\ud800": 1}), id="lone-surrogate-key"),
        pytest.param(record(unknown="\udfff"), id="lone-surrogate-ignored-value"),
        pytest.param(record(titleText="a\ud83d"), id="lone-surrogate-high"),
        pytest.param(record(meta={"x": "\ud800\ud800"}), id="lone-surrogate-pair-of-highs"),
        pytest.param(record()[:-1] + b', "ignored": 9223372036854775808}', id="big-int-ignored"),
        pytest.param(record()[:-1] + b', "ignored": -9223372036854775809}', id="small-int-ignored"),
        pytest.param(record()[:-1] + b', "anything": 1' + b"0" * 30 + b"}", id="big-int-any"),
        pytest.param(record(id=...)[:-1] + b', "id": 9223372036854775808}', id="big-int-field"),
        pytest.param(record(createdAt="2024-01-15 10:30:00Z"), id="space-separator"),
        pytest.param(record(createdAt="2024-01-15"), id="date-only"),
        pytest.param(record(createdAt="2024-01-15T10:30:00+0100"), id="offset-no-colon"),
        pytest.param(record(createdAt=1705314600), id="unix-int"),
        pytest.param(record(createdAt=1705314600.5), id="unix-float"),
        pytest.param(record(createdAt="1705314600"), id="unix-string"),
        pytest.param(record(createdAt="2023-02-29T00:00:00Z"), id="invalid-date"),
        pytest.param(record(createdAt="2024-01-15t10:30:00z"), id="lowercase"),
        pytest.param(record(color="RED"), id="unknown-enum"),
        pytest.param(record(color="purple"), id="unknown-enum-2"),
        pytest.param(record(mode="c"), id="unknown-literal"),
        pytest.param(record(id=...), id="missing-required"),
        pytest.param(record(leaf={}), id="missing-required-nested"),
        pytest.param(record(id=None), id="null-required"),
        pytest.param(record(titleText=5), id="number-in-str"),
        pytest.param(record(id="5"), id="string-in-int"),
        pytest.param(record(id=5.0), id="float-in-int"),
        pytest.param(record(active="1"), id="string-in-bool"),
        pytest.param(record(active=1), id="int-in-bool"),
        pytest.param(record(ratio="0.5"), id="string-in-float"),
        pytest.param(record(leaves={}), id="object-in-list"),
        pytest.param(record(counts={"a": "1"}), id="string-in-dict-int"),
        pytest.param(b"\xef\xbb\xbf" + record(), id="bom"),
        pytest.param(record().replace(b'"t"', b'"\xff"'), id="invalid-utf8"),
        pytest.param(record().replace(b'"t"', b'"\xed\xa0\x80"'), id="encoded-surrogate"),
        pytest.param(record()[:-5], id="truncated"),
        pytest.param(record() + b"{}", id="trailing"),
        pytest.param(record().replace(b'"t"', b'"a\x01"'), id="control-character"),
        pytest.param(record()[:-1] + b", }", id="trailing-comma"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"null", id="null"),
        pytest.param(record()[:-1] + b', "anything": ' + b"[" * 300 + b"]" * 300 + b"}", id="deep"),
        pytest.param(record(anything=json.loads("[" * 150 + "]" * 150)), id="deep-150"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": 1e400}', id="huge-float"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": -1e400}', id="huge-negative-float"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": NaN}', id="nan"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": Infinity}', id="infinity"),
    ],
)
def test_declined_documents_give_pydantics_answer(data: bytes) -> None:
    plan = plan_for(Record)
    assert plan is not None
    assert plan.build(data) is None
    check_same(Record, data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(record(anything=json.loads("[" * 100 + "]" * 100)), id="deep-100"),
        pytest.param(record(id=I64 - 1), id="i64-max"),
        pytest.param(record(id=-I64), id="i64-min"),
        pytest.param(record(ratio=I64 - 1), id="i64-max-in-float"),
        pytest.param(record(id=...)[:-1] + b', "id": -0}', id="minus-zero-int"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": -0}', id="minus-zero-int-in-float"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": -0.0}', id="minus-zero-float"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": 1E+2}', id="exponent"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": 5e-324}', id="subnormal"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": 1e-400}', id="underflow"),
        pytest.param(record(ratio=...)[:-1] + b', "ratio": 1.7976931348623157e308}', id="max"),
        pytest.param(
            record(ratio=...)[:-1] + b', "ratio": 0.1000000000000000055511151231257827}',
            id="many-digits",
        ),
        pytest.param(
            record(ratio=...)[:-1] + b', "ratio": 9007199254740993}', id="int-rounded-to-float"
        ),
        pytest.param(record(anything=[1.5, -0.0, 1e300, "x", None, True]), id="any-scalars"),
        pytest.param(record()[:-1] + b', "anything": -0}', id="any-minus-zero"),
        pytest.param(record(createdAt="2024-02-29T23:59:59.999999-23:59"), id="leap-day"),
        pytest.param(record(createdAt="0001-01-01T00:00:00+01:00"), id="year-one"),
        pytest.param(record(createdAt="9999-12-31T23:59:59-01:00"), id="year-9999"),
        pytest.param(record(createdAt="2024-01-15T10:30:00-00:00"), id="minus-zero-offset"),
        pytest.param(record(createdAt="2024-01-15T10:30:00.5"), id="naive-fraction"),
        pytest.param(record(color="é"), id="enum-non-ascii"),
        pytest.param(
            record().replace(b'"red"', b'"\\u00e9"').replace(b'"t"', b'"\\ud83d\\ude00\\n"'),
            id="escapes",
        ),
        pytest.param(record().replace(b'"titleText"', b'"title\\u0054ext"'), id="escaped-key"),
        pytest.param(record()[:-1] + b', "id": 7}', id="duplicate-last-wins"),
        pytest.param(record(title="by-name"), id="alias-beats-name"),
        pytest.param(record(titleText=..., title="by-name"), id="name-only"),
        pytest.param(
            record(meta=...)[:-1] + b', "meta": {"a": 1, "b": 2, "a": 3}}', id="dup-in-dict"
        ),
        pytest.param(
            record()[:-1] + b', "anything": {"a": 1, "b": {"c": 1, "c": 2}, "a": 3}}',
            id="dup-in-any",
        ),
        pytest.param(record(grid={"a": [1, None, 3]}), id="nullable-in-list"),
        pytest.param(record(maybeLeaf=None, seenAt=None, maybe_int=None), id="nulls"),
        pytest.param(record(names=[], leaves=[], meta={}), id="empties"),
        pytest.param(record(titleText="a\x7f\u2028"), id="unescaped-specials"),
    ],
)
def test_supported_edges_are_built(data: bytes) -> None:
    """Documents at the edges of what the plan supports: built, and identical to pydantic."""
    built = check_same(Record, data)
    assert built is not None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(record(createdAt="2024-01-15T10:30:00.1234567Z"), id="seven-digits"),
        pytest.param(record(createdAt="2024-01-15T10:30:00.999999999-05:00"), id="nine-digits"),
        pytest.param(record(createdAt="2024-01-15T10:30:00." + "9" * 30), id="thirty-digits"),
        pytest.param(record(createdAt="2024-01-15T10:30:00.Z"), id="dot-no-digits"),
        pytest.param(record(createdAt="2024-01-15t10:30:00Z"), id="lowercase-t"),
        pytest.param(record(createdAt="2024-01-15T10:30:00z"), id="lowercase-z"),
        pytest.param(record(createdAt="2024-01-15T10:30:00+24:00"), id="offset-24"),
        pytest.param(record(createdAt="2024-01-15T10:30"), id="no-seconds"),
        pytest.param(record(seenAt="2024-01-15T10:30:00+01"), id="offset-hours"),
        pytest.param(record()[:-1] + b', "anything": 1e400}', id="any-huge-float"),
        pytest.param(record()[:-1] + b', "anything": [NaN]}', id="any-nan"),
        pytest.param(record(id=...)[:-1] + b', "id": 1e2}', id="exponent-in-int"),
        pytest.param(record(id=...)[:-1] + b', "id": 1.0}', id="fraction-in-int"),
        pytest.param(record(id=...)[:-1] + b', "id": -0.0}', id="minus-zero-float-in-int"),
    ],
)
def test_other_spellings_give_pydantics_answer(data: bytes) -> None:
    """Spellings the plan may build or decline: pydantic's answer either way."""
    check_same(Record, data)


def test_minus_zero_in_float_field_is_pydantics() -> None:
    """pydantic reads ``-0`` as the integer 0, so a float field gets ``0.0``, not ``-0.0``."""
    built = check_same(Record, record(ratio=...)[:-1] + b', "ratio": -0}')
    assert built is not None
    assert repr(built.ratio) == "0.0"


def test_alias_and_name_priorities() -> None:
    both = check_same(Record, record(title="by-name"))
    assert both is not None and both.title == "t"
    by_name = check_same(Record, record(titleText=..., title="by-name"))
    assert by_name is not None and by_name.title == "by-name"
    assert by_name.__pydantic_fields_set__ >= {"title"}
    crossed = check_same(Crossed, b'{"b": 5}')
    assert crossed is not None and (crossed.a, crossed.b) == (5, 5)
    crossed = check_same(Crossed, b'{"a": 1, "b": 5, "a": 2}')
    assert crossed is not None and (crossed.a, crossed.b) == (5, 5)
    alias_only = check_same(AliasOnly, b'{"user_name": "x", "userName": "y", "count": 3}')
    assert alias_only is not None and (alias_only.user_name, alias_only.count) == ("y", 0)
    assert alias_only.__pydantic_fields_set__ == {"user_name"}
    assert check_same(AliasOnly, b'{"user_name": "x"}') is None
    name_only = check_same(NameOnly, b'{"userName": "x", "user_name": "y", "isFlag": false}')
    assert name_only is not None and (name_only.user_name, name_only.flag) == ("y", True)


def test_recursive_model() -> None:
    tree = {"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}, {"value": 4}]}
    built = check_same(Node, json.dumps(tree).encode())
    assert built is not None
    assert built.children[0].children[0].value == 3
    assert built.children[1].__pydantic_fields_set__ == {"value"}
    deep: dict[str, Any] = {"value": 0}
    for i in range(40):
        deep = {"value": i, "children": [deep]}
    assert check_same(Node, json.dumps(deep).encode()) is not None
    for i in range(40):
        deep = {"value": i, "children": [deep]}
    # About 160 levels: deeper than the plan's limit, within pydantic's.
    assert check_same(Node, json.dumps(deep).encode()) is None
    Node.model_validate_json(json.dumps(deep))


def test_empty_model() -> None:
    built = check_same(Empty, b'{"anything": [1, 2], "x": {}}')
    assert built is not None
    assert built.__dict__ == {}
    assert built.__pydantic_fields_set__ == set()


# -- defaults ------------------------------------------------------------------------------------


def test_mutable_defaults_are_copied() -> None:
    first = validate_json(Record, record())
    second = validate_json(Record, record())
    expected = Record.model_validate_json(record())
    assert plan_for(Record) is not None and plan_for(Record).build(record()) is not None
    fields = Record.model_fields
    for name in ["leaves", "meta", "grid", "default_leaf"]:
        value = getattr(first, name)
        assert value is not getattr(second, name), name
        assert value is not fields[name].default, name
        assert_identical(value, getattr(expected, name))
    assert first.default_leaf.tags is not fields["default_leaf"].default.tags
    first.leaves.append(Leaf(name="x"))
    first.default_leaf.tags.append("x")
    assert validate_json(Record, record()).leaves == []
    assert validate_json(Record, record()).default_leaf.tags == []
    # Hashable defaults are the default object itself, as with pydantic.
    assert first.label is fields["label"].default
    assert (first.mode is fields["mode"].default) == (expected.mode is fields["mode"].default)


def test_default_factories_are_called_per_instance() -> None:
    first = validate_json(Record, record())
    second = validate_json(Record, record())
    assert first.counts == {} and first.names == []
    assert first.counts is not second.counts
    assert first.names is not second.names


calls: list[int] = []


def counting_factory() -> list[int]:
    calls.append(1)
    return [len(calls)]


class Counted(BaseModel):
    n: int = 0
    made: list[int] = Field(default_factory=counting_factory)


def test_default_factory_is_called_once_per_missing_field() -> None:
    calls.clear()
    plan = plan_for(Counted)
    assert plan is not None
    built = [plan.build(b'{"n": 1}') for _ in range(3)]
    assert len(calls) == 3
    assert [b.made for b in built if b is not None] == [[1], [2], [3]]
    assert plan.build(b'{"made": [9]}') is not None
    assert len(calls) == 3  # present: not called
    assert plan.build(b'{"n": "x"}') is None
    late = validate_json(Counted, b'{"n": 7}')
    assert (late.n, late.made, late.__pydantic_fields_set__) == (7, [4], {"n"})


def failing_factory() -> list[int]:
    raise RuntimeError("no default today")


class Failing(BaseModel):
    n: int
    made: list[int] = Field(default_factory=failing_factory)


def test_default_factory_errors_propagate_like_pydantic() -> None:
    with pytest.raises(RuntimeError, match="no default today"):
        Failing.model_validate_json(b'{"n": 1}')
    with pytest.raises(RuntimeError, match="no default today"):
        validate_json(Failing, b'{"n": 1}')
    assert_identical(validate_json(Failing, b'{"n": 1, "made": []}'), Failing(n=1, made=[]))


# -- unsupported models --------------------------------------------------------------------------


class WithFieldValidator(BaseModel):
    name: str

    @field_validator("name")
    @classmethod
    def upper(cls, value: str) -> str:
        return value.upper()


class WithModelValidator(BaseModel):
    name: str

    @model_validator(mode="after")
    def check(self) -> WithModelValidator:
        return self


class WithBeforeValidator(BaseModel):
    name: str

    @model_validator(mode="before")
    @classmethod
    def check(cls, data: Any) -> Any:
        return data


class WithUnion(BaseModel):
    name: int | str


class WithConstraint(BaseModel):
    name: str = Field(min_length=1)


class WithConint(BaseModel):
    name: str = ""
    n: conint(gt=0) = 1  # type: ignore[valid-type]


class ExtraAllow(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class ExtraForbid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class StrictConfig(BaseModel):
    model_config = ConfigDict(strict=True)
    name: str


class StripWhitespace(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    name: str


class CustomInit(BaseModel):
    name: str

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)


class PostInit(BaseModel):
    name: str

    def model_post_init(self, context: Any, /) -> None:
        pass


class Private(BaseModel):
    name: str
    _secret: int = PrivateAttr(default=0)


class WithAliasChoices(BaseModel):
    name: str = Field(validation_alias=AliasChoices("name", "label"))


class WithAliasPath(BaseModel):
    name: str = Field(validation_alias=AliasPath("names", 0))


class Number(IntEnum):
    ONE = 1


class WithIntEnum(BaseModel):
    name: str = ""
    number: Number = Number.ONE


class Words(RootModel[list[str]]):
    pass


class WithUnsupportedChild(BaseModel):
    name: str
    child: WithUnion | None = None


UNSUPPORTED: list[type[BaseModel]] = [
    WithFieldValidator,
    WithModelValidator,
    WithBeforeValidator,
    WithUnion,
    WithConstraint,
    WithConint,
    ExtraAllow,
    ExtraForbid,
    StrictConfig,
    StripWhitespace,
    CustomInit,
    PostInit,
    Private,
    WithAliasChoices,
    WithAliasPath,
    WithIntEnum,
    Words,
    WithUnsupportedChild,
]
UNSUPPORTED_DOCS = [
    b'{"name": "a"}',
    b'{"name": " a ", "extra": 1}',
    b'{"name": 5}',
    b'{"label": "b", "names": ["c"], "number": 1, "n": 3}',
    b'["a", "b"]',
    b"{}",
    b"not json",
]


class Lenient(str, Enum):
    """An enum whose ``_missing_`` hook accepts another spelling."""

    A = "a"

    @classmethod
    def _missing_(cls, value: object) -> Lenient | None:
        return cls.A if value == "A" else None


class WithOpenEnum(BaseModel):
    value: Lenient | str = Field(union_mode="left_to_right")


def test_unions_try_members_in_order() -> None:
    pet = b'"pet": {"kind": "cat", "name": "x"}'
    built = check_same(Unions, b'{"status": "sent", ' + pet + b"}")
    assert built is not None and built.status is Status.SENT
    built = check_same(Unions, b'{"status": "SENT", "leafy": "text", ' + pet + b"}")
    assert built is not None and type(built.status) is str and built.leafy == "text"
    # The model member refuses a string, the string member takes it; a tagged union too.
    built = check_same(Unions, b'{"status": "x", "pet_or_text": "p", ' + pet + b"}")
    assert built is not None and built.pet_or_text == "p"
    # The tag is read from the name, then the alias; the member then reads its own keys.
    dog = b'{"status": "x", "pet": {"petKind": "puppy", "friend": {"kind": "cat", "name": "y"}}}'
    built = check_same(Unions, dog)
    assert built is not None and isinstance(built.pet, Dog) and isinstance(built.pet.friend, Cat)
    for declined in [
        b'{"status": "x", "pet": {"kind": "bird"}}',  # no member has that tag: an error
        b'{"status": "x", "pet": {"name": "x"}}',  # no tag
        b'{"status": "x", "pet": {"kind": 5}}',
        b'{"status": "x", "pet": {"kind": "cat", "petKind": "dog", "name": "x"}}',
        b'{"status": 5, ' + pet + b"}",  # neither member takes a number
        b'{"status": "x", "when": "tomorrow", ' + pet + b"}",  # pydantic decides
        b'{"status": "x", "number": "12", ' + pet + b"}",  # an int from a string
    ]:
        assert check_same(Unions, declined) is None, declined


def test_an_enum_with_a_missing_hook_declines_other_values() -> None:
    assert check_same(WithOpenEnum, b'{"value": "a"}') is not None
    assert check_same(WithOpenEnum, b'{"value": "A"}') is None  # the hook takes it
    assert validate_json(WithOpenEnum, b'{"value": "A"}').value is Lenient.A
    assert check_same(WithOpenEnum, b'{"value": "b"}') is None


@pytest.mark.parametrize("model", UNSUPPORTED, ids=lambda m: m.__name__)
def test_unsupported_models_get_no_plan(model: type[BaseModel]) -> None:
    assert plan_for(model) is None
    assert plan_for(model) is None  # cached
    with pytest.raises(Unsupported):
        compile_plan(model)
    for data in UNSUPPORTED_DOCS:
        try:
            expected = model.model_validate_json(data)
        except ValidationError as exc:
            with pytest.raises(ValidationError) as info:
                validate_json(model, data)
            assert errors_of(info.value) == errors_of(exc)
        else:
            assert_identical(validate_json(model, data), expected)


CONFIG_DOCS = [
    b'{"s": " AbC ", "f": 1.5, "c": "red", "d": "2024-01-01T00:00:00Z", "a": 1}',
    b'{"s": 5, "f": Infinity, "c": "red", "d": "2024-01-01T00:00:00.123Z"}',
    b'{"s": "x", "f": 1e400, "c": "RED", "d": 1700000000}',
    b'{"s": "abcdef", "f": "1", "c": "\\u00e9", "d": "2024-01-01T00:00:00", "leaf": {}}',
    b'{"s": "a", "f": 1, "c": "green", "d": "2024-01-01T00:00:00+05:30"}',
]


@pytest.mark.parametrize(
    "config",
    [
        {"use_enum_values": True},
        {"coerce_numbers_to_str": True},
        {"str_to_lower": True},
        {"str_to_upper": True},
        {"str_max_length": 3},
        {"str_min_length": 2},
        {"allow_inf_nan": False},
        {"allow_inf_nan": True},
        {"validate_default": True},
        {"val_temporal_unit": "milliseconds"},
        {"val_json_bytes": "base64"},
        {"revalidate_instances": "always"},
        {"from_attributes": True},
        {"frozen": True},
        {"validate_assignment": True},
        {"loc_by_alias": False},
        {"hide_input_in_errors": True},
        {"validation_error_cause": True},
        {"cache_strings": False},
        {"defer_build": True},
        {"ser_json_inf_nan": "constants"},
        {"use_attribute_docstrings": True},
    ],
    ids=lambda config: ",".join(f"{k}={v}" for k, v in config.items()),
)
def test_model_config_variants(config: dict[str, Any]) -> None:
    """Whatever a config changes, the plan (if the model gets one) gives pydantic's answer."""
    model = pydantic.create_model(  # type: ignore[call-overload]
        "Configured",
        __config__=ConfigDict(**config),  # type: ignore[typeddict-item]
        s=(str, "default"),
        f=(float, 0.0),
        c=(Color, Color.RED),
        d=(datetime, ...),
        a=(Any, None),
        leaf=(Leaf, Leaf(name="x")),
    )
    plan = plan_for(model)
    for data in CONFIG_DOCS:
        try:
            expected = model.model_validate_json(data)
        except ValidationError as exc:
            assert plan is None or plan.build(data) is None
            with pytest.raises(ValidationError) as info:
                validate_json(model, data)
            assert errors_of(info.value) == errors_of(exc)
        else:
            if plan is not None and (built := plan.build(data)) is not None:
                assert_identical(built, expected)
            assert_identical(validate_json(model, data), expected)


def test_supported_models_compile() -> None:
    for model in MODELS:
        plan = compile_plan(model)
        assert isinstance(plan, ModelPlan)
        assert model.__name__ in repr(plan)
        assert plan_for(model) is plan_for(model)


def test_incomplete_model_gets_a_plan_once_complete() -> None:
    class Early(BaseModel):
        name: str = ""
        later: Missing | None = None  # defined below

    with pytest.raises(pydantic.PydanticUserError) as pydantics:
        Early.model_validate_json(b"{}")
    with pytest.raises(pydantic.PydanticUserError) as ours:
        validate_json(Early, b"{}")
    assert str(ours.value) == str(pydantics.value)
    assert plan_for(Early) is None  # not yet

    class Missing(BaseModel):
        x: int = 0

    Early.model_rebuild()
    assert isinstance(plan_for(Early), ModelPlan)
    assert check_same(Early, b'{"later": {"x": 1}, "name": "n"}') is not None


def test_str_data_goes_to_pydantic() -> None:
    text = record().decode()
    assert_identical(validate_json(Record, text), Record.model_validate_json(text))
    with pytest.raises(ValidationError):
        validate_json(Record, "{}")


# -- the constructor and build's arguments -------------------------------------------------------


class Pair(BaseModel):
    a: int = 0
    b: int = 0


def make(*fields: tuple[Any, ...], cls: Any = Pair, **kwargs: Any) -> ModelPlan:
    options: dict[str, Any] = {"tzinfo": TzInfo, "deepcopy": lambda value: value}
    options.update(kwargs)
    return ModelPlan([(cls, list(fields))], **options)


def test_hand_made_plan() -> None:
    plan = make(("a", ("a", "x"), ("int",), 1, 0), ("b", ("b",), ("int",), 0, None))
    built = plan.build(b'{"x": 1, "b": 2, "a": 3, "x": 4}')
    assert built is not None
    assert (built.a, built.b) == (3, 2)
    assert built.__pydantic_fields_set__ == {"a", "b"}
    built = plan.build(b'{"x": 1, "b": 2, "x": 4}')
    assert built is not None and built.a == 4
    assert plan.build(b'{"a": 3}') is None  # b is required
    assert "Pair" in repr(plan)


class PickledPair(BaseModel):
    a: int = 0
    b: list[int] = []


def test_built_instances_behave_as_pydantics() -> None:
    # The plan allocates a plain model's instances itself (as object.__new__ does, without
    # the attribute-values array it would give them first): what pydantic does with an
    # instance afterwards must work on them as on its own.
    plan = make(
        ("a", ("a",), ("int",), 1, 0),
        ("b", ("b",), ("list", ("int",)), 2, []),
        cls=PickledPair,
    )
    built = plan.build(b'{"a": 1, "b": [2, 3]}')
    expected = PickledPair.model_validate_json(b'{"a": 1, "b": [2, 3]}')
    assert built is not None
    assert built == expected and built.__dict__ == {"a": 1, "b": [2, 3]}
    built.a = 5
    built.__dict__["c"] = 1  # what pydantic's own instances allow
    assert built.a == 5 and vars(built)["c"] == 1
    copied = pickle.loads(pickle.dumps(built))
    assert copied == built and copied.__pydantic_fields_set__ == {"a", "b"}
    assert built.model_copy(update={"a": 6}).a == 6
    assert copy.deepcopy(built) == built


def test_a_model_with_its_own_new_is_made_by_it() -> None:
    made: list[str] = []

    class Counted(BaseModel):
        a: int = 0

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            made.append(cls.__name__)
            return super().__new__(cls)

    plan = make(("a", ("a",), ("int",), 1, 0), cls=Counted)
    built = plan.build(b'{"a": 7}')
    assert type(built) is Counted and built.a == 7
    assert made == ["Counted"]


def test_an_abstract_model_is_refused_as_object_new_refuses_it() -> None:
    class Abstract(BaseModel, abc.ABC):
        a: int = 0

        @abc.abstractmethod
        def run(self) -> None: ...

    plan = make(("a", ("a",), ("int",), 1, 0), cls=Abstract)
    with pytest.raises(TypeError, match="abstract"):
        plan.build(b'{"a": 7}')


def test_hand_made_deepcopy_hook() -> None:
    copies: list[Any] = []

    def deepcopy(value: Any) -> Any:
        copies.append(value)
        return list(value)

    default = [1]
    plan = make(("a", ("a",), ("any",), 2, default), deepcopy=deepcopy)
    built = plan.build(b"{}")
    assert built is not None
    assert built.a == [1] and built.a is not default
    assert copies == [default]


def test_hand_made_tzinfo_must_give_a_tzinfo() -> None:
    plan = make(("a", ("a",), ("datetime",), 0, None), tzinfo=lambda offset: offset)
    with pytest.raises(TypeError, match="tzinfo"):
        plan.build(b'{"a": "2024-01-15T10:30:00Z"}')
    naive = plan.build(b'{"a": "2024-01-15T10:30:00"}')
    assert naive is not None and naive.a == datetime(2024, 1, 15, 10, 30)


FIELD = ("a", ("a",), ("int",), 0, None)


@pytest.mark.parametrize(
    ("models", "error", "match"),
    [
        pytest.param("nope", TypeError, "list", id="not-a-list"),
        pytest.param((Pair, []), TypeError, "list", id="tuple-not-list"),
        pytest.param([], ValueError, "no models", id="empty"),
        pytest.param([Pair], TypeError, "model must be a tuple", id="model-not-tuple"),
        pytest.param([(Pair,)], ValueError, "2 items", id="model-wrong-size"),
        pytest.param([(Pair, [], 1)], ValueError, "2 items", id="model-too-long"),
        pytest.param([("Pair", [])], TypeError, "class must be a type", id="cls-not-type"),
        pytest.param([(Pair(), [])], TypeError, "class must be a type", id="cls-instance"),
        pytest.param([(Pair, 5)], TypeError, "iterable", id="fields-not-iterable"),
        pytest.param([(Pair, [FIELD[:4]])], ValueError, "5 items", id="field-short"),
        pytest.param([(Pair, [(*FIELD, 1)])], ValueError, "5 items", id="field-long"),
        pytest.param([(Pair, [["a", ("a",), ("int",), 0, None]])], TypeError, "tuple", id="list"),
        pytest.param([(Pair, [(1, ("a",), ("int",), 0, None)])], TypeError, "name", id="name"),
        pytest.param([(Pair, [("a", "a", ("int",), 0, None)])], TypeError, "keys", id="keys-str"),
        pytest.param([(Pair, [("a", (), ("int",), 0, None)])], ValueError, "keys", id="no-keys"),
        pytest.param([(Pair, [("a", (1,), ("int",), 0, None)])], TypeError, "key", id="key-int"),
        pytest.param([(Pair, [("a", ("a",), "int", 0, None)])], TypeError, "kind", id="kind-str"),
        pytest.param([(Pair, [("a", ("a",), (), 0, None)])], ValueError, "kind", id="kind-empty"),
        pytest.param([(Pair, [("a", ("a",), (1,), 0, None)])], TypeError, "kind", id="kind-int"),
        pytest.param(
            [(Pair, [("a", ("a",), ("decimal",), 0, None)])], ValueError, "kind", id="unknown"
        ),
        pytest.param(
            [(Pair, [("a", ("a",), ("int", 1), 0, None)])], ValueError, "kind", id="arity"
        ),
        pytest.param([(Pair, [("a", ("a",), ("list",), 0, None)])], ValueError, "kind", id="list1"),
        pytest.param(
            [(Pair, [("a", ("a",), ("list", ("nope",)), 0, None)])],
            ValueError,
            "kind",
            id="inner-unknown",
        ),
        pytest.param(
            [(Pair, [("a", ("a",), ("choice", ["x"]), 0, None)])],
            TypeError,
            "choices",
            id="choices-list",
        ),
        pytest.param(
            [(Pair, [("a", ("a",), ("choice", {1: "x"}), 0, None)])],
            TypeError,
            "choice",
            id="choice-key",
        ),
        pytest.param(
            [(Pair, [("a", ("a",), ("model", 1), 0, None)])], ValueError, "index", id="index"
        ),
        pytest.param(
            [(Pair, [("a", ("a",), ("model", -1), 0, None)])], TypeError, "index", id="negative"
        ),
        pytest.param(
            [(Pair, [("a", ("a",), ("model", "0"), 0, None)])], TypeError, "index", id="index-str"
        ),
        pytest.param([(Pair, [("a", ("a",), ("int",), 4, None)])], ValueError, "default", id="4"),
        pytest.param([(Pair, [("a", ("a",), ("int",), -1, None)])], TypeError, "default", id="-1"),
        pytest.param(
            [(Pair, [("a", ("a",), ("int",), "0", None)])], TypeError, "default", id="mode-str"
        ),
    ],
)
def test_malformed_plans_are_refused(models: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ModelPlan(models, tzinfo=TzInfo, deepcopy=lambda value: value)


def test_constructor_needs_keyword_options() -> None:
    with pytest.raises(TypeError):
        ModelPlan([(Pair, [FIELD])])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ModelPlan([(Pair, [FIELD])], TzInfo, lambda value: value)  # type: ignore[misc]


@pytest.mark.parametrize(
    "data", ['{"a": 1}', 5, None, {"a": 1}, [b"{}"], object()], ids=lambda d: type(d).__name__
)
def test_build_refuses_non_buffers(data: Any) -> None:
    plan = plan_for(Pair)
    assert plan is not None
    with pytest.raises(TypeError):
        plan.build(data)


def test_build_takes_any_buffer() -> None:
    plan = plan_for(Pair)
    assert plan is not None
    data = b'{"a": 1, "b": 2}'
    spread = bytearray(2 * len(data))
    spread[::2] = data
    for buffer in [
        data,
        bytearray(data),
        memoryview(data),
        memoryview(b"xx" + data + b"yy")[2:-2],
        memoryview(spread)[::2],  # not contiguous: copied
        memoryview(data).cast("B", (len(data), 1)),
    ]:
        built = plan.build(buffer)
        assert built is not None, buffer
        assert_identical(built, Pair.model_validate_json(data))


# -- linktor.types -------------------------------------------------------------------------------


def linktor_models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(linktor.types.__path__):
        module = importlib.import_module(f"linktor.types.{info.name}")
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                found[f"{info.name}.{name}"] = value
    return found


# Models with a smart union field, which the plan does not reproduce:
NO_PLAN = {
    "ai.EmbeddingRequest",  # input: str | list[str]
}


def test_every_linktor_model_compiles_or_is_known_unsupported() -> None:
    models = linktor_models()
    assert len(models) > 100
    no_plan = {name for name, model in models.items() if plan_for(model) is None}
    assert no_plan == NO_PLAN, f"models without a plan: {sorted(no_plan)}"
    for name in NO_PLAN:
        with pytest.raises(Unsupported, match="union"):
            compile_plan(models[name])


def test_linktor_response_models_get_plans() -> None:
    from linktor.types import Bot, Channel, Contact, Conversation, Message, PaginatedResponse

    for model in [
        PaginatedResponse[Conversation],
        PaginatedResponse[Contact],
        PaginatedResponse[Channel],
        PaginatedResponse[Bot],
        PaginatedResponse[Message],
        Conversation,
        Message,
        Contact,
        Channel,
        Bot,
    ]:
        assert isinstance(plan_for(model), ModelPlan), model


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.mark.parametrize(
    ("path", "item"),
    [
        ("/conversations?limit=100", "Conversation"),
        ("/contacts", "Contact"),
        ("/channels", "Channel"),
        ("/bots", "Bot"),
    ],
)
def test_emulator_answers_are_built_by_the_plan(emulator: Emulator, path: str, item: str) -> None:
    from linktor.types import PaginatedResponse

    model = PaginatedResponse[getattr(linktor.types, item)]  # type: ignore[misc]
    reply = httpx.get(emulator.linktor_url + path, headers={"X-API-Key": DEMO_KEY})
    assert reply.status_code == 200
    body = reply.content
    plan = plan_for(model)
    assert plan is not None
    built = plan.build(body)
    assert built is not None, "the plan declined a real answer"
    assert len(built.data) > 0
    assert_identical(built, model.model_validate(json.loads(body)))
    assert_identical(built, model.model_validate_json(body))
    assert_identical(validate_json(model, body), model.model_validate_json(body))
    for one in built.data:
        single = json.dumps(one.model_dump(mode="json", by_alias=True)).encode()
        assert_identical(validate_json(type(one), single), type(one).model_validate_json(single))


def test_emulator_client_listing_matches(emulator: Emulator) -> None:
    from linktor.types import Conversation, PaginatedResponse

    model = PaginatedResponse[Conversation]
    with linktor.LinktorClient(base_url=emulator.linktor_url, api_key=DEMO_KEY) as client:
        page = client.conversations.list(limit=100)
    reply = httpx.get(
        emulator.linktor_url + "/conversations?limit=100", headers={"X-API-Key": DEMO_KEY}
    )
    plan = plan_for(model)
    assert plan is not None
    built = plan.build(reply.content)
    assert built is not None
    # the client adds the response's request id as an instance attribute, not a field
    assert isinstance(page.__dict__.pop("_request_id"), str)
    assert_identical(built, page)
    assert_identical(validate_json(model, reply.content), page)


def test_wide_model() -> None:
    """Many keys in the plan's key table (aliases, names, non-ASCII) all found."""
    fields: dict[str, Any] = {}
    for i in range(300):
        kind: Any = [int, str, float | None, list[int]][i % 4]
        fields[f"f{i}"] = (kind, Field(default=None if i % 4 == 2 else ..., alias=f"é{i}"))
    wide = pydantic.create_model(  # type: ignore[call-overload]
        "Wide", __config__=ConfigDict(populate_by_name=True), **fields
    )
    body: dict[str, Any] = {}
    for i in range(300):
        if i % 8 == 2:
            continue  # an optional field left out
        body[f"é{i}" if i % 3 else f"f{i}"] = [i, f"s{i}", i / 7, [i, -i]][i % 4]
    data = json.dumps(body, ensure_ascii=False).encode()
    built = check_same(wide, data)
    assert built is not None
    assert len(built.__pydantic_fields_set__) == len(body)


SCRIBBLED: list[bytearray] = []


def scribble() -> list[int]:
    """A default factory that rewrites the buffer being parsed (same length)."""
    for buffer in SCRIBBLED:
        at = buffer.find(b"hello")
        if at >= 0:
            buffer[at : at + 5] = b"HELLO"
    return []


class Scribbling(BaseModel):
    made: list[int] = Field(default_factory=scribble)
    text: str


@pytest.mark.parametrize("view", [False, True], ids=["bytearray", "memoryview"])
def test_input_rewritten_by_a_default_factory(view: bool) -> None:
    """pydantic parses the whole document before it calls a default factory: a factory that
    rewrites the input buffer (in place, same length) changes nothing."""
    original = b'{"text": "hello"}'
    fresh = bytearray(original)
    SCRIBBLED[:] = [fresh]
    expected = Scribbling.model_validate_json(fresh)
    assert expected.text == "hello" and fresh != original
    plan = plan_for(Scribbling)
    assert plan is not None
    data = bytearray(original)
    SCRIBBLED[:] = [data]
    try:
        built = plan.build(memoryview(data) if view else data)
        assert built is None or built.text == "hello"
        if built is not None:
            assert_identical(built, expected)
    finally:
        SCRIBBLED.clear()


def test_validate_json_takes_what_pydantic_takes() -> None:
    """``model_validate_json`` refuses a memoryview (json_type) whatever it holds; a drop-in
    gives the same answer rather than building from it."""
    for data in [record(), record(id=...)]:
        view = memoryview(data)  # the error shows the input, so both get the same object
        with pytest.raises(ValidationError) as pydantics:
            Record.model_validate_json(view)  # type: ignore[arg-type]
        assert pydantics.value.errors()[0]["type"] == "json_type"
        with pytest.raises(ValidationError) as ours:
            validate_json(Record, view)  # type: ignore[arg-type]
        assert errors_of(ours.value) == errors_of(pydantics.value)


# -- threads and re-entrancy ---------------------------------------------------------------------


def test_threads_share_a_plan() -> None:
    documents = [record(id=i, titleText=f"t{i}", leaves=[LEAF] * (i % 4)) for i in range(16)]
    expected = [Record.model_validate_json(d) for d in documents]
    plan = plan_for(Record)
    assert plan is not None
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def work(seed: int) -> None:
        try:
            start.wait()
            for round_ in range(60):
                i = (seed * 7 + round_) % len(documents)
                built = plan.build(documents[i])
                assert built is not None
                assert_identical(built, expected[i])
                assert plan.build(b'{"id": "x"}') is None
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_threads_compile_the_same_model() -> None:
    class Fresh(BaseModel):
        a: int
        b: list[str] = []

    plans: list[Any] = []
    results: list[Any] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        plans.append(plan_for(Fresh))
        results.append(validate_json(Fresh, b'{"a": 1}'))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(plans) == len(results) == 8
    assert all(isinstance(plan, ModelPlan) for plan in plans)
    for result in results:
        assert_identical(result, Fresh.model_validate_json(b'{"a": 1}'))


def reentrant_default() -> Any:
    return validate_json(Reentrant, b'{"n": 2, "other": null, "tags": ["inner"]}')


class Reentrant(BaseModel):
    n: int
    tags: list[str] = []
    other: Any = Field(default_factory=reentrant_default)
    after: Leaf | None = None


def test_reentrant_default_factory() -> None:
    plan = plan_for(Reentrant)
    assert plan is not None
    data = b'{"tags": ["outer", "x"], "n": 1, "after": {"name": "z", "tags": ["t"]}}'
    built = plan.build(data)
    assert built is not None
    assert isinstance(built.other, Reentrant)
    assert built.other.n == 2 and built.other.tags == ["inner"]
    assert built.tags == ["outer", "x"] and built.after == Leaf(name="z", tags=["t"])
    assert_identical(built, Reentrant.model_validate_json(data))
    assert_identical(validate_json(Reentrant, data), Reentrant.model_validate_json(data))
