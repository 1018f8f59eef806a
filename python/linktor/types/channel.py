"""Channels and their provider configurations."""

from datetime import datetime
from typing import Any, Union

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum
from linktor.types.common import ChannelType, ContentType, PaginationParams

__all__ = [
    "Channel",
    "ChannelCapabilities",
    "ChannelConfig",
    "ChannelStatus",
    "CreateChannelInput",
    "EmailConfig",
    "FacebookConfig",
    "InstagramConfig",
    "ListChannelsParams",
    "RCSConfig",
    "SMSConfig",
    "TelegramConfig",
    "UpdateChannelInput",
    "WebchatConfig",
    "WhatsAppConfig",
]


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    CONNECTING = "connecting"
    ERROR = "error"


class WhatsAppConfig(LinktorModel):
    type: str = "whatsapp"
    phone_number_id: str = Field(alias="phoneNumberId")
    business_account_id: str = Field(alias="businessAccountId")
    access_token: str = Field(alias="accessToken", repr=False)
    verify_token: str = Field(alias="verifyToken", repr=False)
    app_secret: str | None = Field(default=None, alias="appSecret", repr=False)


class TelegramConfig(LinktorModel):
    type: str = "telegram"
    bot_token: str = Field(alias="botToken", repr=False)
    bot_username: str | None = Field(default=None, alias="botUsername")
    webhook_secret: str | None = Field(default=None, alias="webhookSecret", repr=False)


class FacebookConfig(LinktorModel):
    type: str = "facebook"
    page_id: str = Field(alias="pageId")
    page_access_token: str = Field(alias="pageAccessToken", repr=False)
    app_secret: str | None = Field(default=None, alias="appSecret", repr=False)
    page_name: str | None = Field(default=None, alias="pageName")


class InstagramConfig(LinktorModel):
    type: str = "instagram"
    instagram_id: str = Field(alias="instagramId")
    page_access_token: str = Field(alias="pageAccessToken", repr=False)
    app_secret: str | None = Field(default=None, alias="appSecret", repr=False)
    username: str | None = None


class WebchatConfig(LinktorModel):
    type: str = "webchat"
    widget_id: str = Field(alias="widgetId")
    allowed_origins: list[str] | None = Field(default=None, alias="allowedOrigins")
    theme: dict[str, Any] | None = None


class SMSConfig(LinktorModel):
    type: str = "sms"
    provider: str = "twilio"
    account_sid: str = Field(alias="accountSid")
    auth_token: str = Field(alias="authToken")
    phone_number: str = Field(alias="phoneNumber")


class EmailConfig(LinktorModel):
    type: str = "email"
    provider: str
    from_email: str = Field(alias="fromEmail")
    from_name: str | None = Field(default=None, alias="fromName")
    api_key: str | None = Field(default=None, alias="apiKey")


class RCSConfig(LinktorModel):
    type: str = "rcs"
    provider: str
    agent_id: str = Field(alias="agentId")
    api_key: str = Field(alias="apiKey")
    brand_name: str | None = Field(default=None, alias="brandName")


#: Any provider configuration (a typing alias, not a model).
ChannelConfig = Union[  # noqa: UP007 - a runtime alias, kept as the official ``Union``
    WhatsAppConfig,
    TelegramConfig,
    FacebookConfig,
    InstagramConfig,
    WebchatConfig,
    SMSConfig,
    EmailConfig,
    RCSConfig,
]


class Channel(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    name: str
    type: ChannelType
    status: ChannelStatus
    config: dict[str, Any]
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    metadata: dict[str, Any] | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class CreateChannelInput(LinktorModel):
    name: str
    type: ChannelType
    config: dict[str, Any]
    metadata: dict[str, Any] | None = None


class UpdateChannelInput(LinktorModel):
    name: str | None = None
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class ListChannelsParams(PaginationParams):
    type: ChannelType | None = None
    status: ChannelStatus | None = None
    search: str | None = None


class ChannelCapabilities(LinktorModel):
    supported_content_types: list[ContentType] = Field(alias="supportedContentTypes")
    supports_media: bool = Field(alias="supportsMedia")
    supports_buttons: bool = Field(alias="supportsButtons")
    supports_lists: bool = Field(alias="supportsLists")
    supports_templates: bool = Field(alias="supportsTemplates")
    supports_location: bool = Field(alias="supportsLocation")
    max_message_length: int = Field(alias="maxMessageLength")
    max_media_size: int = Field(alias="maxMediaSize")
