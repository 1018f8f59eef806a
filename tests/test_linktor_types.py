"""The ``linktor.types`` models: aliases both ways, defaults, enums, unknown keys, datetimes,
generics, the realtime events and the fast JSON parsing helpers."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timezone
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linktor.types import (
    ButtonContent,
    ChannelType,
    Contact,
    Conversation,
    ConversationStatus,
    DocumentChunk,
    EmailConfig,
    ListContactsParams,
    ListConversationsParams,
    Message,
    MessageReceivedEventData,
    MessageStatus,
    PaginatedResponse,
    Pagination,
    ScoredChunk,
    SMSConfig,
    User,
    UserRole,
    VRETemplate,
    WebhookEvent,
    WebhookEventType,
    WhatsAppConfig,
)
from linktor.types.realtime import (
    ConnectedEvent,
    ConversationUpdateEvent,
    MessageEvent,
    MessageStatusEvent,
    PresenceEvent,
    TypingEvent,
    UnknownEvent,
)
from relaywire.models import plan_for, validate_json

TS = "2024-01-15T10:30:00Z"
TS_DT = datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc)


def message_json(i: int = 0) -> dict[str, Any]:
    return {
        "id": f"msg_{i}",
        "conversationId": f"conv_{i}",
        "direction": "inbound",
        "contentType": "text",
        "content": {"text": f"hello {i}"},
        "status": "delivered",
        "senderType": "contact",
        "senderId": "contact_1",
        "deliveredAt": TS,
        "metadata": {"source": "api", "n": i},
        "createdAt": TS,
        "updatedAt": TS,
    }


def conversation_json(i: int = 0) -> dict[str, Any]:
    return {
        "id": f"conv_{i}",
        "tenantId": "tenant_1",
        "channelId": "ch_1",
        "channelType": "whatsapp",
        "contactId": f"contact_{i}",
        "status": "open",
        "assignedTo": "agent_1",
        "lastMessage": message_json(i),
        "lastMessageAt": TS,
        "unreadCount": i,
        "tags": ["vip"],
        "createdAt": TS,
        "updatedAt": TS,
    }


def snake_case(value: Any) -> Any:
    """The same JSON with snake_case keys (what the self-hosted server and field names use)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
            out[snake if key not in ("metadata",) else key] = (
                item if key == "metadata" else snake_case(item)
            )
        return out
    if isinstance(value, list):
        return [snake_case(v) for v in value]
    return value


# ------------------------------------------------------------------ aliases


def test_camel_case_in_and_out() -> None:
    data = conversation_json(3)
    conversation = Conversation.model_validate(data)
    assert conversation.tenant_id == "tenant_1"
    assert conversation.channel_type is ChannelType.WHATSAPP
    assert conversation.last_message is not None
    assert conversation.last_message.content.text == "hello 3"
    dumped = conversation.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["tenantId"] == "tenant_1"
    assert dumped["lastMessage"]["conversationId"] == "conv_3"
    assert "tenant_id" not in dumped
    assert Conversation.model_validate(dumped) == conversation


def test_snake_case_field_names_are_accepted_too() -> None:
    by_alias = Conversation.model_validate(conversation_json(1))
    by_name = Conversation.model_validate(snake_case(conversation_json(1)))
    assert by_name == by_alias
    assert Conversation(**snake_case(conversation_json(1))) == by_alias
    dumped = by_name.model_dump()
    assert dumped["tenant_id"] == "tenant_1" and "tenantId" not in dumped


def test_alias_and_name_can_be_mixed() -> None:
    data = conversation_json()
    data["contact_id"] = data.pop("contactId")
    assert Conversation.model_validate(data).contact_id == "contact_0"


def test_constructor_takes_field_names() -> None:
    user = User(
        id="u1",
        email="a@example.com",
        name="Ana",
        role="admin",
        tenant_id="t1",
        created_at=TS,
        updated_at=TS,
    )
    assert user.role is UserRole.ADMIN
    assert user.model_dump(by_alias=True)["tenantId"] == "t1"
    assert user.avatar_url is None and user.phone is None


def test_unknown_keys_are_ignored() -> None:
    data = conversation_json()
    data["contact"] = {"name": "John"}
    data["somethingNew"] = 1
    conversation = Conversation.model_validate(data)
    assert not hasattr(conversation, "somethingNew")
    assert "somethingNew" not in conversation.model_dump(by_alias=True)
    assert not hasattr(conversation, "contact")  # the docs' conversation.contact does not exist


def test_required_fields_are_required() -> None:
    data = conversation_json()
    del data["unreadCount"]
    with pytest.raises(pydantic.ValidationError, match="unreadCount"):
        Conversation.model_validate(data)


def test_defaults() -> None:
    assert (
        WhatsAppConfig(
            phoneNumberId="p", businessAccountId="b", accessToken="a", verifyToken="v"
        ).type
        == "whatsapp"
    )
    sms = SMSConfig(account_sid="AC", auth_token="t", phone_number="+1")
    assert (sms.type, sms.provider) == ("sms", "twilio")
    with pytest.raises(pydantic.ValidationError):
        EmailConfig(from_email="a@b.c")  # provider is required
    params = ListConversationsParams()
    assert params.model_dump() == dict.fromkeys(params.model_dump())
    # Pagination keys on every List*Params (the Go docs page contacts with Limit).
    assert ListContactsParams(search="john", limit=10).limit == 10


def test_pagination_and_generic_page() -> None:
    page = PaginatedResponse[Conversation].model_validate(
        {
            "data": [conversation_json(i) for i in range(3)],
            "pagination": {"total": 3, "limit": 20, "offset": 0, "hasMore": False},
        }
    )
    assert [c.id for c in page.data] == ["conv_0", "conv_1", "conv_2"]
    assert page.pagination.has_more is False and page.pagination.next_cursor is None
    snake = Pagination.model_validate(
        {"total": 1, "limit": 1, "offset": 0, "has_more": True, "next_cursor": "c"}
    )
    assert snake.model_dump(by_alias=True) == {
        "total": 1,
        "limit": 1,
        "offset": 0,
        "hasMore": True,
        "nextCursor": "c",
    }


def test_models_pickle_and_copy() -> None:
    conversation = Conversation.model_validate(conversation_json(2))
    assert pickle.loads(pickle.dumps(conversation)) == conversation
    assert copy.deepcopy(conversation) == conversation


# ------------------------------------------------------------------ enums


def test_enums_are_strict() -> None:
    data = conversation_json()
    data["status"] = "closed"  # the server's value, not one of the SDK's
    with pytest.raises(pydantic.ValidationError, match="status"):
        Conversation.model_validate(data)


def test_enum_members_behave_as_their_values() -> None:
    status = ConversationStatus.OPEN
    assert status == "open" and isinstance(status, str)
    assert str(status) == "open" and f"{status}" == "open" and f"{status:>6}" == "  open"
    assert {"open": 1}[status] == 1
    assert json.dumps({"s": status}) == '{"s": "open"}'
    assert WebhookEventType("message.received") is WebhookEventType.MESSAGE_RECEIVED
    assert repr(status) == "<ConversationStatus.OPEN: 'open'>"


def test_enum_dumps_as_value_in_json_mode() -> None:
    conversation = Conversation.model_validate(conversation_json())
    assert conversation.model_dump(mode="json")["status"] == "open"
    assert '"status":"open"' in conversation.model_dump_json()


def test_literal_button_type() -> None:
    assert ButtonContent(type="url", text="Go", url="https://x").type == "url"
    with pytest.raises(pydantic.ValidationError):
        ButtonContent(type="link", text="Go")


# ------------------------------------------------------------------ datetimes


@pytest.mark.parametrize(
    "value",
    [
        TS,
        "2024-01-15T10:30:00+00:00",
        "2024-01-15T07:30:00-03:00",
        "2024-01-15T10:30:00.000Z",
        int(TS_DT.timestamp()),
        float(TS_DT.timestamp()),
    ],
)
def test_datetimes_accept_iso_and_epoch(value: Any) -> None:
    data = conversation_json()
    data["createdAt"] = value
    assert Conversation.model_validate(data).created_at == TS_DT
    assert Conversation.model_validate_json(json.dumps(data)).created_at == TS_DT


def test_datetime_round_trip_and_rejects_garbage() -> None:
    conversation = Conversation.model_validate(conversation_json())
    assert conversation.model_dump(mode="json", by_alias=True)["createdAt"] == TS
    data = conversation_json()
    data["createdAt"] = "yesterday"
    with pytest.raises(pydantic.ValidationError, match="createdAt"):
        Conversation.model_validate(data)


def test_naive_datetimes_stay_naive() -> None:
    data = conversation_json()
    data["createdAt"] = "2024-01-15T10:30:00"
    assert Conversation.model_validate(data).created_at.tzinfo is None


# ------------------------------------------------------------------ particular models


def test_message_text_property() -> None:
    assert Message.model_validate(message_json(7)).text == "hello 7"


def test_vre_template_schema_field_is_the_dict() -> None:
    template = VRETemplate(
        id="menu_opcoes", name="Menu", description="d", schema={"type": "object"}
    )
    assert template.schema == {"type": "object"}
    assert template.model_dump()["schema"] == {"type": "object"}


def test_scored_chunk_extends_document_chunk() -> None:
    chunk = ScoredChunk.model_validate(
        {
            "id": "c",
            "documentId": "d",
            "content": "x",
            "chunkIndex": 0,
            "tokenCount": 1,
            "score": 0.5,
        }
    )
    assert isinstance(chunk, DocumentChunk)
    assert chunk.score == 0.5 and chunk.document is None


def test_contact_identifiers_required() -> None:
    with pytest.raises(pydantic.ValidationError, match="identifiers"):
        Contact.model_validate(
            {
                "id": "c",
                "tenantId": "t",
                "name": "n",
                "conversationCount": 0,
                "createdAt": TS,
                "updatedAt": TS,
            }
        )


def test_webhook_event_generic() -> None:
    body = {
        "id": "evt_1",
        "type": "message.received",
        "timestamp": TS,
        "tenantId": "t_1",
        "data": {
            "message": {"id": "m"},
            "conversationId": "c",
            "contactId": "k",
            "channelId": "ch",
            "channelType": "telegram",
        },
    }
    raw = WebhookEvent.model_validate(body)
    assert raw.data["conversationId"] == "c"
    typed = WebhookEvent[MessageReceivedEventData].model_validate(body)
    assert typed.data.channel_type is ChannelType.TELEGRAM
    assert typed.type is WebhookEventType.MESSAGE_RECEIVED and typed.timestamp == TS_DT


# ------------------------------------------------------------------ realtime events


def test_realtime_events_accept_server_and_sdk_names() -> None:
    typing_server = TypingEvent.model_validate(
        {"conversation_id": "c", "user_id": "u", "user_name": "", "is_typing": True}
    )
    typing_sdk = TypingEvent.model_validate(
        {"conversationId": "c", "userId": "u", "isTyping": True}
    )
    assert typing_server.is_typing and typing_sdk.user_id == "u" and typing_sdk.type == "typing"
    message = MessageEvent.model_validate({"conversation_id": "c", "message": message_json(1)})
    assert message.message.text == "hello 1" and message.conversation_id == "c"
    status = MessageStatusEvent.model_validate({"messageId": "m", "status": "read"})
    assert status.status is MessageStatus.READ
    assert MessageStatusEvent(message_id="m", status="seen").status == "seen"
    presence = PresenceEvent.model_validate({"user_id": "u", "status": "offline", "last_seen": TS})
    assert not presence.online and presence.last_seen == TS_DT
    assert PresenceEvent(user_id="u", status="online").online
    connected = ConnectedEvent.model_validate(
        {"user_id": "u", "tenant_id": "t", "online_users": ["a"]}
    )
    assert connected.online_users == ["a"]
    update = ConversationUpdateEvent.model_validate({"conversationId": "c", "status": "resolved"})
    assert update.status is ConversationStatus.RESOLVED and update.conversation is None
    unknown = UnknownEvent(type="message_reaction", payload={"emoji": "x"})
    assert unknown.payload == {"emoji": "x"}


# ------------------------------------------------------------------ fast parsing
# The resources parse bodies with relaywire.models.validate_json (a native plan, pydantic when
# the plan declines); tests/test_models_plan.py covers it in general, these on the models.


def page_json(items: list[dict[str, Any]]) -> bytes:
    pagination = {"total": len(items), "limit": 20, "offset": 0, "hasMore": False}
    return json.dumps({"data": items, "pagination": pagination}).encode()


def test_fast_parse_equals_model_validate() -> None:
    items = [conversation_json(i) for i in range(5)]
    page_model = PaginatedResponse[Conversation]
    raw = page_json(items)
    plan = plan_for(page_model)
    assert plan is not None and plan.build(raw) is not None  # the native path, not a fallback
    page = validate_json(page_model, raw)
    assert page == page_model.model_validate(json.loads(raw))
    assert page.data == [Conversation.model_validate(d) for d in items]
    assert validate_json(Message, json.dumps(message_json(1)).encode()) == Message.model_validate(
        message_json(1)
    )


def test_fast_parse_falls_back_to_pydantic_lax_mode() -> None:
    data = conversation_json()
    data["unreadCount"] = "4"  # a numeric string: only pydantic's lax mode takes it
    data["createdAt"] = int(TS_DT.timestamp())
    raw = json.dumps(data).encode()
    plan = plan_for(Conversation)
    assert plan is not None and plan.build(raw) is None
    conversation = validate_json(Conversation, raw)
    assert conversation.unread_count == 4 and conversation.created_at == TS_DT


@pytest.mark.parametrize("raw", [b"", b"[{", b'{"id": ', b"\xff\xfe", b"nope"])
def test_fast_parse_invalid_json_is_a_validation_error(raw: bytes) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        validate_json(Conversation, raw)
    assert info.value.errors()[0]["type"] == "json_invalid"


def test_fast_parse_invalid_data_reports_pydantics_error() -> None:
    data = conversation_json()
    data["status"] = "closed"
    with pytest.raises(pydantic.ValidationError) as info:
        validate_json(PaginatedResponse[Conversation], page_json([data]))
    assert [e["loc"] for e in info.value.errors()] == [("data", 0, "status")]


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)


@settings(max_examples=150)
@given(
    changes=st.dictionaries(
        st.sampled_from(
            [
                "unreadCount",
                "status",
                "channelType",
                "createdAt",
                "assignedTo",
                "tags",
                "metadata",
                "id",
            ]
        ),
        st.one_of(json_scalars, st.lists(json_scalars, max_size=3)),
        max_size=3,
    )
)
def test_fast_parse_agrees_with_json_loads_and_model_validate(changes: dict[str, Any]) -> None:
    """The native plan (or its pydantic fallback) accepts and produces exactly what
    ``model_validate`` does."""
    data = conversation_json(1)
    data.update(changes)
    raw = page_json([data])
    page_model = PaginatedResponse[Conversation]
    try:
        expected: Any = page_model.model_validate_json(raw)
        assert expected == page_model.model_validate(json.loads(raw))
    except pydantic.ValidationError as exc:
        expected = exc.errors(include_url=False)
    try:
        got: Any = validate_json(page_model, raw)
    except pydantic.ValidationError as exc:
        got = exc.errors(include_url=False)
    assert got == expected
