"""Outgoing Linktor webhooks: registration routes and a signing, retrying sender.

The real server has no sender (spec/linktor.md §3.10); this one follows the scheme all official
SDKs verify. Each event is POSTed as the JSON ``{"id": "evt_…", "type", "timestamp",
"tenantId", "data"}`` (``data`` as the SDK's webhook data models, §1.5), with

* ``X-Linktor-Signature``: lowercase hex HMAC-SHA256 of exactly the body bytes, keyed by the
  webhook's secret (:func:`relaywire.webhooks.linktor_signature`);
* ``X-Linktor-Timestamp``: Unix seconds of the attempt (not signed, as in the SDKs);
* ``X-Linktor-Event`` and ``X-Linktor-Delivery-Id``, and the webhook's own ``headers``.

A 2xx answer is a success; anything else (or no answer within ``webhook_timeout``) is retried
after each of ``webhook_retry_delays`` in turn. A webhook's ``retryPolicy.maxRetries`` caps the
retries (the last configured delay repeats when it asks for more); ``retryInterval`` (a whole
number of seconds, as the platform renders it; by default the first configured delay rounded up)
and ``exponentialBackoff`` are stored and shown but the configured delays decide the timing, so
tests stay fast. Deliveries of one webhook go out one at a time in event order; they never hold
up the request that caused the event.

Routes (both mounts; ``/linktor/api/v1/webhooks`` answers in the server's envelope and
snake_case, ``/linktor/webhooks`` bare and camelCase as the SDK models):

* ``POST /webhooks`` ``{url, events, headers?, retryPolicy?, secret?}`` -> 201 the config,
  with its ``secret`` (generated unless given); ``events`` lists SDK event types or ``"*"``;
* ``GET /webhooks`` (paginated), ``GET /webhooks/{id}``, ``PATCH`` or ``PUT /webhooks/{id}``
  ``{url?, events?, status?, headers?, retryPolicy?}``, ``DELETE /webhooks/{id}`` -> 204;
* ``GET /webhooks/{id}/deliveries``: that webhook's deliveries, newest last.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from relaywire.emulator._http import ApiError, new_id, now_iso, read_json_object
from relaywire.emulator.linktor.dialect import (
    Dialect,
    Principal,
    authenticate,
    created,
    ok,
    page,
    paginate,
)
from relaywire.emulator.linktor.store import LinktorStore, Record, StoreEvent
from relaywire.emulator.linktor.wire import (
    camelize_keys,
    ms,
    sdk_channel,
    sdk_contact,
    sdk_conversation,
    sdk_message,
)
from relaywire.webhooks import linktor_signature

if TYPE_CHECKING:
    from relaywire.emulator._context import EmulatorContext

__all__ = ["EVENT_TYPES", "WebhookSender", "routes"]

_log = logging.getLogger("relaywire.emulator.linktor")

EVENT_TYPES = (
    "message.received",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.failed",
    "conversation.created",
    "conversation.updated",
    "conversation.assigned",
    "conversation.resolved",
    "contact.created",
    "contact.updated",
    "channel.connected",
    "channel.disconnected",
    "channel.error",
)

# Bounds the memory a dead receiver can pin: further events for it are logged as failed.
MAX_PENDING_PER_WEBHOOK = 10_000
# As the real server's dormant producer does.
MAX_RESPONSE_BODY = 4096

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "x-linktor-signature",
        "x-linktor-timestamp",
        "x-linktor-event",
        "x-linktor-delivery-id",
    }
)


@dataclass(frozen=True)
class _Job:
    delivery: Record
    body: bytes


class WebhookSender:
    """Registered webhooks, their delivery queues and the delivery log."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.webhooks: dict[str, Record] = {}
        self._deliveries: list[Record] = []
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._workers: dict[str, asyncio.Task[Any]] = {}
        self._client: httpx.AsyncClient | None = None
        ctx.linktor.subscribe(self._on_store_event)
        ctx.on_shutdown.append(self.aclose)

    @property
    def store(self) -> LinktorStore:
        return self.ctx.linktor

    def delivery_log(self, webhook_id: str | None = None) -> list[dict[str, Any]]:
        """Copies of the delivery records (snake_case), oldest first, optionally of one webhook.

        Each has ``id, webhook_id, url, event_id, event_type, status`` (``pending``, ``success``
        or ``failed``), ``attempts, last_attempt_at, response_status, response_body, error,
        created_at`` and ``attempt_log``: one ``{attempt, at, response_status, error}`` per try.
        """
        return [
            copy.deepcopy(d)
            for d in self._deliveries
            if webhook_id is None or d["webhook_id"] == webhook_id
        ]

    async def aclose(self) -> None:
        """Close the shared HTTP client (run at emulator shutdown)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- registration -----------------------------------------------------------------------------

    def create(self, tenant_id: str, body: dict[str, Any]) -> Record:
        """Register a webhook from a validated create body."""
        now = now_iso()
        secret = body.get("secret")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise ApiError(400, "VALIDATION_ERROR", "secret must be a non-empty string")
        webhook: Record = {
            "id": new_id("wh"),
            "tenant_id": tenant_id,
            "url": _valid_url(body.get("url")),
            "secret": secret or f"whsec_{secrets.token_hex(24)}",
            "events": _valid_events(body.get("events")),
            "status": "active",
            "headers": _valid_headers(body.get("headers")),
            "retry_policy": self._retry_policy(_field(body, "retry_policy", "retryPolicy")),
            "created_at": now,
            "updated_at": now,
        }
        self.webhooks[webhook["id"]] = webhook
        return webhook

    def update(self, webhook: Record, body: dict[str, Any]) -> Record:
        """Apply a validated update body to ``webhook``."""
        changes: Record = {}
        if "url" in body:
            changes["url"] = _valid_url(body["url"])
        if "events" in body:
            changes["events"] = _valid_events(body["events"])
        if "headers" in body:
            changes["headers"] = _valid_headers(body["headers"])
        if "status" in body:
            if body["status"] not in ("active", "inactive"):
                raise ApiError(400, "VALIDATION_ERROR", "status must be 'active' or 'inactive'")
            changes["status"] = body["status"]
        policy = _field(body, "retry_policy", "retryPolicy")
        if policy is not None:
            changes["retry_policy"] = self._retry_policy(policy)
        webhook.update(changes)
        webhook["updated_at"] = now_iso()
        return webhook

    def delete(self, webhook_id: str) -> None:
        """Forget a webhook; its undelivered events are logged as failed."""
        self.webhooks.pop(webhook_id, None)
        self._queues.pop(webhook_id, None)
        worker = self._workers.pop(webhook_id, None)
        if worker is not None:
            worker.cancel()
        for delivery in self._deliveries:
            if delivery["webhook_id"] == webhook_id and delivery["status"] == "pending":
                delivery["status"] = "failed"
                delivery["error"] = "webhook deleted"

    def _retry_policy(self, given: Any) -> Record:
        delays = self.ctx.config.webhook_retry_delays
        policy: Record = {
            "max_retries": len(delays),
            # The platform's retryInterval is a whole number of seconds (the SDK models it as
            # an int): the first delay, rounded up, so a 0.1 s test delay reads as 1.
            "retry_interval": math.ceil(delays[0]) if delays else 0,
            "exponential_backoff": len(delays) > 1 and delays[1] > delays[0],
        }
        if given is None:
            return policy
        if not isinstance(given, dict):
            raise ApiError(400, "VALIDATION_ERROR", "retryPolicy must be an object")
        max_retries = _field(given, "max_retries", "maxRetries")
        interval = _field(given, "retry_interval", "retryInterval")
        backoff = _field(given, "exponential_backoff", "exponentialBackoff")
        if max_retries is not None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int):
                raise ApiError(400, "VALIDATION_ERROR", "maxRetries must be an integer")
            if not 0 <= max_retries <= 20:
                raise ApiError(400, "VALIDATION_ERROR", "maxRetries must be in 0..20")
            policy["max_retries"] = max_retries
        if interval is not None:
            if (
                isinstance(interval, bool)
                or not isinstance(interval, (int, float))
                or not (interval >= 0 and float(interval).is_integer())
            ):
                raise ApiError(
                    400, "VALIDATION_ERROR", "retryInterval must be a whole number of seconds >= 0"
                )
            policy["retry_interval"] = int(interval)
        if backoff is not None:
            if not isinstance(backoff, bool):
                raise ApiError(400, "VALIDATION_ERROR", "exponentialBackoff must be a boolean")
            policy["exponential_backoff"] = backoff
        return policy

    # -- events -----------------------------------------------------------------------------------

    def _on_store_event(self, event: StoreEvent) -> None:
        targets = [
            w
            for w in self.webhooks.values()
            if w["tenant_id"] == event.tenant_id
            and w["status"] == "active"
            and (event.type in w["events"] or "*" in w["events"])
        ]
        if not targets:
            return
        event_id = new_id("evt")
        body = orjson.dumps(
            {
                "id": event_id,
                "type": event.type,
                "timestamp": now_iso(),
                "tenantId": event.tenant_id,
                "data": _event_data(event, self.store),
            }
        )
        for webhook in targets:
            self._enqueue(webhook, event_id, event.type, body)

    def _enqueue(self, webhook: Record, event_id: str, event_type: str, body: bytes) -> None:
        delivery: Record = {
            "id": new_id("dlv"),
            "webhook_id": webhook["id"],
            "url": webhook["url"],
            "event_id": event_id,
            "event_type": event_type,
            "status": "pending",
            "attempts": 0,
            "last_attempt_at": None,
            "response_status": None,
            "response_body": None,
            "error": None,
            "created_at": now_iso(),
            "attempt_log": [],
        }
        self._deliveries.append(delivery)
        queue = self._queues.get(webhook["id"])
        if queue is None:
            queue = self._queues[webhook["id"]] = asyncio.Queue(MAX_PENDING_PER_WEBHOOK)
            self._workers[webhook["id"]] = self.ctx.spawn(
                self._work(webhook["id"], queue), name=f"linktor-webhook-{webhook['id']}"
            )
        try:
            queue.put_nowait(_Job(delivery, body))
        except asyncio.QueueFull:
            delivery["status"] = "failed"
            delivery["error"] = "delivery queue full: the receiver is not keeping up"

    async def _work(self, webhook_id: str, queue: asyncio.Queue[_Job]) -> None:
        while True:
            job = await queue.get()
            webhook = self.webhooks.get(webhook_id)
            if webhook is None:
                return
            try:
                await self._deliver(webhook, job)
            except Exception as exc:  # a bug here must not stop this webhook's later deliveries
                _log.exception("webhook delivery %s failed", job.delivery["id"])
                job.delivery["status"] = "failed"
                job.delivery["error"] = f"emulator error: {exc!r}"

    async def _deliver(self, webhook: Record, job: _Job) -> None:
        delivery = job.delivery
        delays = self.ctx.config.webhook_retry_delays
        retries = int(webhook["retry_policy"]["max_retries"])
        signature = linktor_signature(job.body, webhook["secret"])
        for attempt in range(retries + 1):
            if attempt:
                await asyncio.sleep(delays[min(attempt - 1, len(delays) - 1)] if delays else 0)
            headers = {
                **webhook["headers"],
                "Content-Type": "application/json",
                "User-Agent": "relaywire-emulator",
                "X-Linktor-Signature": signature,
                "X-Linktor-Timestamp": str(int(time.time())),
                "X-Linktor-Event": delivery["event_type"],
                "X-Linktor-Delivery-Id": delivery["id"],
            }
            status, response_body, error = await self._post(webhook["url"], job.body, headers)
            at = now_iso()
            delivery["attempts"] = attempt + 1
            delivery["last_attempt_at"] = at
            delivery["response_status"] = status
            delivery["response_body"] = response_body
            delivery["error"] = error
            delivery["attempt_log"].append(
                {"attempt": attempt + 1, "at": at, "response_status": status, "error": error}
            )
            if error is None:
                delivery["status"] = "success"
                return
        delivery["status"] = "failed"

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None, str | None]:
        """One attempt: ``(status, response body, error)``; ``error`` is ``None`` on a 2xx."""
        if self._client is None:
            # trust_env=False: a proxy from the environment must not intercept loopback receivers.
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self.ctx.config.webhook_timeout
            )
        except httpx.HTTPError as exc:
            return None, None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        text = response.text[:MAX_RESPONSE_BODY]
        if 200 <= response.status_code < 300:
            return response.status_code, text, None
        return response.status_code, text, f"receiver answered HTTP {response.status_code}"


# -- event data (the SDK's webhook data models) --------------------------------------------------


def _event_data(event: StoreEvent, store: LinktorStore) -> Record:
    record = event.record
    kind = event.type.split(".", 1)[0]
    if kind == "message":
        if event.type in ("message.received", "message.sent") and event.previous is None:
            conversation = store.conversations.get(record["conversation_id"]) or {}
            return {
                "message": sdk_message(record),
                "conversationId": record["conversation_id"],
                "contactId": conversation.get("contact_id"),
                "channelId": conversation.get("channel_id"),
                "channelType": conversation.get("channel_type"),
            }
        data: Record = {
            "messageId": record["id"],
            "conversationId": record["conversation_id"],
            "status": record["status"],
            "direction": record["direction"],
            "timestamp": ms(record["updated_at"]),
        }
        if record["status"] == "failed":
            data["error"] = record.get("failed_reason")
        return data
    if kind == "conversation":
        rendered = sdk_conversation(record, store)
        data = {
            "conversationId": record["id"],
            "contactId": record["contact_id"],
            "channelId": record["channel_id"],
            "status": rendered["status"],
            "assignedTo": record.get("assigned_to"),
        }
        if event.previous is not None:
            data["previousStatus"] = sdk_conversation(event.previous, store)["status"]
            data["previousAssignedTo"] = event.previous.get("assigned_to")
        return data
    if kind == "contact":
        data = {
            "contactId": record["id"],
            "name": record.get("name") or "",
            "email": record.get("email"),
            "phone": record.get("phone"),
        }
        if event.previous is not None:
            data["previousData"] = sdk_contact(event.previous, store)
        return data
    if kind == "channel":
        data = {
            "channelId": record["id"],
            "channelType": record["type"],
            "status": sdk_channel(record)["status"],
        }
        if record.get("error"):
            data["error"] = record["error"]
        return data
    rendered_record: Record = camelize_keys(record)
    return rendered_record


# -- validation ------------------------------------------------------------------------------------


def _field(body: dict[str, Any], snake: str, camel_name: str) -> Any:
    return body[snake] if snake in body else body.get(camel_name)


def _valid_url(url: Any) -> str:
    if not isinstance(url, str):
        raise ApiError(400, "VALIDATION_ERROR", "url is required and must be a string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "VALIDATION_ERROR", "url must be an absolute http(s) URL", {"url": url})
    return url


def _valid_events(events: Any) -> list[str]:
    allowed = ", ".join(EVENT_TYPES)
    if not isinstance(events, list) or not events:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f'events must be a non-empty list of event types or "*"; allowed: {allowed}',
            {"allowed": allowed},
        )
    unknown = [e for e in events if not isinstance(e, str) or (e != "*" and e not in EVENT_TYPES)]
    if unknown:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f'unknown event types {unknown}; allowed: {allowed}, or "*"',
            {"unknown": ", ".join(map(str, unknown)), "allowed": allowed},
        )
    return list(dict.fromkeys(events))


def _valid_headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise ApiError(400, "VALIDATION_ERROR", "headers must be an object of strings")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED_HEADERS:
            raise ApiError(400, "VALIDATION_ERROR", f"header not allowed: {name!r}")
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            raise ApiError(400, "VALIDATION_ERROR", f"header {name!r} needs a one-line string")
    return dict(headers)


# -- routes ----------------------------------------------------------------------------------------


def render_webhook(webhook: Record, dialect: Dialect) -> Record:
    """A webhook config as the dialect shows it (SDK ``WebhookConfig`` or snake_case)."""
    shown: Record = camelize_keys(webhook) if dialect is Dialect.SDK else dict(webhook)
    return shown


def render_delivery(delivery: Record, dialect: Dialect) -> Record:
    """A delivery as the SDK's ``WebhookDelivery`` (camelCase) or snake_case."""
    shown: Record = {k: v for k, v in delivery.items() if k not in ("attempt_log", "url")}
    if dialect is Dialect.SDK:
        shown = camelize_keys(shown)
    return shown


def routes(sender: WebhookSender, dialect: Dialect) -> list[BaseRoute]:
    """Webhook management for one dialect mount."""
    ctx = sender.ctx

    def caller(request: Request) -> Principal:
        return authenticate(request, dialect, ctx.linktor, ctx.jwt)

    def owned(request: Request, principal: Principal) -> Record:
        webhook_id = request.path_params["webhook_id"]
        webhook = sender.webhooks.get(webhook_id)
        if webhook is None or webhook["tenant_id"] != principal.tenant_id:
            raise ApiError(404, "NOT_FOUND", "webhook not found", {"id": webhook_id})
        return webhook

    async def create_webhook(request: Request) -> Response:
        principal = caller(request)
        body = await read_json_object(request)
        return created(dialect, render_webhook(sender.create(principal.tenant_id, body), dialect))

    async def list_webhooks(request: Request) -> Response:
        principal = caller(request)
        mine = [
            render_webhook(w, dialect)
            for w in sender.webhooks.values()
            if w["tenant_id"] == principal.tenant_id
        ]
        return page(dialect, paginate(dialect, mine, request.query_params))

    async def get_webhook(request: Request) -> Response:
        return ok(dialect, render_webhook(owned(request, caller(request)), dialect))

    async def update_webhook(request: Request) -> Response:
        webhook = owned(request, caller(request))
        body = await read_json_object(request)
        return ok(dialect, render_webhook(sender.update(webhook, body), dialect))

    async def delete_webhook(request: Request) -> Response:
        webhook = owned(request, caller(request))
        sender.delete(webhook["id"])
        return Response(status_code=204)

    async def list_deliveries(request: Request) -> Response:
        webhook = owned(request, caller(request))
        shown = [render_delivery(d, dialect) for d in sender.delivery_log(webhook["id"])]
        return page(dialect, paginate(dialect, shown, request.query_params, default_size=100))

    return [
        Route("/webhooks", create_webhook, methods=["POST"]),
        Route("/webhooks", list_webhooks, methods=["GET"]),
        Route("/webhooks/{webhook_id}", get_webhook, methods=["GET"]),
        Route("/webhooks/{webhook_id}", update_webhook, methods=["PATCH", "PUT"]),
        Route("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"]),
        Route("/webhooks/{webhook_id}/deliveries", list_deliveries, methods=["GET"]),
    ]
