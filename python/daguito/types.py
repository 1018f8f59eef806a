"""Messages, stream events and tool progress (daguito-sdk 0.4.5 ``daguito.types``, plus the Go
documentation's additions: ``ToolProgressResult``, ``ToolProgressItem``, ``ToolSpec``,
``MediaKind`` and ``EventType``).

Event payloads are plain mutable dataclasses with the official field order, so ``asdict``,
``replace``, ``vars`` and equality behave as before. The stream session builds them in Rust
(``relaywire._native``), straight from the frame bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from relaywire.redaction import masked_repr

__all__ = [
    "ClosedEvent",
    "ErrorEvent",
    "EventType",
    "FlowCompletedEvent",
    "FlowFailedEvent",
    "MediaKind",
    "NodeCompletedEvent",
    "NodeEmitEvent",
    "NodeFailedEvent",
    "NodeLifecycle",
    "NodeStartedEvent",
    "NodeTokenEvent",
    "ReadyEvent",
    "StreamEvent",
    "ToolProgressEvent",
    "ToolProgressItem",
    "ToolProgressResource",
    "ToolProgressResult",
    "ToolSpec",
    "UnknownFrameEvent",
    "WebhookStreamOptions",
    "form_response_message",
    "image_multi_message",
    "image_url_message",
    "media_key_message",
    "parse_tool_progress",
    "text_message",
]

StreamEvent = Literal[
    "ready",
    "closed",
    "error",
    "node.started",
    "node.token",
    "node.completed",
    "node.failed",
    "node.emit",
    "flow.completed",
    "flow.failed",
]
NodeLifecycle = Literal["started", "completed", "failed"]


class EventType:
    """The event names that ``session.on()`` and ``session.events()`` use (Go's ``Event*``)."""

    READY: Final = "ready"
    CLOSED: Final = "closed"
    ERROR: Final = "error"
    NODE_STARTED: Final = "node.started"
    NODE_TOKEN: Final = "node.token"
    NODE_COMPLETED: Final = "node.completed"
    NODE_FAILED: Final = "node.failed"
    NODE_EMIT: Final = "node.emit"
    FLOW_COMPLETED: Final = "flow.completed"
    FLOW_FAILED: Final = "flow.failed"
    #: A frame whose ``type`` this SDK does not know (relaywire addition; never dropped).
    UNKNOWN: Final = "unknown"

    ALL: Final = frozenset(
        {
            "ready",
            "closed",
            "error",
            "node.started",
            "node.token",
            "node.completed",
            "node.failed",
            "node.emit",
            "flow.completed",
            "flow.failed",
            "unknown",
        }
    )


class MediaKind:
    """Kinds of uploaded media (Go's ``MediaKind*``); the values of ``UploadKind``."""

    IMAGE: Final = "image"
    AUDIO: Final = "audio"
    DOCUMENT: Final = "document"
    VIDEO: Final = "video"

    ALL: Final = frozenset({"image", "audio", "document", "video"})


@masked_repr("token")
@dataclass
class WebhookStreamOptions:
    """Options of a :class:`~daguito.webhook_stream_session.WebhookStreamSession`.

    The first seven fields are daguito-sdk's. The rest are relaywire additions:

    * ``max_message_size``: largest inbound message in bytes (daguito-sdk: 1 MiB, which killed
      sessions with a large ``flow.completed``); a larger one closes the session with 1009.
    * ``open_timeout``: seconds for the TCP + WebSocket handshake and for ``session.started``.
    * ``max_queue``: events an ``events()`` iterator may hold before the session stops reading
      from the socket (TCP backpressure; nothing is dropped) until it drains to half.
    * ``backlog``: events kept while neither an ``events()`` iterator nor an ``on()`` listener
      is attached; the oldest go first.
    * ``max_reconnect_delay``: cap, in seconds, of the jittered exponential reconnect backoff.
    * ``ping_interval`` / ``ping_timeout``: WebSocket keepalive, in seconds (None disables).
    * ``headers``: extra HTTP headers for the WebSocket upgrade.
    * ``proxy``: ``True`` takes an HTTP proxy from the environment (``HTTPS_PROXY`` for wss://,
      ``HTTP_PROXY`` for ws://, ``ALL_PROXY``, ``NO_PROXY``) as httpx does for REST; a URL
      names one (``http://user:pass@host:3128``); ``None`` connects directly.
    """

    api_url: str
    webhook_id: str
    token: str
    session_key: str | None = None
    base_input: dict[str, Any] | None = None
    auto_reconnect: bool = True
    scope: dict[str, str | int | float | bool] | None = None
    max_message_size: int = 64 * 1024 * 1024
    open_timeout: float = 10.0
    max_queue: int = 65536
    backlog: int = 65536
    max_reconnect_delay: float = 30.0
    ping_interval: float | None = 25.0
    ping_timeout: float | None = 20.0
    headers: dict[str, str] | None = None
    proxy: bool | str | None = True


def text_message(text: str) -> dict[str, Any]:
    """A plain text message."""
    return {"kind": "text", "text": text}


def image_url_message(image_url: str, text: str | None = None) -> dict[str, Any]:
    """An image by public URL (nothing is uploaded)."""
    msg: dict[str, Any] = {"kind": "image", "image_url": image_url}
    if text is not None:
        msg["text"] = text
    return msg


def image_multi_message(image_urls: list[str], text: str | None = None) -> dict[str, Any]:
    """Several images by public URL."""
    msg: dict[str, Any] = {"kind": "image-multi", "image_urls": list(image_urls)}
    if text is not None:
        msg["text"] = text
    return msg


def media_key_message(
    kind: Literal["image", "audio", "document", "video"],
    media_key: str,
    mime_type: str,
    size_bytes: int,
    text: str | None = None,
) -> dict[str, Any]:
    """A message pointing at an earlier upload (:func:`daguito.upload.upload_file`)."""
    msg: dict[str, Any] = {
        "kind": kind,
        "media_key": media_key,
        "mime_type": mime_type,
        "size_bytes": size_bytes,
    }
    if text is not None:
        msg["text"] = text
    return msg


def form_response_message(form_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The answer to a form the flow paused on."""
    return {"kind": "form-response", "form_id": form_id, "payload": payload}


@dataclass
class ReadyEvent:
    webhook_id: str


@dataclass
class ClosedEvent:
    """The session ended for good. ``code`` is always a plain ``int`` (or None)."""

    code: int | None = None
    reason: str | None = None


@dataclass
class NodeTokenEvent:
    node_id: str
    text: str


@dataclass
class NodeStartedEvent:
    node_id: str


@dataclass
class NodeCompletedEvent:
    node_id: str
    duration_ms: int | None = None
    output: Any = None


@dataclass
class NodeFailedEvent:
    node_id: str
    error: str | None = None


@dataclass
class NodeEmitEvent:
    node_id: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolProgressResource:
    kind: str | None = None
    name: str | None = None
    media_key: str | None = None
    url: str | None = None


@dataclass
class ToolProgressItem:
    """One hit of a tool's result (a search result, a page)."""

    title: str
    snippet: str | None = None
    url: str | None = None


@dataclass
class ToolProgressResult:
    """What a tool produced, usually on ``stage == "completed"``."""

    summary: str | None = None
    items: list[ToolProgressItem] = field(default_factory=list)


@dataclass
class ToolProgressEvent:
    tool: str
    stage: str
    progress: float | None = None
    resource: ToolProgressResource | None = None
    trace_id: str | None = None
    attempt: int | None = None
    result: ToolProgressResult | None = None


@dataclass
class FlowCompletedEvent:
    """``elapsed_ms`` is measured on this side, with a monotonic clock, from the send that started
    the turn (daguito-sdk measured wall time from ``session.started``)."""

    elapsed_ms: int
    output: Any = None


@dataclass
class FlowFailedEvent:
    error: str


@dataclass
class ErrorEvent:
    message: str


@dataclass
class UnknownFrameEvent:
    """A frame with a ``type`` this SDK does not know, delivered as ``("unknown", event)``."""

    type: str
    frame: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolSpec:
    """A client-side tool, as sent in ``base_input.client_tools`` (Go's ``ToolSpec``).

    ``client_timeout_ms`` is enforced here: a handler that takes longer gets an error result.
    """

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    client_timeout_ms: int = 30_000

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("ToolSpec.name must be a non-empty string")
        if not isinstance(self.parameters, dict):
            raise TypeError("ToolSpec.parameters must be a dict (a JSON schema)")
        if isinstance(self.client_timeout_ms, bool) or not isinstance(self.client_timeout_ms, int):
            raise TypeError("ToolSpec.client_timeout_ms must be an int")
        if self.client_timeout_ms <= 0:
            raise ValueError("ToolSpec.client_timeout_ms must be > 0")

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "client_timeout_ms": self.client_timeout_ms,
        }


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _parse_result(value: Any) -> ToolProgressResult | None:
    if not isinstance(value, dict):
        return None
    items = []
    raw_items = value.get("items")
    if isinstance(raw_items, list):
        for item in raw_items:
            if isinstance(item, dict) and isinstance(item.get("title"), str) and item["title"]:
                items.append(
                    ToolProgressItem(
                        item["title"], _opt_str(item.get("snippet")), _opt_str(item.get("url"))
                    )
                )
    summary = _opt_str(value.get("summary"))
    if summary is None and not items:
        return None
    return ToolProgressResult(summary, items)


def parse_tool_progress(data: Any) -> ToolProgressEvent | None:
    """Read a ``tool_progress`` payload.

    Accepts a ``node.emit`` event (:class:`NodeEmitEvent`) or its ``data`` dict; returns None when
    it is not a tool-progress payload. Missing or non-string ``tool``/``stage`` become ``""``
    (daguito-sdk gave ``"None"`` for a JSON null), and ``result`` is kept.
    """
    if isinstance(data, NodeEmitEvent):
        data = data.data
    if not isinstance(data, dict) or data.get("kind") != "tool_progress":
        return None
    resource = data.get("resource")
    attempt = data.get("attempt")
    return ToolProgressEvent(
        tool=data["tool"] if isinstance(data.get("tool"), str) else "",
        stage=data["stage"] if isinstance(data.get("stage"), str) else "",
        progress=_number(data.get("progress")),
        resource=ToolProgressResource(
            _opt_str(resource.get("kind")),
            _opt_str(resource.get("name")),
            _opt_str(resource.get("media_key")),
            _opt_str(resource.get("url")),
        )
        if isinstance(resource, dict)
        else None,
        trace_id=_opt_str(data.get("trace_id")),
        attempt=attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None,
        result=_parse_result(data.get("result")),
    )
