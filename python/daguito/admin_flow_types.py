"""Flow definitions and their wire forms (daguito-sdk's ``daguito.admin_flow_types``).

daguito-sdk shipped these types without a service; relaywire's
:meth:`daguito.admin_flows.FlowsService.upsert_agent` and
:meth:`~daguito.admin_flows.FlowsService.upsert_flow` send them. ``to_wire`` leaves out the
optional fields that are None; a raw ``dict`` where a spec object is expected is sent as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from daguito._admin_http import (
    wire_bool,
    wire_int,
    wire_list,
    wire_object,
    wire_opt_str,
    wire_str,
    wire_str_list,
)
from relaywire.redaction import masked_repr

__all__ = [
    "AgentFlowSpec",
    "Flow",
    "FlowGraph",
    "FlowGraphEdge",
    "FlowGraphNode",
    "FlowSpec",
    "FlowToolRef",
    "FlowVersionSummary",
    "UpsertResult",
]


def _wire_of(item: Any) -> Any:
    """A spec object's ``to_wire()``, or the item itself (a raw dict)."""
    to_wire = getattr(item, "to_wire", None)
    return to_wire() if callable(to_wire) else item


@dataclass(slots=True)
class UpsertResult:
    """The answer to an upsert: the flow, its webhook, and whether it was created."""

    flow_id: str
    slug: str
    name: str
    webhook_id: str
    created: bool

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> UpsertResult:
        where = "UpsertResult"
        return cls(
            flow_id=wire_str(data, "flow_id", where),
            slug=wire_str(data, "slug", where),
            name=wire_str(data, "name", where),
            webhook_id=wire_str(data, "webhook_id", where),
            created=wire_bool(data, "created", where),
        )


@masked_repr("webhook_token")
@dataclass(slots=True)
class Flow:
    """A flow row (``/api/public/flows``)."""

    id: str
    org_id: str
    name: str
    description: str | None
    trigger_type: str
    trigger_config: dict[str, Any]
    steps: list[Any]
    edges: list[Any]
    metadata: dict[str, Any]
    status: str
    channel_bindings: list[str]
    is_default: bool
    webhook_token: str | None
    created_at: str | None
    updated_at: str | None
    created_by: str | None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Flow:
        where = "Flow"
        return cls(
            id=wire_str(data, "id", where),
            org_id=wire_str(data, "org_id", where),
            name=wire_str(data, "name", where),
            description=wire_opt_str(data, "description", where),
            trigger_type=wire_str(data, "trigger_type", where),
            trigger_config=wire_object(data, "trigger_config", where),
            steps=wire_list(data, "steps", where),
            edges=wire_list(data, "edges", where),
            metadata=wire_object(data, "metadata", where),
            status=wire_str(data, "status", where),
            channel_bindings=wire_str_list(data, "channel_bindings", where),
            is_default=wire_bool(data, "is_default", where),
            webhook_token=wire_opt_str(data, "webhook_token", where),
            created_at=wire_opt_str(data, "created_at", where),
            updated_at=wire_opt_str(data, "updated_at", where),
            created_by=wire_opt_str(data, "created_by", where),
        )


@dataclass(slots=True)
class FlowVersionSummary:
    """One saved version of a flow (``/api/public/flows/{id}/versions``)."""

    id: str
    version: int
    name: str | None
    change_note: str | None
    created_at: str | None
    created_by: str | None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> FlowVersionSummary:
        where = "FlowVersionSummary"
        return cls(
            id=wire_str(data, "id", where),
            version=wire_int(data, "version", where),
            name=wire_opt_str(data, "name", where),
            change_note=wire_opt_str(data, "change_note", where),
            created_at=wire_opt_str(data, "created_at", where),
            created_by=wire_opt_str(data, "created_by", where),
        )


@dataclass(slots=True)
class FlowToolRef:
    """A server-side tool an agent may call."""

    name: str
    config: dict[str, Any] | None = None
    kind: str = "handler"

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.config is not None:
            wire["config"] = self.config
        return wire


@dataclass(slots=True)
class AgentFlowSpec:
    """A single-agent flow, created or updated by slug with ``flows.upsert_agent``."""

    slug: str
    name: str
    provider: str
    model: str
    system_prompt: str
    temperature: float | None = None
    max_tokens: int | None = None
    history_turns: int | None = None
    recent_turns: int | None = None
    max_tool_iterations: int | None = None
    tools: list[FlowToolRef] | None = None
    memory_facts_schema: dict[str, Any] | None = None
    memory_summary_config: dict[str, Any] | None = None
    context_memory_keys: list[str] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "slug": self.slug,
            "name": self.name,
            "provider": self.provider,
            "model": self.model,
            "system_prompt": self.system_prompt,
        }
        optional: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "history_turns": self.history_turns,
            "recent_turns": self.recent_turns,
            "max_tool_iterations": self.max_tool_iterations,
            "tools": None if self.tools is None else [_wire_of(tool) for tool in self.tools],
            "memory_facts_schema": self.memory_facts_schema,
            "memory_summary_config": self.memory_summary_config,
            "context_memory_keys": self.context_memory_keys,
        }
        wire.update((name, value) for name, value in optional.items() if value is not None)
        return wire


@dataclass(slots=True)
class FlowGraphNode:
    """A node of a flow graph."""

    id: str
    type: str | None = None
    kind: str | None = None
    config: dict[str, Any] | None = None
    position: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id}
        optional = {
            "type": self.type,
            "kind": self.kind,
            "config": self.config,
            "position": self.position,
        }
        wire.update((name, value) for name, value in optional.items() if value is not None)
        return wire


@dataclass(slots=True)
class FlowGraphEdge:
    """An edge of a flow graph; ``source_handle`` is ``sourceHandle`` on the wire."""

    id: str
    source: str
    target: str
    source_handle: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "source": self.source, "target": self.target}
        if self.source_handle is not None:
            wire["sourceHandle"] = self.source_handle
        return wire


@dataclass(slots=True)
class FlowGraph:
    """Nodes and edges of a graph flow."""

    nodes: list[FlowGraphNode] = field(default_factory=list)
    edges: list[FlowGraphEdge] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "nodes": [_wire_of(node) for node in self.nodes],
            "edges": [_wire_of(edge) for edge in self.edges],
        }


@dataclass(slots=True)
class FlowSpec:
    """A graph flow, created or updated by slug with ``flows.upsert_flow``."""

    slug: str
    name: str
    graph: FlowGraph
    trigger_type: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"slug": self.slug, "name": self.name}
        if self.trigger_type is not None:
            wire["trigger_type"] = self.trigger_type
        wire["graph"] = _wire_of(self.graph)
        return wire
