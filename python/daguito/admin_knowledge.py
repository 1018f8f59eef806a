"""Knowledge-base administration (daguito-sdk's ``daguito.admin_knowledge``, which no client
exposed; relaywire wires it as ``Daguito.knowledge``): ``/api/public/knowledge/*``.

For searching and ingesting with an org key, see :class:`daguito.KnowledgeSession`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from daguito._admin_http import (  # noqa: F401  (request_json: daguito-sdk exposed it here)
    DaguitoError,
    call,
    expect_object,
    objects_in,
    request_json,
    wire_int,
    wire_opt_float,
    wire_opt_int,
    wire_opt_object,
    wire_opt_str,
    wire_str,
)
from daguito._url import join_http, quote_segment

__all__ = ["AdminKnowledgeService", "IngestJobStatus", "KnowledgeBase", "KnowledgeSource"]

_BASE = "/api/public/knowledge"


@dataclass(slots=True)
class KnowledgeBase:
    """A knowledge base: an embedding space holding sources."""

    id: str
    name: str
    description: str | None
    dim: int
    tenancy_tier: str
    embedding_provider: str
    embedding_model: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> KnowledgeBase:
        where = "KnowledgeBase"
        return cls(
            id=wire_str(data, "id", where),
            name=wire_str(data, "name", where),
            description=wire_opt_str(data, "description", where),
            dim=wire_int(data, "dim", where),
            tenancy_tier=wire_str(data, "tenancy_tier", where),
            embedding_provider=wire_str(data, "embedding_provider", where),
            embedding_model=wire_str(data, "embedding_model", where),
        )


@dataclass(slots=True)
class KnowledgeSource:
    """A source of documents inside a knowledge base (``kb_id``)."""

    id: str
    org_id: str
    kb_id: str
    name: str
    description: str | None
    kind: str
    status: str
    chunk_count: int
    token_count: int
    source_count: int | None
    created_at: str | None
    updated_at: str | None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> KnowledgeSource:
        where = "KnowledgeSource"
        return cls(
            id=wire_str(data, "id", where),
            org_id=wire_str(data, "org_id", where),
            # Some answers name the base ``base_id``; daguito-sdk read only ``kb_id``.
            kb_id=wire_str(data, "kb_id", where) or wire_str(data, "base_id", where),
            name=wire_str(data, "name", where),
            description=wire_opt_str(data, "description", where),
            kind=wire_str(data, "kind", where),
            status=wire_str(data, "status", where),
            chunk_count=wire_int(data, "chunk_count", where),
            token_count=wire_int(data, "token_count", where),
            source_count=wire_opt_int(data, "source_count", where),
            created_at=wire_opt_str(data, "created_at", where),
            updated_at=wire_opt_str(data, "updated_at", where),
        )


@dataclass(slots=True)
class IngestJobStatus:
    """An ingestion job; ``raw`` is the whole answer.

    ``status`` is ``"unknown"`` when the answer has none; ``result`` holds what the job produced
    (``chunk_count`` and ``token_count`` for text).
    """

    job_id: str
    status: str
    source_id: str | None
    org_id: str | None
    progress: float | None
    error: str | None
    result: dict[str, Any] | None
    raw: dict[str, Any]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> IngestJobStatus:
        where = "IngestJobStatus"
        return cls(
            job_id=wire_str(data, "job_id", where),
            status=wire_str(data, "status", where) or "unknown",
            source_id=wire_opt_str(data, "source_id", where),
            org_id=wire_opt_str(data, "org_id", where),
            progress=wire_opt_float(data, "progress", where),
            error=wire_opt_str(data, "error", where),
            result=wire_opt_object(data, "result", where),
            raw=data,
        )


def _items(data: Any, key: str, what: str) -> list[dict[str, Any]]:
    """The objects of a list answer: ``{key: [...]}`` (missing or null: none) or a bare array."""
    items = data.get(key) if isinstance(data, dict) else data
    if items is None:
        return []
    if not isinstance(items, list):
        raise DaguitoError(f"expected a {key} array from {what}")
    return objects_in(items, f"{what} {key}")


def _with_query(path: str, query: dict[str, str | None]) -> str:
    present = {name: value for name, value in query.items() if value}
    return f"{path}?{urlencode(present)}" if present else path


class AdminKnowledgeService:
    """``/api/public/knowledge``: bases, sources, URL and text ingestion, chunk metadata."""

    def __init__(self, api_url: str, client_factory: Any) -> None:
        self._api_url = api_url
        self._client_factory = client_factory

    def _url(self, path: str) -> str:
        return join_http(self._api_url, _BASE + path)

    async def list_bases(self, org_id: str | None = None) -> list[KnowledgeBase]:
        """The knowledge bases of the key's org (or of ``org_id``)."""
        path = _with_query("/bases", {"org_id": org_id})
        data = await call(self._client_factory, "GET", self._url(path))
        return [
            KnowledgeBase.from_wire(item) for item in _items(data, "bases", f"GET {_BASE}{path}")
        ]

    async def list_sources(self, org_id: str | None = None) -> list[KnowledgeSource]:
        """The sources of the key's org (or of ``org_id``)."""
        path = _with_query("/sources", {"org_id": org_id})
        data = await call(self._client_factory, "GET", self._url(path))
        what = f"GET {_BASE}{path}"
        return [KnowledgeSource.from_wire(item) for item in _items(data, "sources", what)]

    async def create_source(self, source: dict[str, Any]) -> KnowledgeSource:
        """Create a source from ``source`` (sent as given; ``org_id`` and ``name`` are required,
        checked before any request)."""
        for required in ("org_id", "name"):
            if not source.get(required):
                raise DaguitoError(f"create_source: source.{required} is required")
        data = await call(self._client_factory, "POST", self._url("/sources"), body=source)
        created = expect_object(data, f"POST {_BASE}/sources").get("source")
        if not isinstance(created, dict):
            raise DaguitoError("expected source object in response")
        return KnowledgeSource.from_wire(created)

    async def ingest_url(
        self, source_id: str, url: str, metadata: dict[str, Any] | None = None
    ) -> IngestJobStatus:
        """Fetch and ingest a web page into ``source_id``; the ingestion job."""
        if not url:
            raise DaguitoError("ingest_url: url is required")
        path = f"/sources/{quote_segment(source_id)}/url"
        body: dict[str, Any] = {"url": url}
        if metadata is not None:
            body["metadata"] = metadata
        data = await call(self._client_factory, "POST", self._url(path), body=body)
        return IngestJobStatus.from_wire(expect_object(data, f"POST {_BASE}{path}"))

    async def ingest_text(
        self, source_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> IngestJobStatus:
        """Ingest ``text`` into ``source_id``; always an :class:`IngestJobStatus`.

        daguito-sdk parsed this answer as a job while the JS SDK reads
        ``{source_id, chunk_count, token_count}`` (bug D5). relaywire keeps the Python type and
        reads both: a job answer is taken as it is; counts at the top level of the answer (the JS
        shape, or a job that also reports them) become ``result`` when the answer has no
        ``result`` object, and a count-only answer (ingested synchronously) has status
        ``"completed"``. ``raw`` is the answer as sent.
        """
        if not text:
            raise DaguitoError("ingest_text: text is required")
        path = f"/sources/{quote_segment(source_id)}/text"
        body: dict[str, Any] = {"text": text}
        if metadata is not None:
            body["metadata"] = metadata
        data = await call(self._client_factory, "POST", self._url(path), body=body)
        job = IngestJobStatus.from_wire(expect_object(data, f"POST {_BASE}{path}"))
        counts = {name: data[name] for name in ("chunk_count", "token_count") if name in data}
        if counts:
            where = "IngestJobStatus"
            counts = {name: wire_int(data, name, where) for name in counts}
            if job.result is None:
                job.result = counts
            if "status" not in data and "job_id" not in data:
                job.status = "completed"
        return job

    async def get_ingest_job(self, job_id: str) -> IngestJobStatus:
        """The state of an ingestion job."""
        path = f"/ingest-jobs/{quote_segment(job_id)}"
        data = await call(self._client_factory, "GET", self._url(path))
        return IngestJobStatus.from_wire(expect_object(data, f"GET {_BASE}{path}"))

    async def delete_chunks_by_metadata(
        self, source_id: str, metadata_key: str, metadata_value: str
    ) -> int:
        """Delete the chunks of ``source_id`` whose metadata ``metadata_key`` equals
        ``metadata_value``; how many were deleted."""
        if not metadata_key:
            raise DaguitoError("delete_chunks_by_metadata: metadata_key is required")
        path = f"/sources/{quote_segment(source_id)}/chunks"
        query = urlencode({"metadata_key": metadata_key, "metadata_value": metadata_value})
        data = await call(self._client_factory, "DELETE", self._url(f"{path}?{query}"))
        answer = expect_object(data, f"DELETE {_BASE}{path}")
        return wire_int(answer, "deleted_count", "delete_chunks_by_metadata")

    async def update_chunks_metadata(
        self, source_id: str, match: dict[str, Any], patch: dict[str, Any]
    ) -> int:
        """Merge ``patch`` into the metadata of the chunks of ``source_id`` matching
        ``match = {"metadata_key", "metadata_value"}`` (the value is sent as text, as
        daguito-sdk did); how many were updated."""
        if not isinstance(patch, dict):
            raise DaguitoError("update_chunks_metadata: patch must be a dict")
        key = match.get("metadata_key") if isinstance(match, dict) else None
        if not key:
            raise DaguitoError("update_chunks_metadata: match.metadata_key is required")
        value = match.get("metadata_value")
        wire_match = {
            "metadata_key": str(key),
            "metadata_value": "" if value is None else str(value),
        }
        path = f"/sources/{quote_segment(source_id)}/chunks"
        data = await call(
            self._client_factory,
            "PATCH",
            self._url(path),
            body={"match": wire_match, "patch": patch},
        )
        answer = expect_object(data, f"PATCH {_BASE}{path}")
        return wire_int(answer, "updated_count", "update_chunks_metadata")
