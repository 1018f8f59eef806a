"""Types shared by every resource: pagination, API errors and the core enums."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum

__all__ = [
    "ApiError",
    "ChannelType",
    "ContentType",
    "MessageDirection",
    "MessageStatus",
    "PaginatedResponse",
    "Pagination",
    "PaginationParams",
    "TimestampsMixin",
]

T = TypeVar("T")


class PaginationParams(LinktorModel):
    """Paging parameters of the list methods (the SDK protocol: limit/offset or a cursor)."""

    limit: int | None = None
    offset: int | None = None
    cursor: str | None = None


class Pagination(LinktorModel):
    """The ``pagination`` object of a list response."""

    total: int
    limit: int
    offset: int
    has_more: bool = Field(alias="hasMore")
    next_cursor: str | None = Field(default=None, alias="nextCursor")


class PaginatedResponse(LinktorModel, Generic[T]):
    """One page of a list: ``data`` and its ``pagination``."""

    data: list[T]
    pagination: Pagination


class ApiError(LinktorModel):
    """An error object as the API describes it."""

    code: str
    message: str
    details: dict[str, Any] | None = None


class TimestampsMixin(LinktorModel):
    """``createdAt``/``updatedAt``, for models that carry them."""

    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class MessageDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class ChannelType(StrEnum):
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    WEBCHAT = "webchat"
    SMS = "sms"
    EMAIL = "email"
    RCS = "rcs"


class ContentType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    LOCATION = "location"
    CONTACT = "contact"
    STICKER = "sticker"
