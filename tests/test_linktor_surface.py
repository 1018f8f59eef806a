"""The ``linktor`` package against the official SDK 1.0.0 surface, as written down by hand from the
spec in ``tests/data/linktor_1_0_0_surface.json``: module paths, names, model fields and aliases,
enum members, error classes and webhook helpers. Plus: importing is clean and cheap."""

from __future__ import annotations

import ast
import collections.abc
import enum
import importlib
import inspect
import json
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pydantic
import pytest

import linktor
import linktor.types
import linktor.utils

SURFACE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "linktor_1_0_0_surface.json").read_text()
)
PACKAGE = Path(linktor.__file__).parent
TYPE_MODELS = [
    (module, name, spec)
    for module, names in SURFACE["types"].items()
    for name, spec in names.items()
]
EXTENSIONS = SURFACE["extensions"]

FIELD_RE = re.compile(
    r"^(?P<name>\w+)(?:\((?P<alias>\w+)\))?(?P<optional>\?)?(?:=(?P<default>[^:]+))?"
    r"(?::(?P<type>.+))?$"
)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )


def render(annotation: Any) -> str:
    """An annotation as text without module prefixes: ``list[str] | None``, ``Message``."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        text = annotation.__name__
    else:
        text = str(annotation)
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", text)


def parse_params(params: list[str]) -> list[tuple[str, Any, bool]]:
    """``["a", "b=1", "*", "c"]`` -> ``[(name, default or inspect.Parameter.empty, kw_only)]``."""
    out = []
    kw_only = False
    for param in params:
        if param == "*":
            kw_only = True
            continue
        name, _, default = param.partition("=")
        out.append(
            (name, ast.literal_eval(default) if default else inspect.Parameter.empty, kw_only)
        )
    return out


def check_signature(func: Any, official: list[str], extra_keyword_only: list[str] = ()) -> None:
    """``func`` takes the official parameters first, in order, with the official defaults;
    anything beyond them is optional and keyword-only."""
    parameters = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
    expected = parse_params(official)
    assert len(parameters) >= len(expected), (func, parameters)
    for parameter, (name, default, _) in zip(parameters, expected, strict=False):
        assert parameter.name == name, (func, parameter, name)
        assert parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.POSITIONAL_ONLY)
        assert parameter.default == default or (
            parameter.default is inspect.Parameter.empty and default is inspect.Parameter.empty
        ), (func, name, parameter.default, default)
    for parameter in parameters[len(expected) :]:
        assert parameter.kind is parameter.KEYWORD_ONLY, (func, parameter)
        assert parameter.default is not inspect.Parameter.empty, (func, parameter)
        assert parameter.name in extra_keyword_only or not extra_keyword_only, (func, parameter)


# ------------------------------------------------------------------ importing


def test_import_is_warning_free_and_lazy() -> None:
    result = run_python(
        "import sys, linktor\n"
        "heavy = [m for m in ('pydantic', 'httpx', 'relaywire', 'linktor.client') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(linktor.__version__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.0.0"
    assert result.stderr == ""


def test_every_model_and_helper_imports_without_warnings() -> None:
    result = run_python(
        "import linktor, linktor.types as t, linktor.utils as u\n"
        "from linktor.types import *\n"
        "from linktor.utils import *\n"
        "import linktor.types.realtime, linktor.webhooks, relaywire.models\n"
        "for n in t.__all__: getattr(linktor, n)\n"
        "for n in ['LinktorError', 'TimeoutError', 'verify_webhook']: getattr(linktor, n)\n"
        "from linktor.types.conversation import Conversation\n"
        "Conversation.model_json_schema()\n"
        "import sys; assert 'starlette' not in sys.modules and 'flask' not in sys.modules\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_webhook_helpers_do_not_import_pydantic() -> None:
    result = run_python(
        "import sys\n"
        "from linktor import verify_webhook_signature, compute_signature, verify_webhook\n"
        "from linktor.utils.webhook import ReplayGuard\n"
        "assert 'pydantic' not in sys.modules\n"
        "assert verify_webhook_signature(b'x', compute_signature(b'x', 's'), 's')\n"
    )
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ top level


def test_top_level_all_is_the_official_list() -> None:
    # The same names (kept sorted here, as the linter wants; the order has no effect).
    assert sorted(linktor.__all__) == sorted(SURFACE["linktor"]["__all__"])
    assert len(linktor.__all__) == len(set(linktor.__all__)) == 17
    assert linktor.__version__ == SURFACE["linktor"]["__version__"]


def test_top_level_has_every_type_and_165_public_names() -> None:
    public = set(linktor.__all__) | set(linktor.types.__all__)
    assert len(public) == SURFACE["linktor"]["public_name_count"] == 165
    for name in public:
        assert getattr(linktor, name) is not None, name
    assert public <= set(dir(linktor))


def test_top_level_names_are_the_module_objects() -> None:
    for name, target in SURFACE["linktor"]["same_object_as"].items():
        module, _, attribute = target.rpartition(".")
        assert getattr(linktor, name) is getattr(importlib.import_module(module), attribute)
    for name in linktor.types.__all__:
        assert getattr(linktor, name) is getattr(linktor.types, name)


def test_shadowing_names_are_the_sdk_errors() -> None:
    import builtins

    from linktor.utils.errors import LinktorError

    assert linktor.TimeoutError is not builtins.TimeoutError
    assert linktor.ValidationError is not pydantic.ValidationError
    assert issubclass(linktor.TimeoutError, LinktorError)
    assert issubclass(linktor.ValidationError, LinktorError)


def test_some_names_are_only_in_utils() -> None:
    for name in SURFACE["linktor"]["not_top_level"]:
        assert not hasattr(linktor, name), name
        assert hasattr(linktor.utils, name), name


def test_unknown_names_raise_attribute_error() -> None:
    for module in (linktor, linktor.types, linktor.utils):
        assert not hasattr(module, "NoSuchThing")
        with pytest.raises(AttributeError, match="NoSuchThing"):
            module.NoSuchThing  # noqa: B018


def test_extensions_are_the_documented_ones() -> None:
    official = set(SURFACE["linktor"]["__all__"]) | set(linktor.types.__all__)
    extra = {n for n in dir(linktor) if not n.startswith("_")} - official
    assert extra <= set(EXTENSIONS["linktor"]), extra
    assert linktor.Linktor is linktor.LinktorClient
    for module in EXTENSIONS["modules"]:
        if module == "linktor.websocket" and not (PACKAGE / "websocket.py").exists():
            continue  # comes later
        importlib.import_module(module)


def test_utils_reexports_errors_and_webhook() -> None:
    from linktor.utils import errors, webhook

    assert set(linktor.utils.__all__) == set(errors.__all__) | set(webhook.__all__)
    namespace: dict[str, Any] = {}
    exec("from linktor.utils import *", namespace)
    for name in linktor.utils.__all__:
        assert namespace[name] is getattr(errors if name in errors.__all__ else webhook, name)


# ------------------------------------------------------------------ re-exports


REEXPORTS = [
    (module, name, source)
    for module, names in SURFACE["reexports"].items()
    if module != "about"
    for name, source in names.items()
]


@pytest.mark.parametrize(("module", "name", "source"), REEXPORTS)
def test_reexports(module: str, name: str, source: str) -> None:
    """A name the official module held besides its ``__all__`` is importable from it, and it is
    the very object of the module that defines it."""
    value = getattr(importlib.import_module(module), name)
    assert value is getattr(importlib.import_module(source), name)
    result = run_python(f"from {module} import {name}")
    assert result.returncode == 0, result.stderr


def test_webhook_handler_is_the_official_alias() -> None:
    from linktor.types.webhook import WebhookEvent
    from linktor.utils.webhook import WebhookHandler

    assert typing.get_origin(WebhookHandler) is collections.abc.Callable
    assert typing.get_args(WebhookHandler) == ([WebhookEvent[Any]], None)


def test_star_import_of_utils_stays_the_official_list() -> None:
    namespace: dict[str, Any] = {}
    exec("from linktor.utils import *", namespace)
    public = {n for n in namespace if not n.startswith("__")}
    assert public == set(SURFACE["errors"]["classes"]) | set(SURFACE["errors"]["functions"]) | set(
        SURFACE["webhook"]["constants"]
    ) | set(SURFACE["webhook"]["functions"])


# ------------------------------------------------------------------ HTTP clients

HTTP = SURFACE["http"]


def official_parameters(func: Any) -> list[str]:
    """Positional-or-keyword parameters (``name`` or ``name=default``) and ``**``, without
    ``self``: the part of a signature the official SDK had."""
    out = []
    for parameter in inspect.signature(func).parameters.values():
        if parameter.name == "self" or parameter.kind is parameter.KEYWORD_ONLY:
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            out.append("**")
        elif parameter.default is inspect.Parameter.empty:
            out.append(parameter.name)
        else:
            out.append(f"{parameter.name}={parameter.default!r}")
    return out


@pytest.mark.parametrize("class_name", ["HttpClient", "AsyncHttpClient"])
def test_http_client_constructor(class_name: str) -> None:
    from linktor.utils import http

    params = official_parameters(getattr(http, class_name))
    # base_url has a default here (the official one was required): a superset of the calls.
    assert [p.partition("=")[0] for p in params] == [p.partition("=")[0] for p in HTTP["init"]]
    assert params[1:] == HTTP["init"][1:]


@pytest.mark.parametrize("class_name", ["HttpClient", "AsyncHttpClient"])
def test_http_client_methods_inherited_included(class_name: str) -> None:
    from linktor.utils import http

    cls = getattr(http, class_name)
    expected = dict(HTTP["methods"])
    if class_name == "AsyncHttpClient":
        expected.update(HTTP["async_only"])
    for name, params in expected.items():
        method = getattr(cls, name)  # defined on the class or inherited from a base
        assert official_parameters(method) == params, (class_name, name)


def test_token_refresh_is_positional_as_officially() -> None:
    from linktor.utils.http import AsyncHttpClient, HttpClient

    def refresh() -> str:
        return "jwt"

    for cls in (HttpClient, AsyncHttpClient):
        client = cls("https://h.example", None, None, 30.0, 3, 1.0, None, refresh)
        assert client.on_token_refresh is refresh
        client.set_access_token(token="t1")
        assert client.access_token == "t1"


# ------------------------------------------------------------------ lazy namespaces


@pytest.mark.parametrize(
    "path",
    ["__init__.py", "types/__init__.py", "utils/__init__.py"],
)
def test_type_checking_imports_match_the_lazy_tables(path: str) -> None:
    """The ``if TYPE_CHECKING:`` imports (what type checkers see) name exactly what the lazy
    ``__getattr__`` serves."""
    tree = ast.parse((PACKAGE / path).read_text())
    checked: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    for alias in statement.names:
                        checked[alias.asname or alias.name] = statement.module or ""
    module = importlib.import_module("linktor" + ("." + path.split("/")[0] if "/" in path else ""))
    if module is linktor:
        assert "*" in checked and checked["*"] == "linktor.types"
        del checked["*"]
        assert set(checked) == set(linktor.__all__)
    else:
        assert set(module.__all__) <= set(checked) == set(module._MODULE_OF)
        for name, source in checked.items():
            assert source == f"{module.__name__}.{module._MODULE_OF[name]}", name


def test_types_tables_match_each_module() -> None:
    for module_name, names in linktor.types._EXPORTS.items():
        module = importlib.import_module(f"linktor.types.{module_name}")
        assert tuple(module.__all__) == names
    assert sorted(linktor.types.__all__) == sorted(linktor.types._MODULE_OF)


# ------------------------------------------------------------------ types


def test_types_modules_export_the_official_names() -> None:
    for module_name, names in SURFACE["types"].items():
        module = importlib.import_module(module_name)
        assert set(module.__all__) == set(names), module_name
        short = module_name.rsplit(".", 1)[1]
        assert set(linktor.types._EXPORTS[short]) == set(names)
    assert sum(len(n) for n in SURFACE["types"].values()) == len(linktor.types.__all__) == 148


@pytest.mark.parametrize(("module", "name", "spec"), TYPE_MODELS, ids=[m[1] for m in TYPE_MODELS])
def test_type(module: str, name: str, spec: dict[str, Any]) -> None:
    obj = getattr(importlib.import_module(module), name)
    assert getattr(linktor.types, name) is obj
    kind = spec["kind"]
    if kind == "enum":
        check_enum(obj, spec["values"])
    elif kind == "union":
        members = typing.get_args(obj)
        assert [m.__name__ for m in members] == spec["members"]
    else:
        check_model(obj, spec)


def check_enum(obj: Any, values: list[str]) -> None:
    assert issubclass(obj, str) and issubclass(obj, enum.Enum)
    assert [m.value for m in obj] == values
    for member in obj:
        assert member.name == member.value.upper().replace(".", "_")
        assert member == member.value
        assert obj(member.value) is member


def check_model(model: Any, spec: dict[str, Any]) -> None:
    assert issubclass(model, pydantic.BaseModel)
    assert model.model_config.get("populate_by_name") is True
    assert model.model_config.get("extra", "ignore") == "ignore"
    for base in spec.get("bases", []):
        assert base in [b.__name__ for b in model.__mro__]
    if spec.get("generic"):
        assert model.__pydantic_generic_metadata__["parameters"]
    fields = model.model_fields
    names = []
    for text in spec["fields"]:
        match = FIELD_RE.match(text)
        assert match, text
        name = match["name"]
        names.append(name)
        assert name in fields, (model, name)
        info = fields[name]
        assert info.alias == match["alias"], (model, name, info.alias)
        if match["optional"]:
            assert not info.is_required() and info.default is None, (model, name)
        elif match["default"]:
            assert info.default == ast.literal_eval(match["default"]), (model, name)
        else:
            assert info.is_required(), (model, name)
        if match["type"]:
            assert match["type"] in render(info.annotation), (model, name, info.annotation)
    # Declaration order is the official one (it is the order of model_dump()).
    order = [n for n in fields if n in names]
    assert order == names, model
    extra = set(fields) - set(names)
    assert extra <= set(EXTENSIONS["fields"].get(model.__name__, [])), (model, extra)
    for absent in spec.get("absent_fields", []):
        assert absent not in fields
    for field, values in spec.get("literal", {}).items():
        assert list(typing.get_args(fields[field].annotation)) == values


# ------------------------------------------------------------------ errors


ERRORS = SURFACE["errors"]


@pytest.mark.parametrize("name", list(ERRORS["classes"]))
def test_error_class(name: str) -> None:
    from linktor.utils import errors

    spec = ERRORS["classes"][name]
    cls = getattr(errors, name)
    assert cls.__module__ == ERRORS["module"]
    assert issubclass(cls, errors.LinktorError) and issubclass(cls, Exception)
    for base in spec.get("bases", []):
        assert base in [b.__name__ for b in cls.__mro__]
    check_signature(cls.__init__, spec["params"])
    if name == "LinktorError":
        return
    required = [
        p for p, default, _ in parse_params(spec["params"]) if default is inspect.Parameter.empty
    ]
    error = cls(*["x"] * len(required))
    assert error.code == spec["code"]
    assert error.status_code == spec["status_code"]
    for attribute in ERRORS["attributes"] + spec.get("extra_attributes", []):
        assert hasattr(error, attribute), attribute
    assert error.details == {} or name == "RateLimitError"


def test_error_functions() -> None:
    from linktor.utils import errors

    assert set(errors.__all__) == set(ERRORS["classes"]) | set(ERRORS["functions"])
    check_signature(
        errors.create_error_from_response,
        ERRORS["functions"]["create_error_from_response"]["params"],
        EXTENSIONS["create_error_from_response_keyword_only"],
    )
    check_signature(errors.is_retryable_error, ERRORS["functions"]["is_retryable_error"]["params"])


def test_error_extensions_are_linktor_errors_and_value_errors() -> None:
    from linktor.utils import errors

    for name in EXTENSIONS["errors"]:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.LinktorError) and issubclass(cls, ValueError)


# ------------------------------------------------------------------ webhook helpers

WEBHOOK = SURFACE["webhook"]


def test_webhook_constants_and_functions() -> None:
    from linktor.utils import webhook

    assert set(webhook.__all__) == set(WEBHOOK["constants"]) | set(WEBHOOK["functions"])
    for name, value in WEBHOOK["constants"].items():
        assert getattr(webhook, name) == value
    for name, spec in WEBHOOK["functions"].items():
        func = getattr(webhook, name)
        params = spec["params"]
        extra = EXTENSIONS["webhook_keyword_only"].get(name, [])
        if name == "construct_event":
            # ``headers`` and ``secret`` became optional for the documented keyword form.
            parameters = list(inspect.signature(func).parameters.values())
            assert [p.name for p in parameters[:4]] == ["payload", "headers", "secret", "tolerance"]
            assert parameters[3].default == 300
            assert {p.name for p in parameters[1:3]} == set(EXTENSIONS["construct_event_optional"])
            assert [p.name for p in parameters[4:]] == extra
            assert all(p.kind is p.KEYWORD_ONLY for p in parameters[4:])
        else:
            check_signature(func, params, extra)
