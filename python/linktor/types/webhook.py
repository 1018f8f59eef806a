"""Webhook events, their payloads and webhook configuration."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum
from linktor.types.channel import ChannelStatus
from linktor.types.common import ChannelType, MessageDirection, MessageStatus
from linktor.types.conversation import ConversationStatus

__all__ = [
    "ChannelEventData",
    "ContactEventData",
    "ConversationEventData",
    "CreateWebhookInput",
    "MessageReceivedEventData",
    "MessageStatusEventData",
    "RetryPolicy",
    "UpdateWebhookInput",
    "WebhookConfig",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookEventType",
]

T = TypeVar("T")


class WebhookEventType(StrEnum):
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_READ = "message.read"
    MESSAGE_FAILED = "message.failed"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    CONVERSATION_RESOLVED = "conversation.resolved"
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CHANNEL_CONNECTED = "channel.connected"
    CHANNEL_DISCONNECTED = "channel.disconnected"
    CHANNEL_ERROR = "channel.error"


class WebhookEvent(LinktorModel, Generic[T]):
    """A webhook delivery: ``{"id", "type", "timestamp", "tenantId", "data"}``."""

    id: str
    type: WebhookEventType
    timestamp: datetime
    tenant_id: str = Field(alias="tenantId")
    data: T


class UnknownWebhookEvent(WebhookEvent[Any]):
    """An event whose ``type`` is not one of :class:`WebhookEventType`.

    :func:`linktor.utils.webhook.construct_event` returns one instead of failing, so that a
    receiver keeps working when Linktor adds an event type: ``type`` is the plain string,
    ``data`` is the raw JSON value, and ``tenant_id``/``data`` may be absent. It is still a
    :class:`WebhookEvent`.
    """

    type: str  # type: ignore[assignment]
    tenant_id: str | None = Field(default=None, alias="tenantId")  # type: ignore[assignment]
    data: Any = None


class MessageReceivedEventData(LinktorModel):
    message: dict[str, Any]
    conversation_id: str = Field(alias="conversationId")
    contact_id: str = Field(alias="contactId")
    channel_id: str = Field(alias="channelId")
    channel_type: ChannelType = Field(alias="channelType")


class MessageStatusEventData(LinktorModel):
    message_id: str = Field(alias="messageId")
    conversation_id: str = Field(alias="conversationId")
    status: MessageStatus
    direction: MessageDirection
    timestamp: datetime
    error: str | None = None


class ConversationEventData(LinktorModel):
    conversation_id: str = Field(alias="conversationId")
    contact_id: str = Field(alias="contactId")
    channel_id: str = Field(alias="channelId")
    status: ConversationStatus
    assigned_to: str | None = Field(default=None, alias="assignedTo")
    previous_status: ConversationStatus | None = Field(default=None, alias="previousStatus")
    previous_assigned_to: str | None = Field(default=None, alias="previousAssignedTo")


class ContactEventData(LinktorModel):
    contact_id: str = Field(alias="contactId")
    name: str
    email: str | None = None
    phone: str | None = None
    previous_data: dict[str, Any] | None = Field(default=None, alias="previousData")


class ChannelEventData(LinktorModel):
    channel_id: str = Field(alias="channelId")
    channel_type: ChannelType = Field(alias="channelType")
    status: ChannelStatus
    error: str | None = None


class RetryPolicy(LinktorModel):
    max_retries: int = Field(alias="maxRetries")
    retry_interval: int = Field(alias="retryInterval", description="Seconds between attempts.")
    exponential_backoff: bool = Field(alias="exponentialBackoff")


class WebhookConfig(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    url: str
    secret: str = Field(repr=False)
    events: list[WebhookEventType]
    status: str
    headers: dict[str, str] | None = None
    retry_policy: RetryPolicy | None = Field(default=None, alias="retryPolicy")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class CreateWebhookInput(LinktorModel):
    url: str
    events: list[WebhookEventType]
    headers: dict[str, str] | None = None
    retry_policy: RetryPolicy | None = Field(default=None, alias="retryPolicy")


class UpdateWebhookInput(LinktorModel):
    url: str | None = None
    events: list[WebhookEventType] | None = None
    status: str | None = None
    headers: dict[str, str] | None = None
    retry_policy: RetryPolicy | None = Field(default=None, alias="retryPolicy")


class WebhookDelivery(LinktorModel):
    id: str
    webhook_id: str = Field(alias="webhookId")
    event_id: str = Field(alias="eventId")
    event_type: WebhookEventType = Field(alias="eventType")
    status: str
    attempts: int
    last_attempt_at: datetime | None = Field(default=None, alias="lastAttemptAt")
    response_status: int | None = Field(default=None, alias="responseStatus")
    response_body: str | None = Field(default=None, alias="responseBody")
    error: str | None = None
    created_at: datetime = Field(alias="createdAt")
