"""Plain-Python references for ``relaywire._native.StreamDecoder``: the message decoder
(``json.loads`` plus the rules of spec/daguito.md 2.10 as fixed by relaywire) and an RFC 6455
server-frame encoder.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from daguito import types as t

FLAG_CONTROL = 1
FLAG_TOOL_CALL = 2
FLAG_TURN_END = 4
#: Containers nested deeper than this make a message malformed.
MAX_DEPTH = 512

EVENT_CLASSES: dict[str, type] = {
    "ready": t.ReadyEvent,
    "error": t.ErrorEvent,
    "node.started": t.NodeStartedEvent,
    "node.token": t.NodeTokenEvent,
    "node.completed": t.NodeCompletedEvent,
    "node.failed": t.NodeFailedEvent,
    "node.emit": t.NodeEmitEvent,
    "flow.completed": t.FlowCompletedEvent,
    "flow.failed": t.FlowFailedEvent,
    "unknown": t.UnknownFrameEvent,
}

TOKEN_KEYS = ("token", "text", "delta", "content")

Entry = tuple[str, Any]


class Malformed(Exception):
    """The message is not a Daguito frame."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """Nesting depth of containers (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def loads(message: str | bytes) -> Any:
    """``json.loads`` without NaN/Infinity and with the depth limit; bytes must be UTF-8."""
    try:
        text = message.decode("utf-8") if isinstance(message, bytes) else message
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise Malformed(str(exc)) from None
    if _depth(value) > MAX_DEPTH:
        raise Malformed("too deep")
    return value


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _duration(data: dict[str, Any]) -> int | None:
    for key in ("duration_ms", "elapsed_ms"):
        value = data.get(key)
        if _is_number(value):
            if isinstance(value, float):
                return round(value) if math.isfinite(value) else None
            return int(value)
    return None


def decode_frame(
    frame: Any, *, default_webhook_id: str = "", emit_tokens: bool = True
) -> tuple[Entry | None, int, str | None]:
    """One parsed message: ``(entry or None, flags, token text or None)``."""
    if not isinstance(frame, dict):
        return ("malformed", "not an object"), FLAG_CONTROL, None
    kind = frame.get("type")
    if not isinstance(kind, str):
        return ("malformed", "no type"), FLAG_CONTROL, None
    node_id = frame.get("node_id")
    node_id = node_id if isinstance(node_id, str) else ""
    data = frame.get("data")
    data = data if isinstance(data, dict) else {}
    if kind == "node.token":
        for key in TOKEN_KEYS:
            text = data.get(key)
            if isinstance(text, str) and text:
                entry = ("node.token", t.NodeTokenEvent(node_id, text)) if emit_tokens else None
                return entry, 0, text
        return None, 0, None
    if kind == "ready":
        webhook_id = frame.get("webhook_id")
        if not isinstance(webhook_id, str):
            webhook_id = default_webhook_id
        return ("ready", t.ReadyEvent(webhook_id)), FLAG_CONTROL, None
    if kind == "session.started":
        key = frame.get("session_key")
        return ("session.started", key if isinstance(key, str) else None), FLAG_CONTROL, None
    if kind == "session.ended":
        return ("session.ended", None), FLAG_CONTROL, None
    if kind in ("ping", "pong"):
        return None, 0, None
    if kind == "error":
        if "message" not in frame:
            message = "unknown error"
        elif isinstance(frame["message"], str):
            message = frame["message"]
        else:
            message = compact(frame["message"])
        return ("error", t.ErrorEvent(message)), 0, None
    if kind in ("node.started", "merge.progress"):
        return ("node.started", t.NodeStartedEvent(node_id)), 0, None
    if kind == "node.completed":
        event = t.NodeCompletedEvent(node_id, _duration(data), data.get("output"))
        return ("node.completed", event), 0, None
    if kind == "node.failed":
        error = data.get("error")
        return (
            ("node.failed", t.NodeFailedEvent(node_id, error if isinstance(error, str) else None)),
            0,
            None,
        )
    if kind == "node.emit":
        raw_kind = data.get("kind")
        if raw_kind is None:
            emit_kind = ""
        elif isinstance(raw_kind, str):
            emit_kind = raw_kind
        else:
            emit_kind = compact(raw_kind)
        flags = FLAG_TOOL_CALL if raw_kind == "agent.tool_call_started" else 0
        return ("node.emit", t.NodeEmitEvent(node_id, emit_kind, data)), flags, None
    if kind == "flow.completed":
        return ("flow.completed", t.FlowCompletedEvent(0, data.get("output"))), FLAG_TURN_END, None
    if kind == "flow.failed":
        error = data.get("error")
        event = t.FlowFailedEvent(error if isinstance(error, str) else "flow failed")
        return ("flow.failed", event), FLAG_TURN_END, None
    return ("unknown", t.UnknownFrameEvent(kind, frame)), 0, None


def decode(
    message: str | bytes, *, default_webhook_id: str = "", emit_tokens: bool = True
) -> tuple[list[Entry], int, str]:
    """One message: ``(entries, flags, token text)``, as ``StreamDecoder.decode`` plus the
    text it would collect."""
    try:
        frame = loads(message)
    except Malformed as exc:
        return [("malformed", str(exc))], FLAG_CONTROL, ""
    entry, flags, text = decode_frame(
        frame, default_webhook_id=default_webhook_id, emit_tokens=emit_tokens
    )
    return ([] if entry is None else [entry]), flags, text or ""


def strict(value: Any) -> Any:
    """A form of ``value`` in which equal means the same types, order and float bits
    (``1 == 1.0`` and ``0.0 == -0.0`` must not pass)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, strict(getattr(value, f.name))) for f in dataclasses.fields(value))
        return (type(value).__qualname__, fields)
    if isinstance(value, dict):
        return ("dict", tuple((strict(k), strict(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(strict(v) for v in value))
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def comparable(entries: list[Entry]) -> list[Any]:
    """Entries in strict form; a malformed entry's reason is only checked to be text."""
    out = []
    for kind, payload in entries:
        if kind == "malformed":
            assert isinstance(payload, str) and payload, payload
            out.append(("malformed",))
        else:
            out.append((kind, strict(payload)))
    return out


# ----------------------------------------------------------------------------- frame encoding

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def ws_frame(
    payload: bytes,
    opcode: int = OP_TEXT,
    *,
    fin: bool = True,
    rsv: int = 0,
    length_bits: int | None = None,
    mask: bytes | None = None,
) -> bytes:
    """A WebSocket frame as a server sends it (unmasked unless ``mask`` is given). The
    payload length uses the shortest form unless ``length_bits`` (7, 16 or 64) forces one."""
    size = len(payload)
    if length_bits is None:
        length_bits = 7 if size < 126 else 16 if size < 65536 else 64
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    if length_bits == 7:
        head += bytes([mask_bit | size])
    elif length_bits == 16:
        head += bytes([mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + size.to_bytes(8, "big")
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return ws_frame(code.to_bytes(2, "big") + reason.encode(), OP_CLOSE)
