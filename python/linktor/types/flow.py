"""Conversation flows: nodes, edges and executions."""

from datetime import datetime
from typing import Any

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum
from linktor.types.common import PaginationParams

__all__ = [
    "CreateFlowInput",
    "ExecuteFlowInput",
    "Flow",
    "FlowEdge",
    "FlowExecution",
    "FlowExecutionStatus",
    "FlowExecutionStep",
    "FlowNode",
    "FlowNodeData",
    "FlowNodeType",
    "FlowStatus",
    "FlowVariable",
    "ListFlowsParams",
    "Position",
    "UpdateFlowInput",
]


class FlowStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DRAFT = "draft"


class FlowNodeType(StrEnum):
    START = "start"
    MESSAGE = "message"
    CONDITION = "condition"
    ACTION = "action"
    INPUT = "input"
    AI = "ai"
    API = "api"
    DELAY = "delay"
    ASSIGN = "assign"
    END = "end"


class FlowExecutionStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Position(LinktorModel):
    x: float
    y: float


class FlowNodeData(LinktorModel):
    label: str | None = None
    message_content: str | None = Field(default=None, alias="messageContent")
    message_type: str | None = Field(default=None, alias="messageType")
    buttons: list[dict[str, Any]] | None = None
    conditions: list[dict[str, Any]] | None = None
    action_type: str | None = Field(default=None, alias="actionType")
    action_params: dict[str, Any] | None = Field(default=None, alias="actionParams")
    input_variable: str | None = Field(default=None, alias="inputVariable")
    input_validation: Any | None = Field(default=None, alias="inputValidation")
    agent_id: str | None = Field(default=None, alias="agentId")
    prompt: str | None = None
    output_variable: str | None = Field(default=None, alias="outputVariable")
    api_url: str | None = Field(default=None, alias="apiUrl")
    api_method: str | None = Field(default=None, alias="apiMethod")
    api_headers: dict[str, str] | None = Field(default=None, alias="apiHeaders")
    api_body: Any | None = Field(default=None, alias="apiBody")
    delay_seconds: int | None = Field(default=None, alias="delaySeconds")
    assignments: Any | None = None


class FlowNode(LinktorModel):
    id: str
    type: FlowNodeType
    position: Position
    data: FlowNodeData


class FlowEdge(LinktorModel):
    id: str
    source: str
    target: str
    source_handle: str | None = Field(default=None, alias="sourceHandle")
    target_handle: str | None = Field(default=None, alias="targetHandle")
    label: str | None = None
    condition: Any | None = None


class FlowVariable(LinktorModel):
    name: str
    type: str
    default_value: Any | None = Field(default=None, alias="defaultValue")
    description: str | None = None


class Flow(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    name: str
    description: str | None = None
    status: FlowStatus
    version: int
    nodes: list[FlowNode]
    edges: list[FlowEdge]
    variables: list[FlowVariable] | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class FlowExecutionStep(LinktorModel):
    node_id: str = Field(alias="nodeId")
    node_type: str = Field(alias="nodeType")
    started_at: datetime = Field(alias="startedAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    input: Any | None = None
    output: Any | None = None
    error: str | None = None


class FlowExecution(LinktorModel):
    id: str
    flow_id: str = Field(alias="flowId")
    conversation_id: str = Field(alias="conversationId")
    status: FlowExecutionStatus
    current_node_id: str | None = Field(default=None, alias="currentNodeId")
    variables: dict[str, Any]
    history: list[FlowExecutionStep]
    started_at: datetime = Field(alias="startedAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    error: str | None = None


class CreateFlowInput(LinktorModel):
    name: str
    description: str | None = None
    nodes: list[FlowNode] | None = None
    edges: list[FlowEdge] | None = None
    variables: list[FlowVariable] | None = None
    metadata: dict[str, Any] | None = None


class UpdateFlowInput(LinktorModel):
    name: str | None = None
    description: str | None = None
    nodes: list[FlowNode] | None = None
    edges: list[FlowEdge] | None = None
    variables: list[FlowVariable] | None = None
    metadata: dict[str, Any] | None = None
    status: FlowStatus | None = None


class ListFlowsParams(PaginationParams):
    status: FlowStatus | None = None
    search: str | None = None


class ExecuteFlowInput(LinktorModel):
    conversation_id: str = Field(alias="conversationId")
    variables: dict[str, Any] | None = None
    start_node_id: str | None = Field(default=None, alias="startNodeId")
