"""Presigned uploads: ``POST /v1/webhooks/{id}/upload``, then ``PUT`` the bytes to storage
(daguito-sdk's ``upload_file``).

Differences from daguito-sdk 0.4.5 (bug U1 and B14, spec/daguito.md 6.2):

* Every failure is an :class:`UploadError`, with ``status`` when there was an HTTP answer:
  network errors and timeouts (also ``DaguitoConnectionError`` / ``DaguitoTimeoutError``), a
  presign answer that is not JSON or lacks ``upload_url`` / ``key``, a presign or PUT status
  >= 400 (also ``InvalidTokenError`` for 401/403, ``RateLimitError`` for 429), a missing or
  unreadable file. daguito-sdk let httpx, JSON, ``KeyError`` and ``OSError`` exceptions through.
* Input problems are :class:`UploadError` too (``status`` None), always raised before any
  network I/O, as daguito-sdk did for its own checks: both or neither of ``path`` / ``data``,
  ``data`` without ``filename``, an empty payload, an unknown ``kind``, a wrong type, a bad
  ``timeout_sec``, or a payload over ``max_size_bytes``.
* A ``path`` is streamed from disk in chunks read off the event loop (daguito-sdk read the whole
  file on the loop); its size comes from ``fstat`` of the opened file. If the file shrinks or
  grows during the upload, the upload fails rather than sending something else.
* New optional fields, at the end of :class:`UploadInput`: ``http_client``, ``progress``
  (called as ``progress(bytes_sent, total)`` on the event loop after each chunk is handed to
  the connection; an exception it raises aborts the upload and propagates unchanged) and
  ``max_size_bytes``
  (25 MiB by default, the platform's limit; ``None`` disables the check).
* ``webhook_id`` is percent-encoded in the path.

The PUT carries exactly the presign's ``required_headers`` (and the ``Content-Length`` framing
header): no bearer, no client identification headers. If you pass an ``http_client``, its
default headers are sent to storage too, so keep credentials out of them. ``timeout_sec`` is a
total deadline for the presign; for the PUT, whose duration grows with the file, it limits each
phase (connecting, each write, the answer), so a slow but moving upload is not cut off.
Nothing is retried: a presign is cheap to redo by calling again, and a streamed body cannot be
replayed.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import httpx

from daguito._client_headers import client_headers  # noqa: F401 - daguito-sdk exposed it here
from daguito._http import check_timeout, decode_json, raise_for_status, request
from daguito._url import join_http, quote_segment
from daguito.errors import UploadError, error_of
from daguito.types import MediaKind
from relaywire.redaction import masked_repr, register_secret

__all__ = ["UploadError", "UploadInput", "UploadKind", "UploadResult", "upload_file"]

UploadKind = Literal["image", "audio", "document", "video"]

DEFAULT_TIMEOUT_SEC = 30.0
#: The platform's upload cap; the default of ``UploadInput.max_size_bytes``.
DEFAULT_MAX_SIZE_BYTES = 25 * 1024 * 1024
#: Bytes per read from disk (and per chunk handed to the transport).
CHUNK_SIZE = 256 * 1024

_DEFAULT_MIME = {
    "image": "image/jpeg",
    "audio": "audio/mpeg",
    "document": "application/octet-stream",
    "video": "application/octet-stream",
}


@masked_repr("token")
@dataclass
class UploadInput:
    """What to upload: exactly one of ``path`` and ``data``; ``filename`` is required with
    ``data``. ``kind`` is one of ``UploadKind`` (or a ``daguito.types.MediaKind`` constant).

    relaywire additions: ``http_client`` (an ``httpx.AsyncClient`` for both requests; the
    per-loop pooled client by default), ``progress`` (``progress(bytes_sent, total)``) and
    ``max_size_bytes`` (checked before any I/O; ``None`` disables it).
    """

    api_url: str
    webhook_id: str
    token: str
    kind: UploadKind
    path: str | os.PathLike[str] | None = None
    data: bytes | bytearray | memoryview | None = None
    filename: str | None = None
    mime_type: str | None = None
    timeout_sec: float = DEFAULT_TIMEOUT_SEC
    http_client: httpx.AsyncClient | None = None
    progress: Callable[[int, int], None] | None = None
    max_size_bytes: int | None = DEFAULT_MAX_SIZE_BYTES


@dataclass
class UploadResult:
    """``request_id`` (relaywire addition, not compared): the presign answer's
    ``X-Request-ID``."""

    media_key: str
    mime_type: str
    size_bytes: int
    expires_in_sec: int
    request_id: str | None = field(default=None, compare=False)


async def upload_file(inp: UploadInput) -> UploadResult:
    """Upload a file or bytes to Daguito storage; returns the ``media_key`` to send in a
    ``media_key_message``. See the module documentation for the errors."""
    timeout = _checked_timeout(inp.timeout_sec)
    kind = _checked_kind(inp.kind)
    presign_url = join_http(
        inp.api_url, f"/v1/webhooks/{_path_id(inp.webhook_id, 'webhook_id')}/upload"
    )
    if not isinstance(inp.token, str) or not inp.token:
        raise UploadError("UploadInput.token must be a non-empty string")
    register_secret(inp.token)
    if (inp.path is None) == (inp.data is None):
        raise UploadError("UploadInput needs exactly one of path or data")
    if inp.mime_type is not None and not isinstance(inp.mime_type, str):
        raise UploadError("UploadInput.mime_type must be a string")
    if inp.filename is not None and not isinstance(inp.filename, str):
        raise UploadError("UploadInput.filename must be a string")
    limit = inp.max_size_bytes
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise UploadError(f"UploadInput.max_size_bytes must be a positive int or None: {limit!r}")

    source: _BytesSource | _FileSource
    if inp.data is not None:
        data = _checked_data(inp.data)
        if not inp.filename:
            raise UploadError("UploadInput.filename is required when data is given")
        filename = inp.filename
        size = len(data)
        _check_size(size, limit)
        source = _BytesSource(data)
    else:
        assert inp.path is not None
        try:
            path = os.fspath(inp.path)
        except TypeError as err:
            raise UploadError(f"UploadInput.path: {err}") from err
        if not isinstance(path, str) or not path:
            raise UploadError("UploadInput.path must be a non-empty str or os.PathLike[str]")
        filename = inp.filename or os.path.basename(path)
        if not filename:
            raise UploadError(f"cannot take a filename from path {path!r}; set filename")
        source, size = await _FileSource.open(path)
        try:
            _check_size(size, limit)
        except BaseException:
            await source.close()
            raise

    try:
        mime_type = (
            inp.mime_type or mimetypes.guess_type(filename)[0] or _DEFAULT_MIME.get(kind, "")
        )
        upload_url, key, required_headers, expires_in, request_id = await _presign(
            inp, presign_url, kind, mime_type, size, filename, timeout
        )
        await _put(inp, upload_url, required_headers, source, size, timeout)
    finally:
        await source.close()
    return UploadResult(
        media_key=key,
        mime_type=mime_type,
        size_bytes=size,
        expires_in_sec=expires_in,
        request_id=request_id,
    )


# -- input checks ----------------------------------------------------------------------------


def _checked_timeout(value: Any) -> float | httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    try:
        checked = check_timeout(value, DEFAULT_TIMEOUT_SEC, "UploadInput.timeout_sec")
    except (TypeError, ValueError) as err:
        raise UploadError(str(err)) from err
    assert checked is not None
    return checked


def _checked_kind(kind: Any) -> str:
    """The plain ``str`` value of ``kind`` (a ``str`` enum member is accepted too)."""
    if isinstance(kind, str):
        for value in MediaKind.ALL:
            if kind == value:
                return value
    raise UploadError(
        f"UploadInput.kind must be one of {', '.join(sorted(MediaKind.ALL))}, got {kind!r}"
    )


def _path_id(value: Any, name: str) -> str:
    try:
        return quote_segment(value)
    except (TypeError, ValueError) as err:
        raise UploadError(f"UploadInput.{name}: {err}") from err


def _checked_data(data: Any) -> bytes | bytearray | memoryview:
    if isinstance(data, (bytes, bytearray)):
        return data
    if isinstance(data, memoryview):
        return data.cast("B") if data.c_contiguous else memoryview(data.tobytes())
    raise UploadError(
        f"UploadInput.data must be bytes, bytearray or memoryview, got {type(data).__name__}"
    )


def _check_size(size: int, limit: int | None) -> None:
    if size == 0:
        raise UploadError("UploadInput payload is empty")
    if limit is not None and size > limit:
        raise UploadError(
            f"UploadInput payload is {size} bytes, over max_size_bytes={limit} "
            "(set max_size_bytes=None to skip this check)"
        )


# -- payload sources -------------------------------------------------------------------------


class _BytesSource:
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        view = self._view
        for start in range(0, len(view), CHUNK_SIZE):
            yield bytes(view[start : start + CHUNK_SIZE])

    async def close(self) -> None:
        return None


class _FileSource:
    """A file opened, read and closed in worker threads, so the event loop never blocks."""

    def __init__(self, path: str, handle: IO[bytes], size: int) -> None:
        self._path = path
        self._handle = handle
        self._size = size

    @classmethod
    async def open(cls, path: str) -> tuple[_FileSource, int]:
        def open_and_stat() -> tuple[IO[bytes], int]:
            handle = open(path, "rb")  # noqa: SIM115 - closed by close()
            try:
                return handle, os.fstat(handle.fileno()).st_size
            except BaseException:
                handle.close()
                raise

        try:
            handle, size = await asyncio.to_thread(open_and_stat)
        except OSError as err:
            raise UploadError(f"cannot read {path!r}: {err.strerror or err}") from err
        return cls(path, handle, size), size

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        remaining = self._size
        while remaining > 0:
            try:
                block = await asyncio.to_thread(self._handle.read, min(CHUNK_SIZE, remaining))
            except OSError as err:
                raise UploadError(f"cannot read {self._path!r}: {err.strerror or err}") from err
            if not block:
                raise UploadError(
                    f"{self._path!r} shrank during the upload ({self._size - remaining} of "
                    f"{self._size} bytes read)"
                )
            remaining -= len(block)
            yield block
        extra = await asyncio.to_thread(self._handle.read, 1)
        if extra:
            raise UploadError(f"{self._path!r} grew during the upload (signed: {self._size} bytes)")

    async def close(self) -> None:
        if not self._handle.closed:
            await asyncio.to_thread(self._handle.close)


# -- the two requests ------------------------------------------------------------------------


async def _presign(
    inp: UploadInput,
    url: str,
    kind: str,
    mime_type: str,
    size: int,
    filename: str,
    timeout: float | httpx.Timeout,
) -> tuple[str, str, dict[str, str], int, str | None]:
    response = await request(
        UploadError,
        "POST",
        url,
        client=inp.http_client,
        headers={"Authorization": f"Bearer {inp.token}"},
        json={"kind": kind, "mime_type": mime_type, "size_bytes": size, "filename": filename},
        timeout=timeout,
    )
    status = response.status_code
    raise_for_status(UploadError, response, prefix=f"presign failed: HTTP {status}: ")
    data = decode_json(UploadError, response)
    request_id = response.headers.get("x-request-id")

    def bad(message: str) -> UploadError:
        return error_of(
            UploadError, f"presign failed: {message}", status, request_id=request_id, body=data
        )

    if not isinstance(data, dict):
        raise bad("expected a JSON object")
    upload_url = data.get("upload_url")
    key = data.get("key")
    if not isinstance(upload_url, str) or not upload_url:
        raise bad("the response has no upload_url")
    if not isinstance(key, str) or not key:
        raise bad("the response has no key")
    headers = data.get("required_headers")
    if headers is None:
        headers = {}
    if not isinstance(headers, dict):
        raise bad("required_headers is not an object")
    expires = data.get("expires_in_sec")
    if expires is None:
        expires = 0
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        raise bad(f"expires_in_sec is {expires!r}, not a number")
    fields = {str(k): str(v) for k, v in headers.items()}
    return upload_url, key, fields, int(expires), request_id


async def _put(
    inp: UploadInput,
    url: str,
    required_headers: dict[str, str],
    source: _BytesSource | _FileSource,
    size: int,
    timeout: float | httpx.Timeout,
) -> None:
    headers = dict(required_headers)
    if not any(name.lower() == "content-length" for name in headers):
        headers["Content-Length"] = str(size)
    progress = inp.progress
    body = _counted(source.chunks(), size, progress)
    try:
        response = await request(
            UploadError,
            "PUT",
            url,
            client=inp.http_client,
            headers=headers,
            content=body,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            with_client_headers=False,
        )
    finally:
        await body.aclose()
    status = response.status_code
    raise_for_status(UploadError, response, prefix=f"PUT to storage failed: HTTP {status}: ")


async def _counted(
    chunks: AsyncGenerator[bytes, None],
    total: int,
    progress: Callable[[int, int], None] | None,
) -> AsyncGenerator[bytes, None]:
    sent = 0
    try:
        async for chunk in chunks:
            yield chunk
            sent += len(chunk)
            if progress is not None:
                progress(sent, total)
    finally:
        await chunks.aclose()
