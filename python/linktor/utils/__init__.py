"""Errors and webhook helpers (``linktor.utils.errors`` and ``linktor.utils.webhook``, re-exported
here as officially), and the HTTP clients in ``linktor.utils.http``.

Names load on first use, so importing one submodule does not import the others.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
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
        create_error_from_response,
        is_retryable_error,
    )
    from linktor.utils.webhook import (
        DEFAULT_TOLERANCE,
        SIGNATURE_HEADER,
        TIMESTAMP_HEADER,
        compute_signature,
        construct_event,
        create_webhook_handler,
        is_event_type,
        verify_webhook,
        verify_webhook_signature,
    )
    from linktor.utils.webhook import (
        WebhookEvent as WebhookEvent,
    )
    from linktor.utils.webhook import (
        WebhookEventType as WebhookEventType,
    )
    from linktor.utils.webhook import (
        WebhookHandler as WebhookHandler,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "errors": (
        "AuthenticationError",
        "AuthorizationError",
        "ConflictError",
        "LinktorError",
        "NetworkError",
        "NotFoundError",
        "RateLimitError",
        "ServerError",
        "TimeoutError",
        "ValidationError",
        "WebSocketError",
        "create_error_from_response",
        "is_retryable_error",
    ),
    "webhook": (
        "DEFAULT_TOLERANCE",
        "SIGNATURE_HEADER",
        "TIMESTAMP_HEADER",
        "compute_signature",
        "construct_event",
        "create_webhook_handler",
        "is_event_type",
        "verify_webhook",
        "verify_webhook_signature",
    ),
}

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AuthenticationError",
    "AuthorizationError",
    "ConflictError",
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
    "create_error_from_response",
    "create_webhook_handler",
    "is_event_type",
    "is_retryable_error",
    "verify_webhook",
    "verify_webhook_signature",
]

_MODULE_OF: dict[str, str] = {name: module for module, names in _EXPORTS.items() for name in names}
# Importable from here as well, though not part of ``from linktor.utils import *``.
_MODULE_OF.update(dict.fromkeys(("WebhookEvent", "WebhookEventType", "WebhookHandler"), "webhook"))
_SUBMODULES = frozenset(("errors", "webhook", "http"))


def __getattr__(name: str) -> _typing.Any:
    module = _MODULE_OF.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(f"linktor.utils.{module}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return _importlib.import_module(f"linktor.utils.{name}")
    raise AttributeError(f"module 'linktor.utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
