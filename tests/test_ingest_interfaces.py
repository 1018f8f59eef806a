"""``relaywire ingest`` serves the receiver through granian's RSGI interface (a body read through
it costs far less than through ASGI's ``receive``); the embedded ``Receiver`` serves it through
ASGI on uvicorn. Both paths give every answer alike: the same requests, over real sockets, get the
same statuses and bodies, and the same deliveries are stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _ingest_support import (
    LINKTOR_SECRET,
    STANDARD_SECRET,
    linktor_delivery,
    raw_request,
    receiver_process,
    standard_headers,
)

from relaywire.ingest import Receiver, Source, read

CONFIG = f"""
[[sources]]
name = "linktor"
path = "/hooks/linktor"
scheme = "linktor"
secrets = ["{LINKTOR_SECRET}"]
max_body = 4096

[[sources]]
name = "std"
path = "/hooks/std"
scheme = "standard"
secrets = ["{STANDARD_SECRET}"]
max_body = 4096
"""


def requests() -> list[tuple[str, bytes, bytes]]:
    """(what, head, body): one of each answer the receiver gives."""

    def post(path: str, headers: dict[str, str], body: bytes, extra: str = "") -> bytes:
        lines = [f"POST {path} HTTP/1.1", "Host: t", *(f"{k}: {v}" for k, v in headers.items())]
        if "chunked" not in extra:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + extra).encode()

    std_body = b'{"type":"message.sent","data":{"text":"hello"}}'
    std = standard_headers(std_body, "msg_interfaces_1")
    linktor_body, linktor = linktor_delivery("evt_interfaces_1", text="hi")
    tampered = linktor_body + b" "
    gzip = {**std, "Content-Encoding": "gzip"}
    no_id_body, no_id = linktor_delivery("")
    chunked = "\r\nTransfer-Encoding: chunked"
    return [
        ("stored", post("/hooks/std", std, std_body), std_body),
        ("duplicate", post("/hooks/std", std, std_body), std_body),
        ("stored, linktor", post("/hooks/linktor", linktor, linktor_body), linktor_body),
        ("bad signature", post("/hooks/linktor", linktor, tampered), tampered),
        ("no signature", post("/hooks/std", {}, std_body), std_body),
        ("no id", post("/hooks/linktor", no_id, no_id_body), no_id_body),
        ("compressed", post("/hooks/std", gzip, std_body), std_body),
        ("bad length", b"POST /hooks/std HTTP/1.1\r\nHost: t\r\nContent-Length: -5", b"{}"),
        ("too large", post("/hooks/std", std, b"x" * 5000), b"x" * 5000),
        ("chunked, too large", post("/hooks/std", std, b"", chunked), b"1400\r\n" + b"x" * 5120),
        ("chunked, broken", post("/hooks/std", std, b"", chunked), b"zz\r\nabc\r\n0\r\n\r\n"),
        ("unknown path", post("/hooks/nope", std, std_body), std_body),
        ("wrong method", b"GET /hooks/std HTTP/1.1\r\nHost: t", b""),
        ("health", b"GET /health HTTP/1.1\r\nHost: t", b""),
    ]


def answers(port: int) -> list[tuple[str, int, bytes]]:
    out = []
    for what, head, body in requests():
        response = raw_request(port, head, body)
        status = int(response.split(b" ", 2)[1])
        content = response.partition(b"\r\n\r\n")[2]
        if what in ("bad length", "chunked, broken"):
            content = b""  # uvicorn's parser refuses these itself, in its own words
        # the health body holds a live count; keep the stable part
        out.append((what, status, content.split(b',"pending"')[0]))
    return out


@pytest.fixture
def asgi_answers(tmp_path: Path) -> Iterator[tuple[list[tuple[str, int, bytes]], str]]:
    db = f"sqlite:///{tmp_path}/asgi.db"
    sources = [
        Source("linktor", "/hooks/linktor", "linktor", secrets=[LINKTOR_SECRET], max_body=4096),
        Source("std", "/hooks/std", "standard", secrets=[STANDARD_SECRET], max_body=4096),
    ]
    with Receiver(sources, db) as receiver:
        yield answers(int(receiver.url.rsplit(":", 1)[1])), db


def test_rsgi_and_asgi_answer_alike(
    tmp_path: Path, asgi_answers: tuple[list[tuple[str, int, bytes]], str]
) -> None:
    asgi, asgi_db = asgi_answers
    rsgi_db = f"sqlite:///{tmp_path}/rsgi.db"
    with receiver_process(tmp_path, CONFIG, rsgi_db) as receiver:
        rsgi = answers(receiver.port)
    assert rsgi == asgi
    statuses = {what: status for what, status, _ in rsgi}
    assert statuses == {
        "stored": 200,
        "duplicate": 200,
        "stored, linktor": 200,
        "bad signature": 401,
        "no signature": 401,
        "no id": 400,
        "compressed": 400,
        "bad length": 400,
        "too large": 413,
        "chunked, too large": 413,
        "chunked, broken": 400,
        "unknown path": 404,
        "wrong method": 405,
        "health": 200,
    }
    stored = [[(d.source, d.id, d.body) for d in read(db)] for db in (asgi_db, rsgi_db)]
    assert stored[0] == stored[1] and len(stored[0]) == 2
