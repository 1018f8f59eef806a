"""The README's main job, `relaywire demo`, and the command-line entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from relaywire.cli import main


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
