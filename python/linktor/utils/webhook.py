"""Verify and parse Linktor webhook requests.

The scheme (the one every official SDK implements): header ``X-Linktor-Signature`` is the
lowercase hex HMAC-SHA256 of the raw request body, keyed by the webhook secret (UTF-8). Header
``X-Linktor-Timestamp`` (Unix seconds) is optional; when present it must lie within
``tolerance`` seconds (default 300) of now, in either direction.

**The timestamp is not part of the signed bytes.** Anyone who captured one delivery can send it
again with a fresh timestamp and it verifies, so the timestamp check cannot stop a replay. If a
replayed delivery would do harm, pass a :class:`ReplayGuard` (``replay_guard=``), which refuses a
signature it accepted recently, and/or make your handlers idempotent on ``event.id``.

The HMAC and the constant-time comparison run in Rust (:mod:`relaywire.webhooks`);
:func:`construct_event` verifies, parses and builds the event in one native call
(``relaywire.models.WebhookEvents``), falling back to pydantic for a body it cannot promise to
build exactly as pydantic would. The answers
are those of the official functions: signatures must be exactly the 64 lowercase hex characters
(uppercase, a ``sha256=`` prefix or surrounding spaces do not verify); an empty signature or
secret never verifies. Where the official functions raised on odd input, these answer ``False``
(a non-ASCII signature) or raise a :class:`~linktor.utils.errors.WebhookError` (a body that is
not UTF-8 JSON, a JSON array), which is a ``ValueError`` like the official errors.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from linktor.utils.errors import (
    WebhookPayloadError,
    WebhookReplayError,
    WebhookSignatureError,
)
from relaywire.webhooks import linktor_signature, verify_linktor, verify_linktor_request

if TYPE_CHECKING:
    from linktor.types.webhook import WebhookEvent as WebhookEvent
    from linktor.types.webhook import WebhookEventType as WebhookEventType
    from relaywire.models import WebhookEvents

    WebhookHandler: TypeAlias = Callable[[WebhookEvent[Any]], None]

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "compute_signature",
    "construct_event",
    "create_webhook_handler",
    "is_event_type",
    "verify_webhook",
    "verify_webhook_signature",
]

#: The signature header, lowercase (names match in any case).
SIGNATURE_HEADER = "x-linktor-signature"
#: The optional timestamp header (Unix seconds), lowercase. Not covered by the signature.
TIMESTAMP_HEADER = "x-linktor-timestamp"
#: Seconds a timestamp may differ from now, either way.
DEFAULT_TOLERANCE = 300

#: A request body: the raw bytes as received (``str`` is encoded as UTF-8).
Payload: TypeAlias = str | bytes | bytearray | memoryview
#: Request headers: any mapping (dict, httpx, Starlette, Werkzeug, Django) or ``(name, value)``
#: pairs (ASGI raw headers); names match in any case. A ``str``/``bytes`` is taken as the
#: signature itself, as in the Go SDK's ``VerifyWebhook(payload, signature, secret)``.
Headers: TypeAlias = Mapping[Any, Any] | Iterable[tuple[Any, Any]] | str | bytes
#: A handler of one event type.
Handler: TypeAlias = "Callable[[WebhookEvent[Any]], Any]"


# The two official one-liners are the Rust functions themselves (same parameters, same answers):
# a Python wrapper would add ~10% to a 1 KiB verification.

#: ``compute_signature(payload, secret) -> str``: the lowercase hex HMAC-SHA256 of ``payload``
#: (``str`` is encoded as UTF-8) keyed by ``secret`` (UTF-8). Use it to sign test deliveries for
#: your own receiver.
compute_signature = linktor_signature

#: ``verify_webhook_signature(payload, signature, secret) -> bool``: whether ``signature`` is the
#: signature of ``payload`` under ``secret``, compared in constant time. ``False`` for an empty
#: signature or secret, any other spelling of the digest (uppercase, ``sha256=`` prefix,
#: whitespace) and non-ASCII input (where the official function raised ``TypeError``).
verify_webhook_signature = verify_linktor


def verify_webhook(
    payload: str | bytes,
    headers: Headers,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    replay_guard: ReplayGuard | None = None,
) -> bool:
    """Whether a request verifies: its signature header matches the body and, when it has a
    timestamp header, the timestamp is an integer within ``tolerance`` seconds of now.

    A missing signature header, a timestamp that is not an integer (``"1700000000.5"``) or
    milliseconds answer ``False``. The timestamp is not signed, so this cannot detect a replay;
    with ``replay_guard``, a signature that the guard accepted recently answers ``False`` too
    (and a verified one is remembered).
    """
    if isinstance(headers, (str, bytes)):
        ok = verify_linktor(payload, headers, secret)  # the Go SDK's (payload, signature, secret)
    else:
        ok = verify_linktor_request(payload, headers, secret, tolerance)
    if not ok or replay_guard is None:
        return ok
    return replay_guard.remember(linktor_signature(payload, secret))


def construct_event(
    payload: str | bytes,
    headers: Headers | None = None,
    secret: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    signature: str | bytes | None = None,
    timestamp: str | bytes | int | float | datetime | None = None,
    replay_guard: ReplayGuard | None = None,
) -> WebhookEvent[Any]:
    """Verify a request and parse its body into a :class:`~linktor.types.webhook.WebhookEvent`.

    Called as officially, ``construct_event(payload, headers, secret, tolerance=300)``, or in
    the documented keyword form ``construct_event(payload, signature=..., timestamp=...,
    secret=...)`` (``timestamp`` optional).

    Raises (each a :class:`~linktor.utils.errors.WebhookError`, hence a ``ValueError`` as the
    official errors were): :class:`~linktor.utils.errors.WebhookSignatureError` ("Webhook
    signature verification failed") when verification fails,
    :class:`~linktor.utils.errors.WebhookPayloadError` ("Invalid JSON payload: ...", "Invalid
    webhook event structure") when the body is not an event with a truthy ``id``, ``type`` and
    ``timestamp`` (and, for the known event types, a ``tenantId`` and ``data``), and
    :class:`~linktor.utils.errors.WebhookReplayError` when ``replay_guard`` saw the signature
    recently. The guard remembers a signature only once the event is parsed.

    An event whose ``type`` this version does not know is returned as an
    :class:`~linktor.types.webhook.UnknownWebhookEvent` (``type`` the plain string, ``data`` the
    raw value) instead of failing.
    """
    if secret is None:
        raise TypeError("construct_event() needs the webhook secret (secret=...)")
    if signature is None and timestamp is None and headers is not None:
        request_headers: Headers = headers  # the official call: no need to build headers
    else:
        request_headers = _request_headers(headers, signature, timestamp)
    if isinstance(request_headers, (str, bytes)):
        ok = verify_linktor(payload, request_headers, secret)
    else:
        reader = _reader()
        if reader is not None:
            # One native call: verify, parse and build, and have the guard remember it.
            outcome = reader.construct(payload, request_headers, secret, tolerance, replay_guard)
            if type(outcome) is not int:
                return outcome  # type: ignore[no-any-return]
            if outcome == _REPLAYED:
                raise WebhookReplayError()
            if outcome == _DECLINED:  # verified; the Python path parses it
                return _guarded(_python_event(payload), payload, secret, replay_guard)
            raise WebhookSignatureError(reason=_failure_reason(payload, request_headers, secret))
        ok = verify_linktor_request(payload, request_headers, secret, tolerance)
    if not ok:
        raise WebhookSignatureError(reason=_failure_reason(payload, request_headers, secret))
    return _guarded(_parse_event(payload), payload, secret, replay_guard)


def _guarded(
    event: WebhookEvent[Any], payload: Payload, secret: str, replay_guard: ReplayGuard | None
) -> WebhookEvent[Any]:
    """``event``, once the guard (if any) remembered the delivery's signature."""
    if replay_guard is not None and not replay_guard.remember(linktor_signature(payload, secret)):
        raise WebhookReplayError()
    return event


def is_event_type(event: WebhookEvent[Any] | Mapping[str, Any], event_type: str) -> bool:
    """Whether ``event`` is of ``event_type`` (a :class:`WebhookEventType` or its string)."""
    if isinstance(event, Mapping):
        return bool(event.get("type") == event_type)
    return bool(event.type == event_type)


def create_webhook_handler(
    secret: str,
    handlers: Mapping[Any, Handler],
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    replay_guard: ReplayGuard | None = None,
) -> Callable[[str | bytes, Headers], tuple[int, str | None]]:
    """A framework-neutral handler: ``handle(payload, headers) -> (status, body)``.

    It verifies and parses the request, calls ``handlers[event.type]`` if there is one (keys
    are event types or their strings; unknown types are dispatched by their string) and answers
    ``(200, None)``; ``(400, message)`` when a ``ValueError`` is raised (including every
    verification error, as officially), ``(500, message)`` for any other exception. With
    ``replay_guard``, a delivery whose handler raised is forgotten, so its retry is processed.
    """

    def handle(payload: str | bytes, headers: Headers) -> tuple[int, str | None]:
        try:
            event = construct_event(payload, headers, secret, tolerance, replay_guard=replay_guard)
        except ValueError as exc:  # every WebhookError is one
            return 400, str(exc)
        except Exception as exc:
            return 500, str(exc)
        try:
            handler = handlers.get(event.type)
            if handler is not None:
                handler(event)
        except Exception as exc:
            if replay_guard is not None:
                replay_guard.forget(linktor_signature(payload, secret))
            return (400 if isinstance(exc, ValueError) else 500), str(exc)
        return 200, None

    return handle


class ReplayGuard:
    """Refuses a webhook signature that was already accepted within the last ``window`` seconds.

    The Linktor timestamp header is not signed, so it cannot stop a replay; this guard can, for
    as long as it remembers. A signature is remembered from the moment a request carrying it is
    accepted, for ``window`` seconds. The default, twice the default tolerance (600 s), covers
    every replay of an unmodified request (its timestamp stops verifying by then); a replay
    with a forged fresh timestamp after the window cannot be told from a new delivery, so make
    handlers idempotent on ``event.id`` if that matters.

    Memory is bounded: at most ``max_entries`` signatures are kept (about 20 MB at the default
    100,000); beyond that the oldest are forgotten first. Safe to share between threads and
    tasks; it is per process (use a shared store for several workers). Only verified requests
    are recorded, so forged requests cannot fill it.
    """

    def __init__(
        self,
        window: float = 2 * DEFAULT_TOLERANCE,
        max_entries: int = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not window > 0:
            raise ValueError("window must be a positive number of seconds")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.window = float(window)
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, signature: str) -> bool:
        """Record ``signature``; ``False`` if it was already recorded within the window."""
        now = self._clock()
        with self._lock:
            self._purge(now)
            if signature in self._expiry:
                return False
            self._expiry[signature] = now + self.window
            if len(self._expiry) > self.max_entries:
                self._expiry.popitem(last=False)
            return True

    def seen(self, signature: str) -> bool:
        """Whether ``signature`` was recorded within the window (without recording it)."""
        now = self._clock()
        with self._lock:
            self._purge(now)
            return signature in self._expiry

    def forget(self, signature: str) -> None:
        """Drop ``signature`` (e.g. when processing its delivery failed, so a retry is taken)."""
        with self._lock:
            self._expiry.pop(signature, None)

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._expiry)

    def __contains__(self, signature: object) -> bool:
        return isinstance(signature, str) and self.seen(signature)

    def __repr__(self) -> str:
        return f"ReplayGuard(window={self.window:g}, max_entries={self.max_entries})"

    def _purge(self, now: float) -> None:
        # Entries are inserted in expiry order (one window, a monotonic clock): drop from the front.
        expiry = self._expiry
        while expiry:
            oldest = next(iter(expiry.values()))
            if oldest > now:
                break
            expiry.popitem(last=False)


# ------------------------------------------------------------------ internals


def _timestamp_text(timestamp: str | bytes | int | float | datetime) -> str | bytes:
    if isinstance(timestamp, datetime):
        return str(int(timestamp.timestamp()))
    if isinstance(timestamp, bool):
        raise TypeError("timestamp must be Unix seconds (str, int or datetime), not bool")
    if isinstance(timestamp, int):
        return str(timestamp)
    if isinstance(timestamp, float):
        return str(int(timestamp)) if timestamp.is_integer() else repr(timestamp)
    if isinstance(timestamp, (str, bytes)):
        return timestamp
    raise TypeError(
        f"timestamp must be Unix seconds (str, int or datetime), not {type(timestamp).__name__}"
    )


def _request_headers(
    headers: Headers | None,
    signature: str | bytes | None,
    timestamp: str | bytes | int | float | datetime | None,
) -> Headers:
    """The headers to verify: ``headers`` as given, or built from ``signature=``/``timestamp=``."""
    if signature is None and timestamp is None:
        if headers is None:
            raise TypeError("pass the request headers, or signature= (and timestamp=)")
        return headers
    if headers is not None:
        raise TypeError("pass either headers or signature=/timestamp=, not both")
    built: dict[str, str | bytes] = {}
    if signature is not None:
        built[SIGNATURE_HEADER] = signature
    if timestamp is not None:
        built[TIMESTAMP_HEADER] = _timestamp_text(timestamp)
    return built


def _find_header(headers: Any, name: str) -> Any:
    """The first value of header ``name`` (lowercase), matched in any case; None if absent."""
    try:
        getter = getattr(headers, "get", None)
        if getter is not None:
            value = getter(name)
            if value is not None:
                return value
        pairs = headers.items() if hasattr(headers, "items") else headers
        for key, value in pairs:
            if isinstance(key, bytes):
                key = key.decode("latin-1")
            if isinstance(key, str) and key.lower() == name:
                return value
    except Exception:  # not headers at all: verification has already said no
        return None
    return None


def _failure_reason(payload: Payload, headers: Headers, secret: str) -> str:
    """Why verification failed (only computed once it has): for the error's ``details``."""
    signature = (
        headers if isinstance(headers, (str, bytes)) else _find_header(headers, SIGNATURE_HEADER)
    )
    if not signature:
        return "missing_signature"
    try:
        if verify_linktor(payload, signature, secret):
            return "invalid_timestamp"
    except TypeError:
        pass
    return "invalid_signature"


_known_event_types: frozenset[str] | None = None
# What WebhookEvents.construct answers instead of an event.
_NOT_VERIFIED, _DECLINED, _REPLAYED = 0, 1, 2


@functools.cache
def _reader() -> WebhookEvents | None:
    """The native reader of deliveries, or ``None`` when the models have no plans."""
    from linktor.types.webhook import UnknownWebhookEvent, WebhookEvent, WebhookEventType
    from relaywire.models import WebhookEvents, plan_for

    known, unknown = plan_for(WebhookEvent), plan_for(UnknownWebhookEvent)
    if known is None or unknown is None:
        return None
    return WebhookEvents(known, unknown, [member.value for member in WebhookEventType])


def _parse_event(payload: Payload) -> WebhookEvent[Any]:
    """A (verified) body's event: built by the Rust core where it is exactly what the Python
    path gives, else by the Python path, whose errors are raised."""
    if type(payload) is bytes:
        reader = _reader()
        if reader is not None:
            event = reader.parse(payload)
            if event is not None:
                return event  # type: ignore[no-any-return]
    return _python_event(payload)


def _python_event(payload: Payload) -> WebhookEvent[Any]:
    """The Python path of :func:`_parse_event` (the reference the native one is tested on)."""
    from pydantic import ValidationError as PydanticValidationError
    from pydantic_core import from_json

    from linktor.types.webhook import UnknownWebhookEvent, WebhookEvent, WebhookEventType

    global _known_event_types
    if _known_event_types is None:
        _known_event_types = frozenset(member.value for member in WebhookEventType)
    try:
        data = from_json(
            payload if isinstance(payload, (str, bytes, bytearray)) else bytes(payload)
        )
    except ValueError as exc:
        raise WebhookPayloadError(f"Invalid JSON payload: {exc}") from None
    if not isinstance(data, dict) or not (
        data.get("id") and data.get("type") and data.get("timestamp")
    ):
        raise WebhookPayloadError("Invalid webhook event structure")
    event_type = data["type"]
    model = WebhookEvent if event_type in _known_event_types else UnknownWebhookEvent
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False)
        ]
        fields = ", ".join(".".join(map(str, p["loc"])) or "(root)" for p in problems)
        raise WebhookPayloadError(
            f"Invalid webhook event structure: {fields}", {"errors": problems}
        ) from None


# The official module held these by import or assignment (``from linktor.utils.webhook import
# WebhookEvent``); they load pydantic, so they are served on first use.
_LAZY_NAMES = frozenset({"WebhookEvent", "WebhookEventType", "WebhookHandler"})


def __getattr__(name: str) -> Any:
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from linktor.types import webhook as types_webhook

    value: Any
    if name == "WebhookHandler":
        # A handler of one event, as officially typed (its return value is ignored).
        value = Callable[[types_webhook.WebhookEvent[Any]], None]
    else:
        value = getattr(types_webhook, name)
    globals()[name] = value
    return value
