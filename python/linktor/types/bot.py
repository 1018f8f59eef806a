"""Bots: configuration, operating hours and AI settings."""

from datetime import datetime
from typing import Any

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum
from linktor.types.common import PaginationParams

__all__ = [
    "AIBotConfig",
    "Bot",
    "BotConfig",
    "BotStatus",
    "BotType",
    "CreateBotInput",
    "DaySchedule",
    "ListBotsParams",
    "OperatingHours",
    "UpdateBotInput",
]


class BotStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DRAFT = "draft"


class BotType(StrEnum):
    FLOW = "flow"
    AI = "ai"
    HYBRID = "hybrid"


class DaySchedule(LinktorModel):
    day: int = Field(description="Day of the week, 0 = Sunday.")
    enabled: bool
    start_time: str = Field(alias="startTime")
    end_time: str = Field(alias="endTime")


class OperatingHours(LinktorModel):
    enabled: bool
    timezone: str
    schedule: list[DaySchedule]
    outside_hours_message: str | None = Field(default=None, alias="outsideHoursMessage")


class AIBotConfig(LinktorModel):
    model: str
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="maxTokens")
    system_prompt: str | None = Field(default=None, alias="systemPrompt")
    use_knowledge_base: bool = Field(alias="useKnowledgeBase")
    enable_streaming: bool | None = Field(default=None, alias="enableStreaming")


class BotConfig(LinktorModel):
    welcome_message: str | None = Field(default=None, alias="welcomeMessage")
    fallback_message: str | None = Field(default=None, alias="fallbackMessage")
    handoff_message: str | None = Field(default=None, alias="handoffMessage")
    handoff_triggers: list[str] | None = Field(default=None, alias="handoffTriggers")
    operating_hours: OperatingHours | None = Field(default=None, alias="operatingHours")
    ai_config: AIBotConfig | None = Field(default=None, alias="aiConfig")


class Bot(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    name: str
    description: str | None = None
    status: BotStatus
    type: BotType
    config: BotConfig
    channel_ids: list[str] = Field(alias="channelIds")
    flow_id: str | None = Field(default=None, alias="flowId")
    agent_id: str | None = Field(default=None, alias="agentId")
    knowledge_base_ids: list[str] | None = Field(default=None, alias="knowledgeBaseIds")
    metadata: dict[str, Any] | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class CreateBotInput(LinktorModel):
    name: str
    description: str | None = None
    type: BotType
    config: dict[str, Any] | None = None
    channel_ids: list[str] | None = Field(default=None, alias="channelIds")
    flow_id: str | None = Field(default=None, alias="flowId")
    agent_id: str | None = Field(default=None, alias="agentId")
    knowledge_base_ids: list[str] | None = Field(default=None, alias="knowledgeBaseIds")
    metadata: dict[str, Any] | None = None


class UpdateBotInput(LinktorModel):
    name: str | None = None
    description: str | None = None
    type: BotType | None = None
    config: dict[str, Any] | None = None
    channel_ids: list[str] | None = Field(default=None, alias="channelIds")
    flow_id: str | None = Field(default=None, alias="flowId")
    agent_id: str | None = Field(default=None, alias="agentId")
    knowledge_base_ids: list[str] | None = Field(default=None, alias="knowledgeBaseIds")
    metadata: dict[str, Any] | None = None
    status: BotStatus | None = None


class ListBotsParams(PaginationParams):
    status: BotStatus | None = None
    type: BotType | None = None
    channel_id: str | None = Field(default=None, alias="channelId")
    search: str | None = None
