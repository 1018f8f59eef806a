"""Contacts and their channel identifiers."""

from datetime import datetime
from typing import Any

from pydantic import Field

from linktor.types._base import LinktorModel
from linktor.types.common import ChannelType, PaginationParams

__all__ = [
    "Contact",
    "ContactIdentifier",
    "CreateContactInput",
    "ListContactsParams",
    "MergeContactsInput",
    "UpdateContactInput",
]


class ContactIdentifier(LinktorModel):
    channel_type: ChannelType = Field(alias="channelType")
    channel_id: str = Field(alias="channelId")
    identifier: str
    display_name: str | None = Field(default=None, alias="displayName")
    profile_picture: str | None = Field(default=None, alias="profilePicture")
    metadata: dict[str, Any] | None = None


class Contact(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    external_id: str | None = Field(default=None, alias="externalId")
    name: str
    email: str | None = None
    phone: str | None = None
    avatar_url: str | None = Field(default=None, alias="avatarUrl")
    identifiers: list[ContactIdentifier]
    custom_fields: dict[str, Any] | None = Field(default=None, alias="customFields")
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    last_seen_at: datetime | None = Field(default=None, alias="lastSeenAt")
    conversation_count: int = Field(alias="conversationCount")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class CreateContactInput(LinktorModel):
    name: str
    email: str | None = None
    phone: str | None = None
    external_id: str | None = Field(default=None, alias="externalId")
    avatar_url: str | None = Field(default=None, alias="avatarUrl")
    custom_fields: dict[str, Any] | None = Field(default=None, alias="customFields")
    tags: list[str] | None = None
    identifiers: list[dict[str, Any]] | None = None


class UpdateContactInput(LinktorModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = Field(default=None, alias="externalId")
    avatar_url: str | None = Field(default=None, alias="avatarUrl")
    custom_fields: dict[str, Any] | None = Field(default=None, alias="customFields")
    tags: list[str] | None = None


class ListContactsParams(PaginationParams):
    """List filters. Also takes ``limit``/``offset``/``cursor`` (the Go documentation pages
    contacts with ``Limit``)."""

    search: str | None = None
    email: str | None = None
    phone: str | None = None
    tags: list[str] | None = None
    channel_type: ChannelType | None = Field(default=None, alias="channelType")
    sort_by: str | None = Field(default=None, alias="sortBy")
    sort_order: str | None = Field(default=None, alias="sortOrder")


class MergeContactsInput(LinktorModel):
    primary_contact_id: str = Field(alias="primaryContactId")
    secondary_contact_ids: list[str] = Field(alias="secondaryContactIds")
