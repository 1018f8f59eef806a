"""The installed ``daguito`` package against daguito-sdk 0.4.5's public surface.

``tests/data/daguito_0_4_5_surface.json`` records, per official module, its ``__all__`` and the
names it holds: kind (class, dataclass, exception, function, value, module), the module that
defines it, signatures as ``inspect`` prints them, dataclass fields with their defaults.

Which names must exist in a module (one test case each):

* every ``__all__`` entry;
* every name defined in a daguito module (classes, functions, the ``T`` TypeVar);
* module-level constants (``SDK_LANG``, ``SUPPORTED_CODECS``, ...) and type aliases built there
  (``Listener``, ``TemplateFieldType``, ... : subscripted ``typing`` forms);
* the ``connect``, ``websockets`` and ``log`` names that tests of the stream and audio modules
  patch or read (and the emitter's ``log``).

Names merely imported from the standard library or third parties (``Any``, ``dataclass``,
``quote``, ``annotations`` ...) are not part of the contract.

The rules a drop-in must satisfy:

* a name defined in daguito module M is, in every module that has it, the same object as
  ``M.name`` (so ``isinstance`` works whichever module a user imports from);
* dataclasses: the official fields in the same order with the same defaults, the same
  frozenness; extra fields only after them and with defaults;
* functions and methods: the same kind (``def``/``async``/async generator/property) and the
  official parameters with the same names, order, kinds and defaults; extra parameters only
  after the official ones and with defaults. An official ``*args`` may be matched by ``*args``
  or by named positional parameters;
* exceptions: the official bases among ours; constructed with the official positional
  parameters, ``str(exc)`` is the message and every other parameter is an attribute;
* constants: the same value (except documented deviations).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

MANIFEST: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "daguito_0_4_5_surface.json").read_text()
)

#: Values that differ on purpose: (module, name) -> why.
DEVIATING_VALUES = {
    ("daguito._client_headers", "SDK_VERSION"): (
        "the API level with relaywire's version as a local label: 0.4.5+relaywire.<version>"
    ),
}
#: Names read or patched by tests of the stream and audio modules.
PATCH_POINTS = frozenset({"connect", "websockets", "log"})
#: Subscripted typing forms: aliases built in the module that holds them.
ALIAS_TYPES = frozenset({"_LiteralGenericAlias", "_CallableGenericAlias", "_UnionGenericAlias"})
#: The signature ``inspect`` shows for a class that keeps a builtin base's ``__init__``.
GENERIC_INIT = "(self, /, *args, **kwargs)"


def _required(module: str, name: str, entry: dict[str, Any]) -> bool:
    defined_in = entry.get("defined_in")
    if name in (MANIFEST[module]["__all__"] or ()):
        return True
    if defined_in is not None and defined_in.split(".")[0] == "daguito":
        return True
    if entry["kind"] == "value" and (defined_in is None or entry.get("type") in ALIAS_TYPES):
        return True
    if entry["kind"] == "module":
        return True
    return name in PATCH_POINTS and (module.endswith("_session") or module.endswith("emitter"))


CASES = [
    pytest.param(module, name, entry, id=f"{module}:{name}")
    for module in sorted(MANIFEST)
    for name, entry in sorted(MANIFEST[module]["names"].items())
    if _required(module, name, entry)
]
MODULES = sorted(MANIFEST)


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # reported as a failure of this case, not a collection error
        pytest.fail(f"{module} cannot be imported: {exc!r}")


# -- signatures ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    kind: inspect._ParameterKind
    default: Any  # inspect.Parameter.empty when there is none

    @property
    def has_default(self) -> bool:
        return self.default is not inspect.Parameter.empty


def _official_params(signature: str) -> tuple[str, list[Param]]:
    """(kind prefix, parameters) of a manifest signature such as
    ``async(self, x: 'int' = 1, *, y=None) -> 'T'``."""
    prefix, _, rest = signature.partition("(")
    depth, end = 1, 0
    for index, char in enumerate(rest):  # the closing parenthesis of the parameter list
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                end = index
                break
    arguments = ast.parse(f"def f({rest[:end]}): pass").body[0].args  # type: ignore[attr-defined]

    def default(node: ast.expr | None) -> Any:
        if node is None:
            return inspect.Parameter.empty
        try:
            return ast.literal_eval(node)
        except ValueError:
            return ast.unparse(node)

    params: list[Param] = []
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    for index, (arg, node) in enumerate(zip(positional, defaults, strict=True)):
        kind = (
            inspect.Parameter.POSITIONAL_ONLY
            if index < len(arguments.posonlyargs)
            else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        params.append(Param(arg.arg, kind, default(node)))
    if arguments.vararg is not None:
        params.append(
            Param(arguments.vararg.arg, inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty)
        )
    for arg, node in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        params.append(Param(arg.arg, inspect.Parameter.KEYWORD_ONLY, default(node)))
    if arguments.kwarg is not None:
        params.append(
            Param(arguments.kwarg.arg, inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty)
        )
    return prefix, params


def _our_params(obj: Any) -> list[Param]:
    return [Param(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values()]


def _same_default(official: Any, ours: Any) -> bool:
    if official is inspect.Parameter.empty or ours is inspect.Parameter.empty:
        return official is ours
    if isinstance(official, str) and not isinstance(ours, str):
        return official == repr(ours)  # a default the manifest could only print
    return type(official) is type(ours) and official == ours


def _signature_problems(official_signature: str, obj: Any) -> list[str]:
    """What keeps ``obj`` from accepting every call the official signature accepts."""
    _, official = _official_params(official_signature)
    ours = _our_params(obj)
    problems: list[str] = []
    positional_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    official_positional = [p for p in official if p.kind in positional_kinds]
    our_positional = [p for p in ours if p.kind in positional_kinds]
    for index, want in enumerate(official_positional):
        if index >= len(our_positional):
            # Only a positional-only parameter may be swallowed by our *args.
            swallowed = want.kind is inspect.Parameter.POSITIONAL_ONLY and any(
                p.kind is inspect.Parameter.VAR_POSITIONAL for p in ours
            )
            if not swallowed:
                problems.append(f"positional parameter {want.name!r} is missing")
            continue
        have = our_positional[index]
        if have.name != want.name:
            problems.append(f"positional parameter {index} is {have.name!r}, not {want.name!r}")
        by_keyword = want.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and want.name != "self"
        if by_keyword and have.kind is not want.kind:
            problems.append(f"{want.name!r} must also be accepted by keyword")
        if not _same_default(want.default, have.default):
            problems.append(f"{want.name!r} default is {have.default!r}, not {want.default!r}")
    extra_positional = our_positional[len(official_positional) :]
    official_var_positional = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in official)
    our_var_positional = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in ours)
    if official_var_positional and not (our_var_positional or extra_positional):
        problems.append("the official *args has no counterpart")
    if not official_var_positional:
        problems += [
            f"extra positional parameter {p.name!r} has no default"
            for p in extra_positional
            if not p.has_default
        ]
    ours_by_name = {p.name: p for p in ours}
    official_names = {p.name for p in official}
    for want in official:
        if want.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        have = ours_by_name.get(want.name)
        if have is None or have.kind not in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            problems.append(f"keyword parameter {want.name!r} is missing")
        elif not _same_default(want.default, have.default):
            problems.append(f"{want.name!r} default is {have.default!r}, not {want.default!r}")
    problems += [
        f"extra keyword-only parameter {p.name!r} has no default"
        for p in ours
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and p.name not in official_names
        and not p.has_default
    ]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in official) and not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in ours
    ):
        problems.append("the official **kwargs has no counterpart")
    return problems


def _kind_problem(prefix: str, owner: Any, name: str, obj: Any) -> str | None:
    """Whether ``obj`` is the same kind of callable as the manifest's ``prefix`` says."""
    static = inspect.getattr_static(owner, name) if owner is not None else obj
    if prefix == "property":
        return None if hasattr(static, "__get__") and not callable(obj) else "is not a property"
    if prefix == "async" and not inspect.iscoroutinefunction(obj):
        return "must be an async def (a coroutine function)"
    if prefix == "asyncgen" and (
        inspect.iscoroutinefunction(obj) or not callable(obj)
    ):  # an async generator, or a def returning an async iterator
        return "must return an async iterator, not a coroutine"
    if prefix == "def" and (inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj)):
        return "must be a plain def"
    return None


# -- the checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_module_is_importable(module: str) -> None:
    _import(module)


@pytest.mark.parametrize("module", [m for m in MODULES if MANIFEST[m]["__all__"] is not None])
def test_all_lists_every_official_name(module: str) -> None:
    ours = getattr(_import(module), "__all__", None)
    assert ours is not None, f"{module} has no __all__"
    missing = [name for name in MANIFEST[module]["__all__"] if name not in ours]
    assert not missing, f"{module}.__all__ lacks {missing}"


def test_version() -> None:
    assert _import("daguito").__version__ == "0.4.5"


@pytest.mark.parametrize(("module", "name", "entry"), CASES)
def test_official_name(module: str, name: str, entry: dict[str, Any]) -> None:
    mod = _import(module)
    assert hasattr(mod, name), f"{module}.{name} is missing"
    obj = getattr(mod, name)
    home = entry.get("defined_in")
    reexported = home is not None and home.split(".")[0] == "daguito" and home != module
    if reexported and home in MANIFEST and name in MANIFEST[home]["names"]:
        assert obj is getattr(_import(home), name, None), (
            f"{module}.{name} is not the same object as {home}.{name}"
        )
    kind = entry["kind"]
    if home is not None and home.split(".")[0] != "daguito" and kind != "value":
        assert callable(obj) or inspect.ismodule(obj), f"{module}.{name} is not usable"
        return  # a third-party object (websockets' connect): presence is the contract
    check = {
        "dataclass": _check_dataclass,
        "class": _check_class,
        "exception": _check_exception,
        "function": _check_function,
        "value": _check_value,
        "module": _check_module,
    }[kind]
    check(module, name, entry, obj)


def _check_dataclass(module: str, name: str, entry: dict[str, Any], obj: Any) -> None:
    assert dataclasses.is_dataclass(obj) and isinstance(obj, type), f"{name} is not a dataclass"
    ours = []
    for f in dataclasses.fields(obj):
        if f.default is not dataclasses.MISSING:
            ours.append((f.name, repr(f.default)))
        elif f.default_factory is not dataclasses.MISSING:
            ours.append((f.name, f"factory:{f.default_factory()!r}"))
        else:
            ours.append((f.name, None))
    official = [tuple(field) for field in entry["fields"]]
    assert ours[: len(official)] == official, f"{name} fields differ"
    extra_without_default = [n for n, default in ours[len(official) :] if default is None]
    assert not extra_without_default, f"{name}: extra fields {extra_without_default} need defaults"
    assert obj.__dataclass_params__.frozen == entry["frozen"]  # type: ignore[attr-defined]


def _check_class(module: str, name: str, entry: dict[str, Any], obj: Any) -> None:
    assert inspect.isclass(obj), f"{name} is not a class"
    problems: list[str] = []
    for member, signature in sorted(entry.get("members", {}).items()):
        if not hasattr(obj, member):
            problems.append(f"{member} is missing")
            continue
        value = getattr(obj, member)
        prefix = signature.partition("(")[0]
        kind_problem = _kind_problem(prefix, obj, member, value)
        if kind_problem:
            problems.append(f"{member} {kind_problem}")
        elif prefix != "property":
            problems += [f"{member}: {p}" for p in _signature_problems(signature, value)]
    assert not problems, f"{name}: " + "; ".join(problems)


def _check_exception(module: str, name: str, entry: dict[str, Any], obj: Any) -> None:
    assert inspect.isclass(obj) and issubclass(obj, BaseException), f"{name} is not an exception"
    ours_bases = {cls.__name__ for cls in obj.__mro__}
    assert set(entry["bases"]) <= ours_bases, f"{name} does not derive from {entry['bases']}"
    if entry["init"] == GENERIC_INIT:
        exc = obj("the message")
        assert str(exc) == "the message"
        return
    problems = _signature_problems(entry["init"], obj.__init__)
    assert not problems, f"{name}.__init__: " + "; ".join(problems)
    _, params = _official_params(entry["init"])
    names = [p.name for p in params if p.name != "self" and p.kind.name.startswith("POSITIONAL")]
    values = {param: f"value of {param}" for param in names}
    exc = obj(*values.values())
    assert str(exc) == values[names[0]], f"str({name}(...)) is not its message"
    for attribute in names[1:]:
        assert getattr(exc, attribute, None) == values[attribute], (
            f"{name}.{attribute} does not hold the value passed"
        )


def _check_function(module: str, name: str, entry: dict[str, Any], obj: Any) -> None:
    prefix = entry["sig"].partition("(")[0]
    kind_problem = _kind_problem(prefix, None, name, obj)
    assert kind_problem is None, f"{name} {kind_problem}"
    problems = _signature_problems(entry["sig"], obj)
    assert not problems, f"{name}: " + "; ".join(problems)


def _check_value(module: str, name: str, entry: dict[str, Any], obj: Any) -> None:
    if "value" in entry:
        if (module, name) in DEVIATING_VALUES:
            assert type(obj).__name__ == type(ast.literal_eval(entry["value"])).__name__
            return
        # The manifest prints sets as sorted lists.
        shown = sorted(obj) if isinstance(obj, (set, frozenset)) else obj
        assert repr(shown) == entry["value"], f"{module}.{name} is {obj!r}, not {entry['value']}"
    else:
        assert type(obj).__name__ == entry["type"], (
            f"{module}.{name} is a {type(obj).__name__}, not a {entry['type']}"
        )


def _check_module(module: str, name: str, entry: dict[str, Any], obj: Any) -> None:
    assert inspect.ismodule(obj), f"{module}.{name} is not a module"
    assert obj.__name__ == name


def test_the_manifest_signatures_parse() -> None:
    # Guards the parser above: every signature of a daguito-defined name must be readable.
    for data in MANIFEST.values():
        for entry in data["names"].values():
            if not (entry.get("defined_in") or "").startswith("daguito"):
                continue
            signatures = [entry[key] for key in ("sig", "init") if key in entry]
            signatures += list(entry.get("members", {}).values())
            for signature in signatures:
                if not signature.startswith("property"):
                    _official_params(signature)


def test_importing_daguito_does_not_import_pydantic() -> None:
    code = (
        "import sys, daguito; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"import daguito imported {result.stdout.strip()}"
