"""The knowledge-base data plane: text ingestion and hybrid search (daguito-sdk's
``KnowledgeSession``).

Differences from daguito-sdk 0.4.5 (bugs K1-K2, spec/daguito.md 6.2):

* Connections are pooled whether or not the session is used with ``async with``: requests go
  through ``KnowledgeSessionOptions.http_client`` when given, else through the per-loop pooled
  client. daguito-sdk built a client per call outside ``async with``. ``async with`` is kept for
  compatibility; it opens nothing and closing it closes nothing the caller owns.
* A ``null`` ``score`` / ``chunk_count`` / ``token_count`` reads as 0; any other wrongly typed
  field or body raises :class:`KnowledgeError` (daguito-sdk raised ``TypeError``).
* ``SearchInput.metadata_equals`` (as in the JS SDK) is sent as ``metadata_equals``;
  ``KnowledgeSessionOptions.timeout`` (a total deadline per call, default 60 s) and
  ``http_client`` were added.
* Source ids are percent-encoded in the path. Search, being read-only, retries connection
  errors, 429 and 5xx twice (honouring ``Retry-After``); ingestion is never retried (it would
  index the text twice).
* Errors carry ``status``, ``request_id`` and ``body`` and are also ``InvalidTokenError``
  (401/403), ``RateLimitError`` (429) or ``DaguitoConnectionError`` / ``DaguitoTimeoutError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import httpx

from daguito._client_headers import client_headers  # noqa: F401 - daguito-sdk exposed it here
from daguito._http import (
    RETRY_IDEMPOTENT,
    check_timeout,
    decode_json,
    encode_json,
    raise_for_status,
    request,
)
from daguito._url import join_http, quote_segment
from daguito.errors import KnowledgeError, error_of
from relaywire.redaction import masked_repr, register_secret

__all__ = [
    "IngestTextInput",
    "IngestTextResult",
    "KnowledgeError",
    "KnowledgeSession",
    "KnowledgeSessionOptions",
    "SearchHit",
    "SearchInput",
    "SearchResult",
]

DEFAULT_TIMEOUT = 60.0


@masked_repr("api_key")
@dataclass
class KnowledgeSessionOptions:
    """``api_key`` is an org key (``sk_dgt_…``) with ``kb:read`` / ``kb:write``.

    ``timeout`` (seconds, a total deadline per call; or an ``httpx.Timeout``) and
    ``http_client`` are relaywire additions, as in the Go SDK.
    """

    api_url: str
    api_key: str
    default_source_id: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    http_client: httpx.AsyncClient | None = None


@dataclass
class IngestTextInput:
    text: str
    metadata: dict[str, Any] | None = None
    source_id: str | None = None


@dataclass
class IngestTextResult:
    """``request_id`` (relaywire addition, not compared): the answer's ``X-Request-ID``."""

    source_id: str
    chunk_count: int
    token_count: int
    request_id: str | None = field(default=None, compare=False)


@dataclass
class SearchInput:
    """``None`` fields are left out of the request, so the server's defaults apply.

    ``metadata_equals`` (relaywire addition, as in the JS SDK) keeps only chunks whose
    metadata has exactly these values.
    """

    query: str
    top_k: int | None = None
    source_ids: list[str] | None = None
    enable_rewrite: bool | None = None
    enable_rerank: bool | None = None
    enable_cache: bool | None = None
    metadata_equals: dict[str, Any] | None = None


@dataclass
class SearchHit:
    id: str
    source_id: str
    content: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """``request_id`` (relaywire addition, not compared): the answer's ``X-Request-ID``."""

    hits: list[SearchHit]
    query_original: str
    query_rewritten: str | None = None
    raw: Any = None
    request_id: str | None = field(default=None, compare=False)


class KnowledgeSession:
    """A client of the KB ingest and search endpoints. Constructing it does no I/O; it may be
    used with or without ``async with``, and from several tasks at once."""

    def __init__(self, opts: KnowledgeSessionOptions) -> None:
        register_secret(opts.api_key)
        self._opts = opts
        timeout = opts.timeout
        if isinstance(timeout, httpx.Timeout):
            self._timeout: float | httpx.Timeout = timeout
        else:
            checked = check_timeout(timeout, DEFAULT_TIMEOUT, "timeout")
            assert checked is not None
            self._timeout = checked

    async def __aenter__(self) -> KnowledgeSession:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def ingest_text(self, input: IngestTextInput) -> IngestTextResult:
        """Chunk, embed and index ``input.text`` into a source; returns the counts.

        The source is ``input.source_id``, else ``default_source_id``; with neither,
        :class:`KnowledgeError` is raised before any I/O.
        """
        source_id = input.source_id or self._opts.default_source_id
        if not source_id:
            raise KnowledgeError(
                "source_id required: set IngestTextInput.source_id or "
                "KnowledgeSessionOptions.default_source_id"
            )
        if not isinstance(input.text, str):
            raise TypeError(f"IngestTextInput.text must be a str, got {type(input.text).__name__}")
        body: dict[str, Any] = {"text": input.text}
        if input.metadata is not None:
            body["metadata"] = input.metadata
        path = f"/api/sdk/knowledge/sources/{quote_segment(source_id)}/text"
        data, status, request_id = await self._post(path, body, retry=False)
        returned = data.get("source_id")
        return IngestTextResult(
            source_id=returned if isinstance(returned, str) and returned else source_id,
            chunk_count=_count(data, "chunk_count", status),
            token_count=_count(data, "token_count", status),
            request_id=request_id,
        )

    async def search(self, input: SearchInput) -> SearchResult:
        """Hybrid (BM25 + vector) search over the org's sources."""
        if not isinstance(input.query, str):
            raise TypeError(f"SearchInput.query must be a str, got {type(input.query).__name__}")
        body: dict[str, Any] = {"query": input.query}
        for name in (
            "top_k",
            "source_ids",
            "enable_rewrite",
            "enable_rerank",
            "enable_cache",
            "metadata_equals",
        ):
            value = getattr(input, name)
            if value is not None:
                body[name] = value
        data, status, request_id = await self._post("/api/sdk/knowledge/search", body, retry=True)
        chunks = data.get("chunks")
        if chunks is None:
            chunks = []
        elif not isinstance(chunks, list):
            raise KnowledgeError(
                f"unexpected response: chunks is {type(chunks).__name__}, not a list", status
            )
        hits = [_hit(chunk, status) for chunk in chunks if isinstance(chunk, dict)]
        original = data.get("query_original")
        rewritten = data.get("query_rewritten")
        return SearchResult(
            hits=hits,
            query_original=original if isinstance(original, str) else input.query,
            query_rewritten=rewritten if isinstance(rewritten, str) else None,
            raw=data,
            request_id=request_id,
        )

    async def _post(
        self, path: str, body: dict[str, Any], *, retry: bool
    ) -> tuple[Any, int, str | None]:
        opts = self._opts
        headers = {"Authorization": f"Bearer {opts.api_key}", "Content-Type": "application/json"}
        response = await request(
            KnowledgeError,
            "POST",
            join_http(opts.api_url, path),
            client=opts.http_client,
            headers=headers,
            content=encode_json(body),
            timeout=self._timeout,
            retry=RETRY_IDEMPOTENT if retry else None,
            idempotent=retry,  # a search only reads: safe to replay
        )
        raise_for_status(KnowledgeError, response)
        data = decode_json(KnowledgeError, response)
        request_id = response.headers.get("x-request-id")
        if not isinstance(data, dict):
            raise error_of(
                KnowledgeError,
                "expected JSON object response",
                response.status_code,
                request_id=request_id,
                body=data,
            )
        return data, response.status_code, request_id


def _count(data: dict[str, Any], name: str, status: int) -> int:
    value = data.get(name)
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise KnowledgeError(f"unexpected response: {name} is {value!r}, not an integer", status)


def _text(chunk: dict[str, Any], name: str, status: int) -> str:
    value = chunk.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise KnowledgeError(f"unexpected response: chunk {name} is {value!r}, not a string", status)


def _hit(chunk: dict[str, Any], status: int) -> SearchHit:
    score = chunk.get("score")
    if score is None:
        value = 0.0
    elif isinstance(score, (int, float)) and not isinstance(score, bool):
        value = float(score)
    else:
        raise KnowledgeError(f"unexpected response: score is {score!r}, not a number", status)
    if math.isnan(value):
        value = 0.0
    metadata = chunk.get("metadata")
    return SearchHit(
        id=_text(chunk, "id", status),
        source_id=_text(chunk, "source_id", status),
        content=_text(chunk, "content", status),
        score=value,
        metadata=metadata if isinstance(metadata, dict) else {},
    )
