"""The README's main job, `relaywire demo`, and the command-line entry point."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _ingest_servers import free_port
from _ingest_support import (
    STANDARD_SECRET,
    ReceiverProcess,
    raw_request,
    standard_headers,
    status_of,
)

from relaywire.cli import main
from relaywire.ingest import read


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relaywire", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_accepts_genuine_and_rejects_tampered_deliveries() -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for scheme in ("Linktor", "Standard Webhooks", "Generic HMAC"):
        assert scheme in out
    assert out.count("genuine        accepted") == 3
    assert out.count("tampered body  rejected") == 3
    assert "TimestampOutOfToleranceError" in out
    assert "speed-up" in out
    assert "Linktor verify, 256 B" in out


def test_demo_without_speed_table() -> None:
    result = run_cli("demo", "--no-speed")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "speed-up" not in out
    assert "genuine        accepted" in out
    # the Daguito walkthrough on the embedded emulator
    assert "echo: Hello from the relaywire demo, streamed live" in out
    assert "[tool] get_weather({'city': 'Lisbon'}) called by the flow" in out
    assert 'flow answered: tool get_weather returned {"celsius":24' in out
    assert "[progress] web_search: completed 100%" in out
    assert "Uploaded demo.pdf" in out
    assert "Ingested into src_demo" in out
    assert "One-shot run exec_" in out and ": completed" in out
    for step in ("stream a reply", "client tool call", "presigned upload", "one-shot run"):
        assert step in out
    # the Linktor walkthrough
    assert "Realtime: message in conv_demo: 'Hello from relaywire!'" in out
    assert "signature verified, tampered copy rejected" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("relaywire ")


# -- relaywire ingest ------------------------------------------------------------------------------


def test_demo_stores_the_emulators_webhooks_and_refuses_a_forgery() -> None:
    result = run_cli("demo", "--no-speed")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Ingest (relaywire.ingest)" in out
    assert "the emulator delivered 3 webhooks, 3 acknowledged with 200" in out
    assert out.count("message.sent  'Order #1042 shipped'") == 1
    assert out.count("signature matches") == 3
    assert "Forged delivery (signed with another secret): 401 signature verification failed" in out


INGEST_TOML = f"""
[[sources]]
name = "std"
path = "/hooks/std"
scheme = "standard"
secrets = ["{STANDARD_SECRET}"]
"""


@contextlib.contextmanager
def serving_ingest(tmp_path: Path, *args: str) -> Iterator[str]:
    """``relaywire ingest`` in its own process; yields its URL once /health is 200, then stops
    it with SIGTERM, which it answers with a clean exit."""
    receiver = ReceiverProcess(tmp_path, INGEST_TOML, *args)
    receiver.start()
    try:
        yield receiver.url
        assert receiver.stop() == 0
        banner = receiver.log.read_text()
        assert f"relaywire ingest on {receiver.url}" in banner and "POST /hooks/std" in banner
    finally:
        receiver.stop()


def post_standard(url: str, msg_id: str, body: bytes) -> httpx.Response:
    return httpx.post(url + "/hooks/std", content=body, headers=standard_headers(body, msg_id))


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_ingest_serves_until_sigterm_then_tail_and_stats_read_the_sink(
    tmp_path: Path, server: str
) -> None:
    sink = f"sqlite:///{tmp_path}/events.db"
    with serving_ingest(tmp_path, sink, "--server", server) as url:
        assert post_standard(url, "msg_1", b'{"n":1}').json() == {"status": "stored"}
        assert post_standard(url, "msg_1", b'{"n":1}').json() == {"status": "duplicate"}
        assert post_standard(url, "msg_2", '{"n":"\u00e9"}'.encode()).status_code == 200
        assert httpx.post(url + "/hooks/std", content=b"{}").status_code == 401
    tail = run_cli("ingest", "tail", "--sink", sink)
    assert tail.returncode == 0, tail.stderr
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [(d["source"], d["id"], d["body"]) for d in lines] == [
        ("std", "msg_1", '{"n":1}'),
        ("std", "msg_2", '{"n":"\u00e9"}'),
    ]
    assert lines[0]["headers"]["webhook-id"] == "msg_1"
    after = run_cli("ingest", "tail", "--sink", sink, "--after", lines[0]["cursor"])
    assert [json.loads(line)["id"] for line in after.stdout.splitlines()] == ["msg_2"]
    stats = run_cli("ingest", "stats", "--sink", sink)
    assert stats.returncode == 0, stats.stderr
    assert f"sink {sink}: 2 deliveries" in stats.stdout and "std" in stats.stdout
    shown = json.loads(run_cli("ingest", "stats", "--sink", sink, "--json").stdout)
    assert (shown["total"], shown["per_source"]) == (2, {"std": 2})


def test_ingest_with_two_workers_sums_metrics_over_both(tmp_path: Path) -> None:
    sink = f"sqlite:///{tmp_path}/events.db"
    with serving_ingest(tmp_path, sink, "--workers", "2") as url:
        with httpx.Client() as client:  # new connections, so both workers take some
            for i in range(30):
                body = f'{{"n":{i}}}'.encode()
                reply = client.post(
                    url + "/hooks/std",
                    content=body,
                    headers={**standard_headers(body, f"m{i}"), "connection": "close"},
                )
                assert reply.status_code == 200, reply.text
        metrics = httpx.get(url + "/metrics").text
        assert 'relaywire_ingest_deliveries_total{outcome="accepted",source="std"} 30.0' in metrics
    assert len(list(read(sink))) == 30


def test_the_sink_can_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "ingest.toml"
    config.write_text(f'sink = "sqlite:///{tmp_path}/from-config.db"\n' + INGEST_TOML)
    result = run_cli("ingest", "stats", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "from-config.db: 0 deliveries" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ingest"], 2, "--config FILE is required to serve"),
        (["ingest", "--config", "/nonexistent/ingest.toml"], 1, "cannot read"),
        (["ingest", "tail", "--sink", "kafka://x/y"], 1, "unknown sink 'kafka'"),
        (["ingest", "stats", "--sink", "sqlite:///x.db", "--json", "extra"], 2, "unrecognized"),
    ],
)
def test_ingest_command_errors(args: list[str], code: int, message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == code
    assert message in result.stderr


def test_ingest_refuses_a_bad_config_before_serving(tmp_path: Path) -> None:
    config = tmp_path / "ingest.toml"
    config.write_text(INGEST_TOML.replace('"standard"', '"stripe-v9"'))
    result = run_cli("ingest", "--config", str(config), "--port", str(free_port()))
    assert result.returncode == 1
    assert "scheme 'stripe-v9' is unknown" in result.stderr


def test_granian_serves_the_framing_answers_too(tmp_path: Path) -> None:
    """The command's server (granian) and the embedded one (uvicorn) answer alike."""
    with serving_ingest(tmp_path, f"sqlite:///{tmp_path}/events.db") as url:
        port = int(url.rsplit(":", 1)[1])
        too_large = b"POST /hooks/std HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760"
        assert status_of(raw_request(port, too_large, b"0123456789")) == 413
        chunked = b"POST /hooks/std HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
        huge_chunk = b"200000\r\n" + b"x" * (2 << 20) + b"\r\n"
        assert status_of(raw_request(port, chunked, huge_chunk)) == 413
        assert status_of(raw_request(port, chunked, b"zz\r\nabc\r\n0\r\n\r\n")) == 400
        bad_length = b"POST /hooks/std HTTP/1.1\r\nHost: t\r\nContent-Length: -5"
        assert status_of(raw_request(port, bad_length, b"{}")) == 400
