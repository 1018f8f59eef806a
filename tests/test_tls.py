"""Every client over TLS, against the emulator serving HTTPS/WSS with a test CA (``trustme``).

* Working paths: a one-shot run, a stream of thousands of tokens, Linktor REST (sync and
  async) and the realtime socket, each with the CA trusted through ``SSL_CERT_FILE`` (the
  shared context reads it when it is built; also checked in a fresh process) and, where the
  API takes one, through an injected ``ssl`` context or ``httpx`` client.
* Refused certificates (a name that is not the host's, a CA nobody trusts): every client
  raises its typed connection error naming the certificate failure, and a recording TLS
  server proves that not one byte of application data (request line, headers, credential)
  was sent: the client stops in the handshake.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme

from daguito import (
    WebhookRunInput,
    WebhookStreamOptions,
    WebhookStreamSession,
    run_webhook,
    text_message,
)
from daguito.errors import DaguitoConnectionError, StreamError, WebhookError
from linktor import LinktorAsyncClient, LinktorClient
from linktor.utils.errors import NetworkError, WebSocketError
from linktor.websocket import LinktorWebSocket, MessageEvent
from relaywire.emulator import Emulator
from relaywire.transport import tls

TIMEOUT = 20.0
WEBHOOK_TOKEN = "sk_wh_demo"
LINKTOR_KEY = "lk_demo"
#: What a certificate failure says, whichever layer reports it.
CERTIFICATE_FAILURE = "CERTIFICATE_VERIFY_FAILED"


@dataclass(frozen=True)
class Pki:
    """A test CA and PEM files: the CA certificate, a server certificate for 127.0.0.1."""

    ca: trustme.CA
    ca_file: Path
    cert_file: Path
    key_file: Path

    def context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def make_pki(folder: Path, *names: str) -> Pki:
    ca = trustme.CA()
    cert = ca.issue_cert(*names)
    pki = Pki(ca, folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.cert_pem.write_to_path(str(pki.ca_file))
    cert.private_key_pem.write_to_path(str(pki.key_file))
    cert.cert_chain_pems[0].write_to_path(str(pki.cert_file))
    for blob in cert.cert_chain_pems[1:]:
        blob.write_to_path(str(pki.cert_file), append=True)
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), "127.0.0.1", "localhost")


@pytest.fixture
def tls_emu(pki: Pki) -> Iterator[Emulator]:
    with Emulator(ssl_certfile=pki.cert_file, ssl_keyfile=pki.key_file) as emulator:
        yield emulator


@pytest.fixture
def trusted(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Pki:
    """The test CA trusted the way a deployment does it: ``SSL_CERT_FILE``, read when the
    process's shared context is built (it is built again for this test, then restored)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setattr(tls, "_context", None)
    return pki


# -- working paths ---------------------------------------------------------------------------------


def test_the_emulator_serves_tls_only(tls_emu: Emulator, pki: Pki) -> None:
    assert tls_emu.url.startswith("https://127.0.0.1:")
    assert tls_emu.ws_url.startswith("wss://127.0.0.1:")
    with httpx.Client(verify=pki.context()) as http:
        assert http.get(f"{tls_emu.url}/health").json()["status"] == "healthy"
    # Plain HTTP on the same port gets no answer it could take for one.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_emu.port}/health", timeout=5)


def test_emulator_options_are_checked(pki: Pki) -> None:
    with pytest.raises(ValueError, match="ssl_keyfile needs ssl_certfile"):
        Emulator(ssl_keyfile=pki.key_file)


async def test_one_shot_run_trusting_ssl_cert_file(tls_emu: Emulator, trusted: Pki) -> None:
    result = await run_webhook(WebhookRunInput(tls_emu.url, WEBHOOK_TOKEN, {"text": "hola tls"}))
    assert (result.ok, result.output) == (True, {"content": "echo: hola tls "})


async def test_one_shot_run_with_an_injected_client(tls_emu: Emulator, pki: Pki) -> None:
    async with httpx.AsyncClient(verify=pki.context()) as http:
        result = await run_webhook(
            WebhookRunInput(tls_emu.url, WEBHOOK_TOKEN, {"text": "injected"}, http_client=http)
        )
    assert result.output == {"content": "echo: injected "}


async def test_a_stream_of_thousands_of_tokens(tls_emu: Emulator, trusted: Pki) -> None:
    tokens = 5000
    options = WebhookStreamOptions(api_url=tls_emu.url, webhook_id="wh_demo", token=WEBHOOK_TOKEN)
    async with WebhookStreamSession(options) as session:
        text = await session.collect_text(text_message(f"/stream {tokens}"), timeout=TIMEOUT)
        again = await session.collect_text(text_message("and again"), timeout=TIMEOUT)
    assert text == "".join(f"t{i} " for i in range(tokens))
    assert again == "echo: and again "


def test_linktor_rest_trusting_ssl_cert_file(tls_emu: Emulator, trusted: Pki) -> None:
    with LinktorClient(base_url=tls_emu.linktor_url, api_key=LINKTOR_KEY) as client:
        page = client.conversations.list(limit=5)
        sent = client.conversations.send_text("conv_demo", "over TLS")
    assert len(page.data) == 5
    assert sent.conversation_id == "conv_demo"


def test_linktor_rest_with_an_injected_client(tls_emu: Emulator, pki: Pki) -> None:
    with (
        httpx.Client(verify=pki.context()) as http,
        LinktorClient(
            base_url=tls_emu.linktor_url, api_key=LINKTOR_KEY, http_client=http
        ) as client,
    ):
        assert client.conversations.get("conv_demo").id == "conv_demo"


async def test_linktor_async_rest(tls_emu: Emulator, trusted: Pki) -> None:
    async with LinktorAsyncClient(base_url=tls_emu.linktor_url, api_key=LINKTOR_KEY) as client:
        conversation = await client.conversations.get("conv_demo")
    assert conversation.id == "conv_demo"


async def realtime_round_trip(emu: Emulator, ws: LinktorWebSocket) -> None:
    """Connect, subscribe, and receive the message a contact writes in."""
    await ws.connect()
    await ws.subscribe("conv_demo")
    inbound = asyncio.create_task(
        asyncio.to_thread(
            httpx.post,
            f"{emu.linktor_url}/_emulator/inbound",
            json={"conversation_id": "conv_demo", "text": "hola por wss"},
            headers={"X-API-Key": LINKTOR_KEY},
            verify=ws.ssl if ws.ssl is not None else tls.shared_ssl_context(),
        )
    )

    async def first_message() -> MessageEvent:
        async for event in ws:
            if isinstance(event, MessageEvent):
                return event
        raise AssertionError("the socket ended without a message")

    try:
        event = await asyncio.wait_for(first_message(), TIMEOUT)
        assert event.conversation_id == "conv_demo"
        assert "hola por wss" in str(event.message)
        assert (await inbound).status_code == 201
    finally:
        await ws.disconnect()


async def test_linktor_realtime_with_an_injected_context(tls_emu: Emulator, pki: Pki) -> None:
    ws = LinktorWebSocket(tls_emu.linktor_url, api_key=LINKTOR_KEY, ssl=pki.context())
    assert ws.url.startswith("wss://")
    await realtime_round_trip(tls_emu, ws)


async def test_linktor_realtime_trusting_ssl_cert_file(tls_emu: Emulator, trusted: Pki) -> None:
    await realtime_round_trip(tls_emu, LinktorWebSocket(tls_emu.linktor_url, api_key=LINKTOR_KEY))


def test_ssl_cert_file_in_a_fresh_process(tls_emu: Emulator, pki: Pki) -> None:
    """What a deployment does: only the environment names the CA, before anything runs."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from daguito import WebhookRunInput, run_webhook_sync
        from linktor import LinktorClient
        from linktor.websocket import LinktorWebSocket

        url = sys.argv[1]
        result = run_webhook_sync(WebhookRunInput(url, "sk_wh_demo", {"text": "fresh"}))
        assert result.output == {"content": "echo: fresh "}, result
        with LinktorClient(base_url=url + "/linktor", api_key="lk_demo") as client:
            assert client.conversations.get("conv_demo").id == "conv_demo"

        async def realtime():
            async with LinktorWebSocket(url + "/linktor", api_key="lk_demo") as ws:
                assert ws.is_connected
        asyncio.run(realtime())
        print("ok")
        """
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("SSL_CERT")}
    trusting = subprocess.run(
        [sys.executable, "-c", script, tls_emu.url],
        env={**env, "SSL_CERT_FILE": str(pki.ca_file)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (trusting.returncode, trusting.stdout.strip()) == (0, "ok"), trusting.stderr
    # Without it, the default trust store (certifi's) does not know the test CA.
    default = subprocess.run(
        [sys.executable, "-c", script, tls_emu.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert default.returncode != 0
    assert "WebhookError" in default.stderr and CERTIFICATE_FAILURE in default.stderr


# -- refused certificates --------------------------------------------------------------------------


@dataclass
class RecordingTlsServer:
    """A TLS server on 127.0.0.1 that records, per connection, whether the handshake
    completed and every byte of application data that arrived after it."""

    context: ssl.SSLContext
    handshakes: list[bool] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.changed = threading.Condition()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.stopping = False

    def __enter__(self) -> RecordingTlsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping = True
        # Wake the accept() with a connection of our own, then wait for the thread.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        self.thread.join(TIMEOUT)
        self.sock.close()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            if self.stopping:
                conn.close()
                return
            conn.settimeout(5)
            try:
                tls_conn = self.context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                self._record(False, b"")
                continue
            data = b""
            try:
                while chunk := tls_conn.recv(65536):
                    data += chunk
            except (ssl.SSLError, OSError):
                pass
            tls_conn.close()
            self._record(True, data)

    def _record(self, handshake: bool, data: bytes) -> None:
        with self.changed:
            self.handshakes.append(handshake)
            self.received.append(data)
            self.changed.notify_all()

    def connections(self) -> int:
        """Connections seen so far, once at least one was (waits for the first)."""
        with self.changed:
            self.changed.wait_for(lambda: self.handshakes, TIMEOUT)
            return len(self.handshakes)


def server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    return context


@pytest.fixture(params=["wrong_hostname", "untrusted_ca"])
def refusing_server(
    request: pytest.FixtureRequest, pki: Pki, tmp_path: Path
) -> Iterator[RecordingTlsServer]:
    """A server whose certificate the client must refuse: issued by the trusted CA for
    another name, or for the right address by a CA nobody trusts."""
    if request.param == "wrong_hostname":
        bad = make_pki(tmp_path, "example.test")
        # Same trusted CA, other name: re-issue from the trusted CA.
        cert = pki.ca.issue_cert("example.test")
        cert.private_key_pem.write_to_path(str(bad.key_file))
        cert.cert_chain_pems[0].write_to_path(str(bad.cert_file))
    else:
        bad = make_pki(tmp_path, "127.0.0.1", "localhost")
    with RecordingTlsServer(server_context(bad)) as server:
        yield server


SECRET_MARKERS = (WEBHOOK_TOKEN, LINKTOR_KEY)


def assert_refused(server: RecordingTlsServer, error: BaseException) -> None:
    """The error names the certificate failure; no handshake completed, nothing was sent,
    and no credential appears in the error."""
    chain = [error]
    while chain[-1].__cause__ is not None or chain[-1].__context__ is not None:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)  # type: ignore[arg-type]
        if len(chain) > 10:
            break
    text = " ".join(str(e) for e in chain)
    assert "certificate verify failed" in text.lower(), text
    assert "certificate" in str(error).lower(), str(error)
    for secret in SECRET_MARKERS:
        assert secret not in str(error) and secret not in repr(error)
    assert server.connections() > 0, "the client never connected"
    assert server.handshakes == [False] * len(server.handshakes)
    assert server.received == [b""] * len(server.received)


def test_the_recording_server_sees_what_an_unverified_client_sends(pki: Pki) -> None:
    """The control for the checks below: a client that skips verification completes the
    handshake and sends its request, and the server records it."""
    with RecordingTlsServer(server_context(pki)) as server:
        url = f"https://127.0.0.1:{server.port}/secret-path"
        with pytest.raises(httpx.TimeoutException):
            httpx.get(url, verify=False, timeout=0.5)
        assert server.connections() == 1
    assert server.handshakes == [True]
    assert server.received[0].startswith(b"GET /secret-path HTTP/1.1\r\n")


async def test_refused_certificate_one_shot_run(
    refusing_server: RecordingTlsServer, trusted: Pki
) -> None:
    url = f"https://127.0.0.1:{refusing_server.port}"
    with pytest.raises(WebhookError) as info:
        await run_webhook(WebhookRunInput(url, WEBHOOK_TOKEN, {"text": "x"}, timeout_seconds=10))
    assert isinstance(info.value, DaguitoConnectionError)
    assert_refused(refusing_server, info.value)


async def test_refused_certificate_stream(
    refusing_server: RecordingTlsServer, trusted: Pki
) -> None:
    url = f"https://127.0.0.1:{refusing_server.port}"
    options = WebhookStreamOptions(
        api_url=url, webhook_id="wh_demo", token=WEBHOOK_TOKEN, auto_reconnect=False
    )
    session = WebhookStreamSession(options)
    with pytest.raises(StreamError) as info:
        await session.connect()
    assert isinstance(info.value, DaguitoConnectionError)
    assert_refused(refusing_server, info.value)
    await session.close()


def test_refused_certificate_linktor_rest(
    refusing_server: RecordingTlsServer, trusted: Pki
) -> None:
    url = f"https://127.0.0.1:{refusing_server.port}/linktor"
    with (
        LinktorClient(base_url=url, api_key=LINKTOR_KEY, max_retries=0) as client,
        pytest.raises(NetworkError) as info,
    ):
        client.conversations.get("conv_demo")
    assert_refused(refusing_server, info.value)


async def test_refused_certificate_linktor_realtime(
    refusing_server: RecordingTlsServer, pki: Pki
) -> None:
    url = f"wss://127.0.0.1:{refusing_server.port}/ws"
    ws = LinktorWebSocket(url, api_key=LINKTOR_KEY, ssl=pki.context(), auto_reconnect=False)
    with pytest.raises(WebSocketError) as info:
        await ws.connect()
    assert_refused(refusing_server, info.value)


def test_the_shared_context_verifies(trusted: Pki) -> None:
    context = tls.shared_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
