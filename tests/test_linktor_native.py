"""Linktor models built natively (``linktor._builders``) against linktor's Python path.

The Python path is the reference: ``json.loads`` + ``linktor._dialect``'s ``adapt_*`` +
``Model.model_validate``. For random server records (realistic ones, and ones with odd
values: missing and repeated keys, wrong types, server words the SDK lacks, non-ASCII text,
camelCase keys mixed in), the native plan either builds exactly the Python path's objects
(:func:`assert_identical`: types, field order, fields set, enum members, tzinfos) or declines;
it never builds anything where the Python path raises. Realistic records are built natively,
not declined. The client runs both ways against the emulator with the same results and the
same requests.
"""

from __future__ import annotations

import gc
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_models_plan import Obj, Raw, Style, assert_identical, dump

import linktor._builders as builders
import linktor._resources as resources
from linktor import LinktorClient, _dialect
from linktor.types import (
    Bot,
    Channel,
    Contact,
    Conversation,
    Document,
    Flow,
    KnowledgeBase,
    Message,
)
from relaywire.emulator import Emulator
from relaywire.models import plan_for

COMPACT = Style(ascii_only=False, escape_keys=False, comma=",", colon=":")
SPACED = Style(ascii_only=True, escape_keys=False, comma=", ", colon=": ")
#: The cache of channel types the conversation tests use (``ch_1`` and ``ch_odd`` known).
CHANNEL_TYPES = {"ch_1": "whatsapp", "ch_2": "telegram", "None": "sms"}


def objects(value: Any) -> Any:
    """Dicts as ``Obj`` all the way down, so that ``Raw`` values may sit anywhere."""
    if isinstance(value, dict):
        return Obj(tuple((k, objects(v)) for k, v in value.items()))
    if isinstance(value, Obj):
        return Obj(tuple((k, objects(v)) for k, v in value.items))
    if isinstance(value, list):
        return [objects(v) for v in value]
    return value


def encode(value: Any, style: Style = COMPACT) -> bytes:
    return dump(objects(value), style).encode()


def plain(value: Any) -> Any:
    """The Python value ``json.loads`` gives for a strategy value (an ``Obj`` keeps its
    last duplicate at the first place)."""
    return json.loads(encode(value))


# -- values --------------------------------------------------------------------------------------

TEXTS = st.one_of(
    st.sampled_from(["", "hi", "olá", "Olá, tudo bem?", "日本", "a\nb", " x ", "😀"]),
    st.text(max_size=8),
)
IDS = st.sampled_from(["m_1", "c_1", "8f0c6a52-5a9d-4a3b-9d7e-1b2c3d4e5f60", "x"])
TIMES = st.sampled_from(
    [
        "2024-01-15T10:30:00Z",
        "2024-01-15T10:30:00.123456Z",
        "2024-01-15T10:30:00.5-03:00",
        "2026-11-22T17:44:36.07+00:00",
    ]
)
ODD_TIMES = st.sampled_from(
    ["2024-01-15 10:30:00", "2024-01-15", "1700000000", "2023-02-29T00:00:00Z", "", "now"]
)
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from([1.5, 0.0, -0.0, 1e300]),
    st.sampled_from(["", "0", "5", "true", "é", " a "]),
    st.just([]),
    st.just({}),
    st.lists(st.integers(0, 3), min_size=1, max_size=2),
    st.just({"k": 1}),
    st.sampled_from([Raw("9223372036854775808"), Raw("1e400")]),
    ODD_TIMES,
)


def junk(valid: st.SearchStrategy[Any], rate: float) -> st.SearchStrategy[Any]:
    """``valid``, or an odd value with probability ``rate``."""
    if not rate:
        return valid
    threshold = 100 - max(1, round(rate * 100))
    return st.integers(0, 99).flatmap(lambda n: ODD if n >= threshold else valid)


Fields = dict[str, Callable[[float], st.SearchStrategy[Any]]]


@st.composite
def record(draw: st.DrawFn, fields: Fields, rate: float, required: frozenset[str]) -> Obj:
    """A server record: fields in random order; with a junk ``rate``, optional and required
    ones left out or repeated, odd values, unknown and camelCase keys."""
    items: list[tuple[str, Any]] = []
    for key, values in fields.items():
        if (key not in required or rate) and draw(st.integers(0, 4)) == 0:
            continue
        for _ in range(draw(st.sampled_from([1, 1, 1, 2])) if rate else 1):
            items.append((key, draw(values(rate))))
    if rate:
        extra = st.sampled_from(["x", "tenantId", "customFields", "createdAt", "status", "é"])
        for _ in range(draw(st.integers(0, 2))):
            items.append((draw(extra), draw(ODD)))
    return Obj(tuple(draw(st.permutations(items))))


def words(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values)


def meta_values(rate: float) -> st.SearchStrategy[Any]:
    valid = st.one_of(st.none(), st.just({"source": "api", "n": 1, "nested": {"a": [1, None]}}))
    return junk(valid, rate)


def message_fields() -> Fields:
    content_types = words("text", "image", "video", "audio", "document", "sticker", "template")
    contents = st.one_of(
        TEXTS,
        words("https://cdn.example/a.jpg", "s3://bucket/key.pdf", "http://x/a b", "http://x/\n"),
        words("https://x/ñ.png", "ftp://x\u00a0y", "1http://x"),
    )
    attachment = st.fixed_dictionaries(
        {"url": words("https://cdn.example/v.mp4", "", "https://x/file")},
        optional={
            "filename": words("a.mp4", "doc.pdf"),
            "size_bytes": st.integers(0, 10**6),
            "thumbnail_url": words("https://x/t.jpg"),
            "mime_type": words("video/mp4", "", "image/png"),
        },
    )
    return {
        "id": lambda r: junk(IDS, r),
        "conversation_id": lambda r: junk(IDS, r),
        "sender_type": lambda r: junk(words("contact", "user", "agent", "bot", "system"), r),
        "sender_id": lambda r: junk(IDS, r),
        "content_type": lambda r: junk(content_types, r),
        "content": lambda r: junk(contents, r),
        "attachments": lambda r: junk(st.lists(attachment, max_size=2), r),
        "metadata": meta_values,
        "status": lambda r: junk(words("pending", "sent", "delivered", "read", "failed"), r),
        "external_id": lambda r: junk(st.none() | IDS, r),
        "error_message": lambda r: junk(st.none() | TEXTS, r),
        "sent_at": lambda r: junk(TIMES, r),
        "delivered_at": lambda r: junk(st.none() | TIMES, r),
        "read_at": lambda r: junk(st.none() | TIMES, r),
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
        "edited_at": lambda r: junk(TIMES, r),
    }


def conversation_fields() -> Fields:
    return {
        "id": lambda r: junk(IDS, r),
        "tenant_id": lambda r: junk(IDS, r),
        "channel_id": lambda r: junk(words("ch_1", "ch_2", "ch_new"), r),
        "contact_id": lambda r: junk(IDS, r),
        "status": lambda r: junk(words("open", "pending", "resolved", "closed", "snoozed"), r),
        "assigned_user_id": lambda r: junk(st.none() | IDS, r),
        "priority": lambda r: junk(words("normal", "high"), r),
        "subject": lambda r: junk(st.none() | TEXTS, r),
        "tags": lambda r: junk(st.none() | st.lists(words("vip", "b"), max_size=2), r),
        "metadata": meta_values,
        "unread_count": lambda r: junk(st.integers(0, 5), r),
        "last_message_at": lambda r: junk(st.none() | TIMES, r),
        "first_reply_at": lambda r: junk(TIMES, r),
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
    }


def contact_fields() -> Fields:
    identity = st.fixed_dictionaries(
        {
            "channel_type": words("whatsapp", "whatsapp_official", "telegram", "voice", "x"),
            "identifier": words("+5511999", "user_1", ""),
        },
        optional={"channel_id": words("ch_1", ""), "metadata": st.none() | st.just({"a": 1})},
    )
    return {
        "id": lambda r: junk(IDS, r),
        "tenant_id": lambda r: junk(IDS, r),
        "name": lambda r: junk(TEXTS, r),
        "email": lambda r: junk(st.none() | words("a@b.c"), r),
        "phone": lambda r: junk(st.none() | words("+5511"), r),
        "avatar_url": lambda r: junk(st.none() | words("https://x/a.png"), r),
        "custom_fields": lambda r: junk(st.none() | st.just({"plan": "gold"}), r),
        "tags": lambda r: junk(st.lists(words("a", "b"), max_size=2), r),
        "identities": lambda r: junk(st.lists(junk(identity, r), max_size=2), r),
        "conversation_count": lambda r: junk(st.integers(0, 9), r),
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
    }


def channel_fields() -> Fields:
    return {
        "id": lambda r: junk(IDS, r),
        "tenant_id": lambda r: junk(IDS, r),
        "name": lambda r: junk(TEXTS, r),
        "type": lambda r: junk(words("whatsapp", "whatsapp_official", "telegram", "voice"), r),
        "connection_status": lambda r: junk(
            words("connected", "connecting", "error", "disconnected"), r
        ),
        "enabled": lambda r: junk(st.booleans(), r),
        "config": lambda r: junk(st.just({}) | st.just({"token": "t", "n": 2}), r),
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
    }


def bot_fields() -> Fields:
    slot = st.fixed_dictionaries(
        {
            "day": words("monday", " Sunday ", "WEDNESDAYS", "funday", "Sábado"),
            "start_time": words("09:00"),
            "end_time": words("18:00"),
        }
    )
    hours = st.fixed_dictionaries(
        {"enabled": st.booleans(), "schedule": st.lists(slot, max_size=3)},
        optional={"timezone": words("America/Sao_Paulo", "")},
    )
    config = st.fixed_dictionaries(
        {},
        optional={
            "welcome_message": TEXTS,
            "fallback_message": TEXTS,
            "temperature": st.sampled_from([0.7, 1, 0]),
            "max_tokens": st.integers(1, 4096),
            "system_prompt": TEXTS,
            "knowledge_base_id": words("kb_demo", ""),
            "working_hours": hours,
        },
    )
    return {
        "id": lambda r: junk(IDS, r),
        "tenant_id": lambda r: junk(IDS, r),
        "name": lambda r: junk(TEXTS, r),
        "description": lambda r: junk(st.none() | TEXTS, r),
        "status": lambda r: junk(words("active", "inactive", "training"), r),
        "type": lambda r: junk(words("ai", "rule_based", "hybrid"), r),
        "model": lambda r: junk(words("gpt-4o", ""), r),
        "config": lambda r: junk(config, r),
        "channels": lambda r: junk(st.lists(words("ch_1", "ch_2"), max_size=2), r),
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
    }


def knowledge_base_fields() -> Fields:
    config = st.fixed_dictionaries(
        {},
        optional={
            "embedding_model": words("text-embedding-3-small", ""),
            "chunk_size": st.integers(0, 1024),
            "chunk_overlap": st.integers(0, 64),
        },
    )
    return {
        "id": lambda r: junk(IDS, r),
        "tenant_id": lambda r: junk(IDS, r),
        "name": lambda r: junk(TEXTS, r),
        "description": lambda r: junk(st.none() | TEXTS, r),
        "status": lambda r: junk(words("active", "syncing", "error"), r),
        "config": lambda r: junk(config, r),
        "item_count": lambda r: junk(st.integers(0, 9), r),
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
    }


def kb_item_fields() -> Fields:
    return {
        "id": lambda r: junk(IDS, r),
        "knowledge_base_id": lambda r: junk(IDS, r),
        "question": lambda r: junk(TEXTS, r),
        "answer": lambda r: junk(TEXTS, r),
        "metadata": meta_values,
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
    }


def flow_fields() -> Fields:
    transition = st.fixed_dictionaries(
        {"to_node_id": words("n2", "end")},
        optional={"id": words("t1", ""), "condition": words("default"), "value": words("yes")},
    )

    def node(rate: float) -> st.SearchStrategy[Any]:
        return junk(
            st.fixed_dictionaries(
                {
                    "id": junk(words("n1", "n2", "start"), rate),
                    "type": junk(words("message", "question", "ai", "vre", "end", "x"), rate),
                },
                optional={
                    "content": TEXTS,
                    "quick_replies": st.lists(st.just({"title": "Yes"}), max_size=1),
                    "transitions": junk(st.lists(junk(transition, rate), max_size=2), rate),
                },
            ),
            rate,
        )

    return {
        "id": lambda r: junk(IDS, r),
        "tenant_id": lambda r: junk(IDS, r),
        "name": lambda r: junk(TEXTS, r),
        "description": lambda r: junk(st.none() | TEXTS, r),
        "is_active": lambda r: junk(st.booleans(), r),
        "version": lambda r: junk(st.integers(1, 5), r),
        "nodes": lambda r: junk(st.lists(node(r), max_size=3), r),
        "created_at": lambda r: junk(TIMES, r),
        "updated_at": lambda r: junk(TIMES, r),
    }


# model, adapter, fields, the fields a realistic record always has
KINDS: dict[str, tuple[type[Any], Callable[..., Any], Callable[[], Fields], frozenset[str]]] = {
    "message": (
        Message,
        _dialect.adapt_message,
        message_fields,
        frozenset({"id", "conversation_id", "sender_type", "status", "created_at"}),
    ),
    "conversation": (
        Conversation,
        _dialect.adapt_conversation,
        conversation_fields,
        frozenset({"id", "tenant_id", "channel_id", "contact_id", "status", "created_at"})
        | {"updated_at"},
    ),
    "contact": (
        Contact,
        _dialect.adapt_contact,
        contact_fields,
        frozenset({"id", "tenant_id", "created_at", "updated_at"}),
    ),
    "channel": (
        Channel,
        _dialect.adapt_channel,
        channel_fields,
        frozenset({"id", "tenant_id", "name", "type", "created_at", "updated_at"}),
    ),
    "bot": (
        Bot,
        _dialect.adapt_bot,
        bot_fields,
        frozenset({"id", "tenant_id", "name", "status", "type", "created_at", "updated_at"}),
    ),
    "knowledge_base": (
        KnowledgeBase,
        _dialect.adapt_knowledge_base,
        knowledge_base_fields,
        frozenset({"id", "tenant_id", "name", "created_at", "updated_at"}),
    ),
    "kb_item": (
        Document,
        _dialect.adapt_kb_item,
        kb_item_fields,
        frozenset({"id", "knowledge_base_id", "created_at", "updated_at"}),
    ),
    "flow": (
        Flow,
        _dialect.adapt_flow,
        flow_fields,
        frozenset({"id", "tenant_id", "name", "created_at", "updated_at"}),
    ),
}


def records(kind: str, rate: float) -> st.SearchStrategy[Obj]:
    _, _, fields, required = KINDS[kind]
    return record(fields(), rate, required)


# -- the two paths -------------------------------------------------------------------------------


def python_path(kind: str, data: Any) -> Any:
    """What linktor's Python path makes of one decoded record: the model, or the exception."""
    model, adapt, _, _ = KINDS[kind]
    try:
        adapted = adapt(data, CHANNEL_TYPES) if kind == "conversation" else adapt(data)
        return model.model_validate(adapted)
    except Exception as exc:
        return exc


def missing_channel(kind: str, data: Any) -> str | None:
    """The channel id a conversation's type must be learnt for first (truthy, not cached)."""
    if kind != "conversation" or not isinstance(data, dict):
        return None
    channel_id = data.get("channel_id")
    if channel_id and str(channel_id) not in CHANNEL_TYPES:
        return str(channel_id)
    return None


def native_plan(kind: str) -> Any:
    model, adapt, _, _ = KINDS[kind]
    plan = builders.server_plan(model, adapt)
    assert plan is not None
    return plan


def compare(kind: str, data: Any, built: Any) -> bool:
    """``built`` (the native answer for ``data``) against the Python path; whether it built."""
    missing = missing_channel(kind, data)
    if isinstance(built, str):
        assert built == missing, (built, missing)
        return False
    if built is None:
        return False
    assert missing is None, "built a conversation whose channel type is not known"
    expected = python_path(kind, data)
    assert not isinstance(expected, Exception), f"built where Python raises {expected!r}"
    assert_identical(built, expected)
    return True


def envelope(value: Any, how: int) -> Any:
    """One record as the server may wrap it."""
    return [
        Obj((("success", True), ("data", value))),
        value,
        Obj((("data", value), ("success", True), ("meta", None))),
        Obj((("data", value),)),  # no "success": not unwrapped
    ][how % 4]


def unwrapped(body: Any) -> Any:
    return _dialect.unwrap(body)


settings_for = settings(
    max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.mark.parametrize("kind", KINDS)
def test_realistic_records_are_built_natively(kind: str) -> None:
    plan = native_plan(kind)

    @settings_for
    @given(value=records(kind, 0.0), how=st.integers(0, 1), spaced=st.booleans())
    def run(value: Obj, how: int, spaced: bool) -> None:
        body = encode(envelope(value, how), SPACED if spaced else COMPACT)
        data = unwrapped(json.loads(body))
        built = plan.one(body, CHANNEL_TYPES)
        if missing_channel(kind, data) is not None:
            assert built == missing_channel(kind, data)
            return
        expected = python_path(kind, data)
        if isinstance(expected, Exception):
            return  # e.g. a realistic timestamp pydantic refuses: compared below
        assert built is not None, f"declined a realistic record: {body[:300]!r}"
        assert_identical(built, expected)

    run()


@pytest.mark.parametrize("kind", KINDS)
def test_any_record_gives_the_python_paths_answer(kind: str) -> None:
    plan = native_plan(kind)

    @settings_for
    @given(
        value=st.sampled_from([0.05, 0.2, 0.5]).flatmap(lambda r: records(kind, r)),
        how=st.integers(0, 3),
    )
    def run(value: Obj, how: int) -> None:
        body = encode(envelope(value, how))
        data = unwrapped(json.loads(body))
        compare(kind, data, plan.one(body, CHANNEL_TYPES))

    run()


@pytest.mark.parametrize("kind", KINDS)
def test_lists_give_the_python_paths_answer(kind: str) -> None:
    plan = native_plan(kind)

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
    @given(
        items=st.lists(st.sampled_from([0.0, 0.0, 0.1]).flatmap(lambda r: records(kind, r))),
        shape=st.integers(0, 4),
    )
    def run(items: list[Obj], shape: int) -> None:
        meta = Obj((("page", 1), ("page_size", 20), ("total_items", len(items))))
        body_value = [
            Obj((("success", True), ("data", items), ("meta", meta))),
            items,
            Obj((("data", items), ("pagination", Obj((("page", 1),))))),
            Obj((("success", True), ("data", None))),
            Obj((("data", Obj(())),)),
        ][shape]
        body = encode(body_value)
        found = plan.items(body, CHANNEL_TYPES)
        decoded = json.loads(body)
        records_ = decoded if isinstance(decoded, list) else decoded.get("data")
        records_ = records_ if isinstance(records_, list) else []
        if found is None:
            return
        built, meta_, pagination, bare = found
        assert bare is isinstance(decoded, list)
        if not bare:
            assert meta_ == decoded.get("meta") and pagination == decoded.get("pagination")
        assert len(built) == len(records_)
        for item, data in zip(built, records_, strict=True):
            if not isinstance(item, str):
                assert compare(kind, data, item)
            else:
                assert item == missing_channel(kind, data)

    run()


# -- explicit cases ------------------------------------------------------------------------------


def server_message(**changes: Any) -> dict[str, Any]:
    message = {
        "id": "m_1",
        "conversation_id": "c_1",
        "sender_type": "contact",
        "content_type": "text",
        "content": "hi",
        "status": "delivered",
        "created_at": "2024-01-15T10:30:00.123456Z",
    }
    message.update(changes)
    return {k: v for k, v in message.items() if v is not ...}


def one(kind: str, value: Any) -> Any:
    body = json.dumps({"success": True, "data": value}).encode()
    built = native_plan(kind).one(body, CHANNEL_TYPES)
    compare(kind, value, built)
    return built


def test_messages_in_each_shape_are_built() -> None:
    text = one("message", server_message())
    assert isinstance(text, Message) and text.content.text == "hi"
    assert text.direction == "inbound" and text.updated_at == text.created_at
    # A media message sent through the API (its URL as content), one received (a caption,
    # the URL in an attachment), and one listed without its attachment.
    sent = one("message", server_message(content_type="image", content="https://x/a.png"))
    assert (
        sent.content.media.url == "https://x/a.png" and sent.content.media.mime_type == "image/png"
    )
    received = one(
        "message",
        server_message(
            content_type="video",
            content="Olá",
            attachments=[{"url": "https://x/v", "mime_type": "video/mp4", "size_bytes": 3}],
        ),
    )
    assert received.content.media.caption == "Olá" and received.content.media.size == 3
    listed = one("message", server_message(content_type="document", content="the contract"))
    assert listed.content.media.url == "" and listed.content.media.caption == "the contract"
    assert one("message", server_message(sender_type="user")).sender_type == "agent"
    assert one("message", server_message(content_type="interactive")).content_type == "text"


def test_records_the_rules_do_not_reproduce_go_to_python() -> None:
    for value in [
        server_message(content_type=5),  # Python would fit a number: declined
        server_message(content_type="image", attachments=[{"url": 7}]),  # str(7)
        server_message(sender_type=["x"]),  # unhashable: Python raises TypeError
        server_message(created_at="2024-01-15 10:30:00"),  # pydantic reads other spellings
    ]:
        body = json.dumps(value).encode()
        assert native_plan("message").one(body) is None
    body = json.dumps({"id": "k", "item_count": "2"}).encode()
    assert native_plan("knowledge_base").one(body) is None  # int("2")


def test_a_conversation_of_an_unknown_channel_asks_for_it() -> None:
    value = {
        "id": "c",
        "tenant_id": "t",
        "channel_id": "ch_new",
        "contact_id": "k",
        "status": "closed",
        "unread_count": 0,
        "created_at": "2024-01-15T10:30:00Z",
        "updated_at": "2024-01-15T10:30:00Z",
    }
    assert one("conversation", value) == "ch_new"
    built = one("conversation", {**value, "channel_id": "ch_2"})
    assert isinstance(built, Conversation)
    assert built.channel_type == "telegram" and built.status == "resolved"
    # An id the Python path does not look up gets the unknown type at once.
    assert one("conversation", {**value, "channel_id": ""}).channel_type == "webchat"
    assert builders.server_one(Conversation, _dialect.adapt_conversation, b"{}") is None


def test_the_rules_read_dialects_tables() -> None:
    """The whitespace the URL rule knows is ``str.isspace``'s, to the last code point."""
    rules = builders.rules()
    assert rules is builders.rules()
    beyond = [c for c in map(chr, range(builders.LAST_SPACE + 1, 0x110000)) if c.isspace()]
    assert beyond == []


def test_a_plan_needs_a_known_adapter() -> None:
    assert builders.server_plan(Message, _dialect.adapt_user) is None
    message_plan = plan_for(Message)
    assert message_plan is not None
    with pytest.raises(ValueError, match="unknown adapter"):
        builders.DialectPlan(message_plan, "nope", builders.rules())


# -- the client, both ways -----------------------------------------------------------------------


def session(base_url: str, replies: list[Any] | None = None) -> dict[str, Any]:
    """Every covered read and a few writes, in the server dialect: the results and the
    requests made. With ``replies``, those are answered in order instead of by the server."""
    requests: list[str] = []
    results: dict[str, Any] = {}
    recorded = replies if replies is not None else []
    with LinktorClient(base_url=base_url) as client:
        http = client._http
        execute = http.execute

        def answer(request: Any) -> Any:
            requests.append(f"{request.method} {request.path} {request.params}")
            if replies is not None:
                return replies[len(requests) - 1]
            reply = execute(request)
            recorded.append(reply)
            return reply

        http.execute = answer  # type: ignore[method-assign]
        client.auth.login("demo@linktor.local", "demo-password")
        results["conversations"] = client.conversations.list(limit=5, offset=5)
        results["conversation"] = client.conversations.get("conv_demo")
        results["messages"] = client.conversations.list_messages("conv_demo")
        results["sent"] = client.conversations.send_text("conv_demo", "olá")
        results["image"] = client.conversations.send_message(
            "conv_demo", media={"url": "https://x/a.jpg", "mime_type": "image/jpeg"}
        )
        results["contacts"] = client.contacts.list(limit=3)
        results["contact"] = client.contacts.get("ct_demo_1")
        results["channels"] = client.channels.list()
        results["bots"] = client.bots.list()
        results["bot"] = client.bots.get("bot_demo")
        results["flows"] = client.flows.list()
        results["flow"] = client.flows.get("flow_demo")
        results["kbs"] = client.knowledge_bases.list()
        results["documents"] = client.knowledge_bases.list_documents("kb_demo")
    results["requests"] = requests
    results["replies"] = recorded
    return results


@pytest.mark.parametrize("profile", ["code", "documented"])
def test_the_client_gives_the_same_results_both_ways(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same answers through the native builders and through the Python path: the same
    models and the same requests (conversations' channel types included)."""
    with Emulator(linktor_server_profile=profile) as emu:
        native = session(emu.linktor_server_url)
        monkeypatch.setattr(resources, "server_one", lambda *a, **k: None)
        monkeypatch.setattr(resources, "server_items", lambda *a, **k: None)
        python = session(emu.linktor_server_url, native["replies"])
    assert native["requests"] == python["requests"]
    for key in native:
        if key not in ("requests", "replies"):
            assert_identical(native[key], python[key])


def test_results_keep_their_request_id(emu: Emulator) -> None:
    with LinktorClient(base_url=emu.linktor_server_url) as client:
        client.auth.login("demo@linktor.local", "demo-password")
        conversation = client.conversations.get("conv_demo")
        page = client.contacts.list()
    assert isinstance(conversation, Conversation) and conversation._request_id
    assert page._request_id and page._request_id != conversation._request_id


def test_validation_errors_are_the_python_paths() -> None:
    """A body the native plan declines raises the Python path's error."""
    from linktor._dialect import InvalidResponseError

    with Emulator() as emu, LinktorClient(base_url=emu.linktor_server_url) as client:
        client.auth.login("demo@linktor.local", "demo-password")
        original = client._http.execute

        def broken(request: Any) -> Any:
            reply = original(request)
            if request.path.startswith("/contacts/"):
                body = json.loads(reply.content)
                body["data"]["created_at"] = "not a time"
                return type(reply)(
                    reply.status, json.dumps(body).encode(), reply.headers, reply.method, reply.url
                )
            return reply

        client._http.execute = broken  # type: ignore[method-assign]
        with pytest.raises(InvalidResponseError, match="created_at"):
            client.contacts.get("ct_demo_1")


# -- realtime events -----------------------------------------------------------------------------


def sdk_message_fields() -> Fields:
    """A message in the SDK protocol's shape (camelCase, content an object)."""
    content = st.one_of(
        st.fixed_dictionaries({"text": TEXTS}),
        st.fixed_dictionaries(
            {"media": st.fixed_dictionaries({"url": IDS, "mimeType": words("image/png")})}
        ),
        st.just({}),
    )
    return {
        "id": lambda r: junk(IDS, r),
        "conversationId": lambda r: junk(IDS, r),
        "direction": lambda r: junk(words("inbound", "outbound"), r),
        "contentType": lambda r: junk(words("text", "image"), r),
        "content": lambda r: junk(content, r),
        "status": lambda r: junk(words("pending", "sent", "read"), r),
        "senderType": lambda r: junk(words("contact", "agent", "bot"), r),
        "senderId": lambda r: junk(st.none() | IDS, r),
        "metadata": meta_values,
        "createdAt": lambda r: junk(TIMES, r),
        "updatedAt": lambda r: junk(TIMES, r),
    }


SDK_MESSAGE_REQUIRED = frozenset(
    {"id", "conversationId", "direction", "contentType", "content", "status", "senderType"}
) | {"createdAt", "updatedAt"}
SERVER_MESSAGE_REQUIRED = KINDS["message"][3]


def messages(rate: float) -> st.SearchStrategy[Any]:
    return st.one_of(
        record(message_fields(), rate, SERVER_MESSAGE_REQUIRED),
        record(sdk_message_fields(), rate, SDK_MESSAGE_REQUIRED),
    )


def payload_fields(frame_type: str) -> tuple[Fields, frozenset[str]]:
    """The payload of each frame type, in both shapes (the SDK's camelCase and the server's
    snake_case keys mixed, as both may arrive)."""
    ids = lambda r: junk(IDS, r)  # noqa: E731
    conversation = conversation_fields()
    table: dict[str, tuple[Fields, frozenset[str]]] = {
        "connected": (
            {
                "user_id": ids,
                "userId": ids,
                "tenant_id": ids,
                "online_users": lambda r: junk(st.lists(IDS, max_size=2), r),
            },
            frozenset(),
        ),
        "presence": (
            {
                "user_id": ids,
                "userId": ids,
                "status": lambda r: junk(words("online", "offline"), r),
                "last_seen": lambda r: junk(TIMES, r),
            },
            frozenset({"user_id", "status"}),
        ),
        "typing": (
            {
                "conversation_id": ids,
                "conversationId": ids,
                "user_id": ids,
                "user_name": lambda r: junk(TEXTS, r),
                "is_typing": lambda r: junk(st.booleans(), r),
                "isTyping": lambda r: junk(st.booleans(), r),
            },
            frozenset({"conversation_id", "is_typing"}),
        ),
        "new_message": (
            {"conversation_id": ids, "conversationId": ids, "message": messages},
            frozenset({"message"}),
        ),
        "message_updated": (
            {
                "conversation_id": ids,
                "message_id": ids,
                "messageId": ids,
                "status": lambda r: junk(words("delivered", "read", "seen"), r),
                "timestamp": lambda r: junk(TIMES, r),
                "message": messages,
            },
            frozenset({"message"}),
        ),
        "conversation_updated": (
            {
                **conversation,
                "conversation_id": ids,
                "conversationId": ids,
                "assignedTo": ids,
                "channel_type": lambda r: junk(words("whatsapp", "webchat"), r),
                "channelType": lambda r: junk(words("whatsapp"), r),
                "tenantId": ids,
                "unreadCount": lambda r: junk(st.integers(0, 3), r),
                "createdAt": lambda r: junk(TIMES, r),
                "conversation": lambda r: junk(
                    record(
                        {**conversation, "channel_type": lambda r: words("whatsapp")},
                        r,
                        frozenset(conversation),
                    ),
                    r,
                ),
            },
            frozenset({"id", "status"}),
        ),
        "error": ({"message": lambda r: junk(TEXTS, r), "code": ids}, frozenset({"message"})),
    }
    table["message"] = table["new_message"]
    table["message_status"] = table["message_updated"]
    table["conversation_created"] = table["conversation_update"] = table["conversation_updated"]
    return table[frame_type]


FRAME_TYPES = [
    "connected",
    "presence",
    "typing",
    "new_message",
    "message",
    "message_updated",
    "message_status",
    "conversation_created",
    "conversation_updated",
    "conversation_update",
    "error",
]


@st.composite
def frames(draw: st.DrawFn, rate: float) -> bytes:
    """A realtime frame: a known type with its payload (either shape, with junk at ``rate``),
    or an unknown type, ``pong``, an absent or ``null`` payload, a payload that has a
    ``type`` of its own."""
    frame_type = draw(
        st.one_of(st.sampled_from(FRAME_TYPES), st.sampled_from(["pong", "brand_new", "malformed"]))
    )
    fields, required = (
        payload_fields(frame_type) if frame_type in FRAME_TYPES else ({}, frozenset())
    )
    payload: Any = draw(record(fields, rate, required))
    if rate and draw(st.integers(0, 9)) == 0:
        payload = Obj((*payload.items, ("type", draw(st.sampled_from(["x", frame_type])))))
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return encode(Obj((("type", frame_type),)))
    if shape == 1:
        return encode(Obj((("payload", None), ("type", frame_type))))
    return encode(Obj((("type", frame_type), ("payload", payload), ("at", "x"))))


def native_decoder() -> Any:
    from linktor.websocket import _decoder_events
    from relaywire.streams import EnvelopeDecoder

    return EnvelopeDecoder(events=_decoder_events())


def check_frame(native: Any, plain: Any, frame: bytes) -> bool:
    """The native decoder's entry for ``frame`` against the Python path; whether it built."""
    from linktor.websocket import to_event

    (entry,), _ = native.decode(frame)
    (reference,), _ = plain.decode(frame)
    if isinstance(entry, tuple):
        assert entry == reference
        return False
    frame_type, payload = reference
    expected = to_event(frame_type, payload)  # raises where the native decoder must decline
    assert expected is not None
    assert_identical(entry, expected)
    return True


def test_realtime_frames_of_both_shapes_are_built_natively() -> None:
    from relaywire.streams import EnvelopeDecoder

    native, plain = native_decoder(), EnvelopeDecoder()

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(frame=frames(0.0))
    def run(frame: bytes) -> None:
        from linktor.websocket import to_event

        (reference,), _ = plain.decode(frame)
        expected = to_event(*reference)
        built = check_frame(native, plain, frame)
        # What the Python path turns into a real event, the native decoder builds too.
        if expected is not None and not isinstance(expected, builders_unknown()):
            assert built, frame

    run()


def builders_unknown() -> type[Any]:
    from linktor.types.realtime import UnknownEvent

    return UnknownEvent


def test_any_realtime_frame_gives_the_python_paths_event() -> None:
    from relaywire.streams import EnvelopeDecoder

    native, plain = native_decoder(), EnvelopeDecoder()

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(frame=st.sampled_from([0.05, 0.2, 0.5]).flatmap(frames))
    def run(frame: bytes) -> None:
        check_frame(native, plain, frame)

    run()


def test_deferred_frames_build_what_the_eager_decoder_builds() -> None:
    """``defer=True`` hands out ``PendingEvent``s (``connected`` and the Python path's types
    excepted) whose ``build()`` is the eager decoder's entry; a whole burst fed at once gives
    the same entries as frame by frame."""
    from linktor.websocket import _decoder_events
    from relaywire.streams import FLAG_CONTROL, EnvelopeDecoder, PendingEvent

    # Without events there is nothing to defer: every entry is a tuple, flagged.
    plain = EnvelopeDecoder(defer=True)
    entries, flags = plain.decode(b'{"type": "typing", "payload": {"a": 1}}')
    assert entries == [("typing", {"a": 1})] and flags == FLAG_CONTROL
    eager = EnvelopeDecoder(events=_decoder_events())
    deferred = EnvelopeDecoder(events=_decoder_events(), defer=True)
    assert deferred.defer and not eager.defer and deferred.events is eager.events

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(frame=st.sampled_from([0.0, 0.0, 0.2]).flatmap(frames))
    def run(frame: bytes) -> None:
        (entry,), flags = eager.decode(frame)
        (pending,), deferred_flags = deferred.decode(frame)
        frame_type = json.loads(frame)["type"]
        if frame_type in ("pong", "connected"):
            # Anything but a PendingEvent is an entry to look at now: FLAG_CONTROL says so.
            assert type(pending) is not PendingEvent
            assert deferred_flags == flags | FLAG_CONTROL
            built = pending
        else:
            assert type(pending) is PendingEvent and pending.type == frame_type
            assert deferred_flags == flags == 0
            built = pending.build()
            assert repr(pending) == f"<PendingEvent {frame_type}>"
        assert type(built) is type(entry)
        if isinstance(entry, tuple):
            assert built == entry
        else:
            assert_identical(built, entry)

    run()


def test_pending_events_of_many_reads_build_in_any_order() -> None:
    """The frames of one read are kept together until the last of their pending events is
    gone: frames split across reads at any byte, events built in any order, after later reads,
    a reset and the decoder itself are gone, still build what the eager decoder builds."""
    from _stream_reference import ws_frame

    from linktor.websocket import _decoder_events
    from relaywire.streams import EnvelopeDecoder, PendingEvent

    eager = EnvelopeDecoder(events=_decoder_events())

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(
        batch=st.lists(st.sampled_from([0.0, 0.2]).flatmap(frames), min_size=1, max_size=12),
        cuts=st.lists(st.integers(0, 4000), max_size=6),
        order=st.randoms(use_true_random=False),
    )
    def run(batch: list[bytes], cuts: list[int], order: Any) -> None:
        expected = [eager.decode(frame)[0][0] for frame in batch]
        data = b"".join(ws_frame(frame) for frame in batch)
        bounds = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
        decoder = EnvelopeDecoder(events=_decoder_events(), defer=True)
        entries: list[Any] = []
        for start, end in itertools.pairwise(bounds):
            read, _, _, error = decoder.feed(data[start:end])
            assert error is None
            entries.extend(read)
        assert len(entries) == len(batch)
        decoder.reset()
        del decoder
        gc.collect()
        positions = list(range(len(entries)))
        order.shuffle(positions)
        for i in positions:
            entry = entries[i]
            built = entry.build() if type(entry) is PendingEvent else entry
            if isinstance(expected[i], tuple):
                assert built == expected[i]
            else:
                assert_identical(built, expected[i])
            entries[i] = None  # its read is freed with the last event that holds it

    run()


def test_pending_events_are_not_tracked_by_the_collector() -> None:
    """A burst queues thousands of ``PendingEvent``s; they hold no reference a cycle could pass
    through (the frozen event table, a string), so the collector does not track them and its
    collections do not walk the queue again and again. Built, the event is an ordinary one."""
    from linktor.websocket import _decoder_events
    from relaywire.streams import EnvelopeDecoder, PendingEvent

    decoder = EnvelopeDecoder(events=_decoder_events(), defer=True)
    frame = {
        "type": "typing",
        "payload": {"conversation_id": "c1", "user_id": "u1", "is_typing": True},
    }
    entries, _ = decoder.decode(json.dumps(frame).encode())
    (pending,) = entries
    assert type(pending) is PendingEvent and not gc.is_tracked(pending)
    event = pending.build()
    assert event.conversation_id == "c1" and gc.is_tracked(event)
    del pending
    gc.collect()  # an untracked object is still freed by its reference count
    assert event.user_id == "u1"


# -- webhook events ------------------------------------------------------------------------------

SECRET = "whsec_native_tests"
EVENT_TYPES = [
    "message.received",
    "message.read",
    "conversation.created",
    "contact.updated",
    "channel.error",
    "brand.new",
    "",
    "Message.Received",
]


def data_values(rate: float) -> st.SearchStrategy[Any]:
    message = st.fixed_dictionaries(
        {"message": st.fixed_dictionaries({"id": IDS, "text": TEXTS}), "conversationId": IDS},
        optional={"channelType": words("whatsapp"), "n": st.integers(-5, 5), "f": st.floats()},
    )
    return junk(st.one_of(message, st.just({}), st.lists(st.integers(0, 3), max_size=2)), rate)


def delivery_fields() -> Fields:
    return {
        "id": lambda r: junk(words("evt_1", "evt_0123456789"), r),
        "type": lambda r: junk(st.sampled_from(EVENT_TYPES), r),
        "timestamp": lambda r: junk(TIMES, r),
        "tenantId": lambda r: junk(words("tenant_demo", "t"), r),
        "tenant_id": lambda r: junk(words("t2"), r),
        "data": data_values,
    }


def deliveries(rate: float) -> st.SearchStrategy[bytes]:
    required = frozenset({"id", "type", "timestamp", "tenantId", "data"})
    return st.builds(
        encode, record(delivery_fields(), rate, required), st.sampled_from([COMPACT, SPACED])
    )


def reader() -> Any:
    from linktor.utils.webhook import _reader

    found = _reader()
    assert found is not None
    return found


def python_event(body: bytes) -> Any:
    from linktor.utils.webhook import _python_event

    try:
        return _python_event(body)
    except Exception as exc:
        return exc


def test_deliveries_are_built_as_the_python_path_builds_them() -> None:
    native = reader()
    built = 0

    @settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
    @given(body=st.sampled_from([0.0, 0.0, 0.05, 0.3]).flatmap(deliveries))
    def run(body: bytes) -> None:
        nonlocal built
        expected = python_event(body)
        event = native.parse(body)
        if event is None:
            return
        assert not isinstance(expected, Exception), f"built where Python raises {expected!r}"
        assert_identical(event, expected)
        built += 1

    run()
    assert built > 50, "the native reader declined nearly every delivery"


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "e", "type": "message.received", "timestamp": "2024-01-15T10:30:00Z", '
        b'"tenantId": "t", "data": {"x": NaN}}',  # pydantic_core.from_json takes NaN
        b'{"id": "e", "type": "message.received", "timestamp": "2024-01-15 10:30:00", '
        b'"tenantId": "t", "data": {}}',  # another spelling pydantic reads
        b'{"id": "e", "type": 5, "timestamp": "t", "data": {}}',
        b'{"id": "", "type": "message.received", "timestamp": "2024-01-15T10:30:00Z"}',
        b'[{"id": "e"}]',
        b'{"id": "e", "type": "message.received", "timestamp": "2024-01-15T10:30:00Z", '
        b'"tenantId": "t", "data": 123456789012345678901234567890}',
        b"not json",
    ],
)
def test_deliveries_the_reader_declines_go_to_python(body: bytes) -> None:
    assert reader().parse(body) is None
    python_event(body)  # whatever it is, construct_event gives it (tested below)


def signed(body: bytes, **extra: str) -> dict[str, str]:
    from linktor.utils.webhook import compute_signature

    return {"X-Linktor-Signature": compute_signature(body, SECRET), **extra}


DELIVERY = json.dumps(
    {
        "id": "evt_1",
        "type": "message.received",
        "timestamp": "2024-01-15T10:30:00Z",
        "tenantId": "tenant_demo",
        "data": {"message": {"id": "m", "text": "hi"}, "conversationId": "c"},
    }
).encode()


def test_construct_event_in_one_call_gives_the_python_paths_answers() -> None:
    import time

    from linktor.utils.errors import (
        WebhookPayloadError,
        WebhookReplayError,
        WebhookSignatureError,
    )
    from linktor.utils.webhook import ReplayGuard, _python_event, construct_event

    event = construct_event(DELIVERY, signed(DELIVERY), SECRET)
    assert_identical(event, _python_event(DELIVERY))
    # Stale timestamps, wrong signatures and missing headers fail as before.
    stale = signed(DELIVERY, **{"X-Linktor-Timestamp": str(int(time.time()) - 3600)})
    for headers, reason in [
        (stale, "invalid_timestamp"),
        ({"X-Linktor-Signature": "0" * 64}, "invalid_signature"),
        ({}, "missing_signature"),
    ]:
        with pytest.raises(WebhookSignatureError) as info:
            construct_event(DELIVERY, headers, SECRET)
        assert info.value.details["reason"] == reason
    # A body the reader declines is verified once, then parsed by the Python path.
    spaced = DELIVERY.replace(b"T10:30:00Z", b" 10:30:00")
    assert reader().parse(spaced) is None
    assert_identical(construct_event(spaced, signed(spaced), SECRET), _python_event(spaced))
    broken = b'{"id": "e", "type": "message.received"}'
    with pytest.raises(WebhookPayloadError, match="structure"):
        construct_event(broken, signed(broken), SECRET)
    # The guard remembers a signature once its event is built, natively or not.
    guard = ReplayGuard()
    for body in (DELIVERY, spaced):
        construct_event(body, signed(body), SECRET, replay_guard=guard)
        with pytest.raises(WebhookReplayError):
            construct_event(body, signed(body), SECRET, replay_guard=guard)
    with pytest.raises(WebhookPayloadError):
        construct_event(broken, signed(broken), SECRET, replay_guard=guard)
    assert len(guard) == 2
    # The documented keyword form and the Go SDK's signature form take the same path.
    assert (
        construct_event(DELIVERY, signature=signed(DELIVERY)["X-Linktor-Signature"], secret=SECRET)
        == event
    )
    assert construct_event(DELIVERY, signed(DELIVERY)["X-Linktor-Signature"], SECRET) == event


def test_verified_deliveries_become_events_without_verifying_again() -> None:
    from dataclasses import dataclass

    from linktor.types.webhook import UnknownWebhookEvent
    from linktor.utils.errors import WebhookPayloadError
    from linktor.utils.webhook import _python_event
    from linktor.webhooks import delivery_event, parse_event

    @dataclass
    class Delivery:  # the shape of relaywire.ingest.Delivery
        source: str
        body: bytes

    assert_identical(parse_event(DELIVERY), _python_event(DELIVERY))
    assert_identical(delivery_event(Delivery("linktor", DELIVERY)), _python_event(DELIVERY))
    unknown = DELIVERY.replace(b"message.received", b"brand.new")
    assert isinstance(parse_event(unknown), UnknownWebhookEvent)
    assert parse_event(DELIVERY.decode()) == _python_event(DELIVERY)
    with pytest.raises(WebhookPayloadError):
        parse_event(b"[]")
    with pytest.raises(TypeError, match="raw bytes body"):
        delivery_event(Delivery("linktor", None))  # type: ignore[arg-type]
