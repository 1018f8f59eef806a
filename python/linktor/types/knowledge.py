"""Knowledge bases, documents and retrieval."""

from datetime import datetime
from typing import Any

from pydantic import Field

from linktor.types._base import LinktorModel, StrEnum
from linktor.types.common import PaginationParams

__all__ = [
    "CreateKnowledgeBaseInput",
    "Document",
    "DocumentChunk",
    "DocumentStatus",
    "DocumentType",
    "KnowledgeBase",
    "KnowledgeBaseStatus",
    "ListDocumentsParams",
    "ListKnowledgeBasesParams",
    "QueryKnowledgeBaseInput",
    "QueryResult",
    "ScoredChunk",
    "UpdateKnowledgeBaseInput",
    "UploadDocumentInput",
]


class KnowledgeBaseStatus(StrEnum):
    ACTIVE = "active"
    PROCESSING = "processing"
    ERROR = "error"
    EMPTY = "empty"


class DocumentType(StrEnum):
    PDF = "pdf"
    TXT = "txt"
    DOCX = "docx"
    HTML = "html"
    MARKDOWN = "markdown"
    CSV = "csv"
    JSON = "json"


class DocumentStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class KnowledgeBase(LinktorModel):
    id: str
    tenant_id: str = Field(alias="tenantId")
    name: str
    description: str | None = None
    status: KnowledgeBaseStatus
    embedding_model: str = Field(alias="embeddingModel")
    chunk_size: int = Field(alias="chunkSize")
    chunk_overlap: int = Field(alias="chunkOverlap")
    document_count: int = Field(alias="documentCount")
    total_chunks: int = Field(alias="totalChunks")
    metadata: dict[str, Any] | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class Document(LinktorModel):
    id: str
    knowledge_base_id: str = Field(alias="knowledgeBaseId")
    name: str
    type: DocumentType
    source_url: str | None = Field(default=None, alias="sourceUrl")
    status: DocumentStatus
    size: int
    chunk_count: int = Field(alias="chunkCount")
    metadata: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")


class DocumentChunk(LinktorModel):
    id: str
    document_id: str = Field(alias="documentId")
    content: str
    chunk_index: int = Field(alias="chunkIndex")
    token_count: int = Field(alias="tokenCount")
    metadata: dict[str, Any] | None = None


class ScoredChunk(DocumentChunk):
    score: float
    document: Document | None = None


class QueryKnowledgeBaseInput(LinktorModel):
    query: str
    top_k: int | None = Field(default=None, alias="topK")
    threshold: float | None = None
    filter: dict[str, Any] | None = None


class QueryResult(LinktorModel):
    chunks: list[ScoredChunk]
    query: str
    model: str


class CreateKnowledgeBaseInput(LinktorModel):
    name: str
    description: str | None = None
    embedding_model: str | None = Field(default=None, alias="embeddingModel")
    chunk_size: int | None = Field(default=None, alias="chunkSize")
    chunk_overlap: int | None = Field(default=None, alias="chunkOverlap")
    metadata: dict[str, Any] | None = None


class UpdateKnowledgeBaseInput(LinktorModel):
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


class ListKnowledgeBasesParams(PaginationParams):
    status: KnowledgeBaseStatus | None = None
    search: str | None = None


class UploadDocumentInput(LinktorModel):
    name: str | None = None
    type: DocumentType | None = None
    content: str | None = None
    source_url: str | None = Field(default=None, alias="sourceUrl")
    metadata: dict[str, Any] | None = None


class ListDocumentsParams(PaginationParams):
    status: DocumentStatus | None = None
    type: DocumentType | None = None
    search: str | None = None
