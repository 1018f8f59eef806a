"""Authentication: users, login and token refresh."""

from datetime import datetime

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum

__all__ = [
    "CreateUserRequest",
    "LoginRequest",
    "LoginResponse",
    "RefreshTokenRequest",
    "RefreshTokenResponse",
    "UpdateUserRequest",
    "User",
    "UserRole",
]


class UserRole(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    VIEWER = "viewer"


class User(LinktorModel):
    id: str
    email: str
    name: str
    role: UserRole
    tenant_id: str = Field(alias="tenantId")
    avatar_url: str | None = Field(default=None, alias="avatarUrl")
    phone: str | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class LoginRequest(LinktorModel):
    email: str
    password: str = Field(repr=False)


class LoginResponse(LinktorModel):
    access_token: str = Field(alias="accessToken", repr=False)
    refresh_token: str = Field(alias="refreshToken", repr=False)
    expires_in: int = Field(alias="expiresIn")
    token_type: str = Field(alias="tokenType")
    user: User


class RefreshTokenRequest(LinktorModel):
    refresh_token: str = Field(alias="refreshToken", repr=False)


class RefreshTokenResponse(LinktorModel):
    access_token: str = Field(alias="accessToken", repr=False)
    refresh_token: str = Field(alias="refreshToken", repr=False)
    expires_in: int = Field(alias="expiresIn")


class CreateUserRequest(LinktorModel):
    email: str
    password: str = Field(repr=False)
    name: str
    role: UserRole
    phone: str | None = None


class UpdateUserRequest(LinktorModel):
    name: str | None = None
    phone: str | None = None
    avatar_url: str | None = Field(default=None, alias="avatarUrl")
