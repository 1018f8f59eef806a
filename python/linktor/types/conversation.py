"""Conversations and messages."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum
from linktor.types.common import (
    ChannelType,
    ContentType,
    MessageDirection,
    MessageStatus,
    PaginationParams,
)

__all__ = [
    "ButtonContent",
    "ContactContent",
    "Conversation",
    "ConversationStatus",
    "ListConversationsParams",
    "ListMessagesParams",
    "ListRow",
    "ListSection",
    "LocationContent",
    "MediaContent",
    "Message",
    "MessageContent",
    "SendMessageInput",
    "SenderType",
    "TemplateComponent",
    "TemplateContent",
    "TemplateParameter",
    "UpdateConversationInput",
]


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    SNOOZED = "snoozed"


class SenderType(StrEnum):
    CONTACT = "contact"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class MediaContent(LinktorModel):
    url: str
    mime_type: str = Field(alias="mimeType")
    filename: str | None = None
    size: int | None = None
    caption: str | None = None
    thumbnail_url: str | None = Field(default=None, alias="thumbnailUrl")


class LocationContent(LinktorModel):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class ContactContent(LinktorModel):
    name: str
    phones: list[str] | None = None
    emails: list[str] | None = None


class ButtonContent(LinktorModel):
    type: Literal["reply", "url", "call"]
    text: str
    payload: str | None = None
    url: str | None = None
    phone: str | None = None


class ListRow(LinktorModel):
    id: str
    title: str
    description: str | None = None


class ListSection(LinktorModel):
    title: str
    rows: list[ListRow]


class TemplateParameter(LinktorModel):
    type: str
    text: str | None = None
    media: MediaContent | None = None


class TemplateComponent(LinktorModel):
    type: str
    parameters: list[TemplateParameter] | None = None


class TemplateContent(LinktorModel):
    name: str
    language: str
    components: list[TemplateComponent] | None = None


class MessageContent(LinktorModel):
    text: str | None = None
    media: MediaContent | None = None
    location: LocationContent | None = None
    contact: ContactContent | None = None
    buttons: list[ButtonContent] | None = None
    list_sections: list[ListSection] | None = Field(default=None, alias="listSections")
    template: TemplateContent | None = None


class Message(LinktorModel):
    id: str
    conversation_id: str = Field(alias="conversationId")
    direction: MessageDirection
    content_type: ContentType = Field(alias="contentType")
    content: MessageContent
    status: MessageStatus
    external_id: str | None = Field(default=None, alias="externalId")
    sender_id: str | None = Field(default=None, alias="senderId")
    sender_type: SenderType = Field(alias="senderType")
    delivered_at: datetime | None = Field(default=None, alias="deliveredAt")
    read_at: datetime | None = Field(default=None, alias="readAt")
    failed_reason: str | None = Field(default=None, alias="failedReason")
    metadata: dict[str, Any] | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")

    @property
    def text(self) -> str | None:
        """The text of the message (``content.text``), as the realtime docs read it."""
        return self.content.text


class Conversation(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    channel_id: str = Field(alias="channelId")
    channel_type: ChannelType = Field(alias="channelType")
    contact_id: str = Field(alias="contactId")
    status: ConversationStatus
    assigned_to: str | None = Field(default=None, alias="assignedTo")
    assigned_at: datetime | None = Field(default=None, alias="assignedAt")
    last_message: Message | None = Field(default=None, alias="lastMessage")
    last_message_at: datetime | None = Field(default=None, alias="lastMessageAt")
    unread_count: int = Field(alias="unreadCount")
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class ListConversationsParams(PaginationParams):
    status: ConversationStatus | None = None
    channel_id: str | None = Field(default=None, alias="channelId")
    channel_type: ChannelType | None = Field(default=None, alias="channelType")
    assigned_to: str | None = Field(default=None, alias="assignedTo")
    contact_id: str | None = Field(default=None, alias="contactId")
    tags: list[str] | None = None
    search: str | None = None
    sort_by: str | None = Field(default=None, alias="sortBy")
    sort_order: str | None = Field(default=None, alias="sortOrder")


class SendMessageInput(LinktorModel):
    text: str | None = None
    media: dict[str, Any] | None = None
    location: LocationContent | None = None
    buttons: list[ButtonContent] | None = None
    template: TemplateContent | None = None
    metadata: dict[str, Any] | None = None


class UpdateConversationInput(LinktorModel):
    status: ConversationStatus | None = None
    assigned_to: str | None = Field(default=None, alias="assignedTo")
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None


class ListMessagesParams(PaginationParams):
    before: str | None = None
    after: str | None = None
