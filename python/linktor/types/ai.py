"""AI agents, completions and embeddings."""

from datetime import datetime
from typing import Any

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum
from linktor.types.common import PaginationParams

__all__ = [
    "Agent",
    "AgentStatus",
    "AgentTool",
    "ChatMessage",
    "CompletionChunk",
    "CompletionRequest",
    "CompletionResponse",
    "CreateAgentInput",
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "InvokeAgentInput",
    "InvokeAgentResponse",
    "ListAgentsParams",
    "TokenUsage",
    "ToolParameter",
    "ToolResult",
    "UpdateAgentInput",
]


class AgentStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DRAFT = "draft"


class ToolParameter(LinktorModel):
    name: str
    type: str
    description: str
    required: bool
    default: Any | None = None
    enum: list[Any] | None = None


class AgentTool(LinktorModel):
    name: str
    description: str
    parameters: list[ToolParameter]
    handler: str | None = None


class Agent(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    name: str
    description: str | None = None
    status: AgentStatus
    model: str
    system_prompt: str | None = Field(default=None, alias="systemPrompt")
    temperature: float
    max_tokens: int = Field(alias="maxTokens")
    tools: list[AgentTool] | None = None
    knowledge_base_ids: list[str] | None = Field(default=None, alias="knowledgeBaseIds")
    metadata: dict[str, Any] | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class ChatMessage(LinktorModel):
    role: str
    content: str
    name: str | None = None
    tool_call_id: str | None = Field(default=None, alias="toolCallId")
    tool_calls: list[dict[str, Any]] | None = Field(default=None, alias="toolCalls")


class TokenUsage(LinktorModel):
    prompt_tokens: int = Field(alias="promptTokens")
    completion_tokens: int = Field(alias="completionTokens")
    total_tokens: int = Field(alias="totalTokens")


class CompletionRequest(LinktorModel):
    agent_id: str | None = Field(default=None, alias="agentId")
    model: str | None = None
    messages: list[ChatMessage]
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="maxTokens")
    stream: bool | None = None
    tools: list[dict[str, Any]] | None = None
    knowledge_base_ids: list[str] | None = Field(default=None, alias="knowledgeBaseIds")
    conversation_id: str | None = Field(default=None, alias="conversationId")


class CompletionResponse(LinktorModel):
    id: str
    model: str
    message: ChatMessage
    usage: TokenUsage
    finish_reason: str = Field(alias="finishReason")


class CompletionChunk(LinktorModel):
    id: str
    delta: dict[str, Any]
    finish_reason: str | None = Field(default=None, alias="finishReason")


class EmbeddingRequest(LinktorModel):
    input: str | list[str]
    model: str | None = None


class Embedding(LinktorModel):
    index: int
    embedding: list[float]


class EmbeddingResponse(LinktorModel):
    data: list[Embedding]
    model: str
    usage: dict[str, int]


class CreateAgentInput(LinktorModel):
    name: str
    description: str | None = None
    model: str
    system_prompt: str | None = Field(default=None, alias="systemPrompt")
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="maxTokens")
    tools: list[AgentTool] | None = None
    knowledge_base_ids: list[str] | None = Field(default=None, alias="knowledgeBaseIds")
    metadata: dict[str, Any] | None = None


class UpdateAgentInput(LinktorModel):
    name: str | None = None
    description: str | None = None
    model: str | None = None
    system_prompt: str | None = Field(default=None, alias="systemPrompt")
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, alias="maxTokens")
    tools: list[AgentTool] | None = None
    knowledge_base_ids: list[str] | None = Field(default=None, alias="knowledgeBaseIds")
    metadata: dict[str, Any] | None = None
    status: AgentStatus | None = None


class ListAgentsParams(PaginationParams):
    status: AgentStatus | None = None
    search: str | None = None


class InvokeAgentInput(LinktorModel):
    message: str
    conversation_id: str | None = Field(default=None, alias="conversationId")
    context: dict[str, Any] | None = None
    stream: bool | None = None


class ToolResult(LinktorModel):
    tool_call_id: str = Field(alias="toolCallId")
    name: str
    result: Any


class InvokeAgentResponse(LinktorModel):
    response: str
    conversation_id: str = Field(alias="conversationId")
    tool_results: list[ToolResult] | None = Field(default=None, alias="toolResults")
    usage: TokenUsage
