"""The ``linktor`` client in the server dialect against the self-hosted server's limits (the
emulator's default ``"code"`` profile), and a smaller set against its ``"documented"`` profile.

The other ``test_linktor_client_*`` modules run the server dialect against the code profile
too; this one covers what only the real server's limits show: lists it does not page, media
whose URL it does not list, credentials it refuses.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from _linktor_client_support import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    Harness,
    open_client,
    unique,
)

from linktor import AuthenticationError, Conversation, Message
from linktor._dialect import UnpagedListWarning
from relaywire.emulator import Emulator

MODES = ["sync", "async"]


@pytest.fixture(scope="module")
def code_emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def documented_emu() -> Iterator[Emulator]:
    with Emulator(linktor_server_profile="documented") as emulator:
        yield emulator


@pytest.fixture(params=MODES)
def server(request: pytest.FixtureRequest, code_emu: Emulator) -> Iterator[Harness]:
    harness = open_client(code_emu, "server", request.param)
    yield harness
    harness.close()


@pytest.fixture(params=MODES)
def documented(request: pytest.FixtureRequest, documented_emu: Emulator) -> Iterator[Harness]:
    harness = open_client(documented_emu, "server", request.param)
    yield harness
    harness.close()


def new_conversation(emu: Emulator, messages: int = 0) -> str:
    def make() -> str:
        store = emu.linktor
        contact = store.create_contact({"name": unique("Person")})
        conversation = store.create_conversation(
            {"channel_id": "ch_demo", "contact_id": contact["id"]}
        )
        for number in range(messages):
            store.add_message(
                conversation["id"],
                direction="inbound",
                content={"text": f"m{number:02d}"},
                sender_type="contact",
            )
        return str(conversation["id"])

    return str(emu.call(make))


# -- the default profile: what the server's code does ---------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_api_key_does_not_authenticate_against_the_server(code_emu: Emulator, mode: str) -> None:
    harness = open_client(code_emu, "server", mode, login=False, api_key="lk_demo")
    try:
        with pytest.raises(AuthenticationError) as caught:
            harness.client.contacts.list()
    finally:
        harness.close()
    assert caught.value.status_code == 401
    assert caught.value.message == "invalid or expired token"


def test_any_valid_token_refreshes(server: Harness) -> None:
    login = server.client.auth.login(DEMO_EMAIL, DEMO_PASSWORD)
    refreshed = server.client.auth.refresh_token(login.access_token)  # not a refresh token
    assert refreshed.access_token and refreshed.refresh_token


def test_a_list_window_is_cut_from_the_servers_only_page(server: Harness) -> None:
    everything = server.client.conversations.list(limit=100)
    assert len(everything.data) == 20  # the server's first 20, whatever was asked
    assert everything.pagination.has_more is False
    window = server.client.conversations.list(limit=5, offset=5)
    assert [c.id for c in window.data] == [c.id for c in everything.data[5:10]]
    assert window.pagination.has_more is True  # the rest of the 20
    assert window.pagination.offset == 5 and window.pagination.limit == 5
    beyond = server.client.conversations.list(limit=5, offset=20)
    assert beyond.data == [] and beyond.pagination.has_more is False


def test_iterating_an_unpaged_list_warns_once(server: Harness) -> None:
    with pytest.warns(UnpagedListWarning, match=r"conversations\.iter\(\).*first 20") as caught:
        seen = [c.id for c in server.client.conversations.iter(limit=8)]
    assert len(caught) == 1
    assert len(seen) == len(set(seen)) == 20
    assert all(isinstance(c, Conversation) for c in server.client.conversations.list().data)


def test_iterating_messages_stops_at_the_newest_50(server: Harness, code_emu: Emulator) -> None:
    conversation_id = new_conversation(code_emu, messages=55)
    with pytest.warns(UnpagedListWarning, match="iter_messages") as caught:
        texts = [m.content.text for m in server.client.conversations.iter_messages(conversation_id)]
    assert len(caught) == 1
    assert texts == [f"m{n:02d}" for n in range(54, 4, -1)]  # newest first


def test_a_short_unpaged_list_does_not_warn(server: Harness, code_emu: Emulator) -> None:
    conversation_id = new_conversation(code_emu, messages=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpagedListWarning)
        messages = list(server.client.conversations.iter_messages(conversation_id, limit=2))
        channels = list(server.client.channels.iter())
    assert [m.content.text for m in messages] == ["m02", "m01", "m00"]
    assert channels and all(c.id for c in channels)


def test_channels_stop_at_the_newest_100(server: Harness) -> None:
    emulator = Emulator()
    with emulator:

        def add_many() -> None:
            for number in range(105):
                emulator.linktor.create_channel({"name": f"Channel {number}", "type": "webchat"})

        emulator.call(add_many)
        harness = open_client(emulator, "server", server.mode)
        try:
            with pytest.warns(UnpagedListWarning, match="first 100"):
                channels = list(harness.client.channels.iter())
        finally:
            harness.close()
    assert len(channels) == 100


def test_a_received_media_message(server: Harness, code_emu: Emulator) -> None:
    conversation_id = new_conversation(code_emu)

    def receive() -> Any:
        media = {
            "url": "https://cdn.example.com/p.jpg",
            "mime_type": "image/jpeg",
            "caption": "a pic",
        }
        return code_emu.linktor.add_message(
            conversation_id,
            direction="inbound",
            content_type="image",
            content={"media": media},
            sender_type="contact",
        )

    code_emu.call(receive)
    [listed] = server.client.conversations.list_messages(conversation_id).data
    assert isinstance(listed, Message)
    # The server lists no attachments: the caption is known, the URL is not.
    assert listed.content.media is not None
    assert (listed.content.media.caption, listed.content.media.url) == ("a pic", "")
    sent = server.client.conversations.send_message(
        conversation_id, media={"url": "https://cdn.example.com/q.png"}
    )
    assert sent.content.media is not None
    assert sent.content.media.url == "https://cdn.example.com/q.png"
    assert sent.status.value == "pending"


def test_conversation_tags_are_not_kept(server: Harness, code_emu: Emulator) -> None:
    conversation_id = new_conversation(code_emu)
    updated = server.client.conversations.update(conversation_id, tags=["vip"])
    assert updated.tags == ["vip"]  # the answer echoes them
    assert server.client.conversations.get(conversation_id).tags is None


# -- the documented profile -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_documented_an_api_key_authenticates(documented_emu: Emulator, mode: str) -> None:
    harness = open_client(documented_emu, "server", mode, login=False, api_key="lk_demo")
    try:
        assert harness.client.channels.get("ch_demo").id == "ch_demo"
    finally:
        harness.close()


def test_documented_conversations_page_to_the_end(documented: Harness) -> None:
    total = documented.client.conversations.list(limit=1).pagination.total
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpagedListWarning)
        seen = [c.id for c in documented.client.conversations.iter(limit=7)]
    assert len(seen) == len(set(seen)) == total > 20


def test_documented_messages_page(documented: Harness, documented_emu: Emulator) -> None:
    conversation_id = new_conversation(documented_emu, messages=55)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpagedListWarning)
        texts = [
            m.content.text
            for m in documented.client.conversations.iter_messages(conversation_id, limit=20)
        ]
    assert len(texts) == 55


def test_documented_tags_are_kept(documented: Harness, documented_emu: Emulator) -> None:
    conversation_id = new_conversation(documented_emu)
    documented.client.conversations.update(conversation_id, tags=["vip"])
    assert documented.client.conversations.get(conversation_id).tags == ["vip"]


def test_documented_contact_identifiers(documented: Harness) -> None:
    created = documented.client.contacts.create(
        name="Ident",
        identifiers=[{"channel_type": "telegram", "channel_id": "", "identifier": "@ident"}],
    )
    assert [i.identifier for i in created.identifiers] == ["@ident"]
