"""Linktor REST, read-outs: analytics computed from the store, and VRE (visual response engine)
renders as deterministic PNGs (the same template and data give the same bytes)."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from relaywire.emulator._http import ApiError, json_response, now_iso
from relaywire.emulator.linktor.dialect import Dialect
from relaywire.emulator.linktor.rest_core import Api, Call, Field
from relaywire.emulator.linktor.store import Record

__all__ = ["register", "render_png"]

SDK, SERVER = Dialect.SDK, Dialect.SERVER


def register(api: Api) -> None:
    """Add the analytics and VRE routes of ``api``'s dialect."""
    plain = not api.sdk  # the server's analytics and VRE answer errors as {"error": text}
    names = ("dashboard", "conversations", "messages", "realtime") if api.sdk else _SERVER_REPORTS
    for name in names:
        api.add("GET", f"/analytics/{name}", _report, plain_errors=plain)
    api.add("POST", "/vre/render", _render, plain_errors=plain)
    api.add("POST", "/vre/render-and-send", _render_and_send, plain_errors=plain)
    api.add("GET", "/vre/templates", _templates, plain_errors=plain)
    if api.sdk:
        api.add("POST", "/vre/templates/{id}/preview", _preview)
        api.add("GET", "/vre/images/{name}", _image, public=True)
    else:
        api.add("GET", "/vre/templates/{id}/preview", _preview, plain_errors=True)
        api.add("GET", "/vre/config", _vre_config, plain_errors=True)
        api.add("PUT", "/vre/config", _vre_config, plain_errors=True)
        api.add("DELETE", "/vre/cache", _clear_cache, plain_errors=True)


# -- analytics -------------------------------------------------------------------------------

_SERVER_REPORTS = ("overview", "conversations", "flows", "escalations", "channels")
_PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 30}


def _day(call: Call, name: str) -> date | None:
    raw = call.query(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", f"{name} must be a date (YYYY-MM-DD)") from None


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ms_between(start: str, end: str) -> float:
    return (_parse_time(end) - _parse_time(start)).total_seconds() * 1000


def _average(values: Iterable[float]) -> float:
    items = list(values)
    return round(sum(items) / len(items), 3) if items else 0.0


class _Window:
    """The tenant's records created inside the requested dates."""

    def __init__(self, call: Call) -> None:
        period = call.query("period") or "weekly"
        if period not in _PERIOD_DAYS:
            raise ApiError(400, "VALIDATION_ERROR", "period must be daily, weekly or monthly")
        self.period = period
        end = _day(call, "end_date") or datetime.now(timezone.utc).date()
        start = _day(call, "start_date") or end - timedelta(days=_PERIOD_DAYS[period] - 1)
        if start > end:
            raise ApiError(400, "VALIDATION_ERROR", "start_date must not be after end_date")
        self.start, self.end = start, end
        store, tenant = call.store, call.tenant

        def inside(records: Iterable[Record]) -> list[Record]:
            first, last = start.isoformat(), end.isoformat()
            return [
                r
                for r in records
                if r.get("tenant_id") == tenant and first <= str(r["created_at"])[:10] <= last
            ]

        self.conversations = inside(store.conversations.values())
        self.messages = inside(store.messages.values())
        self.executions = inside(store.collection("flow_executions").values())
        self.store = store
        self.tenant = tenant

    def days(self) -> list[str]:
        count = (self.end - self.start).days + 1
        return [(self.start + timedelta(days=n)).isoformat() for n in range(count)]

    def by_day(self, records: list[Record]) -> dict[str, list[Record]]:
        buckets: dict[str, list[Record]] = {day: [] for day in self.days()}
        for record in records:
            buckets.setdefault(str(record["created_at"])[:10], []).append(record)
        return buckets

    def agent_replied(self, conversation: Record) -> bool:
        return any(
            m["sender_type"] == "agent"
            for m in self.store.conversation_messages(conversation["id"])
        )

    def resolved_by_bot(self, conversations: list[Record]) -> int:
        return sum(
            1
            for c in conversations
            if c["status"] in ("resolved", "closed") and not self.agent_replied(c)
        )

    def first_response_ms(self) -> float:
        return _average(
            _ms_between(c["created_at"], c["first_reply_at"])
            for c in self.conversations
            if c.get("first_reply_at")
        )


def _statuses(conversations: list[Record]) -> dict[str, int]:
    counts = Counter(c["status"] for c in conversations)
    counts["resolved"] += counts.pop("closed", 0)
    return {s: counts.get(s, 0) for s in ("open", "pending", "resolved", "snoozed")}


async def _report(call: Call) -> Response:
    window = _Window(call)
    name = call.request.url.path.rsplit("/", 1)[-1]
    if call.sdk:
        return call.ok(_SDK_REPORTS[name](window))
    report = _SERVER_REPORT_BUILDERS[name](window)
    return json_response(report if name == "overview" else {"data": report})


def _sdk_dashboard(w: _Window) -> Record:
    statuses = _statuses(w.conversations)
    directions = Counter(m["direction"] for m in w.messages)
    channels = [c for c in w.store.channels.values() if c["tenant_id"] == w.tenant]
    total = len(w.conversations)
    return {
        "period": {"startDate": w.start.isoformat(), "endDate": w.end.isoformat()},
        "conversations": {
            "total": total,
            **statuses,
            "unassigned": sum(1 for c in w.conversations if not c.get("assigned_to")),
        },
        "messages": {
            "total": len(w.messages),
            "inbound": directions["inbound"],
            "outbound": directions["outbound"],
        },
        "contacts": {
            "total": sum(1 for c in w.store.contacts.values() if c["tenant_id"] == w.tenant)
        },
        "channels": {
            "total": len(channels),
            "connected": sum(1 for c in channels if c["connection_status"] == "connected"),
        },
        "avgFirstResponseMs": w.first_response_ms(),
        "resolutionRate": round(statuses["resolved"] / total, 4) if total else 0.0,
    }


def _sdk_conversations(w: _Window) -> Record:
    data = [
        {"date": day, "total": len(items), **_statuses(items)}
        for day, items in w.by_day(w.conversations).items()
    ]
    return {"data": data, "total": len(w.conversations)}


def _sdk_messages(w: _Window) -> Record:
    data = []
    for day, items in w.by_day(w.messages).items():
        directions = Counter(m["direction"] for m in items)
        data.append(
            {
                "date": day,
                "total": len(items),
                "inbound": directions["inbound"],
                "outbound": directions["outbound"],
            }
        )
    return {
        "data": data,
        "total": len(w.messages),
        "byStatus": dict(Counter(m["status"] for m in w.messages)),
        "byContentType": dict(Counter(m["content_type"] for m in w.messages)),
    }


def _sdk_realtime(w: _Window) -> Record:
    conversations = [c for c in w.store.conversations.values() if c["tenant_id"] == w.tenant]
    hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()[:19]
    return {
        "activeConversations": sum(1 for c in conversations if c["status"] == "open"),
        "pendingConversations": sum(1 for c in conversations if c["status"] == "pending"),
        "unassignedConversations": sum(
            1 for c in conversations if c["status"] == "open" and not c.get("assigned_to")
        ),
        "messagesLastHour": sum(
            1
            for m in w.store.messages.values()
            if m["tenant_id"] == w.tenant and m["created_at"][:19] >= hour_ago
        ),
        "agents": sum(1 for u in w.store.users.values() if u["tenant_id"] == w.tenant),
        "timestamp": now_iso(),
    }


_SDK_REPORTS = {
    "dashboard": _sdk_dashboard,
    "conversations": _sdk_conversations,
    "messages": _sdk_messages,
    "realtime": _sdk_realtime,
}


def _server_overview(w: _Window) -> Any:
    total = len(w.conversations)
    by_bot = w.resolved_by_bot(w.conversations)
    resolved = [c for c in w.conversations if c.get("resolved_at")]
    return {
        "period": w.period,
        "start_date": w.start.isoformat(),
        "end_date": w.end.isoformat(),
        "total_conversations": total,
        "resolved_by_bot": by_bot,
        "escalated_to_human": sum(1 for c in w.conversations if c.get("assigned_to")),
        "resolution_rate": round(by_bot / total, 4) if total else 0.0,
        "avg_first_response_ms": w.first_response_ms(),
        "avg_resolution_time_ms": _average(
            _ms_between(c["created_at"], c["resolved_at"]) for c in resolved
        ),
        "total_bot_messages": sum(1 for m in w.messages if m["sender_type"] == "bot"),
        "avg_confidence": 0.0,
        "conversations_trend": 0.0,
        "resolution_trend": 0.0,
    }


def _server_conversations(w: _Window) -> Any:
    return [
        {
            "date": day,
            "total_conversations": len(items),
            "resolved_by_bot": w.resolved_by_bot(items),
            "escalated": sum(1 for c in items if c.get("assigned_to")),
            "pending": sum(1 for c in items if c["status"] in ("pending", "snoozed")),
        }
        for day, items in w.by_day(w.conversations).items()
    ]


def _server_flows(w: _Window) -> Any:
    rows = []
    for flow in w.store.collection("flows").values():
        if flow["tenant_id"] != w.tenant:
            continue
        runs = [e for e in w.executions if e["flow_id"] == flow["id"]]
        done = [e for e in runs if e["status"] == "completed"]
        rows.append(
            {
                "flow_id": flow["id"],
                "flow_name": flow["name"],
                "times_triggered": len(runs),
                "times_completed": len(done),
                "completion_rate": round(len(done) / len(runs), 4) if runs else 0.0,
                "avg_steps_to_end": _average(len(e["history"]) for e in done),
            }
        )
    return rows


def _server_escalations(w: _Window) -> Any:
    escalated = [c for c in w.conversations if c.get("assigned_to")]
    if not escalated:
        return []
    return [
        {
            "reason": "assigned_to_agent",
            "count": len(escalated),
            "percentage": 100.0,
            "avg_time_to_escalation_ms": _average(
                _ms_between(c["created_at"], c["assigned_at"])
                for c in escalated
                if c.get("assigned_at")
            ),
        }
    ]


def _server_channels(w: _Window) -> Any:
    rows = []
    for channel in w.store.channels.values():
        if channel["tenant_id"] != w.tenant:
            continue
        items = [c for c in w.conversations if c["channel_id"] == channel["id"]]
        by_bot = w.resolved_by_bot(items)
        rows.append(
            {
                "channel_id": channel["id"],
                "channel_name": channel["name"],
                "channel_type": channel["type"],
                "total_conversations": len(items),
                "resolved_by_bot": by_bot,
                "resolution_rate": round(by_bot / len(items), 4) if items else 0.0,
            }
        )
    return rows


_SERVER_REPORT_BUILDERS = {
    "overview": _server_overview,
    "conversations": _server_conversations,
    "flows": _server_flows,
    "escalations": _server_escalations,
    "channels": _server_channels,
}


# -- VRE -----------------------------------------------------------------------------------------

# id -> (name, description, required data keys, caption key, height / width)
_TEMPLATES: dict[str, tuple[str, str, tuple[str, ...], str, float]] = {
    "menu_opcoes": ("Menu de opções", "A numbered menu", ("titulo", "opcoes"), "titulo", 1.25),
    "card_produto": ("Card de produto", "One product", ("nome", "preco", "unidade"), "nome", 1.0),
    "status_pedido": (
        "Status do pedido",
        "Where an order is",
        ("numero_pedido", "status_atual"),
        "numero_pedido",
        0.75,
    ),
    "lista_produtos": (
        "Lista de produtos",
        "A product list",
        ("titulo", "produtos"),
        "titulo",
        1.5,
    ),
    "confirmacao": ("Confirmação", "An order summary", ("valor_total", "itens"), "titulo", 1.25),
    "cobranca_pix": (
        "Cobrança Pix",
        "A Pix charge",
        ("valor", "pix_payload"),
        "numero_pedido",
        1.0,
    ),
}
_SAMPLES: dict[str, Record] = {
    "menu_opcoes": {"titulo": "Como podemos ajudar?", "opcoes": [{"label": "Pedidos"}]},
    "card_produto": {"nome": "Café 500 g", "preco": 24.9, "unidade": "un"},
    "status_pedido": {"numero_pedido": "1234", "status_atual": "transporte"},
    "lista_produtos": {"titulo": "Ofertas", "produtos": [{"nome": "Café", "preco": 24.9}]},
    "confirmacao": {"valor_total": 49.8, "itens": [{"nome": "Café", "preco": 24.9}]},
    "cobranca_pix": {"valor": 49.8, "pix_payload": "00020126580014BR.GOV.BCB.PIX"},
}
_FORMATS = ("png", "webp", "jpeg")
_RENDER_NS = 1_000_000  # the server reports render_time_ms as a Go Duration (nanoseconds)


def render_png(seed: bytes, width: int, height: int) -> bytes:
    """A valid PNG of one colour derived from ``seed``: deterministic, cheap, any size."""
    digest = hashlib.sha256(seed).digest()
    row = b"\x00" + digest[:3] * width
    raw = zlib.compress(row * height, 6)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


_RENDER = (
    Field("tenant_id"),
    Field("template_id", required=True),
    Field("data", "dict", required=True),
    Field("channel", choices=("whatsapp", "telegram", "web", "email")),
    Field("format", choices=_FORMATS),
    Field("width", "int", low=64, high=2048),
    Field("quality", "int", low=0, high=100),
    Field("scale", "num", low=0, high=4),
    Field("caption"),
    Field("follow_up_text"),
    Field("send_to"),
    Field("svg"),
)


def _template(template_id: str) -> tuple[str, str, tuple[str, ...], str, float]:
    found = _TEMPLATES.get(template_id)
    if found is None:
        raise ApiError(404, "NOT_FOUND", f"template not found: {template_id}")
    return found


def _draw(call: Call, values: Record) -> Record:
    """Render a template: a canonical (snake_case) render result, cached by its inputs."""
    name, _, required, caption_key, ratio = _template(values["template_id"])
    data = values.get("data") or {}
    missing = [key for key in required if key not in data]
    if missing:
        raise ApiError(400, "VALIDATION_ERROR", f"data is missing {', '.join(missing)}")
    width = values.get("width") or 800
    height = round(width * ratio)
    image_format = values.get("format") or "png"
    key_source = [values["template_id"], data, width, image_format, values.get("channel")]
    key = hashlib.sha256(repr(key_source).encode()).hexdigest()[:32]
    images = call.store.collection("vre_images")
    cache_hit = key in images
    if not cache_hit:
        # PNG bytes whatever the format asked: a stand-in image, not an encoder.
        png = render_png(key.encode(), width, height)
        images[key] = {"id": key, "tenant_id": call.tenant, "png": png}
    png = images[key]["png"]
    caption = values.get("caption") or f"{name}: {data.get(caption_key, '')}".rstrip(": ")
    return {
        "key": key,
        "image_base64": base64.b64encode(png).decode(),
        "caption": caption,
        "follow_up_text": values.get("follow_up_text"),
        "width": width,
        "height": height,
        "format": image_format,
        "size_bytes": len(png),
        "cache_hit": cache_hit,
    }


def _render_view(call: Call, image: Record) -> Record:
    if call.sdk:
        return {
            "imageBase64": image["image_base64"],
            "caption": image["caption"],
            "width": image["width"],
            "height": image["height"],
            "format": image["format"],
            "renderTimeMs": 1,
            "sizeBytes": image["size_bytes"],
            "cacheHit": image["cache_hit"],
        }
    shown = {k: v for k, v in image.items() if k != "key" and v is not None}
    return {**shown, "render_time_ms": _RENDER_NS}


async def _render(call: Call) -> Response:
    values = await call.fields(_RENDER)
    return json_response(_render_view(call, _draw(call, values)))


def _image_url(request: Request, key: str) -> str:
    return str(request.url.replace(path=f"/linktor/vre/images/{key}.png", query=""))


def _recipient(call: Call, send_to: str) -> Record:
    """A conversation by id, or a contact's (by id or phone) most recent conversation."""
    store = call.store
    conversation = store.conversations.get(send_to)
    if conversation is not None and conversation["tenant_id"] == call.tenant:
        return conversation
    contacts = {
        c["id"]
        for c in store.contacts.values()
        if c["tenant_id"] == call.tenant and send_to in (c["id"], c.get("phone"))
    }
    candidates = [c for c in store.conversations.values() if c["contact_id"] in contacts]
    if not candidates:
        raise ApiError(404, "CONVERSATION_NOT_FOUND", f"no conversation for {send_to}")
    return max(candidates, key=lambda c: str(c["updated_at"]))


async def _render_and_send(call: Call) -> Response:
    if call.sdk:
        spec = (Field("conversation_id", required=True), *_RENDER)
        values = await call.fields(spec)
        conversation = call.find(
            call.store.conversations, values["conversation_id"], "conversation"
        )
    else:
        values = await call.fields(_RENDER)
        if not values.get("send_to"):
            raise ApiError(400, "VALIDATION_ERROR", "send_to is required")
        conversation = _recipient(call, values["send_to"])
    image = _draw(call, values)
    url = _image_url(call.request, image["key"])
    media = {"url": url, "mime_type": "image/png", "caption": image["caption"]}
    message = call.store.add_message(
        conversation["id"],
        direction="outbound",
        content_type="image",
        content={"media": media},
        sender_type="bot",
        metadata={"vre_template": values["template_id"]},
    )
    if values.get("follow_up_text"):
        call.store.add_message(
            conversation["id"],
            direction="outbound",
            content={"text": values["follow_up_text"]},
            sender_type="bot",
        )
    if call.sdk:
        return json_response(
            {"messageId": message["id"], "imageUrl": url, "caption": image["caption"]}
        )
    return json_response({**_render_view(call, image), "image_url": url, "delivered": True})


async def _templates(call: Call) -> Response:
    if not call.sdk:
        return json_response({"templates": list(_TEMPLATES)})
    templates = [
        {
            "id": template_id,
            "name": name,
            "description": description,
            "schema": {
                "type": "object",
                "required": list(required),
                "properties": {key: {} for key in required},
            },
        }
        for template_id, (name, description, required, _, _) in _TEMPLATES.items()
    ]
    return json_response({"templates": templates})


async def _preview(call: Call) -> Response:
    template_id = call.arg("id")
    _template(template_id)
    data = _SAMPLES[template_id]
    if call.sdk:
        body = await call.fields((Field("data", "dict"),), required=False)
        data = body.get("data") or data
    image = _draw(call, {"template_id": template_id, "data": data})
    if call.sdk:
        return json_response(
            {
                "imageBase64": image["image_base64"],
                "width": image["width"],
                "height": image["height"],
            }
        )
    return json_response(_render_view(call, image))


async def _image(call: Call) -> Response:
    key = call.arg("name").removesuffix(".png")
    image = call.store.collection("vre_images").get(key)
    if image is None:
        raise ApiError(404, "NOT_FOUND", "image not found")
    return Response(image["png"], media_type="image/png")


_VRE_CONFIG_KEYS = (
    Field("default_format", choices=_FORMATS),
    Field("default_width", "int", low=64, high=2048),
    Field("default_quality", "int", low=0, high=100),
    Field("cache_ttl_seconds", "int", low=0),
)


async def _vre_config(call: Call) -> Response:
    config = call.store.collection("vre_config").setdefault(
        call.tenant,
        {"default_format": "png", "default_width": 800, "default_quality": 85},
    )
    if call.request.method == "PUT":
        config.update(await call.fields(_VRE_CONFIG_KEYS, partial=True))
    config["cache_ttl_seconds"] = config.get("cache_ttl_seconds", 3600)
    return json_response(config)


async def _clear_cache(call: Call) -> Response:
    images = call.store.collection("vre_images")
    removed = [key for key, image in images.items() if image["tenant_id"] == call.tenant]
    for key in removed:
        del images[key]
    return json_response({"message": "Cache cleared", "removed": len(removed)})
