"""Webhook receivers: a replay guard and helpers for Starlette/FastAPI and Flask.

Not part of the official SDK. Everything verifies with :func:`linktor.utils.webhook.construct_event`
(HMAC in Rust) and raises or maps the typed errors of :mod:`linktor.utils.errors`:

=====================================  ======  ===========================================
error                                  status  when
=====================================  ======  ===========================================
:class:`WebhookSignatureError`         401     signature missing or wrong, stale timestamp
:class:`WebhookPayloadError`           400     the body is not a webhook event
:class:`WebhookReplayError`            409     ``replay_guard`` accepted this signature recently
=====================================  ======  ===========================================

The ``X-Linktor-Timestamp`` header is not signed, so only a :class:`ReplayGuard` (or handlers
idempotent on ``event.id``) protects against a replayed delivery.

Deliveries verified elsewhere (stored by ``relaywire.ingest``'s receiver, which verifies every
request before storing it) become the same typed events with :func:`parse_event` (a raw body)
or :func:`delivery_event` (a stored delivery), on the same native path as
:func:`construct_event`, without verifying them again. ``relaywire.ingest.read`` takes it as
the decoder of a Linktor source::

    deliveries = relaywire.ingest.read(
        "sqlite:///events.db", after=cursor, events={"linktor": delivery_event}
    )
    for delivery in deliveries:
        delivery.event                            # a WebhookEvent, as construct_event gives

Starlette and Flask are imported only when a helper for them is called.

FastAPI::

    guard = ReplayGuard()
    verified_event = webhook_event_dependency(SECRET, replay_guard=guard)

    @app.post("/webhooks/linktor")
    async def receive(event: WebhookEvent = Depends(verified_event)):
        ...

Starlette::

    Route("/webhooks/linktor", starlette_webhook_endpoint(SECRET, {"message.received": on_msg}),
          methods=["POST"])

Flask::

    @app.post("/webhooks/linktor")
    @flask_webhook(SECRET)
    def receive(event):
        ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from linktor.utils.errors import (
    WebhookError,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookSignatureError,
)
from linktor.utils.webhook import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    _parse_event,
    compute_signature,
    construct_event,
    create_webhook_handler,
    is_event_type,
    verify_webhook,
    verify_webhook_signature,
)

if TYPE_CHECKING:
    from linktor.types.webhook import WebhookEvent

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ReplayGuard",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookReplayError",
    "WebhookSignatureError",
    "compute_signature",
    "construct_event",
    "create_webhook_handler",
    "delivery_event",
    "flask_webhook",
    "is_event_type",
    "parse_event",
    "starlette_webhook_endpoint",
    "verify_flask_request",
    "verify_starlette_request",
    "verify_webhook",
    "verify_webhook_signature",
    "webhook_event_dependency",
]

F = TypeVar("F", bound=Callable[..., Any])


def parse_event(body: bytes | bytearray | memoryview | str) -> WebhookEvent[Any]:
    """The event of a delivery whose signature was verified already (by ``relaywire.ingest``,
    say): what :func:`construct_event` returns for it, without verifying it again.

    Raises :class:`WebhookPayloadError` for a body that is not a webhook event, as
    :func:`construct_event` does; the raw body (never decoded) is what must be passed.
    """
    return _parse_event(body)


def delivery_event(delivery: Any) -> WebhookEvent[Any]:
    """The event of a stored delivery: anything with the raw request ``body`` (such as
    ``relaywire.ingest.Delivery``), verified when it was received. See :func:`parse_event`."""
    body = getattr(delivery, "body", None)
    if not isinstance(body, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"a delivery has a raw bytes body, not {type(body).__name__}")
    return _parse_event(body)


def _error_body(exc: WebhookError) -> dict[str, str]:
    return {"error": exc.message, "code": exc.code}


# ------------------------------------------------------------------ Starlette / FastAPI


async def verify_starlette_request(
    request: Any,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    replay_guard: ReplayGuard | None = None,
) -> WebhookEvent[Any]:
    """Verify a Starlette/FastAPI ``Request`` (its raw body and headers) and parse the event.

    Raises a :class:`~linktor.utils.errors.WebhookError` subclass; its ``status_code`` is the
    status to answer with.
    """
    body = await request.body()
    return construct_event(body, request.headers, secret, tolerance, replay_guard=replay_guard)


def webhook_event_dependency(
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    replay_guard: ReplayGuard | None = None,
) -> Callable[..., Any]:
    """A FastAPI dependency giving the verified event: ``Depends(webhook_event_dependency(s))``.

    A request that does not verify is answered by an ``HTTPException`` with the error's status
    (401, 400 or 409) and its message as ``detail``.
    """
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    async def verified_event(request: Request) -> Any:
        try:
            return await verify_starlette_request(
                request, secret, tolerance, replay_guard=replay_guard
            )
        except WebhookError as exc:
            raise HTTPException(exc.status_code or 400, detail=exc.message) from None

    # FastAPI reads the parameter's class from the annotations to inject the request.
    verified_event.__annotations__ = {"request": Request, "return": Any}
    return verified_event


def starlette_webhook_endpoint(
    secret: str,
    handlers: Mapping[Any, Callable[[WebhookEvent[Any]], Any]],
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    replay_guard: ReplayGuard | None = None,
) -> Callable[[Any], Any]:
    """A Starlette endpoint (``Route(path, endpoint, methods=["POST"])``) that verifies each
    request, calls ``handlers[event.type]`` (a function or a coroutine function) and answers
    ``{"received": true}``; a request that does not verify gets ``{"error", "code"}`` with
    401, 400 or 409. A handler's exception propagates (a 500 from the server); with a replay
    guard, that delivery is forgotten first so its retry is processed.
    """
    from starlette.responses import JSONResponse

    async def endpoint(request: Any) -> Any:
        try:
            body = await request.body()
            event = construct_event(
                body, request.headers, secret, tolerance, replay_guard=replay_guard
            )
        except WebhookError as exc:
            return JSONResponse(_error_body(exc), status_code=exc.status_code or 400)
        handler = handlers.get(event.type)
        if handler is not None:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except BaseException:
                if replay_guard is not None:
                    replay_guard.forget(compute_signature(body, secret))
                raise
        return JSONResponse({"received": True})

    return endpoint


# ------------------------------------------------------------------ Flask


def verify_flask_request(
    request: Any = None,
    secret: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    replay_guard: ReplayGuard | None = None,
) -> WebhookEvent[Any]:
    """Verify a Flask/Werkzeug request (``flask.request`` when ``request`` is None) and parse the
    event. Raises a :class:`~linktor.utils.errors.WebhookError` subclass."""
    if secret is None:
        raise TypeError("verify_flask_request() needs the webhook secret (secret=...)")
    if request is None:
        from flask import request as current_request

        request = current_request
    body = request.get_data(cache=True)
    return construct_event(body, request.headers, secret, tolerance, replay_guard=replay_guard)


def flask_webhook(
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    replay_guard: ReplayGuard | None = None,
) -> Callable[[F], F]:
    """Decorate a Flask view to receive the verified event as its first argument.

    A request that does not verify is answered with ``{"error", "code"}`` and 401, 400 or 409
    without calling the view. A view returning ``None`` answers ``{"received": true}``. If the
    view raises, the delivery is forgotten by the replay guard first, so its retry is processed.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask import request

            try:
                event = verify_flask_request(request, secret, tolerance, replay_guard=replay_guard)
            except WebhookError as exc:
                return _error_body(exc), exc.status_code or 400
            try:
                result = view(event, *args, **kwargs)
            except BaseException:
                if replay_guard is not None:
                    replay_guard.forget(compute_signature(request.get_data(cache=True), secret))
                raise
            return {"received": True} if result is None else result

        return wrapper  # type: ignore[return-value]

    return decorate
