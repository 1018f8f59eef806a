"""linktor: a drop-in for the official Linktor Python SDK 1.0.0, on relaywire's Rust core.

Same module paths and public names as the official package: the clients, every model and enum
of :mod:`linktor.types` (also attributes of this module, ``from linktor import Conversation``),
the errors, and the webhook helpers. ``linktor.TimeoutError`` and ``linktor.ValidationError``
are the SDK's errors, not the builtin or pydantic's.

Everything loads on first use (PEP 562): ``import linktor`` imports neither httpx nor pydantic,
and ``from linktor import verify_webhook_signature`` imports only the webhook helpers.
Beyond the official package: :mod:`linktor.webhooks` (replay guard, Starlette/FastAPI and Flask
helpers) and ``Linktor``, the name the documentation's getting-started page uses for
:class:`LinktorClient`.
"""

import importlib as _importlib
import os as _os
import typing as _typing

from linktor import types as _types

if _os.environ.get("RELAYWIRE_LOG"):  # applied by relaywire on import (relaywire.redaction)
    _importlib.import_module("relaywire")

__version__ = "1.0.0"

if _typing.TYPE_CHECKING:
    from linktor.client import LinktorAsyncClient, LinktorClient
    from linktor.types import *  # noqa: F403
    from linktor.utils.errors import (
        AuthenticationError,
        AuthorizationError,
        ConflictError,
        LinktorError,
        NetworkError,
        NotFoundError,
        RateLimitError,
        ServerError,
        TimeoutError,
        ValidationError,
        WebSocketError,
    )
    from linktor.utils.webhook import (
        compute_signature,
        construct_event,
        verify_webhook,
        verify_webhook_signature,
    )

    Linktor = LinktorClient

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ConflictError",
    "LinktorAsyncClient",
    "LinktorClient",
    "LinktorError",
    "NetworkError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "ValidationError",
    "WebSocketError",
    "compute_signature",
    "construct_event",
    "verify_webhook",
    "verify_webhook_signature",
]

#: Top-level names that are not types: name -> (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    "LinktorClient": ("linktor.client", "LinktorClient"),
    "LinktorAsyncClient": ("linktor.client", "LinktorAsyncClient"),
    "Linktor": ("linktor.client", "LinktorClient"),
    **{
        name: ("linktor.utils.errors", name)
        for name in (
            "LinktorError",
            "AuthenticationError",
            "AuthorizationError",
            "NotFoundError",
            "ValidationError",
            "RateLimitError",
            "ConflictError",
            "ServerError",
            "NetworkError",
            "TimeoutError",
            "WebSocketError",
        )
    },
    **{
        name: ("linktor.utils.webhook", name)
        for name in (
            "verify_webhook_signature",
            "verify_webhook",
            "compute_signature",
            "construct_event",
        )
    },
}

_SUBMODULES = frozenset(("client", "types", "utils", "webhooks", "websocket"))


def __getattr__(name: str) -> _typing.Any:
    target = _LAZY.get(name)
    if target is not None:
        value = getattr(_importlib.import_module(target[0]), target[1])
    elif name in _types._MODULE_OF:
        value = getattr(_types, name)
    elif name in _SUBMODULES:
        return _importlib.import_module(f"linktor.{name}")
    else:
        raise AttributeError(f"module 'linktor' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_types.__all__, *_SUBMODULES} - {"_types"})
