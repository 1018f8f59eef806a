"""Rebuild the committed seed corpora in fuzz/seeds/ from real traffic.

Runs the emulator on loopback and records what the clients really receive: the raw WebSocket
bytes of Daguito stream sessions and of the Linktor realtime socket (frame headers included,
as they came off the socket), the JSON messages inside them, Linktor REST bodies and their
timestamps, and signed Linktor webhook deliveries with their headers. Standard Webhooks seeds
use the specification's published test vector and headers signed by relaywire.

    python fuzz/seeds.py       # needs relaywire[emulator] installed; rewrites fuzz/seeds/

The corpora stay small (tens of files per target): libFuzzer grows its working corpus from
them under target/fuzz-corpus/, which is not committed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from daguito import WebhookStreamOptions, WebhookStreamSession, text_message
from daguito.errors import WebhookStreamRunError
from linktor import LinktorAsyncClient
from linktor.websocket import LinktorWebSocket
from relaywire.emulator import Emulator
from relaywire.transport import ws as ws_transport
from relaywire.webhooks import StandardWebhook

SEEDS = Path(__file__).resolve().parent / "seeds"
# The Standard Webhooks specification's test vector.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = "1614265330"
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
RFC3339 = re.compile(rb'"(\d{4}-\d\d-\d\dT[^"]{8,40})"')


class Corpora:
    def __init__(self) -> None:
        self.files: dict[str, dict[str, bytes]] = {}

    def add(self, target: str, data: bytes) -> None:
        # Named by content, as libFuzzer names corpus files.
        self.files.setdefault(target, {})[hashlib.sha1(data).hexdigest()] = data

    def write(self) -> None:
        """Replace the recorded seeds; inputs named ``regression-*`` (what the fuzzers once
        found) are kept."""
        for path in SEEDS.glob("*/*"):
            if not path.name.startswith("regression-"):
                path.unlink()
        for target, files in sorted(self.files.items()):
            folder = SEEDS / target
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (folder / name).write_bytes(data)
            print(f"{target}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")


def record_sockets() -> dict[int, list[bytes]]:
    """Patch the WebSocket transport to keep every chunk read from each connection."""
    chunks: dict[int, list[bytes]] = {}
    receive = ws_transport.FastWebSocket._receive

    def recording(self: ws_transport.FastWebSocket, data: bytes) -> None:
        chunks.setdefault(id(self), []).append(bytes(data))
        receive(self, data)

    ws_transport.FastWebSocket._receive = recording  # type: ignore[method-assign]
    return chunks


def messages(stream: bytes) -> list[bytes]:
    """The payloads of the unfragmented data frames of a server's byte stream."""
    found = []
    at = 0
    while at + 2 <= len(stream):
        opcode, length = stream[at] & 0x0F, stream[at + 1] & 0x7F
        at += 2
        if length == 126:
            (length,) = struct.unpack(">H", stream[at : at + 2])
            at += 2
        elif length == 127:
            (length,) = struct.unpack(">Q", stream[at : at + 8])
            at += 8
        if opcode in (1, 2):
            found.append(stream[at : at + length])
        at += length
    return found


async def daguito_traffic(emu: Emulator) -> None:
    options = WebhookStreamOptions(api_url=emu.url, webhook_id="wh_demo", token="sk_wh_demo")
    async with WebhookStreamSession(options) as session:

        @session.tool("get_weather", "Weather by city", {"type": "object"}, timeout_seconds=5)
        def get_weather(args: dict[str, Any]) -> dict[str, Any]:
            return {"city": args.get("city"), "celsius": 21}

        for text in (
            "hola, ¿qué tal? 😀",
            "/stream 6",
            '/tool get_weather {"city": "Lima"}',
            "/progress",
            "/scope",
            "/fail the node \u00e9chou\u00e9",
        ):
            with contextlib.suppress(WebhookStreamRunError):  # /fail
                await session.run_turn(text_message(text))
    emu.faults.stream(session_ended=True, token_delay=0.001)
    async with WebhookStreamSession(options) as session:
        await session.run_turn(text_message("ends the session"))
    emu.faults.clear()


async def linktor_traffic(emu: Emulator, base_url: str) -> None:
    # The self-hosted server's socket takes a login's token; the SDK protocol's an API key.
    async with LinktorAsyncClient(base_url=base_url, api_key="lk_demo") as client:
        if base_url == emu.linktor_server_url:
            await client.auth.login("demo@linktor.local", "demo-password")
        realtime = LinktorWebSocket.from_client(client)
    async with realtime as ws:
        await ws.subscribe("conv_demo")
        await ws.send_typing("conv_demo", True)
        async with httpx.AsyncClient(headers={"X-API-Key": "lk_demo"}) as http:
            await http.post(
                f"{emu.linktor_url}/_emulator/inbound",
                json={"conversation_id": "conv_demo", "text": "¿Tienen envíos a Cusco?"},
            )
            sent = await http.post(
                f"{emu.linktor_url}/conversations/conv_demo/messages",
                json={"text": "Sí, en 48 h.", "contentType": "text"},
            )
            message_id = sent.json().get("id", "")
            await http.post(
                f"{emu.linktor_url}/_emulator/messages/{message_id}/status",
                json={"status": "read"},
            )
            await http.post(f"{emu.linktor_url}/conversations/conv_demo/resolve", json={})
            await http.post(f"{emu.linktor_url}/conversations/conv_demo/reopen", json={})
        await asyncio.sleep(0.3)


class Receiver:
    """Records the webhook deliveries POSTed to it."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def scheme_seed(scheme: int, flags: int, *fields: bytes | str, body: bytes | str = b"") -> bytes:
    """A webhook_schemes input: the scheme, the flags, then ``secret, h0, h1, h2, url, body``
    joined by NUL."""
    raw = [f.encode() if isinstance(f, str) else f for f in fields]
    raw += [b""] * (5 - len(raw))
    raw.append(body.encode() if isinstance(body, str) else body)
    return bytes([scheme, flags]) + b"\0".join(raw)


#: Flags: check no timestamp; or check it against the first header's number.
NO_WINDOW, WINDOW = 1, 128


def webhook_deliveries(emu: Emulator, corpora: Corpora) -> None:
    secret = "whsec_linktor_seed_secret"
    with Receiver() as receiver, httpx.Client(headers={"X-API-Key": "lk_demo"}) as http:
        http.post(
            f"{emu.linktor_url}/webhooks",
            json={"url": receiver.url, "events": ["message.received"], "secret": secret},
        ).raise_for_status()
        for text in ("hola", "precio?"):
            http.post(
                f"{emu.linktor_url}/_emulator/inbound",
                json={"conversation_id": "conv_demo", "text": text},
            )
        deadline = time.monotonic() + 10
        while len(receiver.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    for headers, body in receiver.requests:
        signature = headers["x-linktor-signature"]
        timestamp = headers["x-linktor-timestamp"]
        seed = scheme_seed(0, WINDOW, secret, signature, timestamp, body=body)
        corpora.add("webhook_schemes", seed)
        corpora.add("webhook_parsers", signature.encode())
        corpora.add("webhook_parsers", timestamp.encode())
        corpora.add("json_tape", body)


SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
    b"%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_BODY = (
    b"To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1234&From=%2B12349013030"
    b"&Caller=%2B12349013030"
)


def provider_examples(corpora: Corpora) -> None:
    """The providers' documented examples and the Standard Webhooks test vector, as signed
    deliveries (the schemes) and as header values (the parsers)."""
    sw_key = base64.b64decode(SW_SECRET.removeprefix("whsec_"))
    assert StandardWebhook(SW_SECRET).sign(SW_ID, int(SW_TIMESTAMP), SW_BODY) == SW_SIGNATURE
    linear_body = b'{"action":"create","webhookTimestamp":1700000000123,"data":{}}'
    seeds = [
        scheme_seed(1, NO_WINDOW, SW_SECRET, SW_ID, SW_TIMESTAMP, SW_SIGNATURE, body=SW_BODY),
        scheme_seed(1, NO_WINDOW, sw_key, SW_ID, SW_TIMESTAMP, SW_SIGNATURE, body=SW_BODY),
        scheme_seed(
            2, WINDOW, "whsec_test_secret", "t=1700000000,v1=00", "1700000000", body=b'{"id":1}'
        ),
        scheme_seed(3, NO_WINDOW, "It's a Secret to Everybody", "sha256=00", body="Hello, World!"),
        scheme_seed(4, NO_WINDOW, "shpss_secret", "AAAA", body=b'{"id":1}'),
        scheme_seed(
            5,
            NO_WINDOW,
            "8f742231b10e8888abcd99yyyzzz85a5",
            SLACK_SIGNATURE,
            "1531420618",
            body=SLACK_BODY,
        ),
        scheme_seed(
            6,
            NO_WINDOW,
            "12345",
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
            "",
            "",
            TWILIO_URL,
            body=TWILIO_BODY,
        ),
        scheme_seed(7, WINDOW, "lin_wh_secret", "00", body=linear_body),
        scheme_seed(8, WINDOW, "discord seed", "00" * 64, "1700000000", body=b'{"type":1}'),
        scheme_seed(9, NO_WINDOW, "sha256=", "sha256=00", body=b"body"),
        scheme_seed(10, NO_WINDOW, "k", "msg_1", body=b"x" * 100),
    ]
    for seed in seeds:
        corpora.add("webhook_schemes", seed)
    values = [SW_SECRET, SW_TIMESTAMP, SW_SIGNATURE, f"v1,bm9wZQ== {SW_SIGNATURE}", "-0"]
    values += [SLACK_SIGNATURE, "t=1700000000,v1=ab,v0=cd", TWILIO_URL, TWILIO_BODY.decode()]
    values += ["whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="]
    for value in values:
        corpora.add("webhook_parsers", value.encode())
    corpora.add("webhook_parsers", hashlib.sha256(SW_BODY).hexdigest().upper().encode())


def python_seeds(corpora: Corpora, rest_bodies: list[bytes]) -> None:
    """Seeds of fuzz/boundary.py: its stream and envelope inputs (an option byte, then messages
    separated by 0x1e) from the recorded messages; model documents (a model index byte, then
    JSON) from the emulator's REST answers and the test suite's document strategies; bytes
    for the verifiers' reader."""
    import random
    import sys
    import warnings

    sys.path.insert(0, str(SEEDS.parent.parent / "tests"))
    sys.path.insert(0, str(SEEDS.parent))
    from boundary import SEPARATOR, model_classes
    from pydantic import ValidationError
    from test_models_plan import documents

    for source, target in (("daguito_events", "py_stream"), ("envelope_events", "py_envelope")):
        messages = [data[1:] for data in corpora.files[source].values() if data[:1] == b"\0"]
        messages.sort()
        for options in range(0, 64, 5):
            group = messages[options % len(messages) :][:4]
            corpora.add(target, bytes([options]) + SEPARATOR.join(group))
    models = model_classes()
    items = []
    for body in rest_bodies:
        data = json.loads(body).get("data")
        items += data if isinstance(data, list) else [data]
    for index, model in enumerate(models):
        for item in items:
            try:
                model.model_validate(item)
            except ValidationError:
                continue
            corpora.add("py_models", bytes([index]) + json.dumps(item).encode())
            break
        if model.__module__.startswith("test_models_plan"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for _ in range(3):
                    corpora.add("py_models", bytes([index]) + documents(model).example())
    rng = random.Random(14)
    for scheme in range(4):
        for _ in range(8):
            corpora.add("py_verifiers", bytes([scheme]) + rng.randbytes(rng.randrange(8, 200)))


def main() -> None:
    corpora = Corpora()
    chunks = record_sockets()
    with Emulator() as emu:
        asyncio.run(daguito_traffic(emu))
        daguito_connections = list(chunks)
        for base_url in (emu.linktor_server_url, emu.linktor_url):  # both dialects
            asyncio.run(linktor_traffic(emu, base_url))
        linktor_connections = [c for c in chunks if c not in daguito_connections]
        rest_bodies = []
        with httpx.Client(headers={"X-API-Key": "lk_demo"}) as http:
            for path in (
                "/conversations?limit=3",
                "/contacts?limit=2",
                "/channels",
                "/conversations/conv_demo/messages?limit=3",
                "/bots",
                "/knowledge-bases",
                "/flows",
            ):
                body = http.get(f"{emu.linktor_url}{path}").content
                rest_bodies.append(body)
                corpora.add("json_tape", body)
                for stamp in RFC3339.findall(body)[:4]:
                    corpora.add("rfc3339", stamp)
        webhook_deliveries(emu, corpora)
    provider_examples(corpora)

    for connections, target in (
        (daguito_connections, "daguito_events"),
        (linktor_connections, "envelope_events"),
    ):
        for connection in connections:
            stream = b"".join(chunks[connection])
            # ws_frames: a 64 KiB message limit, a chunking seed, the stream (cut to keep the
            # seeds small; a cut frame is a case too).
            corpora.add("ws_frames", b"\xff\xff\x07" + stream[:4096])
            for message in messages(stream)[:40]:
                corpora.add(target, b"\0" + message)
                corpora.add("json_tape", message)
    corpora.add("envelope_events", b"\x01kind\0data\0" + b'{"kind":"typing","data":{"a":1}}')
    python_seeds(corpora, rest_bodies)
    for stamp in (b"2024-01-15T10:30:00.123456789+05:30", b"2024-02-29T23:59:59Z"):
        corpora.add("rfc3339", stamp)
    corpora.write()


if __name__ == "__main__":
    main()
