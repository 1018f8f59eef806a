"""``daguito.upload``: presign + PUT against the emulator on real sockets (and a scripted
server for answers the emulator never gives)."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import os
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from _daguito_client_support import (
    Canned,
    Seen,
    canned_http,
    client_port_hook,
    count_async_clients,
    json_answer,
    pool_ports,
)

import daguito.errors
import daguito.upload
from daguito.errors import (
    DaguitoConnectionError,
    DaguitoTimeoutError,
    InvalidTokenError,
    RateLimitError,
)
from daguito.types import MediaKind
from daguito.upload import UploadError, UploadInput, UploadResult, upload_file
from relaywire.emulator import Emulator

SURFACE = json.loads((Path(__file__).parent / "data" / "daguito_0_4_5_surface.json").read_text())[
    "daguito.upload"
]["names"]


def fields(cls: type) -> list[tuple[str, Any]]:
    return [
        (f.name, None if f.default is dataclasses.MISSING else repr(f.default))
        for f in dataclasses.fields(cls)
    ]


def stored(emu: Emulator, key: str) -> Any:
    return emu.call(lambda: emu.daguito.uploads[key])


def upload_input(emu: Emulator, **fields: Any) -> UploadInput:
    base: dict[str, Any] = {"kind": "document", "data": b"%PDF-1.7 demo", "filename": "r.pdf"}
    base.update(fields)
    return UploadInput(emu.url, "wh_demo", "sk_wh_demo", **base)


# -- surface ---------------------------------------------------------------------------------


def test_dataclass_fields_match_daguito_sdk_and_additions_come_last() -> None:
    official = [tuple(pair) for pair in SURFACE["UploadInput"]["fields"]]
    assert fields(UploadInput)[: len(official)] == official
    assert fields(UploadInput)[len(official) :] == [
        ("http_client", "None"),
        ("progress", "None"),
        ("max_size_bytes", repr(25 * 1024 * 1024)),
    ]
    assert fields(UploadResult) == [
        *(tuple(p) for p in SURFACE["UploadResult"]["fields"]),
        ("request_id", "None"),  # relaywire addition, not compared
    ]


def test_error_class_is_the_package_one_and_has_a_status() -> None:
    # Bug U1: daguito-sdk's UploadError had no status.
    assert UploadError is daguito.errors.UploadError
    assert UploadError("x").status is None
    assert UploadError("x", 500).status == 500
    assert daguito.upload.UploadKind.__args__ == ("image", "audio", "document", "video")  # type: ignore[attr-defined]


# -- happy paths -----------------------------------------------------------------------------


async def test_upload_bytes(emu: Emulator) -> None:
    result = await upload_file(upload_input(emu))
    assert result.mime_type == "application/pdf"
    assert (result.size_bytes, result.expires_in_sec) == (13, 900)
    assert result.media_key.startswith("uploads/wh_demo/") and result.media_key.endswith("/r.pdf")
    upload = stored(emu, result.media_key)
    assert (upload.data, upload.kind, upload.mime_type) == (
        b"%PDF-1.7 demo",
        "document",
        "application/pdf",
    )


@pytest.mark.parametrize("as_type", [bytearray, memoryview, lambda b: memoryview(b).cast("H")])
async def test_upload_bytes_like(emu: Emulator, as_type: Any) -> None:
    data = bytes(range(256)) * 8
    result = await upload_file(upload_input(emu, data=as_type(data), filename="a.bin"))
    assert result.size_bytes == len(data)
    assert stored(emu, result.media_key).data == data


async def test_upload_a_file_streamed_from_disk(emu: Emulator, tmp_path: Path) -> None:
    # Bug U1: daguito-sdk had no progress callback (and read the file whole).
    data = os.urandom(600_000)  # three chunks
    path = tmp_path / "voice note.mp3"
    path.write_bytes(data)
    progress: list[tuple[int, int]] = []
    result = await upload_file(
        UploadInput(
            emu.url,
            "wh_demo",
            "sk_wh_demo",
            MediaKind.AUDIO,
            path=str(path),
            progress=lambda sent, total: progress.append((sent, total)),
        )
    )
    assert (result.mime_type, result.size_bytes) == ("audio/mpeg", 600_000)
    assert stored(emu, result.media_key).filename == "voice note.mp3"  # the path's basename
    assert stored(emu, result.media_key).data == data
    assert progress == [(262_144, 600_000), (524_288, 600_000), (600_000, 600_000)]


async def test_path_like_is_accepted(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG....")
    result = await upload_file(UploadInput(emu.url, "wh_demo", "sk_wh_demo", "image", path=path))
    assert (result.mime_type, result.size_bytes) == ("image/png", 8)


async def test_file_is_read_off_the_event_loop(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bug U1: daguito-sdk read the whole file with a blocking read on the event loop.
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * 300_000)
    loop_thread = threading.get_ident()
    reads: list[tuple[int, int]] = []

    class Recording:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def read(self, size: int = -1) -> bytes:
            assert size >= 0, "the whole file was read at once"
            block: bytes = self._handle.read(size)
            reads.append((threading.get_ident(), len(block)))
            return block

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

    real_open = open
    monkeypatch.setattr(
        daguito.upload, "open", lambda *a, **k: Recording(real_open(*a, **k)), raising=False
    )
    result = await upload_file(
        UploadInput(emu.url, "wh_demo", "sk_wh_demo", "document", path=str(path))
    )
    assert stored(emu, result.media_key).data == b"z" * 300_000
    assert [size for _, size in reads] == [262_144, 37_856, 0]  # the last read checks for growth
    assert all(thread != loop_thread for thread, _ in reads)


@pytest.mark.parametrize(
    ("kind", "filename", "expected"),
    [
        ("image", "blob.unknownext", "image/jpeg"),
        ("audio", "blob", "audio/mpeg"),
        ("document", "blob", "application/octet-stream"),
        ("video", "clip.mp4", "video/mp4"),
        ("video", "blob", "application/octet-stream"),
    ],
)
async def test_mime_type_guess_and_defaults(
    emu: Emulator, kind: str, filename: str, expected: str
) -> None:
    result = await upload_file(upload_input(emu, kind=kind, filename=filename))
    assert result.mime_type == expected


async def test_str_enum_kinds_are_accepted(emu: Emulator) -> None:
    class Kind(str, enum.Enum):
        IMAGE = "image"

    result = await upload_file(upload_input(emu, kind=Kind.IMAGE, filename="x.bin"))
    assert stored(emu, result.media_key).kind == "image"


async def test_progress_callback_errors_abort_the_upload(emu: Emulator) -> None:
    class Stop(Exception):
        pass

    def stop(sent: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        await upload_file(upload_input(emu, progress=stop))


async def test_explicit_mime_type_wins(emu: Emulator) -> None:
    result = await upload_file(upload_input(emu, mime_type="text/plain", filename="x.pdf"))
    assert result.mime_type == "text/plain"
    assert stored(emu, result.media_key).mime_type == "text/plain"


async def test_webhook_id_is_percent_encoded(emu: Emulator) -> None:
    # Bug B14: daguito-sdk put webhook_id in the path as is; a space made the request line
    # invalid.
    emu.call(emu.daguito.add_webhook, "wh demo 2", "sk_wh_two")
    inp = UploadInput(emu.url, "wh demo 2", "sk_wh_two", "image", data=b"gif", filename="a.gif")
    result = await upload_file(inp)
    assert stored(emu, result.media_key).webhook_id == "wh demo 2"


async def test_exact_requests() -> None:
    def answer(seen: Seen) -> Canned:
        if seen.method == "POST":
            return json_answer(
                {
                    "upload_url": f"{base[0]}/storage/k?sig=1",
                    "key": "media/k",
                    "required_headers": {"Content-Type": "image/png", "x-amz-meta-a": "b"},
                }
            )
        return Canned(200)

    base: list[str] = []
    async with canned_http(answer) as server:
        base.append(server.url)
        result = await upload_file(
            UploadInput(
                server.url + "/api/", "wh/1", "sk_wh_x", "image", data=b"png!", filename="p.png"
            )
        )
    assert result == UploadResult("media/k", "image/png", 4, 0)
    presign, put = server.requests
    assert (presign.method, presign.path) == ("POST", "/api/v1/webhooks/wh%2F1/upload")
    assert presign.headers["authorization"] == "Bearer sk_wh_x"
    assert presign.headers["x-daguito-client-lang"] == "python"
    assert presign.json() == {
        "kind": "image",
        "mime_type": "image/png",
        "size_bytes": 4,
        "filename": "p.png",
    }
    assert (put.method, put.path, put.body) == ("PUT", "/storage/k?sig=1", b"png!")
    # Exactly the signed headers (plus framing and httpx's defaults): no bearer, no client ids.
    assert put.headers["content-type"] == "image/png"
    assert put.headers["x-amz-meta-a"] == "b"
    assert put.headers["content-length"] == "4"
    assert "authorization" not in put.headers
    assert not any(name.startswith("x-daguito") for name in put.headers)


# -- input errors: UploadError before any I/O ------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"data": b"x", "path": "/tmp/x", "filename": "x"}, "exactly one of path or data"),
        ({"data": None}, "exactly one of path or data"),
        ({"filename": None}, "filename is required"),
        ({"data": b""}, "payload is empty"),
        ({"data": "text"}, "must be bytes"),
        ({"filename": Path("f.pdf")}, "filename must be a string"),
        ({"path": 42, "data": None}, "UploadInput.path"),
        ({"path": b"/tmp/x", "data": None}, "UploadInput.path must be"),
        ({"mime_type": 5}, "mime_type must be a string"),
        ({"kind": "spreadsheet"}, "kind must be one of"),
        ({"timeout_sec": 0}, "timeout_sec"),
        ({"timeout_sec": "30"}, "timeout_sec"),
        ({"data": b"x" * 11, "max_size_bytes": 10}, "over max_size_bytes=10"),
        ({"max_size_bytes": 0}, "max_size_bytes must be"),
        ({"path": "/definitely/missing/file.pdf", "data": None}, "cannot read"),
    ],
)
async def test_bad_input_is_an_upload_error_before_io(fields: dict[str, Any], message: str) -> None:
    async with canned_http(lambda seen: json_answer({})) as server:
        base: dict[str, Any] = {"kind": "document", "data": b"abc", "filename": "f.pdf"}
        base.update(fields)
        with pytest.raises(UploadError, match=message) as caught:
            await upload_file(UploadInput(server.url, "wh_demo", "sk_wh_demo", **base))
    assert caught.value.status is None
    assert server.requests == []


async def test_missing_file_keeps_the_os_error_as_cause(tmp_path: Path) -> None:
    # Bug U1: daguito-sdk raised the bare FileNotFoundError.
    with pytest.raises(UploadError) as caught:
        await upload_file(
            UploadInput("http://127.0.0.1:1", "w", "t", "image", path=str(tmp_path / "no.png"))
        )
    assert isinstance(caught.value.__cause__, FileNotFoundError)


async def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(UploadError, match="payload is empty"):
        await upload_file(UploadInput("http://127.0.0.1:1", "w", "t", "document", path=str(path)))


@pytest.mark.parametrize(("webhook_id", "token"), [("", "t"), ("w", ""), (None, "t")])
async def test_bad_ids_are_upload_errors(webhook_id: Any, token: Any) -> None:
    with pytest.raises(UploadError):
        await upload_file(
            UploadInput("http://127.0.0.1:1", webhook_id, token, "image", data=b"1", filename="a")
        )


async def test_default_size_cap_is_25_mib() -> None:
    # Bug U1: daguito-sdk had no client-side size check; it asked for a presign first.
    with pytest.raises(UploadError, match="max_size_bytes"):
        await upload_file(
            UploadInput(
                "http://127.0.0.1:1",
                "w",
                "t",
                "video",
                data=bytes(25 * 1024 * 1024 + 1),
                filename="v.mp4",
            )
        )


async def test_no_size_cap_leaves_it_to_the_server(emu: Emulator) -> None:
    def shrink_limit() -> None:
        emu.daguito.max_upload_bytes = 4

    emu.call(shrink_limit)
    with pytest.raises(UploadError) as caught:
        await upload_file(upload_input(emu, data=b"12345", max_size_bytes=None))
    assert caught.value.status == 413
    assert str(caught.value).startswith("presign failed: HTTP 413: ")


# -- presign errors (bug U1) -------------------------------------------------------------------


async def test_bad_token_is_invalid_token(emu: Emulator) -> None:
    with pytest.raises(UploadError) as caught:
        await upload_file(
            UploadInput(emu.url, "wh_demo", "sk_wh_nope", "image", data=b"1", filename="a")
        )
    assert isinstance(caught.value, InvalidTokenError)
    assert caught.value.status == 401
    assert str(caught.value) == "presign failed: HTTP 401: invalid token for this webhook"
    assert caught.value.request_id


async def test_unknown_webhook_is_404(emu: Emulator) -> None:
    with pytest.raises(UploadError) as caught:
        await upload_file(
            UploadInput(emu.url, "wh_nope", "sk_wh_demo", "image", data=b"1", filename="a")
        )
    assert caught.value.status == 404


async def test_presign_server_error_and_rate_limit(emu: Emulator) -> None:
    emu.faults.http(503, path_prefix="/v1/webhooks/")
    with pytest.raises(UploadError) as caught:
        await upload_file(upload_input(emu))
    assert caught.value.status == 503
    emu.faults.http(429, path_prefix="/v1/webhooks/", retry_after=2)
    with pytest.raises(RateLimitError) as limited:
        await upload_file(upload_input(emu))
    assert isinstance(limited.value, UploadError) and limited.value.status == 429


async def test_presign_dropped_connection(emu: Emulator) -> None:
    # Bug U1: daguito-sdk let the raw httpx exception through.
    emu.faults.http(None, path_prefix="/v1/webhooks/")
    with pytest.raises(UploadError) as caught:
        await upload_file(upload_input(emu))
    assert isinstance(caught.value, DaguitoConnectionError)
    assert caught.value.status is None


async def test_presign_timeout() -> None:
    # Bug U1: a raw httpx.ReadTimeout in daguito-sdk.
    async with canned_http(lambda seen: Canned(hang=True)) as server:
        with pytest.raises(UploadError) as caught:
            await upload_file(
                UploadInput(server.url, "w", "t", "image", data=b"1", filename="a", timeout_sec=0.2)
            )
    assert isinstance(caught.value, DaguitoTimeoutError)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        # Bug U1: daguito-sdk raised JSONDecodeError / KeyError / TypeError for these.
        (Canned(200, b"<html>"), "invalid JSON response"),
        (json_answer([1]), "expected a JSON object"),
        (json_answer({"key": "k"}), "no upload_url"),
        (json_answer({"upload_url": "http://x/y"}), "no key"),
        (json_answer({"upload_url": "", "key": "k"}), "no upload_url"),
        (
            json_answer({"upload_url": "http://x/y", "key": "k", "required_headers": []}),
            "required_headers",
        ),
        (
            json_answer({"upload_url": "http://x/y", "key": "k", "expires_in_sec": "soon"}),
            "expires_in_sec",
        ),
    ],
)
async def test_bad_presign_answers_are_upload_errors(answer: Canned, message: str) -> None:
    async with canned_http(lambda seen: answer) as server:
        with pytest.raises(UploadError, match=message) as caught:
            await upload_file(UploadInput(server.url, "w", "t", "image", data=b"1", filename="a"))
    assert caught.value.status == 200
    assert len(server.requests) == 1  # no PUT


# -- PUT errors ------------------------------------------------------------------------------


async def test_put_server_error(emu: Emulator) -> None:
    emu.faults.http(500, path_prefix="/_emulator/storage/")
    with pytest.raises(UploadError) as caught:
        await upload_file(upload_input(emu))
    assert caught.value.status == 500
    assert str(caught.value) == "PUT to storage failed: HTTP 500: injected fault: HTTP 500"


async def test_put_refused_by_storage() -> None:
    def answer(seen: Seen) -> Canned:
        if seen.method == "POST":
            return json_answer({"upload_url": f"{base[0]}/s", "key": "k"})
        return Canned(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")

    base: list[str] = []
    async with canned_http(answer) as server:
        base.append(server.url)
        with pytest.raises(InvalidTokenError) as caught:
            await upload_file(UploadInput(server.url, "w", "t", "image", data=b"1", filename="a"))
    assert isinstance(caught.value, UploadError)
    assert caught.value.status == 403
    assert "SignatureDoesNotMatch" in str(caught.value)


async def test_put_dropped_connection(emu: Emulator) -> None:
    # Bug U1: a raw httpx exception in daguito-sdk.
    emu.faults.http(None, path_prefix="/_emulator/storage/")
    with pytest.raises(UploadError) as caught:
        await upload_file(upload_input(emu))
    assert isinstance(caught.value, DaguitoConnectionError)


async def test_file_that_grows_during_the_upload_fails(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "growing.bin"
    path.write_bytes(b"a" * 300_000)

    def grow(sent: int, total: int) -> None:
        with open(path, "ab") as handle:
            handle.write(b"more")

    with pytest.raises(UploadError, match="grew during the upload"):
        await upload_file(
            UploadInput(emu.url, "wh_demo", "sk_wh_demo", "document", path=str(path), progress=grow)
        )


async def test_file_that_shrinks_during_the_upload_fails(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "shrinking.bin"
    path.write_bytes(b"a" * 600_000)

    def shrink(sent: int, total: int) -> None:
        os.truncate(path, 300_000)

    with pytest.raises(UploadError, match="shrank during the upload"):
        await upload_file(
            UploadInput(
                emu.url, "wh_demo", "sk_wh_demo", "document", path=str(path), progress=shrink
            )
        )


# -- connection reuse ------------------------------------------------------------------------


async def test_uploads_share_the_pooled_connection(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # daguito-sdk built an httpx.AsyncClient per upload.
    ports = pool_ports()
    built = count_async_clients(monkeypatch)
    for _ in range(3):
        await upload_file(upload_input(emu))
    assert built[0] == 0
    assert len(ports) == 6 and len(set(ports)) == 1


async def test_injected_client_is_used_for_both_requests(emu: Emulator) -> None:
    ports: list[int] = []
    async with httpx.AsyncClient(event_hooks={"response": [client_port_hook(ports)]}) as client:
        await upload_file(upload_input(emu, http_client=client))
        assert not client.is_closed
    assert len(ports) == 2


async def test_concurrent_uploads(emu: Emulator) -> None:
    results = await asyncio.gather(
        *(
            upload_file(upload_input(emu, data=bytes([i]) * 1000, filename=f"{i}.bin"))
            for i in range(5)
        )
    )
    for i, result in enumerate(results):
        assert stored(emu, result.media_key).data == bytes([i]) * 1000
