"""The linktor clients against the emulator: auth, conversations, messages, contacts, channels.

Every test runs four times: SDK protocol and self-hosted server protocol, blocking client and
asyncio client (through :class:`_linktor_client_support.AsyncFacade`), and checks that each
method returns the same models either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _linktor_client_support import (
    COMBO_IDS,
    COMBOS,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    Harness,
    module_emulator,
    open_client,
    unique,
)

from linktor import (
    AuthenticationError,
    Channel,
    ChannelStatus,
    ChannelType,
    ConflictError,
    Contact,
    ContentType,
    Conversation,
    ConversationStatus,
    LoginResponse,
    Message,
    MessageDirection,
    NotFoundError,
    PaginatedResponse,
    RefreshTokenResponse,
    SenderType,
    User,
)
from linktor._dialect import UnpagedListWarning, UnsupportedOperationError
from relaywire.emulator import Emulator

emulator = pytest.fixture(scope="module")(module_emulator)


@pytest.fixture(params=COMBOS, ids=COMBO_IDS)
def lk(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Harness]:
    dialect, mode = request.param
    harness = open_client(emulator, dialect, mode)
    yield harness
    harness.close()


def new_conversation(emu: Emulator, **fields: Any) -> str:
    """A fresh open conversation with one inbound message (tests change conversations)."""
    record = emu.call(
        emu.linktor.create_conversation,
        {"channel_id": "ch_demo", "contact_id": "ct_demo_1", **fields},
    )
    emu.call(
        emu.linktor.add_message,
        record["id"],
        direction="inbound",
        content={"text": "hello"},
        sender_type="contact",
    )
    return str(record["id"])


# -- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dialect", "mode"), COMBOS, ids=COMBO_IDS)
def test_login_then_send_text(emulator: Emulator, dialect: str, mode: str) -> None:
    harness = open_client(emulator, dialect, mode, login=False, api_key=None)
    try:
        client = harness.client
        login = client.auth.login(DEMO_EMAIL, DEMO_PASSWORD)
        assert isinstance(login, LoginResponse)
        assert login.user.email == DEMO_EMAIL
        assert login.token_type == "Bearer"
        assert login.expires_in > 0
        message = client.conversations.send_text("conv_demo", "hello from the test")
        assert isinstance(message, Message)
        assert message.content.text == "hello from the test"
        assert message.direction is MessageDirection.OUTBOUND
        assert message.sender_type is SenderType.AGENT
        assert message.conversation_id == "conv_demo"
    finally:
        harness.close()


def test_current_user_and_refresh(lk: Harness) -> None:
    me = lk.client.auth.get_current_user()
    assert isinstance(me, User)
    assert me.email == DEMO_EMAIL
    login = lk.client.auth.login(DEMO_EMAIL, DEMO_PASSWORD)
    refreshed = lk.client.auth.refresh_token(login.refresh_token)
    assert isinstance(refreshed, RefreshTokenResponse)
    assert refreshed.access_token and refreshed.access_token != login.access_token
    assert lk.raw._http.access_token == refreshed.access_token
    assert lk.client.auth.get_current_user().id == me.id


def test_bad_credentials(lk: Harness) -> None:
    with pytest.raises(AuthenticationError) as caught:
        lk.client.auth.login(DEMO_EMAIL, "wrong-password")
    assert caught.value.status_code == 401
    assert caught.value.request_id


@pytest.mark.parametrize(("dialect", "mode"), COMBOS, ids=COMBO_IDS)
def test_logout(emulator: Emulator, dialect: str, mode: str) -> None:
    harness = open_client(emulator, dialect, mode, login=False, api_key=None)
    try:
        harness.client.auth.login(DEMO_EMAIL, DEMO_PASSWORD)
        assert harness.client.auth.logout() is None
        if harness.server:
            # The server's tokens are stateless: the client forgets its token.
            assert harness.raw._http.access_token is None
            with pytest.raises(AuthenticationError):
                harness.client.auth.get_current_user()
    finally:
        harness.close()


# -- conversations ---------------------------------------------------------------------------


def test_list_and_get_conversations(lk: Harness) -> None:
    page = lk.client.conversations.list(limit=5)
    assert isinstance(page, PaginatedResponse)
    assert len(page.data) == 5
    assert all(isinstance(c, Conversation) for c in page.data)
    assert page.pagination.limit == 5 and page.pagination.offset == 0
    assert page.pagination.has_more and page.pagination.total >= 28
    conversation = lk.client.conversations.get("conv_demo")
    assert conversation.id == "conv_demo"
    assert conversation.channel_type is ChannelType.WHATSAPP
    assert conversation.contact_id == "ct_demo_1"
    # The self-hosted server never stores or reads conversation tags.
    assert conversation.tags == (None if lk.server else ["demo"])


def test_enum_filter_is_sent_as_its_value(lk: Harness) -> None:
    page = lk.client.conversations.list(status=ConversationStatus.RESOLVED, limit=100)
    assert page.data, "the seeds have resolved conversations"
    assert {c.status for c in page.data} == {ConversationStatus.RESOLVED}


def test_get_unknown_conversation(lk: Harness) -> None:
    with pytest.raises(NotFoundError) as caught:
        lk.client.conversations.get("conv_missing")
    assert caught.value.status_code == 404
    assert caught.value.request_id


def test_update_resolve_and_assign(lk: Harness, emulator: Emulator) -> None:
    conversation_id = new_conversation(emulator)
    updated = lk.client.conversations.update(conversation_id, tags=["vip", "billing"])
    assert isinstance(updated, Conversation)
    assert updated.tags == ["vip", "billing"]
    assigned = lk.client.conversations.assign(conversation_id, "usr_demo")
    assert assigned.assigned_to == "usr_demo"
    resolved = lk.client.conversations.resolve(conversation_id)
    assert resolved.status is ConversationStatus.RESOLVED
    assert lk.client.conversations.get(conversation_id).status is ConversationStatus.RESOLVED


def test_update_with_assignee(lk: Harness, emulator: Emulator) -> None:
    conversation_id = new_conversation(emulator)
    updated = lk.client.conversations.update(
        conversation_id, status="pending", assigned_to="usr_demo"
    )
    assert updated.status is ConversationStatus.PENDING
    assert updated.assigned_to == "usr_demo"


def test_messages(lk: Harness, emulator: Emulator) -> None:
    conversation_id = new_conversation(emulator)
    sent = lk.client.conversations.send_message(conversation_id, text="first reply")
    assert sent.content_type is ContentType.TEXT
    image = lk.client.conversations.send_message(
        conversation_id, media={"url": "https://cdn.example.com/cat.png", "mimeType": "image/png"}
    )
    assert image.content_type is ContentType.IMAGE
    assert image.content.media is not None
    assert image.content.media.url == "https://cdn.example.com/cat.png"
    page = lk.client.conversations.list_messages(conversation_id)
    assert page.pagination.total == 3
    texts = {m.content.text for m in page.data}
    assert {"hello", "first reply"} <= texts
    inbound = [m for m in page.data if m.direction is MessageDirection.INBOUND]
    assert len(inbound) == 1 and inbound[0].sender_type is SenderType.CONTACT
    ids = [m.id for m in lk.client.conversations.iter_messages(conversation_id, limit=2)]
    assert sorted(ids) == sorted(m.id for m in page.data)


def test_rich_message_kinds(lk: Harness, emulator: Emulator) -> None:
    conversation_id = new_conversation(emulator)
    location = {"latitude": -23.55, "longitude": -46.63, "name": "Office"}
    if lk.server:
        with pytest.raises(UnsupportedOperationError) as caught:
            lk.client.conversations.send_message(conversation_id, location=location)
        assert caught.value.code == "UNSUPPORTED_OPERATION"
        # The server's own words pass through.
        raw = lk.client.conversations.send_message(
            conversation_id, content_type="text", content="native"
        )
        assert raw.content.text == "native"
        return
    message = lk.client.conversations.send_message(conversation_id, location=location)
    assert message.content_type is ContentType.LOCATION
    assert message.content.location is not None
    assert message.content.location.name == "Office"


def test_conversations_iterate_every_page(lk: Harness) -> None:
    total = lk.client.conversations.list(limit=1).pagination.total
    if not lk.server:
        ids = [c.id for c in lk.client.conversations.iter(limit=7)]
        assert len(ids) == len(set(ids)) == total
        return
    # The self-hosted server gives only its first 20 conversations, whatever the page: the
    # iteration yields those once each, then warns instead of stopping silently.
    with pytest.warns(UnpagedListWarning, match="conversations.iter") as warned:
        ids = [c.id for c in lk.client.conversations.iter(limit=7)]
    assert len(warned) == 1
    assert len(ids) == len(set(ids)) == 20 < total


# -- contacts --------------------------------------------------------------------------------


def test_contact_lifecycle(lk: Harness) -> None:
    email = f"{unique('ct')}@example.com"
    created = lk.client.contacts.create(name="Test Person", email=email, tags=["lead"])
    assert isinstance(created, Contact)
    assert created.email == email and created.tags == ["lead"]
    assert created.conversation_count == 0
    assert lk.client.contacts.get(created.id).name == "Test Person"
    updated = lk.client.contacts.update(created.id, phone="+15559990000")
    # Only the phone changed (the server's PUT would have blanked the rest: read first).
    assert updated.phone == "+15559990000"
    assert updated.name == "Test Person" and updated.email == email
    found = lk.client.contacts.search("Test Person", limit=50)
    assert created.id in {c.id for c in found.data}
    assert lk.client.contacts.delete(created.id) is None
    with pytest.raises(NotFoundError):
        lk.client.contacts.get(created.id)


def test_contact_with_identifiers(lk: Harness) -> None:
    phone = "+1555" + unique("")[-7:]
    created = lk.client.contacts.create(
        name="Ident Person",
        identifiers=[{"channelType": "whatsapp", "identifier": phone, "channelId": "ch_demo"}],
    )
    assert [(i.channel_type, i.identifier) for i in created.identifiers] == [
        (ChannelType.WHATSAPP, phone)
    ]


def test_duplicate_contact_is_a_conflict(lk: Harness) -> None:
    with pytest.raises(ConflictError) as caught:
        lk.client.contacts.create(name="Copy of Ada", email="ada@example.com")
    assert caught.value.status_code == 409


def test_seeded_contacts(lk: Harness) -> None:
    ada = lk.client.contacts.get("ct_demo_1")
    assert ada.name == "Ada Lovelace"
    assert ada.identifiers[0].channel_type is ChannelType.WHATSAPP
    names = {c.name for c in lk.client.contacts.iter(limit=2)}
    assert {"Ada Lovelace", "Grace Hopper", "Alan Turing"} <= names


# -- channels --------------------------------------------------------------------------------


def test_channel_lifecycle(lk: Harness) -> None:
    name = unique("channel")
    created = lk.client.channels.create(name=name, type="telegram", config={"bot_token": "123:x"})
    assert isinstance(created, Channel)
    assert created.type is ChannelType.TELEGRAM and created.name == name
    assert created.status is ChannelStatus.INACTIVE
    renamed = lk.client.channels.update(created.id, name=name + "-2")
    assert renamed.name == name + "-2" and renamed.type is ChannelType.TELEGRAM
    connected = lk.client.channels.connect(created.id)
    assert connected.status is ChannelStatus.ACTIVE
    disconnected = lk.client.channels.disconnect(created.id)
    assert disconnected.status is ChannelStatus.INACTIVE and disconnected.id == created.id
    listed = lk.client.channels.list()
    assert created.id in {c.id for c in listed.data}
    assert lk.client.channels.delete(created.id) is None
    with pytest.raises(NotFoundError):
        lk.client.channels.get(created.id)


def test_channel_list_window(lk: Harness) -> None:
    everything = [c.id for c in lk.client.channels.iter()]
    assert "ch_demo" in everything
    page = lk.client.channels.list(limit=1, offset=0)
    assert len(page.data) == 1 and page.pagination.limit == 1
    assert page.pagination.has_more == (len(everything) > 1)
