"""Helpers for the ingest tests: signed deliveries (signed with plain ``hmac``, never with the
code under test) and raw-socket requests."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from _ingest_servers import free_port, stop_process
from _support import hmac_hex, hmac_sha256

STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LINKTOR_SECRET = "lk_whsec_demo_secret"


def standard_headers(
    body: bytes, msg_id: str, secret: str = STANDARD_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{ts}.".encode() + body
    signature = base64.b64encode(hmac_sha256(key, signed)).decode()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": f"v1,{signature}",
        "content-type": "application/json",
    }


def linktor_delivery(
    event_id: str, secret: str = LINKTOR_SECRET, **data: Any
) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"id": event_id, "type": "message.sent", "data": data})
    return body, linktor_headers(body, secret)


def linktor_headers(body: bytes, secret: str = LINKTOR_SECRET) -> dict[str, str]:
    return {
        "x-linktor-signature": hmac_hex(secret, body),
        "x-linktor-timestamp": str(int(time.time())),
        "content-type": "application/json",
    }


def raw_request(port: int, head: bytes, body: bytes = b"", *, timeout: float = 5.0) -> bytes:
    """Send ``head`` (request line and headers, no blank line) and ``body`` exactly as given;
    return whatever the server answered before closing or going quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except TimeoutError:
            pass
        return b"".join(chunks)


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


class ReceiverProcess:
    """``relaywire ingest`` in its own process group, restartable on the same port."""

    def __init__(self, tmp_path: Path, config: str, sink: str, *args: str) -> None:
        self.config = tmp_path / f"ingest-{id(self)}.toml"
        self.config.write_text(config)
        self.sink = sink
        self.args = args
        self.port = free_port()
        self.log = tmp_path / f"receiver-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "relaywire",
                    "ingest",
                    "--config",
                    str(self.config),
                    "--port",
                    str(self.port),
                    "--sink",
                    self.sink,
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.log.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the receiver (its whole process group: granian's server and worker)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int | None:
        """SIGTERM (then SIGKILL), by PID; the exit code."""
        if self.process is None:
            return None
        stop_process(self.process)
        return self.process.returncode


@contextlib.contextmanager
def receiver_process(
    tmp_path: Path, config: str, sink: str, *args: str
) -> Iterator[ReceiverProcess]:
    """A started :class:`ReceiverProcess`, stopped (by PID) on the way out."""
    receiver = ReceiverProcess(tmp_path, config, sink, *args)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
