"""Daguito SDK: a drop-in for daguito-sdk 0.4.5 on relaywire's Rust core.

Every public name of daguito-sdk 0.4.5 is importable from here and from the same submodules.
Submodules load on first use (PEP 562), so ``import daguito`` stays cheap; ``from daguito import
X`` loads what ``X`` needs.
"""

from __future__ import annotations

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

if _os.environ.get("RELAYWIRE_LOG"):  # applied by relaywire on import (relaywire.redaction)
    importlib.import_module("relaywire")

#: The daguito-sdk API level this package implements (relaywire's own version is
#: ``daguito._client_headers.SDK_VERSION``).
__version__ = "0.4.5"

_EXPORTS: dict[str, str] = {
    # one-shot runs
    "run_webhook": "webhook_session",
    "run_webhook_sync": "webhook_session",
    "WebhookRunInput": "webhook_session",
    "WebhookRunResult": "webhook_session",
    "run_webhook_stream": "webhook_run_stream",
    "WebhookRunStreamInput": "webhook_run_stream",
    "WebhookRunStreamResult": "webhook_run_stream",
    # streaming
    "WebhookStreamSession": "webhook_stream_session",
    "TurnResult": "webhook_stream_session",
    "SyncWebhookStreamSession": "sync",
    "run_webhook_stream_sync": "sync",
    # audio
    "AudioStreamSession": "audio_stream_session",
    "AudioStreamOptions": "audio_stream_session",
    "AudioStreamReady": "audio_stream_session",
    "SUPPORTED_CODECS": "audio_stream_session",
    # messages, events, tools
    "WebhookStreamOptions": "types",
    "text_message": "types",
    "image_url_message": "types",
    "image_multi_message": "types",
    "media_key_message": "types",
    "form_response_message": "types",
    "ReadyEvent": "types",
    "ClosedEvent": "types",
    "NodeTokenEvent": "types",
    "NodeStartedEvent": "types",
    "NodeCompletedEvent": "types",
    "NodeFailedEvent": "types",
    "NodeEmitEvent": "types",
    "ToolProgressEvent": "types",
    "ToolProgressResource": "types",
    "ToolProgressResult": "types",
    "ToolProgressItem": "types",
    "parse_tool_progress": "types",
    "FlowCompletedEvent": "types",
    "FlowFailedEvent": "types",
    "ErrorEvent": "types",
    "UnknownFrameEvent": "types",
    "ToolSpec": "types",
    "EventType": "types",
    "MediaKind": "types",
    # knowledge
    "KnowledgeSession": "knowledge_session",
    "KnowledgeSessionOptions": "knowledge_session",
    "IngestTextInput": "knowledge_session",
    "IngestTextResult": "knowledge_session",
    "SearchInput": "knowledge_session",
    "SearchHit": "knowledge_session",
    "SearchResult": "knowledge_session",
    # uploads
    "upload_file": "upload",
    "UploadInput": "upload",
    "UploadResult": "upload",
    "UploadKind": "upload",
    # emitter
    "Emitter": "emitter",
    "Listener": "emitter",
    # admin
    "Daguito": "client",
    "AccountKey": "admin_types",
    "AccountKeyCreated": "admin_types",
    "PublicKey": "admin_types",
    "PublicKeyCreated": "admin_types",
    "OrgBudget": "admin_types",
    "AccountKeysService": "admin_account_keys",
    "PublicKeysService": "admin_public_keys",
    "BudgetsService": "admin_budgets",
    "FlowsService": "admin_flows",
    "ResolvedFlowWebhook": "admin_flows",
    "TemplatesService": "templates",
    "TemplateFieldDetail": "templates",
    "TemplateFieldType": "templates",
    "TemplatePreviewExample": "templates",
    "TemplatePreviewResult": "templates",
    "TemplatePreviewWarning": "templates",
    "TemplateSchema": "templates",
    "TranscriptOrigin": "templates",
    # errors
    "DaguitoError": "errors",
    "WebhookError": "errors",
    "WebhookStreamRunError": "errors",
    "AudioStreamError": "errors",
    "KnowledgeError": "errors",
    "UploadError": "errors",
    "InvalidTokenError": "errors",
    "PermissionDeniedError": "errors",
    "StreamError": "errors",
    "RateLimitError": "errors",
    "BadRequestError": "errors",
    "NotFoundError": "errors",
    "ConflictError": "errors",
    "UnprocessableEntityError": "errors",
    "ServerError": "errors",
    "DaguitoConnectionError": "errors",
    "DaguitoTimeoutError": "errors",
}

__all__ = [
    "SUPPORTED_CODECS",
    "AccountKey",
    "AccountKeyCreated",
    "AccountKeysService",
    "AudioStreamError",
    "AudioStreamOptions",
    "AudioStreamReady",
    "AudioStreamSession",
    "BadRequestError",
    "BudgetsService",
    "ClosedEvent",
    "ConflictError",
    "Daguito",
    "DaguitoConnectionError",
    "DaguitoError",
    "DaguitoTimeoutError",
    "Emitter",
    "ErrorEvent",
    "EventType",
    "FlowCompletedEvent",
    "FlowFailedEvent",
    "FlowsService",
    "IngestTextInput",
    "IngestTextResult",
    "InvalidTokenError",
    "KnowledgeError",
    "KnowledgeSession",
    "KnowledgeSessionOptions",
    "Listener",
    "MediaKind",
    "NodeCompletedEvent",
    "NodeEmitEvent",
    "NodeFailedEvent",
    "NodeStartedEvent",
    "NodeTokenEvent",
    "NotFoundError",
    "OrgBudget",
    "PermissionDeniedError",
    "PublicKey",
    "PublicKeyCreated",
    "PublicKeysService",
    "RateLimitError",
    "ReadyEvent",
    "ResolvedFlowWebhook",
    "SearchHit",
    "SearchInput",
    "SearchResult",
    "ServerError",
    "StreamError",
    "SyncWebhookStreamSession",
    "TemplateFieldDetail",
    "TemplateFieldType",
    "TemplatePreviewExample",
    "TemplatePreviewResult",
    "TemplatePreviewWarning",
    "TemplateSchema",
    "TemplatesService",
    "ToolProgressEvent",
    "ToolProgressItem",
    "ToolProgressResource",
    "ToolProgressResult",
    "ToolSpec",
    "TranscriptOrigin",
    "TurnResult",
    "UnknownFrameEvent",
    "UnprocessableEntityError",
    "UploadError",
    "UploadInput",
    "UploadKind",
    "UploadResult",
    "WebhookError",
    "WebhookRunInput",
    "WebhookRunResult",
    "WebhookRunStreamInput",
    "WebhookRunStreamResult",
    "WebhookStreamOptions",
    "WebhookStreamRunError",
    "WebhookStreamSession",
    "form_response_message",
    "image_multi_message",
    "image_url_message",
    "media_key_message",
    "parse_tool_progress",
    "run_webhook",
    "run_webhook_stream",
    "run_webhook_stream_sync",
    "run_webhook_sync",
    "text_message",
    "upload_file",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'daguito' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"daguito.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from daguito.admin_account_keys import AccountKeysService
    from daguito.admin_budgets import BudgetsService
    from daguito.admin_flows import FlowsService, ResolvedFlowWebhook
    from daguito.admin_public_keys import PublicKeysService
    from daguito.admin_types import (
        AccountKey,
        AccountKeyCreated,
        OrgBudget,
        PublicKey,
        PublicKeyCreated,
    )
    from daguito.audio_stream_session import (
        SUPPORTED_CODECS,
        AudioStreamOptions,
        AudioStreamReady,
        AudioStreamSession,
    )
    from daguito.client import Daguito
    from daguito.emitter import Emitter, Listener
    from daguito.errors import (
        AudioStreamError,
        BadRequestError,
        ConflictError,
        DaguitoConnectionError,
        DaguitoError,
        DaguitoTimeoutError,
        InvalidTokenError,
        KnowledgeError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ServerError,
        StreamError,
        UnprocessableEntityError,
        UploadError,
        WebhookError,
        WebhookStreamRunError,
    )
    from daguito.knowledge_session import (
        IngestTextInput,
        IngestTextResult,
        KnowledgeSession,
        KnowledgeSessionOptions,
        SearchHit,
        SearchInput,
        SearchResult,
    )
    from daguito.sync import SyncWebhookStreamSession, run_webhook_stream_sync
    from daguito.templates import (
        TemplateFieldDetail,
        TemplateFieldType,
        TemplatePreviewExample,
        TemplatePreviewResult,
        TemplatePreviewWarning,
        TemplateSchema,
        TemplatesService,
        TranscriptOrigin,
    )
    from daguito.types import (
        ClosedEvent,
        ErrorEvent,
        EventType,
        FlowCompletedEvent,
        FlowFailedEvent,
        MediaKind,
        NodeCompletedEvent,
        NodeEmitEvent,
        NodeFailedEvent,
        NodeStartedEvent,
        NodeTokenEvent,
        ReadyEvent,
        ToolProgressEvent,
        ToolProgressItem,
        ToolProgressResource,
        ToolProgressResult,
        ToolSpec,
        UnknownFrameEvent,
        WebhookStreamOptions,
        form_response_message,
        image_multi_message,
        image_url_message,
        media_key_message,
        parse_tool_progress,
        text_message,
    )
    from daguito.upload import UploadInput, UploadKind, UploadResult, upload_file
    from daguito.webhook_run_stream import (
        WebhookRunStreamInput,
        WebhookRunStreamResult,
        run_webhook_stream,
    )
    from daguito.webhook_session import (
        WebhookRunInput,
        WebhookRunResult,
        run_webhook,
        run_webhook_sync,
    )
    from daguito.webhook_stream_session import TurnResult, WebhookStreamSession
