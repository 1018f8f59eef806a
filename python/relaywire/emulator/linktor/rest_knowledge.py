"""Linktor REST, knowledge bases: the SDK's documents and ``/query``, the server's FAQ items and
``/search``, over one BM25 index (:mod:`relaywire.emulator._search`) in the store.

A knowledge base holds *entries*: uploaded documents (chunked) and FAQ items (question and
answer). Each dialect shows all of them in its own words: the SDK lists items as one-chunk text
documents, the server lists documents as items whose question is the file name.
"""

from __future__ import annotations

import email.policy
import re
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

import orjson
from starlette.responses import Response

from relaywire.emulator._http import ApiError, json_response
from relaywire.emulator._search import Chunk
from relaywire.emulator.linktor.dialect import Dialect
from relaywire.emulator.linktor.rest_core import Api, Call, CodeList, Field, Resource, apply, parse
from relaywire.emulator.linktor.store import LinktorStore, Record, stamp
from relaywire.emulator.linktor.wire import (
    sdk_chunk,
    sdk_document,
    sdk_knowledge_base,
    server_kb_item,
    server_knowledge_base,
)

__all__ = ["DEFAULT_EMBEDDING_MODEL", "register", "search"]

SDK, SERVER = Dialect.SDK, Dialect.SERVER
DEFAULT_EMBEDDING_MODEL = "relaywire-hash-256"
_CHUNKING = ("chunk_size", "chunk_overlap", "embedding_model")


def register(api: Api) -> None:
    """Add the knowledge-base routes of ``api``'s dialect."""
    KNOWLEDGE_BASES.register(api)
    if api.sdk:
        api.add("POST", "/knowledge-bases/{id}/query", _query)
        api.add("GET", "/knowledge-bases/{id}/documents", _list_entries)
        api.add("POST", "/knowledge-bases/{id}/documents", _upload)
        api.add("DELETE", "/knowledge-bases/{id}/documents/{entry_id}", _delete_entry)
        return
    api.add("POST", "/knowledge-bases/{id}/search", _search)
    api.add("POST", "/knowledge-bases/{id}/regenerate-embeddings", _regenerate)
    api.add("GET", "/knowledge-bases/{id}/items", _list_entries)
    api.add("POST", "/knowledge-bases/{id}/items", _add_item)
    api.add("POST", "/knowledge-bases/{id}/items/bulk", _add_items)
    api.add("GET", "/knowledge-bases/{id}/items/{entry_id}", _get_item)
    api.add("PUT", "/knowledge-bases/{id}/items/{entry_id}", _update_item)
    api.add("DELETE", "/knowledge-bases/{id}/items/{entry_id}", _delete_entry)


def search(
    store: LinktorStore,
    tenant: str,
    query: str,
    top_k: int,
    kb_ids: list[str] | None = None,
    *,
    min_score: float = 0.0,
    metadata: dict[str, Any] | None = None,
) -> list[tuple[Chunk, float]]:
    """The best chunks of the tenant's knowledge bases (all of them unless ``kb_ids``)."""
    own = [
        kb["id"]
        for kb in store.collection("knowledge_bases").values()
        if kb["tenant_id"] == tenant and (kb_ids is None or kb["id"] in kb_ids)
    ]
    return store.knowledge.search(
        query, top_k, source_ids=own, metadata_equals=metadata, min_score=min_score
    )


# -- knowledge bases -------------------------------------------------------------------------


def _chunking_ok(kb: Record) -> None:
    if not 0 <= kb["chunk_overlap"] < kb["chunk_size"]:
        raise ApiError(400, "VALIDATION_ERROR", "chunk overlap must be below the chunk size")


def _lift_config(values: dict[str, Any]) -> dict[str, Any]:
    """The server keeps chunking settings in ``config``; the record keeps them top-level."""
    config = values.get("config")
    if isinstance(config, dict):
        lifted = parse(config, _SDK_CHUNKING, SERVER, partial=True)
        values.update({k: v for k, v in lifted.items() if v is not None})
        values["config"] = {k: v for k, v in config.items() if k not in _CHUNKING}
    return values


def _make_kb(call: Call, values: dict[str, Any]) -> Record:
    fields: Record = {
        "description": None,
        "type": "documents",
        "embedding_model": DEFAULT_EMBEDDING_MODEL,
        "chunk_size": 800,
        "chunk_overlap": 100,
        "config": {},
        "metadata": None,
    }
    fields.update({k: v for k, v in _lift_config(values).items() if v is not None})
    _chunking_ok(fields)
    fields["id"] = call.new_id("kb")
    return call.store.create_record("knowledge_bases", "kb", fields, tenant_id=call.tenant)


def _change_kb(call: Call, kb: Record, values: dict[str, Any]) -> Record:
    before = {key: kb[key] for key in _CHUNKING}
    candidate = apply(dict(kb), _lift_config(values))
    _chunking_ok(candidate)
    kb.update(candidate)
    kb["updated_at"] = stamp()
    if before != {key: kb[key] for key in _CHUNKING}:
        for entry in call.store.kb_entries(kb["id"]):
            call.store.index_kb_entry(entry)
    return kb


_SDK_CHUNKING = (
    Field("embedding_model"),
    Field("chunk_size", "int", low=50, high=20000),
    Field("chunk_overlap", "int", low=0, high=10000),
)

KNOWLEDGE_BASES = Resource(
    path="/knowledge-bases",
    what="knowledge base",
    records=lambda store: store.collection("knowledge_bases"),
    sdk_view=sdk_knowledge_base,
    server_view=lambda kb, store, t: server_knowledge_base(kb, store, t=t),
    create_fields={
        SDK: (
            Field("name", required=True),
            Field("description"),
            *_SDK_CHUNKING,
            Field("metadata", "dict"),
        ),
        SERVER: (
            Field("name", required=True),
            Field("description"),
            Field("type", required=True, choices=("faq", "documents", "website"), loose=True),
            Field("config", "dict"),
        ),
    },
    update_fields={
        SDK: (Field("name"), Field("description"), Field("metadata", "dict")),
        SERVER: (Field("name"), Field("description"), Field("config", "dict")),
    },
    make=_make_kb,
    change=_change_kb,
    remove=lambda call, kb: call.store.remove_knowledge_base(kb["id"]),
    deletable=frozenset({SDK, SERVER}),
    filters={SDK: {"status": "status"}, SERVER: {"type": "type", "status": "status"}},
    code_list=CodeList(
        "knowledge bases",
        ("created_at", "updated_at", "name", "type", "status", "item_count", "last_sync_at"),
    ),
)


def _kb(call: Call) -> Record:
    return call.find(call.store.collection("knowledge_bases"), call.arg("id"), "knowledge base")


def _entry(call: Call, kb: Record) -> Record:
    entries = call.store.collection("kb_entries")
    entry = entries.get(call.arg("entry_id"))
    if entry is None or entry["knowledge_base_id"] != kb["id"]:
        what = "document" if call.sdk else "item"
        raise ApiError(404, "NOT_FOUND", f"{what} not found", {"id": call.arg("entry_id")})
    return entry


def _entry_view(call: Call, entry: Record) -> Record:
    return sdk_document(entry) if call.sdk else server_kb_item(entry, t=call.t)


_CODE_ITEMS = CodeList("knowledge items", ("created_at", "updated_at", "question", "source"))


async def _list_entries(call: Call) -> Response:
    if call.code:  # the knowledge base is not looked up: an unknown one has no items
        entries = call.store.kb_entries(call.arg("id"))
        return _CODE_ITEMS.answer(call, [_entry_view(call, e) for e in entries])
    entries = call.store.kb_entries(_kb(call)["id"])
    wanted = {k: call.query(k) for k in ("status", "type")}
    entries = [e for e in entries if all(v is None or e[k] == v for k, v in wanted.items())]
    needle = (call.query("search") or "").casefold()
    entries = [e for e in entries if needle in f"{e['name']} {e['content'] or ''}".casefold()]
    return call.page([_entry_view(call, e) for e in entries], "pagination")


async def _delete_entry(call: Call) -> Response:
    call.store.remove_kb_entry(_entry(call, _kb(call))["id"])
    return Response(status_code=204)


# -- searching -------------------------------------------------------------------------------

_QUERY = (
    Field("query", required=True),
    Field("top_k", "int", low=1, high=100),
    Field("threshold", "num", low=0, high=1),
    Field("filter", "dict"),
)


async def _query(call: Call) -> Response:
    kb = _kb(call)
    values = await call.fields(_QUERY)
    hits = search(
        call.store,
        call.tenant,
        values["query"],
        values.get("top_k") or 5,
        [kb["id"]],
        min_score=values.get("threshold") or 0.0,
        metadata=values.get("filter"),
    )
    chunks = [sdk_chunk(chunk, score) for chunk, score in hits]
    return call.ok({"chunks": chunks, "query": values["query"], "model": kb["embedding_model"]})


_SEARCH = (Field("query", required=True), Field("limit", "int", low=1, high=20))


async def _search(call: Call) -> Response:
    kb = _kb(call)
    values = await call.fields(_SEARCH)
    limit = values.get("limit") or 5
    entries = call.store.collection("kb_entries")
    # Items, not chunks: each entry once, at its best chunk's score.
    best: dict[str, tuple[float, list[str]]] = {}
    for chunk, score in search(call.store, call.tenant, values["query"], limit * 5, [kb["id"]]):
        entry_id = str(chunk.document_id)
        score_so_far, highlights = best.get(entry_id, (score, []))
        best[entry_id] = (max(score, score_so_far), [*highlights, chunk.content])
    results = [
        {"item": _entry_view(call, entries[entry_id]), "score": score, "highlights": highlights}
        for entry_id, (score, highlights) in list(best.items())[:limit]
    ]
    return json_response({"results": results, "query": values["query"], "count": len(results)})


async def _regenerate(call: Call) -> Response:
    entries = call.store.kb_entries(_kb(call)["id"])
    for entry in entries:
        call.store.index_kb_entry(entry)
    return call.ok({"message": "Embeddings regenerated", "items_processed": len(entries)})


# -- FAQ items (server) ----------------------------------------------------------------------

_ITEM = (
    Field("keywords", "str_list"),
    Field("source"),
    Field("metadata", "dict"),
)
_NEW_ITEM = (
    Field("question", required=True, target="name"),
    Field("answer", required=True, target="content"),
    *_ITEM,
)
_ITEM_CHANGES = (Field("question", target="name"), Field("answer", target="content"), *_ITEM)


def _store_item(call: Call, kb: Record, values: dict[str, Any]) -> Record:
    return call.store.add_kb_entry(kb, {"kind": "item", "id": call.new_id("kbi"), **values})


async def _add_item(call: Call) -> Response:
    kb = _kb(call)
    item = _store_item(call, kb, await call.fields(_NEW_ITEM))
    return call.created(_entry_view(call, item))


async def _add_items(call: Call) -> Response:
    kb = _kb(call)
    spec = (Field("items", "dict_list", required=True, low=1, high=100),)
    items = (await call.fields(spec))["items"]
    created: list[Record] = []
    errors: list[str] = []
    for number, item in enumerate(items):
        try:
            created.append(_entry_view(call, _store_item(call, kb, parse(item, _NEW_ITEM, SERVER))))
        except ApiError as error:
            errors.append(f"item {number}: {error.message}")
    return json_response({"created": len(created), "items": created, "errors": errors})


async def _get_item(call: Call) -> Response:
    return call.ok(_entry_view(call, _entry(call, _kb(call))))


async def _update_item(call: Call) -> Response:
    entry = _entry(call, _kb(call))
    apply(entry, await call.fields(_ITEM_CHANGES, partial=True))
    if entry["content"] is None:
        entry["content"] = ""
    entry["updated_at"] = stamp()
    call.store.index_kb_entry(entry)
    return call.ok(_entry_view(call, entry))


# -- document upload (SDK) -------------------------------------------------------------------

_DOCUMENT_TYPES = {
    "pdf": "pdf",
    "txt": "txt",
    "text": "txt",
    "docx": "docx",
    "html": "html",
    "htm": "html",
    "md": "markdown",
    "markdown": "markdown",
    "csv": "csv",
    "json": "json",
}
_TAG = re.compile(r"<[^>]+>")


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename, bytes)."""
    if body.startswith(b"--"):
        # Sniffed from the first line: the official SDK labels its multipart body as JSON.
        boundary = body[2 : body.find(b"\r\n")].decode("latin-1").strip()
    else:
        found = re.search(r'boundary="?([^";]+)"?', content_type)
        boundary = found.group(1) if found else ""
    if not boundary:
        raise ApiError(400, "VALIDATION_ERROR", "multipart body without a boundary")
    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\n\r\n'.encode()
    message = message_from_bytes(head + body, policy=email.policy.HTTP)
    assert isinstance(message, EmailMessage)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if message.is_multipart():
        for part in message.iter_parts():
            assert isinstance(part, EmailMessage)
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str):
                data = payload if isinstance(payload, bytes) else b""
                fields[name] = (part.get_filename(), data)
    return fields


def _extract(data: bytes, doc_type: str) -> tuple[str | None, str | None]:
    """The text of an uploaded file, or ``None`` and why not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"cannot extract text from this {doc_type} file (the emulator reads UTF-8)"
    if doc_type == "html":
        text = _TAG.sub(" ", text)
    return text, None


_UPLOAD = (
    Field("name", required=True),
    Field("content", required=True),
    Field("type", choices=tuple(sorted(set(_DOCUMENT_TYPES.values())))),
    Field("source_url"),
    Field("metadata", "dict"),
)


async def _upload(call: Call) -> Response:
    kb = _kb(call)
    body = await call.request.body()
    content_type = call.request.headers.get("content-type", "")
    if body.startswith(b"--") or content_type.startswith("multipart/"):
        fields = _multipart(body, content_type)
        if "file" not in fields:
            raise ApiError(400, "VALIDATION_ERROR", "multipart field 'file' is required")
        filename, data = fields["file"]
        if not data:
            raise ApiError(400, "VALIDATION_ERROR", "the uploaded file is empty")
        extra = {k: v.decode("utf-8", "replace") for k, (_, v) in fields.items() if k != "file"}
        name = extra.get("name") or filename or "document.txt"
        doc_type = _DOCUMENT_TYPES.get(name.rsplit(".", 1)[-1].casefold(), "txt")
        text, error = _extract(data, doc_type)
        metadata = _json_object(extra["metadata"]) if "metadata" in extra else None
        values: Record = {"name": name, "type": extra.get("type") or doc_type, "content": text}
        values.update({"error": error, "metadata": metadata, "source_url": extra.get("sourceUrl")})
        if values["type"] not in _DOCUMENT_TYPES.values():
            raise ApiError(400, "VALIDATION_ERROR", f"unknown document type {values['type']}")
    else:
        # UploadDocumentInput as JSON: {name, content, type?, sourceUrl?, metadata?}
        values = await call.fields(_UPLOAD)
        if not values.get("type"):
            values["type"] = _DOCUMENT_TYPES.get(values["name"].rsplit(".", 1)[-1], "txt")
    entry = call.store.add_kb_entry(kb, {"kind": "document", **values})
    if entry["status"] == "failed":
        entry["error"] = values.get("error") or entry["error"]
        entry["size"] = len(body)
    return call.created(sdk_document(entry))


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ApiError(400, "VALIDATION_ERROR", "metadata must be a JSON object")
    return value
