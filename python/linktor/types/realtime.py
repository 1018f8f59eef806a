"""Events of the realtime (WebSocket) connection.

Not part of the official Python SDK, which has no WebSocket client; the names and attributes
follow the Go SDK documentation (``MessageEvent.Message.Text``, ``MessageEvent.ConversationID``,
``MessageStatusEvent.MessageID/Status``, ``TypingEvent.IsTyping/UserID``) and the events the
server declares (``connected``, ``presence``, ``typing``, ``new_message``, ``message_updated``,
``conversation_updated``, ``conversation_created``, ``error``). Every event has a ``type``
discriminator; a frame of a type this version does not know becomes an :class:`UnknownEvent`.
Fields accept the server's snake_case and the SDK protocol's camelCase names alike.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from linktor.types._base import LinktorModel
from linktor.types.common import MessageStatus
from linktor.types.conversation import Conversation, ConversationStatus, Message

__all__ = [
    "ConnectedEvent",
    "ConversationUpdateEvent",
    "ErrorEvent",
    "MessageEvent",
    "MessageStatusEvent",
    "PresenceEvent",
    "RealtimeEvent",
    "TypingEvent",
    "UnknownEvent",
]


class ConnectedEvent(LinktorModel):
    """The connection is open: who we are and who else is online."""

    type: Literal["connected"] = "connected"
    user_id: str | None = Field(default=None, alias="userId")
    tenant_id: str | None = Field(default=None, alias="tenantId")
    online_users: list[str] = Field(default_factory=list, alias="onlineUsers")


class MessageEvent(LinktorModel):
    """A new message in a conversation (``event.message.text``, ``event.conversation_id``)."""

    type: Literal["message"] = "message"
    conversation_id: str = Field(alias="conversationId")
    message: Message


class MessageStatusEvent(LinktorModel):
    """A message's delivery status changed."""

    type: Literal["message_status"] = "message_status"
    message_id: str = Field(alias="messageId")
    conversation_id: str | None = Field(default=None, alias="conversationId")
    # An enum member when it is one of the SDK's statuses, else the string as sent.
    status: MessageStatus | str = Field(union_mode="left_to_right")
    timestamp: datetime | None = None
    #: The message as it is now, when the server sends it (the self-hosted server's
    #: ``message_updated`` frame does).
    message: Message | None = None


class TypingEvent(LinktorModel):
    """Someone started or stopped typing in a conversation."""

    type: Literal["typing"] = "typing"
    conversation_id: str = Field(alias="conversationId")
    user_id: str | None = Field(default=None, alias="userId")
    user_name: str | None = Field(default=None, alias="userName")
    is_typing: bool = Field(alias="isTyping")


class ConversationUpdateEvent(LinktorModel):
    """A conversation was created or changed; ``conversation`` is the full object when the
    server sends one."""

    type: Literal["conversation_update"] = "conversation_update"
    conversation_id: str = Field(alias="conversationId")
    created: bool = False
    status: ConversationStatus | str | None = Field(default=None, union_mode="left_to_right")
    assigned_to: str | None = Field(default=None, alias="assignedTo")
    metadata: dict[str, Any] | None = None
    conversation: Conversation | None = None


class PresenceEvent(LinktorModel):
    """A user came online or went offline."""

    type: Literal["presence"] = "presence"
    user_id: str = Field(alias="userId")
    status: str
    last_seen: datetime | None = Field(default=None, alias="lastSeen")

    @property
    def online(self) -> bool:
        return self.status == "online"


class ErrorEvent(LinktorModel):
    """The server reported an error on the connection."""

    type: Literal["error"] = "error"
    message: str
    code: str | None = None


class UnknownEvent(LinktorModel):
    """A frame of a type this version does not know, surfaced as received."""

    type: str
    payload: Any = None


#: Any realtime event.
RealtimeEvent = (
    ConnectedEvent
    | MessageEvent
    | MessageStatusEvent
    | TypingEvent
    | ConversationUpdateEvent
    | PresenceEvent
    | ErrorEvent
    | UnknownEvent
)
