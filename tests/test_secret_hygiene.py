"""No credential in any log line, repr or error text, at any level, from our code or from the
libraries we drive (httpx, httpcore, websockets).

The usual jobs of both packages run against the emulator with the root logger at DEBUG; every
record (formatted, with tracebacks), everything printed, and the repr and text of every option
object and error we touch are collected, and none may contain a seeded credential.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

import daguito
from daguito import (
    AudioStreamOptions,
    AudioStreamSession,
    IngestTextInput,
    KnowledgeSession,
    KnowledgeSessionOptions,
    SearchInput,
    SyncWebhookStreamSession,
    UploadInput,
    WebhookRunInput,
    WebhookStreamOptions,
    WebhookStreamSession,
    text_message,
)
from linktor import LinktorAsyncClient, LinktorClient, LinktorError
from linktor.websocket import LinktorWebSocket
from relaywire.emulator import Emulator
from relaywire.redaction import mask, redact

WEBHOOK_TOKEN = "sk_wh_demo"
ORG_KEY = "sk_dgt_demo"
ACCOUNT_KEY = "dgsk_acc_demo"
LINKTOR_KEY = "lk_demo"
LINKTOR_PASSWORD = "demo-password"
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


class Everything(logging.Handler):
    """Formats every record it sees, tracebacks included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def daguito_jobs(emu: Emulator, texts: list[str]) -> set[str]:
    """The usual daguito calls; returns credentials seen on the way (none are fixed strings)."""
    run = WebhookRunInput(api_url=emu.url, token=WEBHOOK_TOKEN, input={"text": "hi"})
    texts.append(repr(run))
    await daguito.run_webhook(run)
    opts = WebhookStreamOptions(api_url=emu.url, webhook_id="wh_demo", token=WEBHOOK_TOKEN)
    texts.append(repr(opts))
    async with WebhookStreamSession(opts) as session:
        await session.collect_text(text_message("hello"))
    upload = UploadInput(
        api_url=emu.url,
        webhook_id="wh_demo",
        token=WEBHOOK_TOKEN,
        kind="document",
        data=b"%PDF-1.4 x",
        filename="a.pdf",
    )
    texts.append(repr(upload))
    await daguito.upload_file(upload)
    kb_opts = KnowledgeSessionOptions(
        api_url=emu.url, api_key=ORG_KEY, default_source_id="src_demo"
    )
    texts.append(repr(kb_opts))
    async with KnowledgeSession(kb_opts) as kb:
        await kb.ingest_text(IngestTextInput(text="tokens stream in batches"))
        await kb.search(SearchInput(query="tokens", top_k=1))
    audio = AudioStreamOptions(api_url=emu.url, token=WEBHOOK_TOKEN, sample_rate=16000)
    texts.append(repr(audio))
    async with AudioStreamSession(audio) as stream:
        await stream.send_audio(b"\x00" * 640)
    async with daguito.Daguito(api_url=emu.url, api_key=ACCOUNT_KEY) as client:
        texts.append(repr(client))
        await client.account_keys.list()
    # failures: a refused token on each path, and their texts
    for failing in (
        daguito.run_webhook(WebhookRunInput(api_url=emu.url, token="sk_wh_wrong_0123456789abcdef")),
        WebhookStreamSession(
            WebhookStreamOptions(
                api_url=emu.url, webhook_id="wh_demo", token="sk_wh_wrong_0123456789abcdef"
            )
        ).connect(),
    ):
        with pytest.raises(daguito.DaguitoError) as info:
            await failing
        texts.extend([str(info.value), repr(info.value), repr(info.value.__cause__)])
    return {"sk_wh_wrong_0123456789abcdef"}


def daguito_sync_jobs(emu: Emulator) -> None:
    daguito.run_webhook_sync(WebhookRunInput(api_url=emu.url, token=WEBHOOK_TOKEN))
    opts = WebhookStreamOptions(api_url=emu.url, webhook_id="wh_demo", token=WEBHOOK_TOKEN)
    with SyncWebhookStreamSession(opts) as session:
        session.collect_text(text_message("sync"))


def linktor_jobs(emu: Emulator, texts: list[str]) -> set[str]:
    seen: set[str] = set()
    with LinktorClient(base_url=emu.linktor_url, api_key=LINKTOR_KEY) as client:
        texts.append(repr(client))
        client.conversations.list(limit=2)
        client.conversations.send_text("conv_demo", "hello")
        hook = client.webhooks.create("https://example.test/in", ["message.received"])
        seen.add(hook.secret)
        texts.append(repr(hook))
        with pytest.raises(LinktorError) as info:
            client.contacts.get("nope")
        texts.extend([str(info.value), repr(info.value)])
    with LinktorClient(base_url=emu.linktor_server_url) as server:
        login = server.auth.login("demo@linktor.local", LINKTOR_PASSWORD)
        seen.update({login.access_token, login.refresh_token})
        server.conversations.list()
        texts.append(repr(server))
    with (
        LinktorClient(base_url=emu.linktor_url, api_key="lk_wrong_0123456789abcdef") as bad,
        pytest.raises(LinktorError) as info,
    ):
        bad.conversations.list()
    texts.extend([str(info.value), repr(info.value)])
    seen.add("lk_wrong_0123456789abcdef")

    async def realtime() -> None:
        url = emu.ws_url + "/linktor/ws"
        async with LinktorAsyncClient(base_url=emu.linktor_url, api_key=LINKTOR_KEY) as client:
            ws = LinktorWebSocket(url, api_key=LINKTOR_KEY)
            texts.append(repr(ws))
            await ws.connect()
            await ws.subscribe("conv_demo")
            await client.conversations.send_text("conv_demo", "over the socket")
            await ws.disconnect()

    asyncio.run(realtime())
    return seen


def test_no_credential_in_logs_reprs_or_errors(
    emu: Emulator, captured: Everything, capsys: pytest.CaptureFixture[str]
) -> None:
    texts: list[str] = []
    secrets = {WEBHOOK_TOKEN, ORG_KEY, ACCOUNT_KEY, LINKTOR_KEY, LINKTOR_PASSWORD}
    secrets |= asyncio.run(daguito_jobs(emu, texts))
    daguito_sync_jobs(emu)
    secrets |= linktor_jobs(emu, texts)
    out, err = capsys.readouterr()
    everything = "\n".join([*captured.lines, *texts, out, err])
    # the jobs really ran and logged at every level we care about
    assert any(line.startswith("httpx INFO") for line in captured.lines)
    assert any(line.startswith("httpcore") for line in captured.lines)
    assert any(line.startswith("websockets.client DEBUG") for line in captured.lines)
    leaks = sorted(s for s in secrets if s and s in everything)
    assert not leaks, [line for line in everything.splitlines() if any(s in line for s in leaks)]
    assert not JWT.search(everything)


def test_mask_keeps_a_prefix_and_at_most_a_short_tail() -> None:
    assert mask("sk_wh_demo") == "sk_wh_…"
    assert mask("sk_wh_0123456789abcdefa1b2") == "sk_wh_…a1b2"
    assert mask("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == "whsec_…LaSw"
    assert mask("plainsecretvalue") == "…"
    assert mask("") == ""


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("GET /v1/webhooks/wh_1/stream?token=sk_wh_abc&x=1 HTTP/1.1", "sk_wh_abc"),
        ('HTTP Request: POST http://h/h/sk_wh_zz9 "HTTP/1.1 200 OK"', "sk_wh_zz9"),
        ("> Authorization: Bearer opaque-credential-1", "opaque-credential-1"),
        ("> X-API-Key: lk_live_abcdef", "lk_live_abcdef"),
        ("ws://h/ws?api_key=lk_q1&token=t_q2", "lk_q1"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here", "eyJzdWIiOiIxIn0"),
        ("https://user:pa55word@proxy.test:3128", "pa55word"),
    ],
)
def test_redact_patterns(text: str, hidden: str) -> None:
    assert hidden not in redact(text)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )


LOG_LINES = """
import logging, daguito, linktor
for name in ("relaywire.transport.ws", "daguito.stream", "linktor.websocket"):
    log = logging.getLogger(name)
    log.debug("debug from %s", name)
    log.info("info from %s via ws://h/s?token=sk_wh_0123456789abcdefghij", name)
    log.warning("warning from %s", name)
"""


def test_relaywire_log_attaches_a_redacting_stderr_handler() -> None:
    result = run_python(LOG_LINES, RELAYWIRE_LOG="info")
    assert result.returncode == 0, result.stderr
    err = result.stderr
    for name in ("relaywire.transport.ws", "daguito.stream", "linktor.websocket"):
        assert f"INFO {name}: info from {name} via ws://h/s?token=sk_wh_…ghij" in err
        assert f"WARNING {name}: warning from {name}" in err
        assert f"debug from {name}" not in err
    assert "sk_wh_0123456789abcdefghij" not in err


def test_relaywire_log_debug_and_unset() -> None:
    debug = run_python(LOG_LINES, RELAYWIRE_LOG="DEBUG")
    assert "DEBUG daguito.stream: debug from daguito.stream" in debug.stderr
    quiet = {k: v for k, v in os.environ.items() if k != "RELAYWIRE_LOG"}
    unset = subprocess.run(
        [sys.executable, "-c", LOG_LINES], capture_output=True, text=True, timeout=60, env=quiet
    )
    # without the switch nothing is configured: the last-resort handler prints warnings only
    assert "info from" not in unset.stderr
    assert "warning from daguito.stream" in unset.stderr


def test_relaywire_log_with_an_unknown_value_says_so_and_goes_on() -> None:
    result = run_python("import relaywire; print('ok')", RELAYWIRE_LOG="verbose")
    assert result.returncode == 0
    assert result.stdout.strip() == "ok"
    assert "ignoring RELAYWIRE_LOG='verbose' (use debug, info or warning)" in result.stderr
